//! The demo PKI against rustls and OpenSSL: every certificate the demo and the tests need.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_SERIALNUMBER};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::*;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cert_der(path: &Path) -> CertificateDer<'static> {
    let mut certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(certs.len(), 1, "{} must hold the leaf only", path.display());
    certs.remove(0)
}

fn key_der(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}

fn roots(ca: &Path) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(cert_der(ca)).unwrap();
    Arc::new(roots)
}

/// A server that requires a client certificate issued by `ca.pem`, as the gateway does.
fn server_config(
    pki: &DemoPki,
    server: DemoCert,
    version: &'static SupportedProtocolVersion,
) -> Arc<ServerConfig> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&pki.ca_cert()), provider())
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert_der(&pki.cert_path(server))],
            key_der(&pki.key_path(server)),
        )
        .unwrap();
    Arc::new(config)
}

/// A client that trusts `ca.pem` and presents `client`'s certificate.
fn client_config(pki: &DemoPki, client: DemoCert) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&pki.ca_cert()))
        .with_client_auth_cert(
            vec![cert_der(&pki.cert_path(client))],
            key_der(&pki.key_path(client)),
        )
        .unwrap();
    Arc::new(config)
}

/// Which side of the handshake refused the other.
#[derive(Debug)]
enum Refused {
    ByServer(rustls::Error),
    ByClient(rustls::Error),
}

/// A real TLS handshake between a rustls client and server over in-memory buffers.
/// On success returns the client certificate the server saw.
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: &str,
) -> Result<CertificateDer<'static>, Refused> {
    let mut server = ServerConnection::new(server).unwrap();
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut client = ClientConnection::new(client, name).unwrap();
    for _ in 0..10 {
        if !client.is_handshaking() && !server.is_handshaking() {
            let peer = server
                .peer_certificates()
                .expect("mTLS: the server saw a client cert");
            return Ok(peer[0].clone().into_owned());
        }
        let mut wire = Vec::new();
        client.write_tls(&mut wire).unwrap();
        let mut rd = &wire[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).unwrap();
        }
        server.process_new_packets().map_err(Refused::ByServer)?;

        let mut wire = Vec::new();
        server.write_tls(&mut wire).unwrap();
        let mut rd = &wire[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
        }
        client.process_new_packets().map_err(Refused::ByClient)?;
    }
    panic!("handshake did not finish");
}

fn with_x509<T>(path: &Path, f: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
    let der = cert_der(path);
    let (rest, x509) = X509Certificate::from_der(der.as_ref()).unwrap();
    assert!(rest.is_empty());
    f(&x509)
}

fn generated() -> (tempfile::TempDir, DemoPki) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = generate_demo_pki(&tmp.path().join("out")).unwrap();
    (tmp, pki)
}

