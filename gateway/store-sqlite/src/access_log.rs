//! [`AccessLogStore`] on SQLite (specs/access-log.md): an append-only, hash-chained
//! table in the same file as the rest of the store, with its own connections (the
//! access log has its own writer thread in `vaxel-pdl`, so access-log commits never wait
//! on the other writer's mutex; SQLite serialises the two writers at the file level and
//! WAL lets readers run meanwhile).
//!
//! The schema has its own migration track (`access_log_schema_version`).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vaxel_store::access_log::{
    chain_hash, AccessLogEntry, AccessLogQuery, AccessLogStore, ChainHead, IndexState, Order,
    StoredAccessLogRow, Subject, GENESIS_PREV_HASH,
};
use vaxel_store::{Result, StoreError};

use crate::{backend, run_blocking, Connections};

/// An entry as the chain stores it: the hashed canonical bytes and the indexed fields.
#[derive(Debug)]
struct EncodedEntry {
    time_ms: i64,
    patient_id: String,
    user_hsa_id: String,
    bytes: Vec<u8>,
}

/// Migrations of the access log tables, applied in order; never edit a released step.
const ACCESS_LOG_MIGRATIONS: &[&str] = &[
    // 1: the chained log, review indexes and append-only triggers.
    "CREATE TABLE access_log (
        seq INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        user_hsa_id TEXT NOT NULL,
        entry BLOB NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL
    );
    -- 'Who has read my data' (PDL 8:1 patient's right to the log extract).
    CREATE INDEX access_log_patient ON access_log (patient_id, time_ms);
    -- Follow-up of one user's accesses (PDL 4:3 systematic review).
    CREATE INDEX access_log_user ON access_log (user_hsa_id, time_ms);
    -- Review by period.
    CREATE INDEX access_log_time ON access_log (time_ms);
    -- Append-only: guards against mistakes in our own code, not against someone with
    -- write access to the file (that is what the hash chain is for).
    CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
    CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;",
    // 2: the patient and user indexes leave the durable path. Indexes on random keys
    // dirty a random page per entry in every commit (5.6 KB written per 485-byte entry);
    // the chain table alone is appended in rowid order. The review index is derived
    // data, filled behind the chain in sorted batches up to the persisted
    // `indexed_upto`; queries scan the chain above it. The time index stays (its keys
    // arrive in order: appends go to its last page).
    "DROP INDEX access_log_patient;
    DROP INDEX access_log_user;
    CREATE TABLE access_log_by_patient (
        patient_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (patient_id, time_ms, seq)
    ) WITHOUT ROWID;
    CREATE TABLE access_log_by_user (
        user_hsa_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (user_hsa_id, time_ms, seq)
    ) WITHOUT ROWID;
    CREATE TABLE access_log_indexed (indexed_upto INTEGER NOT NULL);
    INSERT INTO access_log_by_patient (patient_id, time_ms, seq)
        SELECT patient_id, time_ms, seq FROM access_log ORDER BY patient_id, time_ms, seq;
    INSERT INTO access_log_by_user (user_hsa_id, time_ms, seq)
        SELECT user_hsa_id, time_ms, seq FROM access_log ORDER BY user_hsa_id, time_ms, seq;
    INSERT INTO access_log_indexed (indexed_upto)
        SELECT COALESCE(MAX(seq), 0) FROM access_log;",
];

/// Page cache of the writer connection, in KiB (SQLite's negative `cache_size`): large
/// enough that the index pages a sorted batch touches stay cached between batches.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages after which a commit checkpoints (SQLite's default is 1000).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 1000;

/// SQLite-backed [`AccessLogStore`] on the store's database file, with connections of
/// its own. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteAccessLogStore {
    inner: Arc<Connections>,
}

impl SqliteAccessLogStore {
    /// Open (or create) the database file with WAL + `synchronous=FULL` (same settings
    /// as [`crate::SqliteStore`]) and migrate the access log tables.
    pub fn open(path: &Path) -> Result<SqliteAccessLogStore> {
        Self::open_with_pragmas(path, "")
    }

