//! Access log behaviour a user (auditor, patient, operator) would notice: what
//! `pdl-verify` reports after someone edits the database file, what survives a crash,
//! what the review queries return.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;

use async_trait::async_trait;
use vaxel_store::access_log::StoredAccessLogRow;
use vaxel_store::{EngagementStore, Outbox, StoreError};
use vaxel_store_sqlite::{SqliteAccessLogStore, SqliteStore};

use super::testing::entry;
use super::*;
use crate::config::AccessLogConfig;

async fn store_with(path: &Path, n: u64) -> SqliteAccessLogStore {
    let store = SqliteAccessLogStore::open(path).unwrap();
    // Three commits, to cover chaining across transactions.
    let entries: Vec<_> = (1..=n)
        .map(|i| entry(i, &format!("19121212{:04}", i % 3), "SE2321000016-U1"))
        .collect();
    for chunk in entries.chunks(n.div_ceil(3).max(1) as usize) {
        store.append_access_log(chunk).await.unwrap();
    }
    store
}

/// Someone with write access to the file: the append-only triggers go first.
fn tamper(path: &Path, sql: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("DROP TRIGGER access_log_no_update; DROP TRIGGER access_log_no_delete;")
        .unwrap();
    conn.execute_batch(sql).unwrap();
}

async fn reverify(path: &Path, expected: Option<ChainHead>) -> VerifyReport {
    let store = SqliteAccessLogStore::open(path).unwrap();
    verify_against(&store, expected).await.unwrap()
}

#[tokio::test]
async fn intact_chain_verifies_with_count_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir.path().join("v.db"), 10).await;
    let report = verify(&store).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 10);
    assert_eq!(report.head, store.access_log_head().await.unwrap());
    assert_eq!(report.head.seq, 10);
    // The recorded head checks out, and so does an older one.
    let older = {
        let rows = store.access_log_rows(6, 1).await.unwrap();
        ChainHead {
            seq: 7,
            hash: rows[0].hash.as_slice().try_into().unwrap(),
        }
    };
    for expected in [report.head, older] {
        assert!(verify_against(&store, Some(expected))
            .await
            .unwrap()
            .is_intact());
    }
}

#[tokio::test]
async fn empty_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteAccessLogStore::open(&dir.path().join("v.db")).unwrap();
    let report = verify(&store).await.unwrap();
    assert_eq!(report.entries, 0);
    assert_eq!(report.head.to_string(), format!("0:{}", "0".repeat(64)));
    assert!(report.is_intact());
}

#[tokio::test]
async fn stored_rows_follow_the_documented_hash_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir.path().join("v.db"), 4).await;
    let rows: Vec<StoredAccessLogRow> = store.access_log_rows(0, 100).await.unwrap();
    let mut prev = [0u8; 32];
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
        assert_eq!(row.prev_hash, prev);
        assert_eq!(row.hash, chain_hash(&prev, row.seq as u64, &row.entry));
        assert_eq!(
            row.entry,
            entry(i as u64 + 1, &row.patient_id, "SE2321000016-U1").canonical_bytes()
        );
        prev = row.hash.as_slice().try_into().unwrap();
    }
}

#[tokio::test]
async fn edited_entry_is_a_hash_mismatch_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 10).await);
    tamper(
        &path,
        "UPDATE access_log SET entry = CAST(replace(CAST(entry AS TEXT), 'doc-5-2', 'doc-5-X') AS BLOB) WHERE seq = 5",
    );
    let report = reverify(&path, None).await;
    let b = report.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (5, BreakKind::HashMismatch), "{b}");
    assert_eq!(report.entries, 4);
    assert_eq!(report.head.seq, 4);
}

#[tokio::test]
async fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
    // A careful forger recomputes the hash of the row they edit; the next row's
    // prev_hash still names the old one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let store = store_with(&path, 10).await;
    let rows = store.access_log_rows(4, 1).await.unwrap();
    drop(store);
    let mut forged = rows[0].clone();
    forged.entry = String::from_utf8(forged.entry)
        .unwrap()
        .replace("doc-5-2", "doc-5-X")
        .into_bytes();
    let prev: [u8; 32] = forged.prev_hash.as_slice().try_into().unwrap();
    let hash = chain_hash(&prev, 5, &forged.entry);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER access_log_no_update")
        .unwrap();
    conn.execute(
        "UPDATE access_log SET entry = ?1, hash = ?2 WHERE seq = 5",
        rusqlite::params![forged.entry, &hash[..]],
    )
    .unwrap();
    drop(conn);
    let b = reverify(&path, None).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (6, BreakKind::BrokenLink), "{b}");
}

