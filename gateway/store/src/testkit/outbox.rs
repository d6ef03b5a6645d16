//! The outbox compliance suite: every [`Outbox`] backend MUST pass [`run_all`]. The
//! checks never assume the outbox is empty: each uses its own queues and destinations.

use std::time::{Duration, SystemTime};

use crate::outbox::{NewOutboxItem, Outbox, OutboxItem};

/// Run every check against `outbox`.
pub async fn run_all(outbox: &dyn Outbox) {
    order_and_backoff(outbox).await;
    queues_are_separate(outbox).await;
}

fn item(queue: &str, destination: &str, payload: &str) -> NewOutboxItem {
    NewOutboxItem {
        queue: queue.into(),
        destination: destination.into(),
        payload: payload.as_bytes().to_vec(),
    }
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
    let due = outbox.outbox_due(q, soon(), 1000).await.unwrap();
    let first_a = due.iter().find(|i| i.destination == a).unwrap().clone();
    assert_eq!(
        mine(due),
        [
            (a.into(), "n0".into()),
            (b.into(), "n1".into()),
            (a.into(), "n2".into()),
            (a.into(), "n3".into())
        ]
    );
    // A failed head item holds back the destination's later items, not other ones.
    let later = SystemTime::now() + Duration::from_secs(3600);
    outbox
        .outbox_reschedule(first_a.id, later, 1, "connection refused")
        .await
        .unwrap();
    assert_eq!(
        mine(outbox.outbox_due(q, soon(), 1000).await.unwrap()),
        [(b.into(), "n1".into())]
    );
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
    let due = outbox.outbox_due(q, after, 1000).await.unwrap();
    let head = due.iter().find(|i| i.id == first_a.id).unwrap();
    assert_eq!(head.attempts, 1);
    assert_eq!(head.last_error.as_deref(), Some("connection refused"));
    assert_eq!(mine(due).len(), 4);
    for item in outbox.outbox_due(q, after, 1000).await.unwrap() {
        outbox.outbox_mark_delivered(item.id).await.unwrap();
    }
    assert!(outbox.outbox_due(q, after, 1000).await.unwrap().is_empty());
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
    let d1 = outbox.outbox_due(q1, soon, 100).await.unwrap();
    assert_eq!(d1.len(), 1);
    assert_eq!(d1[0].payload, b"one");
    // A failure in one queue holds back nothing in another, even for the same destination.
    outbox
        .outbox_reschedule(d1[0].id, soon + Duration::from_secs(3600), 1, "down")
        .await
        .unwrap();
    let d2 = outbox.outbox_due(q2, soon, 100).await.unwrap();
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].payload, b"two");
    assert_eq!(outbox.outbox_len(q1).await.unwrap(), 1);
    assert_eq!(outbox.outbox_backlog(q2).await.unwrap()[0].pending, 1);
    outbox.outbox_mark_delivered(d1[0].id).await.unwrap();
    outbox.outbox_mark_delivered(d2[0].id).await.unwrap();
    assert_eq!(outbox.outbox_len(q1).await.unwrap(), 0);
    assert_eq!(outbox.outbox_len(q2).await.unwrap(), 0);
}
