//! The SDK message store compliance suite: every [`SdkStore`] backend MUST pass
//! [`run_all`].
//!
//! It never assumes the store is empty. Each check uses fresh message, submitter and
//! recipient ids, and its own hour of simulated time in the 1990s: claims take every due
//! item of the store, so the checks only ever claim with `now` in that past (a real
//! item, due now, is never taken), assert only about their own items, and leave every
//! outgoing item they create in a final state. Counters are compared before and after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sdk::{
    InboxEntry, InboxInsert, IncomingMessage, NewIncoming, NewOutgoing, OutgoingCounts,
    OutgoingItem, OutgoingState, SdkStore, SubmitOutcome,
};

/// Run every check against `store` (an `Arc`: the concurrency checks spawn tasks).
pub async fn run_all(store: &Arc<dyn SdkStore>) {
    let s = store.as_ref();
    submit_status_and_duplicate(s).await;
    claim_holds_for_the_lease_then_expires(s).await;
    due_items_come_oldest_first(s).await;
    reschedule_waits_for_next_attempt(s).await;
    final_states_never_change(s).await;
    list_by_submitter_newest_first(s).await;
    inbox_insert_duplicate_pending_get_ack(s).await;
    concurrent_inbox_inserts_store_one(store).await;
    concurrent_submits_store_one(store).await;
    concurrent_claims_take_each_item_once(store).await;
}

/// A fresh id: process, wall clock and a counter (unique across runs on one database).
fn fresh(kind: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "testkit-{kind}-{:x}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The start of a check's own hour of simulated time, somewhere in 1990–1999 (whole
/// milliseconds, so times read back equal).
fn base() -> SystemTime {
    static N: AtomicU64 = AtomicU64::new(0);
    const Y1990_MS: u64 = 631_152_000_000;
    const HOUR_MS: u64 = 3_600_000;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let slot = (seed / 7 + N.fetch_add(1, Ordering::Relaxed) * 13) % 80_000;
    UNIX_EPOCH + Duration::from_millis(Y1990_MS + slot * HOUR_MS)
}

fn at(base: SystemTime, ms: u64) -> SystemTime {
    base + Duration::from_millis(ms)
}

fn outgoing(message_id: &str, submitted_by: &str, created: SystemTime) -> NewOutgoing {
    NewOutgoing {
        message_id: message_id.into(),
        conversation_id: format!("conv-{message_id}"),
        ref_to_message_id: None,
        sender: "SE2321000016-ORG-A".into(),
        recipient: "SE2321000016-ORG-B".into(),
        submitted_by: submitted_by.into(),
        endpoint: "https://gateway-b.example.invalid/sdk".into(),
        envelope: format!("<envelope id='{message_id}'/>").into_bytes(),
        created,
    }
}

async fn submit(s: &dyn SdkStore, m: &NewOutgoing) {
    let outcome = s.sdk_submit(m.clone()).await.unwrap();
    assert_eq!(
        outcome,
        SubmitOutcome::Queued,
        "first submit of {}",
        m.message_id
    );
}

/// Claim with `now`; only the items among `ours`, in the order returned.
async fn claim_ours(
    s: &dyn SdkStore,
    now: SystemTime,
    lease_until: SystemTime,
    ours: &[&str],
) -> Vec<OutgoingItem> {
    s.sdk_claim_due(now, lease_until, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| ours.contains(&i.message_id.as_str()))
        .collect()
}

fn ids(items: &[OutgoingItem]) -> Vec<&str> {
    items.iter().map(|i| i.message_id.as_str()).collect()
}

async fn state_of(s: &dyn SdkStore, id: &str) -> OutgoingState {
    s.sdk_status(id).await.unwrap().unwrap().state
}

/// `after - before`, per state (counters may only be compared around one check's work).
fn delta(before: OutgoingCounts, after: OutgoingCounts) -> [i64; 5] {
    OutgoingState::ALL.map(|st| after.of(st) as i64 - before.of(st) as i64)
}

async fn submit_status_and_duplicate(s: &dyn SdkStore) {
    let t = base();
    let id = fresh("submit");
    let sub = fresh("system");
    let before = s.sdk_counts().await.unwrap();
    let m = NewOutgoing {
        ref_to_message_id: Some("earlier-message".into()),
        ..outgoing(&id, &sub, at(t, 1_000))
    };
    submit(s, &m).await;

    // Stored as given: Queued, due at once, nothing tried yet.
    let st = s
        .sdk_status(&id)
        .await
        .unwrap()
        .expect("status after submit");
    assert_eq!(st.message_id, id);
    assert_eq!(st.conversation_id, m.conversation_id);
    assert_eq!(st.ref_to_message_id.as_deref(), Some("earlier-message"));
    assert_eq!(
        (st.sender.as_str(), st.recipient.as_str()),
        (m.sender.as_str(), m.recipient.as_str())
    );
    assert_eq!(st.submitted_by, sub);
    assert_eq!(st.state, OutgoingState::Queued);
    assert_eq!(st.attempts, 0);
    assert_eq!((st.created, st.updated), (m.created, m.created));
    assert_eq!(st.next_attempt, Some(m.created));
    assert_eq!(
        (&st.last_error, &st.receipt_code, &st.receipt),
        (&None, &None, &None)
    );
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [1, 0, 0, 0, 0]
    );

    // The same id again (other content, other submitter): nothing new is stored, the
    // answer is the stored message's status.
    let again = NewOutgoing {
        envelope: b"<other/>".to_vec(),
        submitted_by: fresh("other-system"),
        ..m.clone()
    };
    assert_eq!(
        s.sdk_submit(again).await.unwrap(),
        SubmitOutcome::Duplicate(st.clone())
    );
    assert_eq!(s.sdk_status(&id).await.unwrap(), Some(st));
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [1, 0, 0, 0, 0]
    );
    // What is delivered is the first copy's envelope.
    let claimed = claim_ours(s, at(t, 1_000), at(t, 60_000), &[&id]).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].envelope, m.envelope);

    assert_eq!(s.sdk_status(&fresh("unknown")).await.unwrap(), None);
    s.sdk_fail(&id, "testkit: done", at(t, 2_000))
        .await
        .unwrap();
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [0, 0, 0, 0, 1]
    );
}

