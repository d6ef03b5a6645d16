//! The address book (specs/sdk.md §4): every organisation this gateway exchanges SDK
//! messages with, by participant id (`iso6523-actorid-upis::0203:habo.se`), with its
//! functional addresses, its receiving gateway's endpoint and identity, and its
//! organisation certificate (which verifies its signatures and which we encrypt for).
//!
//! Loaded from a TOML file, swapped atomically on reload (admin endpoint, SIGHUP); a
//! reload that fails keeps the previous book.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509StoreContext, X509};
use serde::{Deserialize, Serialize};

use crate::xmlsec::PeerCertificate;

/// The identifier scheme of Swedish organisation numbers in SDK (ISO 6523, `0203:`).
pub const ISO6523: &str = "iso6523-actorid-upis";

/// A participant id: scheme and value, written `scheme::value`
/// (`iso6523-actorid-upis::0203:habo.se`). A bare `0203:habo.se` means the ISO 6523
/// scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId {
    pub scheme: String,
    pub value: String,
}

impl ParticipantId {
    pub fn parse(s: &str) -> Result<ParticipantId, String> {
        let s = s.trim();
        let (scheme, value) = match s.split_once("::") {
            Some((scheme, value)) => (scheme, value),
            None => (ISO6523, s),
        };
        if scheme.is_empty() || value.is_empty() {
            return Err(
                "a participant id is `scheme::value`, e.g. `iso6523-actorid-upis::0203:habo.se`"
                    .into(),
            );
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a participant id has no spaces or control characters".into());
        }
        Ok(ParticipantId {
            scheme: scheme.to_string(),
            value: value.to_string(),
        })
    }

    /// From a message header's id (root = scheme, extension = value).
    pub fn from_ii(root: &str, extension: &str) -> ParticipantId {
        ParticipantId {
            scheme: root.trim().to_string(),
            value: extension.trim().to_string(),
        }
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.scheme, self.value)
    }
}

