//! Gateway configuration: one TOML file (every key in `specs/configuration.md`),
//! parsed with serde and validated once into typed values ([`Config`]). Each concern
//! owns the type and validation of its own section (routing, store, engagement index,
//! consent and access log live in their crates); this module owns the sections of the
//! binary itself (`[service]`, `[admin]`, `[producers]`, `[identity]`, `[aggregation]`)
//! and assembles the rest. Errors name the file, the key and the problem.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod operations;
pub use operations::{AdminConfig, AdminTls, LogConfig, LogFormat, MetricsConfig};
use vaxel_engagement_index::config::{EngagementIndexConfig, RawEngagementIndexConfig};
use vaxel_pdl::citizen::config::{CitizenConfig, RawCitizenConfig};
use vaxel_pdl::config::{AccessLogConfig, ConsentConfig, RawAccessLogConfig, RawConsentConfig};
use vaxel_routing::config::{RawRoutingConfig, RoutingConfig};
use vaxel_sdk::config::{RawSdkConfig, SdkConfig};
use vaxel_store::config::{RawStoreConfig, StoreConfig};

pub use vaxel_model::config::{ConfigError, Section};

/// Largest virtualised message (national platform rule): 15 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 15 * 1024 * 1024;

/// Default overall deadline of an aggregated call: below the consumer's usual 30 s
/// timeout, so the consumer gets the partial answer instead of its own timeout.
pub const DEFAULT_AGGREGATION_DEADLINE: Duration = Duration::from_millis(28_000);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    instance_id: Option<String>,
    service: RawService,
    admin: Option<operations::RawAdmin>,
    #[serde(default)]
    log: operations::RawLog,
    #[serde(default)]
    metrics: operations::RawMetrics,
    producers: RawProducers,
    routing: RawRoutingConfig,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    store: RawStoreConfig,
    #[serde(default)]
    engagement_index: RawEngagementIndexConfig,
    #[serde(default)]
    aggregation: RawAggregation,
    #[serde(default)]
    consent: RawConsentConfig,
    #[serde(default)]
    citizen: RawCitizenConfig,
    #[serde(default)]
    access_log: RawAccessLogConfig,
    #[serde(default)]
    sdk: RawSdkConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAggregation {
    deadline_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    listen: String,
    threads: Option<usize>,
    max_body_bytes: Option<u64>,
    max_envelope_head_bytes: Option<usize>,
    max_element_depth: Option<usize>,
    envelope_head_timeout_ms: Option<u64>,
    tls_handshake_timeout_ms: Option<u64>,
    body_idle_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_concurrent_requests: Option<usize>,
    tls: RawServerTls,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServerTls {
    certificate: String,
    private_key: String,
    client_ca: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProducers {
    certificate: String,
    private_key: String,
    ca: String,
    connect_timeout_ms: Option<u64>,
    default_response_timeout_ms: Option<u64>,
    pool_idle_timeout_ms: Option<u64>,
    pool_max_idle_per_host: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(default)]
    trusted_header_addresses: Vec<String>,
    #[serde(default)]
    original_consumer_allowed: Vec<String>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from (for messages).
    pub origin: PathBuf,
    /// This gateway's instance id: in faultstrings, `x-vp-instance-id` and routing history.
    pub instance_id: String,
    pub service: ServiceConfig,
    pub admin_listen: Option<SocketAddr>,
    /// The admin listener and its protection (`[admin]`); `None` without one.
    pub admin: Option<AdminConfig>,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub producers: ProducerConfig,
    pub routing: RoutingConfig,
    pub identity: IdentityConfig,
    pub aggregation: AggregationConfig,
    pub store: StoreConfig,
    pub engagement_index: EngagementIndexConfig,
    pub consent: ConsentConfig,
    pub access_log: AccessLogConfig,
    /// The citizen's side (`[citizen]`, specs/citizen.md).
    pub citizen: CitizenConfig,
    /// `serve --demo` only (not from the file): the demo identity provider's signing
    /// key, for demo sign-in on the citizen page.
    pub demo_citizen_key: Option<PathBuf>,
    /// `serve --demo` only (not from the file): the demo care-staff identity provider's
    /// signing key, for `GET /demo/user-context` on the admin listener.
    pub demo_staff_key: Option<PathBuf>,
    /// SDK messaging (`[sdk] enabled`); `None` when off.
    pub sdk: Option<SdkConfig>,
}

/// Aggregated journal queries (specs/aggregation.md).
#[derive(Debug, Clone)]
pub struct AggregationConfig {
    /// The whole aggregated call, fan-out included, ends within this time.
    pub deadline: Duration,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// Number of per-core runtimes (one listener each, SO_REUSEPORT).
    pub threads: usize,
    pub max_body_bytes: u64,
    pub max_envelope_head_bytes: usize,
    /// Deepest element nesting allowed before the first Body child.
    pub max_element_depth: usize,
    pub envelope_head_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    /// A request body that sends nothing for this long is abandoned (slowloris).
    pub body_idle_timeout: Duration,
    /// HTTP/1.1 request headers must be complete within this time (slowloris).
    pub header_read_timeout: Duration,
    /// Open client connections, over all cores; more are closed at accept.
    pub max_connections: usize,
    /// Requests in progress (until the producer's response headers), over all cores;
    /// more get HTTP 503 with Retry-After at once instead of queueing.
    pub max_concurrent_requests: usize,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub client_ca: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub ca: PathBuf,
    pub connect_timeout: Duration,
    pub default_response_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

#[derive(Debug, Clone, Default)]
pub struct IdentityConfig {
    /// Peers allowed to assert the caller with `x-vp-sender-id` (a load balancer in front).
    pub trusted_header_addresses: Vec<IpAddr>,
    /// Callers allowed to set `x-rivta-original-serviceconsumer-hsaid`; `*` allows every caller.
    pub original_consumer_allowed: Vec<String>,
}

impl IdentityConfig {
    /// Whether `sender` may pass an original consumer id of its own.
    pub fn may_set_original_consumer(&self, sender: &str) -> bool {
        self.original_consumer_allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(sender))
    }
}

impl Config {
    /// Read and validate a configuration file. Relative paths in it are resolved against
    /// the file's directory, so a config works from any working directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Parse and validate TOML text that came from `path`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let root = Section::root(path);

        let instance_id = raw.instance_id.unwrap_or_else(|| "vaxel".to_string());
        root.check(
            "instance_id",
            !instance_id.trim().is_empty()
                && !instance_id.contains(',')
                && instance_id.chars().all(|c| c.is_ascii_graphic()),
            "must be a non-empty id of printable ASCII without spaces or commas (it goes into x-rivta-routing-history)",
        )?;

        let s = raw.service;
        let svc = root.nested("service");
        let threads = match s.threads {
            None | Some(0) => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            Some(n) if n <= 1024 => n,
            Some(_) => return Err(svc.invalid("threads", "must be 0 (one per core) to 1024")),
        };
        let max_body_bytes = s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        svc.check(
            "max_body_bytes",
            max_body_bytes >= 1024,
            "must be at least 1024 bytes",
        )?;
        let max_envelope_head_bytes = s.max_envelope_head_bytes.unwrap_or(256 * 1024);
        svc.check(
            "max_envelope_head_bytes",
            (512..=16 * 1024 * 1024).contains(&max_envelope_head_bytes),
            "must be between 512 and 16777216 bytes",
        )?;
        let service = ServiceConfig {
            listen: svc.socket_addr("listen", &s.listen)?,
            threads,
            max_body_bytes,
            max_envelope_head_bytes,
            max_element_depth: match s.max_element_depth {
                None => 64,
                Some(n) if (4..=1024).contains(&n) => n,
                Some(_) => {
                    return Err(svc.invalid(
                        "max_element_depth",
                        "must be between 4 and 1024 (an envelope head needs 4 levels)",
                    ))
                }
            },
            envelope_head_timeout: svc.millis(
                "envelope_head_timeout_ms",
                s.envelope_head_timeout_ms,
                30_000,
            )?,
            tls_handshake_timeout: svc.millis(
                "tls_handshake_timeout_ms",
                s.tls_handshake_timeout_ms,
                10_000,
            )?,
            body_idle_timeout: svc.millis(
                "body_idle_timeout_ms",
                s.body_idle_timeout_ms,
                30_000,
            )?,
            header_read_timeout: svc.millis(
                "header_read_timeout_ms",
                s.header_read_timeout_ms,
                30_000,
            )?,
            max_connections: svc.count("max_connections", s.max_connections, 10_000)?,
            max_concurrent_requests: svc.count(
                "max_concurrent_requests",
                s.max_concurrent_requests,
                4_096,
            )?,
            certificate: svc.existing_file("tls.certificate", &s.tls.certificate)?,
            private_key: svc.existing_file("tls.private_key", &s.tls.private_key)?,
            client_ca: svc.existing_file("tls.client_ca", &s.tls.client_ca)?,
        };

        let admin = match raw.admin {
            Some(a) => Some(a.validate(&root.nested("admin"))?),
            None => None,
        };
        let admin_listen = admin.as_ref().map(|a| a.listen);
        let log = raw.log.validate(&root.nested("log"))?;
        let metrics = raw.metrics.validate();

        let p = raw.producers;
        let prod = root.nested("producers");
        let producers = ProducerConfig {
            certificate: prod.existing_file("certificate", &p.certificate)?,
            private_key: prod.existing_file("private_key", &p.private_key)?,
            ca: prod.existing_file("ca", &p.ca)?,
            connect_timeout: prod.millis("connect_timeout_ms", p.connect_timeout_ms, 2_000)?,
            default_response_timeout: prod.millis(
                "default_response_timeout_ms",
                p.default_response_timeout_ms,
                29_000,
            )?,
            pool_idle_timeout: prod.millis(
                "pool_idle_timeout_ms",
                p.pool_idle_timeout_ms,
                20_000,
            )?,
            pool_max_idle_per_host: p.pool_max_idle_per_host.unwrap_or(256),
        };

        let routing = raw.routing.validate(&root.nested("routing"))?;

        let mut trusted = Vec::new();
        for (i, a) in raw.identity.trusted_header_addresses.iter().enumerate() {
            let ip: IpAddr = a.parse().map_err(|_| {
                root.nested("identity").invalid(
                    &format!("trusted_header_addresses[{i}]"),
                    &format!("`{a}` is not an IP address (e.g. \"10.0.0.5\" or \"::1\")"),
                )
            })?;
            trusted.push(ip);
        }
        let identity = IdentityConfig {
            trusted_header_addresses: trusted,
            original_consumer_allowed: raw.identity.original_consumer_allowed,
        };

        let aggregation = AggregationConfig {
            deadline: root.nested("aggregation").millis(
                "deadline_ms",
                raw.aggregation.deadline_ms,
                DEFAULT_AGGREGATION_DEADLINE.as_millis() as u64,
            )?,
        };
        let store = raw.store.validate(&root.nested("store"))?;
        let engagement_index = raw
            .engagement_index
            .validate(&root.nested("engagement_index"))?;
        let consent = raw.consent.validate(&root.nested("consent"))?;
        let access_log = raw.access_log.validate(&root.nested("access_log"))?;
        let citizen = raw.citizen.validate(&root.nested("citizen"))?;
        if admin.as_ref().is_some_and(|a| a.require_token) {
            root.nested("admin").check(
                "require_token",
                !consent.issuers.is_empty(),
                "operator tokens are verified against [[consent.issuers]]: configure at least one issuer",
            )?;
        }
        let sdk = raw
            .sdk
            .validate(&root.nested("sdk"), &producers.certificate, |path| {
                // The gateway's identity towards partner gateways: that of the client
                // certificate deliveries are made with.
                crate::tls::load_certs(path)
                    .ok()
                    .and_then(|c| c.first().cloned())
                    .and_then(|c| crate::tls::caller_id_from_certificate(&c).ok())
            })?;

        Ok(Config {
            origin: path.to_path_buf(),
            instance_id,
            service,
            admin_listen,
            admin,
            log,
            metrics,
            producers,
            routing,
            identity,
            aggregation,
            store,
            engagement_index,
            consent,
            access_log,
            citizen,
            demo_citizen_key: None,
            demo_staff_key: None,
            sdk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_engagement_index::config::DEFAULT_EI_OWNER;
    use vaxel_pdl::config::IssuerKeys;
    use vaxel_store::StoreBackend;

    fn write_pki(dir: &Path) {
        for f in ["c.pem", "k.pem", "ca.pem"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
    }

    const GOOD: &str = r#"
instance_id = "vp-test"
[service]
listen = "127.0.0.1:8443"
[service.tls]
certificate = "c.pem"
private_key = "k.pem"
client_ca = "ca.pem"
[producers]
certificate = "c.pem"
private_key = "k.pem"
ca = "ca.pem"
[routing]
source = "tak.toml"
"#;

    #[test]
    fn good_config_resolves_paths_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let cfg = Config::from_toml(GOOD, &dir.path().join("vaxel.toml")).unwrap();
        assert_eq!(cfg.instance_id, "vp-test");
        assert_eq!(cfg.service.certificate, dir.path().join("c.pem"));
        assert_eq!(cfg.service.max_body_bytes, 15 * 1024 * 1024);
        assert_eq!(cfg.producers.connect_timeout, Duration::from_secs(2));
        assert_eq!(
            cfg.producers.default_response_timeout,
            Duration::from_secs(29)
        );
        assert_eq!(
            cfg.routing.last_known_good,
            dir.path().join("tak.toml.last-known-good")
        );
    }

    fn load(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        Config::from_toml(text, &dir.path().join("vaxel.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn operations_sections_default_to_text_logs_metrics_on_and_no_admin() {
        let cfg = load(GOOD).unwrap();
        assert_eq!(cfg.log.format, LogFormat::Text);
        assert_eq!(cfg.log.level, "info");
        assert!(cfg.log.requests);
        assert!(cfg.metrics.enabled);
        assert!(cfg.admin.is_none());
        let cfg = load(&format!(
            "{GOOD}[log]\nformat = \"json\"\nlevel = \"warn,vaxel=debug\"\nrequests = false\n[metrics]\nenabled = false\n"
        ))
        .unwrap();
        assert_eq!(cfg.log.format, LogFormat::Json);
        assert_eq!(cfg.log.level, "warn,vaxel=debug");
        assert!(!cfg.log.requests);
        assert!(!cfg.metrics.enabled);
    }

    #[test]
    fn bad_log_settings_say_what_to_write() {
        let msg = load(&format!("{GOOD}[log]\nformat = \"xml\"\n")).unwrap_err();
        assert!(
            msg.contains("log.format") && msg.contains("\"json\""),
            "{msg}"
        );
        let msg = load(&format!("{GOOD}[log]\nlevel = \"info,=x[\"\n")).unwrap_err();
        assert!(msg.contains("log.level"), "{msg}");
    }

    #[test]
    fn an_exposed_admin_listener_must_be_protected() {
        // Loopback: fine as it is.
        let cfg = load(&format!("{GOOD}[admin]\nlisten = \"127.0.0.1:8080\"\n")).unwrap();
        let admin = cfg.admin.unwrap();
        assert!(admin.tls.is_none() && !admin.require_token);
        assert_eq!(admin.operator_role, "operator");
        // Every interface without protection: refused, saying what to do.
        let msg = load(&format!("{GOOD}[admin]\nlisten = \"0.0.0.0:8080\"\n")).unwrap_err();
        assert!(msg.contains("admin.listen"), "{msg}");
        assert!(
            msg.contains("tls") && msg.contains("require_token"),
            "{msg}"
        );
        // Mutual TLS protects it.
        let cfg = load(&format!(
            "{GOOD}[admin]\nlisten = \"0.0.0.0:8080\"\ntls = {{ certificate = \"c.pem\", private_key = \"k.pem\", client_ca = \"ca.pem\" }}\n"
        ))
        .unwrap();
        assert!(cfg.admin.unwrap().tls.is_some());
        // Operator tokens need an issuer to verify them with.
        let msg = load(&format!(
            "{GOOD}[admin]\nlisten = \"0.0.0.0:8080\"\nrequire_token = true\n"
        ))
        .unwrap_err();
        assert!(
            msg.contains("require_token") && msg.contains("consent.issuers"),
            "{msg}"
        );
    }

    #[test]
    fn missing_file_names_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::from_toml(GOOD, &dir.path().join("vaxel.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("vaxel.toml"), "{msg}");
        assert!(msg.contains("service.tls.certificate"), "{msg}");
        assert!(msg.contains("does not exist"), "{msg}");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let text = GOOD.replace("[routing]", "[routing]\nsorce = \"x\"");
        let msg = Config::from_toml(&text, &dir.path().join("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("sorce"), "{msg}");
    }

    #[test]
    fn bad_listen_address_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let text = GOOD.replace("127.0.0.1:8443", "localhost");
        let msg = Config::from_toml(&text, &dir.path().join("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("service.listen"), "{msg}");
        assert!(msg.contains("address:port"), "{msg}");
    }

    #[test]
    fn bad_trusted_address_names_index() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let text =
            format!("{GOOD}\n[identity]\ntrusted_header_addresses = [\"127.0.0.1\", \"lb\"]\n");
        let msg = Config::from_toml(&text, &dir.path().join("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("identity.trusted_header_addresses[1]"),
            "{msg}"
        );
    }

    #[test]
    fn store_and_engagement_index_defaults() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let cfg = Config::from_toml(GOOD, &dir.path().join("vaxel.toml")).unwrap();
        assert_eq!(cfg.store.backend, StoreBackend::Sqlite);
        assert_eq!(cfg.store.path, dir.path().join("vaxel-data/vaxel.db"));
        assert_eq!(cfg.engagement_index, EngagementIndexConfig::default());
        assert_eq!(cfg.engagement_index.owner, DEFAULT_EI_OWNER);
        assert_eq!(
            cfg.engagement_index.notify_initial_backoff,
            Duration::from_secs(1)
        );
        assert_eq!(
            cfg.engagement_index.notify_max_backoff,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn store_and_engagement_index_are_read() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let text = format!(
            r#"{GOOD}
[store]
backend = "sqlite"
path = "data/ei.db"
[engagement_index]
owner = "SE2321000016-EI"
owner_aliases = ["5565594230"]
notify_initial_backoff_ms = 500
notify_max_backoff_ms = 60000
get_updates_max_residents = 100
[[engagement_index.subscribers]]
logical_address = "SE2321000016-EI2"
service_domains = ["riv:clinicalprocess:healthcond:description"]
categorizations = ["voo", "dia"]
[[engagement_index.subscribers]]
logical_address = "SE2321000016-EI3"
"#
        );
        let cfg = Config::from_toml(&text, &dir.path().join("v.toml")).unwrap();
        assert_eq!(cfg.store.path, dir.path().join("data/ei.db"));
        let ei = &cfg.engagement_index;
        assert_eq!(ei.owner, "SE2321000016-EI");
        assert_eq!(ei.owner_aliases, ["5565594230"]);
        assert_eq!(ei.notify_initial_backoff, Duration::from_millis(500));
        assert_eq!(ei.notify_max_backoff, Duration::from_secs(60));
        assert_eq!(ei.get_updates_max_residents, 100);
        assert_eq!(ei.subscribers.len(), 2);
        let s = &ei.subscribers[0];
        assert!(s.wants("RIV:clinicalprocess:healthcond:description", "VOO"));
        assert!(!s.wants("riv:clinicalprocess:healthcond:description", "upp"));
        assert!(!s.wants("riv:other", "voo"));
        assert!(ei.subscribers[1].wants("anything", "at-all"));
    }

    #[test]
    fn consent_defaults_to_disabled() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let cfg = Config::from_toml(GOOD, &dir.path().join("vaxel.toml")).unwrap();
        assert_eq!(cfg.consent, ConsentConfig::default());
        assert!(!cfg.consent.enabled);
        assert_eq!(cfg.consent.header.as_str(), "x-vaxel-user-context");
        assert_eq!(cfg.consent.admin_role, "consent-admin");
    }

    #[test]
    fn consent_section_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        std::fs::write(dir.path().join("idp.pem"), "x").unwrap();
        std::fs::write(dir.path().join("jwks.json"), "{}").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        let text = format!(
            r#"{GOOD}
[consent]
enabled = true
header = "X-User-Context"
admin_role = "pdl-admin"
index_reload_s = 30
[[consent.issuers]]
issuer = "https://idp.example"
audience = ["vaxel"]
algorithms = ["RS256", "PS256"]
public_key_pem = "idp.pem"
public_key_kid = "k1"
jwks_file = "jwks.json"
[[consent.issuers]]
issuer = "internal"
audience = ["vaxel", "other"]
algorithms = ["HS256"]
hmac_secret_file = "secret"
leeway_s = 300
"#
        );
        let c = Config::from_toml(&text, &dir.path().join("v.toml"))
            .unwrap()
            .consent;
        assert!(c.enabled);
        assert_eq!(c.header.as_str(), "x-user-context");
        assert_eq!(c.admin_role, "pdl-admin");
        assert_eq!(c.index_reload, Some(Duration::from_secs(30)));
        assert_eq!(c.issuers.len(), 2);
        assert_eq!(c.issuers[0].leeway, Duration::from_secs(60));
        assert_eq!(
            c.issuers[0].keys,
            IssuerKeys::Public {
                pem: Some(dir.path().join("idp.pem")),
                pem_kid: Some("k1".into()),
                jwks: Some(dir.path().join("jwks.json")),
            }
        );
        assert_eq!(
            c.issuers[1].keys,
            IssuerKeys::HmacSecret(dir.path().join("secret"))
        );
        assert_eq!(c.issuers[1].leeway, Duration::from_secs(300));
    }

    #[test]
    fn consent_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        std::fs::write(dir.path().join("idp.pem"), "x").unwrap();
        let iss = "[[consent.issuers]]\nissuer = \"i\"\naudience = [\"a\"]\n";
        let cases = [
            ("[consent]\nenabled = true".to_string(), "consent.issuers", "no [[consent.issuers]]"),
            (format!("{iss}algorithms = [\"none\"]\npublic_key_pem = \"idp.pem\""), "consent.issuers[0].algorithms", "none is never accepted"),
            (format!("{iss}public_key_pem = \"idp.pem\""), "consent.issuers[0].algorithms", "must pin"),
            (format!("{iss}algorithms = [\"HS256\"]\npublic_key_pem = \"idp.pem\""), "consent.issuers[0].hmac_secret_file", "never used as HMAC"),
            (format!("{iss}algorithms = [\"HS256\"]"), "consent.issuers[0].hmac_secret_file", "explicit shared secret"),
            (format!("{iss}algorithms = [\"RS256\", \"ES256\"]\npublic_key_pem = \"idp.pem\""), "consent.issuers[0].algorithms", "one key family"),
            (format!("{iss}algorithms = [\"RS256\"]"), "consent.issuers[0].public_key_pem", "jwks_file"),
            (format!("{iss}algorithms = [\"ES256\"]\npublic_key_pem = \"idp.pem\"\nleeway_s = 301"), "consent.issuers[0].leeway_s", "0 to 300"),
            ("[[consent.issuers]]\nissuer = \"i\"\nalgorithms = [\"ES256\"]\npublic_key_pem = \"idp.pem\"".to_string(), "consent.issuers[0].audience", "aud"),
            (format!("{iss}algorithms = [\"ES256\"]\npublic_key_pem = \"idp.pem\"\n{iss}algorithms = [\"ES256\"]\npublic_key_pem = \"idp.pem\""), "consent.issuers[1].issuer", "listed twice"),
            ("[consent]\nheader = \"Authorization\"".to_string(), "consent.header", "always read"),
        ];
        for (extra, key, problem) in cases {
            let text = format!("{GOOD}\n{extra}\n");
            let msg = Config::from_toml(&text, &dir.path().join("v.toml"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(key), "{extra}: {msg}");
            assert!(msg.contains(problem), "{extra}: {msg}");
        }
    }

    #[test]
    fn store_and_engagement_index_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let cases = [
            ("[store]\nbackend = \"mysql\"", "store.backend", "\"sqlite\" (one node) or \"postgres\""),
            ("[store]\nbackend = \"postgres\"", "store.url", "is required"),
            ("[store]\npth = \"x\"", "pth", ""),
            ("[engagement_index]\nownr = \"x\"", "ownr", ""),
            ("[engagement_index]\nowner = \"has space\"", "engagement_index.owner", "HSA id"),
            (
                "[engagement_index]\nnotify_initial_backoff_ms = 5000\nnotify_max_backoff_ms = 1000",
                "engagement_index.notify_max_backoff_ms",
                "must not be smaller",
            ),
            (
                "[[engagement_index.subscribers]]\nlogical_address = \"A\"\n[[engagement_index.subscribers]]\nlogical_address = \"a\"",
                "engagement_index.subscribers[1].logical_address",
                "listed twice",
            ),
            (
                "[[engagement_index.subscribers]]\nlogical_address = \"A\"\nfilter = []",
                "filter",
                "",
            ),
        ];
        for (extra, key, problem) in cases {
            let text = format!("{GOOD}\n{extra}\n");
            let msg = Config::from_toml(&text, &dir.path().join("v.toml"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(key), "{extra}: {msg}");
            assert!(msg.contains(problem), "{extra}: {msg}");
        }
    }

    #[test]
    fn access_log_defaults_and_values() {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let cfg = Config::from_toml(GOOD, &dir.path().join("v.toml")).unwrap();
        assert_eq!(cfg.access_log.queue_capacity, 100_000);
        assert_eq!(cfg.access_log.max_batch, 5_000);
        let text = format!("{GOOD}\n[access_log]\nqueue_capacity = 10\nmax_batch = 3\n");
        let cfg = Config::from_toml(&text, &dir.path().join("v.toml")).unwrap();
        assert_eq!(
            cfg.access_log,
            AccessLogConfig {
                queue_capacity: 10,
                max_batch: 3
            }
        );
        for (extra, key) in [
            ("[access_log]\nmax_batch = 0", "access_log.max_batch"),
            (
                "[access_log]\nqueue_capacity = 0",
                "access_log.queue_capacity",
            ),
            ("[access_log]\nqueue = 5", "queue"),
        ] {
            let msg = Config::from_toml(&format!("{GOOD}\n{extra}\n"), &dir.path().join("v.toml"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(key), "{extra}: {msg}");
        }
    }
}
