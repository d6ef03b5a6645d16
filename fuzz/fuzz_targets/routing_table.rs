//! Fuzz target for the routing-table (TAK) loader and its lookups
//! (`vaxel_routing`, format: specs/routing-table.md).
//!
//! The input is table text. It is loaded as TOML and as JSON, and with placeholder
//! values when it contains `${`. Properties checked besides "never panics":
//! * A load error names the table (its origin), as spec §11 requires.
//! * A loaded table's counts agree with what it iterates.
//! * Lookups (`route`, `authorize`) on keys taken from the table and from the input,
//!   on dates at and around the rules' bounds, never panic; they give the same answer
//!   for the keys as written, ASCII-uppercased and ASCII-lowercased (spec §2.1); and
//!   they agree with a slow reference model of spec §8 written below from the spec.
#![no_main]

mod common;

use chrono::NaiveDate;
use common::Rng;
use libfuzzer_sys::fuzz_target;
use vaxel_routing::{
    AuthzError, Route, RouteError, RoutingTable, RoutingTableError, TableFormat, Validity,
    HSA_ROOT, WILDCARD_ADDRESS,
};

/// Placeholder values for `from_str_with_vars`: the demo table's one, and a short one
/// that mutations of `${...}` can hit.
const VARS: &[(&str, &str)] = &[("DEMO_PRODUCER", "https://127.0.0.1:20443"), ("P", "x")];

/// Lookups per loaded table: enough to cover every level of a small table, few enough
/// that loaded tables do not dominate the exec rate.
const LOOKUPS: usize = 48;

fuzz_target!(|data: &[u8]| {
    // Files are checked for UTF-8 before `from_str` (load/mod.rs `load_file`); the text API
    // takes `&str`.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (format, origin) in [
        (TableFormat::Toml, "fuzz.toml"),
        (TableFormat::Json, "fuzz.json"),
    ] {
        check(
            RoutingTable::from_str(text, format, origin),
            origin,
            text,
            data,
        );
        // Without `${` substitution is the identity: the second load would only repeat
        // the first.
        if text.contains("${") {
            check(
                RoutingTable::from_str_with_vars(text, format, origin, VARS),
                origin,
                text,
                data,
            );
        }
    }
});

fn check(loaded: Result<RoutingTable, RoutingTableError>, origin: &str, text: &str, data: &[u8]) {
    let table = match loaded {
        Ok(table) => table,
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(origin),
                "error does not name the table: {message}"
            );
            return;
        }
    };
    assert_eq!(table.origin(), origin);
    let counts = table.counts();
    assert_eq!(counts.contracts, table.contracts().count());
    assert_eq!(counts.routes, table.routes().count());
    assert_eq!(counts.authorizations, table.authorizations().count());
    for contract in table.contracts() {
        for variant in case_variants(contract.namespace()) {
            let found = table.contract(&variant).map(|c| c.namespace());
            assert_eq!(found, Some(contract.namespace()), "contract({variant:?})");
        }
    }

    let keys = Keys::collect(&table, text);
    let mut rng = Rng::new(data);
    for _ in 0..LOOKUPS {
        let contract = rng.pick(&keys.contracts).as_str();
        let address = rng.pick(&keys.addresses).as_str();
        let consumer = rng.pick(&keys.consumers).as_str();
        let day = *rng.pick(&keys.days);
        check_route(&table, contract, address, day);
        check_authorize(&table, consumer, contract, address, day);
    }
}

/// The spellings a case-insensitive key must be found under.
fn case_variants(key: &str) -> [String; 3] {
    [
        key.to_owned(),
        key.to_ascii_uppercase(),
        key.to_ascii_lowercase(),
    ]
}

/// Answers compared across spellings: the keys appear in error messages as requested,
/// so they are compared ASCII-lowercased; a found rule is the same rule either way.
fn folded<T: std::fmt::Debug>(answer: &T) -> String {
    format!("{answer:?}").to_ascii_lowercase()
}