async fn claim_holds_for_the_lease_then_expires(s: &dyn SdkStore) {
    let t = base();
    let id = fresh("lease");
    let m = outgoing(&id, &fresh("system"), at(t, 1_000));
    submit(s, &m).await;
    let before = s.sdk_counts().await.unwrap();

    // Claimed: everything a delivery needs, as submitted; Sending until the lease ends.
    let first = claim_ours(s, at(t, 2_000), at(t, 62_000), &[&id]).await;
    assert_eq!(
        first,
        [OutgoingItem {
            message_id: id.clone(),
            sender: m.sender.clone(),
            recipient: m.recipient.clone(),
            endpoint: m.endpoint.clone(),
            envelope: m.envelope.clone(),
            attempts: 0,
            created: m.created,
        }]
    );
    let st = s.sdk_status(&id).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Sending);
    assert_eq!(st.next_attempt, None);
    assert_eq!(st.updated, at(t, 2_000));
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [-1, 1, 0, 0, 0]
    );
    let next = s.sdk_next_due().await.unwrap().expect("a lease is running");
    assert!(
        next <= at(t, 62_000),
        "next due {next:?} after the lease end"
    );

    // While the lease holds, no other claim gets it.
    assert!(claim_ours(s, at(t, 2_000), at(t, 90_000), &[&id])
        .await
        .is_empty());
    assert!(claim_ours(s, at(t, 61_999), at(t, 90_000), &[&id])
        .await
        .is_empty());
    // Its node died: once the lease ended, another claim gets it (still no attempt
    // counted: nothing was heard back), with a new lease.
    let second = claim_ours(s, at(t, 62_000), at(t, 122_000), &[&id]).await;
    assert_eq!(ids(&second), [id.as_str()]);
    assert_eq!(second[0].attempts, 0);
    assert!(claim_ours(s, at(t, 100_000), at(t, 200_000), &[&id])
        .await
        .is_empty());
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [-1, 1, 0, 0, 0]
    );

    // Delivered: accepted receipt stored, lease gone, never due again.
    s.sdk_record_receipt(
        &id,
        true,
        "accepted",
        b"<receipt ok/>".to_vec(),
        at(t, 101_000),
    )
    .await
    .unwrap();
    let st = s.sdk_status(&id).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Delivered);
    assert_eq!(st.receipt_code.as_deref(), Some("accepted"));
    assert_eq!(st.receipt.as_deref(), Some(&b"<receipt ok/>"[..]));
    assert_eq!((st.updated, st.next_attempt), (at(t, 101_000), None));
    assert_eq!(st.last_error, None);
    assert!(claim_ours(s, at(t, 3_000_000), at(t, 3_100_000), &[&id])
        .await
        .is_empty());
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [-1, 0, 1, 0, 0]
    );
}