    /// [`SqliteAccessLogStore::open`], then `pragmas` (e.g. `PRAGMA cache_size=-2000;`)
    /// on the writer connection. For benchmarks that compare settings.
    #[doc(hidden)]
    pub fn open_with_pragmas(path: &Path, pragmas: &str) -> Result<SqliteAccessLogStore> {
        let inner = Connections::open(path, "access log", |writer| {
            let pragma_err = |e: rusqlite::Error| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            writer
                .execute_batch(&format!(
                    "PRAGMA cache_size=-{WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};"
                ))
                .map_err(pragma_err)?;
            writer.execute_batch(pragmas).map_err(pragma_err)?;
            migrate(writer)
        })?;
        Ok(SqliteAccessLogStore {
            inner: Arc::new(inner),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connections) -> Result<T> + Send + 'static,
    {
        run_blocking(&self.inner, f).await
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    crate::run_migrations(
        conn,
        "access_log_schema_version",
        "access log",
        ACCESS_LOG_MIGRATIONS,
    )
}

fn head_of(conn: &Connection) -> Result<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(ChainHead {
            seq: 0,
            hash: GENESIS_PREV_HASH,
        }),
        Some((seq, hash)) => {
            let damaged = || {
                StoreError::Backend(format!(
                    "the access log head (seq {seq}) is damaged; run `vaxel pdl-verify`"
                ))
            };
            Ok(ChainHead {
                seq: u64::try_from(seq).map_err(|_| damaged())?,
                hash: hash.try_into().map_err(|_| damaged())?,
            })
        }
    }
}

impl Connections {
    /// Append already encoded entries (encoded by the caller, off the blocking pool).
    fn append_access_log(&self, entries: &[EncodedEntry]) -> Result<ChainHead> {
        let mut conn = self.writer()?;
        // Index transactions run with synchronous=NORMAL on this connection; make sure a
        // failed switch back can never make a chain commit non-durable.
        conn.execute_batch("PRAGMA synchronous=FULL")
            .map_err(backend)?;
        // IMMEDIATE: take the write lock before reading the head, so that no other
        // writer (another process on the same file) can extend the chain in between.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let mut head = head_of(&tx)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO access_log (seq, time_ms, patient_id, user_hsa_id, entry, prev_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(backend)?;
            for e in entries {
                let seq = head.seq + 1;
                let hash = chain_hash(&head.hash, seq, &e.bytes);
                insert
                    .execute(params![
                        i64::try_from(seq).map_err(|_| StoreError::Backend(
                            "access log sequence exhausted".into()
                        ))?,
                        e.time_ms,
                        e.patient_id,
                        e.user_hsa_id,
                        e.bytes,
                        &head.hash[..],
                        &hash[..],
                    ])
                    .map_err(backend)?;
                head = ChainHead { seq, hash };
            }
        }
        tx.commit().map_err(backend)?;
        Ok(head)
    }

    fn access_log_rows(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredAccessLogRow>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, time_ms, patient_id, user_hsa_id, entry, prev_hash, hash \
                 FROM access_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![after_seq, limit], |r| {
                Ok(StoredAccessLogRow {
                    seq: r.get(0)?,
                    time_ms: r.get(1)?,
                    patient_id: r.get(2)?,
                    user_hsa_id: r.get(3)?,
                    entry: r.get(4)?,
                    prev_hash: r.get(5)?,
                    hash: r.get(6)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn access_log_seq_of_hash(&self, hash: &[u8]) -> Result<Option<i64>> {
        let conn = self.reader()?;
        conn.query_row(
            "SELECT seq FROM access_log WHERE hash = ?1 ORDER BY seq LIMIT 1",
            [hash],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)
    }

    fn query_access_log(&self, q: &AccessLogQuery) -> Result<Vec<(u64, AccessLogEntry)>> {
        let from = q.from.map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
        let to = q.to.map(|t| t.timestamp_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        // Each half of the union yields at most the rows up to the end of the page.
        let upto = limit.saturating_add(offset);
        let conn = self.reader()?;
        let sql = query_sql(&q.subject, q.order);
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let row = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?));
        let rows = match &q.subject {
            Subject::Patient(key) | Subject::User(key) => {
                stmt.query_map(params![key, from, to, limit, offset, upto], row)
            }
            Subject::Everyone => stmt.query_map(params![from, to, limit, offset], row),
        }
        .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, bytes) = row.map_err(backend)?;
            let entry = AccessLogEntry::from_canonical(&bytes).map_err(|e| {
                StoreError::Backend(format!(
                    "access log entry {seq} cannot be read ({e}); run `vaxel pdl-verify`"
                ))
            })?;
            out.push((u64::try_from(seq).unwrap_or(0), entry));
        }
        Ok(out)
    }

    fn index_access_log(&self, max_entries: usize) -> Result<IndexState> {
        let mut conn = self.writer()?;
        // Derived data: no fsync of its own (a later chain commit's fsync covers these WAL
        // frames; if the process or machine dies first, the entries are indexed again).
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(backend)?;
        let result = index_batch(&mut conn, max_entries);
        let restore = conn
            .execute_batch("PRAGMA synchronous=FULL")
            .map_err(backend);
        let state = result?;
        restore?;
        Ok(state)
    }

    fn check_access_log_index(&self) -> Result<Option<(u64, String)>> {
        let conn = self.reader()?;
        // One read transaction: the index and its mark as of one moment.
        conn.execute_batch("BEGIN").map_err(backend)?;
        let result = check_index(&conn);
        let _ = conn.execute_batch("COMMIT");
        result
    }
}

#[async_trait]
impl AccessLogStore for SqliteAccessLogStore {
    async fn append_access_log(&self, entries: &[AccessLogEntry]) -> Result<ChainHead> {
        // Encoding is CPU work on the caller's thread; the blocking pool only writes.
        let encoded: Vec<EncodedEntry> = entries
            .iter()
            .map(|e| EncodedEntry {
                time_ms: e.time_ms(),
                patient_id: e.patient_id.clone(),
                user_hsa_id: e.user_hsa_id.clone(),
                bytes: e.canonical_bytes(),
            })
            .collect();
        self.run(move |s| s.append_access_log(&encoded)).await
    }

