//! `[consent]` and `[access_log]`: SVOD/PDL consent checking and the access log writer
//! (specs/configuration.md, specs/user-context.md, specs/access-log.md).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

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

/// `[consent]` and `[access_log]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessLogConfig {
    queue_capacity: Option<usize>,
    max_batch: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsentConfig {
    enabled: Option<bool>,
    header: Option<String>,
    admin_role: Option<String>,
    index_reload_s: Option<u64>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
}

/// One `[[consent.issuers]]` (or `[[citizen.issuers]]`) entry as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIssuer {
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

impl RawConsentConfig {
    /// Validate in `s` (`consent`).
    pub fn validate(self, s: &Section<'_>) -> Result<ConsentConfig, ConfigError> {
        let raw = self;
        let d = ConsentConfig::default();
        let header = match raw.header {
            None => d.header,
            Some(h) => http::HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
                .map_err(|_| s.invalid("header", &format!("`{h}` is not an HTTP header name")))?,
        };
        s.check(
            "header",
            header != http::header::AUTHORIZATION,
            "`authorization` is always read (Bearer); name a different header or leave the default",
        )?;
        let admin_role = raw.admin_role.unwrap_or(d.admin_role);
        s.check(
            "admin_role",
            !admin_role.trim().is_empty(),
            "must not be empty",
        )?;
        let index_reload = match raw.index_reload_s {
            None | Some(0) => None,
            Some(s) if s <= 86_400 => Some(Duration::from_secs(s)),
            Some(_) => return Err(s.invalid("index_reload_s", "must be 0 (off) to 86400 seconds")),
        };
        let issuers = validate_issuers(raw.issuers, s)?;
        let enabled = raw.enabled.unwrap_or(false);
        s.check(
            "issuers",
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
}

/// `[[<section>.issuers]]` (`consent`, `citizen`): the trusted token issuers, each with
/// its audience, pinned algorithms of one key family, keys and leeway
/// (specs/configuration.md "`[[consent.issuers]]`"; the citizen's issuers have the same
/// shape).
pub(crate) fn validate_issuers(
    raw: Vec<RawIssuer>,
    s: &Section<'_>,
) -> Result<Vec<IssuerConfig>, ConfigError> {
    use jsonwebtoken::{Algorithm, AlgorithmFamily};
    let mut issuers: Vec<IssuerConfig> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let key = format!("issuers[{i}]");
        s.check(
            &format!("{key}.issuer"),
            !r.issuer.trim().is_empty(),
            "must be the exact `iss` value of the tokens",
        )?;
        s.check(
            &format!("{key}.issuer"),
            !issuers.iter().any(|o| o.issuer == r.issuer),
            &format!(
                "`{}` is listed twice: put all its keys in one entry",
                r.issuer
            ),
        )?;
        s.check(
            &format!("{key}.audience"),
            !r.audience.is_empty() && r.audience.iter().all(|a| !a.trim().is_empty()),
            "must list the accepted `aud` values (e.g. [\"vaxel\"])",
        )?;
        s.check(
            &format!("{key}.algorithms"),
            !r.algorithms.is_empty(),
            "must pin the algorithms, e.g. [\"RS256\"] or [\"ES256\"]",
        )?;
        let mut algorithms = Vec::new();
        for a in &r.algorithms {
            let alg: Algorithm = a.parse().map_err(|_| {
                s.invalid(
                    &format!("{key}.algorithms"),
                    &format!("`{a}` is not a supported JWS algorithm (none is never accepted); use e.g. RS256, PS256, ES256, EdDSA or, with hmac_secret_file, HS256"),
                )
            })?;
            algorithms.push(alg);
        }
        let family = algorithms[0].family();
        s.check(
            &format!("{key}.algorithms"),
            algorithms.iter().all(|a| a.family() == family),
            "must all be of one key family (RSA, EC, EdDSA or HMAC): a key type must match its algorithm; use a second issuer entry for another family",
        )?;
        let keys = if family == AlgorithmFamily::Hmac {
            s.check(
                &format!("{key}.hmac_secret_file"),
                r.public_key_pem.is_none() && r.jwks_file.is_none(),
                "HS* algorithms take only hmac_secret_file; public keys are never used as HMAC secrets",
            )?;
            let f = r.hmac_secret_file.ok_or_else(|| {
                s.invalid(
                    &format!("{key}.hmac_secret_file"),
                    "HS* algorithms are accepted only with an explicit shared secret file",
                )
            })?;
            IssuerKeys::HmacSecret(s.existing_file(&format!("{key}.hmac_secret_file"), &f)?)
        } else {
            s.check(
                &format!("{key}.hmac_secret_file"),
                r.hmac_secret_file.is_none(),
                "only for HS* algorithms",
            )?;
            s.check(
                &format!("{key}.public_key_pem"),
                r.public_key_pem.is_some() || r.jwks_file.is_some(),
                "set public_key_pem and/or jwks_file",
            )?;
            s.check(
                &format!("{key}.public_key_kid"),
                r.public_key_kid.is_none() || r.public_key_pem.is_some(),
                "only with public_key_pem",
            )?;
            IssuerKeys::Public {
                pem: r
                    .public_key_pem
                    .map(|p| s.existing_file(&format!("{key}.public_key_pem"), &p))
                    .transpose()?,
                pem_kid: r.public_key_kid,
                jwks: r
                    .jwks_file
                    .map(|p| s.existing_file(&format!("{key}.jwks_file"), &p))
                    .transpose()?,
            }
        };
        let leeway_s = r.leeway_s.unwrap_or(DEFAULT_JWT_LEEWAY_S);
        s.check(
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
    Ok(issuers)
}

impl RawAccessLogConfig {
    /// Validate in `s` (`access_log`).
    pub fn validate(self, s: &Section<'_>) -> Result<AccessLogConfig, ConfigError> {
        let defaults = AccessLogConfig::default();
        Ok(AccessLogConfig {
            queue_capacity: s.count(
                "queue_capacity",
                self.queue_capacity,
                defaults.queue_capacity,
            )?,
            max_batch: s.count("max_batch", self.max_batch, defaults.max_batch)?,
        })
    }
}