/// One organisation in the book.
#[derive(Debug, Clone)]
pub struct Participant {
    pub id: ParticipantId,
    pub name: String,
    /// Where its gateway receives deliveries (`https://…/sdk/v1/deliveries`).
    pub endpoint: String,
    /// Its gateway's identity in its TLS client certificate: only that gateway may
    /// deliver messages from this organisation.
    pub gateway_id: String,
    /// Functional addresses it receives at; empty means any.
    pub functional_addresses: Vec<String>,
    /// The organisation certificate file (for listing).
    pub certificate_path: PathBuf,
    pub certificate: Arc<PeerCertificate>,
    /// Subject and validity, for listing and checks.
    pub certificate_subject: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Participant {
    /// Whether its certificate is valid at `now`.
    pub fn certificate_valid_at(&self, now: SystemTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Whether it receives at `functional_address`.
    pub fn receives_at(&self, functional_address: Option<&str>) -> bool {
        match functional_address {
            None => true,
            Some(fa) => {
                self.functional_addresses.is_empty()
                    || self.functional_addresses.iter().any(|a| a == fa)
            }
        }
    }
}

/// The loaded book.
#[derive(Debug, Default)]
pub struct AddressBook {
    pub source: PathBuf,
    by_id: HashMap<ParticipantId, Arc<Participant>>,
    /// In file order, for listing.
    order: Vec<ParticipantId>,
}

/// A participant as the admin API lists it.
#[derive(Debug, Serialize)]
pub struct ParticipantView {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub gateway_id: String,
    pub functional_addresses: Vec<String>,
    pub certificate: String,
    pub certificate_subject: String,
    pub certificate_not_after: String,
    pub certificate_valid_now: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    #[serde(default)]
    participant: Vec<RawParticipant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParticipant {
    id: String,
    #[serde(default)]
    name: String,
    endpoint: String,
    gateway_id: String,
    certificate: String,
    #[serde(default)]
    functional_addresses: Vec<String>,
}

impl AddressBook {
    /// Read and check the book at `path`. Certificates must be readable and, when
    /// `trust` is given, chain to it. Errors name the file, the entry and the problem.
    pub fn load(path: &Path, trust: Option<&Path>) -> Result<AddressBook, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the address book {}: {e}", path.display()))?;
        let raw: RawBook =
            toml::from_str(&text).map_err(|e| format!("address book {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let anchors = match trust {
            Some(t) => Some(read_anchors(t)?),
            None => None,
        };
        let mut book = AddressBook {
            source: path.to_path_buf(),
            ..AddressBook::default()
        };
        for (i, p) in raw.participant.into_iter().enumerate() {
            let at = |problem: String| {
                format!(
                    "address book {}, participant[{i}] ({}): {problem}",
                    path.display(),
                    p.id
                )
            };
            let id = ParticipantId::parse(&p.id).map_err(&at)?;
            if !(p.endpoint.starts_with("https://") || p.endpoint.starts_with("http://")) {
                return Err(at(format!(
                    "endpoint `{}` is not an http(s) URL",
                    p.endpoint
                )));
            }
            if p.gateway_id.trim().is_empty() {
                return Err(at("gateway_id is empty".into()));
            }
            let cert_path = if Path::new(&p.certificate).is_absolute() {
                PathBuf::from(&p.certificate)
            } else {
                base.join(&p.certificate)
            };
            let pem = std::fs::read(&cert_path).map_err(|e| {
                at(format!(
                    "cannot read certificate {}: {e}",
                    cert_path.display()
                ))
            })?;
            let x509 = X509::from_pem(&pem).map_err(|e| {
                at(format!(
                    "certificate {} is not a PEM certificate: {e}",
                    cert_path.display()
                ))
            })?;
            if let Some(anchors) = &anchors {
                verify_chain(&x509, anchors).map_err(|e| {
                    at(format!(
                        "certificate {} is not issued by a trusted organisation CA (sdk.organisation_ca): {e}",
                        cert_path.display()
                    ))
                })?;
            }
            let certificate = PeerCertificate::from_pem(&pem)
                .map_err(|e| at(format!("certificate {}: {e}", cert_path.display())))?;
            let participant = Participant {
                name: p.name,
                endpoint: p.endpoint,
                gateway_id: p.gateway_id,
                functional_addresses: p.functional_addresses,
                certificate_path: cert_path,
                certificate: Arc::new(certificate),
                certificate_subject: subject_text(&x509),
                not_before: asn1_to_system_time(x509.not_before()),
                not_after: asn1_to_system_time(x509.not_after()),
                id: id.clone(),
            };
            if !participant.certificate_valid_at(SystemTime::now()) {
                tracing::warn!(
                    participant = %participant.id,
                    certificate = %participant.certificate_path.display(),
                    "SDK address book: this organisation's certificate is not valid now; messages to and from it are refused until it is renewed"
                );
            }
            if book
                .by_id
                .insert(id.clone(), Arc::new(participant))
                .is_some()
            {
                return Err(at("listed twice".into()));
            }
            book.order.push(id);
        }
        Ok(book)
    }

    pub fn get(&self, id: &ParticipantId) -> Option<&Arc<Participant>> {
        self.by_id.get(id)
    }

    /// The participants whose gateway has identity `gateway_id`.
    pub fn by_gateway(&self, gateway_id: &str) -> impl Iterator<Item = &Arc<Participant>> {
        let gateway_id = gateway_id.to_string();
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .filter(move |p| p.gateway_id == gateway_id)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Every participant, in file order, as the admin API shows them.
    pub fn view(&self) -> Vec<ParticipantView> {
        let now = SystemTime::now();
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .map(|p| ParticipantView {
                id: p.id.to_string(),
                name: p.name.clone(),
                endpoint: p.endpoint.clone(),
                gateway_id: p.gateway_id.clone(),
                functional_addresses: p.functional_addresses.clone(),
                certificate: p.certificate_path.display().to_string(),
                certificate_subject: p.certificate_subject.clone(),
                certificate_not_after: chrono::DateTime::<chrono::Utc>::from(p.not_after)
                    .to_rfc3339(),
                certificate_valid_now: p.certificate_valid_at(now),
            })
            .collect()
    }
}

/// The book in use, swapped whole on reload.
#[derive(Debug)]
pub struct AddressBookHandle {
    path: PathBuf,
    trust: Option<PathBuf>,
    current: ArcSwap<AddressBook>,
}

impl AddressBookHandle {
    /// Load the book; an error here stops start-up (a gateway must not start with an
    /// address book it cannot read).
    pub fn open(path: &Path, trust: Option<&Path>) -> Result<AddressBookHandle, String> {
        let book = AddressBook::load(path, trust)?;
        Ok(AddressBookHandle {
            path: path.to_path_buf(),
            trust: trust.map(Path::to_path_buf),
            current: ArcSwap::from_pointee(book),
        })
    }

    pub fn current(&self) -> Arc<AddressBook> {
        self.current.load_full()
    }

    /// Read the file again; on error the previous book stays in use. Returns the number
    /// of participants.
    pub fn reload(&self) -> Result<usize, String> {
        let book = AddressBook::load(&self.path, self.trust.as_deref())?;
        let n = book.len();
        self.current.store(Arc::new(book));
        tracing::info!(participants = n, path = %self.path.display(), "SDK address book loaded");
        Ok(n)
    }
}

fn read_anchors(path: &Path) -> Result<Vec<X509>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read sdk.organisation_ca {}: {e}", path.display()))?;
    let certs = X509::stack_from_pem(&pem)
        .map_err(|e| format!("sdk.organisation_ca {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "sdk.organisation_ca {} holds no certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn verify_chain(cert: &X509, anchors: &[X509]) -> Result<(), String> {
    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for a in anchors {
        store.add_cert(a.clone()).map_err(|e| e.to_string())?;
    }
    // Issuer only: an expired certificate stays in the book (one partner's lapse must
    // not stop the book from loading) and is refused where it is used (submit: the
    // recipient is refused; receive: a SIG receipt).
    store
        .set_flags(openssl::x509::verify::X509VerifyFlags::NO_CHECK_TIME)
        .map_err(|e| e.to_string())?;
    let store = store.build();
    let chain = Stack::new().map_err(|e| e.to_string())?;
    let mut ctx = X509StoreContext::new().map_err(|e| e.to_string())?;
    ctx.init(&store, cert, &chain, |c| {
        let ok = c.verify_cert()?;
        Ok(if ok {
            Ok(())
        } else {
            Err(c.error().error_string().to_string())
        })
    })
    .map_err(|e| e.to_string())?
}

fn subject_text(x: &X509) -> String {
    x.subject_name()
        .entries()
        .map(|e| {
            format!(
                "{}={}",
                e.object().nid().short_name().unwrap_or("?"),
                e.data().to_string().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn asn1_to_system_time(t: &openssl::asn1::Asn1TimeRef) -> SystemTime {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok();
    let diff = epoch.and_then(|e| e.diff(t).ok());
    match diff {
        Some(d) => {
            let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
            if secs >= 0 {
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64)
            } else {
                SystemTime::UNIX_EPOCH
            }
        }
        None => SystemTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_ids_parse_with_and_without_scheme() {
        let a = ParticipantId::parse("iso6523-actorid-upis::0203:habo.se").unwrap();
        assert_eq!(a.scheme, ISO6523);
        assert_eq!(a.value, "0203:habo.se");
        assert_eq!(a, ParticipantId::parse("0203:habo.se").unwrap());
        assert_eq!(a.to_string(), "iso6523-actorid-upis::0203:habo.se");
        assert_eq!(a, ParticipantId::from_ii(ISO6523, "0203:habo.se"));
        assert!(ParticipantId::parse("::x").is_err());
        assert!(ParticipantId::parse("a::").is_err());
        assert!(ParticipantId::parse("a b").is_err());
    }
}
