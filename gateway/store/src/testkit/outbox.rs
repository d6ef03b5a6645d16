//! The outbox compliance suite: every [`Outbox`] backend MUST pass [`run_all`]. The
//! checks never assume the outbox is empty: each uses its own queues and destinations.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::outbox::{NewOutboxItem, Outbox, OutboxItem};

const LEASE: Duration = Duration::from_secs(60);

/// Run every check against `outbox`.
pub async fn run_all(outbox: &dyn Outbox) {
    order_and_backoff(outbox).await;
    queues_are_separate(outbox).await;
    claims_are_leased(outbox).await;
}

fn item(queue: &str, destination: &str, payload: &str) -> NewOutboxItem {
    NewOutboxItem {
        queue: queue.into(),
        destination: destination.into(),
        payload: payload.as_bytes().to_vec(),
    }
}

fn ids(items: &[OutboxItem]) -> Vec<i64> {
    items.iter().map(|i| i.id).collect()
}

async fn order_and_backoff(outbox: &dyn Outbox) {
    let q = "testkit-order";
    let (a, b) = ("sub-order-A", "sub-order-B");
    for (i, d) in [a, b, a, a].iter().enumerate() {
        // One enqueue per item: order is by write, across calls.
        outbox
            .outbox_enqueue(vec![item(q, d, &format!("n{i}"))])
            .await
            .unwrap();
    }
    let soon = || SystemTime::now() + Duration::from_secs(1);
    let mine = |items: Vec<OutboxItem>| -> Vec<(String, String)> {
        items
            .into_iter()
            .filter(|i| i.destination == a || i.destination == b)
            .map(|i| (i.destination, String::from_utf8(i.payload).unwrap()))
            .collect()
    };
    let due = outbox.outbox_claim(q, soon(), 1000, LEASE).await.unwrap();
    let first_a = due.iter().find(|i| i.destination == a).unwrap().clone();
    let all = ids(&due);
    assert_eq!(
        mine(due),
        [
            (a.into(), "n0".into()),
            (b.into(), "n1".into()),
            (a.into(), "n2".into()),
            (a.into(), "n3".into())
        ]
    );
    // Claimed: not handed out again while leased; given back, due again.
    assert!(outbox
        .outbox_claim(q, soon(), 1000, LEASE)
        .await
        .unwrap()
        .is_empty());
    outbox
        .outbox_release(&all, SystemTime::now())
        .await
        .unwrap();
    let again = outbox.outbox_claim(q, soon(), 1000, LEASE).await.unwrap();
    assert_eq!(ids(&again), all, "released items come back in order");
    // A failed head item holds back the destination's later items, not other ones.
    let later = SystemTime::now() + Duration::from_secs(3600);
    outbox
        .outbox_reschedule(first_a.id, later, 1, "connection refused")
        .await
        .unwrap();
    let rest: Vec<i64> = all.iter().copied().filter(|i| *i != first_a.id).collect();
    outbox
        .outbox_release(&rest, SystemTime::now())
        .await
        .unwrap();
    let due = outbox.outbox_claim(q, soon(), 1000, LEASE).await.unwrap();
    let b_item = ids(&due);
    assert_eq!(mine(due), [(b.into(), "n1".into())]);
    outbox
        .outbox_release(&b_item, SystemTime::now())
        .await
        .unwrap();
    // The backlog shows each destination once, with its head item's attempts and error.
    let backlog = outbox.outbox_backlog(q).await.unwrap();
    assert_eq!(backlog.len(), 2, "{backlog:?}");
    assert_eq!(
        (backlog[0].destination.as_str(), backlog[0].pending),
        (a, 3)
    );
    assert_eq!(backlog[0].head_attempts, 1);
    assert_eq!(backlog[0].last_error.as_deref(), Some("connection refused"));
    assert!(backlog[0].next_attempt > SystemTime::now() + Duration::from_secs(3000));
    assert!(backlog[0].oldest <= SystemTime::now());
    assert_eq!(
        (backlog[1].destination.as_str(), backlog[1].pending),
        (b, 1)
    );
    assert_eq!(
        (backlog[1].head_attempts, backlog[1].last_error.as_deref()),
        (0, None)
    );
    let next = outbox.outbox_next_attempt(q).await.unwrap().unwrap();
    assert!(next <= soon());
    // After the retry time, the head comes back with its attempt count and error.
    let after = later + Duration::from_secs(1);
    let due = outbox.outbox_claim(q, after, 1000, LEASE).await.unwrap();
    let head = due.iter().find(|i| i.id == first_a.id).unwrap();
    assert_eq!(head.attempts, 1);
    assert_eq!(head.last_error.as_deref(), Some("connection refused"));
    let due_ids = ids(&due);
    assert_eq!(mine(due).len(), 4);
    for id in due_ids {
        outbox.outbox_mark_delivered(id).await.unwrap();
    }
    assert!(outbox
        .outbox_claim(q, after + LEASE * 2, 1000, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert!(outbox.outbox_backlog(q).await.unwrap().is_empty());
    assert_eq!(outbox.outbox_len(q).await.unwrap(), 0);
    assert_eq!(outbox.outbox_next_attempt(q).await.unwrap(), None);
}

async fn queues_are_separate(outbox: &dyn Outbox) {
    let (q1, q2) = ("testkit-queue-1", "testkit-queue-2");
    outbox
        .outbox_enqueue(vec![
            item(q1, "same-destination", "one"),
            item(q2, "same-destination", "two"),
        ])
        .await
        .unwrap();
    let soon = SystemTime::now() + Duration::from_secs(1);
    let d1 = outbox.outbox_claim(q1, soon, 100, LEASE).await.unwrap();
    assert_eq!(d1.len(), 1);
    assert_eq!(d1[0].payload, b"one");
    // A failure in one queue holds back nothing in another, even for the same destination.
    outbox
        .outbox_reschedule(d1[0].id, soon + Duration::from_secs(3600), 1, "down")
        .await
        .unwrap();
    let d2 = outbox.outbox_claim(q2, soon, 100, LEASE).await.unwrap();
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].payload, b"two");
    assert_eq!(outbox.outbox_len(q1).await.unwrap(), 1);
    assert_eq!(outbox.outbox_backlog(q2).await.unwrap()[0].pending, 1);
    outbox.outbox_mark_delivered(d1[0].id).await.unwrap();
    outbox.outbox_mark_delivered(d2[0].id).await.unwrap();
    assert_eq!(outbox.outbox_len(q1).await.unwrap(), 0);
    assert_eq!(outbox.outbox_len(q2).await.unwrap(), 0);
}

