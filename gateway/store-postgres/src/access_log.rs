//! [`AccessLogStore`] for [`PgStore`] (specs/access-log.md): the append-only,
//! hash-chained PDL access log on the shared database, written by every gateway node at
//! once and still ONE chain.
//!
//! # One chain, several writers
//!
//! The head of the chain (`seq`, `hash` of the newest entry) is kept in a one-row table,
//! `access_log_head`, updated in the same transaction as the entries it heads. Each
//! append transaction starts with `SELECT … FROM access_log_head FOR UPDATE`: the row
//! lock serialises appenders from every node (a second appender waits, and then reads
//! the head the first one committed: a locked row is re-read at its newest version even
//! under `READ COMMITTED`). With the head locked, the node computes the batch's hashes
//! in Rust (`chain_hash`, the same code as every backend and `pdl-verify`), inserts the
//! whole batch with ONE statement that also moves the head (`INSERT … SELECT FROM
//! UNNEST(arrays)` in a CTE, then `UPDATE access_log_head`), and commits. A failed or
//! cancelled append rolls back, so nothing of it is written and the head stays; a node
//! that dies mid-append loses its connection (or hits
//! `idle_in_transaction_session_timeout`), which releases the lock.
//!
//! Round trips per append: `BEGIN`, the lock, the insert, `COMMIT` (four; the lock is
//! held for the last three). The canonical bytes are encoded before the transaction
//! starts, so the lock is never held for encoding. `COMMIT` is durable: the append
//! raises `synchronous_commit` to `on` for its own transaction where it was `off`
//! (pipelined with the lock, no extra round trip) and leaves stronger settings alone,
//! so a committed entry is in the server's fsynced WAL (and, with synchronous
//! replication configured, on the standbys) before the append returns.
//!
//! The head row is the durable record of where the chain continues; the log rows alone
//! still prove the chain (`pdl-verify` walks them with [`AccessLogStore::access_log_rows`]).
//! Removing rows at the tail therefore does not shorten the chain silently: the next
//! append continues after the recorded head and `pdl-verify` reports the gap.
//!
//! # Append-only
//!
//! Triggers refuse `UPDATE`, `DELETE` and `TRUNCATE` on `access_log`, and let the head
//! row only move forward. As on SQLite they guard against mistakes in vaxel's own code,
//! not against someone with write access to the database: that is what the chain and
//! the head recorded outside the database are for.
//!
//! # Review queries: plain B-tree indexes, no derived index tables
//!
//! SQLite keeps its patient and user review index in separate tables filled behind the
//! chain (spec 4.5), because SQLite's WAL logs whole pages: a random-key index insert in
//! the commit path wrote a 4 KiB page per entry. PostgreSQL's WAL logs the index tuple
//! (tens of bytes), writes dirty index pages back later (checkpointer, background
//! writer; never the commit), and adds a full page image only on a page's first change
//! after a checkpoint. Filling derived tables in sorted batches saves little here: each
//! derived table is a heap plus a B-tree, so it costs more in total than an index on the
//! log table (measured on this project's 2-vCPU machine, 1M-entry log: about 14 µs per
//! entry for a sorted 50,000-entry index batch into both tables, against 8–13 µs for the
//! two indexes maintained by the append), and the node's writer would still do that work
//! between appends, stalling `record_durable` callers during each index batch.
//!
//! So the log table carries ordinary B-tree indexes on `(patient_id, time_ms, seq)`,
//! `(user_hsa_id, time_ms, seq)` and `(time_ms, seq)`, maintained by the append: a review
//! query is one index range scan, always complete, with no high-water mark to keep or
//! check. The trait's default [`AccessLogStore::index_access_log`] (always fully
//! indexed) and [`AccessLogStore::check_access_log_index`] (nothing derived to check)
//! are therefore right for this backend. The cost is paid under the head lock: the same
//! measurement appended about 35,000–40,000 entries/s in batches of 1,000 with the
//! indexes, about 70,000–100,000 without (one writer, noisy shared machine). If several
//! nodes ever need more than one lock holder's rate, moving the two random-key indexes
//! off the lock (derived tables, as on SQLite) is the known next step.
//! `access_log_seq_of_hash` (used only to explain a broken link) scans the table.