fn check_route(table: &RoutingTable, contract: &str, address: &str, day: NaiveDate) {
    let answer = table.route(contract, address, day);
    let expected = model_route(table, contract, address, day);
    match (&answer, &expected) {
        (Ok(route), ModelRoute::Found(expected)) => {
            assert!(
                route.same_destination_as(expected),
                "{route:?} vs {expected:?}"
            );
            assert!(route.contract().eq_ignore_ascii_case(contract));
            assert!(route.validity().contains(day));
        }
        (Err(RouteError::UnknownContract { .. }), ModelRoute::UnknownContract)
        | (Err(RouteError::NoRoute { .. }), ModelRoute::NoRoute)
        | (Err(RouteError::Ambiguous { .. }), ModelRoute::Ambiguous) => {}
        _ => panic!(
            "route({contract:?}, {address:?}, {day}) = {answer:?}, spec §8.1 says {expected:?}"
        ),
    }
    let want = folded(&answer);
    for (c, a) in case_variants(contract).iter().zip(case_variants(address)) {
        let got = folded(&table.route(c, &a, day));
        assert_eq!(got, want, "route({c:?}, {a:?}, {day}) depends on case");
    }
}

fn check_authorize(
    table: &RoutingTable,
    consumer: &str,
    contract: &str,
    address: &str,
    day: NaiveDate,
) {
    let answer = table.authorize(consumer, contract, address, day);
    let expected = model_authorize(table, consumer, contract, address, day);
    match (&answer, &expected) {
        (Ok(()), Ok(()))
        | (Err(AuthzError::UnknownContract { .. }), Err(ModelAuthz::UnknownContract))
        | (Err(AuthzError::NotAuthorized { .. }), Err(ModelAuthz::NotAuthorized)) => {}
        _ => panic!(
            "authorize({consumer:?}, {contract:?}, {address:?}, {day}) = {answer:?}, spec §8.2 says {expected:?}"
        ),
    }
    let want = folded(&answer);
    let variants = case_variants(consumer)
        .into_iter()
        .zip(case_variants(contract))
        .zip(case_variants(address));
    for ((k, c), a) in variants {
        let got = folded(&table.authorize(&k, &c, &a, day));
        assert_eq!(
            got, want,
            "authorize({k:?}, {c:?}, {a:?}, {day}) depends on case"
        );
    }
}

// ---------------------------------------------------------------------------------
// Reference model of spec §8, by linear scans over the table's public iterators.

#[derive(Debug)]
enum ModelRoute<'t> {
    UnknownContract,
    NoRoute,
    Ambiguous,
    Found(&'t Route),
}

/// "Same destination" of spec §8.1: same `url` and `rivta_profile`. URLs compare as
/// `http::Uri` values do (scheme and host case-insensitively, RFC 3986 §6.2.2.1), as
/// the gateway compares them.
trait SameDestination {
    fn same_destination_as(&self, other: &Route) -> bool;
}

impl SameDestination for Route {
    fn same_destination_as(&self, other: &Route) -> bool {
        self.url() == other.url() && self.rivta_profile() == other.rivta_profile()
    }
}

#[derive(Debug)]
enum ModelAuthz {
    UnknownContract,
    NotAuthorized,
}

/// Spec §8.1 levels 2: the parent of `address`, its parent, ... up to and including
/// `SE`. The loader rejects cycles (§6), so the walk ends; the bound keeps the model
/// total if it did not, and the table's answer would then disagree.
fn model_ancestors(table: &RoutingTable, address: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = address.to_owned();
    for _ in 0..=table.counts().hsa_nodes {
        let Some(parent) = table.hsa_parent(&current) else {
            break;
        };
        out.push(parent.to_owned());
        if parent.eq_ignore_ascii_case(HSA_ROOT) {
            break;
        }
        current = parent.to_owned();
    }
    out
}