#[tokio::test]
async fn deleted_entry_is_a_gap_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 10).await);
    tamper(&path, "DELETE FROM access_log WHERE seq = 5");
    let b = reverify(&path, None).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (5, BreakKind::Gap), "{b}");
    assert!(b.detail.contains("next stored entry is seq 6"), "{b}");
}

#[tokio::test]
async fn deleted_first_entry_is_a_gap_at_seq_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 3).await);
    tamper(&path, "DELETE FROM access_log WHERE seq = 1");
    let b = reverify(&path, None).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (1, BreakKind::Gap), "{b}");
}

#[tokio::test]
async fn swapped_entries_are_reported_as_reordered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 10).await);
    tamper(
        &path,
        "UPDATE access_log SET seq = -5 WHERE seq = 5;
         UPDATE access_log SET seq = 5 WHERE seq = 6;
         UPDATE access_log SET seq = 6 WHERE seq = -5;",
    );
    let b = reverify(&path, None).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (5, BreakKind::Reordered), "{b}");
    assert!(b.detail.contains("written as seq 6"), "{b}");
}

#[tokio::test]
async fn truncated_tail_is_detected_only_against_the_recorded_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let recorded = verify(&store_with(&path, 10).await).await.unwrap().head;
    tamper(&path, "DELETE FROM access_log WHERE seq >= 9");
    // The chain alone is still consistent: that is the documented limit.
    let alone = reverify(&path, None).await;
    assert!(alone.is_intact());
    assert_eq!(alone.head.seq, 8);
    let report = reverify(&path, Some(recorded)).await;
    let b = report.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (9, BreakKind::Truncated), "{b}");
    assert!(b.detail.contains("entries 9..=10 were removed"), "{b}");
}

#[tokio::test]
async fn rewritten_tail_differs_from_the_recorded_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let recorded = verify(&store_with(&path, 10).await).await.unwrap().head;
    // Remove 9 and 10, then append two other entries: same length, valid chain.
    tamper(&path, "DELETE FROM access_log WHERE seq >= 9");
    let store = SqliteAccessLogStore::open(&path).unwrap();
    store
        .append_access_log(&[
            entry(90, "191212121212", "U9"),
            entry(91, "191212121212", "U9"),
        ])
        .await
        .unwrap();
    drop(store);
    assert!(reverify(&path, None).await.is_intact());
    let b = reverify(&path, Some(recorded)).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (10, BreakKind::HeadMismatch), "{b}");
}

#[tokio::test]
async fn edited_index_column_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 10).await);
    tamper(
        &path,
        "UPDATE access_log SET patient_id = '199001011234' WHERE seq = 3",
    );
    let b = reverify(&path, None).await.first_broken.unwrap();
    assert_eq!((b.seq, b.kind), (3, BreakKind::IndexMismatch), "{b}");
    assert!(
        !b.detail.contains("199001011234"),
        "no patient id in reports"
    );
}

#[tokio::test]
async fn the_table_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 2).await);
    let conn = Connection::open(&path).unwrap();
    for sql in [
        "UPDATE access_log SET time_ms = 0 WHERE seq = 1",
        "DELETE FROM access_log WHERE seq = 2",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn queries_by_patient_user_and_period() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteAccessLogStore::open(&dir.path().join("v.db")).unwrap();
    let mut entries = Vec::new();
    for i in 0..30u64 {
        let patient = if i % 2 == 0 {
            "191212121212"
        } else {
            "199001011234"
        };
        let user = if i % 3 == 0 { "SE-U-A" } else { "SE-U-B" };
        entries.push(entry(i * 1000, patient, user));
    }
    store.append_access_log(&entries).await.unwrap();
    let t = |n: i64| Some(Utc.timestamp_millis_opt(1_700_000_000_000 + n).unwrap());

    let all = query_by_patient(&store, "191212121212", None, None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 15);
    assert!(all.iter().all(|(_, e)| e.patient_id == "191212121212"));
    assert!(all.windows(2).all(|w| w[0].1.time < w[1].1.time));
    assert_eq!(all[0].0, 1, "seq is returned");

    // [from, to): 10000 and 12000 in, 14000 out.
    let some = query_by_patient(&store, "191212121212", t(10_000), t(14_000), 100)
        .await
        .unwrap();
    let times: Vec<i64> = some.iter().map(|(_, e)| e.time_ms()).collect();
    assert_eq!(
        times,
        [1_700_000_010_000, 1_700_000_012_000],
        "from inclusive, to exclusive"
    );
    assert_eq!(
        query_by_patient(&store, "191212121212", None, None, 4)
            .await
            .unwrap()
            .len(),
        4
    );

    let by_user = query_by_user(&store, "SE-U-A", None, None, 100)
        .await
        .unwrap();
    assert_eq!(by_user.len(), 10);
    assert!(by_user.iter().all(|(_, e)| e.user_hsa_id == "SE-U-A"));

    let period = query_by_period(&store, t(5_000), t(8_000), 100)
        .await
        .unwrap();
    assert_eq!(period.len(), 3);
    assert!(query_by_patient(&store, "200001012380", None, None, 10)
        .await
        .unwrap()
        .is_empty());
}

