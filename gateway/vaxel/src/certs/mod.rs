//! Demo PKI: a throw-away certificate authority and the leaf certificates that the
//! demo (`vaxel serve --demo`) and the test suites need.
//!
//! Everything here is for demos and tests only. The keys are generated on the machine
//! that runs the demo, written next to the certificates and never committed (the
//! repository's `.gitignore` covers `certs-example/out/` and `*.key`).
//!
//! Every certificate uses an ECDSA P-256 key signed with SHA-256, which rustls (ring
//! provider), OpenSSL (`s_client`, curl) and the common browsers all accept. Each
//! `.pem` file holds the leaf certificate only; the trust anchor is `ca.pem`.
//!
//! The caller identity the gateway derives from a client certificate is the subject
//! `SERIALNUMBER` (OID 2.5.4.5), else the subject CN (see DESIGN.md, "Protocol facts");
//! the consumer certificates cover each of those cases, plus the ones the TLS handshake
//! itself must refuse (expired, issued by another CA).
//!
//! Generation is all-or-nothing: [`ensure_demo_pki`] regenerates every file as soon as
//! one is missing (or a certificate that should be valid is not), so a directory never
//! mixes certificates from two different CAs. `README-generated.txt` is removed first
//! and written last, which makes an interrupted generation look incomplete on the next
//! run. A lock file serialises concurrent generations (parallel tests, two demo
//! processes) in the same directory.
//!
//! These functions block (file I/O, and a short wait while another process holds the
//! lock); call them before starting the runtime or from `spawn_blocking`.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{Datelike as _, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PrintableString, SanType,
};

/// Subject `SERIALNUMBER` of the gateway's server and client certificates.
pub const GATEWAY_ID: &str = "SE0000000000-VAXEL";
/// Subject `SERIALNUMBER` of the demo consumer that the demo routing table authorises.
pub const DEMO_CONSUMER_ID: &str = "SE0000000000-DEMOCONSUMER";
/// Subject `SERIALNUMBER` of a consumer that the demo routing table does not authorise.
pub const OTHER_CONSUMER_ID: &str = "SE0000000000-OTHERCONSUMER";
/// Subject CN of the consumer certificate without a `SERIALNUMBER`; the gateway must
/// fall back to it as the caller identity.
pub const CN_CONSUMER_ID: &str = "SE0000000000-CNCONSUMER";
/// Subject O of every demo certificate.
pub const DEMO_ORGANISATION: &str = "vaxel demo";

/// X.520 serialNumber (2.5.4.5): the attribute national-platform certificates (SITHS)
/// carry the HSA id in, and the first place the gateway looks for a caller identity.
const OID_SUBJECT_SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];

/// Validity of the two CAs.
const CA_VALIDITY_DAYS: u64 = 3653; // 10 years
/// Validity of leaf certificates. Apple platforms refuse TLS server certificates valid
/// for more than 825 days, even under a locally trusted root; stay below that so the
/// demo works from a Mac's curl or browser too.
const LEAF_VALIDITY_DAYS: u64 = 820;
/// How long `consumer-expired.pem` was valid before it ran out yesterday.
const EXPIRED_VALIDITY_DAYS: u64 = 30;

/// The lock file that serialises generations in one directory.
const LOCK_FILE: &str = ".generate.lock";
/// A lock older than this is left over from a crashed process (generating takes
/// milliseconds) and is removed.
const STALE_LOCK_AGE: Duration = Duration::from_secs(30);
/// How long to wait for another process to finish generating.
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Written last; its presence marks a complete generation.
const README_FILE: &str = "README-generated.txt";