    async fn access_log_head(&self) -> Result<ChainHead> {
        self.run(|s| head_of(&*s.reader()?)).await
    }

    async fn access_log_rows(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredAccessLogRow>> {
        self.run(move |s| s.access_log_rows(after_seq, limit)).await
    }

    async fn access_log_seq_of_hash(&self, hash: &[u8]) -> Result<Option<i64>> {
        let hash = hash.to_vec();
        self.run(move |s| s.access_log_seq_of_hash(&hash)).await
    }

    async fn query_access_log(&self, query: &AccessLogQuery) -> Result<Vec<(u64, AccessLogEntry)>> {
        let query = query.clone();
        self.run(move |s| s.query_access_log(&query)).await
    }

    async fn index_access_log(&self, max_entries: usize) -> Result<IndexState> {
        self.run(move |s| s.index_access_log(max_entries)).await
    }

    async fn check_access_log_index(&self) -> Result<Option<(u64, String)>> {
        self.run(|s| s.check_access_log_index()).await
    }
}

/// The review query for `subject` in `order`. Parameters: ?1 the patient or user, ?2 from
/// (ms, inclusive), ?3 to (ms, exclusive), ?4 limit, ?5 offset, ?6 limit + offset (for
/// everyone: ?1 from, ?2 to, ?3 limit, ?4 offset). One statement, so one read snapshot: the review index up to
/// `indexed_upto` and the chain rows above it (at most the un-indexed tail, see the
/// writer's bound), merged in (time, seq) order. The text depends only on the subject's
/// kind and the order, so the statement cache holds six.
fn query_sql(subject: &Subject, order: Order) -> String {
    let dir = match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    };
    let (index, column) = match subject {
        Subject::Patient(_) => ("access_log_by_patient", "patient_id"),
        Subject::User(_) => ("access_log_by_user", "user_hsa_id"),
        Subject::Everyone => {
            return format!(
                "SELECT seq, entry FROM access_log INDEXED BY access_log_time \
                 WHERE time_ms >= ?1 AND time_ms < ?2 \
                 ORDER BY time_ms {dir}, seq {dir} LIMIT ?3 OFFSET ?4"
            )
        }
    };
    format!(
        "SELECT seq, entry FROM (
           SELECT * FROM (
             SELECT a.seq AS seq, a.time_ms AS time_ms, a.entry AS entry
             FROM {index} i JOIN access_log a ON a.seq = i.seq
             WHERE i.{column} = ?1 AND i.time_ms >= ?2 AND i.time_ms < ?3
               AND i.seq <= (SELECT indexed_upto FROM access_log_indexed)
             ORDER BY i.time_ms {dir}, i.seq {dir} LIMIT ?6)
           UNION ALL
           SELECT * FROM (
             SELECT seq, time_ms, entry FROM access_log NOT INDEXED
             WHERE seq > (SELECT indexed_upto FROM access_log_indexed)
               AND {column} = ?1 AND time_ms >= ?2 AND time_ms < ?3
             ORDER BY time_ms {dir}, seq {dir} LIMIT ?6))
         ORDER BY time_ms {dir}, seq {dir} LIMIT ?4 OFFSET ?5"
    )
}

