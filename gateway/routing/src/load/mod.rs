//! Loader: JSON/TOML text → validated [`RoutingTable`] (specs/routing-table.md).
//!
//! The text is deserialised into raw structs that mirror the file (serde reports
//! syntax and type errors with line and column), then every entry is validated here
//! with index-aware messages (`routes[3].url: ...`). All problems are collected so an
//! operator can fix a table in one round.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::key::{CiKey, CiMap, CiMapExt};
use super::model::{
    Authorization, Contract, LocalService, RivtaProfile, Route, TableFormat, Validity,
    DEFAULT_RESPONSE_TIMEOUT, HSA_ROOT, WILDCARD_ADDRESS,
};
use super::placeholder::{self, PlaceholderProblem};
use super::table::{ContractRules, RoutingTable, TableCounts};

/// Upper bound for a contract's `max_body_bytes` (1 GiB): larger values are typos.
pub const MAX_CONTRACT_BODY_BYTES: u64 = 1024 * 1024 * 1024;

/// Upper bound for `response_timeout_ms` (one hour): larger values are typos.
pub const MAX_RESPONSE_TIMEOUT_MS: u64 = 3_600_000;

/// At most this many problems are spelled out in an error's `Display`.
const PROBLEMS_SHOWN: usize = 20;

/// Why a routing table could not be loaded. Every message names the table, the entry
/// and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingTableError {
    /// The file could not be read.
    #[error("cannot read routing table {}: {source}; check that the file exists and that vaxel may read it", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file name does not say JSON or TOML.
    #[error("routing table {}: cannot tell the format from the file name; name the file *.json or *.toml", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("routing table {origin} is not UTF-8 text (invalid byte at offset {offset}); save it as UTF-8")]
    NotUtf8 {
        /// The table's file or name.
        origin: String,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A `${NAME}` placeholder has no value.
    #[error("routing table {origin}, line {line}: unknown placeholder ${{{name}}}; {}", known_placeholders(.known))]
    UnknownPlaceholder {
        /// The table's file or name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// The placeholder name.
        name: String,
        /// Names the caller provides.
        known: Vec<String>,
    },
    /// A `${` that is not a well-formed placeholder.
    #[error("routing table {origin}, line {line}: {problem}")]
    MalformedPlaceholder {
        /// The table's file or name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// JSON/TOML syntax or shape error, as reported by the parser (with line/column).
    #[error("routing table {origin} is not a valid {format} routing table: {message}")]
    Syntax {
        /// The table's file or name.
        origin: String,
        /// The format it was parsed as.
        format: TableFormat,
        /// The parser's message, including line and column.
        message: String,
    },
    /// Entries that parse but break a rule of specs/routing-table.md.
    #[error("routing table {origin} is invalid ({} problem{}): {}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, list_problems(.problems))]
    Invalid {
        /// The table's file or name.
        origin: String,
        /// Every problem found, in file order.
        problems: Vec<EntryProblem>,
    },
}

/// One invalid entry field: `entry` is a path such as `routes[3].url` (0-based index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    /// Path of the offending field, e.g. `authorizations[0].consumer`.
    pub entry: String,
    /// What is wrong and what to do.
    pub problem: String,
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.problem)
    }
}

fn list_problems(problems: &[EntryProblem]) -> String {
    let mut out = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > PROBLEMS_SHOWN {
        out.push_str(&format!("; and {} more", problems.len() - PROBLEMS_SHOWN));
    }
    out
}

fn known_placeholders(known: &[String]) -> String {
    if known.is_empty() {
        "no placeholders are defined when loading this table; replace it with the literal value"
            .to_owned()
    } else {
        format!("the defined placeholders are {}", known.join(", "))
    }
}

impl RoutingTable {
    /// Loads and validates a table file; the format follows the extension
    /// (`.json` / `.toml`). Placeholders are not available (any `${NAME}` is an error).
    pub fn load(path: impl AsRef<Path>) -> Result<RoutingTable, RoutingTableError> {
        Self::load_with_vars(path, &[])
    }