/// What went wrong while generating or checking the demo PKI. Every variant names the
/// file or directory concerned. The message includes the underlying cause, so it is not
/// repeated as `source()` (which would print it twice in an error chain).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertsError {
    /// The output directory could not be created.
    #[error("cannot create the demo PKI directory {path}: {cause}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        cause: io::Error,
    },
    /// A file of the demo PKI could not be written (or its permissions set).
    #[error("cannot write {path}: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        cause: io::Error,
    },
    /// An existing file of the demo PKI could not be inspected (other than not existing).
    #[error(
        "cannot read {path}: {cause}; fix its permissions, or regenerate with `vaxel certs --force`"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        cause: io::Error,
    },
    /// rcgen could not build a key or certificate.
    #[error("cannot generate {path}: {cause}")]
    Generate {
        /// The file being generated.
        path: PathBuf,
        /// The underlying rcgen error.
        cause: rcgen::Error,
    },
    /// openssl could not build an SDK demo key or certificate.
    #[error("cannot generate {path}: {reason}")]
    Sdk {
        /// The file being generated (or read).
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another process kept the generation lock for too long.
    #[error(
        "another process is generating the demo PKI (lock file {path} held for more than {}s); \
         if no vaxel process is running, delete the lock file and retry",
        LOCK_WAIT.as_secs()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// One certificate (and its key) of the demo PKI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DemoCert {
    /// `ca.pem`: the demo CA that issued every other certificate but the rogue ones.
    Ca,
    /// `gateway.pem`: the gateway's TLS server certificate.
    Gateway,
    /// `gateway-client.pem`: the client certificate the gateway presents to producers.
    GatewayClient,
    /// `producer.pem`: the demo producer's TLS server certificate.
    Producer,
    /// `consumer.pem`: the demo journal system, authorised in the demo routing table.
    Consumer,
    /// `consumer2.pem`: a consumer the demo routing table does not authorise.
    Consumer2,
    /// `consumer-cn-only.pem`: no subject SERIALNUMBER, so the identity is the CN.
    ConsumerCnOnly,
    /// `consumer-noname.pem`: neither SERIALNUMBER nor CN; the gateway answers VP002.
    ConsumerNoName,
    /// `consumer-expired.pem`: ran out yesterday; the TLS handshake must fail.
    ConsumerExpired,
    /// `rogue-ca.pem`: a CA the gateway does not trust.
    RogueCa,
    /// `rogue-consumer.pem`: claims the demo consumer's identity, issued by the rogue
    /// CA; the TLS handshake must fail.
    RogueConsumer,
}

/// Which key usages a certificate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ca,
    TlsServer,
    TlsClient,
}

/// How long a certificate is valid, relative to today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validity {
    Ca,
    Leaf,
    EndedYesterday,
}

impl DemoCert {
    /// Every certificate, CAs first (the order they are generated and listed in).
    pub const ALL: [DemoCert; 11] = [
        DemoCert::Ca,
        DemoCert::Gateway,
        DemoCert::GatewayClient,
        DemoCert::Producer,
        DemoCert::Consumer,
        DemoCert::Consumer2,
        DemoCert::ConsumerCnOnly,
        DemoCert::ConsumerNoName,
        DemoCert::ConsumerExpired,
        DemoCert::RogueCa,
        DemoCert::RogueConsumer,
    ];

