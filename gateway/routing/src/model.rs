//! Typed values of the routing table (TAK): what a validated rule is.
//!
//! Everything here is built once by the loader (`load/mod.rs`) and trusted afterwards
//! ("parse, don't validate").

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

/// The logical address that matches any address ("default" rule).
pub const WILDCARD_ADDRESS: &str = "*";

/// The root of the HSA tree; the parent walk stops here.
pub const HSA_ROOT: &str = "SE";

/// Producer response timeout when a contract does not set `response_timeout_ms`
/// (DESIGN.md "Protocol facts": per-contract response timeout, default 29 s).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(29_000);

/// On-disk format of a routing table, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TableFormat {
    /// `*.json`
    Json,
    /// `*.toml`
    Toml,
}

impl TableFormat {
    /// The format named by the file extension (`.json` / `.toml`, any case), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("json") {
            Some(TableFormat::Json)
        } else if ext.eq_ignore_ascii_case("toml") {
            Some(TableFormat::Toml)
        } else {
            None
        }
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableFormat::Json => "JSON",
            TableFormat::Toml => "TOML",
        })
    }
}

/// RIV-TA basic profile a producer speaks (TAK `rivta_profile`).
///
/// Unknown profiles are kept (the table still loads, with a warning) so that one bad
/// rule does not take the whole table down; a request routed by such a rule faults
/// VP005 at request time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RivtaProfile {
    /// RIV-TA Basic Profile 2.0: logical address in `wsa:To`.
    Rivtabp20,
    /// RIV-TA Basic Profile 2.1: logical address in `<LogicalAddress>`.
    Rivtabp21,
    /// Anything else, as written in the table.
    Unknown(String),
}

impl RivtaProfile {
    /// Parses a profile name; known names match case-insensitively.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("RIVTABP20") {
            RivtaProfile::Rivtabp20
        } else if text.eq_ignore_ascii_case("RIVTABP21") {
            RivtaProfile::Rivtabp21
        } else {
            RivtaProfile::Unknown(text.to_owned())
        }
    }

    /// The canonical name (`RIVTABP20`, `RIVTABP21`) or the unknown text as written.
    pub fn as_str(&self) -> &str {
        match self {
            RivtaProfile::Rivtabp20 => "RIVTABP20",
            RivtaProfile::Rivtabp21 => "RIVTABP21",
            RivtaProfile::Unknown(text) => text,
        }
    }

    /// The profile as the envelope sniffer names it, to compare with the request's
    /// address header; `None` for [`RivtaProfile::Unknown`] (the gateway faults VP005).
    pub fn known(&self) -> Option<vaxel_adapter::RivProfile> {
        match self {
            RivtaProfile::Rivtabp20 => Some(vaxel_adapter::RivProfile::Rivta20),
            RivtaProfile::Rivtabp21 => Some(vaxel_adapter::RivProfile::Rivta21),
            RivtaProfile::Unknown(_) => None,
        }
    }

    /// `false` for [`RivtaProfile::Unknown`].
    pub fn is_known(&self) -> bool {
        !matches!(self, RivtaProfile::Unknown(_))
    }
}

impl fmt::Display for RivtaProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Validity period of a rule: both ends inclusive, a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Validity {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Validity {
    /// A rule without `from` and `to`.
    pub const ALWAYS: Validity = Validity {
        from: None,
        to: None,
    };

    /// `None` when `from` is after `to` (an empty period).
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<Self> {
        match (from, to) {
            (Some(f), Some(t)) if f > t => None,
            _ => Some(Validity { from, to }),
        }
    }

    /// First day the rule applies, if bounded.
    pub fn from(&self) -> Option<NaiveDate> {
        self.from
    }

    /// Last day the rule applies, if bounded.
    pub fn to(&self) -> Option<NaiveDate> {
        self.to
    }

    /// Whether the rule applies on `day` (TAK: `from` and `to` are inclusive).
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }

