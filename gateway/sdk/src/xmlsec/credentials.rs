//! Our organisation's key pair and the certificates we trust for other
//! organisations. Certificates are parsed with `openssl` (validity, subject, key
//! check) and handed to bergshamra as keys; private keys go to bergshamra as PKCS#8.

use super::XmlSecError;
use chrono::{DateTime, Utc};
use openssl::asn1::Asn1TimeRef;
use openssl::pkey::{Id, PKey};
use openssl::x509::{X509NameRef, X509};
use std::fmt;

/// A certificate we trust for another organisation (from the address book), or the
/// public half of our own credentials.
#[derive(Clone)]
pub struct PeerCertificate {
    der: Vec<u8>,
    x509: X509,
}

impl PeerCertificate {
    /// Read a PEM certificate (`-----BEGIN CERTIFICATE-----`). The key must be RSA:
    /// the XHE profile uses rsa-sha256 signatures and RSA-OAEP key transport.
    pub fn from_pem(pem: &[u8]) -> Result<Self, XmlSecError> {
        let x509 = X509::from_pem(pem).map_err(|_| {
            XmlSecError::Key("not a PEM certificate (expected -----BEGIN CERTIFICATE-----)".into())
        })?;
        Self::from_x509(x509)
    }

    /// Read a DER certificate (as carried base64-encoded in `ds:X509Certificate`).
    pub fn from_der(der: &[u8]) -> Result<Self, XmlSecError> {
        let x509 = X509::from_der(der)
            .map_err(|_| XmlSecError::Key("not a DER X.509 certificate".into()))?;
        Self::from_x509(x509)
    }

    fn from_x509(x509: X509) -> Result<Self, XmlSecError> {
        let der = x509
            .to_der()
            .map_err(|e| XmlSecError::Key(format!("cannot encode certificate: {e}")))?;
        let key = x509
            .public_key()
            .map_err(|e| XmlSecError::Key(format!("cannot read certificate key: {e}")))?;
        if key.id() != Id::RSA {
            return Err(XmlSecError::Key(format!(
                "certificate {} has a non-RSA key; the XHE profile needs RSA",
                name_line(x509.subject_name())
            )));
        }
        Ok(Self { der, x509 })
    }

    /// The certificate, DER-encoded.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// The subject as one line, e.g. `C=SE, O=Habo kommun, CN=sdk.habo.se`.
    pub fn subject(&self) -> String {
        name_line(self.x509.subject_name())
    }

    /// The subject's organisation name (`O=`), if present.
    pub fn organisation(&self) -> Option<String> {
        self.x509
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::ORGANIZATIONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> DateTime<Utc> {
        asn1_to_chrono(self.x509.not_before())
    }

    /// End of the validity period.
    pub fn not_after(&self) -> DateTime<Utc> {
        asn1_to_chrono(self.x509.not_after())
    }

    /// Whether `at` lies within the validity period.
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// Whether the certificate is valid now.
    pub fn is_valid_now(&self) -> bool {
        self.is_valid_at(Utc::now())
    }

    /// The public key as a bergshamra key (with the certificate attached).
    pub(crate) fn bergshamra_key(&self) -> Result<bergshamra::Key, XmlSecError> {
        bergshamra::keys::loader::load_x509_cert_der(&self.der)
            .map_err(|e| XmlSecError::Key(format!("certificate {}: {e}", self.subject())))
    }
}

impl PartialEq for PeerCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for PeerCertificate {}

impl fmt::Debug for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCertificate")
            .field("subject", &self.subject())
            .field("not_after", &self.not_after())
            .finish()
    }
}

/// The private key and certificate of OUR organisation: signs what we send and
/// decrypts what is sent to us.
#[derive(Clone)]
pub struct OrgCredentials {
    certificate: PeerCertificate,
    key: bergshamra::Key,
    /// The same key, parsed once for RSA-OAEP key unwrapping.
    oaep: std::sync::Arc<aws_lc_rs::rsa::OaepPrivateDecryptingKey>,
    /// The same key, parsed once for rsa-sha256 signatures.
    signing: std::sync::Arc<aws_lc_rs::signature::RsaKeyPair>,
}