    /// File name without extension: `<stem>.pem` is the certificate, `<stem>.key` the key.
    pub fn file_stem(self) -> &'static str {
        match self {
            DemoCert::Ca => "ca",
            DemoCert::Gateway => "gateway",
            DemoCert::GatewayClient => "gateway-client",
            DemoCert::Producer => "producer",
            DemoCert::Consumer => "consumer",
            DemoCert::Consumer2 => "consumer2",
            DemoCert::ConsumerCnOnly => "consumer-cn-only",
            DemoCert::ConsumerNoName => "consumer-noname",
            DemoCert::ConsumerExpired => "consumer-expired",
            DemoCert::RogueCa => "rogue-ca",
            DemoCert::RogueConsumer => "rogue-consumer",
        }
    }

    /// The subject `SERIALNUMBER` (OID 2.5.4.5), if the certificate has one.
    pub fn subject_serial_number(self) -> Option<&'static str> {
        match self {
            DemoCert::Gateway | DemoCert::GatewayClient => Some(GATEWAY_ID),
            DemoCert::Consumer | DemoCert::ConsumerExpired | DemoCert::RogueConsumer => {
                Some(DEMO_CONSUMER_ID)
            }
            DemoCert::Consumer2 => Some(OTHER_CONSUMER_ID),
            DemoCert::Ca
            | DemoCert::Producer
            | DemoCert::ConsumerCnOnly
            | DemoCert::ConsumerNoName
            | DemoCert::RogueCa => None,
        }
    }

    /// The subject CN, if the certificate has one.
    pub fn subject_common_name(self) -> Option<&'static str> {
        match self {
            DemoCert::Ca => Some("vaxel demo CA"),
            DemoCert::Gateway | DemoCert::GatewayClient => Some("vaxel-gateway"),
            DemoCert::Producer => Some("vaxel-demo-producer"),
            DemoCert::Consumer => Some("Demo journal system"),
            DemoCert::Consumer2 => Some("Other journal system"),
            DemoCert::ConsumerCnOnly => Some(CN_CONSUMER_ID),
            DemoCert::ConsumerNoName => None,
            DemoCert::ConsumerExpired => Some("Demo journal system (expired)"),
            DemoCert::RogueCa => Some("vaxel rogue CA (not trusted)"),
            DemoCert::RogueConsumer => Some("Demo journal system (rogue CA)"),
        }
    }

    /// The caller identity the gateway must derive from this certificate once the TLS
    /// handshake succeeded: subject SERIALNUMBER, else CN, else none (fault VP002).
    pub fn expected_caller_id(self) -> Option<&'static str> {
        self.subject_serial_number()
            .or_else(|| self.subject_common_name())
    }

    /// What the certificate is for, one line (used in `README-generated.txt`).
    pub fn description(self) -> &'static str {
        match self {
            DemoCert::Ca => "demo CA (CA:true, keyCertSign, cRLSign); trust anchor for everything below but the rogue files",
            DemoCert::Gateway => "gateway TLS server (serverAuth; SAN localhost, 127.0.0.1, ::1)",
            DemoCert::GatewayClient => "gateway's client certificate towards producers (clientAuth)",
            DemoCert::Producer => "demo producer TLS server (serverAuth; SAN localhost, 127.0.0.1, ::1)",
            DemoCert::Consumer => "demo consumer (journal system), authorised in the demo routing table (clientAuth)",
            DemoCert::Consumer2 => "consumer NOT authorised in the demo routing table (clientAuth)",
            DemoCert::ConsumerCnOnly => "consumer without SERIALNUMBER: identity falls back to the CN (clientAuth)",
            DemoCert::ConsumerNoName => "consumer with neither SERIALNUMBER nor CN: the gateway answers VP002 (clientAuth)",
            DemoCert::ConsumerExpired => "demo consumer whose validity ended yesterday: the TLS handshake must fail",
            DemoCert::RogueCa => "a different CA that the gateway does NOT trust",
            DemoCert::RogueConsumer => "claims the demo consumer's identity but is issued by the rogue CA: the TLS handshake must fail",
        }
    }

    fn role(self) -> Role {
        match self {
            DemoCert::Ca | DemoCert::RogueCa => Role::Ca,
            DemoCert::Gateway | DemoCert::Producer => Role::TlsServer,
            DemoCert::GatewayClient
            | DemoCert::Consumer
            | DemoCert::Consumer2
            | DemoCert::ConsumerCnOnly
            | DemoCert::ConsumerNoName
            | DemoCert::ConsumerExpired
            | DemoCert::RogueConsumer => Role::TlsClient,
        }
    }

    fn validity(self) -> Validity {
        match self.role() {
            Role::Ca => Validity::Ca,
            _ if self == DemoCert::ConsumerExpired => Validity::EndedYesterday,
            _ => Validity::Leaf,
        }
    }

    /// Only the rogue consumer is issued by the rogue CA; the CAs sign themselves.
    fn issuer(self) -> Option<DemoCert> {
        match self {
            DemoCert::Ca | DemoCert::RogueCa => None,
            DemoCert::RogueConsumer => Some(DemoCert::RogueCa),
            _ => Some(DemoCert::Ca),
        }
    }

    fn params(self, today: NaiveDate) -> Result<CertificateParams, rcgen::Error> {
        let mut params = CertificateParams::default();

        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, DEMO_ORGANISATION);
        if let Some(cn) = self.subject_common_name() {
            name.push(DnType::CommonName, cn);
        }
        if let Some(serial) = self.subject_serial_number() {
            // X.520 defines serialNumber as a PrintableString (RFC 5280 appendix A).
            let value = PrintableString::try_from(serial)?;
            name.push(
                DnType::CustomDnType(OID_SUBJECT_SERIAL_NUMBER.to_vec()),
                DnValue::PrintableString(value),
            );
        }
        params.distinguished_name = name;

        // Start yesterday so that a peer whose clock is a little behind accepts the
        // certificate straight after generation.
        let yesterday = today - chrono::Days::new(1);
        let (not_before, not_after) = match self.validity() {
            Validity::Ca => (yesterday, yesterday + chrono::Days::new(CA_VALIDITY_DAYS)),
            Validity::Leaf => (yesterday, yesterday + chrono::Days::new(LEAF_VALIDITY_DAYS)),
            Validity::EndedYesterday => (
                yesterday - chrono::Days::new(EXPIRED_VALIDITY_DAYS),
                yesterday,
            ),
        };
        // rcgen's validity fields are `time::OffsetDateTime`; go through its
        // `date_time_ymd` rather than adding `time` as a direct dependency.
        let (year, month, day) = ymd(not_before);
        params.not_before = rcgen::date_time_ymd(year, month, day);
        let (year, month, day) = ymd(not_after);
        params.not_after = rcgen::date_time_ymd(year, month, day);

        match self.role() {
            Role::Ca => {
                // pathlen 0: the demo CAs sign leaves directly.
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            }
            Role::TlsServer | Role::TlsClient => {
                // CA:false and the subject/authority key identifiers: OpenSSL's strict
                // mode (`-x509_strict`, Python 3.13's default) requires them.
                params.is_ca = IsCa::ExplicitNoCa;
                params.use_authority_key_identifier_extension = true;
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                params.extended_key_usages = vec![if self.role() == Role::TlsServer {
                    ExtendedKeyUsagePurpose::ServerAuth
                } else {
                    ExtendedKeyUsagePurpose::ClientAuth
                }];
            }
        }
        if self.role() == Role::TlsServer {
            params.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into()?),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ];
        }
        Ok(params)
    }
}

