//! rustls configuration for the service listener (mutual TLS, client certificate
//! required, TLS 1.2 and 1.3 only) and for calls to producers; caller identity from the
//! client certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A TLS set-up problem, naming the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates { path: String, reason: String },
    #[error("cannot read a private key from {path}: {reason}")]
    PrivateKey { path: String, reason: String },
    #[error("CA file {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("TLS configuration with certificate {cert} and key {key} failed: {reason}")]
    Config {
        cert: String,
        key: String,
        reason: String,
    },
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3 only (TLS 1.0/1.1 are not offered by rustls at all).
static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Read every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Certificates {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Read the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::PrivateKey {
        path: path.display().to_string(),
        reason: format!("{e} (expected a PEM PRIVATE KEY block)"),
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| TlsError::Ca {
            path: path.display().to_string(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

/// Server side of the service port: client certificates from `client_ca` are required;
/// HTTP/2 and HTTP/1.1 offered by ALPN.
pub fn service_server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    mtls_server_config(cert, key, client_ca, &[b"h2", b"http/1.1"])
}

/// A server configuration that requires a client certificate issued by `client_ca`.
pub fn mtls_server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let roots = Arc::new(load_roots(client_ca)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| TlsError::Ca {
            path: client_ca.display().to_string(),
            reason: e.to_string(),
        })?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| config_err(cert, key, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| config_err(cert, key, e))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A server configuration without client certificates (the citizen listener: citizens
/// authenticate with their identity provider's token, not with certificates). TLS 1.2+
/// as everywhere.
pub fn server_auth_only_config(
    cert: &Path,
    key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| config_err(cert, key, e))?
        .with_no_client_auth()
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| config_err(cert, key, e))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// Client side for calls to producers: the gateway's own client certificate, producers'
/// certificates verified against `ca`. ALPN is left to the connector (HTTP/1.1: SOAP
/// producers speak it everywhere).
pub fn producer_client_config(
    cert: &Path,
    key: &Path,
    ca: &Path,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = load_roots(ca)?;
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| config_err(cert, key, e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| config_err(cert, key, e))?;
    Ok(Arc::new(cfg))
}

fn config_err(cert: &Path, key: &Path, e: rustls::Error) -> TlsError {
    TlsError::Config {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason: e.to_string(),
    }
}

/// OID 2.5.4.5 (subject SERIALNUMBER): where Swedish e-service certificates carry the
/// HSA id of the system.
const OID_SERIAL_NUMBER: &str = "2.5.4.5";

/// The caller's id from its (already verified) leaf certificate: subject SERIALNUMBER,
/// else CN (national platform rule).
pub fn caller_id_from_certificate(der: &[u8]) -> Result<String, String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the client certificate cannot be parsed: {e}"))?;
    let subject = cert.subject();
    let text = |attr: &AttributeTypeAndValue| -> Option<String> {
        attr.as_str()
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    for attr in subject.iter_attributes() {
        if attr.attr_type().to_id_string() == OID_SERIAL_NUMBER {
            if let Some(v) = text(attr) {
                return Ok(v);
            }
        }
    }
    for attr in subject.iter_common_name() {
        if let Some(v) = text(attr) {
            return Ok(v);
        }
    }
    Err(format!(
        "the client certificate (subject \"{}\") has neither a SERIALNUMBER nor a CN: the caller's HSA id must be in one of them",
        subject
    ))
}

/// Why a TLS handshake failed, as a fixed label (`vaxel_tls_handshake_failures_total`):
/// what an operator acts on (a client without a certificate, one from an unknown CA or
/// expired, an old TLS version) rather than rustls' full error text.
pub fn handshake_failure_reason(e: &std::io::Error) -> &'static str {
    use rustls::{CertificateError, Error as E};
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<E>()) else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => "closed_by_client",
            std::io::ErrorKind::InvalidData => "not_tls",
            _ => "io_error",
        };
    };
    match err {
        E::NoCertificatesPresented => "no_client_certificate",
        E::InvalidCertificate(CertificateError::Expired | CertificateError::NotValidYet) => {
            "certificate_expired"
        }
        E::InvalidCertificate(CertificateError::UnknownIssuer) => "unknown_ca",
        E::InvalidCertificate(CertificateError::Revoked) => "certificate_revoked",
        E::InvalidCertificate(_) => "bad_certificate",
        E::PeerIncompatible(_) => "incompatible",
        E::AlertReceived(_) => "alert_from_client",
        E::InvalidMessage(_) => "not_tls",
        _ => "other",
    }
}

#[cfg(test)]
mod handshake_reason_tests {
    use super::handshake_failure_reason;
    use std::io::{Error, ErrorKind};

    #[test]
    fn failures_map_to_the_fixed_reasons_operators_act_on() {
        let tls = |e: rustls::Error| Error::new(ErrorKind::InvalidData, e);
        let cases = [
            (
                tls(rustls::Error::NoCertificatesPresented),
                "no_client_certificate",
            ),
            (
                tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                "unknown_ca",
            ),
            (
                tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Expired,
                )),
                "certificate_expired",
            ),
            (Error::from(ErrorKind::UnexpectedEof), "closed_by_client"),
            (Error::from(ErrorKind::InvalidData), "not_tls"),
        ];
        for (error, reason) in cases {
            let got = handshake_failure_reason(&error);
            assert_eq!(got, reason, "{error}");
            assert!(vaxel_telemetry::labels::TLS_FAILURE_REASONS.contains(&got));
        }
    }
}
