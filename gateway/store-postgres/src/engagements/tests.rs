//! Engagements and outbox on PostgreSQL: the compliance suites and the cases only
//! several nodes can cause.

use std::sync::{Arc, Mutex};

use vaxel_store::engagement::EngagementTransaction as Tx;
use vaxel_store::testkit::{engagements::engagement, outbox};

use super::*;
use crate::test_support::TestDatabase;

/// A migrated store, and a second pool on it (another node).
async fn nodes(db: &TestDatabase) -> (Arc<PgStore>, Arc<PgStore>) {
    let a = Arc::new(PgStore::connect(&db.config).await.unwrap());
    a.migrate_all().await.unwrap();
    (a, Arc::new(PgStore::connect(&db.config).await.unwrap()))
}

fn item(queue: &str, payload: &str) -> NewOutboxItem {
    let (queue, payload) = (queue.into(), payload.into());
    NewOutboxItem {
        queue,
        destination: "D".into(),
        payload,
    }
}

/// Apply `txs`; the planner records the changes in `seen` and writes one item.
async fn apply(
    s: &PgStore,
    txs: Vec<Tx>,
    own: Option<&str>,
    seen: Arc<Mutex<Vec<EngagementChange>>>,
) {
    let plan: NotificationPlanner = Box::new(move |c: &[EngagementChange]| {
        seen.lock().unwrap().extend_from_slice(c);
        Ok(vec![item("notify", "n")])
    });
    let now = EiTime::parse("20240201000000").unwrap();
    let (transactions, superseded_owner) = (txs, own.map(Into::into));
    let request = ApplyRequest {
        transactions,
        now,
        superseded_owner,
    };
    s.apply_engagement_transactions(request, plan)
        .await
        .unwrap();
}

/// This module's compliance suites (the crate's full suite needs every module), and
/// claims by three handles on one pool and by four on two pools (two nodes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engagement_and_outbox_suites() {
    let Some(db) = TestDatabase::create("vx_eng").await else {
        return;
    };
    let (a, b) = nodes(&db).await;
    vaxel_store::testkit::engagements::run_all(a.as_ref(), a.as_ref()).await;
    outbox::run_all(a.as_ref()).await;
    let (a, b): (Arc<dyn Outbox>, Arc<dyn Outbox>) = (a, b);
    outbox::concurrent_claimers_share_without_duplicates(vec![a.clone(), a.clone(), a.clone()])
        .await;
    outbox::concurrent_claimers_share_without_duplicates(vec![a.clone(), b.clone(), a, b]).await;
}

/// An older item that commits after a newer one of its destination was claimed
/// waits for that claim: one destination is never with two claimers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_older_item_waits_for_the_claimed_newer_one() {
    let Some(db) = TestDatabase::create("vx_eng_late").await else {
        return;
    };
    let (store, _) = nodes(&db).await;
    let mut client = store.client().await.unwrap();
    let older = client.transaction().await.unwrap();
    insert_outbox(&older, &[item("late", "old")]).await.unwrap();
    store
        .outbox_enqueue(vec![item("late", "new")])
        .await
        .unwrap();
    let now = SystemTime::now() + Duration::from_secs(1);
    let claim = || store.outbox_claim("late", now, 10, Duration::from_secs(60));
    let first = claim().await.unwrap();
    assert_eq!(
        first.iter().map(|i| &i.payload[..]).collect::<Vec<_>>(),
        [b"new"]
    );
    older.commit().await.unwrap();
    assert!(
        claim().await.unwrap().is_empty(),
        "the destination is claimed"
    );
    store.outbox_mark_delivered(first[0].id).await.unwrap();
    let second = claim().await.unwrap();
    assert_eq!(
        second.iter().map(|i| &i.payload[..]).collect::<Vec<_>>(),
        [b"old"]
    );
}

/// ProcessNotification-R5 follows the batch's order, also when the superseded
/// own-owner engagement is itself in the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_keys_in_the_same_batch_follow_the_order() {
    let Some(db) = TestDatabase::create("vx_eng_sup").await else {
        return;
    };
    let (store, _) = nodes(&db).await;
    for (rri, ours_first) in [("190001030001", true), ("190001030002", false)] {
        let mine = engagement(rri, "urn:sup", "SRC");
        let theirs = Engagement {
            owner: "SE-OTHER-EI".into(),
            ..mine.clone()
        };
        let mut txs = vec![Tx {
            delete: false,
            engagement: mine.clone(),
        }];
        txs.push(Tx {
            delete: false,
            engagement: theirs.clone(),
        });
        if !ours_first {
            txs.reverse();
        }
        apply(&store, txs, Some(&mine.owner), Default::default()).await;
        // Ours first: stored, then removed by theirs. Theirs first: ours comes after.
        let mine_stored = store.get_engagement(&mine.id()).await.unwrap();
        assert_eq!(mine_stored.is_some(), !ours_first);
        assert!(store.get_engagement(&theirs.id()).await.unwrap().is_some());
    }
}

/// Two nodes apply overlapping batches at once, in different orders: every batch
/// succeeds, each engagement is created once and deleted once, the newest content
/// wins, and every batch wrote its notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overlapping_batches_are_serialised() {
    let Some(db) = TestDatabase::create("vx_eng_conc").await else {
        return;
    };
    let (a, b) = nodes(&db).await;
    let (rri, n) = ("190001020001", 150);
    let base: Vec<_> = (0..n)
        .map(|i| engagement(rri, "urn:c", &format!("S{i:03}")))
        .collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for delete in [false, true] {
        let mut tasks = Vec::new();
        for w in 0..6u32 {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            let (mut batch, seen) = (base.clone(), seen.clone());
            batch.rotate_left(w as usize * 25);
            if w % 3 == 1 {
                batch.reverse();
            }
            tasks.push(tokio::spawn(async move {
                for round in 0..5 {
                    let mrc = EiTime::parse(&format!("202401{:02}000000", 1 + round * 6 + w));
                    let txs = batch.iter().map(|e| Tx {
                        delete,
                        engagement: Engagement {
                            most_recent_content: mrc,
                            ..e.clone()
                        },
                    });
                    apply(&store, txs.collect(), None, seen.clone()).await;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        if !delete {
            let q = FindQuery::new(ResidentId::parse(rri).unwrap(), "urn:c");
            let found = a.find_engagements(&q).await.unwrap();
            let newest = EiTime::parse("20240130000000");
            assert_eq!(found.len(), n);
            assert!(found.iter().all(|e| e.most_recent_content == newest));
        }
    }
    let count = |k: ChangeKind| seen.lock().unwrap().iter().filter(|c| c.kind == k).count();
    assert_eq!(
        (count(ChangeKind::Created), count(ChangeKind::Deleted)),
        (n, n)
    );
    assert_eq!(count(ChangeKind::DeletedMissing), 30 * n - n);
    assert_eq!(
        a.outbox_len("notify").await.unwrap(),
        60,
        "one item per batch"
    );
}
