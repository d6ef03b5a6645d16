//! `[citizen]`: the citizen's own access to their care information (specs/configuration.md
//! "`[citizen]`"): the listener, the login token's issuers and claims, guardian access,
//! and the delays before new results are shown to the patient.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

use crate::config::{validate_issuers, IssuerConfig, RawIssuer};

/// Default claim with the level of assurance (tillitsnivå), `[citizen] loa_claim`.
pub const DEFAULT_LOA_CLAIM: &str = "loa";
/// Default and lowest allowed `[citizen] minimum_loa`: level 3 of the Swedish e-ID trust
/// framework (substantial in eIDAS), the level for sensitive personal data over open
/// networks.
pub const DEFAULT_MINIMUM_LOA: u8 = 3;
/// Default claim naming the child a guardian acts for, `[citizen] guardian_claim`.
pub const DEFAULT_GUARDIAN_CLAIM: &str = "guardian_of";
/// Default `[citizen] guardian_age_limit`: guardians read a child's records until the
/// child turns 13.
pub const DEFAULT_GUARDIAN_AGE_LIMIT: u8 = 13;
/// Highest `guardian_age_limit`: custody (vårdnad) ends at 18.
pub const MAX_GUARDIAN_AGE_LIMIT: u8 = 18;
/// Longest delay (`days`), about ten years; `hours` is bounded to the same time.
pub const MAX_DELAY_DAYS: u64 = 3650;

/// The information sets a delay may name: every adapter's descriptor name
/// (`vaxel_adapters::all()`, the same list consent scopes are checked against). A delay
/// for another name is refused at start-up, so a misspelt set never silently shows
/// results early.
pub fn information_sets() -> impl Iterator<Item = &'static str> {
    vaxel_adapters::all()
        .iter()
        .map(|set| set.descriptor().name)
}

/// Which care givers' records a delay applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DelayCareGiver {
    /// `"*"`: every care giver without an entry of its own.
    Any,
    /// One care giver (HSA id, compared ASCII case-insensitively); wins over `Any`.
    Only(String),
}

/// `[[citizen.delays]]`: records of `information_set` from `care_giver` are shown to the
/// patient `delay` after the record's time (e.g. a result the clinician should explain
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDelay {
    /// An information set name from [`information_sets`], as spelt there.
    pub information_set: String,
    pub care_giver: DelayCareGiver,
    /// Zero is allowed: "no delay" for one care giver while `"*"` has one.
    pub delay: Duration,
}

/// `[citizen]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenConfig {
    /// `false` (the default): no citizen API; the rest is still validated.
    pub enabled: bool,
    /// The listener for the citizen web page and API (TLS server authentication only).
    pub listen: Option<SocketAddr>,
    /// The consumer (HSA id) the routing table authorises for the sources when the
    /// citizen listener asks them (on the service port the calling system is the
    /// consumer). Required with `listen`.
    pub consumer_id: Option<String>,
    /// Trusted issuers of the citizen's login token (same shape as `[[consent.issuers]]`).
    pub issuers: Vec<IssuerConfig>,
    /// The claim holding the level of assurance.
    pub loa_claim: String,
    /// Lowest level of assurance accepted (3 or 4).
    pub minimum_loa: u8,
    /// The claim naming ONE child the citizen acts for as guardian.
    pub guardian_claim: String,
    /// A guardian may act for a child younger than this many years; 0: guardian access off.
    pub guardian_age_limit: u8,
    pub delays: Vec<ReleaseDelay>,
}

impl Default for CitizenConfig {
    fn default() -> Self {
        CitizenConfig {
            enabled: false,
            listen: None,
            consumer_id: None,
            issuers: Vec::new(),
            loa_claim: DEFAULT_LOA_CLAIM.to_string(),
            minimum_loa: DEFAULT_MINIMUM_LOA,
            guardian_claim: DEFAULT_GUARDIAN_CLAIM.to_string(),
            guardian_age_limit: DEFAULT_GUARDIAN_AGE_LIMIT,
            delays: Vec::new(),
        }
    }
}

/// `[citizen]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCitizenConfig {
    enabled: Option<bool>,
    listen: Option<String>,
    consumer_id: Option<String>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    loa_claim: Option<String>,
    minimum_loa: Option<i64>,
    guardian_claim: Option<String>,
    guardian_age_limit: Option<i64>,
    #[serde(default)]
    delays: Vec<RawDelay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelay {
    information_set: String,
    care_giver: String,
    days: Option<i64>,
    hours: Option<i64>,
}

