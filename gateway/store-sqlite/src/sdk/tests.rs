//! SDK messages on SQLite: what only this backend can show (durability, write rate).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::*;

fn outgoing(id: &str, created: SystemTime) -> NewOutgoing {
    NewOutgoing {
        message_id: id.into(),
        conversation_id: "conv".into(),
        ref_to_message_id: None,
        sender: "SE-ORG-A".into(),
        recipient: "SE-ORG-B".into(),
        submitted_by: "system-1".into(),
        endpoint: "https://b.example.invalid/sdk".into(),
        envelope: vec![0x5a; 4096],
        created,
    }
}

fn incoming(id: &str, received: SystemTime) -> NewIncoming {
    NewIncoming {
        message_id: id.into(),
        conversation_id: "conv".into(),
        sender: "SE-ORG-A".into(),
        recipient: "SE-ORG-B".into(),
        delivered_by: "gateway-a".into(),
        envelope: vec![0xa5; 4096],
        receipt: b"<receipt/>".to_vec(),
        received,
    }
}

fn now_ms() -> SystemTime {
    from_millis(millis(SystemTime::now()))
}

/// The counters the triggers keep equal what counting the rows gives, after the
/// whole compliance suite ran twice on one file (the second run on a non-empty
/// store, as the suite promises to handle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_match_the_rows_after_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vaxel.db")).unwrap();
    let dyn_store: Arc<dyn SdkStore> = Arc::new(store.clone());
    vaxel_store::testkit::sdk::run_all(&dyn_store).await;
    vaxel_store::testkit::sdk::run_all(&dyn_store).await;
    let counts = store.sdk_counts().await.unwrap();
    let inbox_counts = store.sdk_inbox_counts().await.unwrap();
    let conn = store.inner.reader().unwrap();
    for state in OutgoingState::ALL {
        let n: u64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sdk_outgoing WHERE state = ?1",
                [state.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counts.of(state), n, "{state}");
    }
    assert!(counts.failed > 0 && counts.delivered > 0 && counts.rejected > 0);
    let (pending, acked): (u64, u64) = conn
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE acknowledged_ms IS NULL), \
             COUNT(*) FILTER (WHERE acknowledged_ms IS NOT NULL) FROM sdk_inbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(inbox_counts, (pending, acked));
    assert!(acked > 0);
}

/// The hot queries are index ranges without a sort: claims and the next-wake time
/// stay cheap however many delivered messages the table keeps.
#[test]
fn hot_queries_use_their_index_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vaxel.db")).unwrap();
    let conn = store.inner.reader().unwrap();
    let plan = |sql: &str| -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = st.raw_query();
        let mut steps = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            steps.push(r.get::<_, String>(3).unwrap());
        }
        steps.join(" | ")
    };
    for (sql, index) in [
        (CLAIM_SQL.to_string(), "sdk_outgoing_due"),
        (NEXT_DUE_SQL.to_string(), "sdk_outgoing_due"),
        (list_sql(true), "sdk_outgoing_submitter"),
        (list_sql(false), "sdk_outgoing_created"),
        (pending_sql(), "sdk_inbox_pending"),
    ] {
        let p = plan(&sql);
        assert!(p.contains(index), "{sql}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        assert!(
            !p.starts_with("SCAN o ") && !p.contains("SCAN e"),
            "{sql}: {p}"
        );
    }
}

