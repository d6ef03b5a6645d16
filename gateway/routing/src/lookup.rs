//! Hot-path lookups: routing (vägval) and authorization (anropsbehörighet).
//!
//! Every step is a case-insensitive hash lookup that does not allocate; only the
//! error paths build strings. The typed outcomes become the gateway's [`Fault`] values
//! through `From` (the fault keeps the error as its cause); the model crate writes the
//! SOAP fault.

use std::iter;

use chrono::NaiveDate;

use super::key::CiMapExt;
use super::model::{Authorization, Route, Validity, WILDCARD_ADDRESS};
use super::table::RoutingTable;
use vaxel_model::{Cause, Fault};

/// A rule that matched the contract and address but not the date; named in errors so
/// that an operator sees "it exists, but not today".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InactiveRule {
    /// Logical address of the rule (the requested one, an HSA ancestor, or `*`).
    pub logical_address: String,
    /// Its validity period.
    pub validity: Validity,
}

/// Why no producer was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The namespace is not a contract of the table (VP004 "unknown service contract").
    #[error("unknown service contract {contract}: the routing table does not list it; check the namespace of the request's first Body child or ask the platform operator to add the contract")]
    UnknownContract {
        /// The namespace as requested.
        contract: String,
    },
    /// No rule valid today at the address, its HSA ancestors or `*` (VP004).
    #[error("no valid route for service contract {contract} and logical address {logical_address} on {date}; {}", inactive_hint("a route", .inactive.as_ref(), "no routing rule (vägval) matches the address, its HSA parents or '*'; ask the platform operator to add one"))]
    NoRoute {
        /// The namespace as requested.
        contract: String,
        /// The logical address as requested.
        logical_address: String,
        /// The day looked up.
        date: NaiveDate,
        /// The most specific rule that exists but is not valid on `date`.
        inactive: Option<InactiveRule>,
    },
    /// The first level with valid rules names more than one producer (VP006).
    #[error("ambiguous route for service contract {contract} and logical address {logical_address} on {date}: the rules for logical address {matched_address} name {} different producers ({}); the platform operator must keep only one", .producers.len(), .producers.join(", "))]
    Ambiguous {
        /// The namespace as requested.
        contract: String,
        /// The logical address as requested.
        logical_address: String,
        /// The level where the conflicting rules are (address, ancestor or `*`).
        matched_address: String,
        /// The day looked up.
        date: NaiveDate,
        /// Distinct destinations, `url (profile)`, sorted.
        producers: Vec<String>,
    },
}

/// Why a consumer may not call a contract for an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzError {
    /// The namespace is not a contract of the table (VP004 "unknown service contract").
    #[error("unknown service contract {contract}: the routing table does not list it; check the namespace of the request's first Body child or ask the platform operator to add the contract")]
    UnknownContract {
        /// The namespace as requested.
        contract: String,
    },
    /// No authorization valid today (VP007).
    #[error("consumer {consumer} is not authorized to call service contract {contract} for logical address {logical_address} on {date}; {}", inactive_hint("an authorization", .inactive.as_ref(), "ask the platform operator for an authorization (anropsbehörighet)"))]
    NotAuthorized {
        /// The consumer HSA id as given.
        consumer: String,
        /// The namespace as requested.
        contract: String,
        /// The logical address as requested.
        logical_address: String,
        /// The day looked up.
        date: NaiveDate,
        /// The most specific rule that exists but is not valid on `date`.
        inactive: Option<InactiveRule>,
    },
}

/// VP004 for an unknown contract or no route, VP006 for an ambiguous route.
impl From<RouteError> for Fault {
    fn from(error: RouteError) -> Fault {
        match error {
            RouteError::Ambiguous { .. } => Fault::AmbiguousRoute(Cause::new(error)),
            RouteError::UnknownContract { .. } | RouteError::NoRoute { .. } => {
                Fault::NoRoute(Cause::new(error))
            }
        }
    }
}

