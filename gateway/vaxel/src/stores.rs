//! The one place that chooses the store backend (`[store] backend`): every store trait
//! of `vaxel-store` comes from the backend opened here, and nothing else in the gateway
//! names a backend.

use vaxel_store::{StoreBackend, StoreConfig, StoreError, Stores};

/// Open (creating and migrating when needed) every store of the configured backend.
/// Call it on the runtime that will use the stores (the PostgreSQL backend starts its
/// change listener there).
pub async fn open(config: &StoreConfig) -> Result<Stores, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => vaxel_store_sqlite::open(&config.path),
        StoreBackend::Postgres => vaxel_store_postgres::open(postgres(config)?).await,
    }
}

/// The configured stores, for tools that only read: refuses a database that does not
/// exist yet instead of creating an empty (and trivially intact) one.
pub async fn open_existing(config: &StoreConfig) -> Result<Stores, String> {
    match config.backend {
        StoreBackend::Sqlite if !config.path.is_file() => Err(format!(
            "no database at {} (store.path); nothing to read",
            config.path.display()
        )),
        StoreBackend::Sqlite => open(config).await.map_err(|e| e.to_string()),
        StoreBackend::Postgres => {
            let pg = postgres(config).map_err(|e| e.to_string())?;
            if !vaxel_store_postgres::schema_exists(pg)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "no vaxel schema `{}` in {} (store.schema); nothing to read",
                    pg.schema,
                    pg.display_url()
                ));
            }
            open(config).await.map_err(|e| e.to_string())
        }
    }
}

/// Where the store is, for messages: the file, or the database URL (without password).
pub fn describe(config: &StoreConfig) -> String {
    match (&config.backend, &config.postgres) {
        (StoreBackend::Postgres, Some(pg)) => {
            format!("{} schema {} (store.url)", pg.display_url(), pg.schema)
        }
        _ => format!("{} (store.path)", config.path.display()),
    }
}

fn postgres(config: &StoreConfig) -> Result<&vaxel_store::PostgresConfig, StoreError> {
    config.postgres.as_ref().ok_or_else(|| StoreError::Open {
        path: "[store]".into(),
        reason: "backend = \"postgres\" without its settings".into(),
    })
}