async fn due_items_come_oldest_first(s: &dyn SdkStore) {
    let t = base();
    let sub = fresh("system");
    let (c1, c2, c3) = (fresh("order"), fresh("order"), fresh("order"));
    // Submitted out of order: what counts is when each is due.
    for (id, ms) in [(&c3, 3_000), (&c1, 1_000), (&c2, 2_000)] {
        submit(s, &outgoing(id, &sub, at(t, ms))).await;
    }
    let ours = [c1.as_str(), c2.as_str(), c3.as_str()];
    // `limit` caps a claim (some item is due: at least c1).
    let one = s
        .sdk_claim_due(at(t, 2_500), at(t, 60_000), 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1, "limit 1 claims exactly one of the due items");
    let rest = claim_ours(s, at(t, 2_500), at(t, 60_000), &ours).await;
    let mut got: Vec<&str> = ids(&one).into_iter().filter(|i| ours.contains(i)).collect();
    got.extend(ids(&rest));
    assert_eq!(got, [c1.as_str(), c2.as_str()], "c3 is not due yet");
    assert_eq!(state_of(s, &c3).await, OutgoingState::Queued);
    let last = claim_ours(s, at(t, 3_000), at(t, 60_000), &ours).await;
    assert_eq!(ids(&last), [c3.as_str()]);

    // A rejecting receipt is final too, with its code.
    let before = s.sdk_counts().await.unwrap();
    s.sdk_record_receipt(
        &c1,
        false,
        "rejected-unknown-recipient",
        b"<no/>".to_vec(),
        at(t, 4_000),
    )
    .await
    .unwrap();
    let st = s.sdk_status(&c1).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Rejected);
    assert_eq!(
        st.receipt_code.as_deref(),
        Some("rejected-unknown-recipient")
    );
    assert_eq!(st.receipt.as_deref(), Some(&b"<no/>"[..]));
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [0, -1, 0, 1, 0]
    );
    for id in [&c2, &c3] {
        s.sdk_fail(id, "testkit: done", at(t, 5_000)).await.unwrap();
    }
}

async fn reschedule_waits_for_next_attempt(s: &dyn SdkStore) {
    let t = base();
    let id = fresh("retry");
    submit(s, &outgoing(&id, &fresh("system"), at(t, 1_000))).await;
    assert_eq!(
        ids(&claim_ours(s, at(t, 1_000), at(t, 61_000), &[&id]).await),
        [id.as_str()]
    );
    let before = s.sdk_counts().await.unwrap();
    s.sdk_reschedule(&id, 1, at(t, 600_000), "connection refused", at(t, 5_000))
        .await
        .unwrap();
    let st = s.sdk_status(&id).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Queued);
    assert_eq!(st.attempts, 1);
    assert_eq!(st.next_attempt, Some(at(t, 600_000)));
    assert_eq!(st.last_error.as_deref(), Some("connection refused"));
    assert_eq!(st.updated, at(t, 5_000));
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [1, -1, 0, 0, 0]
    );
    let next = s.sdk_next_due().await.unwrap().expect("an item is queued");
    assert!(next <= at(t, 600_000));

    // Not due before next_attempt, even after the old lease ended.
    assert!(claim_ours(s, at(t, 300_000), at(t, 900_000), &[&id])
        .await
        .is_empty());
    let again = claim_ours(s, at(t, 600_000), at(t, 660_000), &[&id]).await;
    assert_eq!(ids(&again), [id.as_str()]);
    assert_eq!(again[0].attempts, 1);

    s.sdk_reschedule(&id, 2, at(t, 1_200_000), "timed out", at(t, 610_000))
        .await
        .unwrap();
    let third = claim_ours(s, at(t, 1_200_000), at(t, 1_260_000), &[&id]).await;
    assert_eq!(third[0].attempts, 2);
    s.sdk_record_receipt(&id, true, "accepted", b"<ok/>".to_vec(), at(t, 1_201_000))
        .await
        .unwrap();
    let st = s.sdk_status(&id).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Delivered);
    assert_eq!(st.attempts, 2);
    assert_eq!(st.last_error.as_deref(), Some("timed out"));
}