impl fmt::Display for DemoCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_stem())
    }
}

/// A directory holding a complete demo PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPki {
    /// The directory the files are in.
    pub dir: PathBuf,
}

macro_rules! demo_paths {
    ($($cert_fn:ident, $key_fn:ident => $variant:ident;)*) => {
        $(
            #[doc = concat!("Path of the certificate of [`DemoCert::", stringify!($variant), "`].")]
            pub fn $cert_fn(&self) -> PathBuf {
                self.cert_path(DemoCert::$variant)
            }
            #[doc = concat!("Path of the private key of [`DemoCert::", stringify!($variant), "`].")]
            pub fn $key_fn(&self) -> PathBuf {
                self.key_path(DemoCert::$variant)
            }
        )*
    };
}

impl DemoPki {
    /// `<dir>/<stem>.pem`: the PEM certificate (leaf only, no chain).
    pub fn cert_path(&self, cert: DemoCert) -> PathBuf {
        self.dir.join(format!("{}.pem", cert.file_stem()))
    }

    /// `<dir>/<stem>.key`: the PEM PKCS#8 private key (mode 0600 on unix).
    pub fn key_path(&self, cert: DemoCert) -> PathBuf {
        self.dir.join(format!("{}.key", cert.file_stem()))
    }

    /// `<dir>/README-generated.txt`: what each file is.
    pub fn readme(&self) -> PathBuf {
        self.dir.join(README_FILE)
    }

