//! The embedded store backend (DESIGN.md "Storage"): every trait of `vaxel-store` on one
//! SQLite file (rusqlite, SQLite compiled in). The default, so that `vaxel serve` runs
//! alone; it passes the store crate's compliance suites (`cargo test -p
//! vaxel-store-sqlite`).
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed transaction is on
//! disk (WAL fsynced) before a write returns: an acknowledged update survives `kill -9`
//! and power loss.
//!
//! SQLite blocks on disk: every trait method moves its work to tokio's blocking pool
//! ([`blocking`]), so callers on a core runtime never wait on a file lock or an fsync.
//! Writes go through one connection per store (SQLite has one writer per file anyway);
//! reads use a second one, which WAL lets run while a write is in progress.
//!
//! - [`SqliteStore`]: engagements, the general outbox, consents and blocks, SDK messages
//!   (outgoing with status, inbox);
//! - [`SqliteAccessLogStore`]: the hash-chained access log, with connections of its own
//!   so that access-log commits never wait on the other writer's mutex.
#![forbid(unsafe_code)]

mod access_log;
mod consents;
mod engagements;
mod sdk;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use vaxel_store::{Result, StoreError, Stores};

pub use access_log::SqliteAccessLogStore;

/// Open (or create and migrate) every store in the SQLite file at `path`.
pub fn open(path: &Path) -> Result<Stores> {
    let store = Arc::new(SqliteStore::open(path)?);
    let access_log = Arc::new(SqliteAccessLogStore::open(path)?);
    Ok(Stores {
        engagements: store.clone(),
        outbox: store.clone(),
        consents: store.clone(),
        access_log,
        sdk: store,
        cluster: Arc::new(vaxel_store::LocalCluster::default()),
    })
}

/// Engagements, outbox, consents and blocks, SDK messages in one SQLite file. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Connections>,
}

impl SqliteStore {
    /// Open (or create) the database file, set WAL + `synchronous=FULL` and migrate the
    /// engagement/outbox, consent and SDK schemas. The parent folder is created when missing.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let inner = Connections::open(path, "store", |writer| {
            engagements::migrate(writer)?;
            consents::migrate(writer)?;
            sdk::migrate(writer)
        })?;
        inner.release_all_claims()?;
        Ok(SqliteStore {
            inner: Arc::new(inner),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on the store on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connections) -> Result<T> + Send + 'static,
    {
        run_blocking(&self.inner, f).await
    }
}

/// One writer and one reader connection on a database file (every SQLite store has its
/// own pair; the stores' operations are implemented on it, one module per store).
#[derive(Debug)]
struct Connections {
    path: PathBuf,
    /// Names the store in errors.
    what: &'static str,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl Connections {
    /// Create the folder, open the writer, `setup` it (pragmas, migrations), then open
    /// the reader.
    fn open(
        path: &Path,
        what: &'static str,
        setup: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<Connections> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let writer = connect(path).map_err(|e| open_err(e.to_string()))?;
        setup(&writer)?;
        let reader = connect(path).map_err(|e| open_err(e.to_string()))?;
        Ok(Connections {
            path: path.to_path_buf(),
            what,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, Connection>> {
        self.writer
            .lock()
            .map_err(|_| StoreError::Backend(format!("{} writer connection poisoned", self.what)))
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>> {
        self.reader
            .lock()
            .map_err(|_| StoreError::Backend(format!("{} reader connection poisoned", self.what)))
    }
}

/// Run `f` on `inner` on tokio's blocking pool (SQLite blocks on disk).
async fn run_blocking<T, F>(inner: &Arc<Connections>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Connections) -> Result<T> + Send + 'static,
{
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || f(&inner))
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

/// A connection with the project's durability settings (shared by every SQLite store:
/// engagements, consents, access log).
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL: readers do not block the writer. FULL: the WAL is fsynced at every commit,
    // so a commit that returned is durable (NORMAL could lose it on power loss).
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode WAL not available (got {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    Ok(conn)
}

/// Brings one migration track up to date: `migrations[i]` takes the schema from version
/// `i` to `i + 1`, and `version_table` holds the version reached. Each step commits on
/// its own; a database newer than this build is refused. Every store (engagements,
/// consent, access log) keeps its own track in the shared file.
fn run_migrations(
    conn: &Connection,
    version_table: &str,
    what: &str,
    migrations: &[&str],
) -> Result<()> {
    let db = |e: rusqlite::Error| StoreError::Backend(format!("{what} schema migration: {e}"));
    let read_version = || -> rusqlite::Result<i64> {
        conn.query_row(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {version_table}"),
            [],
            |r| r.get(0),
        )
    };
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {version_table} (version INTEGER NOT NULL)"
    ))
    .map_err(db)?;
    let current = read_version().map_err(db)?;
    let supported = migrations.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        // BEGIN IMMEDIATE + re-check inside: two processes opening a fresh file at once
        // must not both run the step.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let run = || -> rusqlite::Result<()> {
            if read_version()? < version {
                conn.execute_batch(sql)?;
                conn.execute(&format!("DELETE FROM {version_table}"), [])?;
                conn.execute(
                    &format!("INSERT INTO {version_table} (version) VALUES (?1)"),
                    [version],
                )?;
            }
            conn.execute_batch("COMMIT")
        };
        run().map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            db(e)
        })?;
        tracing::info!(version, "{what} schema migrated");
    }
    Ok(())
}

