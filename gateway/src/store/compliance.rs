//! The store compliance suite: every [`Store`] backend MUST pass [`run_all`]
//! (CONVENTIONS.md: one suite runs against every store backend).
//!
//! The checks share one store and never assume it is empty: each uses its own
//! residents, service domains and subscribers.

use std::time::{Duration, SystemTime};

use super::{ApplyRequest, ChangeKind, EngagementChange, NewOutboxItem, Store};
use crate::engagement::model::{EiTime, Engagement, EngagementTransaction, FindQuery, ResidentId};

/// Run every check against `store`.
pub(crate) fn run_all(store: &dyn Store) {
    create_then_find(store);
    newer_content_updates_older_does_not(store);
    delete_and_delete_missing(store);
    failed_plan_rolls_back_everything(store);
    find_filters(store);
    superseded_owner_is_removed(store);
    updates_since_pages_by_resident(store);
    outbox_order_and_backoff(store);
}

pub(crate) fn engagement(rri: &str, domain: &str, source: &str) -> Engagement {
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

fn apply(store: &dyn Store, txs: &[EngagementTransaction], now: &str) -> Vec<EngagementChange> {
    let seen = std::sync::Mutex::new(Vec::new());
    let plan = |c: &[EngagementChange]| {
        seen.lock().unwrap().extend_from_slice(c);
        Ok(Vec::new())
    };
    store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: txs,
                now: t(now),
                superseded_owner: None,
            },
            &plan,
        )
        .unwrap();
    seen.into_inner().unwrap()
}

/// Used by backend durability tests: one engagement and one notification for `subscriber`.
pub(crate) fn apply_one_with_notification(store: &dyn Store, rri: &str, subscriber: &str) {
    let e = engagement(rri, "urn:durable", "SRC");
    let plan = |c: &[EngagementChange]| {
        Ok(vec![NewOutboxItem {
            subscriber: subscriber.into(),
            payload: format!("<n>{}</n>", c.len()).into_bytes(),
        }])
    };
    let outcome = store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: &[upsert(&e)],
                now: t("20240101120000"),
                superseded_owner: None,
            },
            &plan,
        )
        .unwrap();
    assert_eq!(outcome.created, 1);
    assert_eq!(outcome.notifications, 1);
}

/// The state [`apply_one_with_notification`] leaves, as seen after a reopen.
pub(crate) fn assert_one_with_notification(store: &dyn Store, rri: &str, subscriber: &str) {
    let found = store
        .find_engagements(&FindQuery::new(
            ResidentId::parse(rri).unwrap(),
            "urn:durable",
        ))
        .unwrap();
    assert_eq!(found.len(), 1, "the acknowledged engagement is lost");
    assert_eq!(found[0].creation_time, Some(t("20240101120000")));
    let due = store
        .outbox_due(SystemTime::now() + Duration::from_secs(1), 1000)
        .unwrap();
    let mine: Vec<_> = due.iter().filter(|i| i.subscriber == subscriber).collect();
    assert_eq!(mine.len(), 1, "the notification is lost");
    assert_eq!(mine[0].payload, b"<n>1</n>");
    assert_eq!(mine[0].attempts, 0);
}

fn create_then_find(store: &dyn Store) {
    let e = engagement("190001010001", "urn:c1", "SRC-A");
    let changes = apply(store, &[upsert(&e)], "20240101100000");
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
        .unwrap();
    assert_eq!(found, vec![expected.clone()]);
    assert_eq!(store.get_engagement(&e.id()).unwrap(), Some(expected));
}

fn newer_content_updates_older_does_not(store: &dyn Store) {
    let mut e = engagement("190001010002", "urn:c2", "SRC-A");
    e.most_recent_content = Some(t("20240101000000"));
    apply(store, &[upsert(&e)], "20240102000000");

    let mut newer = e.clone();
    newer.most_recent_content = Some(t("20240301000000"));
    let c = apply(store, &[upsert(&newer)], "20240302000000");
    assert_eq!(c[0].kind, ChangeKind::Updated);

    let mut older = e.clone();
    older.most_recent_content = Some(t("20230101000000"));
    let c = apply(store, &[upsert(&older)], "20240303000000");
    assert_eq!(c[0].kind, ChangeKind::Unchanged);
    let mut none = e.clone();
    none.most_recent_content = None;
    let c = apply(store, &[upsert(&none)], "20240304000000");
    assert_eq!(c[0].kind, ChangeKind::Unchanged);

    let stored = store.get_engagement(&e.id()).unwrap().unwrap();
    assert_eq!(stored.most_recent_content, Some(t("20240301000000")));
    assert_eq!(stored.creation_time, Some(t("20240102000000")));
    assert_eq!(stored.update_time, Some(t("20240302000000")));
}