    /// Every file of a complete demo PKI.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = DemoCert::ALL
            .iter()
            .flat_map(|&cert| [self.cert_path(cert), self.key_path(cert)])
            .collect();
        files.push(self.readme());
        files
    }

    demo_paths! {
        ca_cert, ca_key => Ca;
        gateway_cert, gateway_key => Gateway;
        gateway_client_cert, gateway_client_key => GatewayClient;
        producer_cert, producer_key => Producer;
        consumer_cert, consumer_key => Consumer;
        consumer2_cert, consumer2_key => Consumer2;
        consumer_cn_only_cert, consumer_cn_only_key => ConsumerCnOnly;
        consumer_noname_cert, consumer_noname_key => ConsumerNoName;
        consumer_expired_cert, consumer_expired_key => ConsumerExpired;
        rogue_ca_cert, rogue_ca_key => RogueCa;
        rogue_consumer_cert, rogue_consumer_key => RogueConsumer;
    }

    /// Why the directory does not hold a usable demo PKI, or `None` if it does.
    /// Missing files, unparsable certificates and certificates that should be valid
    /// but are not all call for a regeneration.
    fn missing_or_stale(&self) -> Result<Option<String>, CertsError> {
        for path in self.files() {
            match fs::metadata(&path) {
                Ok(_) => {}
                // NotADirectory: part of the path is a file; creating the directory
                // will then fail with a message that says so.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Ok(Some(format!("{} is missing", path.display())));
                }
                Err(cause) => return Err(CertsError::Read { path, cause }),
            }
        }
        for cert in DemoCert::ALL {
            if cert.validity() == Validity::EndedYesterday {
                continue;
            }
            let path = self.cert_path(cert);
            let pem = fs::read(&path).map_err(|cause| CertsError::Read {
                path: path.clone(),
                cause,
            })?;
            let usable = match x509_parser::pem::parse_x509_pem(&pem) {
                Ok((_, pem)) => match pem.parse_x509() {
                    Ok(x509) => x509.validity().is_valid(),
                    Err(_) => false,
                },
                Err(_) => false,
            };
            if !usable {
                return Ok(Some(format!(
                    "{} is not a currently valid certificate",
                    path.display()
                )));
            }
        }
        Ok(None)
    }
}

/// Makes sure `dir` holds a complete, currently valid demo PKI and returns it.
///
/// Generates every file (see [`generate_demo_pki`]) if any file is missing or a
/// certificate that should be valid has expired or cannot be parsed; otherwise leaves
/// the directory untouched. Safe to call concurrently from several processes.
pub fn ensure_demo_pki(dir: &Path) -> Result<DemoPki, CertsError> {
    let pki = DemoPki {
        dir: dir.to_path_buf(),
    };
    if pki.missing_or_stale()?.is_none() && crate::sdk_pki::is_complete(&pki) {
        return Ok(pki);
    }
    create_dir(dir)?;
    let _lock = GenerationLock::acquire(dir)?;
    // Another process may have generated the files while we waited for the lock.
    if let Some(reason) = pki.missing_or_stale()? {
        tracing::info!(dir = %dir.display(), %reason, "generating the demo PKI");
        write_demo_pki(&pki)?;
    }
    // The SDK organisations' certificates (sdk/), issued by the same CA.
    crate::sdk_pki::ensure(&pki, false)?;
    Ok(pki)
}

/// Generates a fresh demo PKI in `dir` (created if needed), replacing any files a
/// previous generation left there. Private keys get mode 0600 on unix.
pub fn generate_demo_pki(dir: &Path) -> Result<DemoPki, CertsError> {
    let pki = DemoPki {
        dir: dir.to_path_buf(),
    };
    create_dir(dir)?;
    let _lock = GenerationLock::acquire(dir)?;
    tracing::info!(dir = %dir.display(), "generating the demo PKI");
    write_demo_pki(&pki)?;
    crate::sdk_pki::ensure(&pki, true)?;
    Ok(pki)
}

fn create_dir(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|cause| CertsError::CreateDir {
        path: dir.to_path_buf(),
        cause,
    })
}

/// A generated key pair and its certificate.
struct Issued {
    key: KeyPair,
    cert: Certificate,
}

fn issue(
    pki: &DemoPki,
    which: DemoCert,
    today: NaiveDate,
    issuer: Option<&Issued>,
) -> Result<Issued, CertsError> {
    let path = pki.cert_path(which);
    let generate_error = |cause| CertsError::Generate {
        path: path.clone(),
        cause,
    };
    // PKCS_ECDSA_P256_SHA256, rcgen's default.
    let key = KeyPair::generate().map_err(generate_error)?;
    let params = which.params(today).map_err(generate_error)?;
    let cert = match issuer {
        None => params.self_signed(&key),
        Some(issuer) => params.signed_by(&key, &issuer.cert, &issuer.key),
    }
    .map_err(generate_error)?;
    Ok(Issued { key, cert })
}

