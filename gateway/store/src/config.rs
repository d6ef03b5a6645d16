//! `[store]`: which database holds the gateway's durable state (specs/configuration.md).

use std::path::PathBuf;

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
}

/// `[store]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// The database file (SQLite).
    pub path: PathBuf,
}

/// `[store]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {
    backend: Option<String>,
    path: Option<String>,
}

impl RawStoreConfig {
    /// Validate in `section` (`store`).
    pub fn validate(self, section: &Section<'_>) -> Result<StoreConfig, ConfigError> {
        let backend = match self.backend.as_deref() {
            None | Some("sqlite") => StoreBackend::Sqlite,
            Some(other) => {
                return Err(section.invalid(
                    "backend",
                    &format!(
                        "`{other}` is not a supported store backend; the only one is \"sqlite\""
                    ),
                ))
            }
        };
        let path = self.path.unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
        section.check(
            "path",
            !path.trim().is_empty(),
            "must name the database file",
        )?;
        Ok(StoreConfig {
            backend,
            path: section.resolve(&path),
        })
    }
}
