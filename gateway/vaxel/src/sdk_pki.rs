//! The SDK part of the demo PKI (`<dir>/sdk/`): two organisations, a region and a
//! municipality, each with its own gateway certificate (TLS server and client), its
//! organisation certificate (RSA: XML signatures and RSA-OAEP key transport need RSA)
//! and its journal system's client certificate; plus an organisation certificate from
//! no trusted CA and one that has expired, for the refusal tests.
//!
//! Made with the `openssl` crate (rcgen cannot generate RSA keys), issued by the demo CA
//! (`ca.pem` / `ca.key`). Regenerated whenever a file is missing or no longer chains to
//! the current demo CA, so the folder never mixes two CAs. For demos and tests only.

use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509NameBuilder, X509};

use crate::certs::{CertsError, DemoPki, DEMO_ORGANISATION};

/// One demo organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkOrg {
    /// File-name stem (`region`, `municipality`).
    pub stem: &'static str,
    pub name: &'static str,
    /// Participant id (`iso6523-actorid-upis::0203:…`).
    pub participant: &'static str,
    /// The organisation number part (`0203:…`), as messages write it.
    pub org_number: &'static str,
    /// Functional address its SIP unit receives at.
    pub functional_address: &'static str,
    /// Its gateway's identity (client certificate SERIALNUMBER).
    pub gateway_id: &'static str,
    /// Its journal system's identity (client certificate SERIALNUMBER).
    pub system_id: &'static str,
}

/// The region of the demo (sends the SIP invitation).
pub const REGION: SdkOrg = SdkOrg {
    stem: "region",
    name: "Region Demo",
    participant: "iso6523-actorid-upis::0203:region.demo.vaxel.se",
    org_number: "0203:region.demo.vaxel.se",
    functional_address: "sdk.sip.0203:region.demo.vaxel.se",
    gateway_id: "SE0000000000-SDKREGIONGW",
    system_id: "SE0000000000-SDKREGIONSYS",
};

/// The municipality of the demo (answers it).
pub const MUNICIPALITY: SdkOrg = SdkOrg {
    stem: "municipality",
    name: "Demo kommun",
    participant: "iso6523-actorid-upis::0203:kommun.demo.vaxel.se",
    org_number: "0203:kommun.demo.vaxel.se",
    functional_address: "sdk.sip.0203:kommun.demo.vaxel.se",
    gateway_id: "SE0000000000-SDKKOMMUNGW",
    system_id: "SE0000000000-SDKKOMMUNSYS",
};

pub const ORGS: [SdkOrg; 2] = [REGION, MUNICIPALITY];

/// Paths of the SDK demo files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkPki {
    pub dir: PathBuf,
    /// The demo CA (trust anchor of gateways, systems and organisation certificates).
    pub ca: PathBuf,
}

impl SdkPki {
    pub fn gateway_cert(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-gateway.pem", o.stem))
    }
    pub fn gateway_key(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-gateway.key", o.stem))
    }
    pub fn org_cert(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-org.pem", o.stem))
    }
    pub fn org_key(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-org.key", o.stem))
    }
    pub fn system_cert(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-system.pem", o.stem))
    }
    pub fn system_key(&self, o: &SdkOrg) -> PathBuf {
        self.dir.join(format!("{}-system.key", o.stem))
    }
    /// An organisation certificate for the region's name from a CA nobody trusts.
    pub fn untrusted_org_cert(&self) -> PathBuf {
        self.dir.join("untrusted-org.pem")
    }
    pub fn untrusted_org_key(&self) -> PathBuf {
        self.dir.join("untrusted-org.key")
    }
    /// The region's organisation name on a certificate that expired yesterday.
    pub fn expired_org_cert(&self) -> PathBuf {
        self.dir.join("expired-org.pem")
    }
    pub fn expired_org_key(&self) -> PathBuf {
        self.dir.join("expired-org.key")
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut f = Vec::new();
        for o in &ORGS {
            f.extend([
                self.gateway_cert(o),
                self.gateway_key(o),
                self.org_cert(o),
                self.org_key(o),
                self.system_cert(o),
                self.system_key(o),
            ]);
        }
        f.extend([
            self.untrusted_org_cert(),
            self.untrusted_org_key(),
            self.expired_org_cert(),
            self.expired_org_key(),
        ]);
        f
    }
}