fn model_route<'t>(
    table: &'t RoutingTable,
    contract: &str,
    address: &str,
    day: NaiveDate,
) -> ModelRoute<'t> {
    if table.contract(contract).is_none() {
        return ModelRoute::UnknownContract;
    }
    let mut levels = vec![address.to_owned()];
    levels.extend(model_ancestors(table, address));
    levels.push(WILDCARD_ADDRESS.to_owned());
    for level in levels {
        let mut valid = table.routes().filter(|r| {
            r.contract().eq_ignore_ascii_case(contract)
                && r.logical_address().eq_ignore_ascii_case(&level)
                && r.validity().contains(day)
        });
        let Some(first) = valid.next() else {
            continue;
        };
        if valid.all(|r| r.same_destination_as(first)) {
            return ModelRoute::Found(first);
        }
        return ModelRoute::Ambiguous;
    }
    ModelRoute::NoRoute
}

fn model_authorize(
    table: &RoutingTable,
    consumer: &str,
    contract: &str,
    address: &str,
    day: NaiveDate,
) -> Result<(), ModelAuthz> {
    if table.contract(contract).is_none() {
        return Err(ModelAuthz::UnknownContract);
    }
    let mut levels = vec![address.to_owned(), WILDCARD_ADDRESS.to_owned()];
    levels.extend(model_ancestors(table, address));
    let granted = table.authorizations().any(|a| {
        a.consumer().eq_ignore_ascii_case(consumer)
            && a.contract().eq_ignore_ascii_case(contract)
            && a.validity().contains(day)
            && levels
                .iter()
                .any(|level| a.logical_address().eq_ignore_ascii_case(level))
    });
    if granted {
        Ok(())
    } else {
        Err(ModelAuthz::NotAuthorized)
    }
}

// ---------------------------------------------------------------------------------
// Lookup keys.

/// Candidate lookup arguments: the table's own keys (so lookups hit rules), quoted
/// strings from the input (HSA ids of the tree, near-misses) and fixed edge cases.
struct Keys {
    contracts: Vec<String>,
    addresses: Vec<String>,
    consumers: Vec<String>,
    days: Vec<NaiveDate>,
}

impl Keys {
    fn collect(table: &RoutingTable, text: &str) -> Keys {
        // Strings between double quotes (TOML basic strings, JSON strings), escapes
        // ignored: good enough to pick up ids the table mentions.
        let quoted: Vec<String> = text
            .split('"')
            .skip(1)
            .step_by(2)
            .take(16)
            .map(str::to_owned)
            .collect();
        let mut contracts: Vec<String> = table
            .contracts()
            .take(6)
            .map(|c| c.namespace().to_owned())
            .collect();
        contracts.extend(quoted.iter().take(2).cloned());
        contracts.push("urn:riv:fuzz:NoSuchContractResponder:1".to_owned());

        let mut addresses: Vec<String> = table
            .routes()
            .map(|r| r.logical_address().to_owned())
            .chain(
                table
                    .authorizations()
                    .map(|a| a.logical_address().to_owned()),
            )
            .take(8)
            .collect();
        addresses.extend(quoted.iter().cloned());
        addresses.extend([WILDCARD_ADDRESS, HSA_ROOT, "", "NOT-IN-TREE"].map(str::to_owned));

        let mut consumers: Vec<String> = table
            .authorizations()
            .take(6)
            .map(|a| a.consumer().to_owned())
            .collect();
        consumers.extend(quoted.iter().take(2).cloned());
        consumers.push("SE0000000000-STRANGER".to_owned());

        // Every rule bound, and the days just outside it (bounds are inclusive, §7.2),
        // plus the extremes of the date type.
        let mut days = vec![
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        ];
        let validities: Vec<Validity> = table
            .routes()
            .map(|r| r.validity())
            .chain(table.authorizations().map(|a| a.validity()))
            .take(16)
            .collect();
        for validity in validities {
            for bound in [validity.from(), validity.to()].into_iter().flatten() {
                days.push(bound);
                days.extend(bound.pred_opt());
                days.extend(bound.succ_opt());
            }
        }
        Keys {
            contracts,
            addresses,
            consumers,
            days,
        }
    }
}
