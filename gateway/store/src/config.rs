//! `[store]`: which database holds the gateway's durable state (specs/configuration.md).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

/// Default store file, relative to the configuration file's folder.
pub const DEFAULT_STORE_PATH: &str = "vaxel-data/vaxel.db";

/// Which database holds the gateway's durable state. Deliberately exhaustive: the one
/// place that opens a backend (the binary's `stores` module) must name every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// Embedded SQLite file (the default; one gateway node).
    Sqlite,
    /// One PostgreSQL database shared by several gateway nodes.
    Postgres,
}

/// `[store]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// The database file (SQLite).
    pub path: PathBuf,
    /// The database server (PostgreSQL); `Some` exactly when `backend` is `Postgres`.
    pub postgres: Option<PostgresConfig>,
}

/// TLS to the database server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresTls {
    /// Plain TCP (a database on the same host or a private network).
    Disable,
    /// Encrypted, the server's certificate not checked (libpq's `sslmode=require`).
    Require,
    /// Encrypted, the server's certificate checked against `ca` (or the system's roots)
    /// and the host name (libpq's `sslmode=verify-full`).
    VerifyFull { ca: Option<PathBuf> },
}

/// `[store]` for `backend = "postgres"`, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user@host:port/database` (a password in the URL is allowed but
    /// discouraged: use `password_file` or `password_env`).
    pub url: String,
    /// From `password_file` or `password_env`, when given.
    pub password: Option<String>,
    /// The schema vaxel's tables live in (created when missing).
    pub schema: String,
    /// Connections per node.
    pub pool_size: usize,
    /// Connecting (TCP + TLS + authentication).
    pub connect_timeout: Duration,
    /// Waiting for a free pooled connection.
    pub acquire_timeout: Duration,
    /// Longest statement (the server cancels it).
    pub statement_timeout: Duration,
    pub tls: PostgresTls,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.display_url())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl PostgresConfig {
    /// A configuration with the documented defaults for `url` and `schema` (tests,
    /// benchmarks).
    pub fn new(url: &str, schema: &str) -> PostgresConfig {
        PostgresConfig {
            url: url.to_string(),
            password: None,
            schema: schema.to_string(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            acquire_timeout: Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            tls: PostgresTls::Disable,
        }
    }

    /// The URL without any password in it (for logs and errors).
    pub fn display_url(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &self.url[scheme + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                format!(
                    "{}{}@{}",
                    &self.url[..scheme + 3],
                    user,
                    &self.url[at + 1..]
                )
            }
            _ => self.url.clone(),
        }
    }
}

pub const DEFAULT_POOL_SIZE: usize = 16;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_SCHEMA: &str = "vaxel";

/// `[store]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {
    backend: Option<String>,
    path: Option<String>,
    url: Option<String>,
    password_file: Option<String>,
    password_env: Option<String>,
    schema: Option<String>,
    pool_size: Option<usize>,
    connect_timeout_ms: Option<u64>,
    acquire_timeout_ms: Option<u64>,
    statement_timeout_ms: Option<u64>,
    tls: Option<String>,
    tls_ca: Option<String>,
}

impl RawStoreConfig {
    /// Validate in `section` (`store`).
    pub fn validate(self, section: &Section<'_>) -> Result<StoreConfig, ConfigError> {
        let backend = match self.backend.as_deref() {
            None | Some("sqlite") => StoreBackend::Sqlite,
            Some("postgres" | "postgresql") => StoreBackend::Postgres,
            Some(other) => {
                return Err(section.invalid(
                    "backend",
                    &format!(
                        "`{other}` is not a supported store backend: \"sqlite\" (one node) or \"postgres\" (several nodes)"
                    ),
                ))
            }
        };
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
        section.check(
            "path",
            !path.trim().is_empty(),
            "must name the database file",
        )?;
        let postgres = match backend {
            StoreBackend::Sqlite => {
                let pg_only = [
                    ("url", self.url.is_some()),
                    ("password_file", self.password_file.is_some()),
                    ("password_env", self.password_env.is_some()),
                    ("schema", self.schema.is_some()),
                    ("pool_size", self.pool_size.is_some()),
                    ("tls", self.tls.is_some()),
                    ("tls_ca", self.tls_ca.is_some()),
                ];
                if let Some((key, _)) = pg_only.iter().find(|(_, set)| *set) {
                    return Err(section.invalid(
                        key,
                        "is a PostgreSQL setting: set backend = \"postgres\" or remove it",
                    ));
                }
                None
            }
            StoreBackend::Postgres => Some(self.postgres(section)?),
        };
        Ok(StoreConfig {
            backend,
            path: section.resolve(&path),
            postgres,
        })
    }

