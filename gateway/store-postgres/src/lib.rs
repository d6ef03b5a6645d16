//! The cluster store backend (DESIGN.md "Storage", specs/deployment.md): every trait of
//! `vaxel-store` on one PostgreSQL database that several stateless gateway nodes share.
//! It passes the store crate's compliance suites unchanged (`cargo test -p
//! vaxel-store-postgres`, against the server named by `VAXEL_TEST_POSTGRES_URL`, by
//! default the one on 127.0.0.1:5432).
//!
//! - A pool of connections (deadpool-postgres over tokio-postgres), each with the
//!   configured schema as its `search_path`, a statement timeout, and prepared statements
//!   cached per connection; waiting for a connection is bounded, so a database that is
//!   away gives a store error in bounded time, never a hang.
//! - Migrations per store (own track each, as on SQLite), run at start-up under an
//!   advisory lock, so several nodes starting at once migrate once; a database newer
//!   than this build is refused ([`StoreError::SchemaTooNew`]).
//! - Work sharing between nodes: outbox and SDK claims lock rows with `FOR UPDATE SKIP
//!   LOCKED` and lease them; the access-log chain head is one row, locked by each append,
//!   so several writers keep one chain; the SDK inbox's duplicate check is a unique key.
//! - Changes reach every node ([`cluster`]): consent and block writes and routing reloads
//!   are published with `NOTIFY`, and every node `LISTEN`s.
#![forbid(unsafe_code)]

mod access_log;
pub mod cluster;
mod consents;
mod engagements;
mod migrate;
mod sdk;
pub mod test_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use vaxel_store::config::{PostgresConfig, PostgresTls};
use vaxel_store::{Result, StoreError, Stores};

pub use cluster::PgCluster;

/// Open the stores on the configured database: connect, create the schema when missing,
/// migrate every store's tables, and start listening for other nodes' changes.
pub async fn open(config: &PostgresConfig) -> Result<Stores> {
    let store = PgStore::connect(config).await?;
    store.migrate_all().await?;
    let cluster = Arc::new(PgCluster::start(config, store.clone()).await?);
    let store = Arc::new(store);
    Ok(Stores {
        engagements: store.clone(),
        outbox: store.clone(),
        consents: store.clone(),
        access_log: store.clone(),
        sdk: store,
        cluster,
    })
}

/// Whether the configured schema holds a vaxel store already (read-only tools refuse to
/// create one).
pub async fn schema_exists(config: &PostgresConfig) -> Result<bool> {
    let store = PgStore::connect(config).await?;
    let client = store.client().await?;
    let row = client
        .query_one(
            "SELECT to_regclass(quote_ident($1) || '.vaxel_schema_version') IS NOT NULL",
            &[&config.schema],
        )
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

/// Every store on one connection pool. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: String,
    io: Arc<IoRuntime>,
}

/// The runtime that drives the store's connections. tokio-postgres runs each
/// connection's socket on a task spawned where the connection was made; made on a
/// caller's runtime (a service core, the access-log writer's own runtime), it would run
/// only while that runtime runs, and every other user of the pooled connection would
/// wait. So connections are made, and the listener runs, here: two threads that do
/// nothing but database I/O.
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    fn start() -> Result<IoRuntime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vaxel-pg-io")
            .enable_all()
            .build()
            .map(|rt| IoRuntime(Some(rt)))
            .map_err(|e| StoreError::Backend(format!("cannot start the database I/O runtime: {e}")))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle(),
            None => unreachable_runtime(),
        }
    }
}

#[cold]
fn unreachable_runtime() -> ! {
    // `.0` is `None` only inside `drop`.
    panic!("the database I/O runtime was used after it was dropped")
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        // Dropped from async code too (the last store handle of a task): never block.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for IoRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IoRuntime")
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.pool.status();
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("pool_size", &s.size)
            .field("pool_available", &s.available)
            .finish()
    }
}