#[tokio::test]
async fn sdk_migration_is_idempotent_and_keeps_rows_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vaxel.db");
    let t = now_ms();
    {
        let s = SqliteStore::open(&path).unwrap();
        s.sdk_submit(outgoing("m-reopen", t)).await.unwrap();
        s.sdk_inbox_insert(incoming("i-reopen", t)).await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let st = s.sdk_status("m-reopen").await.unwrap().unwrap();
    assert_eq!((st.state, st.created), (OutgoingState::Queued, t));
    assert_eq!(s.sdk_counts().await.unwrap().queued, 1);
    assert_eq!(s.sdk_inbox_counts().await.unwrap(), (1, 0));
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("SELECT version FROM sdk_schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SDK_MIGRATIONS.len() as i64);
}

/// The schema refuses what would break the due index: a final state with a due time.
#[test]
fn final_state_with_a_due_time_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vaxel.db")).unwrap();
    let conn = store.inner.writer().unwrap();
    let err = conn
        .execute(
            "INSERT INTO sdk_outgoing (message_id, conversation_id, sender, recipient, \
             submitted_by, endpoint, state, created_ms, updated_ms, due_ms) \
             VALUES ('x', 'c', 's', 'r', 'b', 'e', 'delivered', 0, 0, 5)",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
}

/// kill -9 right after `Ok`: the submitted message and the inbox message are there.
#[tokio::test]
async fn submit_and_inbox_insert_survive_process_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vaxel.db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sdk::tests::sdk_crash_child",
            "--include-ignored",
            "--nocapture",
        ])
        .env("VAXEL_SDK_CRASH_DB", &path)
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die by abort");
    let store = SqliteStore::open(&path).unwrap();
    let st = store.sdk_status("m-abort").await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Queued);
    let got = store.sdk_inbox_get("i-abort").await.unwrap().unwrap();
    assert_eq!(got.envelope, vec![0xa5; 4096]);
    assert_eq!(
        store
            .sdk_inbox_insert(incoming("i-abort", now_ms()))
            .await
            .unwrap(),
        InboxInsert::Duplicate {
            receipt: b"<receipt/>".to_vec()
        }
    );
}

/// Helper for `submit_and_inbox_insert_survive_process_abort`; does nothing alone.
#[tokio::test]
#[ignore = "run by submit_and_inbox_insert_survive_process_abort in a child process"]
async fn sdk_crash_child() {
    let Some(path) = std::env::var_os("VAXEL_SDK_CRASH_DB") else {
        return;
    };
    let store = SqliteStore::open(Path::new(&path)).unwrap();
    store
        .sdk_submit(outgoing("m-abort", now_ms()))
        .await
        .unwrap();
    store
        .sdk_inbox_insert(incoming("i-abort", now_ms()))
        .await
        .unwrap();
    std::process::abort();
}

/// The SDK target is 500 messages/s end to end. One message costs the sending
/// gateway a submit, its share of a claim and a receipt, and the receiving gateway
/// an inbox insert and an ack: each a durable commit (fsync) of its own. Run on the
/// target disk with `cargo test -p vaxel-store-sqlite --release -- --ignored
/// sdk_write_rate --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "measures the disk: run on the target machine"]
async fn sdk_write_rate() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("vaxel.db")).unwrap());
    let t = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let rate = |what: &str, started: Instant| {
        let per_s = N as f64 / started.elapsed().as_secs_f64();
        println!("{what}: {per_s:.0}/s");
        per_s
    };
    // Submits and inbox inserts from 16 concurrent callers, as request handlers do.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..N).step_by(16) {
                store
                    .sdk_submit(outgoing(&format!("m{i}"), t))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let submit = rate("sdk_submit", started);
    let started = Instant::now();
    let mut claimed = Vec::new();
    loop {
        let batch = store
            .sdk_claim_due(t, t + Duration::from_secs(60), 64)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        claimed.extend(batch);
    }
    assert_eq!(claimed.len(), N);
    for item in &claimed {
        store
            .sdk_record_receipt(&item.message_id, true, "ok", b"<r/>".to_vec(), t)
            .await
            .unwrap();
    }
    let deliver = rate("claim (64) + sdk_record_receipt", started);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..N).step_by(16) {
                store
                    .sdk_inbox_insert(incoming(&format!("i{i}"), t))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let insert = rate("sdk_inbox_insert", started);
    assert_eq!(store.sdk_counts().await.unwrap().delivered, N as u64);
    assert!(
        submit.min(deliver).min(insert) >= 500.0,
        "below the SDK target of 500 messages/s"
    );
}
