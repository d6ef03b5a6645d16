//! The one place that chooses the store backend (`[store] backend`): every store trait
//! of `vaxel-store` comes from the backend opened here, and nothing else in the gateway
//! names a backend.

use vaxel_store::{StoreBackend, StoreConfig, StoreError, Stores};

/// Open (creating and migrating when needed) every store of the configured backend.
pub fn open(config: &StoreConfig) -> Result<Stores, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => vaxel_store_sqlite::open(&config.path),
    }
}

/// The configured stores, for tools that only read: refuses a database that does not
/// exist yet instead of creating an empty (and trivially intact) one.
pub fn open_existing(config: &StoreConfig) -> Result<Stores, String> {
    match config.backend {
        StoreBackend::Sqlite if !config.path.is_file() => Err(format!(
            "no database at {} (store.path); nothing to read",
            config.path.display()
        )),
        StoreBackend::Sqlite => open(config).map_err(|e| e.to_string()),
    }
}