impl PgStore {
    /// A pool on the configured database (no connection is made until the first use;
    /// [`PgStore::migrate_all`] makes the first).
    pub async fn connect(config: &PostgresConfig) -> Result<PgStore> {
        let pg = pg_config(config)?;
        let manager_config = ManagerConfig {
            // A connection that was returned mid-transaction (a cancelled request) is
            // checked before it is handed out again.
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &config.tls {
            PostgresTls::Disable => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
            tls => Manager::from_config(pg, tls_connector(tls)?, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .timeouts(Timeouts {
                wait: Some(config.acquire_timeout),
                create: Some(config.connect_timeout),
                recycle: Some(config.connect_timeout),
            })
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Open {
                path: config.display_url(),
                reason: e.to_string(),
            })?;
        Ok(PgStore {
            pool,
            schema: config.schema.clone(),
            io: Arc::new(IoRuntime::start()?),
        })
    }

    /// Create the schema when missing and bring every store's tables up to date (one
    /// node at a time: an advisory lock).
    pub async fn migrate_all(&self) -> Result<()> {
        let mut client = self.client().await?;
        migrate::run(
            &mut client,
            &self.schema,
            &[
                ("engagements", engagements::MIGRATIONS),
                ("consents", consents::MIGRATIONS),
                ("access_log", access_log::MIGRATIONS),
                ("sdk", sdk::MIGRATIONS),
            ],
        )
        .await
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A pooled connection; waiting is bounded by `acquire_timeout_ms`.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        // On the I/O runtime: a connection made now gets its driver task there.
        let pool = self.pool.clone();
        let got = self
            .io
            .handle()
            .spawn(async move { pool.get().await })
            .await
            .map_err(|e| StoreError::Backend(format!("database connection task failed: {e}")))?;
        got.map_err(|e| {
            let why = match &e {
                deadpool_postgres::PoolError::Backend(pg) => chain(pg),
                other => chain(other),
            };
            StoreError::Backend(format!("the database is not reachable: {why}"))
        })
    }

    /// The runtime the store's connections run on (the change listener runs there too).
    pub(crate) fn io(&self) -> &tokio::runtime::Handle {
        self.io.handle()
    }

    /// Whether the database answers now (`SELECT 1` on a pooled connection).
    pub async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(db)?;
        Ok(())
    }
}

/// The tokio-postgres configuration: the URL, then the password and the connection
/// options from `[store]` (schema as `search_path`, statement timeout, application name).
fn pg_config(config: &PostgresConfig) -> Result<tokio_postgres::Config> {
    let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e| StoreError::Open {
        path: config.display_url(),
        reason: format!("not a valid PostgreSQL URL: {e}"),
    })?;
    if let Some(password) = &config.password {
        pg.password(password.as_bytes());
    }
    if pg.get_application_name().is_none() {
        pg.application_name("vaxel");
    }
    pg.connect_timeout(config.connect_timeout);
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(30));
    pg.options(format!(
        "-c search_path={} -c statement_timeout={} -c idle_in_transaction_session_timeout={} -c client_min_messages=warning",
        config.schema,
        config.statement_timeout.as_millis(),
        // A node that dies mid-transaction (or a stalled one) releases its row locks.
        config.statement_timeout.as_millis().max(1000) * 2,
    ));
    Ok(pg)
}

/// TLS to the database with OpenSSL: `require` encrypts without checking the server's
/// certificate (as libpq's `sslmode=require`); `verify-full` checks it against `ca` (or
/// the system roots) and the host name.
fn tls_connector(tls: &PostgresTls) -> Result<postgres_openssl::MakeTlsConnector> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
    let err = |e: openssl::error::ErrorStack| StoreError::Open {
        path: "[store] tls".into(),
        reason: e.to_string(),
    };
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(err)?;
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(err)?;
    match tls {
        PostgresTls::Disable => {}
        PostgresTls::Require => builder.set_verify(SslVerifyMode::NONE),
        PostgresTls::VerifyFull { ca } => {
            if let Some(ca) = ca {
                builder.set_ca_file(ca).map_err(|e| StoreError::Open {
                    path: ca.display().to_string(),
                    reason: format!("cannot read the database CA file: {e}"),
                })?;
            }
            builder.set_verify(SslVerifyMode::PEER);
        }
    }
    let mut connector = postgres_openssl::MakeTlsConnector::new(builder.build());
    if matches!(tls, PostgresTls::Require) {
        connector.set_callback(|c, _| {
            c.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}

/// An error with its causes ("error performing TLS handshake: ... certificate verify
/// failed"): the pool's and the client's errors keep the useful part in `source()`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A database error as a store error (the text is for the operator's log).
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Backend(format!("{}: {}", d.code().code(), d.message())),
        None => StoreError::Backend(format!("database: {}", chain(&e))),
    }
}