#[test]
fn certs_generate_every_file_with_the_leaf_only() {
    let (_tmp, pki) = generated();
    let files = pki.files();
    assert_eq!(files.len(), 2 * 11 + 1);
    for file in &files {
        let len = fs::metadata(file).unwrap().len();
        assert!(len > 0, "{} is empty", file.display());
    }
    for cert in DemoCert::ALL {
        // cert_der asserts exactly one certificate per file.
        cert_der(&pki.cert_path(cert));
        key_der(&pki.key_path(cert));
    }
    let readme = fs::read_to_string(pki.readme()).unwrap();
    for cert in DemoCert::ALL {
        assert!(readme.contains(&format!("{0}.pem / {0}.key", cert.file_stem())));
    }
    assert!(readme.contains("FOR DEMOS AND TESTS ONLY"));
    // Nothing but the listed files is left behind (no temporaries, no lock).
    let mut on_disk: Vec<PathBuf> = fs::read_dir(&pki.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    on_disk.sort();
    let mut expected = files;
    // The SDK organisations' certificates have a folder of their own.
    expected.push(pki.dir.join("sdk"));
    expected.sort();
    assert_eq!(on_disk, expected);
}

#[test]
fn certs_sdk_organisations_get_rsa_certificates_from_the_demo_ca() {
    use openssl::x509::X509;
    let tmp = tempfile::tempdir().unwrap();
    let pki = generate_demo_pki(tmp.path()).unwrap();
    let sdk = crate::sdk_pki::paths(&pki);
    let ca = X509::from_pem(&fs::read(pki.ca_cert()).unwrap()).unwrap();
    let ca_key = ca.public_key().unwrap();
    let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
    for org in crate::sdk_pki::ORGS {
        for (cert, key) in [
            (sdk.gateway_cert(&org), sdk.gateway_key(&org)),
            (sdk.org_cert(&org), sdk.org_key(&org)),
            (sdk.system_cert(&org), sdk.system_key(&org)),
        ] {
            let c = X509::from_pem(&fs::read(&cert).unwrap()).unwrap();
            assert!(
                c.verify(&ca_key).unwrap(),
                "{} issued by the demo CA",
                cert.display()
            );
            assert!(c.not_after() > now, "{} valid", cert.display());
            let k = openssl::pkey::PKey::private_key_from_pem(&fs::read(&key).unwrap()).unwrap();
            assert_eq!(k.id(), openssl::pkey::Id::RSA, "{} is RSA", key.display());
            assert!(
                c.public_key().unwrap().public_eq(&k),
                "{} matches",
                key.display()
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                assert_eq!(
                    fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
        // The gateway and system certificates carry the identities the address book
        // and `[[sdk.systems]]` name.
        let id = |p: &Path| crate::tls::caller_id_from_certificate(&cert_der(p)).unwrap();
        assert_eq!(id(&sdk.gateway_cert(&org)), org.gateway_id);
        assert_eq!(id(&sdk.system_cert(&org)), org.system_id);
    }
    let expired = X509::from_pem(&fs::read(sdk.expired_org_cert()).unwrap()).unwrap();
    assert!(expired.not_after() < now, "the expired one has expired");
    let untrusted = X509::from_pem(&fs::read(sdk.untrusted_org_cert()).unwrap()).unwrap();
    assert!(
        !untrusted.verify(&ca_key).unwrap_or(false),
        "the untrusted one is not from the CA"
    );
    assert!(
        untrusted.verify(&untrusted.public_key().unwrap()).unwrap(),
        "self-signed"
    );
    // A second ensure leaves them alone; a new CA makes new ones.
    let before = fs::read(sdk.org_cert(&crate::sdk_pki::REGION)).unwrap();
    ensure_demo_pki(tmp.path()).unwrap();
    assert_eq!(
        fs::read(sdk.org_cert(&crate::sdk_pki::REGION)).unwrap(),
        before
    );
    generate_demo_pki(tmp.path()).unwrap();
    assert_ne!(
        fs::read(sdk.org_cert(&crate::sdk_pki::REGION)).unwrap(),
        before
    );
}

#[test]
fn certs_ensure_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ensure_demo_pki(tmp.path()).unwrap();
    let snapshot: Vec<Vec<u8>> = pki.files().iter().map(|f| fs::read(f).unwrap()).collect();
    let again = ensure_demo_pki(tmp.path()).unwrap();
    assert_eq!(again, pki);
    let after: Vec<Vec<u8>> = pki.files().iter().map(|f| fs::read(f).unwrap()).collect();
    assert!(
        snapshot == after,
        "a second ensure_demo_pki changed the files"
    );
}

#[test]
fn certs_ensure_regenerates_everything_when_one_file_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ensure_demo_pki(tmp.path()).unwrap();
    let ca_before = fs::read(pki.ca_cert()).unwrap();
    let gateway_before = fs::read(pki.gateway_cert()).unwrap();
    fs::remove_file(pki.consumer_key()).unwrap();

    ensure_demo_pki(tmp.path()).unwrap();
    assert!(pki.consumer_key().exists());
    assert_ne!(fs::read(pki.ca_cert()).unwrap(), ca_before);
    assert_ne!(fs::read(pki.gateway_cert()).unwrap(), gateway_before);
    // And the regenerated set is consistent: the new consumer passes the new CA.
    let peer = handshake(
        server_config(&pki, DemoCert::Gateway, &rustls::version::TLS13),
        client_config(&pki, DemoCert::Consumer),
        "localhost",
    )
    .unwrap();
    assert_eq!(peer, cert_der(&pki.consumer_cert()));
}

#[test]
fn certs_ensure_regenerates_an_interrupted_or_expired_set() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ensure_demo_pki(tmp.path()).unwrap();

    // An interrupted generation leaves the README (written last) missing.
    let ca_before = fs::read(pki.ca_cert()).unwrap();
    fs::remove_file(pki.readme()).unwrap();
    ensure_demo_pki(tmp.path()).unwrap();
    assert_ne!(fs::read(pki.ca_cert()).unwrap(), ca_before);

    // A certificate that should be valid but has expired.
    let ca_before = fs::read(pki.ca_cert()).unwrap();
    fs::copy(pki.consumer_expired_cert(), pki.gateway_cert()).unwrap();
    ensure_demo_pki(tmp.path()).unwrap();
    assert_ne!(fs::read(pki.ca_cert()).unwrap(), ca_before);
    with_x509(&pki.gateway_cert(), |x509| {
        assert!(x509.validity().is_valid())
    });
}

#[test]
fn certs_generate_always_replaces_the_files() {
    let (tmp, pki) = generated();
    let ca_before = fs::read(pki.ca_cert()).unwrap();
    let key_before = fs::read(pki.ca_key()).unwrap();
    generate_demo_pki(&tmp.path().join("out")).unwrap();
    assert_ne!(fs::read(pki.ca_cert()).unwrap(), ca_before);
    assert_ne!(fs::read(pki.ca_key()).unwrap(), key_before);
}

#[test]
fn certs_concurrent_ensures_agree_on_one_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4).map(|_| s.spawn(|| ensure_demo_pki(&dir))).collect();
        for worker in workers {
            worker.join().unwrap().unwrap();
        }
    });
    let pki = DemoPki { dir };
    assert!(!pki.dir.join(LOCK_FILE).exists());
    handshake(
        server_config(&pki, DemoCert::Gateway, &rustls::version::TLS13),
        client_config(&pki, DemoCert::Consumer),
        "127.0.0.1",
    )
    .unwrap();
}