impl OrgCredentials {
    /// Read our certificate and its RSA private key (PEM; PKCS#1 or PKCS#8,
    /// unencrypted). The key must belong to the certificate.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, XmlSecError> {
        let certificate = PeerCertificate::from_pem(cert_pem)?;
        let pkey = PKey::private_key_from_pem(key_pem).map_err(|_| {
            XmlSecError::Key(
                "not a readable PEM private key (expected unencrypted PKCS#1 or PKCS#8)".into(),
            )
        })?;
        if pkey.id() != Id::RSA {
            return Err(XmlSecError::Key(
                "organisation key must be RSA (the XHE profile uses rsa-sha256 and RSA-OAEP)"
                    .into(),
            ));
        }
        let cert_key = certificate
            .x509
            .public_key()
            .map_err(|e| XmlSecError::Key(format!("cannot read certificate key: {e}")))?;
        if !cert_key.public_eq(&pkey) {
            return Err(XmlSecError::Key(format!(
                "the private key does not belong to certificate {}",
                certificate.subject()
            )));
        }
        // bergshamra reads PKCS#8 or PKCS#1 PEM; normalise to PKCS#8 so any PEM
        // openssl accepts (PKCS#1 PEM, odd line lengths) works.
        let pkcs8_pem = pkey
            .private_key_to_pem_pkcs8()
            .map_err(|e| XmlSecError::Key(format!("cannot re-encode private key: {e}")))?;
        let key = bergshamra::keys::loader::load_rsa_private_pem(&pkcs8_pem)
            .map_err(|e| XmlSecError::Key(format!("private key not usable: {e}")))?;
        let pkcs8_der = pkey
            .private_key_to_pkcs8()
            .map_err(|e| XmlSecError::Key(format!("cannot re-encode private key: {e}")))?;
        let oaep = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&pkcs8_der)
            .ok()
            .and_then(|k| aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(k).ok())
            .ok_or_else(|| XmlSecError::Key("private key not usable for RSA-OAEP".into()))?;
        let signing = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8_der)
            .map_err(|e| XmlSecError::Key(format!("private key not usable for signing: {e}")))?;
        Ok(Self {
            certificate,
            key,
            oaep: std::sync::Arc::new(oaep),
            signing: std::sync::Arc::new(signing),
        })
    }

    /// An rsa-sha256 signer for bergshamra with our key parsed once (its own provider
    /// imports the key from PKCS#8 on every signature).
    pub(crate) fn rsa_sha256_signer(&self) -> Box<dyn kryptering::Signer> {
        Box::new(RsaSha256Signer(self.signing.clone()))
    }

    /// Unwrap an RSA-OAEP-encrypted content key with our key (no label).
    pub(crate) fn oaep_decrypt(
        &self,
        algorithm: &'static aws_lc_rs::rsa::OaepAlgorithm,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, XmlSecError> {
        let mut out = vec![0u8; self.oaep.min_output_size()];
        let n = self
            .oaep
            .decrypt(algorithm, wrapped, &mut out, None)
            .map_err(|_| {
                XmlSecError::Decrypt("the content key does not unwrap with our private key".into())
            })?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// Our certificate, DER-encoded.
    pub fn certificate_der(&self) -> &[u8] {
        self.certificate.certificate_der()
    }

    /// Our certificate, as others see it (what goes into their address books).
    pub fn certificate(&self) -> &PeerCertificate {
        &self.certificate
    }

    pub(crate) fn private_key(&self) -> &bergshamra::Key {
        &self.key
    }
}

impl fmt::Debug for OrgCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgCredentials")
            .field("certificate", &self.certificate)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn name_line(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let field = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{field}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn asn1_to_chrono(t: &Asn1TimeRef) -> DateTime<Utc> {
    // Asn1Time has no direct accessor; measure the distance from the Unix epoch.
    let seconds = openssl::asn1::Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(t))
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
        .unwrap_or(0);
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (`rsa-sha256`) over a key parsed once.
struct RsaSha256Signer(std::sync::Arc<aws_lc_rs::signature::RsaKeyPair>);

impl kryptering::Signer for RsaSha256Signer {
    fn algorithm(&self) -> kryptering::SignatureAlgorithm {
        kryptering::SignatureAlgorithm::RsaPkcs1v15(kryptering::HashAlgorithm::Sha256)
    }

    fn sign(&self, data: &[u8]) -> kryptering::Result<Vec<u8>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut signature = vec![0u8; self.0.public_modulus_len()];
        self.0
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                data,
                &mut signature,
            )
            .map_err(|_| kryptering::Error::Crypto("RSA signature failed".into()))?;
        Ok(signature)
    }
}