    fn postgres(self, section: &Section<'_>) -> Result<PostgresConfig, ConfigError> {
        let Some(url) = self.url else {
            return Err(section.invalid(
                "url",
                "is required with backend = \"postgres\" (e.g. \"postgres://vaxel@db.example:5432/vaxel\")",
            ));
        };
        section.check(
            "url",
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "must be a postgres:// URL",
        )?;
        let password = match (self.password_file, self.password_env) {
            (Some(_), Some(_)) => {
                return Err(section.invalid(
                    "password_env",
                    "set either password_file or password_env, not both",
                ))
            }
            (Some(file), None) => {
                let path = section.resolve(&file);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    section.invalid(
                        "password_file",
                        &format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let password = text.trim_end_matches(['\r', '\n']).to_string();
                section.check("password_file", !password.is_empty(), "the file is empty")?;
                Some(password)
            }
            (None, Some(var)) => match std::env::var(&var) {
                Ok(p) if !p.is_empty() => Some(p),
                _ => {
                    return Err(section.invalid(
                        "password_env",
                        &format!("the environment variable {var} is not set (or empty)"),
                    ))
                }
            },
            (None, None) => None,
        };
        let schema = self.schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
        section.check(
            "schema",
            is_identifier(&schema),
            "must be a plain lower-case SQL identifier (a-z, 0-9, _; not starting with a digit; at most 63 characters)",
        )?;
        let pool_size = self.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        section.check(
            "pool_size",
            (1..=1000).contains(&pool_size),
            "must be 1 to 1000",
        )?;
        let ms = |key: &str, v: Option<u64>, default: u64| -> Result<Duration, ConfigError> {
            let v = v.unwrap_or(default);
            section.check(
                key,
                (100..=600_000).contains(&v),
                "must be 100 to 600000 ms",
            )?;
            Ok(Duration::from_millis(v))
        };
        let connect_timeout = ms(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            DEFAULT_CONNECT_TIMEOUT_MS,
        )?;
        let acquire_timeout = ms(
            "acquire_timeout_ms",
            self.acquire_timeout_ms,
            DEFAULT_ACQUIRE_TIMEOUT_MS,
        )?;
        let statement_timeout = ms(
            "statement_timeout_ms",
            self.statement_timeout_ms,
            DEFAULT_STATEMENT_TIMEOUT_MS,
        )?;
        let tls = match (self.tls.as_deref(), self.tls_ca) {
            (None | Some("disable"), None) => PostgresTls::Disable,
            (Some("require"), None) => PostgresTls::Require,
            (Some("verify-full"), ca) => PostgresTls::VerifyFull {
                ca: ca.map(|c| section.resolve(&c)),
            },
            (None | Some("disable" | "require"), Some(_)) => {
                return Err(section.invalid("tls_ca", "is used only with tls = \"verify-full\""))
            }
            (Some(other), _) => {
                return Err(section.invalid(
                    "tls",
                    &format!("`{other}` is not one of \"disable\", \"require\", \"verify-full\""),
                ))
            }
        };
        Ok(PostgresConfig {
            url,
            password,
            schema,
            pool_size,
            connect_timeout,
            acquire_timeout,
            statement_timeout,
            tls,
        })
    }
}

/// A schema name that is safe to write into SQL unquoted.
fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_hides_the_password() {
        let c = PostgresConfig::new("postgres://vaxel:s3cret@db:5432/vaxel", "vaxel");
        assert_eq!(c.display_url(), "postgres://vaxel@db:5432/vaxel");
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = PostgresConfig::new("postgres://db/vaxel", "vaxel");
        assert_eq!(c.display_url(), "postgres://db/vaxel");
    }

    fn parse(dir: &std::path::Path, text: &str) -> Result<StoreConfig, String> {
        let file = dir.join("vaxel.toml");
        let raw: RawStoreConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        raw.validate(&Section::root(&file).nested("store"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn postgres_settings_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let c = parse(
            dir.path(),
            r#"backend = "postgres"
url = "postgres://vaxel@db:5432/vaxel"
password_file = "pw"
pool_size = 8
statement_timeout_ms = 2000
tls = "verify-full"
tls_ca = "ca.pem""#,
        )
        .unwrap();
        assert_eq!(c.backend, StoreBackend::Postgres);
        let pg = c.postgres.unwrap();
        assert_eq!(pg.password.as_deref(), Some("s3cret"), "newline removed");
        assert_eq!(pg.schema, DEFAULT_SCHEMA);
        assert_eq!(pg.pool_size, 8);
        assert_eq!(pg.statement_timeout, Duration::from_millis(2000));
        assert_eq!(
            pg.tls,
            PostgresTls::VerifyFull {
                ca: Some(dir.path().join("ca.pem"))
            }
        );
        assert_eq!(
            parse(dir.path(), "").unwrap().backend,
            StoreBackend::Sqlite,
            "SQLite stays the default"
        );
        let refused = [
            (r#"backend = "postgres""#, "store.url"),
            (r#"backend = "mysql""#, "not a supported store backend"),
            (
                r#"backend = "postgres"
url = "mysql://x""#,
                "postgres:// URL",
            ),
            (r#"url = "postgres://db/x""#, "set backend = \"postgres\""),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
password_file = "pw"
password_env = "PW""#,
                "not both",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
password_file = "missing""#,
                "cannot read",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
password_env = "VAXEL_TEST_SURELY_UNSET_VARIABLE""#,
                "is not set",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
schema = "Vaxel; DROP""#,
                "store.schema",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
pool_size = 0"#,
                "store.pool_size",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
tls = "require"
tls_ca = "ca.pem""#,
                "verify-full",
            ),
            (
                r#"backend = "postgres"
url = "postgres://db/x"
tls = "prefer""#,
                "store.tls",
            ),
        ];
        for (text, needle) in refused {
            let err = parse(dir.path(), text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_identifier("vaxel"));
        assert!(is_identifier("vaxel_test_12"));
        for bad in ["", "1abc", "Vaxel", "a-b", "a;drop", "a b", &"x".repeat(64)] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