#[cfg(unix)]
#[test]
fn certs_private_keys_are_mode_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let (tmp, pki) = generated();
    // A world-readable key left by someone else is replaced by a private one.
    fs::set_permissions(pki.consumer_key(), fs::Permissions::from_mode(0o644)).unwrap();
    generate_demo_pki(&tmp.path().join("out")).unwrap();
    for cert in DemoCert::ALL {
        let key_mode = fs::metadata(pki.key_path(cert))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600, "{}", pki.key_path(cert).display());
        let cert_mode = fs::metadata(pki.cert_path(cert))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            cert_mode & 0o777,
            0o644,
            "{}",
            pki.cert_path(cert).display()
        );
    }
}

#[test]
fn certs_subjects_carry_serialnumber_and_cn_exactly_as_listed() {
    let (_tmp, pki) = generated();
    let expected: [(DemoCert, Option<&str>, Option<&str>); 11] = [
        (DemoCert::Ca, None, Some("vaxel demo CA")),
        (
            DemoCert::Gateway,
            Some("SE0000000000-VAXEL"),
            Some("vaxel-gateway"),
        ),
        (
            DemoCert::GatewayClient,
            Some("SE0000000000-VAXEL"),
            Some("vaxel-gateway"),
        ),
        (DemoCert::Producer, None, Some("vaxel-demo-producer")),
        (
            DemoCert::Consumer,
            Some("SE0000000000-DEMOCONSUMER"),
            Some("Demo journal system"),
        ),
        (
            DemoCert::Consumer2,
            Some("SE0000000000-OTHERCONSUMER"),
            Some("Other journal system"),
        ),
        (
            DemoCert::ConsumerCnOnly,
            None,
            Some("SE0000000000-CNCONSUMER"),
        ),
        (DemoCert::ConsumerNoName, None, None),
        (
            DemoCert::ConsumerExpired,
            Some("SE0000000000-DEMOCONSUMER"),
            Some("Demo journal system (expired)"),
        ),
        (
            DemoCert::RogueCa,
            None,
            Some("vaxel rogue CA (not trusted)"),
        ),
        (
            DemoCert::RogueConsumer,
            Some("SE0000000000-DEMOCONSUMER"),
            Some("Demo journal system (rogue CA)"),
        ),
    ];
    for (cert, serial, cn) in expected {
        with_x509(&pki.cert_path(cert), |x509| {
            let subject = x509.subject();
            let serials: Vec<_> = subject.iter_by_oid(&OID_X509_SERIALNUMBER).collect();
            match serial {
                Some(serial) => {
                    assert_eq!(serials.len(), 1, "{cert}: one 2.5.4.5 attribute");
                    assert_eq!(serials[0].as_str().unwrap(), serial, "{cert}");
                    // X.520 serialNumber is a PrintableString.
                    assert_eq!(
                        serials[0].attr_value().tag(),
                        x509_parser::der_parser::asn1_rs::Tag::PrintableString,
                        "{cert}"
                    );
                }
                None => assert!(serials.is_empty(), "{cert}: no 2.5.4.5 attribute"),
            }
            let cns: Vec<_> = subject
                .iter_by_oid(&OID_X509_COMMON_NAME)
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(cns, cn.into_iter().collect::<Vec<_>>(), "{cert}");
            let orgs: Vec<_> = subject
                .iter_organization()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(orgs, ["vaxel demo"], "{cert}");
            assert_eq!(cert.expected_caller_id(), serial.or(cn), "{cert}");
        });
    }
    with_x509(&pki.consumer_noname_cert(), |x509| {
        assert_eq!(x509.subject().iter_attributes().count(), 1);
    });
}

