//! The access log store compliance suite: every [`AccessLogStore`] backend MUST pass
//! [`run_all`], and [`two_writers_keep_one_chain`] with two handles on one database
//! (two gateway nodes). The checks never assume the log is empty.

use chrono::{TimeZone, Utc};

use crate::access_log::{
    chain_hash, AccessLogEntry, AccessLogQuery, AccessLogStore, ChainHead, Decision,
    DecisionReason, Order, Subject,
};

/// A realistic entry: user at unit/care giver A reads three care documentation records
/// of `patient` from another care giver's source system.
pub fn entry(n: u64, patient: &str, user: &str) -> AccessLogEntry {
    AccessLogEntry {
        time: Utc
            .timestamp_millis_opt(1_700_000_000_000 + n as i64)
            .unwrap(),
        correlation_id: format!("corr-{n}"),
        user_hsa_id: user.to_string(),
        care_unit_hsa_id: "SE2321000016-UNIT1".to_string(),
        care_giver_hsa_id: "SE2321000016-CG1".to_string(),
        patient_id: patient.to_string(),
        information_set: "care-documentation".to_string(),
        source_system_hsa_id: "SE2321000016-SRC9".to_string(),
        record_ids: vec![
            format!("doc-{n}-1"),
            format!("doc-{n}-2"),
            format!("doc-{n}-3"),
        ],
        decision: Decision::Allowed,
        reason: DecisionReason::Consent,
        emergency_reason: None,
        purpose: "care".to_string(),
        user_role: None,
    }
}

/// Run every check against `store` (concurrent appends through one handle included).
pub async fn run_all(store: &dyn AccessLogStore) {
    appends_chain_to_the_head(store).await;
    queries_by_patient_user_and_period(store).await;
    newest_first_pages_with_offset(store).await;
    user_roles_are_stored_as_written(store).await;
    two_writers_keep_one_chain(store, store).await;
}

/// Every row after `from` links to the one before it and hashes its own bytes; returns
/// the last row's head.
pub async fn assert_chain_from(store: &dyn AccessLogStore, from: ChainHead) -> ChainHead {
    let mut head = from;
    loop {
        let rows = store
            .access_log_rows(head.seq as i64, 500)
            .await
            .expect("rows");
        if rows.is_empty() {
            return head;
        }
        for row in rows {
            let seq = u64::try_from(row.seq).unwrap();
            assert_eq!(seq, head.seq + 1, "a gap or a reordering in the chain");
            assert_eq!(
                row.prev_hash,
                head.hash.to_vec(),
                "entry {seq} does not link to entry {}",
                head.seq
            );
            let hash = chain_hash(&head.hash, seq, &row.entry);
            assert_eq!(row.hash, hash.to_vec(), "entry {seq} has the wrong hash");
            let decoded = AccessLogEntry::from_canonical(&row.entry).expect("canonical");
            assert_eq!(row.time_ms, decoded.time_ms());
            assert_eq!(row.patient_id, decoded.patient_id);
            assert_eq!(row.user_hsa_id, decoded.user_hsa_id);
            head = ChainHead { seq, hash };
        }
    }
}

async fn appends_chain_to_the_head(store: &dyn AccessLogStore) {
    let start = store.access_log_head().await.unwrap();
    let batch: Vec<_> = (1..=3)
        .map(|n| entry(n, "190101010101", "SE-TESTKIT-CHAIN"))
        .collect();
    let head = store.append_access_log(&batch).await.unwrap();
    assert_eq!(head.seq, start.seq + 3);
    assert_eq!(store.access_log_head().await.unwrap(), head);
    // The stored bytes are the canonical entries, in order.
    let rows = store.access_log_rows(start.seq as i64, 10).await.unwrap();
    assert_eq!(rows.len(), 3);
    for (row, e) in rows.iter().zip(&batch) {
        assert_eq!(row.entry, e.canonical_bytes());
    }
    assert_eq!(assert_chain_from(store, start).await, head);
    // An empty append changes nothing.
    assert_eq!(store.append_access_log(&[]).await.unwrap(), head);
    // A row's hash leads back to its seq.
    assert_eq!(
        store.access_log_seq_of_hash(&head.hash).await.unwrap(),
        Some(head.seq as i64)
    );
    assert_eq!(store.access_log_seq_of_hash(&[7; 32]).await.unwrap(), None);
}