    /// [`RoutingTable::load`] with `${NAME}` placeholders substituted from `vars`.
    pub fn load_with_vars(
        path: impl AsRef<Path>,
        vars: &[(&str, &str)],
    ) -> Result<RoutingTable, RoutingTableError> {
        load_file(path.as_ref(), None, vars, None).map(|(table, _bytes)| table)
    }

    /// Parses and validates table text; `origin` names it in messages.
    pub fn from_str(
        text: &str,
        format: TableFormat,
        origin: &str,
    ) -> Result<RoutingTable, RoutingTableError> {
        Self::from_str_with_vars(text, format, origin, &[])
    }

    /// [`RoutingTable::from_str`] with `${NAME}` placeholders substituted from `vars`
    /// before parsing (specs/routing-table.md "Placeholders").
    pub fn from_str_with_vars(
        text: &str,
        format: TableFormat,
        origin: &str,
        vars: &[(&str, &str)],
    ) -> Result<RoutingTable, RoutingTableError> {
        Self::from_str_for(text, format, origin, vars, None)
    }

    /// [`RoutingTable::from_str_with_vars`] for a gateway whose own services are
    /// `local_services`: a `local://<name>` route naming another service is an error
    /// that lists them. `None` accepts every well-formed name (offline checks, tools).
    pub fn from_str_for(
        text: &str,
        format: TableFormat,
        origin: &str,
        vars: &[(&str, &str)],
        local_services: Option<&[&str]>,
    ) -> Result<RoutingTable, RoutingTableError> {
        let text = placeholder::substitute(text, vars).map_err(|problem| match problem {
            PlaceholderProblem::Unknown { name, line } => RoutingTableError::UnknownPlaceholder {
                origin: origin.to_owned(),
                line,
                name,
                known: vars.iter().map(|(n, _)| format!("${{{n}}}")).collect(),
            },
            PlaceholderProblem::Malformed { problem, line } => {
                RoutingTableError::MalformedPlaceholder {
                    origin: origin.to_owned(),
                    line,
                    problem,
                }
            }
        })?;
        let raw: RawTable = match format {
            TableFormat::Json => serde_json::from_str(&text).map_err(|e| e.to_string()),
            TableFormat::Toml => toml::from_str(&text).map_err(|e| e.to_string()),
        }
        .map_err(|message| RoutingTableError::Syntax {
            origin: origin.to_owned(),
            format,
            message: message.trim_end().to_owned(),
        })?;
        build(raw, origin, local_services)
    }
}

/// Reads and validates a file, returning the table and the exact bytes read (the
/// store writes those bytes as the last-known-good copy). `format` overrides the
/// extension.
pub(crate) fn load_file(
    path: &Path,
    format: Option<TableFormat>,
    vars: &[(&str, &str)],
    local_services: Option<&[&str]>,
) -> Result<(RoutingTable, Vec<u8>), RoutingTableError> {
    let format = format
        .or_else(|| TableFormat::from_path(path))
        .ok_or_else(|| RoutingTableError::UnknownFormat {
            path: path.to_owned(),
        })?;
    let bytes = std::fs::read(path).map_err(|source| RoutingTableError::Read {
        path: path.to_owned(),
        source,
    })?;
    let origin = path.display().to_string();
    let text = std::str::from_utf8(&bytes).map_err(|e| RoutingTableError::NotUtf8 {
        origin: origin.clone(),
        offset: e.valid_up_to(),
    })?;
    let table = RoutingTable::from_str_for(text, format, &origin, vars, local_services)?;
    Ok((table, bytes))
}