#[test]
fn certs_extensions_and_validity() {
    let (_tmp, pki) = generated();
    for cert in DemoCert::ALL {
        with_x509(&pki.cert_path(cert), |x509| {
            let bc = x509.basic_constraints().unwrap().expect("basicConstraints");
            assert!(bc.critical, "{cert}");
            let ku = x509.key_usage().unwrap().expect("keyUsage").value;
            let eku = x509.extended_key_usage().unwrap();
            let days = (x509.validity().not_after.timestamp()
                - x509.validity().not_before.timestamp())
                / 86_400;
            match cert.role() {
                Role::Ca => {
                    assert!(bc.value.ca, "{cert}");
                    assert!(ku.key_cert_sign() && ku.crl_sign(), "{cert}");
                    assert!(eku.is_none(), "{cert}");
                    assert_eq!(days, 3653, "{cert}: 10 years");
                }
                Role::TlsServer | Role::TlsClient => {
                    assert!(!bc.value.ca, "{cert}");
                    assert!(ku.digital_signature() && !ku.key_cert_sign(), "{cert}");
                    let eku = eku.expect("extendedKeyUsage").value;
                    let server = cert.role() == Role::TlsServer;
                    assert_eq!(
                        (eku.server_auth, eku.client_auth),
                        (server, !server),
                        "{cert}"
                    );
                    assert!(x509.extensions().iter().any(|e| matches!(
                        e.parsed_extension(),
                        ParsedExtension::AuthorityKeyIdentifier(_)
                    )));
                }
            }
            let sans: Vec<String> = x509
                .subject_alternative_name()
                .unwrap()
                .map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .map(|n| n.to_string())
                        .collect()
                })
                .unwrap_or_default();
            if cert.role() == Role::TlsServer {
                assert_eq!(sans.len(), 3, "{cert}: {sans:?}");
                assert!(
                    sans.iter().any(|n| n.contains("localhost")),
                    "{cert}: {sans:?}"
                );
            } else {
                assert!(sans.is_empty(), "{cert}: {sans:?}");
            }
            assert_eq!(
                x509.validity().is_valid(),
                cert != DemoCert::ConsumerExpired,
                "{cert}"
            );
        });
    }
    with_x509(&pki.consumer_expired_cert(), |x509| {
        let now = x509_parser::time::ASN1Time::now().timestamp();
        let ended = now - x509.validity().not_after.timestamp();
        assert!(
            (86_400..2 * 86_400).contains(&ended),
            "ended yesterday, {ended}s ago"
        );
    });
}

