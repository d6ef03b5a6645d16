//! Gateway configuration: a TOML file parsed with serde, then validated once into typed
//! values (`Config`). Errors name the file, the key and the problem.
//!
//! Every key is documented in `specs/configuration.md`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Largest virtualised message (national platform rule): 15 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 15 * 1024 * 1024;

/// A configuration problem, naming file, key and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "configuration file {path} is not valid TOML or has an unknown/mistyped key: {message}"
    )]
    Parse { path: PathBuf, message: String },
    #[error("configuration file {path}: key `{key}`: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    instance_id: Option<String>,
    service: RawService,
    admin: Option<RawAdmin>,
    producers: RawProducers,
    routing: RawRouting,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    engagement_index: RawEngagementIndex,
    #[serde(default)]
    aggregation: RawAggregation,
    #[serde(default)]
    consent: RawConsent,
    #[serde(default)]
    access_log: RawAccessLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessLog {
    queue_capacity: Option<usize>,
    max_batch: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsent {
    enabled: Option<bool>,
    header: Option<String>,
    admin_role: Option<String>,
    index_reload_s: Option<u64>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default)]
    audience: Vec<String>,
    #[serde(default)]
    algorithms: Vec<String>,
    public_key_pem: Option<String>,
    public_key_kid: Option<String>,
    jwks_file: Option<String>,
    hmac_secret_file: Option<String>,
    leeway_s: Option<u64>,
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
struct RawAdmin {
    listen: String,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouting {
    source: String,
    last_known_good: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(default)]
    trusted_header_addresses: Vec<String>,
    #[serde(default)]
    original_consumer_allowed: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    backend: Option<String>,
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngagementIndex {
    owner: Option<String>,
    #[serde(default)]
    owner_aliases: Vec<String>,
    notify_initial_backoff_ms: Option<u64>,
    notify_max_backoff_ms: Option<u64>,
    get_updates_max_residents: Option<usize>,
    #[serde(default)]
    subscribers: Vec<RawSubscriber>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscriber {
    logical_address: String,
    #[serde(default)]
    service_domains: Vec<String>,
    #[serde(default)]
    categorizations: Vec<String>,
}

/// Default store file, relative to the configuration file's folder.
pub const DEFAULT_STORE_PATH: &str = "vaxel-data/vaxel.db";

/// Default HSA id of the engagement index (`[engagement_index] owner`).
pub const DEFAULT_EI_OWNER: &str = "SE0000000000-VAXEL-EI";

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from (for messages).
    pub origin: PathBuf,
    /// This gateway's instance id: in faultstrings, `x-vp-instance-id` and routing history.
    pub instance_id: String,
    pub service: ServiceConfig,
    pub admin_listen: Option<SocketAddr>,
    pub producers: ProducerConfig,
    pub routing: RoutingConfig,
    pub identity: IdentityConfig,
    pub aggregation: AggregationConfig,
    pub store: StoreConfig,
    pub engagement_index: EngagementIndexConfig,
    pub consent: ConsentConfig,
    pub access_log: AccessLogConfig,
}

/// `[access_log]`: the PDL access log writer (specs/access-log.md). The log lives in the
/// `[store]` database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLogConfig {
    /// Entries that may wait for the writer; when full, callers wait (never dropped).
    pub queue_capacity: usize,
    /// Most entries committed in one transaction.
    pub max_batch: usize,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        AccessLogConfig {
            queue_capacity: 100_000,
            max_batch: 5_000,
        }
    }
}

/// Default header carrying the end user's context (a JWT), `[consent] header`.
pub const DEFAULT_USER_CONTEXT_HEADER: &str = "x-vaxel-user-context";
/// Default role that may use the consent admin API, `[consent] admin_role`.
pub const DEFAULT_CONSENT_ADMIN_ROLE: &str = "consent-admin";
/// Default and largest clock skew allowed on `exp`/`nbf`, `[[consent.issuers]] leeway_s`.
pub const DEFAULT_JWT_LEEWAY_S: u64 = 60;
pub const MAX_JWT_LEEWAY_S: u64 = 300;