async fn final_states_never_change(s: &dyn SdkStore) {
    let t = base();
    let sub = fresh("system");
    let (failed, delivered) = (fresh("final"), fresh("final"));
    for id in [&failed, &delivered] {
        submit(s, &outgoing(id, &sub, at(t, 1_000))).await;
    }
    assert_eq!(
        claim_ours(s, at(t, 1_000), at(t, 61_000), &[&failed, &delivered])
            .await
            .len(),
        2
    );

    // Dead letter.
    let before = s.sdk_counts().await.unwrap();
    s.sdk_fail(&failed, "not delivered within 72 h", at(t, 2_000))
        .await
        .unwrap();
    let st = s.sdk_status(&failed).await.unwrap().unwrap();
    assert_eq!(st.state, OutgoingState::Failed);
    assert_eq!(st.last_error.as_deref(), Some("not delivered within 72 h"));
    assert_eq!((st.next_attempt, st.updated), (None, at(t, 2_000)));
    assert_eq!(
        delta(before, s.sdk_counts().await.unwrap()),
        [0, -1, 0, 0, 1]
    );
    s.sdk_record_receipt(
        &delivered,
        true,
        "accepted",
        b"<first/>".to_vec(),
        at(t, 2_000),
    )
    .await
    .unwrap();
    let delivered_status = s.sdk_status(&delivered).await.unwrap().unwrap();

    // Late answers of deliveries whose lease had expired change nothing.
    let counts = s.sdk_counts().await.unwrap();
    for id in [&failed, &delivered] {
        let kept = s.sdk_status(id).await.unwrap().unwrap();
        s.sdk_record_receipt(id, false, "late", b"<late/>".to_vec(), at(t, 3_000))
            .await
            .unwrap();
        s.sdk_reschedule(id, 9, at(t, 3_000), "late failure", at(t, 3_000))
            .await
            .unwrap();
        s.sdk_fail(id, "late dead letter", at(t, 3_000))
            .await
            .unwrap();
        assert_eq!(s.sdk_status(id).await.unwrap().unwrap(), kept);
    }
    assert_eq!(
        s.sdk_status(&delivered).await.unwrap().unwrap(),
        delivered_status
    );
    assert_eq!(s.sdk_counts().await.unwrap(), counts);
    assert!(claim_ours(
        s,
        at(t, 3_000_000),
        at(t, 3_100_000),
        &[&failed, &delivered]
    )
    .await
    .is_empty());

    // Unknown ids: no effect, no error.
    let unknown = fresh("unknown");
    s.sdk_record_receipt(&unknown, true, "accepted", vec![], at(t, 3_000))
        .await
        .unwrap();
    s.sdk_reschedule(&unknown, 1, at(t, 3_000), "x", at(t, 3_000))
        .await
        .unwrap();
    s.sdk_fail(&unknown, "x", at(t, 3_000)).await.unwrap();
    assert_eq!(s.sdk_status(&unknown).await.unwrap(), None);
    assert_eq!(s.sdk_counts().await.unwrap(), counts);
}

async fn list_by_submitter_newest_first(s: &dyn SdkStore) {
    let t = base();
    let (sub, other) = (fresh("system"), fresh("system"));
    let (l1, l2, l3, o1) = (fresh("list"), fresh("list"), fresh("list"), fresh("list"));
    submit(s, &outgoing(&l1, &sub, at(t, 1_000))).await;
    submit(s, &outgoing(&l2, &sub, at(t, 3_000))).await;
    submit(s, &outgoing(&l3, &sub, at(t, 2_000))).await;
    submit(s, &outgoing(&o1, &other, at(t, 4_000))).await;

    let listed = |v: Vec<crate::sdk::OutgoingStatus>| -> Vec<String> {
        v.into_iter().map(|st| st.message_id).collect()
    };
    assert_eq!(
        listed(s.sdk_list(Some(&sub), 10).await.unwrap()),
        [l2.clone(), l3.clone(), l1.clone()]
    );
    assert_eq!(
        listed(s.sdk_list(Some(&sub), 2).await.unwrap()),
        [l2.clone(), l3.clone()]
    );
    let of_other = s.sdk_list(Some(&other), 10).await.unwrap();
    assert_eq!(of_other.len(), 1);
    assert_eq!(of_other[0], s.sdk_status(&o1).await.unwrap().unwrap());
    assert!(s
        .sdk_list(Some(&fresh("nobody")), 10)
        .await
        .unwrap()
        .is_empty());
    let all = s.sdk_list(None, 5).await.unwrap();
    assert!(!all.is_empty() && all.len() <= 5, "{} listed", all.len());
    assert!(
        all.windows(2).all(|w| w[0].created >= w[1].created),
        "newest first"
    );

    for id in [&l1, &l2, &l3, &o1] {
        s.sdk_fail(id, "testkit: done", at(t, 5_000)).await.unwrap();
    }
}