/// A time as stored: UTC milliseconds since the epoch (INTEGER, so SQL compares and
/// indexes it); before the epoch reads as the epoch.
fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time stored by [`millis`].
fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A write transaction that takes the write lock first (IMMEDIATE), so that a commit of
/// another writer on the same file (access log, another process) cannot fail this one
/// half-way (SQLITE_BUSY_SNAPSHOT); busy_timeout then waits for the lock.
fn write_transaction(conn: &Connection) -> Result<rusqlite::Transaction<'_>> {
    rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store crate's compliance suites, unchanged, on a fresh file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_passes_every_store_compliance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir.path().join("sub/vaxel.db")).unwrap();
        vaxel_store::testkit::run_all(&stores).await;
    }

    /// Two gateway processes on one file: two access log handles append at once and the
    /// log stays one chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_access_log_handles_on_one_file_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let a = SqliteAccessLogStore::open(&path).unwrap();
        let b = SqliteAccessLogStore::open(&path).unwrap();
        vaxel_store::testkit::access_log::two_writers_keep_one_chain(&a, &b).await;
    }

    /// One node owns the file: a claim its previous run left (a crash before delivery)
    /// is released when the store is opened again, not held for the lease.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_runs_claims_are_released_at_open() {
        use std::time::{Duration, SystemTime};
        use vaxel_store::outbox::NewOutboxItem;
        use vaxel_store::Outbox;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let first = SqliteStore::open(&path).unwrap();
        first
            .outbox_enqueue(vec![NewOutboxItem {
                queue: "q".into(),
                destination: "d".into(),
                payload: b"p".to_vec(),
            }])
            .await
            .unwrap();
        let lease = Duration::from_secs(3600);
        let claimed = first
            .outbox_claim("q", SystemTime::now(), 10, lease)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        drop(first);
        let again = SqliteStore::open(&path).unwrap();
        let after = again
            .outbox_claim("q", SystemTime::now(), 10, lease)
            .await
            .unwrap();
        assert_eq!(after.len(), 1, "released at open");
        assert_eq!(after[0].id, claimed[0].id);
    }

    /// Two gateway processes on one file: their outbox claims never overlap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_outbox_handles_on_one_file_never_claim_the_same_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let a: Arc<dyn vaxel_store::Outbox> = Arc::new(SqliteStore::open(&path).unwrap());
        let b: Arc<dyn vaxel_store::Outbox> = Arc::new(SqliteStore::open(&path).unwrap());
        vaxel_store::testkit::outbox::concurrent_claimers_share_without_duplicates(vec![a, b])
            .await;
    }
}