/// `[consent]`: consent, blocks and emergency access under SVOD/PDL (specs/user-context.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentConfig {
    /// `false` (the default): no user context is read and nothing is filtered.
    pub enabled: bool,
    /// Header with the user context JWT (lower case).
    pub header: http::HeaderName,
    pub admin_role: String,
    /// Reload the in-memory consent index from the store this often (several gateway
    /// nodes on one database); `None`: only this node's own writes update it.
    pub index_reload: Option<Duration>,
    pub issuers: Vec<IssuerConfig>,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            enabled: false,
            header: http::HeaderName::from_static(DEFAULT_USER_CONTEXT_HEADER),
            admin_role: DEFAULT_CONSENT_ADMIN_ROLE.to_string(),
            index_reload: None,
            issuers: Vec::new(),
        }
    }
}

/// Where an issuer's verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKeys {
    /// Asymmetric keys (RS*, PS*, ES*, EdDSA): a PEM public key and/or a JWKS file.
    Public {
        pem: Option<PathBuf>,
        /// The `kid` tokens signed with the PEM key carry (if any).
        pem_kid: Option<String>,
        jwks: Option<PathBuf>,
    },
    /// HS256/384/512 with a shared secret (file contents, trailing newline removed).
    HmacSecret(PathBuf),
}

/// `[[consent.issuers]]`: one trusted token issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// Exact `iss` value.
    pub issuer: String,
    /// Accepted `aud` values (one must be in the token).
    pub audience: Vec<String>,
    /// Pinned algorithms, all of one key family.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    pub keys: IssuerKeys,
    /// Allowed clock skew on `exp` and `nbf`.
    pub leeway: Duration,
}

/// Aggregated journal queries (specs/aggregation.md).
#[derive(Debug, Clone)]
pub struct AggregationConfig {
    /// The whole aggregated call, fan-out included, ends within this time.
    pub deadline: Duration,
}

/// Which database holds the gateway's durable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreBackend {
    /// Embedded SQLite file (the default; one gateway node).
    Sqlite,
}

/// `[store]`: the durable state (engagements, notification outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// The database file (SQLite).
    pub path: PathBuf,
}

/// `[engagement_index]`: the local engagement index service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementIndexConfig {
    /// The index's own HSA id: written as `owner` of every engagement it accepts with
    /// Update (Update-R6), and the logical address Update must be sent to (Update-R7).
    pub owner: String,
    /// Other logical addresses accepted for Update-R7 (skltp/ei's alternative HSA id).
    pub owner_aliases: Vec<String>,
    /// First retry delay of a failed notification; doubled per attempt.
    pub notify_initial_backoff: Duration,
    /// Longest retry delay of a failed notification.
    pub notify_max_backoff: Duration,
    /// Residents per GetUpdates answer before `responseIsComplete` is false.
    pub get_updates_max_residents: usize,
    pub subscribers: Vec<SubscriberConfig>,
}

impl Default for EngagementIndexConfig {
    fn default() -> Self {
        EngagementIndexConfig {
            owner: DEFAULT_EI_OWNER.to_string(),
            owner_aliases: Vec::new(),
            notify_initial_backoff: Duration::from_millis(1_000),
            notify_max_backoff: Duration::from_millis(300_000),
            get_updates_max_residents: 500,
            subscribers: Vec::new(),
        }
    }
}

/// An engagement index that is sent ProcessNotification for accepted changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    pub logical_address: String,
    /// Empty: every service domain. Matched case-insensitively (as skltp/ei).
    pub service_domains: Vec<String>,
    /// Empty: every categorization. Matched case-insensitively.
    pub categorizations: Vec<String>,
}

impl SubscriberConfig {
    /// Whether an engagement with this service domain and categorization is sent here.
    pub fn wants(&self, service_domain: &str, categorization: &str) -> bool {
        (self.service_domains.is_empty()
            || self
                .service_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(service_domain)))
            && (self.categorizations.is_empty()
                || self
                    .categorizations
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(categorization)))
    }
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

