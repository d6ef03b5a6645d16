//! The engagement store compliance suite: every [`EngagementStore`] backend MUST pass
//! [`run_all`] (CONVENTIONS.md: one suite runs against every store backend). The
//! engagement store writes its notifications to the backend's [`Outbox`] in the same
//! transaction, so the suite takes both (they are one database).
//!
//! The checks share one store and never assume it is empty: each uses its own
//! residents, service domains and destinations.

use std::time::{Duration, SystemTime};

use crate::engagement::{
    ApplyRequest, ChangeKind, EiTime, Engagement, EngagementChange, EngagementStore,
    EngagementTransaction, FindQuery, NotificationPlanner, ResidentId,
};
use crate::outbox::{NewOutboxItem, Outbox};

/// The queue the suite's engagement notifications go to.
pub const QUEUE: &str = "testkit-engagement-notification";

/// Run every check against `store` and its `outbox`.
pub async fn run_all(store: &dyn EngagementStore, outbox: &dyn Outbox) {
    create_then_find(store).await;
    newer_content_updates_older_does_not(store).await;
    delete_and_delete_missing(store).await;
    failed_plan_rolls_back_everything(store, outbox).await;
    find_filters(store).await;
    superseded_owner_is_removed(store).await;
    updates_since_pages_by_resident(store).await;
    notifications_are_written_with_the_batch(store, outbox).await;
}

pub fn engagement(rri: &str, domain: &str, source: &str) -> Engagement {
    Engagement {
        registered_resident_identification: ResidentId::parse(rri).unwrap(),
        service_domain: domain.into(),
        categorization: "voo".into(),
        logical_address: format!("{source}-LA"),
        business_object_instance_identifier: "NA".into(),
        clinical_process_interest_id: "NA".into(),
        most_recent_content: None,
        source_system: source.into(),
        creation_time: None,
        update_time: None,
        data_controller: "SE2321000016-DC".into(),
        owner: "SE-TEST-EI".into(),
    }
}

fn t(s: &str) -> EiTime {
    EiTime::parse(s).unwrap()
}

fn upsert(e: &Engagement) -> EngagementTransaction {
    EngagementTransaction {
        delete: false,
        engagement: e.clone(),
    }
}

async fn apply(
    store: &dyn EngagementStore,
    txs: &[EngagementTransaction],
    now: &str,
) -> Vec<EngagementChange> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let plan: NotificationPlanner = Box::new(move |c: &[EngagementChange]| {
        sink.lock().unwrap().extend_from_slice(c);
        Ok(Vec::new())
    });
    store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: txs.to_vec(),
                now: t(now),
                superseded_owner: None,
            },
            plan,
        )
        .await
        .unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    seen
}

/// A planner that writes one item for `destination` in [`QUEUE`].
fn one_item(destination: &str, payload: Vec<u8>) -> NotificationPlanner {
    let destination = destination.to_string();
    Box::new(move |_: &[EngagementChange]| {
        Ok(vec![NewOutboxItem {
            queue: QUEUE.into(),
            destination,
            payload,
        }])
    })
}

/// Used by backend durability tests: one engagement and one notification for
/// `destination`, acknowledged (durable) when this returns.
pub async fn apply_one_with_notification(
    store: &dyn EngagementStore,
    rri: &str,
    destination: &str,
) {
    let e = engagement(rri, "urn:durable", "SRC");
    let outcome = store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: vec![upsert(&e)],
                now: t("20240101120000"),
                superseded_owner: None,
            },
            one_item(destination, b"<n>1</n>".to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(outcome.created, 1);
    assert_eq!(outcome.notifications, 1);
}

/// The state [`apply_one_with_notification`] leaves, as seen after a reopen.
pub async fn assert_one_with_notification(
    store: &dyn EngagementStore,
    outbox: &dyn Outbox,
    rri: &str,
    destination: &str,
) {
    let found = store
        .find_engagements(&FindQuery::new(
            ResidentId::parse(rri).unwrap(),
            "urn:durable",
        ))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the acknowledged engagement is lost");
    assert_eq!(found[0].creation_time, Some(t("20240101120000")));
    let due = outbox
        .outbox_claim(
            QUEUE,
            SystemTime::now() + Duration::from_secs(1),
            1000,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let mine: Vec<_> = due
        .iter()
        .filter(|i| i.destination == destination)
        .collect();
    assert_eq!(mine.len(), 1, "the notification is lost");
    assert_eq!(mine[0].payload, b"<n>1</n>");
    assert_eq!(mine[0].attempts, 0);
}

async fn create_then_find(store: &dyn EngagementStore) {
    let e = engagement("190001010001", "urn:c1", "SRC-A");
    let changes = apply(store, &[upsert(&e)], "20240101100000").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, ChangeKind::Created);
    assert_eq!(
        changes[0].engagement.creation_time,
        Some(t("20240101100000"))
    );
    let mut expected = e.clone();
    expected.creation_time = Some(t("20240101100000"));
    let found = store
        .find_engagements(&FindQuery::new(
            e.registered_resident_identification.clone(),
            "urn:c1",
        ))
        .await
        .unwrap();
    assert_eq!(found, vec![expected.clone()]);
    assert_eq!(store.get_engagement(&e.id()).await.unwrap(), Some(expected));
}

