//! `[sdk]`: SDK messaging for this gateway's organisation (specs/sdk.md §6,
//! specs/configuration.md). Off unless `enabled = true`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

use crate::addressbook::ParticipantId;

/// Default federation (BusinessScope FEDERATIONID) written in XHE headers.
pub const DEFAULT_FEDERATION: &str = "urn:fdc:digg.se:edelivery:federation:test";

/// `[sdk]`, validated.
#[derive(Debug, Clone)]
pub struct SdkConfig {
    /// This gateway's organisation (the one whose key signs and decrypts).
    pub organisation: ParticipantId,
    /// The organisation certificate (PEM): the address book of every partner holds it.
    pub certificate: PathBuf,
    /// The organisation's private key (PEM, PKCS#8 or PKCS#1 RSA).
    pub private_key: PathBuf,
    /// The address book (specs/sdk.md §4).
    pub address_book: PathBuf,
    /// Trust anchors of organisation certificates (PEM, one or more CA certificates).
    /// When set, every address-book certificate must chain to one of them.
    pub organisation_ca: Option<PathBuf>,
    /// FEDERATIONID written in the XHE business scope.
    pub federation: String,
    /// This gateway's identity as the partner gateways see it (the SERIALNUMBER or CN of
    /// its TLS client certificate); written as the ebMS From party.
    pub gateway_id: String,
    /// The organisation's own systems: who may submit and fetch for which organisation.
    pub systems: Vec<SystemGrant>,
    /// The TLS client certificate and key deliveries to partner gateways are made with
    /// (default: `[producers]`'s).
    pub client_tls: Option<(PathBuf, PathBuf)>,
    /// Delivery to partner gateways.
    pub delivery: DeliveryConfig,
}

/// One of the organisation's own systems (identified by its client certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemGrant {
    pub id: String,
    /// Organisations it may send for and fetch for.
    pub organisations: Vec<ParticipantId>,
}

/// How outgoing messages are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// First retry delay; doubled per failed attempt.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// A message not delivered this long after it was submitted is dead-lettered
    /// (state `failed`).
    pub dead_letter_after: Duration,
    /// One delivery attempt (connect, send, receipt) ends within this time.
    pub attempt_timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// A claimed message is not claimed again (by this or another node) for this long.
    pub lease: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
            dead_letter_after: Duration::from_secs(24 * 3600),
            attempt_timeout: Duration::from_secs(60),
            concurrency: 32,
            lease: Duration::from_secs(120),
        }
    }
}

/// `[sdk]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSdkConfig {
    #[serde(default)]
    enabled: bool,
    organisation: Option<String>,
    certificate: Option<String>,
    private_key: Option<String>,
    address_book: Option<String>,
    organisation_ca: Option<String>,
    federation: Option<String>,
    gateway_id: Option<String>,
    client_certificate: Option<String>,
    client_private_key: Option<String>,
    #[serde(default)]
    systems: Vec<RawSystem>,
    initial_backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
    dead_letter_after_s: Option<u64>,
    attempt_timeout_ms: Option<u64>,
    delivery_concurrency: Option<usize>,
    lease_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    id: String,
    organisations: Vec<String>,
}

impl RawSdkConfig {
    /// Validate in `section` (`sdk`); `None` when SDK messaging is off. `identity_of`
    /// reads the identity (SERIALNUMBER, else CN) of a client certificate file: the
    /// gateway id defaults to that of the certificate deliveries are made with
    /// (`client_certificate`, else `default_client_certificate`).
    pub fn validate(
        self,
        section: &Section<'_>,
        default_client_certificate: &std::path::Path,
        identity_of: impl Fn(&std::path::Path) -> Option<String>,
    ) -> Result<Option<SdkConfig>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        let client_tls = match (self.client_certificate, self.client_private_key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((
                section.existing_file("client_certificate", &c)?,
                section.existing_file("client_private_key", &k)?,
            )),
            _ => {
                return Err(section.invalid(
                    "client_certificate",
                    "client_certificate and client_private_key go together",
                ))
            }
        };
        let default_gateway_id = identity_of(
            client_tls
                .as_ref()
                .map(|(c, _)| c.as_path())
                .unwrap_or(default_client_certificate),
        );
        let required = |key: &str, v: Option<String>| {
            v.filter(|s| !s.trim().is_empty())
                .ok_or_else(|| section.invalid(key, "is required when sdk.enabled = true"))
        };
        let organisation = required("organisation", self.organisation)?;
        let organisation = ParticipantId::parse(&organisation)
            .map_err(|e| section.invalid("organisation", &format!("`{organisation}`: {e}")))?;
        let certificate =
            section.existing_file("certificate", &required("certificate", self.certificate)?)?;
        let private_key =
            section.existing_file("private_key", &required("private_key", self.private_key)?)?;
        let address_book = section.existing_file(
            "address_book",
            &required("address_book", self.address_book)?,
        )?;
        let organisation_ca = self
            .organisation_ca
            .map(|p| section.existing_file("organisation_ca", &p))
            .transpose()?;
        let gateway_id = match self.gateway_id.or(default_gateway_id) {
            Some(id) if !id.trim().is_empty() => id,
            _ => {
                return Err(section.invalid(
                    "gateway_id",
                    "is required: the identity (SERIALNUMBER or CN) of this gateway's client certificate could not be read",
                ))
            }
        };
        let mut systems = Vec::new();
        for (i, s) in self.systems.into_iter().enumerate() {
            let sec = section.nested(&format!("systems[{i}]"));
            sec.check(
                "id",
                !s.id.trim().is_empty(),
                "must name the system's certificate identity",
            )?;
            sec.check(
                "organisations",
                !s.organisations.is_empty(),
                "must list the organisations the system sends and fetches for",
            )?;
            let mut orgs = Vec::new();
            for o in &s.organisations {
                orgs.push(
                    ParticipantId::parse(o)
                        .map_err(|e| sec.invalid("organisations", &format!("`{o}`: {e}")))?,
                );
            }
            systems.push(SystemGrant {
                id: s.id,
                organisations: orgs,
            });
        }
        let d = DeliveryConfig::default();
        let delivery = DeliveryConfig {
            initial_backoff: section.millis(
                "initial_backoff_ms",
                self.initial_backoff_ms,
                d.initial_backoff.as_millis() as u64,
            )?,
            max_backoff: section.millis(
                "max_backoff_ms",
                self.max_backoff_ms,
                d.max_backoff.as_millis() as u64,
            )?,
            dead_letter_after: {
                let s = self
                    .dead_letter_after_s
                    .unwrap_or(d.dead_letter_after.as_secs());
                section.check(
                    "dead_letter_after_s",
                    (1..=30 * 24 * 3600).contains(&s),
                    "must be between 1 second and 30 days",
                )?;
                Duration::from_secs(s)
            },
            attempt_timeout: section.millis(
                "attempt_timeout_ms",
                self.attempt_timeout_ms,
                d.attempt_timeout.as_millis() as u64,
            )?,
            concurrency: section.count(
                "delivery_concurrency",
                self.delivery_concurrency,
                d.concurrency,
            )?,
            lease: section.millis("lease_ms", self.lease_ms, d.lease.as_millis() as u64)?,
        };
        section.check(
            "max_backoff_ms",
            delivery.max_backoff >= delivery.initial_backoff,
            "must not be smaller than initial_backoff_ms",
        )?;
        section.check(
            "lease_ms",
            delivery.lease > delivery.attempt_timeout,
            "must be longer than attempt_timeout_ms (else a slow attempt's message could be claimed twice)",
        )?;
        Ok(Some(SdkConfig {
            organisation,
            certificate,
            private_key,
            address_book,
            organisation_ca,
            federation: self
                .federation
                .unwrap_or_else(|| DEFAULT_FEDERATION.to_string()),
            gateway_id,
            systems,
            client_tls,
            delivery,
        }))
    }
}