use std::ops::Range;

use async_trait::async_trait;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;
use vaxel_store::access_log::{
    chain_hash, AccessLogEntry, AccessLogQuery, AccessLogStore, ChainHead, Order,
    StoredAccessLogRow, Subject,
};
use vaxel_store::{Result, StoreError};

use crate::{db, sql_limit, PgStore};

/// Migrations of the access log track, applied in order; never edit a released step.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the chained log, its review indexes, the chain head and the append-only guards.
    "CREATE TABLE access_log (
        seq BIGINT PRIMARY KEY CHECK (seq > 0),
        time_ms BIGINT NOT NULL,
        -- Byte order (\"C\"): the ids are ASCII and only compared for equality, and
        -- the index inserts of every append compare a little faster than under a locale.
        patient_id TEXT COLLATE \"C\" NOT NULL,
        user_hsa_id TEXT COLLATE \"C\" NOT NULL,
        entry BYTEA NOT NULL,
        prev_hash BYTEA NOT NULL,
        hash BYTEA NOT NULL
    );
    -- 'Who has read my data' (PDL 8:1 patient's right to the log extract).
    CREATE INDEX access_log_patient ON access_log (patient_id, time_ms, seq);
    -- Follow-up of one user's accesses (PDL 4:3 systematic review).
    CREATE INDEX access_log_user ON access_log (user_hsa_id, time_ms, seq);
    -- Review by period.
    CREATE INDEX access_log_time ON access_log (time_ms, seq);
    -- The newest entry: locked by every append, so that appends by several nodes
    -- serialise and chain one after the other. Exactly one row.
    CREATE TABLE access_log_head (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq BIGINT NOT NULL CHECK (seq >= 0),
        hash BYTEA NOT NULL CHECK (octet_length(hash) = 32)
    );
    INSERT INTO access_log_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
    -- Append-only: guards against mistakes in our own code, not against someone with
    -- write access to the database (that is what the hash chain is for).
    CREATE FUNCTION access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$;
    CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log
        FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();
    CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
        FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();
    -- The head only moves forward (and is never removed).
    CREATE FUNCTION access_log_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.seq > OLD.seq THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the access log head only moves forward (% refused)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$;
    CREATE TRIGGER access_log_head_forward BEFORE UPDATE OR DELETE ON access_log_head
        FOR EACH ROW EXECUTE FUNCTION access_log_head_forward();
    CREATE TRIGGER access_log_head_no_truncate BEFORE TRUNCATE ON access_log_head
        FOR EACH STATEMENT EXECUTE FUNCTION access_log_head_forward();",
];

/// Make this transaction's commit durable even where `synchronous_commit` was turned
/// off for the database, role or session (`local`, `remote_write`, `on` and
/// `remote_apply` all flush the commit to disk first, and are left as they are).
const ENSURE_DURABLE: &str = "SELECT set_config('synchronous_commit', 'on', true) \
     WHERE current_setting('synchronous_commit') = 'off'";

/// Lock the chain head for this transaction (waits while another node appends).
const LOCK_HEAD: &str = "SELECT seq, hash FROM access_log_head FOR UPDATE";

/// The committed head, without locking.
const READ_HEAD: &str = "SELECT seq, hash FROM access_log_head";

/// A whole batch and the new head in one statement: parallel arrays, one element per
/// entry ($1..$7), and the new head ($8, $9).
const APPEND: &str = "WITH appended AS (
        INSERT INTO access_log (seq, time_ms, patient_id, user_hsa_id, entry, prev_hash, hash)
        SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                             $5::BYTEA[], $6::BYTEA[], $7::BYTEA[])
    )
    UPDATE access_log_head SET seq = $8, hash = $9";