    /// Whether some day lies in both periods.
    pub fn overlaps(&self, other: &Validity) -> bool {
        let starts_before_other_ends = match (self.from, other.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        let other_starts_before_self_ends = match (other.from, self.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        starts_before_other_ends && other_starts_before_self_ends
    }
}

impl fmt::Display for Validity {
    /// "from 2024-01-01 to 2024-12-31", "from 2024-01-01 on", "until 2024-12-31",
    /// "always".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.to) {
            (Some(from), Some(to)) => write!(f, "from {from} to {to}"),
            (Some(from), None) => write!(f, "from {from} on"),
            (None, Some(to)) => write!(f, "until {to}"),
            (None, None) => f.write_str("always"),
        }
    }
}

/// A service contract (tjänstekontrakt) the table knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub(crate) namespace: Arc<str>,
    pub(crate) name: Option<Box<str>>,
    pub(crate) response_timeout: Duration,
    pub(crate) max_body_bytes: Option<u64>,
}

impl Contract {
    /// Namespace of the first SOAP Body child, as spelled in the table.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Optional human-readable name from the table.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// How long the gateway waits for the producer's response.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// Largest message for this contract, when smaller than the listener's limit.
    pub fn max_body_bytes(&self) -> Option<u64> {
        self.max_body_bytes
    }
}

/// A service the gateway answers itself instead of forwarding to a producer; a route
/// names one with the URL `local://<name>` (specs/routing-table.md §4). Which names
/// exist is the gateway's business (its local service registry), not the table's: the
/// table only requires a well-formed name, and a gateway loads its table with the list
/// of its services ([`crate::RoutingTableHandle::with_local_services`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalService(Box<str>);

impl LocalService {
    /// The longest service name.
    pub const MAX_LEN: usize = 64;

    /// A service name: 1–64 lower-case ASCII letters, digits and `-`, starting with a
    /// letter (it is the host of a `local://` URL).
    pub fn parse(name: &str) -> Option<LocalService> {
        let b = name.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= Self::MAX_LEN
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        ok.then(|| LocalService(name.into()))
    }

    /// The host name used in `local://<name>`.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local://{}", self.0)
    }
}

/// A routing rule (vägval): where calls for a contract and logical address go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub(crate) contract: Arc<str>,
    pub(crate) logical_address: Box<str>,
    pub(crate) url: http::Uri,
    /// `Some` when `url` is `local://<service>`: answered inside the gateway.
    pub(crate) local: Option<LocalService>,
    pub(crate) rivta_profile: RivtaProfile,
    pub(crate) response_timeout: Duration,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) validity: Validity,
}

impl Route {
    /// Producer endpoint (scheme `https` or `http`, with an authority).
    pub fn url(&self) -> &http::Uri {
        &self.url
    }

    /// The gateway's own service this rule routes to (`url = "local://..."`), if any.
    pub fn local_service(&self) -> Option<&LocalService> {
        self.local.as_ref()
    }

    /// RIV-TA profile the producer speaks; `Unknown` means the gateway faults VP005.
    pub fn rivta_profile(&self) -> &RivtaProfile {
        &self.rivta_profile
    }

    /// Producer response timeout, from the rule's contract.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// Largest message for the rule's contract, if the table limits it.
    pub fn max_body_bytes(&self) -> Option<u64> {
        self.max_body_bytes
    }

    /// Service contract namespace, as spelled in the table's `contracts`.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// Logical address of the rule as spelled in the table: the requested address, an
    /// HSA ancestor of it, or `*`.
    pub fn logical_address(&self) -> &str {
        &self.logical_address
    }

    /// Period in which the rule applies.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// Same destination: requests would go to the same place in the same way.
    pub(crate) fn same_destination(&self, other: &Route) -> bool {
        self.url == other.url && self.rivta_profile == other.rivta_profile
    }
}