// ---------------------------------------------------------------------------------
// Raw file shape. Unknown keys are errors: a typo in a security-relevant table must
// not silently drop a rule (specs/routing-table.md "General").

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    contracts: Vec<RawContract>,
    routes: Vec<RawRoute>,
    authorizations: Vec<RawAuthorization>,
    #[serde(default)]
    hsa_tree: Vec<RawHsaNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    namespace: String,
    #[serde(default)]
    response_timeout_ms: Option<u64>,
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    contract: String,
    logical_address: String,
    rivta_profile: String,
    url: String,
    #[serde(default)]
    from: Option<RawDate>,
    #[serde(default)]
    to: Option<RawDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    consumer: String,
    contract: String,
    logical_address: String,
    #[serde(default)]
    from: Option<RawDate>,
    #[serde(default)]
    to: Option<RawDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHsaNode {
    id: String,
    parent: String,
}

/// A date as written: a string (JSON, TOML) or a TOML local date (`from = 2024-01-01`).
#[derive(Debug)]
enum RawDate {
    Text(String),
    Toml(toml::value::Datetime),
}

impl<'de> Deserialize<'de> for RawDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawDateVisitor;

        impl<'de> Visitor<'de> for RawDateVisitor {
            type Value = RawDate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date written as \"YYYY-MM-DD\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDate, E> {
                Ok(RawDate::Text(v.to_owned()))
            }

            // toml hands its date/time values to a visitor as a one-entry map.
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDate, A::Error> {
                toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawDate::Toml)
            }
        }

        deserializer.deserialize_any(RawDateVisitor)
    }
}

impl RawDate {
    fn parse(&self) -> Result<NaiveDate, String> {
        const HINT: &str = "write the date as YYYY-MM-DD, e.g. 2025-01-31";
        match self {
            RawDate::Text(text) => {
                // Exactly YYYY-MM-DD: chrono alone would also take "2025-1-5".
                let b = text.as_bytes();
                let shape_ok = b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
                if !shape_ok {
                    return Err(format!("'{text}' is not a date; {HINT}"));
                }
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| format!("'{text}' is not a calendar date; {HINT}"))
            }
            RawDate::Toml(datetime) => match (datetime.date, datetime.time, datetime.offset) {
                (Some(date), None, None) => NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
                .ok_or_else(|| format!("'{datetime}' is not a calendar date; {HINT}")),
                _ => Err(format!(
                    "'{datetime}' has a time of day; rules are valid for whole days; {HINT}"
                )),
            },
        }
    }
}

// ---------------------------------------------------------------------------------
// Validation.

#[derive(Debug, Default)]
struct Report {
    problems: Vec<EntryProblem>,
    warnings: Vec<String>,
}

impl Report {
    fn problem(&mut self, entry: String, problem: String) {
        self.problems.push(EntryProblem { entry, problem });
    }
}

/// Checks a key (logical address, consumer, HSA id): non-empty and no surrounding
/// whitespace, so that what the operator sees is what is matched.
fn check_key<'a>(value: &'a str, what: &str) -> Result<&'a str, String> {
    if value.is_empty() {
        return Err(format!("the {what} is empty; write the {what}"));
    }
    if value.trim() != value {
        return Err(format!(
            "the {what} '{value}' has leading or trailing whitespace; remove it"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the {what} {value:?} contains control characters; remove them"
        ));
    }
    Ok(value)
}

/// The namespace of a rule's contract, if the table lists it. Rules of a contract whose
/// own entry is broken are skipped silently (that entry's problem is already reported).
fn unknown_contract(contract: &str) -> String {
    format!("service contract '{contract}' is not listed in `contracts`; add it there or correct the namespace")
}

fn known_contract<'a>(
    raw: &'a str,
    entry: &str,
    contracts: &CiMap<ContractRules>,
    broken_contracts: &CiMap<()>,
    report: &mut Report,
) -> Option<&'a str> {
    match check_namespace(raw) {
        Ok(ns) if contracts.get_ci(ns).is_some() => Some(ns),
        Ok(ns) if broken_contracts.get_ci(ns).is_some() => None,
        Ok(ns) => {
            report.problem(format!("{entry}.contract"), unknown_contract(ns));
            None
        }
        Err(problem) => {
            report.problem(format!("{entry}.contract"), problem);
            None
        }
    }
}