impl SdkConfig {
    /// May `system` send and fetch for `organisation`?
    pub fn system_may_act_for(&self, system: &str, organisation: &ParticipantId) -> bool {
        self.systems
            .iter()
            .any(|s| s.id == system && s.organisations.contains(organisation))
    }

    /// The organisations `system` may act for (empty when it is not an SDK system).
    pub fn organisations_of(&self, system: &str) -> Vec<ParticipantId> {
        self.systems
            .iter()
            .filter(|s| s.id == system)
            .flat_map(|s| s.organisations.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn validate(text: &str, dir: &Path) -> Result<Option<SdkConfig>, ConfigError> {
        let raw: RawSdkConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: dir.join("vaxel.toml"),
            message: e.to_string(),
        })?;
        let file = dir.join("vaxel.toml");
        raw.validate(
            &Section::root(&file).nested("sdk"),
            &dir.join("client.pem"),
            |_| Some("SE0000000000-GW".to_string()),
        )
    }

    fn files(dir: &Path) {
        for f in ["org.pem", "org.key", "book.toml"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
    }

    const GOOD: &str = r#"
enabled = true
organisation = "0203:habo.se"
certificate = "org.pem"
private_key = "org.key"
address_book = "book.toml"
[[systems]]
id = "SE0000000000-SYS"
organisations = ["iso6523-actorid-upis::0203:habo.se"]
"#;

    #[test]
    fn off_unless_enabled() {
        let dir = tempfile::tempdir().unwrap();
        assert!(validate("", dir.path()).unwrap().is_none());
        assert!(validate("enabled = false", dir.path()).unwrap().is_none());
    }

    #[test]
    fn a_good_section_gets_its_defaults() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let c = validate(GOOD, dir.path()).unwrap().unwrap();
        assert_eq!(
            c.organisation.to_string(),
            "iso6523-actorid-upis::0203:habo.se"
        );
        assert_eq!(c.gateway_id, "SE0000000000-GW");
        assert_eq!(c.federation, DEFAULT_FEDERATION);
        assert_eq!(c.delivery.dead_letter_after, Duration::from_secs(86_400));
        assert!(c.system_may_act_for("SE0000000000-SYS", &c.organisation));
        assert!(!c.system_may_act_for("SE0000000000-OTHER", &c.organisation));
        assert_eq!(c.certificate, dir.path().join("org.pem"));
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let e = validate("enabled = true", dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sdk.organisation"), "{e}");
        let e = validate(&GOOD.replace("book.toml", "missing.toml"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sdk.address_book") && e.contains("does not exist"),
            "{e}"
        );
        let e = validate(&format!("{GOOD}\nlease_ms = 1000\n"), dir.path());
        // `lease_ms` after `[[systems]]` belongs to the system table: unknown key there.
        assert!(e.is_err());
        let text = GOOD.replace(
            "enabled = true",
            "enabled = true\nlease_ms = 1000\nattempt_timeout_ms = 2000",
        );
        let e = validate(&text, dir.path()).unwrap_err().to_string();
        assert!(e.contains("sdk.lease_ms"), "{e}");
        let e = validate(
            &GOOD.replace("enabled = true", "enabled = true\nsurprise = 1"),
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("surprise"), "{e}");
        let e = validate(&GOOD.replace("\"0203:habo.se\"", "\"a b\""), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sdk.organisation"), "{e}");
    }
}