/// An authorization rule (anropsbehörighet) as kept in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub(crate) consumer: Box<str>,
    pub(crate) contract: Arc<str>,
    pub(crate) logical_address: Box<str>,
    pub(crate) validity: Validity,
}

impl Authorization {
    /// HSA id of the calling system, as spelled in the table.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Service contract namespace, as spelled in the table's `contracts`.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// Logical address, an HSA id in the tree above it, or `*`.
    pub fn logical_address(&self) -> &str {
        &self.logical_address
    }

    /// Period in which the rule applies.
    pub fn validity(&self) -> Validity {
        self.validity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn validity_bounds_are_inclusive_and_missing_bounds_are_open() {
        let closed = Validity::new(Some(day("2024-01-01")), Some(day("2024-12-31"))).unwrap();
        assert!(!closed.contains(day("2023-12-31")));
        assert!(closed.contains(day("2024-01-01")));
        assert!(closed.contains(day("2024-12-31")));
        assert!(!closed.contains(day("2025-01-01")));

        let open_end = Validity::new(Some(day("2024-01-01")), None).unwrap();
        assert!(open_end.contains(day("2999-01-01")));
        assert!(!open_end.contains(day("2023-12-31")));

        let open_start = Validity::new(None, Some(day("2024-01-01"))).unwrap();
        assert!(open_start.contains(day("1900-01-01")));
        assert!(!open_start.contains(day("2024-01-02")));

        assert!(Validity::ALWAYS.contains(day("2024-06-01")));
        assert_eq!(
            Validity::new(Some(day("2024-01-02")), Some(day("2024-01-01"))),
            None
        );
        let one_day = Validity::new(Some(day("2024-01-01")), Some(day("2024-01-01"))).unwrap();
        assert!(one_day.contains(day("2024-01-01")));
    }

    #[test]
    fn validity_overlap_and_display() {
        let a = Validity::new(Some(day("2024-01-01")), Some(day("2024-06-30"))).unwrap();
        let b = Validity::new(Some(day("2024-06-30")), None).unwrap();
        let c = Validity::new(Some(day("2024-07-01")), None).unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(Validity::ALWAYS.overlaps(&c));
        assert_eq!(a.to_string(), "from 2024-01-01 to 2024-06-30");
        assert_eq!(b.to_string(), "from 2024-06-30 on");
        assert_eq!(
            Validity::new(None, Some(day("2024-01-01")))
                .unwrap()
                .to_string(),
            "until 2024-01-01"
        );
        assert_eq!(Validity::ALWAYS.to_string(), "always");
    }

    #[test]
    fn profiles_parse_case_insensitively_and_keep_unknown_text() {
        assert_eq!(RivtaProfile::parse("rivtabp21"), RivtaProfile::Rivtabp21);
        assert_eq!(RivtaProfile::parse("RIVTABP20"), RivtaProfile::Rivtabp20);
        let unknown = RivtaProfile::parse("RIVTABP30");
        assert_eq!(unknown, RivtaProfile::Unknown("RIVTABP30".to_owned()));
        assert_eq!(unknown.as_str(), "RIVTABP30");
        assert!(!unknown.is_known());
        assert_eq!(unknown.known(), None);
        assert_eq!(
            RivtaProfile::Rivtabp20.known(),
            Some(vaxel_adapter::RivProfile::Rivta20)
        );
        assert_eq!(
            RivtaProfile::Rivtabp21.known(),
            Some(vaxel_adapter::RivProfile::Rivta21)
        );
    }

    #[test]
    fn format_follows_extension() {
        assert_eq!(
            TableFormat::from_path(Path::new("a/tak.TOML")),
            Some(TableFormat::Toml)
        );
        assert_eq!(
            TableFormat::from_path(Path::new("tak.json")),
            Some(TableFormat::Json)
        );
        assert_eq!(TableFormat::from_path(Path::new("tak.yaml")), None);
        assert_eq!(TableFormat::from_path(Path::new("tak")), None);
    }
}