const ROWS_AFTER: &str = "SELECT seq, time_ms, patient_id, user_hsa_id, entry, prev_hash, hash \
     FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2";

const SEQ_OF_HASH: &str = "SELECT seq FROM access_log WHERE hash = $1 ORDER BY seq LIMIT 1";

/// The review query for `subject` in `order`. Parameters: $1 the patient or user, $2
/// from (ms, inclusive), $3 to (ms, exclusive), $4 limit, $5 offset (for everyone: $1
/// from, $2 to, $3 limit, $4 offset). Each is one range scan of its B-tree index, read
/// backwards for newest first. Six texts in all, each prepared once per connection.
fn query_sql(subject: &Subject, order: Order) -> String {
    let dir = match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    };
    match subject {
        Subject::Patient(_) | Subject::User(_) => {
            let column = if matches!(subject, Subject::Patient(_)) {
                "patient_id"
            } else {
                "user_hsa_id"
            };
            format!(
                "SELECT seq, entry FROM access_log \
                 WHERE {column} = $1 AND time_ms >= $2 AND time_ms < $3 \
                 ORDER BY time_ms {dir}, seq {dir} LIMIT $4 OFFSET $5"
            )
        }
        Subject::Everyone => format!(
            "SELECT seq, entry FROM access_log \
             WHERE time_ms >= $1 AND time_ms < $2 \
             ORDER BY time_ms {dir}, seq {dir} LIMIT $3 OFFSET $4"
        ),
    }
}

/// A batch encoded for the chain (before the head is locked): the canonical bytes of
/// every entry in one buffer, and the indexed copies of their fields.
#[derive(Debug)]
struct EncodedBatch<'a> {
    bytes: Vec<u8>,
    ranges: Vec<Range<usize>>,
    time_ms: Vec<i64>,
    patients: Vec<&'a str>,
    users: Vec<&'a str>,
}

impl<'a> EncodedBatch<'a> {
    fn new(entries: &'a [AccessLogEntry]) -> EncodedBatch<'a> {
        let mut batch = EncodedBatch {
            bytes: Vec::with_capacity(entries.len() * 512),
            ranges: Vec::with_capacity(entries.len()),
            time_ms: Vec::with_capacity(entries.len()),
            patients: Vec::with_capacity(entries.len()),
            users: Vec::with_capacity(entries.len()),
        };
        for e in entries {
            let start = batch.bytes.len();
            e.write_canonical(&mut batch.bytes);
            batch.ranges.push(start..batch.bytes.len());
            batch.time_ms.push(e.time_ms());
            batch.patients.push(&e.patient_id);
            batch.users.push(&e.user_hsa_id);
        }
        batch
    }

    /// The canonical bytes of each entry, in order.
    fn entries(&self) -> Vec<&[u8]> {
        self.ranges.iter().map(|r| &self.bytes[r.clone()]).collect()
    }
}

/// Column `idx` of `row`, as an error (never a panic) when its type does not fit.
fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(db)
}

/// The head as stored in `access_log_head`.
fn head_from(row: &Row) -> Result<ChainHead> {
    let seq: i64 = col(row, 0)?;
    let hash: &[u8] = col(row, 1)?;
    let damaged = || {
        StoreError::Backend(format!(
            "the access log head row (seq {seq}) is damaged; run `vaxel pdl-verify`"
        ))
    };
    Ok(ChainHead {
        seq: u64::try_from(seq).map_err(|_| damaged())?,
        hash: hash.try_into().map_err(|_| damaged())?,
    })
}

fn missing_head() -> StoreError {
    StoreError::Backend(
        "the access log head row is missing (was the table changed outside vaxel?)".into(),
    )
}

/// A `seq` as stored.
fn stored_seq(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| StoreError::Backend("access log sequence exhausted".into()))
}