fn config(queue_capacity: usize, max_batch: usize) -> AccessLogConfig {
    AccessLogConfig {
        queue_capacity,
        max_batch,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_group_commits_everything_from_many_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteAccessLogStore::open(&dir.path().join("v.db")).unwrap());
    let log = AccessLog::start(store.clone(), &config(100_000, 500));
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..250u64 {
                let n = t * 1000 + i;
                log.record(vec![entry(n, "191212121212", &format!("U{t}"))])
                    .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    tokio::task::spawn_blocking({
        let log = log.clone();
        move || log.flush_blocking().unwrap()
    })
    .await
    .unwrap();
    let stats = log.stats();
    assert_eq!(stats.written, 2000);
    assert_eq!(stats.queued, 0);
    assert!(stats.largest_batch <= 500, "{stats:?}");
    let report = verify(store.as_ref()).await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.entries, 2000);
    // Each task's entries are in the order it recorded them.
    for t in 0..8u64 {
        let mine = query_by_user(store.as_ref(), &format!("U{t}"), None, None, 1000)
            .await
            .unwrap();
        let seqs: Vec<u64> = mine.iter().map(|(s, _)| *s).collect();
        assert_eq!(mine.len(), 250);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }
    log.shutdown();
}

/// A store whose appends wait while `closed` is set, and fail `failures` times.
#[derive(Debug)]
struct GatedStore {
    inner: SqliteAccessLogStore,
    /// While set, appends wait (the writer thread is "stuck on disk").
    closed: AtomicBool,
    appends: AtomicUsize,
    /// Appends that fail before the first success.
    failures: AtomicUsize,
}

#[async_trait]
impl AccessLogStore for GatedStore {
    async fn append_access_log(&self, entries: &[AccessLogEntry]) -> Result<ChainHead, StoreError> {
        while self.closed.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.appends.fetch_add(1, Ordering::SeqCst);
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Backend("disk full (simulated)".into()));
        }
        self.inner.append_access_log(entries).await
    }
    async fn access_log_head(&self) -> Result<ChainHead, StoreError> {
        self.inner.access_log_head().await
    }
    async fn access_log_rows(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredAccessLogRow>, StoreError> {
        self.inner.access_log_rows(after_seq, limit).await
    }
    async fn access_log_seq_of_hash(&self, hash: &[u8]) -> Result<Option<i64>, StoreError> {
        self.inner.access_log_seq_of_hash(hash).await
    }
    async fn query_access_log(
        &self,
        q: &AccessLogQuery,
    ) -> Result<Vec<(u64, AccessLogEntry)>, StoreError> {
        self.inner.query_access_log(q).await
    }
}