fn delete_and_delete_missing(store: &dyn Store) {
    let e = engagement("190001010003", "urn:c3", "SRC-A");
    apply(store, &[upsert(&e)], "20240101000000");
    let del = EngagementTransaction {
        delete: true,
        engagement: e.clone(),
    };
    let c = apply(store, std::slice::from_ref(&del), "20240102000000");
    assert_eq!(c[0].kind, ChangeKind::Deleted);
    assert_eq!(
        c[0].engagement.creation_time,
        Some(t("20240101000000")),
        "a delete reports the stored engagement"
    );
    assert_eq!(store.get_engagement(&e.id()).unwrap(), None);
    let c = apply(store, &[del], "20240103000000");
    assert_eq!(c[0].kind, ChangeKind::DeletedMissing);
}

fn failed_plan_rolls_back_everything(store: &dyn Store) {
    let before = store.outbox_len().unwrap();
    let a = engagement("190001010004", "urn:c4", "SRC-A");
    let b = engagement("190001010004", "urn:c4", "SRC-B");
    let plan = |_: &[EngagementChange]| Err("planner failed".to_string());
    let err = store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: &[upsert(&a), upsert(&b)],
                now: t("20240101000000"),
                superseded_owner: None,
            },
            &plan,
        )
        .unwrap_err();
    assert!(err.to_string().contains("planner failed"), "{err}");
    assert_eq!(store.get_engagement(&a.id()).unwrap(), None);
    assert_eq!(store.get_engagement(&b.id()).unwrap(), None);
    assert_eq!(store.outbox_len().unwrap(), before);
}

fn find_filters(store: &dyn Store) {
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
    );
    let base = FindQuery::new(ResidentId::parse(rri).unwrap(), "urn:c5");
    let ids = |q: &FindQuery| {
        let mut v: Vec<String> = store
            .find_engagements(q)
            .unwrap()
            .into_iter()
            .inspect(|e| assert!(q.matches(e), "store returned a non-matching engagement"))
            .map(|e| e.source_system)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&base), ["SRC-A", "SRC-B"]);
    let mut q = base.clone();
    q.categorization = Some("dia".into());
    assert_eq!(ids(&q), ["SRC-B"]);
    let mut q = base.clone();
    q.source_system = Some("SRC-A".into());
    assert_eq!(ids(&q), ["SRC-A"]);
    let mut q = base.clone();
    q.most_recent_content = Some(t("20210101000000"));
    assert_eq!(ids(&q), ["SRC-B"]);
    let mut q = base.clone();
    q.logical_address = Some("SRC-B-LA".into());
    q.data_controller = Some("SE2321000016-DC".into());
    q.owner = Some("SE-TEST-EI".into());
    q.business_object_instance_identifier = Some("NA".into());
    q.clinical_process_interest_id = Some("NA".into());
    assert_eq!(ids(&q), ["SRC-B"]);
    let mut q = base.clone();
    q.owner = Some("someone-else".into());
    assert!(ids(&q).is_empty());
    // Values are bound, never spliced into SQL.
    let mut q = base;
    q.categorization = Some("' OR '1'='1".into());
    assert!(ids(&q).is_empty());
}

fn superseded_owner_is_removed(store: &dyn Store) {
    let mine = engagement("190001010007", "urn:c6", "SRC-A");
    apply(store, &[upsert(&mine)], "20240101000000");
    let mut theirs = mine.clone();
    theirs.owner = "SE-OTHER-EI".into();
    let plan = |_: &[EngagementChange]| Ok(Vec::new());
    store
        .apply_engagement_transactions(
            ApplyRequest {
                transactions: &[upsert(&theirs)],
                now: t("20240102000000"),
                superseded_owner: Some("SE-TEST-EI"),
            },
            &plan,
        )
        .unwrap();
    assert_eq!(store.get_engagement(&mine.id()).unwrap(), None);
    assert!(store.get_engagement(&theirs.id()).unwrap().is_some());
}