/// An append's database error, explained when the head row is behind the stored log
/// (the next seq is taken: rows were written without moving the head).
fn append_error(e: tokio_postgres::Error, next_seq: u64) -> StoreError {
    let behind = e.as_db_error().is_some_and(|d| {
        *d.code() == SqlState::UNIQUE_VIOLATION && d.constraint() == Some("access_log_pkey")
    });
    if behind {
        StoreError::Backend(format!(
            "the access log head row is behind the log (seq {next_seq} is already stored); \
             run `vaxel pdl-verify`"
        ))
    } else {
        db(e)
    }
}

/// The entries of review query rows (`seq`, `entry`), decoded from the hashed bytes.
fn decode_entries(rows: &[Row]) -> Result<Vec<(u64, AccessLogEntry)>> {
    rows.iter()
        .map(|row| {
            let seq: i64 = col(row, 0)?;
            let bytes: &[u8] = col(row, 1)?;
            let entry = AccessLogEntry::from_canonical(bytes).map_err(|e| {
                StoreError::Backend(format!(
                    "access log entry {seq} cannot be read ({e}); run `vaxel pdl-verify`"
                ))
            })?;
            Ok((u64::try_from(seq).unwrap_or(0), entry))
        })
        .collect()
}

#[async_trait]
impl AccessLogStore for PgStore {
    async fn append_access_log(&self, entries: &[AccessLogEntry]) -> Result<ChainHead> {
        if entries.is_empty() {
            return self.access_log_head().await;
        }
        // Encoding is CPU work: done before the head is locked.
        let batch = EncodedBatch::new(entries);
        let bytes = batch.entries();
        let mut client = self.client().await?;
        let durable = client.prepare_cached(ENSURE_DURABLE).await.map_err(db)?;
        let lock = client.prepare_cached(LOCK_HEAD).await.map_err(db)?;
        let append = client.prepare_cached(APPEND).await.map_err(db)?;
        // Dropped without commit (an error below, or the caller cancelled): rolled back.
        let tx = client.transaction().await.map_err(db)?;
        // Pipelined: both statements go out at once, in this order (one round trip).
        let (durable, locked) = tokio::join!(tx.query(&durable, &[]), tx.query_opt(&lock, &[]));
        durable.map_err(db)?;
        let start = locked
            .map_err(db)?
            .ok_or_else(missing_head)
            .and_then(|row| head_from(&row))?;
        let mut seqs = Vec::with_capacity(bytes.len());
        let mut hashes = Vec::with_capacity(bytes.len());
        let mut head = start;
        for entry in &bytes {
            let seq = head.seq + 1;
            let hash = chain_hash(&head.hash, seq, entry);
            seqs.push(stored_seq(seq)?);
            hashes.push(hash);
            head = ChainHead { seq, hash };
        }
        let prev_hashes: Vec<&[u8]> = std::iter::once(&start.hash)
            .chain(&hashes[..hashes.len() - 1])
            .map(|h| &h[..])
            .collect();
        let hashes: Vec<&[u8]> = hashes.iter().map(|h| &h[..]).collect();
        let head_hash: &[u8] = &head.hash;
        let updated = tx
            .execute(
                &append,
                &[
                    &seqs,
                    &batch.time_ms,
                    &batch.patients,
                    &batch.users,
                    &bytes,
                    &prev_hashes,
                    &hashes,
                    &stored_seq(head.seq)?,
                    &head_hash,
                ],
            )
            .await
            .map_err(|e| append_error(e, start.seq + 1))?;
        if updated != 1 {
            return Err(missing_head());
        }
        tx.commit().await.map_err(db)?;
        Ok(head)
    }

    async fn access_log_head(&self) -> Result<ChainHead> {
        let client = self.client().await?;
        let read = client.prepare_cached(READ_HEAD).await.map_err(db)?;
        let row = client.query_opt(&read, &[]).await.map_err(db)?;
        row.ok_or_else(missing_head).and_then(|r| head_from(&r))
    }

