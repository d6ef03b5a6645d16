//! The consent store compliance suite: every backend MUST pass it.

use chrono::Utc;
use vaxel_model::ResidentId;

use crate::consent::{
    Block, Consent, ConsentKind, ConsentScope, ConsentStore, EndOutcome, LiftRequestOutcome,
    NewBlock, NewConsent, Rule,
};

/// Run every check. It never assumes the store is empty: each check uses its own
/// patients.
pub async fn run_all(store: &dyn ConsentStore) {
    use chrono::TimeZone;
    let t = |d: u32| Utc.with_ymd_and_hms(2025, 1, d, 12, 0, 0).unwrap();
    let patient = ResidentId::parse("191212121212").unwrap();
    let other = ResidentId::parse("19121212T212").unwrap();

    // Register and list: as given, with id and registration time, per patient only.
    let nc = NewConsent {
        patient: patient.clone(),
        care_giver: "SE2321000016-CG1".into(),
        scope: ConsentScope::Sets(vec!["care-documentation".into(), "diagnosis".into()]),
        valid_from: t(1),
        valid_to: Some(t(20)),
        registered_by: "SE2321000016-U1".into(),
        kind: ConsentKind::Normal,
    };
    let c1 = store.register_consent(&nc, t(2)).await.unwrap();
    assert!(!c1.id.is_empty());
    assert_eq!(c1.registered_at, t(2));
    assert_eq!(c1.scope, nc.scope);
    assert_eq!(c1.valid_to, Some(t(20)));
    let c2 = store
        .register_consent(
            &NewConsent {
                scope: ConsentScope::All,
                valid_to: None,
                kind: ConsentKind::Emergency,
                ..nc.clone()
            },
            t(3),
        )
        .await
        .unwrap();
    assert_ne!(c1.id, c2.id);
    store
        .register_consent(
            &NewConsent {
                patient: other.clone(),
                ..nc.clone()
            },
            t(3),
        )
        .await
        .unwrap();
    let listed = store.consents_for_patient(&patient).await.unwrap();
    assert_eq!(listed, vec![c1.clone(), c2.clone()]);

    // Revoke is recorded, never a delete; a second revoke changes nothing.
    let EndOutcome::Ended(r) = store
        .revoke_consent(&c1.id, "SE2321000016-U2", t(5))
        .await
        .unwrap()
    else {
        panic!("first revoke must end the consent")
    };
    assert_eq!(r.revoked_at, Some(t(5)));
    assert_eq!(r.revoked_by.as_deref(), Some("SE2321000016-U2"));
    assert!(c1.in_force(t(4)) && r.in_force(t(4)) && !r.in_force(t(5)));
    assert!(matches!(
        store.revoke_consent(&c1.id, "SE2321000016-U3", t(6)).await.unwrap(),
        EndOutcome::AlreadyEnded(ref x) if x.revoked_at == Some(t(5))
    ));
    assert_eq!(
        store.revoke_consent("no-such-id", "x", t(6)).await.unwrap(),
        EndOutcome::NotFound
    );
    assert_eq!(store.consents_for_patient(&patient).await.unwrap().len(), 2);

    // Blocks: unit and/or care giver; lifting recorded.
    let nb = NewBlock {
        patient: patient.clone(),
        care_giver: Some("SE2321000016-CG2".into()),
        care_unit: None,
        valid_from: t(1),
        valid_to: None,
        registered_by: "SE2321000016-U1".into(),
        reason: None,
    };
    let b1 = store.register_block(&nb, t(2)).await.unwrap();
    let b2 = store
        .register_block(
            &NewBlock {
                care_giver: None,
                care_unit: Some("SE2321000016-CU9".into()),
                valid_to: Some(t(9)),
                registered_by: "191212121212".into(),
                reason: Some("Jag vill inte att vårdcentralen ser detta.".into()),
                ..nb.clone()
            },
            t(3),
        )
        .await
        .unwrap();
    assert_eq!(
        store.blocks_for_patient(&patient).await.unwrap(),
        vec![b1.clone(), b2.clone()]
    );
    assert!(store.blocks_for_patient(&other).await.unwrap().is_empty());
    assert_eq!(
        b2.reason.as_deref(),
        Some("Jag vill inte att vårdcentralen ser detta.")
    );
    assert_eq!(b2.lift_requested_at, None);
    let EndOutcome::Ended(l) = store
        .lift_block(&b1.id, "SE2321000016-U2", t(7))
        .await
        .unwrap()
    else {
        panic!("first lift must end the block")
    };
    assert_eq!(l.lifted_at, Some(t(7)));
    assert!(l.in_force(t(6)) && !l.in_force(t(7)));
    assert!(matches!(
        store.lift_block(&b1.id, "x", t(8)).await.unwrap(),
        EndOutcome::AlreadyEnded(_)
    ));
    assert_eq!(
        store.lift_block("nope", "x", t(8)).await.unwrap(),
        EndOutcome::NotFound
    );

    lift_requests(store, &patient, &other, &b1, &b2, t).await;

    // for_each_rule sees everything, ended rows included, consents before blocks.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    store
        .for_each_rule(Box::new(move |r| sink.lock().unwrap().push(r)))
        .await
        .unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let first_block = seen.iter().position(|r| matches!(r, Rule::Block(_)));
    assert!(
        seen.iter()
            .skip(first_block.unwrap_or(seen.len()))
            .all(|r| matches!(r, Rule::Block(_))),
        "consents come before blocks"
    );
    let cs: Vec<Consent> = seen
        .iter()
        .filter_map(|r| match r {
            Rule::Consent(c) => Some(c.clone()),
            Rule::Block(_) => None,
        })
        .collect();
    let bs: Vec<Block> = seen
        .iter()
        .filter_map(|r| match r {
            Rule::Block(b) => Some(b.clone()),
            Rule::Consent(_) => None,
        })
        .collect();
    assert!(cs
        .iter()
        .any(|c| c.id == c1.id && c.revoked_at == Some(t(5))));
    assert!(cs.iter().any(|c| c.id == c2.id));
    assert!(bs
        .iter()
        .any(|b| b.id == b1.id && b.lifted_at == Some(t(7))));
    assert!(bs
        .iter()
        .any(|b| b.id == b2.id && b.lift_requested_at == Some(t(4))));
}

