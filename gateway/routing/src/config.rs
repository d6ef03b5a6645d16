//! `[routing]`: where the routing table comes from (specs/configuration.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

/// `[routing]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// The routing table file (TOML or JSON).
    pub source: PathBuf,
    /// Where the last table that loaded is kept, for starts when the source is broken.
    pub last_known_good: PathBuf,
    /// Values for `${NAME}` placeholders in the table.
    pub vars: Vec<(String, String)>,
}

/// `[routing]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoutingConfig {
    source: String,
    last_known_good: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

impl RawRoutingConfig {
    /// Validate in `s` (`routing`).
    pub fn validate(self, s: &Section<'_>) -> Result<RoutingConfig, ConfigError> {
        s.check(
            "source",
            !self.source.trim().is_empty(),
            "must name the routing table file",
        )?;
        let source = s.resolve(&self.source);
        let last_known_good = match self.last_known_good {
            Some(p) => s.resolve(&p),
            None => {
                let mut name = source
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                name.push(".last-known-good");
                source.with_file_name(name)
            }
        };
        Ok(RoutingConfig {
            source,
            last_known_good,
            vars: self.vars.into_iter().collect(),
        })
    }
}