async fn newer_content_updates_older_does_not(store: &dyn EngagementStore) {
    let mut e = engagement("190001010002", "urn:c2", "SRC-A");
    e.most_recent_content = Some(t("20240101000000"));
    apply(store, &[upsert(&e)], "20240102000000").await;

    let mut newer = e.clone();
    newer.most_recent_content = Some(t("20240301000000"));
    let c = apply(store, &[upsert(&newer)], "20240302000000").await;
    assert_eq!(c[0].kind, ChangeKind::Updated);

    let mut older = e.clone();
    older.most_recent_content = Some(t("20230101000000"));
    let c = apply(store, &[upsert(&older)], "20240303000000").await;
    assert_eq!(c[0].kind, ChangeKind::Unchanged);
    let mut none = e.clone();
    none.most_recent_content = None;
    let c = apply(store, &[upsert(&none)], "20240304000000").await;
    assert_eq!(c[0].kind, ChangeKind::Unchanged);

    let stored = store.get_engagement(&e.id()).await.unwrap().unwrap();
    assert_eq!(stored.most_recent_content, Some(t("20240301000000")));
    assert_eq!(stored.creation_time, Some(t("20240102000000")));
    assert_eq!(stored.update_time, Some(t("20240302000000")));
}

async fn delete_and_delete_missing(store: &dyn EngagementStore) {
    let e = engagement("190001010003", "urn:c3", "SRC-A");
    apply(store, &[upsert(&e)], "20240101000000").await;
    let del = EngagementTransaction {
        delete: true,
        engagement: e.clone(),
    };
    let c = apply(store, std::slice::from_ref(&del), "20240102000000").await;
    assert_eq!(c[0].kind, ChangeKind::Deleted);
    assert_eq!(
        c[0].engagement.creation_time,
        Some(t("20240101000000")),
        "a delete reports the stored engagement"
    );
    assert_eq!(store.get_engagement(&e.id()).await.unwrap(), None);
    let c = apply(store, &[del], "20240103000000").await;
    assert_eq!(c[0].kind, ChangeKind::DeletedMissing);
}

async fn failed_plan_rolls_back_everything(store: &dyn EngagementStore, outbox: &dyn Outbox) {
    let before = outbox.outbox_len(QUEUE).await.unwrap();
    let a = engagement("190001010004", "urn:c4", "SRC-A");
    let b = engagement("190001010004", "urn:c4", "SRC-B");
    let plan: NotificationPlanner =
        Box::new(|_: &[EngagementChange]| Err("planner failed".to_string()));
    let err = store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: vec![upsert(&a), upsert(&b)],
                now: t("20240101000000"),
                superseded_owner: None,
            },
            plan,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("planner failed"), "{err}");
    assert_eq!(store.get_engagement(&a.id()).await.unwrap(), None);
    assert_eq!(store.get_engagement(&b.id()).await.unwrap(), None);
    assert_eq!(outbox.outbox_len(QUEUE).await.unwrap(), before);
}

async fn find_filters(store: &dyn EngagementStore) {
    let rri = "19000101T005";
    let mut a = engagement(rri, "urn:c5", "SRC-A");
    a.most_recent_content = Some(t("20200101000000"));
    let mut b = engagement(rri, "urn:c5", "SRC-B");
    b.categorization = "dia".into();
    b.most_recent_content = Some(t("20220101000000"));
    let other_domain = engagement(rri, "urn:c5-other", "SRC-A");
    let other_resident = engagement("190001010006", "urn:c5", "SRC-A");
    apply(
        store,
        &[
            upsert(&a),
            upsert(&b),
            upsert(&other_domain),
            upsert(&other_resident),
        ],
        "20240101000000",
    )
    .await;
    let base = FindQuery::new(ResidentId::parse(rri).unwrap(), "urn:c5");
    let ids = async |q: &FindQuery| {
        let mut v: Vec<String> = store
            .find_engagements(q)
            .await
            .unwrap()
            .into_iter()
            .inspect(|e| assert!(q.matches(e), "store returned a non-matching engagement"))
            .map(|e| e.source_system)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&base).await, ["SRC-A", "SRC-B"]);
    let mut q = base.clone();
    q.categorization = Some("dia".into());
    assert_eq!(ids(&q).await, ["SRC-B"]);
    let mut q = base.clone();
    q.source_system = Some("SRC-A".into());
    assert_eq!(ids(&q).await, ["SRC-A"]);
    let mut q = base.clone();
    q.most_recent_content = Some(t("20210101000000"));
    assert_eq!(ids(&q).await, ["SRC-B"]);
    let mut q = base.clone();
    q.logical_address = Some("SRC-B-LA".into());
    q.data_controller = Some("SE2321000016-DC".into());
    q.owner = Some("SE-TEST-EI".into());
    q.business_object_instance_identifier = Some("NA".into());
    q.clinical_process_interest_id = Some("NA".into());
    assert_eq!(ids(&q).await, ["SRC-B"]);
    let mut q = base.clone();
    q.owner = Some("someone-else".into());
    assert!(ids(&q).await.is_empty());
    // Values are bound, never spliced into SQL.
    let mut q = base;
    q.categorization = Some("' OR '1'='1".into());
    assert!(ids(&q).await.is_empty());
}