/// A claimer that dies keeps its items only for the lease; claims never overlap.
async fn claims_are_leased(outbox: &dyn Outbox) {
    let q = "testkit-lease";
    let t0 = SystemTime::now() + Duration::from_secs(1);
    outbox
        .outbox_enqueue(vec![item(q, "lease-A", "x"), item(q, "lease-B", "y")])
        .await
        .unwrap();
    let lease = Duration::from_secs(10);
    let first = outbox.outbox_claim(q, t0, 100, lease).await.unwrap();
    assert_eq!(first.len(), 2);
    let mid = t0 + Duration::from_secs(5);
    assert!(outbox
        .outbox_claim(q, mid, 100, lease)
        .await
        .unwrap()
        .is_empty());
    // The claimer never came back: after the lease, another claim takes the items over.
    let expired = t0 + Duration::from_secs(11);
    let second = outbox.outbox_claim(q, expired, 100, lease).await.unwrap();
    assert_eq!(ids(&second), ids(&first));
    for id in ids(&second) {
        outbox.outbox_mark_delivered(id).await.unwrap();
    }
    assert_eq!(outbox.outbox_len(q).await.unwrap(), 0);
}

/// Several claimers at once (nodes on one database): every item is handed out exactly
/// once, and one destination's items never to two claimers in one round. `outboxes`
/// are handles on the same database.
pub async fn concurrent_claimers_share_without_duplicates(outboxes: Vec<Arc<dyn Outbox>>) {
    let q = "testkit-concurrent";
    let destinations = 8;
    let per_destination = 50;
    let mut items = Vec::new();
    for n in 0..per_destination {
        for d in 0..destinations {
            items.push(item(q, &format!("conc-{d}"), &format!("{d}:{n}")));
        }
    }
    outboxes[0].outbox_enqueue(items).await.unwrap();
    let mut tasks = Vec::new();
    for outbox in outboxes {
        tasks.push(tokio::spawn(async move {
            let mut got: Vec<(String, String)> = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                let now = SystemTime::now() + Duration::from_secs(1);
                let batch = outbox.outbox_claim(q, now, 16, LEASE).await.unwrap();
                if batch.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                for i in batch {
                    got.push((i.destination, String::from_utf8(i.payload).unwrap()));
                    outbox.outbox_mark_delivered(i.id).await.unwrap();
                }
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        let got = t.await.unwrap();
        // Within one claimer, each destination's items arrive in order.
        let mut last: std::collections::HashMap<String, u32> = Default::default();
        for (d, p) in &got {
            let n: u32 = p.split(':').nth(1).unwrap().parse().unwrap();
            if let Some(prev) = last.insert(d.clone(), n) {
                assert!(n > prev, "{d}: {n} after {prev}");
            }
            assert!(seen.insert(p.clone()), "{p} handed out twice");
        }
        total += got.len();
    }
    assert_eq!(total, destinations * per_destination, "items lost");
}