#[test]
fn certs_gateway_accepts_the_demo_ca_clients_over_tls12_and_tls13() {
    let (_tmp, pki) = generated();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let server = server_config(&pki, DemoCert::Gateway, version);
        for client in [
            DemoCert::Consumer,
            DemoCert::Consumer2,
            DemoCert::ConsumerCnOnly,
            DemoCert::ConsumerNoName,
        ] {
            let peer = handshake(server.clone(), client_config(&pki, client), "localhost")
                .unwrap_or_else(|e| panic!("{client} over {version:?}: {e:?}"));
            assert_eq!(peer, cert_der(&pki.cert_path(client)));
        }
    }
}

#[test]
fn certs_gateway_rejects_rogue_expired_and_server_only_client_certs() {
    let (_tmp, pki) = generated();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let server = server_config(&pki, DemoCert::Gateway, version);
        let refused = |client| handshake(server.clone(), client_config(&pki, client), "localhost");

        let rogue = refused(DemoCert::RogueConsumer);
        assert!(
            matches!(
                rogue,
                Err(Refused::ByServer(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                )))
            ),
            "{rogue:?}"
        );
        let expired = refused(DemoCert::ConsumerExpired);
        assert!(
            matches!(
                expired,
                Err(Refused::ByServer(rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. }
                )))
            ),
            "{expired:?}"
        );
        // gateway.pem has serverAuth only; it must not work as a client certificate.
        let server_only = refused(DemoCert::Gateway);
        assert!(
            matches!(
                server_only,
                Err(Refused::ByServer(rustls::Error::InvalidCertificate(
                    CertificateError::InvalidPurpose
                        | CertificateError::InvalidPurposeContext { .. }
                )))
            ),
            "{server_only:?}"
        );
    }
}

#[test]
fn certs_server_certs_match_localhost_names_only() {
    let (_tmp, pki) = generated();
    for (server, client) in [
        (DemoCert::Gateway, DemoCert::Consumer),
        (DemoCert::Producer, DemoCert::GatewayClient),
    ] {
        let config = server_config(&pki, server, &rustls::version::TLS13);
        for name in ["localhost", "127.0.0.1", "::1"] {
            handshake(config.clone(), client_config(&pki, client), name)
                .unwrap_or_else(|e| panic!("{server} as {name}: {e:?}"));
        }
        let wrong = handshake(config.clone(), client_config(&pki, client), "example.com");
        assert!(
            matches!(
                wrong,
                Err(Refused::ByClient(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )))
            ),
            "{wrong:?}"
        );
    }
    // A client that only trusts the rogue CA refuses the gateway.
    let verifier =
        WebPkiServerVerifier::builder_with_provider(roots(&pki.rogue_ca_cert()), provider())
            .build()
            .unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            vec![cert_der(&pki.consumer_cert())],
            key_der(&pki.consumer_key()),
        )
        .unwrap();
    let refused = handshake(
        server_config(&pki, DemoCert::Gateway, &rustls::version::TLS13),
        Arc::new(client),
        "localhost",
    );
    assert!(matches!(refused, Err(Refused::ByClient(_))), "{refused:?}");
}

#[test]
fn certs_errors_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("plain-file");
    fs::write(&not_a_dir, b"x").unwrap();
    let out = not_a_dir.join("out");
    for err in [
        generate_demo_pki(&out).unwrap_err(),
        ensure_demo_pki(&out).unwrap_err(),
    ] {
        assert!(matches!(err, CertsError::CreateDir { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot create the demo PKI directory {}: ",
                out.display()
            )),
            "{message}"
        );
        // The cause is in the message, not repeated as a source.
        assert!(std::error::Error::source(&err).is_none());
    }
}