    async fn access_log_rows(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredAccessLogRow>> {
        let client = self.client().await?;
        let select = client.prepare_cached(ROWS_AFTER).await.map_err(db)?;
        let rows = client
            .query(&select, &[&after_seq, &sql_limit(limit)])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(StoredAccessLogRow {
                    seq: col(r, 0)?,
                    time_ms: col(r, 1)?,
                    patient_id: col(r, 2)?,
                    user_hsa_id: col(r, 3)?,
                    entry: col(r, 4)?,
                    prev_hash: col(r, 5)?,
                    hash: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn access_log_seq_of_hash(&self, hash: &[u8]) -> Result<Option<i64>> {
        let client = self.client().await?;
        let select = client.prepare_cached(SEQ_OF_HASH).await.map_err(db)?;
        let row = client.query_opt(&select, &[&hash]).await.map_err(db)?;
        row.map(|r| col(&r, 0)).transpose()
    }

    async fn query_access_log(&self, q: &AccessLogQuery) -> Result<Vec<(u64, AccessLogEntry)>> {
        let from = q.from.map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
        let to = q.to.map(|t| t.timestamp_millis()).unwrap_or(i64::MAX);
        let limit = sql_limit(q.limit);
        let offset = sql_limit(q.offset);
        let client = self.client().await?;
        let select = client
            .prepare_cached(&query_sql(&q.subject, q.order))
            .await
            .map_err(db)?;
        let rows = match &q.subject {
            Subject::Patient(key) | Subject::User(key) => {
                client
                    .query(&select, &[key, &from, &to, &limit, &offset])
                    .await
            }
            Subject::Everyone => client.query(&select, &[&from, &to, &limit, &offset]).await,
        }
        .map_err(db)?;
        decode_entries(&rows)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Instant;

    use vaxel_store::access_log::GENESIS_PREV_HASH;
    use vaxel_store::testkit::access_log::entry;

    use super::*;
    use crate::test_support::TestDatabase;

    async fn migrated(prefix: &str) -> Option<(TestDatabase, PgStore)> {
        let db = TestDatabase::create(prefix).await?;
        let store = PgStore::connect(&db.config).await.unwrap();
        store.migrate_all().await.unwrap();
        Some((db, store))
    }

    /// Walk the whole chain from genesis as `pdl-verify` does (recomputing every hash
    /// with `chain_hash`); returns the head and the stored entries in seq order.
    async fn walk_chain(store: &PgStore) -> (ChainHead, Vec<AccessLogEntry>) {
        let mut head = ChainHead {
            seq: 0,
            hash: GENESIS_PREV_HASH,
        };
        let mut entries = Vec::new();
        loop {
            let rows = store.access_log_rows(head.seq as i64, 700).await.unwrap();
            if rows.is_empty() {
                return (head, entries);
            }
            for row in rows {
                let seq = head.seq + 1;
                assert_eq!(row.seq, seq as i64, "a gap or a reordering");
                assert_eq!(row.prev_hash, head.hash.to_vec(), "broken link at {seq}");
                let hash = chain_hash(&head.hash, seq, &row.entry);
                assert_eq!(row.hash, hash.to_vec(), "hash mismatch at {seq}");
                let e = AccessLogEntry::from_canonical(&row.entry).unwrap();
                assert_eq!(
                    (row.time_ms, &row.patient_id, &row.user_hsa_id),
                    (e.time_ms(), &e.patient_id, &e.user_hsa_id)
                );
                entries.push(e);
                head = ChainHead { seq, hash };
            }
        }
    }

    /// The store crate's access log suite, unchanged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn access_log_suite() {
        let Some((_db, store)) = migrated("vx_alog").await else {
            return;
        };
        vaxel_store::testkit::access_log::run_all(&store).await;
        let (head, _) = walk_chain(&store).await;
        assert_eq!(store.access_log_head().await.unwrap(), head);
        // The defaults for a store without derived index tables.
        let state = store.index_access_log(10).await.unwrap();
        assert_eq!((state.indexed_upto, state.head), (head.seq, head.seq));
        assert_eq!(store.check_access_log_index().await.unwrap(), None);
    }

    /// The suite's two-writer check with two nodes (two pools) on one schema (a schema
    /// of its own: the check counts its users' entries, so it runs once per schema).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_keep_one_chain() {
        let Some((db, store)) = migrated("vx_alog2").await else {
            return;
        };
        let other = PgStore::connect(&db.config).await.unwrap();
        vaxel_store::testkit::access_log::two_writers_keep_one_chain(&store, &other).await;
        let (head, _) = walk_chain(&other).await;
        assert_eq!(head.seq, 400);
        assert_eq!(store.access_log_head().await.unwrap(), head);
    }

    /// Several nodes appending many batches at once leave one chain holding every
    /// entry once, each batch contiguous and each node's batches in its order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appenders_on_several_nodes_keep_one_chain() {
        const WRITERS: u64 = 4;
        const BATCHES: u64 = 60;
        const PER_BATCH: u64 = 25;
        let Some((db, first)) = migrated("vx_achain").await else {
            return;
        };
        let mut nodes = vec![first];
        for _ in 1..WRITERS {
            nodes.push(PgStore::connect(&db.config).await.unwrap());
        }
        let started = Instant::now();
        let writers: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(w, node)| {
                let node = node.clone();
                tokio::spawn(async move {
                    let user = format!("SE-NODE-{w}");
                    let mut heads = Vec::new();
                    for b in 0..BATCHES {
                        let batch: Vec<_> = (0..PER_BATCH)
                            .map(|j| entry(b * PER_BATCH + j, "191212121212", &user))
                            .collect();
                        heads.push(node.append_access_log(&batch).await.unwrap());
                    }
                    heads
                })
            })
            .collect();
        let mut returned = Vec::new();
        for w in writers {
            returned.extend(w.await.unwrap());
        }
        let elapsed = started.elapsed();
        let total = WRITERS * BATCHES * PER_BATCH;
        eprintln!(
            "{total} entries in {} batches from {WRITERS} nodes: {elapsed:?} ({:.0} entries/s)",
            WRITERS * BATCHES,
            total as f64 / elapsed.as_secs_f64()
        );
        let (head, entries) = walk_chain(&nodes[1]).await;
        assert_eq!(head.seq, total);
        for node in &nodes {
            assert_eq!(node.access_log_head().await.unwrap(), head);
        }
        // Every returned head is a head the chain passed through.
        let seqs: HashSet<u64> = returned.iter().map(|h| h.seq).collect();
        assert_eq!(seqs.len() as u64, WRITERS * BATCHES, "distinct heads");
        for h in &returned {
            assert_eq!(h.seq % PER_BATCH, 0, "batches are never split");
        }
        // Each batch is contiguous and each writer's entries are in its order.
        for (i, chunk) in entries.chunks(PER_BATCH as usize).enumerate() {
            assert!(
                chunk.iter().all(|e| e.user_hsa_id == chunk[0].user_hsa_id),
                "batch {i} interleaved"
            );
        }
        for w in 0..WRITERS {
            let user = format!("SE-NODE-{w}");
            let ids: Vec<&str> = entries
                .iter()
                .filter(|e| e.user_hsa_id == user)
                .map(|e| e.correlation_id.as_str())
                .collect();
            let expected: Vec<String> = (0..BATCHES * PER_BATCH)
                .map(|n| format!("corr-{n}"))
                .collect();
            assert_eq!(ids, expected, "{user}");
        }
    }

    /// A batch that the database refuses writes nothing, moves no head, and leaves the
    /// connection usable for the next append.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_append_writes_nothing() {
        let Some((_db, store)) = migrated("vx_afail").await else {
            return;
        };
        let before = store
            .append_access_log(&[entry(1, "191212121212", "SE-U")])
            .await
            .unwrap();
        // PostgreSQL text cannot hold NUL: the second entry fails the insert.
        let bad = vec![
            entry(2, "191212121212", "SE-U"),
            entry(3, "19121212\u{0}212", "SE-U\u{0}"),
        ];
        let err = store.append_access_log(&bad).await.unwrap_err();
        assert!(err.to_string().contains("22021"), "{err}");
        assert_eq!(store.access_log_head().await.unwrap(), before);
        assert_eq!(store.access_log_rows(0, 10).await.unwrap().len(), 1);
        let after = store
            .append_access_log(&[entry(4, "191212121212", "SE-U")])
            .await
            .unwrap();
        assert_eq!(after.seq, 2);
        assert_eq!(walk_chain(&store).await.0, after);
    }