async fn queries_by_patient_user_and_period(store: &dyn AccessLogStore) {
    let (p1, p2) = ("190202020202", "190303030303");
    let (u1, u2) = ("SE-TESTKIT-Q1", "SE-TESTKIT-Q2");
    let mut batch = vec![
        entry(10, p1, u1),
        entry(12, p2, u1),
        entry(11, p1, u2),
        entry(13, p1, u1),
    ];
    store.append_access_log(&batch).await.unwrap();
    // The review index may lag behind the chain; queries see everything either way.
    let _ = store.index_access_log(1).await.unwrap();
    let query = |subject: Subject, from: Option<u64>, to: Option<u64>, limit: usize| {
        let ms = |n: u64| {
            Utc.timestamp_millis_opt(1_700_000_000_000 + n as i64)
                .unwrap()
        };
        AccessLogQuery {
            subject,
            from: from.map(ms),
            to: to.map(ms),
            limit,
            offset: 0,
            order: Order::OldestFirst,
        }
    };
    let ids = |found: Vec<(u64, AccessLogEntry)>| -> Vec<String> {
        found.into_iter().map(|(_, e)| e.correlation_id).collect()
    };
    let by_p1 = store
        .query_access_log(&query(Subject::Patient(p1.into()), None, None, 100))
        .await
        .unwrap();
    assert_eq!(
        ids(by_p1),
        ["corr-10", "corr-11", "corr-13"],
        "chronological"
    );
    let by_u1 = store
        .query_access_log(&query(Subject::User(u1.into()), None, None, 100))
        .await
        .unwrap();
    assert_eq!(ids(by_u1), ["corr-10", "corr-12", "corr-13"]);
    let window = store
        .query_access_log(&query(Subject::Patient(p1.into()), Some(11), Some(13), 100))
        .await
        .unwrap();
    assert_eq!(ids(window), ["corr-11"], "from inclusive, to exclusive");
    let limited = store
        .query_access_log(&query(Subject::Patient(p1.into()), None, None, 2))
        .await
        .unwrap();
    assert_eq!(ids(limited), ["corr-10", "corr-11"]);
    let period = store
        .query_access_log(&query(Subject::Everyone, Some(12), Some(13), 100))
        .await
        .unwrap();
    assert!(ids(period).contains(&"corr-12".to_string()));
    // Entries come back exactly as written.
    batch.sort_by_key(|e| e.time);
    let all_p1: Vec<_> = store
        .query_access_log(&query(Subject::Patient(p1.into()), None, None, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let written: Vec<_> = batch.into_iter().filter(|e| e.patient_id == p1).collect();
    assert_eq!(all_p1, written);
    assert_eq!(store.check_access_log_index().await.unwrap(), None);
}

/// The patient's extract: newest first, paged with an offset, over entries still in the
/// un-indexed tail and entries already indexed, with two entries at the same time
/// (ordered by seq, descending).
async fn newest_first_pages_with_offset(store: &dyn AccessLogStore) {
    let (patient, user) = ("190505050505", "SE-TESTKIT-PAGE");
    let first: Vec<_> = [20, 21, 22]
        .iter()
        .map(|&n| entry(n, patient, user))
        .collect();
    store.append_access_log(&first).await.unwrap();
    // The first three are indexed (SQLite's review index), the rest stay in the tail.
    while store.index_access_log(10_000).await.unwrap().lag() > 0 {}
    let mut same_time = entry(23, patient, user);
    same_time.correlation_id = "corr-23b".into();
    let rest = vec![
        entry(23, patient, user),
        same_time,
        entry(24, patient, user),
    ];
    store.append_access_log(&rest).await.unwrap();
    let page = |offset: usize, limit: usize, order: Order| AccessLogQuery {
        offset,
        order,
        ..AccessLogQuery::new(Subject::Patient(patient.into()), limit)
    };
    let ids = |found: Vec<(u64, AccessLogEntry)>| -> Vec<String> {
        found.into_iter().map(|(_, e)| e.correlation_id).collect()
    };
    let newest = Order::NewestFirst;
    assert_eq!(
        ids(store.query_access_log(&page(0, 2, newest)).await.unwrap()),
        ["corr-24", "corr-23b"],
        "newest first; at one time the later seq first"
    );
    assert_eq!(
        ids(store.query_access_log(&page(2, 2, newest)).await.unwrap()),
        ["corr-23", "corr-22"],
        "the second page crosses from the tail into the indexed entries"
    );
    assert_eq!(
        ids(store.query_access_log(&page(4, 2, newest)).await.unwrap()),
        ["corr-21", "corr-20"]
    );
    assert!(store
        .query_access_log(&page(6, 2, newest))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store
            .query_access_log(&page(1, 3, Order::OldestFirst))
            .await
            .unwrap()),
        ["corr-21", "corr-22", "corr-23"],
        "the offset also pages oldest first"
    );
    let mut in_window = page(1, 10, newest);
    in_window.to = Some(entry(24, patient, user).time);
    assert_eq!(
        ids(store.query_access_log(&in_window).await.unwrap()),
        ["corr-23", "corr-22", "corr-21", "corr-20"],
        "the period applies before the offset"
    );
    let by_user = AccessLogQuery {
        offset: 1,
        order: newest,
        ..AccessLogQuery::new(Subject::User(user.into()), 1)
    };
    assert_eq!(
        ids(store.query_access_log(&by_user).await.unwrap()),
        ["corr-23b"]
    );
    assert_eq!(store.check_access_log_index().await.unwrap(), None);
}

/// An entry with a user role (canonical version 2) is stored and read back as written,
/// beside entries without one, in one chain.
async fn user_roles_are_stored_as_written(store: &dyn AccessLogStore) {
    let start = store.access_log_head().await.unwrap();
    let patient = "190606060606";
    let mut with_role = entry(30, patient, "SE-TESTKIT-ROLE");
    with_role.user_role = Some("Sjuksköterska".into());
    let without = entry(31, patient, "SE-TESTKIT-ROLE");
    store
        .append_access_log(&[with_role.clone(), without.clone()])
        .await
        .unwrap();
    let rows = store.access_log_rows(start.seq as i64, 10).await.unwrap();
    assert_eq!(rows[0].entry, with_role.canonical_bytes());
    assert!(rows[0].entry.starts_with(br#"{"v":2,"#));
    assert!(rows[1].entry.starts_with(br#"{"v":1,"#));
    assert_chain_from(store, start).await;
    let found: Vec<_> = store
        .query_access_log(&AccessLogQuery::new(Subject::Patient(patient.into()), 10))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(found, [with_role, without]);
}

/// Two writers (two handles on one database: two gateway nodes) append at once; the
/// log stays ONE valid chain holding every entry of both.
pub async fn two_writers_keep_one_chain(a: &dyn AccessLogStore, b: &dyn AccessLogStore) {
    const BATCHES: u64 = 40;
    const PER_BATCH: u64 = 5;
    let start = a.access_log_head().await.unwrap();
    async fn writer(user: &str, handle: &dyn AccessLogStore) {
        for i in 0..BATCHES {
            let batch: Vec<_> = (0..PER_BATCH)
                .map(|j| entry(1000 + i * PER_BATCH + j, "190404040404", user))
                .collect();
            handle.append_access_log(&batch).await.unwrap();
            tokio::task::yield_now().await;
        }
    }
    tokio::join!(writer("SE-TESTKIT-W1", a), writer("SE-TESTKIT-W2", b));
    let head = assert_chain_from(a, start).await;
    assert_eq!(
        head.seq,
        start.seq + 2 * BATCHES * PER_BATCH,
        "every entry of both writers is in the chain"
    );
    assert_eq!(b.access_log_head().await.unwrap(), head);
    for user in ["SE-TESTKIT-W1", "SE-TESTKIT-W2"] {
        let found = a
            .query_access_log(&AccessLogQuery::new(Subject::User(user.into()), 10_000))
            .await
            .unwrap();
        assert_eq!(found.len() as u64, BATCHES * PER_BATCH, "{user}");
    }
}