fn updates_since_pages_by_resident(store: &dyn Store) {
    let d = "urn:c7";
    let old = engagement("190001010010", d, "SRC-A");
    apply(store, &[upsert(&old)], "20230101000000");
    let r1a = engagement("190001010011", d, "SRC-A");
    let r1b = engagement("190001010011", d, "SRC-B");
    let r2 = engagement("190001010012", d, "SRC-A");
    let r3 = engagement("190001010013", d, "SRC-A");
    apply(
        store,
        &[upsert(&r3), upsert(&r1a), upsert(&r2), upsert(&r1b)],
        "20240101000000",
    );
    // An update moves an old engagement into the window.
    let mut old_updated = old.clone();
    old_updated.most_recent_content = Some(t("20240101000000"));
    apply(store, &[upsert(&old_updated)], "20240105000000");

    let since = t("20240101000000");
    let p1 = store.engagements_updated_since(d, since, None, 2).unwrap();
    assert!(!p1.complete);
    let names: Vec<_> = p1.residents.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["190001010010", "190001010011"]);
    assert_eq!(p1.residents[1].1.len(), 2, "a resident is never split");
    let last = p1.residents.last().unwrap().0.clone();
    let p2 = store
        .engagements_updated_since(d, since, Some(&last), 2)
        .unwrap();
    assert!(p2.complete);
    let names: Vec<_> = p2.residents.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["190001010012", "190001010013"]);
    let later = store
        .engagements_updated_since(d, t("20240102000000"), None, 10)
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
        .unwrap();
    assert!(none.complete && none.residents.is_empty());
}

fn outbox_order_and_backoff(store: &dyn Store) {
    let (a, b) = ("sub-order-A", "sub-order-B");
    for (i, sub) in [a, b, a, a].iter().enumerate() {
        let rri = format!("19000101002{i}");
        let e = engagement(&rri, "urn:c8", "SRC");
        let sub = sub.to_string();
        let plan = move |_: &[EngagementChange]| {
            Ok(vec![NewOutboxItem {
                subscriber: sub.clone(),
                payload: format!("n{i}").into_bytes(),
            }])
        };
        store
            .apply_engagement_transactions(
                ApplyRequest {
                    transactions: &[upsert(&e)],
                    now: t("20240101000000"),
                    superseded_owner: None,
                },
                &plan,
            )
            .unwrap();
    }
    let soon = || SystemTime::now() + Duration::from_secs(1);
    let mine = |items: Vec<super::OutboxItem>| -> Vec<(String, String)> {
        items
            .into_iter()
            .filter(|i| i.subscriber == a || i.subscriber == b)
            .map(|i| (i.subscriber, String::from_utf8(i.payload).unwrap()))
            .collect()
    };
    let due = store.outbox_due(soon(), 1000).unwrap();
    let first_a = due.iter().find(|i| i.subscriber == a).unwrap().clone();
    assert_eq!(
        mine(due),
        [
            (a.into(), "n0".into()),
            (b.into(), "n1".into()),
            (a.into(), "n2".into()),
            (a.into(), "n3".into())
        ]
    );
    // A failed head item holds back the subscriber's later items, not other subscribers.
    let later = SystemTime::now() + Duration::from_secs(3600);
    store
        .outbox_reschedule(first_a.id, later, 1, "connection refused")
        .unwrap();
    assert_eq!(
        mine(store.outbox_due(soon(), 1000).unwrap()),
        [(b.into(), "n1".into())]
    );
    // The backlog shows each subscriber once, with its head item's attempts and error.
    let backlog: Vec<_> = store
        .outbox_backlog()
        .unwrap()
        .into_iter()
        .filter(|s| s.subscriber == a || s.subscriber == b)
        .collect();
    assert_eq!(backlog.len(), 2, "{backlog:?}");
    assert_eq!((backlog[0].subscriber.as_str(), backlog[0].pending), (a, 3));
    assert_eq!(backlog[0].head_attempts, 1);
    assert_eq!(backlog[0].last_error.as_deref(), Some("connection refused"));
    assert!(backlog[0].next_attempt > SystemTime::now() + Duration::from_secs(3000));
    assert!(backlog[0].oldest <= SystemTime::now());
    assert_eq!((backlog[1].subscriber.as_str(), backlog[1].pending), (b, 1));
    assert_eq!(
        (backlog[1].head_attempts, backlog[1].last_error.as_deref()),
        (0, None)
    );
    let next = store.outbox_next_attempt().unwrap().unwrap();
    assert!(next <= soon());
    // After the retry time, the head comes back with its attempt count and error.
    let after = later + Duration::from_secs(1);
    let due = store.outbox_due(after, 1000).unwrap();
    let head = due.iter().find(|i| i.id == first_a.id).unwrap();
    assert_eq!(head.attempts, 1);
    assert_eq!(head.last_error.as_deref(), Some("connection refused"));
    assert_eq!(mine(due).len(), 4);
    for item in store.outbox_due(after, 1000).unwrap() {
        if item.subscriber == a || item.subscriber == b {
            store.outbox_mark_delivered(item.id).unwrap();
        }
    }
    assert!(mine(store.outbox_due(after, 1000).unwrap()).is_empty());
    assert!(!store
        .outbox_backlog()
        .unwrap()
        .iter()
        .any(|s| s.subscriber == a || s.subscriber == b));
}
