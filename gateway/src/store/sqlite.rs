//! The embedded SQLite backend (rusqlite, SQLite compiled in).
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed transaction is on
//! disk (WAL fsynced) before `apply_engagement_transactions` returns: an acknowledged
//! update survives `kill -9` and power loss. Writes go through one connection (SQLite
//! has one writer anyway); reads use a second connection, which WAL lets run while a
//! write is in progress.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    ApplyOutcome, ApplyRequest, ChangeKind, EngagementChange, NotificationPlanner, OutboxItem,
    Result, Store, StoreError, SubscriberBacklog, UpdatesPage,
};
use crate::engagement::model::{EiTime, Engagement, EngagementId, FindQuery, ResidentId};

/// Schema migrations, applied in order; `schema_version` records how many ran.
/// Never edit a released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: engagements and the notification outbox.
    "CREATE TABLE engagement (
        id TEXT NOT NULL PRIMARY KEY,
        registered_resident_id TEXT NOT NULL,
        service_domain TEXT NOT NULL,
        categorization TEXT NOT NULL,
        logical_address TEXT NOT NULL,
        business_object_instance_id TEXT NOT NULL,
        clinical_process_interest_id TEXT NOT NULL,
        most_recent_content TEXT,
        source_system TEXT NOT NULL,
        creation_time TEXT NOT NULL,
        update_time TEXT,
        data_controller TEXT NOT NULL,
        owner TEXT NOT NULL,
        changed_at TEXT NOT NULL
    ) WITHOUT ROWID;
    -- FindContent: resident + service domain (+ categorization), as skltp/ei's search index.
    CREATE INDEX engagement_find
        ON engagement (registered_resident_id, service_domain, categorization);
    -- GetUpdates: service domain + changed since.
    CREATE INDEX engagement_updates ON engagement (service_domain, changed_at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscriber TEXT NOT NULL,
        payload BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX outbox_subscriber ON outbox (subscriber, id);
    CREATE INDEX outbox_next_attempt ON outbox (next_attempt_ms);",
];

const ENGAGEMENT_COLUMNS: &str = "registered_resident_id, service_domain, categorization, \
    logical_address, business_object_instance_id, clinical_process_interest_id, \
    most_recent_content, source_system, creation_time, update_time, data_controller, owner";

/// SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (or create) the database file, set WAL + `synchronous=FULL` and migrate the
    /// schema. The parent folder is created when missing.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let writer = connect(path).map_err(|e| open_err(e.to_string()))?;
        migrate(&writer)?;
        let reader = connect(path).map_err(|e| open_err(e.to_string()))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn writer(&self) -> Result<MutexGuard<'_, Connection>> {
        self.writer
            .lock()
            .map_err(|_| StoreError::Backend("writer connection poisoned".into()))
    }

    pub(super) fn reader(&self) -> Result<MutexGuard<'_, Connection>> {
        self.reader
            .lock()
            .map_err(|_| StoreError::Backend("reader connection poisoned".into()))
    }
}

/// A connection with the project's durability settings (shared by every SQLite store:
/// engagements, consents, access log).
pub(super) fn connect(path: &Path) -> rusqlite::Result<Connection> {
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

fn migrate(conn: &Connection) -> Result<()> {
    run_migrations(conn, "schema_version", "store", MIGRATIONS)
}

/// Brings one migration track up to date: `migrations[i]` takes the schema from version
/// `i` to `i + 1`, and `version_table` holds the version reached. Each step commits on
/// its own; a database newer than this build is refused. Every store (engagements,
/// consent, access log) keeps its own track in the shared file.
pub(super) fn run_migrations(
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

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn time_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<EiTime>> {
    let s: Option<String> = row.get(idx)?;
    match s {
        None => Ok(None),
        Some(s) => EiTime::parse(&s).map(Some).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                rusqlite::types::Type::Text,
                "stored time is not yyyyMMddHHmmss".into(),
            )
        }),
    }
}