fn check_namespace(value: &str) -> Result<&str, String> {
    let value = check_key(value, "service contract namespace")?;
    if value.chars().any(char::is_whitespace) {
        return Err(format!(
            "the service contract namespace '{value}' contains whitespace; write the namespace of the request's first Body child, e.g. urn:riv:itintegration:monitoring:PingForConfigurationResponder:1"
        ));
    }
    Ok(value)
}

fn check_url(value: &str, local_services: Option<&[&str]>) -> Result<http::Uri, String> {
    const HINT: &str = "write it as https://host[:port]/path";
    if !value.contains("://") {
        return Err(format!("'{value}' has no scheme; {HINT}"));
    }
    let uri: http::Uri = value
        .parse()
        .map_err(|e| format!("'{value}' is not a valid URL ({e}); {HINT}"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {}
        Some(s) if s.eq_ignore_ascii_case("local") => {
            let host = uri.host().unwrap_or("");
            let path_is_empty = uri.path().is_empty() || uri.path() == "/";
            let known = match local_services {
                Some(names) => names.contains(&host),
                None => LocalService::parse(host).is_some(),
            };
            if !known || !path_is_empty || uri.port().is_some() {
                return Err(match local_services {
                    Some(names) => format!(
                        "'{value}' names no service of this gateway; local services are {}",
                        names
                            .iter()
                            .map(|n| format!("local://{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => format!(
                        "'{value}' is not local://<service> (a service name of lower-case letters, digits and '-', no port or path)"
                    ),
                });
            }
            return Ok(uri);
        }
        Some(other) => {
            return Err(format!(
                "'{value}' uses the scheme '{other}'; producers are called over https:// (or http:// on a trusted network), the gateway's own services are local://<service>"
            ))
        }
        None => return Err(format!("'{value}' has no scheme; {HINT}")),
    }
    match uri.authority() {
        None => return Err(format!("'{value}' has no host; {HINT}")),
        Some(authority) if authority.host().is_empty() => {
            return Err(format!("'{value}' has no host; {HINT}"))
        }
        // Credentials do not belong in a routing table; producers are authenticated
        // with mutual TLS.
        Some(authority) if authority.as_str().contains('@') => {
            return Err(format!(
                "'{value}' contains user credentials; remove them (producers are called with the gateway's client certificate)"
            ))
        }
        Some(_) => {}
    }
    Ok(uri)
}

fn check_validity(
    from: Option<&RawDate>,
    to: Option<&RawDate>,
    entry: &str,
    report: &mut Report,
) -> Option<Validity> {
    let mut parse = |raw: Option<&RawDate>, field: &str| -> Result<Option<NaiveDate>, ()> {
        match raw.map(RawDate::parse).transpose() {
            Ok(date) => Ok(date),
            Err(problem) => {
                report.problem(format!("{entry}.{field}"), problem);
                Err(())
            }
        }
    };
    let from = parse(from, "from");
    let to = parse(to, "to");
    let (Ok(from), Ok(to)) = (from, to) else {
        return None;
    };
    let validity = Validity::new(from, to);
    if validity.is_none() {
        if let (Some(f), Some(t)) = (from, to) {
            report.problem(
                format!("{entry}.to"),
                format!("'to' ({t}) is before 'from' ({f}), so the rule would never apply; correct or swap the dates"),
            );
        }
    }
    validity
}

fn build(
    raw: RawTable,
    origin: &str,
    local_services: Option<&[&str]>,
) -> Result<RoutingTable, RoutingTableError> {
    let mut report = Report::default();
    let mut contracts: CiMap<ContractRules> = CiMap::new();
    let mut contract_first_index: CiMap<usize> = CiMap::new();
    // Contracts whose entry was invalid: rules naming them are not reported again as
    // "unknown contract".
    let mut broken_contracts: CiMap<()> = CiMap::new();

    for (i, raw_contract) in raw.contracts.iter().enumerate() {
        let entry = format!("contracts[{i}]");
        let namespace = match check_namespace(&raw_contract.namespace) {
            Ok(ns) => ns,
            Err(problem) => {
                report.problem(format!("{entry}.namespace"), problem);
                continue;
            }
        };
        let response_timeout = match raw_contract.response_timeout_ms {
            None => DEFAULT_RESPONSE_TIMEOUT,
            Some(ms) if (1..=MAX_RESPONSE_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => {
                report.problem(
                    format!("{entry}.response_timeout_ms"),
                    format!("{ms} is out of range; give the producer response timeout in milliseconds between 1 and {MAX_RESPONSE_TIMEOUT_MS}, or leave it out for the default 29000"),
                );
                broken_contracts.insert(CiKey::new(namespace), ());
                continue;
            }
        };
        let max_body_bytes = match raw_contract.max_body_bytes {
            None => None,
            Some(n) if (1024..=MAX_CONTRACT_BODY_BYTES).contains(&n) => Some(n),
            Some(n) => {
                report.problem(
                    format!("{entry}.max_body_bytes"),
                    format!("{n} is out of range; give the largest message for this contract in bytes between 1024 and {MAX_CONTRACT_BODY_BYTES}, or leave it out for the listener's limit"),
                );
                broken_contracts.insert(CiKey::new(namespace), ());
                continue;
            }
        };
        let contract = Contract {
            namespace: Arc::from(namespace),
            name: raw_contract.name.as_deref().map(Box::from),
            response_timeout,
            max_body_bytes,
        };
        if let Some(existing) = contracts.get_ci(namespace) {
            // Duplicate-but-identical entries are harmless (spec "Duplicates").
            if existing.contract.response_timeout != contract.response_timeout
                || existing.contract.max_body_bytes != contract.max_body_bytes
                || existing.contract.name != contract.name
            {
                let first = contract_first_index.get_ci(namespace).copied().unwrap_or(0);
                report.problem(
                    format!("{entry}.namespace"),
                    format!("'{namespace}' is already listed as contracts[{first}] with a different name or response_timeout_ms; keep one entry per contract"),
                );
            }
            continue;
        }
        contract_first_index.insert(CiKey::new(namespace), i);
        contracts.insert(
            CiKey::new(namespace),
            ContractRules {
                contract,
                routes: CiMap::new(),
                authorizations: CiMap::new(),
            },
        );
    }

    let mut route_count = 0;
    for (i, raw_route) in raw.routes.iter().enumerate() {
        let entry = format!("routes[{i}]");
        let contract = known_contract(
            &raw_route.contract,
            &entry,
            &contracts,
            &broken_contracts,
            &mut report,
        );
        let address = check_key(&raw_route.logical_address, "logical address")
            .map_err(|p| report.problem(format!("{entry}.logical_address"), p))
            .ok();
        let url = check_url(&raw_route.url, local_services)
            .map_err(|p| report.problem(format!("{entry}.url"), p))
            .ok();
        let validity = check_validity(
            raw_route.from.as_ref(),
            raw_route.to.as_ref(),
            &entry,
            &mut report,
        );
        let profile = RivtaProfile::parse(&raw_route.rivta_profile);
        let (Some(contract), Some(address), Some(url), Some(validity)) =
            (contract, address, url, validity)
        else {
            continue;
        };
        if !profile.is_known() {
            report.warnings.push(format!(
                "{entry}.rivta_profile: unknown RIV-TA profile '{profile}'; requests routed by this rule will fault VP005; use RIVTABP20 or RIVTABP21"
            ));
        }
        let Some(rules) = contracts.get_mut_ci(contract) else {
            continue;
        };
        let local = url
            .scheme_str()
            .filter(|s| s.eq_ignore_ascii_case("local"))
            .and_then(|_| url.host())
            .and_then(LocalService::parse);
        let route = Route {
            contract: Arc::clone(&rules.contract.namespace),
            logical_address: Box::from(address),
            url,
            local,
            rivta_profile: profile,
            response_timeout: rules.contract.response_timeout,
            max_body_bytes: rules.contract.max_body_bytes,
            validity,
        };
        let same_address = rules.routes.entry(CiKey::new(address)).or_default();
        if !same_address
            .iter()
            .any(|r| r.same_destination(&route) && r.validity == route.validity)
        {
            same_address.push(route);
            route_count += 1;
        }
    }

    let mut authorization_count = 0;
    for (i, raw_authz) in raw.authorizations.iter().enumerate() {
        let entry = format!("authorizations[{i}]");
        let consumer = match check_key(&raw_authz.consumer, "consumer HSA id") {
            // A wildcard consumer would let every certificate holder call the contract.
            Ok(WILDCARD_ADDRESS) => {
                report.problem(
                    format!("{entry}.consumer"),
                    "'*' is not allowed for consumers; name the calling system's HSA id (its certificate SERIALNUMBER or CN)".to_owned(),
                );
                None
            }
            Ok(consumer) => Some(consumer),
            Err(problem) => {
                report.problem(format!("{entry}.consumer"), problem);
                None
            }
        };
        let contract = known_contract(
            &raw_authz.contract,
            &entry,
            &contracts,
            &broken_contracts,
            &mut report,
        );
        let address = check_key(&raw_authz.logical_address, "logical address")
            .map_err(|p| report.problem(format!("{entry}.logical_address"), p))
            .ok();
        let validity = check_validity(
            raw_authz.from.as_ref(),
            raw_authz.to.as_ref(),
            &entry,
            &mut report,
        );
        let (Some(consumer), Some(contract), Some(address), Some(validity)) =
            (consumer, contract, address, validity)
        else {
            continue;
        };
        let Some(rules) = contracts.get_mut_ci(contract) else {
            continue;
        };
        let authorization = Authorization {
            consumer: Box::from(consumer),
            contract: Arc::clone(&rules.contract.namespace),
            logical_address: Box::from(address),
            validity,
        };
        let same_address = rules
            .authorizations
            .entry(CiKey::new(consumer))
            .or_default()
            .entry(CiKey::new(address))
            .or_default();
        if !same_address.iter().any(|a| a.validity == validity) {
            same_address.push(authorization);
            authorization_count += 1;
        }
    }

    let hsa_parents = build_hsa_tree(&raw.hsa_tree, &mut report);

    // Overlapping routes to different producers are legal in the file but every
    // request on a day both apply faults VP006: tell the operator at load time.
    for rules in contracts.values() {
        for routes in rules.routes.values() {
            for (i, a) in routes.iter().enumerate() {
                for b in &routes[i + 1..] {
                    if !a.same_destination(b) && a.validity.overlaps(&b.validity) {
                        report.warnings.push(format!(
                            "contract {}, logical address {}: routes to {} ({}, {}) and {} ({}, {}) overlap; requests on days both apply fault VP006 (ambiguous route)",
                            a.contract, a.logical_address, a.url, a.rivta_profile, a.validity, b.url, b.rivta_profile, b.validity
                        ));
                    }
                }
            }
        }
    }

    if !report.problems.is_empty() {
        return Err(RoutingTableError::Invalid {
            origin: origin.to_owned(),
            problems: report.problems,
        });
    }
    for warning in &report.warnings {
        tracing::warn!(routing_table = origin, "{warning}");
    }
    let counts = TableCounts {
        contracts: contracts.len(),
        routes: route_count,
        authorizations: authorization_count,
        hsa_nodes: hsa_parents.len(),
    };
    let consumers = super::table::consumer_index(&contracts);
    Ok(RoutingTable {
        origin: Box::from(origin),
        contracts,
        hsa_parents,
        consumers,
        counts,
        warnings: report.warnings,
    })
}

/// Validates `hsa_tree`: one parent per id, every parent is `SE` or a listed id, and
/// every chain reaches `SE` (no cycles), so the parent walk always terminates.
fn build_hsa_tree(nodes: &[RawHsaNode], report: &mut Report) -> CiMap<Box<str>> {
    let problems_before = report.problems.len();
    let mut parents: CiMap<Box<str>> = CiMap::new();
    let mut first_index: CiMap<usize> = CiMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let entry = format!("hsa_tree[{i}]");
        let id = check_key(&node.id, "HSA id")
            .map_err(|p| report.problem(format!("{entry}.id"), p))
            .ok();
        let parent = check_key(&node.parent, "parent HSA id")
            .map_err(|p| report.problem(format!("{entry}.parent"), p))
            .ok();
        let (Some(id), Some(parent)) = (id, parent) else {
            continue;
        };
        if id.eq_ignore_ascii_case(HSA_ROOT) {
            report.problem(
                format!("{entry}.id"),
                format!("'{id}' is the root of the HSA tree and has no parent; remove this entry"),
            );
            continue;
        }
        if id.eq_ignore_ascii_case(parent) {
            report.problem(
                format!("{entry}.parent"),
                format!("'{id}' cannot be its own parent; name the unit or organisation above it, or 'SE'"),
            );
            continue;
        }
        if let Some(existing) = parents.get_ci(id) {
            if !existing.eq_ignore_ascii_case(parent) {
                let first = first_index.get_ci(id).copied().unwrap_or(0);
                report.problem(
                    format!("{entry}.parent"),
                    format!("'{id}' already has the parent '{existing}' (hsa_tree[{first}]); an HSA id has exactly one parent"),
                );
            }
            continue;
        }
        first_index.insert(CiKey::new(id), i);
        parents.insert(CiKey::new(id), Box::from(parent));
    }

    for (i, node) in nodes.iter().enumerate() {
        let parent = node.parent.as_str();
        if parents
            .get_ci(&node.id)
            .is_some_and(|p| p.eq_ignore_ascii_case(parent))
            && !parent.eq_ignore_ascii_case(HSA_ROOT)
            && parents.get_ci(parent).is_none()
        {
            report.problem(
                format!("hsa_tree[{i}].parent"),
                format!("'{parent}' is neither the root 'SE' nor an id listed in hsa_tree; add an entry for it so the parent walk can reach 'SE'"),
            );
        }
    }

    if report.problems.len() == problems_before {
        // Every parent is SE or a listed id, so a chain either reaches SE or loops.
        // Ids already known to reach SE end a walk early, and the ids of the walk in
        // progress are kept in a set: linear in the size of the tree, however deep.
        let mut reaches_root: CiMap<()> = CiMap::new();
        'nodes: for (i, node) in nodes.iter().enumerate() {
            let mut chain: Vec<&str> = vec![node.id.as_str()];
            let mut in_chain: CiMap<()> = CiMap::new();
            in_chain.insert(CiKey::new(node.id.as_str()), ());
            let mut current = node.id.as_str();
            while let Some(parent) = parents.get_ci(current) {
                if parent.eq_ignore_ascii_case(HSA_ROOT) || reaches_root.get_ci(parent).is_some() {
                    for id in chain {
                        reaches_root.insert(CiKey::new(id), ());
                    }
                    continue 'nodes;
                }
                let looped = in_chain.get_ci(parent).is_some();
                chain.push(parent);
                if looped {
                    report.problem(
                        format!("hsa_tree[{i}].parent"),
                        format!(
                            "the parent chain {} never reaches 'SE'; break the cycle",
                            chain.join(" → ")
                        ),
                    );
                    break 'nodes;
                }
                in_chain.insert(CiKey::new(parent), ());
                current = parent;
            }
        }
    }
    parents
}

/// Shared by tests in this module tree: a compact TOML table.
#[cfg(test)]
pub(crate) fn parse_toml(text: &str) -> Result<RoutingTable, RoutingTableError> {
    RoutingTable::from_str(text, TableFormat::Toml, "test.toml")
}

#[cfg(test)]
mod tests;