fn gen_err(path: &Path, e: impl std::fmt::Display) -> CertsError {
    CertsError::Sdk {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Whether `<pki.dir>/sdk` is complete and issued by the current demo CA.
pub(crate) fn is_complete(pki: &DemoPki) -> bool {
    let sdk = SdkPki {
        dir: pki.dir.join("sdk"),
        ca: pki.ca_cert(),
    };
    std::fs::read(pki.ca_cert())
        .ok()
        .and_then(|pem| X509::from_pem(&pem).ok())
        .is_some_and(|ca| complete(&sdk, &ca))
}

/// The SDK files of a demo PKI (whether or not they exist yet).
pub fn paths(pki: &DemoPki) -> SdkPki {
    SdkPki {
        dir: pki.dir.join("sdk"),
        ca: pki.ca_cert(),
    }
}

/// Make sure `<pki.dir>/sdk` holds the SDK files, issued by the current demo CA.
/// Called by the demo PKI generation (under its lock).
pub(crate) fn ensure(pki: &DemoPki, force: bool) -> Result<SdkPki, CertsError> {
    let sdk = SdkPki {
        dir: pki.dir.join("sdk"),
        ca: pki.ca_cert(),
    };
    let ca_pem = std::fs::read(pki.ca_cert()).map_err(|e| gen_err(&pki.ca_cert(), e))?;
    let ca = X509::from_pem(&ca_pem).map_err(|e| gen_err(&pki.ca_cert(), e))?;
    if !force && complete(&sdk, &ca) {
        return Ok(sdk);
    }
    let ca_key_pem = std::fs::read(pki.ca_key()).map_err(|e| gen_err(&pki.ca_key(), e))?;
    let ca_key = PKey::private_key_from_pem(&ca_key_pem).map_err(|e| gen_err(&pki.ca_key(), e))?;
    std::fs::create_dir_all(&sdk.dir).map_err(|e| gen_err(&sdk.dir, e))?;
    tracing::info!(dir = %sdk.dir.display(), "generating the SDK demo certificates");
    for o in &ORGS {
        let issuer = Some((&ca, &ca_key));
        write(
            &sdk.gateway_cert(o),
            &sdk.gateway_key(o),
            &Spec {
                cn: &format!("{} gateway", o.name),
                serial_number: Some(o.gateway_id),
                org: o.name,
                kind: Kind::Gateway,
                expired: false,
            },
            issuer,
        )?;
        write(
            &sdk.org_cert(o),
            &sdk.org_key(o),
            &Spec {
                cn: o.org_number,
                serial_number: Some(o.org_number),
                org: o.name,
                kind: Kind::Organisation,
                expired: false,
            },
            issuer,
        )?;
        write(
            &sdk.system_cert(o),
            &sdk.system_key(o),
            &Spec {
                cn: &format!("{} journal system", o.name),
                serial_number: Some(o.system_id),
                org: o.name,
                kind: Kind::Client,
                expired: false,
            },
            issuer,
        )?;
    }
    write(
        &sdk.untrusted_org_cert(),
        &sdk.untrusted_org_key(),
        &Spec {
            cn: REGION.org_number,
            serial_number: Some(REGION.org_number),
            org: "untrusted",
            kind: Kind::Organisation,
            expired: false,
        },
        None,
    )?;
    write(
        &sdk.expired_org_cert(),
        &sdk.expired_org_key(),
        &Spec {
            cn: REGION.org_number,
            serial_number: Some(REGION.org_number),
            org: REGION.name,
            kind: Kind::Organisation,
            expired: true,
        },
        Some((&ca, &ca_key)),
    )?;
    Ok(sdk)
}

/// Every file is there and the issued ones chain to `ca` and are valid.
fn complete(sdk: &SdkPki, ca: &X509) -> bool {
    if sdk.files().iter().any(|f| !f.is_file()) {
        return false;
    }
    let Ok(ca_key) = ca.public_key() else {
        return false;
    };
    let now = Asn1Time::days_from_now(0).ok();
    ORGS.iter().all(|o| {
        [sdk.gateway_cert(o), sdk.org_cert(o), sdk.system_cert(o)]
            .iter()
            .all(|p| {
                std::fs::read(p)
                    .ok()
                    .and_then(|pem| X509::from_pem(&pem).ok())
                    .is_some_and(|c| {
                        c.verify(&ca_key).unwrap_or(false)
                            && now.as_ref().is_some_and(|n| c.not_after() > *n)
                    })
            })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// TLS server and client of a gateway.
    Gateway,
    /// A system's TLS client certificate.
    Client,
    /// An organisation certificate (signing, key encipherment).
    Organisation,
}

struct Spec<'a> {
    cn: &'a str,
    serial_number: Option<&'a str>,
    org: &'a str,
    kind: Kind,
    expired: bool,
}

fn write(
    cert_path: &Path,
    key_path: &Path,
    spec: &Spec<'_>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> Result<(), CertsError> {
    let e = |err: openssl::error::ErrorStack| gen_err(cert_path, err);
    let rsa = Rsa::generate(2048).map_err(e)?;
    let key = PKey::from_rsa(rsa).map_err(e)?;
    let mut name = X509NameBuilder::new().map_err(e)?;
    name.append_entry_by_nid(Nid::COUNTRYNAME, "SE")
        .map_err(e)?;
    name.append_entry_by_nid(
        Nid::ORGANIZATIONNAME,
        &format!("{} ({DEMO_ORGANISATION})", spec.org),
    )
    .map_err(e)?;
    if let Some(sn) = spec.serial_number {
        name.append_entry_by_nid(Nid::SERIALNUMBER, sn).map_err(e)?;
    }
    name.append_entry_by_nid(Nid::COMMONNAME, spec.cn)
        .map_err(e)?;
    let name = name.build();
    let mut b = X509::builder().map_err(e)?;
    b.set_version(2).map_err(e)?;
    let mut serial = BigNum::new().map_err(e)?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false).map_err(e)?;
    let serial = Asn1Integer::from_bn(&serial).map_err(e)?;
    b.set_serial_number(&serial).map_err(e)?;
    b.set_subject_name(&name).map_err(e)?;
    match issuer {
        Some((ca, _)) => b.set_issuer_name(ca.subject_name()).map_err(e)?,
        None => b.set_issuer_name(&name).map_err(e)?,
    }
    b.set_pubkey(&key).map_err(e)?;
    // Validity starts a day ago (clock differences); an expired one ended an hour ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (from, to) = if spec.expired {
        (
            Asn1Time::from_unix(now - 10 * 86_400).map_err(e)?,
            Asn1Time::from_unix(now - 3_600).map_err(e)?,
        )
    } else {
        (
            Asn1Time::from_unix(now - 86_400).map_err(e)?,
            Asn1Time::days_from_now(820).map_err(e)?,
        )
    };
    b.set_not_before(&from).map_err(e)?;
    b.set_not_after(&to).map_err(e)?;
    b.append_extension(BasicConstraints::new().critical().build().map_err(e)?)
        .map_err(e)?;
    // Key identifiers, as the rest of the demo PKI has (OpenSSL's -x509_strict wants them).
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
        .map_err(e)?;
    b.append_extension(ski).map_err(e)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
        .map_err(e)?;
    b.append_extension(aki).map_err(e)?;
    match spec.kind {
        Kind::Gateway => {
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .map_err(e)?,
            )
            .map_err(e)?;
            b.append_extension(
                ExtendedKeyUsage::new()
                    .server_auth()
                    .client_auth()
                    .build()
                    .map_err(e)?,
            )
            .map_err(e)?;
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .ip("::1")
                .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
                .map_err(e)?;
            b.append_extension(san).map_err(e)?;
        }
        Kind::Client => {
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .map_err(e)?,
            )
            .map_err(e)?;
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().map_err(e)?)
                .map_err(e)?;
        }
        Kind::Organisation => {
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .key_encipherment()
                    .build()
                    .map_err(e)?,
            )
            .map_err(e)?;
        }
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).map_err(e)?;
    let cert = b.build();
    let key_pem = key.private_key_to_pem_pkcs8().map_err(e)?;
    let cert_pem = cert.to_pem().map_err(e)?;
    crate::certs::write_atomically(key_path, &key_pem, true)?;
    crate::certs::write_atomically(cert_path, &cert_pem, false)?;
    Ok(())
}