#[derive(Debug, Clone)]
pub struct RoutingConfig {
    pub source: PathBuf,
    pub last_known_good: PathBuf,
    pub vars: Vec<(String, String)>,
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
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let v = Validator { path, base: &base };

        let instance_id = raw.instance_id.unwrap_or_else(|| "vaxel".to_string());
        v.check(
            "instance_id",
            !instance_id.trim().is_empty()
                && !instance_id.contains(',')
                && instance_id.chars().all(|c| c.is_ascii_graphic()),
            "must be a non-empty id of printable ASCII without spaces or commas (it goes into x-rivta-routing-history)",
        )?;

        let s = raw.service;
        let threads = match s.threads {
            None | Some(0) => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            Some(n) if n <= 1024 => n,
            Some(_) => return Err(v.invalid("service.threads", "must be 0 (one per core) to 1024")),
        };
        let max_body_bytes = s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        v.check(
            "service.max_body_bytes",
            max_body_bytes >= 1024,
            "must be at least 1024 bytes",
        )?;
        let max_envelope_head_bytes = s.max_envelope_head_bytes.unwrap_or(256 * 1024);
        v.check(
            "service.max_envelope_head_bytes",
            (512..=16 * 1024 * 1024).contains(&max_envelope_head_bytes),
            "must be between 512 and 16777216 bytes",
        )?;
        let service = ServiceConfig {
            listen: v.socket_addr("service.listen", &s.listen)?,
            threads,
            max_body_bytes,
            max_envelope_head_bytes,
            max_element_depth: match s.max_element_depth {
                None => 64,
                Some(n) if (4..=1024).contains(&n) => n,
                Some(_) => {
                    return Err(v.invalid(
                        "service.max_element_depth",
                        "must be between 4 and 1024 (an envelope head needs 4 levels)",
                    ))
                }
            },
            envelope_head_timeout: v.millis(
                "service.envelope_head_timeout_ms",
                s.envelope_head_timeout_ms,
                30_000,
            )?,
            tls_handshake_timeout: v.millis(
                "service.tls_handshake_timeout_ms",
                s.tls_handshake_timeout_ms,
                10_000,
            )?,
            body_idle_timeout: v.millis(
                "service.body_idle_timeout_ms",
                s.body_idle_timeout_ms,
                30_000,
            )?,
            header_read_timeout: v.millis(
                "service.header_read_timeout_ms",
                s.header_read_timeout_ms,
                30_000,
            )?,
            max_connections: v.count("service.max_connections", s.max_connections, 10_000)?,
            max_concurrent_requests: v.count(
                "service.max_concurrent_requests",
                s.max_concurrent_requests,
                4_096,
            )?,
            certificate: v.existing_file("service.tls.certificate", &s.tls.certificate)?,
            private_key: v.existing_file("service.tls.private_key", &s.tls.private_key)?,
            client_ca: v.existing_file("service.tls.client_ca", &s.tls.client_ca)?,
        };

        let admin_listen = match raw.admin {
            Some(a) => Some(v.socket_addr("admin.listen", &a.listen)?),
            None => None,
        };

        let p = raw.producers;
        let producers = ProducerConfig {
            certificate: v.existing_file("producers.certificate", &p.certificate)?,
            private_key: v.existing_file("producers.private_key", &p.private_key)?,
            ca: v.existing_file("producers.ca", &p.ca)?,
            connect_timeout: v.millis(
                "producers.connect_timeout_ms",
                p.connect_timeout_ms,
                2_000,
            )?,
            default_response_timeout: v.millis(
                "producers.default_response_timeout_ms",
                p.default_response_timeout_ms,
                29_000,
            )?,
            pool_idle_timeout: v.millis(
                "producers.pool_idle_timeout_ms",
                p.pool_idle_timeout_ms,
                20_000,
            )?,
            pool_max_idle_per_host: p.pool_max_idle_per_host.unwrap_or(256),
        };