fn indexed_upto(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT indexed_upto FROM access_log_indexed", [], |r| {
        r.get(0)
    })
    .map_err(backend)
}

fn index_batch(conn: &mut Connection, max_entries: usize) -> Result<IndexState> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let upto = indexed_upto(&tx)?;
    let head = head_of(&tx)?.seq;
    let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
    let mut rows: Vec<(i64, i64, String, String)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, time_ms, patient_id, user_hsa_id FROM access_log \
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![upto, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)?
    };
    let Some(new_upto) = rows.last().map(|r| r.0) else {
        tx.commit().map_err(backend)?;
        return Ok(IndexState {
            indexed_upto: u64::try_from(upto).unwrap_or(0),
            head,
        });
    };
    {
        // Sorted by key: consecutive inserts land on the same leaf page, so a batch
        // writes each touched page once instead of one random page per entry. OR IGNORE:
        // the whole row is the key, so an existing equal row is the row we would write (a
        // stray row planted above the mark must not stop indexing; verify reports it).
        rows.sort_unstable_by(|a, b| (&a.2, a.1, a.0).cmp(&(&b.2, b.1, b.0)));
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO access_log_by_patient (patient_id, time_ms, seq) VALUES (?1, ?2, ?3)",
            )
            .map_err(backend)?;
        for (seq, time_ms, patient, _) in &rows {
            insert
                .execute(params![patient, time_ms, seq])
                .map_err(backend)?;
        }
        rows.sort_unstable_by(|a, b| (&a.3, a.1, a.0).cmp(&(&b.3, b.1, b.0)));
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO access_log_by_user (user_hsa_id, time_ms, seq) VALUES (?1, ?2, ?3)",
            )
            .map_err(backend)?;
        for (seq, time_ms, _, user) in &rows {
            insert
                .execute(params![user, time_ms, seq])
                .map_err(backend)?;
        }
        tx.execute(
            "UPDATE access_log_indexed SET indexed_upto = ?1",
            [new_upto],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(IndexState {
        indexed_upto: u64::try_from(new_upto).unwrap_or(0),
        head,
    })
}

fn check_index(conn: &Connection) -> Result<Option<(u64, String)>> {
    let upto = indexed_upto(conn)?;
    let head = head_of(conn)?.seq;
    if upto < 0 || upto as u64 > head {
        return Ok(Some((
            head + 1,
            format!("indexed_upto is {upto}, beyond the newest entry {head}"),
        )));
    }
    let first = |sql: &str| -> Result<Option<u64>> {
        conn.query_row(sql, [upto], |r| r.get::<_, i64>(0))
            .optional()
            .map(|s| s.map(|s| u64::try_from(s).unwrap_or(0)))
            .map_err(backend)
    };
    let mut problems = Vec::new();
    for (table, column) in [
        ("access_log_by_patient", "patient_id"),
        ("access_log_by_user", "user_hsa_id"),
    ] {
        // An index row that points nowhere, at another patient/user or time, or above
        // the mark.
        let stray = format!(
            "SELECT i.seq FROM {table} i LEFT JOIN access_log a ON a.seq = i.seq \
             WHERE a.seq IS NULL OR a.{column} IS NOT i.{column} OR a.time_ms IS NOT i.time_ms \
                OR i.seq > ?1 ORDER BY i.seq LIMIT 1"
        );
        if let Some(seq) = first(&stray)? {
            problems.push((
                seq,
                format!("a row of {table} does not match the entry it points at"),
            ));
        }
        // An entry up to the mark without its index row (review queries would miss it).
        let missing = format!(
            "SELECT a.seq FROM access_log a WHERE a.seq <= ?1 AND NOT EXISTS \
             (SELECT 1 FROM {table} i WHERE i.{column} = a.{column} AND i.time_ms = a.time_ms \
              AND i.seq = a.seq) ORDER BY a.seq LIMIT 1"
        );
        if let Some(seq) = first(&missing)? {
            problems.push((seq, format!("the entry has no row in {table}")));
        }
    }
    Ok(problems.into_iter().min_by_key(|p| p.0))
}
