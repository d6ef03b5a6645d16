//! The consent store compliance suite: every backend MUST pass it.

use chrono::Utc;
use vaxel_model::ResidentId;

use crate::consent::{
    Block, Consent, ConsentKind, ConsentScope, ConsentStore, EndOutcome, NewBlock, NewConsent, Rule,
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
    };
    let b1 = store.register_block(&nb, t(2)).await.unwrap();
    let b2 = store
        .register_block(
            &NewBlock {
                care_giver: None,
                care_unit: Some("SE2321000016-CU9".into()),
                valid_to: Some(t(9)),
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
    assert!(bs.iter().any(|b| b.id == b2.id));
}