/// VP004 for an unknown contract, VP007 for a consumer without authorization.
impl From<AuthzError> for Fault {
    fn from(error: AuthzError) -> Fault {
        match error {
            AuthzError::UnknownContract { .. } => Fault::NoRoute(Cause::new(error)),
            AuthzError::NotAuthorized { .. } => Fault::NotAuthorized(Cause::new(error)),
        }
    }
}

fn inactive_hint(kind: &str, inactive: Option<&InactiveRule>, otherwise: &str) -> String {
    match inactive {
        Some(rule) => format!(
            "{kind} exists (logical address {}) but is valid only {}",
            rule.logical_address, rule.validity
        ),
        None => otherwise.to_owned(),
    }
}

impl RoutingTable {
    /// Finds the producer for `contract` and `logical_address` on `today`.
    ///
    /// Vägval order (DESIGN.md "Protocol facts"): exact logical address → HSA parent
    /// walk up to `SE` → default `*`. Only rules valid on `today` count; the first
    /// level with a valid rule decides, and it is an error if that level names more
    /// than one destination (URL + profile).
    pub fn route(
        &self,
        contract: &str,
        logical_address: &str,
        today: NaiveDate,
    ) -> Result<&Route, RouteError> {
        let rules = self
            .contracts
            .get_ci(contract)
            .ok_or_else(|| RouteError::UnknownContract {
                contract: contract.to_owned(),
            })?;
        let mut inactive: Option<&Route> = None;
        // vägval: exact → HSA parent walk → "*"
        let levels = iter::once(logical_address)
            .chain(self.hsa_ancestors(logical_address))
            .chain(iter::once(WILDCARD_ADDRESS));
        for level in levels {
            let Some(routes) = rules.routes.get_ci(level) else {
                continue;
            };
            let mut chosen: Option<&Route> = None;
            let mut ambiguous = false;
            for route in routes {
                if !route.validity.contains(today) {
                    inactive.get_or_insert(route);
                } else if let Some(first) = chosen {
                    ambiguous |= !first.same_destination(route);
                } else {
                    chosen = Some(route);
                }
            }
            if ambiguous {
                let mut producers: Vec<String> = routes
                    .iter()
                    .filter(|r| r.validity.contains(today))
                    .map(|r| format!("{} ({})", r.url, r.rivta_profile))
                    .collect();
                producers.sort();
                producers.dedup();
                return Err(RouteError::Ambiguous {
                    contract: contract.to_owned(),
                    logical_address: logical_address.to_owned(),
                    matched_address: level.to_owned(),
                    date: today,
                    producers,
                });
            }
            if let Some(route) = chosen {
                return Ok(route);
            }
        }
        Err(RouteError::NoRoute {
            contract: contract.to_owned(),
            logical_address: logical_address.to_owned(),
            date: today,
            inactive: inactive.map(|r| InactiveRule {
                logical_address: r.logical_address.to_string(),
                validity: r.validity,
            }),
        })
    }