fn gated(path: &Path, failures: usize) -> Arc<GatedStore> {
    Arc::new(GatedStore {
        inner: SqliteAccessLogStore::open(path).unwrap(),
        closed: AtomicBool::new(false),
        appends: AtomicUsize::new(0),
        failures: AtomicUsize::new(failures),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_makes_callers_wait_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = gated(&dir.path().join("v.db"), 0);
    let log = AccessLog::start(store.clone(), &config(4, 100));
    // The writer blocks inside its first append while the store is closed, and
    // queued entries keep their room until they are committed.
    store.closed.store(true, Ordering::SeqCst);
    let filler = log.clone();
    let waiting = tokio::spawn(async move {
        for i in 0..9u64 {
            filler.record(vec![entry(i, "191212121212", "U")]).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the 5th entry must wait for room");
    assert!(log.stats().backpressure_waits >= 1, "{:?}", log.stats());
    assert_eq!(log.stats().queued, 4);
    store.closed.store(false, Ordering::SeqCst);
    waiting.await.unwrap();
    let l = log.clone();
    tokio::task::spawn_blocking(move || l.shutdown())
        .await
        .unwrap();
    let report = verify(store.as_ref()).await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.entries, 9, "nothing dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commit_fails_durable_callers_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = gated(&dir.path().join("v.db"), 1);
    let log = AccessLog::start(store.clone(), &config(100, 100));
    let err = log
        .record_durable(vec![entry(1, "191212121212", "U")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    // The writer kept the batch and wrote it on the retry.
    let head = log
        .record_durable(vec![entry(2, "191212121212", "U")])
        .await
        .unwrap();
    assert_eq!(head.seq, 2);
    assert_eq!(log.stats().write_errors, 1);
    let l = log.clone();
    tokio::task::spawn_blocking(move || l.shutdown())
        .await
        .unwrap();
    assert_eq!(verify(store.as_ref()).await.unwrap().entries, 2);
}

#[tokio::test]
async fn shutdown_drains_the_queue_and_refuses_later_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let store = gated(&path, 0);
    let log = AccessLog::start(store.clone(), &config(1000, 7));
    store.closed.store(true, Ordering::SeqCst);
    for i in 0..100u64 {
        log.record(vec![entry(i, "191212121212", "U")]).await;
    }
    // Shutdown starts while all 100 are still queued; it returns once they are written.
    assert_eq!(log.stats().written, 0);
    let opener = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            store.closed.store(false, Ordering::SeqCst);
        })
    };
    log.shutdown();
    opener.join().unwrap();
    assert_eq!(verify(store.as_ref()).await.unwrap().entries, 100);
    log.record(vec![entry(100, "191212121212", "U")]).await;
    assert_eq!(log.stats().lost_after_shutdown, 1);
    assert!(matches!(
        log.record_durable(vec![entry(101, "191212121212", "U")])
            .await,
        Err(AccessLogError::Closed)
    ));
}

/// The writer's metrics. Every test's writer in this process shares them, so the
/// assertions are lower bounds: other writers only ever add their own entries, and each
/// one's decrease follows its own increase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_counts_queued_and_committed_entries_and_times_commits() {
    let m = vaxel_telemetry::metrics();
    let dir = tempfile::tempdir().unwrap();
    let store = gated(&dir.path().join("v.db"), 0);
    let log = AccessLog::start(store.clone(), &config(1000, 100));
    let entries_before = m.access_log_entries.get();
    let commits_before = m.access_log_commit.snapshot().count();
    // The writer is stuck in its first append: all 8 entries are queued, none committed.
    store.closed.store(true, Ordering::SeqCst);
    log.record((0..5).map(|i| entry(i, "191212121212", "U")).collect())
        .await;
    log.record((5..8).map(|i| entry(i, "191212121212", "U")).collect())
        .await;
    assert!(
        m.access_log_queue.get() >= 8,
        "{}",
        m.access_log_queue.get()
    );
    store.closed.store(false, Ordering::SeqCst);
    let l = log.clone();
    tokio::task::spawn_blocking(move || l.shutdown())
        .await
        .unwrap();
    assert_eq!(verify(store.as_ref()).await.unwrap().entries, 8);
    assert!(m.access_log_entries.get() - entries_before >= 8);
    assert!(m.access_log_commit.snapshot().count() - commits_before >= 1);
    // Refused after shutdown: out of the queue depth again at once.
    log.record(vec![entry(8, "191212121212", "U")]).await;
    assert!(
        m.access_log_queue.get() >= 0,
        "{}",
        m.access_log_queue.get()
    );
}

/// A child process calls record_durable, then aborts (like kill -9) the moment it is
/// acknowledged; the parent reopens the file: the entries are there, the chain intact.
#[tokio::test]
async fn durable_entries_survive_process_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "access_log::tests::durable_crash_child",
            "--include-ignored",
            "--nocapture",
        ])
        .env("VAXEL_ACCESS_LOG_CRASH_DB", &path)
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die by abort");
    let store = SqliteAccessLogStore::open(&path).unwrap();
    let report = verify(&store).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 3);
    let found = query_by_patient(&store, "191212121299", None, None, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[2].1.decision, Decision::Emergency);
    assert_eq!(
        found[2].1.emergency_reason.as_deref(),
        Some("patient unconscious")
    );
}