async fn superseded_owner_is_removed(store: &dyn EngagementStore) {
    let mine = engagement("190001010007", "urn:c6", "SRC-A");
    apply(store, &[upsert(&mine)], "20240101000000").await;
    let mut theirs = mine.clone();
    theirs.owner = "SE-OTHER-EI".into();
    let plan: NotificationPlanner = Box::new(|_: &[EngagementChange]| Ok(Vec::new()));
    store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: vec![upsert(&theirs)],
                now: t("20240102000000"),
                superseded_owner: Some("SE-TEST-EI".into()),
            },
            plan,
        )
        .await
        .unwrap();
    assert_eq!(store.get_engagement(&mine.id()).await.unwrap(), None);
    assert!(store.get_engagement(&theirs.id()).await.unwrap().is_some());
}

async fn updates_since_pages_by_resident(store: &dyn EngagementStore) {
    let d = "urn:c7";
    let old = engagement("190001010010", d, "SRC-A");
    apply(store, &[upsert(&old)], "20230101000000").await;
    let r1a = engagement("190001010011", d, "SRC-A");
    let r1b = engagement("190001010011", d, "SRC-B");
    let r2 = engagement("190001010012", d, "SRC-A");
    let r3 = engagement("190001010013", d, "SRC-A");
    apply(
        store,
        &[upsert(&r3), upsert(&r1a), upsert(&r2), upsert(&r1b)],
        "20240101000000",
    )
    .await;
    // An update moves an old engagement into the window.
    let mut old_updated = old.clone();
    old_updated.most_recent_content = Some(t("20240101000000"));
    apply(store, &[upsert(&old_updated)], "20240105000000").await;

    let since = t("20240101000000");
    let p1 = store
        .engagements_updated_since(d, since, None, 2)
        .await
        .unwrap();
    assert!(!p1.complete);
    let names: Vec<_> = p1.residents.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["190001010010", "190001010011"]);
    assert_eq!(p1.residents[1].1.len(), 2, "a resident is never split");
    let last = p1.residents.last().unwrap().0.clone();
    let p2 = store
        .engagements_updated_since(d, since, Some(&last), 2)
        .await
        .unwrap();
    assert!(p2.complete);
    let names: Vec<_> = p2.residents.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["190001010012", "190001010013"]);
    let later = store
        .engagements_updated_since(d, t("20240102000000"), None, 10)
        .await
        .unwrap();
    assert!(later.complete);
    assert_eq!(later.residents.len(), 1);
    assert_eq!(
        later.residents[0].1,
        vec![{
            let mut e = old_updated.clone();
            e.creation_time = Some(t("20230101000000"));
            e.update_time = Some(t("20240105000000"));
            e
        }]
    );
    let none = store
        .engagements_updated_since("urn:c7-empty", since, None, 10)
        .await
        .unwrap();
    assert!(none.complete && none.residents.is_empty());
}

async fn notifications_are_written_with_the_batch(
    store: &dyn EngagementStore,
    outbox: &dyn Outbox,
) {
    let before = outbox.outbox_len(QUEUE).await.unwrap();
    let e = engagement("190001010030", "urn:c9", "SRC");
    let changes = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let seen = changes.clone();
    let plan: NotificationPlanner = Box::new(move |c: &[EngagementChange]| {
        *seen.lock().unwrap() = c.len();
        Ok(vec![
            NewOutboxItem {
                queue: QUEUE.into(),
                destination: "sub-batch-A".into(),
                payload: b"a".to_vec(),
            },
            NewOutboxItem {
                queue: QUEUE.into(),
                destination: "sub-batch-B".into(),
                payload: b"b".to_vec(),
            },
        ])
    });
    let outcome = store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: vec![upsert(&e)],
                now: t("20240101000000"),
                superseded_owner: None,
            },
            plan,
        )
        .await
        .unwrap();
    assert_eq!(
        *changes.lock().unwrap(),
        1,
        "the planner sees the batch's changes"
    );
    assert_eq!(outcome.notifications, 2);
    assert_eq!(outbox.outbox_len(QUEUE).await.unwrap(), before + 2);
    let due = outbox
        .outbox_claim(
            QUEUE,
            SystemTime::now() + Duration::from_secs(1),
            10_000,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    for item in due {
        if item.destination.starts_with("sub-batch-") {
            outbox.outbox_mark_delivered(item.id).await.unwrap();
        }
    }
    assert_eq!(outbox.outbox_len(QUEUE).await.unwrap(), before);
}