fn write_demo_pki(pki: &DemoPki) -> Result<(), CertsError> {
    let today = Utc::now().date_naive();

    // Build everything in memory first: a failure leaves the directory as it was.
    let mut issued: Vec<(DemoCert, Issued)> = Vec::with_capacity(DemoCert::ALL.len());
    for which in DemoCert::ALL {
        let issuer = which.issuer().map(|issuer| {
            issued
                .iter()
                .find(|(cert, _)| *cert == issuer)
                .map(|(_, issued)| issued)
                .expect("DemoCert::ALL lists the CAs before the certificates they issue")
        });
        let new = issue(pki, which, today, issuer)?;
        issued.push((which, new));
    }

    // The README marks a complete generation: remove it first, write it last.
    let readme = pki.readme();
    match fs::remove_file(&readme) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(cause) => {
            return Err(CertsError::Write {
                path: readme,
                cause,
            })
        }
    }
    for (which, issued) in &issued {
        write_atomically(
            &pki.key_path(*which),
            issued.key.serialize_pem().as_bytes(),
            true,
        )?;
        write_atomically(&pki.cert_path(*which), issued.cert.pem().as_bytes(), false)?;
    }
    write_atomically(&readme, readme_text(today).as_bytes(), false)
}

/// Writes `path` through a temporary file and a rename, so that no reader ever sees a
/// half-written certificate or key. Private files are created with mode 0600 and
/// never exist with wider permissions.
pub(crate) fn write_atomically(
    path: &Path,
    contents: &[u8],
    private: bool,
) -> Result<(), CertsError> {
    let write_error = |cause| CertsError::Write {
        path: path.to_path_buf(),
        cause,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    // A leftover from an interrupted run may have other permissions; start afresh so
    // that the mode below applies.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(cause) => return Err(write_error(cause)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(&tmp).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    // The process umask can only narrow the creation mode; set it exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if private { 0o600 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(write_error)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.sync_all().map_err(write_error)?;
    drop(file);
    fs::rename(&tmp, path).map_err(write_error)
}

/// `(year, month, day)` for `rcgen::date_time_ymd`, which takes midnight UTC.
fn ymd(date: NaiveDate) -> (i32, u8, u8) {
    // Month (1..=12) and day (1..=31) of a valid `NaiveDate` always fit in a u8.
    (date.year(), date.month() as u8, date.day() as u8)
}

fn readme_text(today: NaiveDate) -> String {
    let mut text = format!(
        "vaxel demo PKI, generated {today} (UTC) by vaxel {}.\n\
         \n\
         FOR DEMOS AND TESTS ONLY. Never trust ca.pem outside a demo, never commit the\n\
         *.key files. Regenerate with `vaxel certs --out <dir> --force`.\n\
         \n\
         All keys are ECDSA P-256, all signatures ECDSA-SHA256. Each .pem holds the leaf\n\
         certificate only; ca.pem is the trust anchor. The caller identity the gateway\n\
         derives is the subject SERIALNUMBER (OID 2.5.4.5), else the CN.\n\
         Subjects all carry O={DEMO_ORGANISATION}.\n\
         \n",
        env!("CARGO_PKG_VERSION"),
    );
    for cert in DemoCert::ALL {
        let stem = cert.file_stem();
        text.push_str(&format!(
            "{stem}.pem / {stem}.key\n    {}\n",
            cert.description()
        ));
        let issuer = match cert.issuer() {
            None => "self-signed".to_owned(),
            Some(issuer) => format!("issued by {}.pem", issuer.file_stem()),
        };
        text.push_str(&format!(
            "    subject SERIALNUMBER: {}; CN: {}; {issuer}\n",
            cert.subject_serial_number().unwrap_or("(none)"),
            cert.subject_common_name().unwrap_or("(none)"),
        ));
    }
    text
}

/// Exclusive lock on a directory's generation, held while the value lives.
#[derive(Debug)]
struct GenerationLock {
    path: PathBuf,
}

impl GenerationLock {
    fn acquire(dir: &Path) -> Result<Self, CertsError> {
        let path = dir.join(LOCK_FILE);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(GenerationLock { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                        .is_some_and(|age| age > STALE_LOCK_AGE);
                    if stale {
                        tracing::warn!(lock = %path.display(), "removing a stale demo PKI lock");
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(CertsError::Locked { path });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(cause) => return Err(CertsError::Write { path, cause }),
            }
        }
    }
}

impl Drop for GenerationLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests;