/// Helper for `durable_entries_survive_process_abort`; does nothing on its own.
#[test]
#[ignore = "run by durable_entries_survive_process_abort in a child process"]
fn durable_crash_child() {
    let Some(path) = std::env::var_os("VAXEL_ACCESS_LOG_CRASH_DB") else {
        return;
    };
    let store = Arc::new(SqliteAccessLogStore::open(Path::new(&path)).unwrap());
    let log = AccessLog::start(store, &AccessLogConfig::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut entries: Vec<_> = (1..=3)
            .map(|i| entry(i, "191212121299", "SE2321000016-U1"))
            .collect();
        entries[2].decision = Decision::Emergency;
        entries[2].reason = DecisionReason::Emergency;
        entries[2].emergency_reason = Some("patient unconscious".into());
        log.record_durable(entries).await.unwrap();
    });
    std::process::abort();
}

/// The access log shares the `[store]` file with the engagement store: both write at
/// once through their own connections, neither fails (SQLite serialises the writers;
/// busy_timeout makes each wait for the other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_and_engagement_store_write_the_same_file_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vaxel.db");
    let store = SqliteStore::open(&path).unwrap();
    let log_store = SqliteAccessLogStore::open(&path).unwrap();
    let log_writes = async {
        for b in 0..20u64 {
            let batch: Vec<_> = (0..500)
                .map(|i| entry(b * 500 + i, "191212121212", "U"))
                .collect();
            log_store.append_access_log(&batch).await.unwrap();
        }
    };
    let engagement_writes = async {
        for i in 0..20 {
            vaxel_store::testkit::engagements::apply_one_with_notification(
                &store as &dyn EngagementStore,
                &format!("1990010112{i:02}"),
                "sub",
            )
            .await;
        }
    };
    tokio::join!(log_writes, engagement_writes);
    assert_eq!(verify(&log_store).await.unwrap().entries, 10_000);
    assert_eq!(
        store
            .outbox_len(vaxel_store::testkit::engagements::QUEUE)
            .await
            .unwrap(),
        20
    );
}

fn indexed_upto(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT indexed_upto FROM access_log_indexed", [], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Review queries return entries from the index (up to `indexed_upto`) and from the
/// un-indexed tail of the chain above it, merged in time order and limited as one list.
#[tokio::test]
async fn query_spans_indexed_and_unindexed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let store = SqliteAccessLogStore::open(&path).unwrap();
    let mk = |range: std::ops::Range<u64>| -> Vec<_> {
        range
            .map(|i| {
                let patient = if i % 2 == 0 {
                    "191212121212"
                } else {
                    "199001011234"
                };
                entry(
                    i * 1000,
                    patient,
                    if i % 3 == 0 { "SE-U-A" } else { "SE-U-B" },
                )
            })
            .collect()
    };
    store.append_access_log(&mk(0..10)).await.unwrap();
    let state = store.index_access_log(1_000).await.unwrap();
    assert_eq!((state.indexed_upto, state.head), (10, 10));
    store.append_access_log(&mk(10..20)).await.unwrap();
    assert_eq!(
        indexed_upto(&path),
        10,
        "the second batch is not indexed yet"
    );

    let all = query_by_patient(&store, "191212121212", None, None, 100)
        .await
        .unwrap();
    let seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    assert!(all.iter().all(|(_, e)| e.patient_id == "191212121212"));
    // A limit that ends in the tail, and a period that straddles the mark.
    let seqs = |v: Vec<(u64, AccessLogEntry)>| v.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            query_by_patient(&store, "191212121212", None, None, 7)
                .await
                .unwrap()
        ),
        [1, 3, 5, 7, 9, 11, 13]
    );
    let t = |n: i64| Some(Utc.timestamp_millis_opt(1_700_000_000_000 + n).unwrap());
    assert_eq!(
        seqs(
            query_by_patient(&store, "191212121212", t(6_000), t(14_000), 100)
                .await
                .unwrap()
        ),
        [7, 9, 11, 13]
    );
    assert_eq!(
        seqs(
            query_by_user(&store, "SE-U-A", None, None, 100)
                .await
                .unwrap()
        ),
        [1, 4, 7, 10, 13, 16, 19]
    );
    // Indexing the rest changes nothing in the answers.
    store.index_access_log(1_000).await.unwrap();
    assert_eq!(indexed_upto(&path), 20);
    assert_eq!(
        seqs(
            query_by_user(&store, "SE-U-A", None, None, 100)
                .await
                .unwrap()
        ),
        [1, 4, 7, 10, 13, 16, 19]
    );
    assert_eq!(
        seqs(
            query_by_patient(&store, "191212121212", t(6_000), t(14_000), 100)
                .await
                .unwrap()
        ),
        [7, 9, 11, 13]
    );
    assert!(verify(&store).await.unwrap().is_intact());
}