/// Claims a configured claim name must not be: they already mean something else.
const RESERVED_CLAIMS: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

impl RawCitizenConfig {
    /// Validate in `s` (`citizen`).
    pub fn validate(self, s: &Section<'_>) -> Result<CitizenConfig, ConfigError> {
        let d = CitizenConfig::default();
        let listen = self
            .listen
            .map(|l| s.socket_addr("listen", &l))
            .transpose()?;
        let consumer_id = self
            .consumer_id
            .map(|c| {
                s.hsa_id(
                    "consumer_id",
                    &c,
                    "the HSA id of the citizen service as a consumer",
                )
                .map(|id| id.as_str().to_string())
            })
            .transpose()?;
        s.check(
            "consumer_id",
            listen.is_none() || consumer_id.is_some(),
            "the citizen listener asks sources as a consumer the routing table authorises: name it (e.g. consumer_id = \"SE0000000000-CITIZEN\")",
        )?;
        let issuers = validate_issuers(self.issuers, s)?;
        let enabled = self.enabled.unwrap_or(false);
        s.check(
            "issuers",
            !enabled || !issuers.is_empty(),
            "the citizen service is enabled but no [[citizen.issuers]] is configured: no citizen could ever log in",
        )?;

        let claim = |key: &str, v: Option<String>, default: &str| -> Result<String, ConfigError> {
            let v = v.unwrap_or_else(|| default.to_string());
            s.check(key, !v.trim().is_empty(), "must name a claim")?;
            s.check(
                key,
                !RESERVED_CLAIMS.contains(&v.as_str()),
                &format!("`{v}` is a registered JWT claim with another meaning: name the issuer's own claim"),
            )?;
            Ok(v)
        };
        let loa_claim = claim("loa_claim", self.loa_claim, DEFAULT_LOA_CLAIM)?;
        let guardian_claim = claim(
            "guardian_claim",
            self.guardian_claim,
            DEFAULT_GUARDIAN_CLAIM,
        )?;
        s.check(
            "guardian_claim",
            guardian_claim != loa_claim,
            "must differ from loa_claim",
        )?;
        let minimum_loa = match self.minimum_loa {
            None => d.minimum_loa,
            Some(n @ 3..=4) => n as u8,
            Some(_) => {
                return Err(s.invalid(
                    "minimum_loa",
                    "must be 3 or 4: health records are sensitive personal data, which over an open network need an e-identification of at least level 3 (tillitsnivå 3, eIDAS substantial)",
                ))
            }
        };
        let guardian_age_limit = match self.guardian_age_limit {
            None => d.guardian_age_limit,
            Some(n) if (0..=i64::from(MAX_GUARDIAN_AGE_LIMIT)).contains(&n) => n as u8,
            Some(_) => {
                return Err(s.invalid(
                    "guardian_age_limit",
                    &format!("must be 0 (guardian access off) to {MAX_GUARDIAN_AGE_LIMIT} years"),
                ))
            }
        };

        let mut delays: Vec<ReleaseDelay> = Vec::new();
        for (i, r) in self.delays.into_iter().enumerate() {
            let key = |k: &str| format!("delays[{i}].{k}");
            let set = information_sets()
                .find(|n| n.eq_ignore_ascii_case(r.information_set.trim()))
                .ok_or_else(|| {
                    s.invalid(
                        &key("information_set"),
                        &format!(
                            "`{}` is not an information set; use one of {}",
                            r.information_set,
                            information_sets().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
            let care_giver = match r.care_giver.trim() {
                "*" => DelayCareGiver::Any,
                cg => DelayCareGiver::Only(
                    s.hsa_id(&key("care_giver"), cg, "a care giver's HSA id or \"*\"")?
                        .as_str()
                        .to_string(),
                ),
            };
            let delay = match (r.days, r.hours) {
                (Some(d), None) if (0..=MAX_DELAY_DAYS as i64).contains(&d) => {
                    Duration::from_secs(d as u64 * 86_400)
                }
                (None, Some(h)) if (0..=MAX_DELAY_DAYS as i64 * 24).contains(&h) => {
                    Duration::from_secs(h as u64 * 3_600)
                }
                (Some(_), Some(_)) | (None, None) => {
                    return Err(s.invalid(
                        &key("days"),
                        "give the delay as either `days` or `hours` (one of them)",
                    ))
                }
                (Some(_), None) => {
                    return Err(s.invalid(&key("days"), &format!("must be 0 to {MAX_DELAY_DAYS}")))
                }
                (None, Some(_)) => {
                    return Err(s.invalid(
                        &key("hours"),
                        &format!("must be 0 to {}", MAX_DELAY_DAYS * 24),
                    ))
                }
            };
            let same = |o: &ReleaseDelay| {
                o.information_set == *set
                    && match (&o.care_giver, &care_giver) {
                        (DelayCareGiver::Any, DelayCareGiver::Any) => true,
                        (DelayCareGiver::Only(a), DelayCareGiver::Only(b)) => {
                            a.eq_ignore_ascii_case(b)
                        }
                        _ => false,
                    }
            };
            s.check(
                &key("care_giver"),
                !delays.iter().any(same),
                "this information set and care giver already have a delay: keep one entry",
            )?;
            delays.push(ReleaseDelay {
                information_set: set.to_string(),
                care_giver,
                delay,
            });
        }

        Ok(CitizenConfig {
            enabled,
            listen,
            consumer_id,
            issuers,
            loa_claim,
            minimum_loa,
            guardian_claim,
            guardian_age_limit,
            delays,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// Validate `[citizen]` given as JSON (serde reads it as it reads the TOML table).
    fn parse(section: Value) -> Result<CitizenConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("idp.pem"), "not read by validation").unwrap();
        let file = dir.path().join("vaxel.toml");
        let raw: RawCitizenConfig = serde_json::from_value(section).map_err(|e| e.to_string())?;
        raw.validate(&Section::root(&file).nested("citizen"))
            .map_err(|e| e.to_string())
    }

    fn issuer() -> Value {
        json!({
            "issuer": "https://idp.citizen.example",
            "audience": ["vaxel-citizen"],
            "algorithms": ["ES256"],
            "public_key_pem": "idp.pem",
        })
    }

    fn delay(set: &str, care_giver: &str, days: Value) -> Value {
        json!({"information_set": set, "care_giver": care_giver, "days": days})
    }

    #[test]
    fn defaults_are_off_with_level_3_and_guardians_until_13() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c, CitizenConfig::default());
        assert!(!c.enabled);
        assert_eq!(c.listen, None);
        assert_eq!((c.loa_claim.as_str(), c.minimum_loa), ("loa", 3));
        assert_eq!(
            (c.guardian_claim.as_str(), c.guardian_age_limit),
            ("guardian_of", 13)
        );
    }

    #[test]
    fn a_full_section_is_read() {
        let c = parse(json!({
            "enabled": true,
            "listen": "127.0.0.1:8446",
            "consumer_id": "SE0000000000-CITIZEN",
            "loa_claim": "acr",
            "minimum_loa": 4,
            "guardian_claim": "child",
            "guardian_age_limit": 0,
            "issuers": [issuer()],
            "delays": [
                delay("laboratory-outcome-3", "*", json!(14)),
                {"information_set": "Laboratory-Outcome-3", "care_giver": "SE2321000016-CG1", "hours": 0},
                {"information_set": "vaccination-history", "care_giver": "SE2321000016-CG1", "hours": 36},
            ],
        }))
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.listen, Some("127.0.0.1:8446".parse().unwrap()));
        assert_eq!(c.consumer_id.as_deref(), Some("SE0000000000-CITIZEN"));
        assert_eq!(c.issuers.len(), 1);
        assert_eq!(c.issuers[0].audience, ["vaxel-citizen"]);
        assert_eq!((c.loa_claim.as_str(), c.minimum_loa), ("acr", 4));
        assert_eq!(c.guardian_age_limit, 0);
        assert_eq!(
            c.delays,
            [
                ReleaseDelay {
                    information_set: "laboratory-outcome-3".into(),
                    care_giver: DelayCareGiver::Any,
                    delay: Duration::from_secs(14 * 86_400),
                },
                ReleaseDelay {
                    information_set: "laboratory-outcome-3".into(),
                    care_giver: DelayCareGiver::Only("SE2321000016-CG1".into()),
                    delay: Duration::ZERO,
                },
                ReleaseDelay {
                    information_set: "vaccination-history".into(),
                    care_giver: DelayCareGiver::Only("SE2321000016-CG1".into()),
                    delay: Duration::from_secs(36 * 3_600),
                },
            ]
        );
    }

    #[test]
    fn problems_name_the_key() {
        let d = |v: Value| json!({ "delays": [v] });
        let cases: Vec<(Value, &str)> = vec![
            (json!({"enabled": true}), "`citizen.issuers`"),
            (json!({"listen": "localhost"}), "`citizen.listen`"),
            (
                json!({"listen": "127.0.0.1:8446"}),
                "`citizen.consumer_id`: the citizen listener asks sources",
            ),
            (json!({"consumer_id": "has space"}), "`citizen.consumer_id`"),
            (
                json!({"minimum_loa": 2}),
                "`citizen.minimum_loa`: must be 3 or 4",
            ),
            (json!({"minimum_loa": 5}), "`citizen.minimum_loa`"),
            (
                json!({"guardian_age_limit": 19}),
                "`citizen.guardian_age_limit`",
            ),
            (
                json!({"guardian_age_limit": -1}),
                "`citizen.guardian_age_limit`",
            ),
            (
                json!({"loa_claim": " "}),
                "`citizen.loa_claim`: must name a claim",
            ),
            (json!({"loa_claim": "sub"}), "`citizen.loa_claim`"),
            (
                json!({"guardian_claim": "loa"}),
                "`citizen.guardian_claim`: must differ",
            ),
            (
                d(delay("lab", "*", json!(1))),
                "`citizen.delays[0].information_set`: `lab` is not an information set",
            ),
            (
                d(delay("diagnosis", "a b", json!(1))),
                "`citizen.delays[0].care_giver`",
            ),
            (
                d(json!({"information_set": "diagnosis", "care_giver": "*"})),
                "`citizen.delays[0].days`: give the delay as either",
            ),
            (
                d(
                    json!({"information_set": "diagnosis", "care_giver": "*", "days": 1, "hours": 2}),
                ),
                "`citizen.delays[0].days`: give the delay as either",
            ),
            (
                d(delay("diagnosis", "*", json!(-1))),
                "`citizen.delays[0].days`: must be 0 to 3650",
            ),
            (
                d(json!({"information_set": "diagnosis", "care_giver": "*", "hours": 87_601})),
                "`citizen.delays[0].hours`",
            ),
            (
                json!({"delays": [delay("diagnosis", "se-cg", json!(1)), delay("DIAGNOSIS", "SE-CG", json!(2))]}),
                "`citizen.delays[1].care_giver`: this information set and care giver already",
            ),
        ];
        for (section, want) in cases {
            let err = parse(section.clone()).unwrap_err();
            assert!(err.contains(want), "{section}: {err}");
            assert!(err.contains("vaxel.toml"), "{err}");
        }
        // Unknown keys are errors, in the section and in a delay.
        assert!(parse(json!({"enable": true})).is_err());
        assert!(parse(d(
            json!({"information_set": "diagnosis", "care_giver": "*", "weeks": 1})
        ))
        .is_err());
    }

    #[test]
    fn issuers_are_validated_as_consent_issuers_are() {
        let with = |f: &dyn Fn(&mut Value)| {
            let mut i = issuer();
            f(&mut i);
            parse(json!({ "issuers": [i] })).unwrap_err()
        };
        let err = with(&|i| {
            i.as_object_mut().unwrap().remove("public_key_pem");
        });
        assert!(
            err.contains(
                "`citizen.issuers[0].public_key_pem`: set public_key_pem and/or jwks_file"
            ),
            "{err}"
        );
        let err = with(&|i| i["algorithms"] = json!(["none"]));
        assert!(err.contains("`citizen.issuers[0].algorithms`"), "{err}");
        let err = with(&|i| i["algorithms"] = json!(["ES256", "RS256"]));
        assert!(err.contains("one key family"), "{err}");
        let err = with(&|i| i["public_key_pem"] = json!("gone.pem"));
        assert!(err.contains("does not exist"), "{err}");
        let err = with(&|i| i["leeway_s"] = json!(301));
        assert!(err.contains("`citizen.issuers[0].leeway_s`"), "{err}");
    }

    #[test]
    fn every_information_set_name_is_a_valid_consent_scope_name() {
        for name in information_sets() {
            assert!(vaxel_store::consent::valid_set_name(name), "{name}");
        }
        assert_eq!(information_sets().count(), 12);
    }
}