/// A time as stored: UTC milliseconds since the epoch (BIGINT, as on SQLite); before
/// the epoch reads as the epoch.
pub(crate) fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time stored by [`millis`].
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A `LIMIT` value from a count.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDatabase;

    /// The store crate's compliance suites, unchanged, on a fresh schema.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_passes_every_store_compliance_suite() {
        let Some(db) = TestDatabase::create("vx_suite").await else {
            return;
        };
        let stores = open(&db.config).await.unwrap();
        vaxel_store::testkit::run_all(&stores).await;
    }

    /// Two nodes on one database: two access log handles append at once and the log
    /// stays one chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_keep_one_access_log_chain() {
        let Some(db) = TestDatabase::create("vx_chain").await else {
            return;
        };
        let a = open(&db.config).await.unwrap();
        let b = open(&db.config).await.unwrap();
        vaxel_store::testkit::access_log::two_writers_keep_one_chain(
            a.access_log.as_ref(),
            b.access_log.as_ref(),
        )
        .await;
    }

    /// Two nodes on one database: outbox claims never overlap and keep each
    /// destination's order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_never_claim_the_same_outbox_item() {
        let Some(db) = TestDatabase::create("vx_claims").await else {
            return;
        };
        let a = open(&db.config).await.unwrap();
        let b = open(&db.config).await.unwrap();
        vaxel_store::testkit::outbox::concurrent_claimers_share_without_duplicates(vec![
            a.outbox.clone(),
            b.outbox.clone(),
            a.outbox,
            b.outbox,
        ])
        .await;
    }

    /// Several nodes starting at once on an empty schema migrate it once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_starting_together_migrate_once() {
        let Some(db) = TestDatabase::create("vx_migrate").await else {
            return;
        };
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let c = db.config.clone();
                tokio::spawn(async move { open(&c).await.map(|_| ()) })
            })
            .collect();
        for o in opens {
            o.await.unwrap().unwrap();
        }
        let store = PgStore::connect(&db.config).await.unwrap();
        let client = store.client().await.unwrap();
        let rows = client
            .query(
                "SELECT track, version FROM vaxel_schema_version ORDER BY track",
                &[],
            )
            .await
            .unwrap();
        let tracks: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(tracks.len(), 4, "{tracks:?}");
        for (track, version) in &tracks {
            assert!(*version >= 1, "{track} not migrated");
        }
    }

    /// A database migrated by a newer vaxel is refused with the versions named.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_newer_database_is_refused() {
        let Some(db) = TestDatabase::create("vx_newer").await else {
            return;
        };
        drop(open(&db.config).await.unwrap());
        let store = PgStore::connect(&db.config).await.unwrap();
        store
            .client()
            .await
            .unwrap()
            .execute(
                "UPDATE vaxel_schema_version SET version = 999 WHERE track = 'sdk'",
                &[],
            )
            .await
            .unwrap();
        match open(&db.config).await {
            Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    /// A consent write on one node reaches the other node's listener.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consent_write_reaches_the_other_node() {
        use vaxel_store::cluster::ClusterEvent;
        let Some(db) = TestDatabase::create("vx_notify").await else {
            return;
        };
        let a = open(&db.config).await.unwrap();
        let b = open(&db.config).await.unwrap();
        let mut events = b.cluster.subscribe();
        let patient = vaxel_model::ResidentId::parse("191212121212").unwrap();
        let now = chrono::Utc::now();
        a.consents
            .register_block(
                &vaxel_store::consent::NewBlock {
                    patient: patient.clone(),
                    care_giver: Some("SE2321000016-A".into()),
                    care_unit: None,
                    valid_from: now,
                    valid_to: None,
                    registered_by: "test".into(),
                    reason: None,
                },
                now,
            )
            .await
            .unwrap();
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .expect("no notification within 5 s")
            .unwrap();
        assert_eq!(
            event,
            ClusterEvent::ConsentChanged {
                patient: "191212121212".into()
            }
        );
        // A routing reload published by A reaches B, and not A itself (A may still
        // hear the block's consent event: every node hears those).
        let mut own = a.cluster.subscribe();
        a.cluster
            .publish(ClusterEvent::RoutingReload)
            .await
            .unwrap();
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event, ClusterEvent::RoutingReload);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
        while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, own.recv()).await {
            assert_ne!(
                e,
                ClusterEvent::RoutingReload,
                "a node does not hear its own routing reload"
            );
        }
    }

    /// `tls = "require"` encrypts the connection (the server's own view says so).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_require_encrypts_the_connection() {
        let Some(db) = TestDatabase::create("vx_tls").await else {
            return;
        };
        let mut config = db.config.clone();
        config.tls = PostgresTls::Require;
        let store = PgStore::connect(&config).await.unwrap();
        let client = match store.client().await {
            Ok(c) => c,
            Err(e) if e.to_string().contains("SSL") || e.to_string().contains("ssl") => {
                eprintln!("SKIPPED: the test server does not offer TLS: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let row = client
            .query_one(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert!(row.get::<_, bool>(0), "the connection is not encrypted");
        let version: String = row.get(1);
        assert!(version == "TLSv1.2" || version == "TLSv1.3", "{version}");
    }

    /// `tls = "verify-full"` refuses a server whose certificate does not chain to the
    /// configured CA, with an error naming the certificate problem.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_verify_full_refuses_an_unknown_server_certificate() {
        let Some(db) = TestDatabase::create("vx_tlsv").await else {
            return;
        };
        let dir = std::env::temp_dir().join(format!("vx-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        // A CA of our own, which certainly did not issue the server's certificate.
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "not the database CA")
            .unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, b.build().to_pem().unwrap()).unwrap();
        let mut config = db.config.clone();
        config.tls = PostgresTls::VerifyFull { ca: Some(ca) };
        config.acquire_timeout = Duration::from_secs(3);
        let store = PgStore::connect(&config).await.unwrap();
        let err = store.client().await.map(|_| ()).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        if err.contains("does not support TLS") || err.contains("server does not support") {
            eprintln!("SKIPPED: the test server does not offer TLS: {err}");
            return;
        }
        assert!(err.contains("certificate verify failed"), "{err}");
    }
}