/// Entries committed but not indexed when the process died (the index is filled after
/// the durable commit): the writer indexes them when it starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_indexes_the_unindexed_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 30).await); // appended, never indexed: as after kill -9
    assert_eq!(indexed_upto(&path), 0);

    let store: Arc<dyn AccessLogStore> = Arc::new(SqliteAccessLogStore::open(&path).unwrap());
    let log = AccessLog::start(store.clone(), &AccessLogConfig::default());
    let head = log
        .record_durable(vec![entry(31, "191212120001", "SE2321000016-U1")])
        .await
        .unwrap();
    assert_eq!(head.seq, 31);
    log.shutdown();
    assert_eq!(
        indexed_upto(&path),
        31,
        "tail indexed at start, the rest at shutdown"
    );
    let conn = Connection::open(&path).unwrap();
    for table in ["access_log_by_patient", "access_log_by_user"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 31, "{table}");
    }
    assert!(verify(store.as_ref()).await.unwrap().is_intact());
    assert_eq!(
        query_by_patient(store.as_ref(), "191212120001", None, None, 100)
            .await
            .unwrap()
            .len(),
        11
    );
}

/// The review index is derived data outside the chain, but verification still checks
/// it: a changed, removed or stray index row is an index mismatch at that entry.
#[tokio::test]
async fn tampered_index_rows_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let indexed = async |path: &Path| {
        let store = store_with(path, 10).await;
        store.index_access_log(1_000).await.unwrap();
        assert!(verify(&store).await.unwrap().is_intact());
    };
    let cases = [
        (
            "UPDATE access_log_by_patient SET patient_id = '199001011234' WHERE seq = 5",
            5,
        ),
        (
            "UPDATE access_log_by_user SET user_hsa_id = 'SE-OTHER' WHERE seq = 4",
            4,
        ),
        ("UPDATE access_log_by_user SET time_ms = 0 WHERE seq = 6", 6),
        ("DELETE FROM access_log_by_patient WHERE seq = 7", 7),
        (
            "INSERT INTO access_log_by_patient VALUES ('199001011234', 1700000000002, 2)",
            2,
        ),
        ("UPDATE access_log_indexed SET indexed_upto = 12", 11),
    ];
    for (sql, seq) in cases {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
        indexed(&path).await;
        Connection::open(&path).unwrap().execute_batch(sql).unwrap();
        let b = reverify(&path, None).await.first_broken.expect(sql);
        assert_eq!(
            (b.seq, b.kind),
            (seq, BreakKind::IndexMismatch),
            "{sql}: {b}"
        );
        assert!(
            !b.detail.contains("199001011234"),
            "no patient id in reports"
        );
    }
}

/// A log written by vaxel before the review index moved off the durable path (schema 1:
/// patient/user indexes on the chain table) is indexed by the migration.
#[tokio::test]
async fn schema_1_log_is_indexed_by_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(store_with(&path, 12).await);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE access_log_by_patient; DROP TABLE access_log_by_user;
             DROP TABLE access_log_indexed;
             CREATE INDEX access_log_patient ON access_log (patient_id, time_ms);
             CREATE INDEX access_log_user ON access_log (user_hsa_id, time_ms);
             UPDATE access_log_schema_version SET version = 1;",
        )
        .unwrap();
    let store = SqliteAccessLogStore::open(&path).unwrap();
    assert_eq!(indexed_upto(&path), 12);
    assert!(verify(&store).await.unwrap().is_intact());
    assert_eq!(
        query_by_patient(&store, "191212120001", None, None, 100)
            .await
            .unwrap()
            .len(),
        4
    );
}
