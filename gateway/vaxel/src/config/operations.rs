//! The operator-facing sections: `[admin]` (the admin listener and how it is
//! protected), `[log]` (format, level, request lines) and `[metrics]`
//! (specs/configuration.md, specs/metrics.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, Section};

/// The role an operator's token must carry by default, `[admin] operator_role`.
pub const DEFAULT_OPERATOR_ROLE: &str = "operator";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    listen: String,
    tls: Option<RawAdminTls>,
    #[serde(default)]
    require_token: bool,
    operator_role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdminTls {
    certificate: String,
    private_key: String,
    client_ca: String,
}

/// The admin listener (`/health`, `/ready`, `/metrics`, `/dashboard`, `/status`,
/// `/admin/*`, the consent and access-log APIs).
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// Mutual TLS on the admin listener: clients need a certificate from `client_ca`.
    pub tls: Option<AdminTls>,
    /// Every path but `/health` and `/ready` needs an operator's JWT (verified against
    /// `[[consent.issuers]]`) carrying `operator_role`.
    pub require_token: bool,
    pub operator_role: String,
}

#[derive(Debug, Clone)]
pub struct AdminTls {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub client_ca: PathBuf,
}

impl RawAdmin {
    pub(super) fn validate(self, s: &Section<'_>) -> Result<AdminConfig, ConfigError> {
        let listen = s.socket_addr("listen", &self.listen)?;
        let tls = match self.tls {
            None => None,
            Some(t) => {
                let ts = s.nested("tls");
                Some(AdminTls {
                    certificate: ts.existing_file("certificate", &t.certificate)?,
                    private_key: ts.existing_file("private_key", &t.private_key)?,
                    client_ca: ts.existing_file("client_ca", &t.client_ca)?,
                })
            }
        };
        // The admin listener reloads routing, edits consents and shows traffic: off the
        // loopback interface it must authenticate its clients.
        s.check(
            "listen",
            listen.ip().is_loopback() || tls.is_some() || self.require_token,
            &format!(
                "the admin listener on {listen} would be reachable from other machines without protection: bind it to 127.0.0.1, or set [admin] tls (mutual TLS) or require_token = true (an operator JWT)"
            ),
        )?;
        let operator_role = self
            .operator_role
            .unwrap_or_else(|| DEFAULT_OPERATOR_ROLE.to_string());
        s.check(
            "operator_role",
            !operator_role.trim().is_empty(),
            "must not be empty",
        )?;
        Ok(AdminConfig {
            listen,
            tls,
            require_token: self.require_token,
            operator_role,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    format: Option<String>,
    level: Option<String>,
    requests: Option<bool>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, one line per event (a terminal).
    Text,
    /// One JSON object per line (a log collector).
    Json,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives, e.g. `info` or `info,vaxel_pdl=debug`; `RUST_LOG`
    /// wins at start, `PUT /admin/log-level` changes it at run time.
    pub level: String,
    /// One line per request at info (target `vaxel::request`).
    pub requests: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_string(),
            requests: true,
        }
    }
}

impl RawLog {
    pub(super) fn validate(self, s: &Section<'_>) -> Result<LogConfig, ConfigError> {
        let d = LogConfig::default();
        let format = match self.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(s.invalid(
                    "format",
                    &format!("\"{other}\" is not a log format: use \"text\" or \"json\""),
                ))
            }
        };
        let level = self.level.unwrap_or(d.level);
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&level) {
            return Err(s.invalid(
                "level",
                &format!("\"{level}\" is not a log filter ({e}): use e.g. \"info\" or \"info,vaxel_pdl=debug\""),
            ));
        }
        Ok(LogConfig {
            format,
            level,
            requests: self.requests.unwrap_or(d.requests),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    enabled: Option<bool>,
}

/// `[metrics]`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Per-request metrics (the request table and latency histograms).
    pub enabled: bool,
}

impl RawMetrics {
    pub(super) fn validate(self) -> MetricsConfig {
        MetricsConfig {
            enabled: self.enabled.unwrap_or(true),
        }
    }
}