fn incoming(message_id: &str, recipient: &str, received: SystemTime) -> NewIncoming {
    NewIncoming {
        message_id: message_id.into(),
        conversation_id: format!("conv-{message_id}"),
        sender: "SE2321000016-ORG-A".into(),
        recipient: recipient.into(),
        delivered_by: "gateway-a".into(),
        envelope: format!("<encrypted id='{message_id}'/>").into_bytes(),
        receipt: format!("<receipt for='{message_id}'/>").into_bytes(),
        received,
    }
}

fn entry(m: &NewIncoming) -> InboxEntry {
    InboxEntry {
        message_id: m.message_id.clone(),
        conversation_id: m.conversation_id.clone(),
        sender: m.sender.clone(),
        recipient: m.recipient.clone(),
        received: m.received,
    }
}

async fn inbox_insert_duplicate_pending_get_ack(s: &dyn SdkStore) {
    let t = base();
    let (r, r2) = (fresh("recipient"), fresh("recipient"));
    let i1 = incoming(&fresh("in"), &r, at(t, 2_000));
    let i2 = incoming(&fresh("in"), &r, at(t, 1_000));
    let i3 = incoming(&fresh("in"), &r, at(t, 3_000));
    let j = incoming(&fresh("in"), &r2, at(t, 1_500));
    let (pending0, acked0) = s.sdk_inbox_counts().await.unwrap();
    for m in [&i1, &i2, &i3, &j] {
        assert_eq!(
            s.sdk_inbox_insert(m.clone()).await.unwrap(),
            InboxInsert::Inserted
        );
    }
    assert_eq!(s.sdk_inbox_counts().await.unwrap(), (pending0 + 4, acked0));

    // A second copy (the sender retried): answered with the first copy's receipt,
    // nothing stored.
    let copy = NewIncoming {
        envelope: b"<another copy/>".to_vec(),
        receipt: b"<another receipt/>".to_vec(),
        received: at(t, 9_000),
        ..i1.clone()
    };
    assert_eq!(
        s.sdk_inbox_insert(copy).await.unwrap(),
        InboxInsert::Duplicate {
            receipt: i1.receipt.clone()
        }
    );
    assert_eq!(s.sdk_inbox_counts().await.unwrap(), (pending0 + 4, acked0));

    // Pending: that recipient's, oldest received first.
    assert_eq!(
        s.sdk_inbox_pending(&r, 10).await.unwrap(),
        [entry(&i2), entry(&i1), entry(&i3)]
    );
    assert_eq!(
        s.sdk_inbox_pending(&r, 2).await.unwrap(),
        [entry(&i2), entry(&i1)]
    );
    assert_eq!(s.sdk_inbox_pending(&r2, 10).await.unwrap(), [entry(&j)]);
    assert!(s
        .sdk_inbox_pending(&fresh("nobody"), 10)
        .await
        .unwrap()
        .is_empty());

    // Get: the first copy, as received.
    assert_eq!(
        s.sdk_inbox_get(&i1.message_id).await.unwrap(),
        Some(IncomingMessage {
            entry: entry(&i1),
            envelope: i1.envelope.clone(),
            receipt: i1.receipt.clone(),
            acknowledged: None,
        })
    );
    assert_eq!(s.sdk_inbox_get(&fresh("unknown")).await.unwrap(), None);

    // Ack: gone from pending, kept with its time; a second ack keeps the first time.
    assert!(s
        .sdk_inbox_ack(&i2.message_id, at(t, 10_000))
        .await
        .unwrap());
    assert_eq!(
        s.sdk_inbox_pending(&r, 10).await.unwrap(),
        [entry(&i1), entry(&i3)]
    );
    assert!(s
        .sdk_inbox_ack(&i2.message_id, at(t, 20_000))
        .await
        .unwrap());
    let got = s.sdk_inbox_get(&i2.message_id).await.unwrap().unwrap();
    assert_eq!(got.acknowledged, Some(at(t, 10_000)));
    assert_eq!(got.envelope, i2.envelope);
    assert_eq!(
        s.sdk_inbox_counts().await.unwrap(),
        (pending0 + 3, acked0 + 1)
    );
    assert!(!s
        .sdk_inbox_ack(&fresh("unknown"), at(t, 10_000))
        .await
        .unwrap());
    // A duplicate of an acknowledged message still gets its receipt.
    assert_eq!(
        s.sdk_inbox_insert(i2.clone()).await.unwrap(),
        InboxInsert::Duplicate {
            receipt: i2.receipt.clone()
        }
    );

    for m in [&i1, &i3, &j] {
        assert!(s.sdk_inbox_ack(&m.message_id, at(t, 30_000)).await.unwrap());
    }
    assert!(s.sdk_inbox_pending(&r, 10).await.unwrap().is_empty());
    assert_eq!(s.sdk_inbox_counts().await.unwrap(), (pending0, acked0 + 4));
}