    /// An append's commit is durable even on a session with `synchronous_commit = off`;
    /// stronger settings are left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_commit_durably_whatever_the_session_says() {
        let Some((_db, store)) = migrated("vx_adurable").await else {
            return;
        };
        let mut client = store.client().await.unwrap();
        for (session, in_append) in [
            ("off", "on"),
            ("local", "local"),
            ("on", "on"),
            ("remote_apply", "remote_apply"),
        ] {
            client
                .batch_execute(&format!("SET synchronous_commit = {session}"))
                .await
                .unwrap();
            let tx = client.transaction().await.unwrap();
            tx.query(ENSURE_DURABLE, &[]).await.unwrap();
            let row = tx.query_one("SHOW synchronous_commit", &[]).await.unwrap();
            assert_eq!(row.get::<_, String>(0), in_append, "session {session}");
            tx.rollback().await.unwrap();
        }
        client
            .batch_execute("RESET synchronous_commit")
            .await
            .unwrap();
    }

    /// UPDATE, DELETE and TRUNCATE of the log are refused, and the head row never moves
    /// back or goes away.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_append_only() {
        let Some((_db, store)) = migrated("vx_aonly").await else {
            return;
        };
        let head = store
            .append_access_log(&[
                entry(1, "191212121212", "SE-U"),
                entry(2, "191212121212", "SE-U"),
            ])
            .await
            .unwrap();
        let client = store.client().await.unwrap();
        for sql in [
            "UPDATE access_log SET patient_id = '190101010101' WHERE seq = 1",
            "DELETE FROM access_log WHERE seq = 2",
            "TRUNCATE access_log",
            "UPDATE access_log_head SET seq = 1",
            "DELETE FROM access_log_head",
            "TRUNCATE access_log_head",
        ] {
            let err = client.batch_execute(sql).await.unwrap_err();
            let text = db(err).to_string();
            assert!(
                text.contains("append-only") || text.contains("only moves forward"),
                "{sql}: {text}"
            );
        }
        assert_eq!(walk_chain(&store).await.0, head);
        assert_eq!(store.access_log_head().await.unwrap(), head);
    }

    /// A head row that is behind the stored rows (rows written outside vaxel) fails the
    /// append with an explanation instead of forking the chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_never_overwrites_a_stored_seq() {
        let Some((_db, store)) = migrated("vx_abehind").await else {
            return;
        };
        store
            .append_access_log(&[entry(1, "191212121212", "SE-U")])
            .await
            .unwrap();
        let client = store.client().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO access_log (seq, time_ms, patient_id, user_hsa_id, entry, prev_hash, hash)
                 VALUES (2, 0, 'p', 'u', '\\x00', '\\x00', '\\x00')",
            )
            .await
            .unwrap();
        let err = store
            .append_access_log(&[entry(2, "191212121212", "SE-U")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("head row is behind"), "{err}");
        assert_eq!(store.access_log_head().await.unwrap().seq, 1);
    }
}