/// Read an engagement from the 12 [`ENGAGEMENT_COLUMNS`] starting at `at`.
fn engagement_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Engagement> {
    let rri: String = row.get(at)?;
    let rri = ResidentId::parse(&rri).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Text,
            "stored resident id does not match the pattern".into(),
        )
    })?;
    Ok(Engagement {
        registered_resident_identification: rri,
        service_domain: row.get(at + 1)?,
        categorization: row.get(at + 2)?,
        logical_address: row.get(at + 3)?,
        business_object_instance_identifier: row.get(at + 4)?,
        clinical_process_interest_id: row.get(at + 5)?,
        most_recent_content: time_column(row, at + 6)?,
        source_system: row.get(at + 7)?,
        creation_time: time_column(row, at + 8)?,
        update_time: time_column(row, at + 9)?,
        data_controller: row.get(at + 10)?,
        owner: row.get(at + 11)?,
    })
}

fn outbox_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: row.get(0)?,
        subscriber: row.get(1)?,
        payload: row.get(2)?,
        attempts: row.get(3)?,
        next_attempt: from_millis(row.get(4)?),
        last_error: row.get(5)?,
    })
}

impl Store for SqliteStore {
    fn apply_engagement_transactions(
        &self,
        request: ApplyRequest<'_>,
        plan: NotificationPlanner<'_>,
    ) -> Result<ApplyOutcome> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let now = request.now.to_string();
        let mut outcome = ApplyOutcome::default();
        let mut changes = Vec::with_capacity(request.transactions.len());
        {
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE id = ?1"
                ))
                .map_err(backend)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM engagement WHERE id = ?1")
                .map_err(backend)?;
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO engagement (id, {ENGAGEMENT_COLUMNS}, changed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?10)"
                ))
                .map_err(backend)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE engagement SET most_recent_content = ?2, update_time = ?3, \
                     changed_at = ?3 WHERE id = ?1",
                )
                .map_err(backend)?;
            for t in request.transactions {
                let e = &t.engagement;
                if let Some(own) = request.superseded_owner {
                    if !t.delete && e.owner != own {
                        delete
                            .execute([e.id_with_owner(own).as_str()])
                            .map_err(backend)?;
                    }
                }
                let id = e.id();
                let stored = select
                    .query_row([id.as_str()], |r| engagement_from_row(r, 0))
                    .optional()
                    .map_err(backend)?;
                let change = match (t.delete, stored) {
                    (true, Some(stored)) => {
                        delete.execute([id.as_str()]).map_err(backend)?;
                        outcome.deleted += 1;
                        EngagementChange {
                            kind: ChangeKind::Deleted,
                            engagement: stored,
                        }
                    }
                    (true, None) => {
                        outcome.deleted_missing += 1;
                        EngagementChange {
                            kind: ChangeKind::DeletedMissing,
                            engagement: e.clone(),
                        }
                    }
                    (false, None) => {
                        insert
                            .execute(params![
                                id.as_str(),
                                e.registered_resident_identification.as_str(),
                                e.service_domain,
                                e.categorization,
                                e.logical_address,
                                e.business_object_instance_identifier,
                                e.clinical_process_interest_id,
                                e.most_recent_content.map(|t| t.to_string()),
                                e.source_system,
                                now,
                                e.data_controller,
                                e.owner,
                            ])
                            .map_err(backend)?;
                        outcome.created += 1;
                        let mut stored = e.clone();
                        stored.creation_time = Some(request.now);
                        stored.update_time = None;
                        EngagementChange {
                            kind: ChangeKind::Created,
                            engagement: stored,
                        }
                    }
                    (false, Some(mut stored)) => {
                        // None < Some(t): any content time is newer than none.
                        if e.most_recent_content > stored.most_recent_content {
                            update
                                .execute(params![
                                    id.as_str(),
                                    e.most_recent_content.map(|t| t.to_string()),
                                    now
                                ])
                                .map_err(backend)?;
                            outcome.updated += 1;
                            stored.most_recent_content = e.most_recent_content;
                            stored.update_time = Some(request.now);
                            EngagementChange {
                                kind: ChangeKind::Updated,
                                engagement: stored,
                            }
                        } else {
                            outcome.unchanged += 1;
                            EngagementChange {
                                kind: ChangeKind::Unchanged,
                                engagement: stored,
                            }
                        }
                    }
                };
                changes.push(change);
            }
        }
        let items = plan(&changes).map_err(StoreError::Backend)?;
        {
            let now_ms = millis(SystemTime::now());
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO outbox (subscriber, payload, attempts, next_attempt_ms, created_ms) \
                     VALUES (?1, ?2, 0, ?3, ?3)",
                )
                .map_err(backend)?;
            for item in &items {
                insert
                    .execute(params![item.subscriber, item.payload, now_ms])
                    .map_err(backend)?;
            }
        }
        outcome.notifications = items.len();
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn find_engagements(&self, q: &FindQuery) -> Result<Vec<Engagement>> {
        let mut sql = format!(
            "SELECT {ENGAGEMENT_COLUMNS} FROM engagement \
             WHERE registered_resident_id = ?1 AND service_domain = ?2"
        );
        let mut args: Vec<String> = vec![
            q.registered_resident_identification.as_str().to_string(),
            q.service_domain.clone(),
        ];
        let optional = [
            ("categorization", &q.categorization),
            ("logical_address", &q.logical_address),
            (
                "business_object_instance_id",
                &q.business_object_instance_identifier,
            ),
            (
                "clinical_process_interest_id",
                &q.clinical_process_interest_id,
            ),
            ("source_system", &q.source_system),
            ("data_controller", &q.data_controller),
            ("owner", &q.owner),
        ];
        for (column, value) in optional {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        if let Some(t) = q.most_recent_content {
            args.push(t.to_string());
            sql.push_str(&format!(" AND most_recent_content >= ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                engagement_from_row(r, 0)
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE id = ?1"
            ))
            .map_err(backend)?;
        stmt.query_row([id.as_str()], |r| engagement_from_row(r, 0))
            .optional()
            .map_err(backend)
    }

    fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage> {
        let since = since.to_string();
        let after = after_resident.map(ResidentId::as_str).unwrap_or("");
        let conn = self.reader()?;
        let mut residents_stmt = conn
            .prepare_cached(
                "SELECT DISTINCT registered_resident_id FROM engagement \
                 WHERE service_domain = ?1 AND changed_at >= ?2 AND registered_resident_id > ?3 \
                 ORDER BY registered_resident_id LIMIT ?4",
            )
            .map_err(backend)?;
        let limit = i64::try_from(max_residents.saturating_add(1)).unwrap_or(i64::MAX);
        let mut residents: Vec<String> = residents_stmt
            .query_map(params![service_domain, since, after, limit], |r| r.get(0))
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?;
        let complete = residents.len() <= max_residents;
        residents.truncate(max_residents);
        let mut engagements_stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENGAGEMENT_COLUMNS} FROM engagement \
                 WHERE registered_resident_id = ?1 AND service_domain = ?2 AND changed_at >= ?3 \
                 ORDER BY id"
            ))
            .map_err(backend)?;
        let mut page = UpdatesPage {
            residents: Vec::with_capacity(residents.len()),
            complete,
        };
        for rri in residents {
            let engagements = engagements_stmt
                .query_map(params![rri, service_domain, since], |r| {
                    engagement_from_row(r, 0)
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let id = ResidentId::parse(&rri).ok_or_else(|| {
                StoreError::Backend("stored resident id does not match the pattern".into())
            })?;
            page.residents.push((id, engagements));
        }
        Ok(page)
    }

    fn outbox_due(&self, now: SystemTime, limit: usize) -> Result<Vec<OutboxItem>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT o.id, o.subscriber, o.payload, o.attempts, o.next_attempt_ms, o.last_error \
                 FROM outbox o WHERE o.next_attempt_ms <= ?1 AND NOT EXISTS ( \
                   SELECT 1 FROM outbox p WHERE p.subscriber = o.subscriber AND p.id < o.id \
                   AND p.next_attempt_ms > ?1) \
                 ORDER BY o.id LIMIT ?2",
            )
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![millis(now), limit], outbox_from_row)
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn outbox_next_attempt(&self) -> Result<Option<SystemTime>> {
        let conn = self.reader()?;
        let ms: Option<i64> = conn
            .query_row("SELECT MIN(next_attempt_ms) FROM outbox", [], |r| r.get(0))
            .map_err(backend)?;
        Ok(ms.map(from_millis))
    }

    fn outbox_mark_delivered(&self, id: i64) -> Result<()> {
        let conn = self.writer()?;
        conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(backend)?;
        Ok(())
    }

    fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()> {
        let conn = self.writer()?;
        conn.prepare_cached(
            "UPDATE outbox SET next_attempt_ms = ?2, attempts = ?3, last_error = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, millis(next_attempt), attempts, last_error]))
        .map_err(backend)?;
        Ok(())
    }

    fn outbox_len(&self) -> Result<u64> {
        let conn = self.reader()?;
        conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .map_err(backend)
    }

    fn outbox_backlog(&self) -> Result<Vec<SubscriberBacklog>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT o.subscriber, c.n, o.created_ms, o.attempts, o.next_attempt_ms, o.last_error \
                 FROM (SELECT subscriber, COUNT(*) AS n, MIN(id) AS head FROM outbox \
                       GROUP BY subscriber) c \
                 JOIN outbox o ON o.id = c.head ORDER BY o.subscriber",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SubscriberBacklog {
                    subscriber: r.get(0)?,
                    pending: r.get(1)?,
                    oldest: from_millis(r.get(2)?),
                    head_attempts: r.get(3)?,
                    next_attempt: from_millis(r.get(4)?),
                    last_error: r.get(5)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compliance;

    #[test]
    fn sqlite_passes_the_store_compliance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("sub/vaxel.db")).unwrap();
        compliance::run_all(&store);
    }

    #[test]
    fn reopen_keeps_schema_version_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            compliance::apply_one_with_notification(&store, "199001011234", "sub-reopen");
        }
        let store = SqliteStore::open(&path).unwrap();
        let conn = store.reader().unwrap();
        let v: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous must be FULL (2)");
        drop(conn);
        assert_eq!(store.outbox_len().unwrap(), 1);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
            "{err}"
        );
    }

    /// Apply, then leave without closing the connections (no checkpoint, no clean
    /// shutdown: the data lives only in the WAL), reopen: engagements and outbox are there.
    #[test]
    fn applied_batch_survives_an_unclean_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let store = SqliteStore::open(&path).unwrap();
        compliance::apply_one_with_notification(&store, "199001011234", "sub-crash");
        std::mem::forget(store);
        let reopened = SqliteStore::open(&path).unwrap();
        compliance::assert_one_with_notification(&reopened, "199001011234", "sub-crash");
    }

    /// The real thing: a child process applies a batch and aborts (like kill -9)
    /// right after the call returned; the parent reopens the file.
    #[test]
    fn applied_batch_survives_process_abort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::sqlite::tests::crash_child",
                "--include-ignored",
                "--nocapture",
            ])
            .env("VAXEL_CRASH_DB", &path)
            .status()
            .unwrap();
        assert!(!status.success(), "the child must die by abort");
        let store = SqliteStore::open(&path).unwrap();
        compliance::assert_one_with_notification(&store, "199001011235", "sub-abort");
    }

    /// Helper for `applied_batch_survives_process_abort`; does nothing on its own.
    #[test]
    #[ignore = "run by applied_batch_survives_process_abort in a child process"]
    fn crash_child() {
        let Some(path) = std::env::var_os("VAXEL_CRASH_DB") else {
            return;
        };
        let store = SqliteStore::open(Path::new(&path)).unwrap();
        compliance::apply_one_with_notification(&store, "199001011235", "sub-abort");
        std::process::abort();
    }
}