        let r = raw.routing;
        v.check(
            "routing.source",
            !r.source.trim().is_empty(),
            "must name the routing table file",
        )?;
        let source = v.resolve(&r.source);
        let last_known_good = match r.last_known_good {
            Some(p) => v.resolve(&p),
            None => {
                let mut name = source
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                name.push(".last-known-good");
                source.with_file_name(name)
            }
        };
        let routing = RoutingConfig {
            source,
            last_known_good,
            vars: r.vars.into_iter().collect(),
        };

        let mut trusted = Vec::new();
        for (i, a) in raw.identity.trusted_header_addresses.iter().enumerate() {
            let ip: IpAddr = a.parse().map_err(|_| {
                v.invalid(
                    &format!("identity.trusted_header_addresses[{i}]"),
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
            deadline: v.millis(
                "aggregation.deadline_ms",
                raw.aggregation.deadline_ms,
                crate::aggregate::DEFAULT_DEADLINE.as_millis() as u64,
            )?,
        };
        let store = v.store(raw.store)?;
        let engagement_index = v.engagement_index(raw.engagement_index)?;
        let consent = v.consent(raw.consent)?;
        let defaults = AccessLogConfig::default();
        let access_log = AccessLogConfig {
            queue_capacity: v.count(
                "access_log.queue_capacity",
                raw.access_log.queue_capacity,
                defaults.queue_capacity,
            )?,
            max_batch: v.count(
                "access_log.max_batch",
                raw.access_log.max_batch,
                defaults.max_batch,
            )?,
        };

        Ok(Config {
            origin: path.to_path_buf(),
            instance_id,
            service,
            admin_listen,
            producers,
            routing,
            identity,
            aggregation,
            store,
            engagement_index,
            consent,
            access_log,
        })
    }
}

struct Validator<'a> {
    path: &'a Path,
    base: &'a Path,
}

impl Validator<'_> {
    fn invalid(&self, key: &str, problem: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            problem: problem.to_string(),
        }
    }

    fn check(&self, key: &str, ok: bool, problem: &str) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(key, problem))
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn existing_file(&self, key: &str, p: &str) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(p);
        if path.is_file() {
            Ok(path)
        } else {
            Err(self.invalid(
                key,
                &format!(
                    "file {} does not exist or is not a file (relative paths are resolved against the configuration file's folder)",
                    path.display()
                ),
            ))
        }
    }

    fn socket_addr(&self, key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
        s.parse().map_err(|_| {
            self.invalid(
                key,
                &format!("`{s}` is not an address:port (e.g. \"0.0.0.0:8443\" or \"[::1]:8443\")"),
            )
        })
    }

    fn count(&self, key: &str, v: Option<usize>, default: usize) -> Result<usize, ConfigError> {
        let n = v.unwrap_or(default);
        if n == 0 || n > 10_000_000 {
            return Err(self.invalid(key, "must be between 1 and 10000000"));
        }
        Ok(n)
    }

    fn store(&self, raw: RawStore) -> Result<StoreConfig, ConfigError> {
        let backend = match raw.backend.as_deref() {
            None | Some("sqlite") => StoreBackend::Sqlite,
            Some(other) => {
                return Err(self.invalid(
                    "store.backend",
                    &format!(
                        "`{other}` is not a supported store backend; the only one is \"sqlite\""
                    ),
                ))
            }
        };
        let path = raw.path.unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
        self.check(
            "store.path",
            !path.trim().is_empty(),
            "must name the database file",
        )?;
        Ok(StoreConfig {
            backend,
            path: self.resolve(&path),
        })
    }

    fn engagement_index(
        &self,
        raw: RawEngagementIndex,
    ) -> Result<EngagementIndexConfig, ConfigError> {
        let hsa_id =
            |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic());
        let owner = raw.owner.unwrap_or_else(|| DEFAULT_EI_OWNER.to_string());
        self.check(
            "engagement_index.owner",
            hsa_id(&owner),
            "must be the engagement index's HSA id: 1-64 printable ASCII characters without spaces",
        )?;
        for (i, a) in raw.owner_aliases.iter().enumerate() {
            self.check(
                &format!("engagement_index.owner_aliases[{i}]"),
                hsa_id(a),
                "must be an HSA id: 1-64 printable ASCII characters without spaces",
            )?;
        }
        let notify_initial_backoff = self.millis(
            "engagement_index.notify_initial_backoff_ms",
            raw.notify_initial_backoff_ms,
            1_000,
        )?;
        let notify_max_backoff = self.millis(
            "engagement_index.notify_max_backoff_ms",
            raw.notify_max_backoff_ms,
            300_000,
        )?;
        self.check(
            "engagement_index.notify_max_backoff_ms",
            notify_max_backoff >= notify_initial_backoff,
            "must not be smaller than engagement_index.notify_initial_backoff_ms",
        )?;
        let get_updates_max_residents = self.count(
            "engagement_index.get_updates_max_residents",
            raw.get_updates_max_residents,
            500,
        )?;
        let mut subscribers: Vec<SubscriberConfig> = Vec::new();
        for (i, s) in raw.subscribers.into_iter().enumerate() {
            let key = format!("engagement_index.subscribers[{i}]");
            self.check(
                &format!("{key}.logical_address"),
                hsa_id(&s.logical_address),
                "must be the subscriber's logical address: 1-64 printable ASCII characters without spaces",
            )?;
            self.check(
                &format!("{key}.logical_address"),
                !subscribers
                    .iter()
                    .any(|o| o.logical_address.eq_ignore_ascii_case(&s.logical_address)),
                &format!(
                    "`{}` is listed twice: merge the filters into one entry",
                    s.logical_address
                ),
            )?;
            self.check(
                &format!("{key}.service_domains"),
                s.service_domains.iter().all(|d| !d.trim().is_empty()),
                "must not contain empty names (leave the list empty for every domain)",
            )?;
            self.check(
                &format!("{key}.categorizations"),
                s.categorizations.iter().all(|c| !c.trim().is_empty()),
                "must not contain empty names (leave the list empty for every categorization)",
            )?;
            subscribers.push(SubscriberConfig {
                logical_address: s.logical_address,
                service_domains: s.service_domains,
                categorizations: s.categorizations,
            });
        }
        Ok(EngagementIndexConfig {
            owner,
            owner_aliases: raw.owner_aliases,
            notify_initial_backoff,
            notify_max_backoff,
            get_updates_max_residents,
            subscribers,
        })
    }

    fn consent(&self, raw: RawConsent) -> Result<ConsentConfig, ConfigError> {
        use jsonwebtoken::{Algorithm, AlgorithmFamily};
        let d = ConsentConfig::default();
        let header = match raw.header {
            None => d.header,
            Some(h) => {
                http::HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).map_err(|_| {
                    self.invalid(
                        "consent.header",
                        &format!("`{h}` is not an HTTP header name"),
                    )
                })?
            }
        };
        self.check(
            "consent.header",
            header != http::header::AUTHORIZATION,
            "`authorization` is always read (Bearer); name a different header or leave the default",
        )?;
        let admin_role = raw.admin_role.unwrap_or(d.admin_role);
        self.check(
            "consent.admin_role",
            !admin_role.trim().is_empty(),
            "must not be empty",
        )?;
        let index_reload = match raw.index_reload_s {
            None | Some(0) => None,
            Some(s) if s <= 86_400 => Some(Duration::from_secs(s)),
            Some(_) => {
                return Err(
                    self.invalid("consent.index_reload_s", "must be 0 (off) to 86400 seconds")
                )
            }
        };
        let mut issuers: Vec<IssuerConfig> = Vec::new();
        for (i, r) in raw.issuers.into_iter().enumerate() {
            let key = format!("consent.issuers[{i}]");
            self.check(
                &format!("{key}.issuer"),
                !r.issuer.trim().is_empty(),
                "must be the exact `iss` value of the tokens",
            )?;
            self.check(
                &format!("{key}.issuer"),
                !issuers.iter().any(|o| o.issuer == r.issuer),
                &format!(
                    "`{}` is listed twice: put all its keys in one entry",
                    r.issuer
                ),
            )?;
            self.check(
                &format!("{key}.audience"),
                !r.audience.is_empty() && r.audience.iter().all(|a| !a.trim().is_empty()),
                "must list the accepted `aud` values (e.g. [\"vaxel\"])",
            )?;
            self.check(
                &format!("{key}.algorithms"),
                !r.algorithms.is_empty(),
                "must pin the algorithms, e.g. [\"RS256\"] or [\"ES256\"]",
            )?;
            let mut algorithms = Vec::new();
            for a in &r.algorithms {
                let alg: Algorithm = a.parse().map_err(|_| {
                    self.invalid(
                        &format!("{key}.algorithms"),
                        &format!("`{a}` is not a supported JWS algorithm (none is never accepted); use e.g. RS256, PS256, ES256, EdDSA or, with hmac_secret_file, HS256"),
                    )
                })?;
                algorithms.push(alg);
            }
            let family = algorithms[0].family();
            self.check(
                &format!("{key}.algorithms"),
                algorithms.iter().all(|a| a.family() == family),
                "must all be of one key family (RSA, EC, EdDSA or HMAC): a key type must match its algorithm; use a second issuer entry for another family",
            )?;
            let keys = if family == AlgorithmFamily::Hmac {
                self.check(
                    &format!("{key}.hmac_secret_file"),
                    r.public_key_pem.is_none() && r.jwks_file.is_none(),
                    "HS* algorithms take only hmac_secret_file; public keys are never used as HMAC secrets",
                )?;
                let f = r.hmac_secret_file.ok_or_else(|| {
                    self.invalid(
                        &format!("{key}.hmac_secret_file"),
                        "HS* algorithms are accepted only with an explicit shared secret file",
                    )
                })?;
                IssuerKeys::HmacSecret(self.existing_file(&format!("{key}.hmac_secret_file"), &f)?)
            } else {
                self.check(
                    &format!("{key}.hmac_secret_file"),
                    r.hmac_secret_file.is_none(),
                    "only for HS* algorithms",
                )?;
                self.check(
                    &format!("{key}.public_key_pem"),
                    r.public_key_pem.is_some() || r.jwks_file.is_some(),
                    "set public_key_pem and/or jwks_file",
                )?;
                self.check(
                    &format!("{key}.public_key_kid"),
                    r.public_key_kid.is_none() || r.public_key_pem.is_some(),
                    "only with public_key_pem",
                )?;
                IssuerKeys::Public {
                    pem: r
                        .public_key_pem
                        .map(|p| self.existing_file(&format!("{key}.public_key_pem"), &p))
                        .transpose()?,
                    pem_kid: r.public_key_kid,
                    jwks: r
                        .jwks_file
                        .map(|p| self.existing_file(&format!("{key}.jwks_file"), &p))
                        .transpose()?,
                }
            };
            let leeway_s = r.leeway_s.unwrap_or(DEFAULT_JWT_LEEWAY_S);
            self.check(
                &format!("{key}.leeway_s"),
                leeway_s <= MAX_JWT_LEEWAY_S,
                &format!("must be 0 to {MAX_JWT_LEEWAY_S} seconds (bounded clock skew)"),
            )?;
            issuers.push(IssuerConfig {
                issuer: r.issuer,
                audience: r.audience,
                algorithms,
                keys,
                leeway: Duration::from_secs(leeway_s),
            });
        }
        let enabled = raw.enabled.unwrap_or(false);
        self.check(
            "consent.issuers",
            !enabled || !issuers.is_empty(),
            "consent is enabled but no [[consent.issuers]] is configured: no user context could ever be verified",
        )?;
        Ok(ConsentConfig {
            enabled,
            header,
            admin_role,
            index_reload,
            issuers,
        })
    }

    fn millis(&self, key: &str, v: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
        let ms = v.unwrap_or(default);
        if ms == 0 || ms > 3_600_000 {
            return Err(self.invalid(key, "must be between 1 and 3600000 milliseconds"));
        }
        Ok(Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("[store]\nbackend = \"postgres\"", "store.backend", "only one is \"sqlite\""),
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