/// A patient's request to lift a block: recorded once, for that patient's block only,
/// never a lift. `b1` is lifted (at `t(7)`), `b2` is in force (until `t(9)`).
async fn lift_requests(
    store: &dyn ConsentStore,
    patient: &ResidentId,
    other: &ResidentId,
    b1: &Block,
    b2: &Block,
    t: impl Fn(u32) -> chrono::DateTime<Utc>,
) {
    // Another patient's block is not found, and is not changed.
    assert_eq!(
        store
            .request_block_lift(&b2.id, other, "19121212T212", None, t(3))
            .await
            .unwrap(),
        LiftRequestOutcome::NotFound
    );
    assert_eq!(
        store
            .request_block_lift("no-such-id", patient, "191212121212", None, t(3))
            .await
            .unwrap(),
        LiftRequestOutcome::NotFound
    );
    let LiftRequestOutcome::Recorded(r) = store
        .request_block_lift(&b2.id, patient, "191212121212", Some("Nu får de se."), t(4))
        .await
        .unwrap()
    else {
        panic!("the first request must be recorded")
    };
    assert_eq!(r.lift_requested_at, Some(t(4)));
    assert_eq!(r.lift_requested_by.as_deref(), Some("191212121212"));
    assert_eq!(r.lift_request_reason.as_deref(), Some("Nu får de se."));
    assert_eq!(r.lifted_at, None, "a request does not lift");
    assert!(r.in_force(t(5)));
    assert_eq!(
        Block {
            lift_requested_at: None,
            lift_requested_by: None,
            lift_request_reason: None,
            ..r.clone()
        },
        *b2,
        "nothing else changed"
    );
    // A second request keeps the first.
    assert_eq!(
        store
            .request_block_lift(&b2.id, patient, "191010101010", Some("igen"), t(5))
            .await
            .unwrap(),
        LiftRequestOutcome::AlreadyRequested(r.clone())
    );
    // A lifted block is not changed by a request.
    assert!(matches!(
        store
            .request_block_lift(&b1.id, patient, "191212121212", None, t(8))
            .await
            .unwrap(),
        LiftRequestOutcome::AlreadyLifted(ref x) if x.lift_requested_at.is_none() && x.lifted_at == Some(t(7))
    ));
    let listed = store.blocks_for_patient(patient).await.unwrap();
    assert_eq!(listed.iter().find(|b| b.id == b2.id), Some(&r));
    // A lift after the request records the lift and keeps the request.
    let EndOutcome::Ended(lifted) = store
        .lift_block(&b2.id, "SE2321000016-ADMIN", t(6))
        .await
        .unwrap()
    else {
        panic!("the requested block must still be liftable")
    };
    assert_eq!(lifted.lift_requested_at, Some(t(4)));
    assert_eq!(lifted.lifted_at, Some(t(6)));
}