const TASKS: usize = 8;

async fn concurrent_inbox_inserts_store_one(store: &Arc<dyn SdkStore>) {
    let t = base();
    let id = fresh("in-race");
    let recipient = fresh("recipient");
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let store = store.clone();
            let m = NewIncoming {
                receipt: format!("<receipt n='{n}'/>").into_bytes(),
                ..incoming(&id, &recipient, at(t, n as u64))
            };
            tokio::spawn(async move { (m.receipt.clone(), store.sdk_inbox_insert(m).await) })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        let (receipt, outcome) = task.await.unwrap();
        results.push((receipt, outcome.unwrap()));
    }
    let winners: Vec<&Vec<u8>> = results
        .iter()
        .filter(|(_, o)| *o == InboxInsert::Inserted)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one insert stores: {results:?}");
    let winner = winners[0].clone();
    for (_, outcome) in &results {
        if let InboxInsert::Duplicate { receipt } = outcome {
            assert_eq!(receipt, &winner, "every duplicate gets the stored receipt");
        }
    }
    let stored = store.sdk_inbox_get(&id).await.unwrap().expect("stored");
    assert_eq!(stored.receipt, winner);
    let pending = store.sdk_inbox_pending(&recipient, 100).await.unwrap();
    assert_eq!(pending.len(), 1, "one copy pending: {pending:?}");
    assert_eq!(pending[0].message_id, id);
    assert!(store.sdk_inbox_ack(&id, at(t, 60_000)).await.unwrap());
}

async fn concurrent_submits_store_one(store: &Arc<dyn SdkStore>) {
    let t = base();
    let id = fresh("submit-race");
    let sub = fresh("system");
    let before = store.sdk_counts().await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            let m = outgoing(&id, &sub, at(t, 1_000));
            tokio::spawn(async move { store.sdk_submit(m).await })
        })
        .collect();
    let mut queued = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            SubmitOutcome::Queued => queued += 1,
            SubmitOutcome::Duplicate(st) => assert_eq!(st.message_id, id),
        }
    }
    assert_eq!(queued, 1, "exactly one submit stores");
    assert_eq!(
        delta(before, store.sdk_counts().await.unwrap()),
        [1, 0, 0, 0, 0]
    );
    store
        .sdk_fail(&id, "testkit: done", at(t, 2_000))
        .await
        .unwrap();
}

async fn concurrent_claims_take_each_item_once(store: &Arc<dyn SdkStore>) {
    const ITEMS: u64 = 40;
    let t = base();
    let sub = fresh("system");
    let ours: Vec<String> = (0..ITEMS).map(|_| fresh("claim-race")).collect();
    for (n, id) in ours.iter().enumerate() {
        submit(store.as_ref(), &outgoing(id, &sub, at(t, n as u64))).await;
    }
    let (now, lease) = (at(t, 60_000), at(t, 120_000));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store.sdk_claim_due(now, lease, 3).await.unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|i| i.message_id));
                }
            })
        })
        .collect();
    let mut claimed: Vec<String> = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    claimed.retain(|id| ours.contains(id));
    claimed.sort();
    let mut expected = ours.clone();
    expected.sort();
    assert_eq!(claimed, expected, "each item claimed exactly once");
    for id in &ours {
        assert_eq!(state_of(store.as_ref(), id).await, OutgoingState::Sending);
        store
            .sdk_fail(id, "testkit: done", at(t, 61_000))
            .await
            .unwrap();
    }
}