    /// Checks that `consumer` may call `contract` for `logical_address` on `today`.
    ///
    /// Anropsbehörighet order (DESIGN.md "Protocol facts"): exact logical address →
    /// `*` → HSA parent walk up to `SE`. Any rule valid on `today` grants access.
    pub fn authorize(
        &self,
        consumer: &str,
        contract: &str,
        logical_address: &str,
        today: NaiveDate,
    ) -> Result<(), AuthzError> {
        let rules = self
            .contracts
            .get_ci(contract)
            .ok_or_else(|| AuthzError::UnknownContract {
                contract: contract.to_owned(),
            })?;
        let mut inactive: Option<&Authorization> = None;
        if let Some(by_address) = rules.authorizations.get_ci(consumer) {
            // anropsbehörighet: exact → "*" → HSA parent walk
            let levels = iter::once(logical_address)
                .chain(iter::once(WILDCARD_ADDRESS))
                .chain(self.hsa_ancestors(logical_address));
            for level in levels {
                for authorization in by_address.get_ci(level).into_iter().flatten() {
                    if authorization.validity.contains(today) {
                        return Ok(());
                    }
                    inactive.get_or_insert(authorization);
                }
            }
        }
        Err(AuthzError::NotAuthorized {
            consumer: consumer.to_owned(),
            contract: contract.to_owned(),
            logical_address: logical_address.to_owned(),
            date: today,
            inactive: inactive.map(|a| InactiveRule {
                logical_address: a.logical_address.to_string(),
                validity: a.validity,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::parse_toml;
    use crate::model::RivtaProfile;

    const C: &str = "urn:riv:test:GetThingResponder:1";

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// A rule: logical address, URL (or consumer), from, to.
    type Rule<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

    fn dates(from: Option<&str>, to: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(from) = from {
            out.push_str(&format!("from = \"{from}\"\n"));
        }
        if let Some(to) = to {
            out.push_str(&format!("to = \"{to}\"\n"));
        }
        out
    }

    /// HSA tree: SE ← REGION ← PROVIDER ← UNIT ← SUBUNIT.
    fn table(routes: &[Rule<'_>], authorizations: &[Rule<'_>]) -> RoutingTable {
        let mut text = format!(
            "contracts = [{{ namespace = \"{C}\", response_timeout_ms = 3000 }}]\n\
             hsa_tree = [{{ id = \"REGION\", parent = \"SE\" }}, {{ id = \"Provider\", parent = \"REGION\" }},\n\
             {{ id = \"UNIT\", parent = \"provider\" }}, {{ id = \"SUBUNIT\", parent = \"UNIT\" }}]\n"
        );
        let mut tail = String::new();
        for (address, url, from, to) in routes {
            tail.push_str(&format!(
                "[[routes]]\ncontract = \"{C}\"\nlogical_address = \"{address}\"\nrivta_profile = \"RIVTABP21\"\nurl = \"{url}\"\n{}\n",
                dates(*from, *to)
            ));
        }
        for (address, consumer, from, to) in authorizations {
            tail.push_str(&format!(
                "[[authorizations]]\ncontract = \"{C}\"\nlogical_address = \"{address}\"\nconsumer = \"{consumer}\"\n{}\n",
                dates(*from, *to)
            ));
        }
        if routes.is_empty() {
            text.push_str("routes = []\n");
        }
        if authorizations.is_empty() {
            text.push_str("authorizations = []\n");
        }
        parse_toml(&format!("{text}{tail}")).unwrap()
    }

    fn url_for(table: &RoutingTable, address: &str, today: &str) -> Result<String, RouteError> {
        table
            .route(C, address, day(today))
            .map(|r| r.url().to_string())
    }

    #[test]
    fn exact_beats_hsa_parent_beats_default() {
        let t = table(
            &[
                ("UNIT", "https://unit.example/", None, None),
                ("REGION", "https://region.example/", None, None),
                ("*", "https://default.example/", None, None),
            ],
            &[],
        );
        let today = "2025-03-01";
        assert_eq!(url_for(&t, "UNIT", today).unwrap(), "https://unit.example/");
        assert_eq!(
            url_for(&t, "SUBUNIT", today).unwrap(),
            "https://unit.example/"
        );
        assert_eq!(
            url_for(&t, "PROVIDER", today).unwrap(),
            "https://region.example/"
        );
        assert_eq!(
            url_for(&t, "REGION", today).unwrap(),
            "https://region.example/"
        );
        assert_eq!(
            url_for(&t, "ELSEWHERE", today).unwrap(),
            "https://default.example/"
        );
        assert_eq!(
            url_for(&t, "SE", today).unwrap(),
            "https://default.example/"
        );
    }

    #[test]
    fn hsa_walk_climbs_several_levels_up_to_se() {
        let t = table(&[("REGION", "https://region.example/", None, None)], &[]);
        let route = t.route(C, "SUBUNIT", day("2025-03-01")).unwrap();
        assert_eq!(route.url(), "https://region.example/");
        assert_eq!(route.logical_address(), "REGION");

        let t = table(&[("se", "https://national.example/", None, None)], &[]);
        assert_eq!(
            url_for(&t, "subunit", "2025-03-01").unwrap(),
            "https://national.example/"
        );
        // An address outside the HSA tree has no parents: only exact and "*" apply.
        assert!(matches!(
            url_for(&t, "NOT-IN-TREE", "2025-03-01"),
            Err(RouteError::NoRoute { inactive: None, .. })
        ));
    }

    #[test]
    fn validity_periods_are_inclusive_and_levels_without_valid_rules_are_skipped() {
        let t = table(
            &[
                ("UNIT", "https://old.example/", None, Some("2024-12-31")),
                ("UNIT", "https://new.example/", Some("2025-02-01"), None),
                (
                    "*",
                    "https://default.example/",
                    Some("2020-01-01"),
                    Some("2030-12-31"),
                ),
            ],
            &[],
        );
        assert_eq!(
            url_for(&t, "UNIT", "2024-12-31").unwrap(),
            "https://old.example/"
        );
        // Gap between the two UNIT rules: the default takes over.
        assert_eq!(
            url_for(&t, "UNIT", "2025-01-01").unwrap(),
            "https://default.example/"
        );
        assert_eq!(
            url_for(&t, "UNIT", "2025-01-31").unwrap(),
            "https://default.example/"
        );
        assert_eq!(
            url_for(&t, "UNIT", "2025-02-01").unwrap(),
            "https://new.example/"
        );
        assert_eq!(
            url_for(&t, "UNIT", "2999-01-01").unwrap(),
            "https://new.example/"
        );
        assert_eq!(
            url_for(&t, "OTHER", "2030-12-31").unwrap(),
            "https://default.example/"
        );
        assert!(url_for(&t, "OTHER", "2031-01-01").is_err());
    }

    #[test]
    fn no_route_says_when_a_rule_exists_outside_its_period() {
        let t = table(
            &[(
                "UNIT",
                "https://unit.example/",
                Some("2025-01-01"),
                Some("2025-06-30"),
            )],
            &[],
        );
        let err = t.route(C, "SUBUNIT", day("2025-07-01")).unwrap_err();
        assert_eq!(
            err,
            RouteError::NoRoute {
                contract: C.to_owned(),
                logical_address: "SUBUNIT".to_owned(),
                date: day("2025-07-01"),
                inactive: Some(InactiveRule {
                    logical_address: "UNIT".to_owned(),
                    validity: Validity::new(Some(day("2025-01-01")), Some(day("2025-06-30")))
                        .unwrap(),
                }),
            }
        );
        assert_eq!(
            err.to_string(),
            "no valid route for service contract urn:riv:test:GetThingResponder:1 and logical address SUBUNIT on 2025-07-01; a route exists (logical address UNIT) but is valid only from 2025-01-01 to 2025-06-30"
        );
        let not_yet = t
            .route(C, "UNIT", day("2024-12-31"))
            .unwrap_err()
            .to_string();
        assert!(
            not_yet.ends_with("valid only from 2025-01-01 to 2025-06-30"),
            "{not_yet}"
        );

        let empty = table(&[], &[]);
        assert_eq!(
            empty.route(C, "UNIT", day("2025-01-01")).unwrap_err().to_string(),
            "no valid route for service contract urn:riv:test:GetThingResponder:1 and logical address UNIT on 2025-01-01; no routing rule (vägval) matches the address, its HSA parents or '*'; ask the platform operator to add one"
        );
    }

    #[test]
    fn two_valid_destinations_at_the_deciding_level_are_ambiguous() {
        let t = table(
            &[
                ("REGION", "https://b.example/", None, None),
                ("REGION", "https://a.example/", Some("2025-01-01"), None),
                ("REGION", "https://b.example/", Some("2025-01-01"), None),
                (
                    "REGION",
                    "https://expired.example/",
                    None,
                    Some("2024-01-01"),
                ),
                ("UNIT", "https://unit.example/", None, None),
                ("*", "https://x.example/", None, None),
                ("*", "https://y.example/", None, None),
            ],
            &[],
        );
        assert_eq!(
            t.route(C, "PROVIDER", day("2025-03-01")),
            Err(RouteError::Ambiguous {
                contract: C.to_owned(),
                logical_address: "PROVIDER".to_owned(),
                matched_address: "REGION".to_owned(),
                date: day("2025-03-01"),
                producers: vec![
                    "https://a.example/ (RIVTABP21)".to_owned(),
                    "https://b.example/ (RIVTABP21)".to_owned()
                ],
            })
        );
        let message = t
            .route(C, "PROVIDER", day("2025-03-01"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("name 2 different producers (https://a.example/ (RIVTABP21), https://b.example/ (RIVTABP21))"), "{message}");
        // Before a.example's period only b.example is valid (twice, same destination).
        assert_eq!(
            url_for(&t, "PROVIDER", "2024-06-01").unwrap(),
            "https://b.example/"
        );
        // A decided level shadows an ambiguous default.
        assert_eq!(
            url_for(&t, "SUBUNIT", "2025-03-01").unwrap(),
            "https://unit.example/"
        );
        assert!(matches!(
            url_for(&t, "OTHER", "2025-03-01"),
            Err(RouteError::Ambiguous { matched_address, .. }) if matched_address == "*"
        ));
    }

    #[test]
    fn keys_are_case_insensitive_and_spelling_is_kept() {
        let t = table(
            &[("Region", "https://region.example/", None, None)],
            &[("*", "Consumer-1", None, None)],
        );
        let route = t
            .route(&C.to_uppercase(), "subUNIT", day("2025-03-01"))
            .unwrap();
        assert_eq!(route.url(), "https://region.example/");
        assert_eq!(route.logical_address(), "Region");
        assert_eq!(route.contract(), C);
        assert_eq!(
            t.authorize("CONSUMER-1", &C.to_lowercase(), "x", day("2025-03-01")),
            Ok(())
        );
    }

    #[test]
    fn route_carries_profile_url_and_contract_timeout() {
        let t = table(
            &[("UNIT", "https://unit.example:8443/svc?x=1", None, None)],
            &[],
        );
        let route = t.route(C, "UNIT", day("2025-03-01")).unwrap();
        assert_eq!(route.rivta_profile(), &RivtaProfile::Rivtabp21);
        assert_eq!(route.response_timeout(), Duration::from_millis(3000));
        assert_eq!(route.url().scheme_str(), Some("https"));
        assert_eq!(route.url().port_u16(), Some(8443));
        assert_eq!(
            route.url().path_and_query().map(|p| p.as_str()),
            Some("/svc?x=1")
        );
    }

    #[test]
    fn errors_map_to_the_national_fault_codes() {
        let t = table(
            &[
                ("*", "https://x.example/", None, None),
                ("*", "https://y.example/", None, None),
            ],
            &[],
        );
        let today = day("2025-01-01");
        let code = |f: Fault| f.code();
        assert_eq!(
            code(t.route("urn:x", "A", today).unwrap_err().into()),
            "VP004"
        );
        assert_eq!(code(t.route(C, "A", today).unwrap_err().into()), "VP006");
        let empty = table(&[], &[]);
        assert_eq!(
            code(empty.route(C, "A", today).unwrap_err().into()),
            "VP004"
        );
        assert_eq!(
            code(
                empty
                    .authorize("X", "urn:x", "A", today)
                    .unwrap_err()
                    .into()
            ),
            "VP004"
        );
        // The fault keeps the typed error as its cause, and its text.
        let not_authorized = empty.authorize("X", C, "A", today).unwrap_err();
        let fault = Fault::from(not_authorized.clone());
        assert_eq!(fault.code(), "VP007");
        assert_eq!(fault.cause_as::<AuthzError>(), Some(&not_authorized));
        assert_eq!(fault.to_string(), not_authorized.to_string());
    }

    #[test]
    fn unknown_contract_is_its_own_error() {
        let t = table(
            &[("*", "https://d.example/", None, None)],
            &[("*", "C1", None, None)],
        );
        let other = "urn:riv:test:UnknownResponder:1";
        assert_eq!(
            t.route(other, "UNIT", day("2025-01-01")),
            Err(RouteError::UnknownContract {
                contract: other.to_owned()
            })
        );
        assert_eq!(
            t.authorize("C1", other, "UNIT", day("2025-01-01")),
            Err(AuthzError::UnknownContract {
                contract: other.to_owned()
            })
        );
    }

    #[test]
    fn authorization_exact_then_wildcard_then_hsa_walk() {
        let t = table(
            &[],
            &[
                ("UNIT", "EXACT-ONLY", None, None),
                ("*", "ANYWHERE", None, Some("2025-06-30")),
                ("REGION", "REGIONAL", Some("2025-01-01"), None),
            ],
        );
        let today = day("2025-03-01");
        assert_eq!(t.authorize("EXACT-ONLY", C, "UNIT", today), Ok(()));
        // The HSA walk goes up from the requested address: a rule for UNIT covers its
        // sub-unit, never its parent.
        assert_eq!(t.authorize("EXACT-ONLY", C, "SUBUNIT", today), Ok(()));
        assert!(t.authorize("EXACT-ONLY", C, "PROVIDER", today).is_err());
        assert!(t.authorize("EXACT-ONLY", C, "ELSEWHERE", today).is_err());
        assert_eq!(t.authorize("ANYWHERE", C, "NOT-IN-TREE", today), Ok(()));
        assert_eq!(t.authorize("REGIONAL", C, "SUBUNIT", today), Ok(()));
        assert_eq!(t.authorize("REGIONAL", C, "REGION", today), Ok(()));
        assert!(t.authorize("REGIONAL", C, "NOT-IN-TREE", today).is_err());
        // Rules are per consumer: another consumer's "*" grants nothing.
        assert!(t.authorize("STRANGER", C, "UNIT", today).is_err());
    }

    #[test]
    fn not_authorized_names_everything_and_inactive_rules() {
        let t = table(
            &[],
            &[
                ("*", "ANYWHERE", None, Some("2025-06-30")),
                ("REGION", "LATER", Some("2026-01-01"), None),
            ],
        );
        assert_eq!(
            t.authorize("ANYWHERE", C, "UNIT", day("2025-07-01")).unwrap_err().to_string(),
            "consumer ANYWHERE is not authorized to call service contract urn:riv:test:GetThingResponder:1 for logical address UNIT on 2025-07-01; an authorization exists (logical address *) but is valid only until 2025-06-30"
        );
        assert_eq!(
            t.authorize("ANYWHERE", C, "UNIT", day("2025-06-30")),
            Ok(())
        );
        assert_eq!(
            t.authorize("LATER", C, "SUBUNIT", day("2025-12-31")).unwrap_err().to_string(),
            "consumer LATER is not authorized to call service contract urn:riv:test:GetThingResponder:1 for logical address SUBUNIT on 2025-12-31; an authorization exists (logical address REGION) but is valid only from 2026-01-01 on"
        );
        assert_eq!(
            t.authorize("STRANGER", C, "UNIT", day("2025-01-01")),
            Err(AuthzError::NotAuthorized {
                consumer: "STRANGER".to_owned(),
                contract: C.to_owned(),
                logical_address: "UNIT".to_owned(),
                date: day("2025-01-01"),
                inactive: None,
            })
        );
        assert!(t
            .authorize("STRANGER", C, "UNIT", day("2025-01-01"))
            .unwrap_err()
            .to_string()
            .ends_with("; ask the platform operator for an authorization (anropsbehörighet)"));
    }

    #[test]
    fn metric_labels_are_the_tables_spelling_of_names_it_knows() {
        let t = table(
            &[("UNIT", "https://unit.example/", None, None)],
            &[("UNIT", "Consumer-A", None, None)],
        );
        assert_eq!(t.contract_label(&C.to_uppercase()).map(|a| &**a), Some(C));
        assert_eq!(
            t.consumer_label("CONSUMER-a").map(|a| &**a),
            Some("Consumer-A")
        );
        assert!(t.consumer_label("Consumer-B").is_none());
        assert!(t.contract_label("urn:riv:test:Other:1").is_none());
    }
}
