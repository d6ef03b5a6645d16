//! decide() cost with 1 million consents + blocks in the in-memory index
//! (`cargo bench -p vaxel --bench consent`). Prints ns per decision for each row kind
//! of the decision table. The index is filled directly (IndexBuilder), the way
//! ConsentService loads it from the store at start; the store itself is not timed.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use vaxel_model::ResidentId;
use vaxel_pdl::consent::jwt::UserContext;
use vaxel_pdl::consent::policy::{ConsentIndex, IndexBuilder, PatientKey};
use vaxel_store::consent::{Block, Consent, ConsentKind, ConsentScope};

const PATIENTS: u64 = 500_000;

fn patient(i: u64) -> String {
    format!("19{:010}", i * 7 + 1)
}

fn main() {
    let t0 = Instant::now();
    let at = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
    let mut b = IndexBuilder::default();
    // 2 consents per patient (one scoped, one for another care giver) and 0-1 blocks,
    // 1 000 000 rows in total.
    let mut rows = 0u64;
    for i in 0..PATIENTS {
        let p = ResidentId::parse(&patient(i)).unwrap();
        for (k, cg) in [
            (0, format!("SE-CG-{}", i % 100)),
            (1, "SE-CG-READER".to_string()),
        ] {
            b.add_consent(&Consent {
                id: format!("c{i}-{k}"),
                patient: p.clone(),
                care_giver: cg,
                scope: if k == 0 {
                    ConsentScope::All
                } else {
                    ConsentScope::Sets(vec!["care-documentation".into(), "diagnosis".into()])
                },
                valid_from: at(2020),
                valid_to: Some(at(2030)),
                registered_by: "SE-U".into(),
                registered_at: at(2020),
                kind: ConsentKind::Normal,
                revoked_at: None,
                revoked_by: None,
            });
            rows += 1;
        }
        if i % 10 == 0 {
            b.add_block(&Block {
                id: format!("b{i}"),
                patient: p.clone(),
                care_giver: Some("SE-CG-BLOCKED".into()),
                care_unit: None,
                valid_from: at(2020),
                valid_to: None,
                registered_by: "SE-U".into(),
                registered_at: at(2020),
                reason: None,
                lifted_at: None,
                lifted_by: None,
                lift_requested_at: None,
                lift_requested_by: None,
                lift_request_reason: None,
            });
            rows += 1;
        }
    }
    let index = ConsentIndex::default();
    let patients = index.replace_all(b);
    println!(
        "index: {rows} consents+blocks for {patients} patients, built in {:?}",
        t0.elapsed()
    );

    let user = UserContext {
        user_hsa_id: "SE-U1".into(),
        care_unit_hsa_id: "SE-CU-READER".into(),
        care_giver_hsa_id: "SE-CG-READER".into(),
        purpose: "care".into(),
        emergency_reason: None,
        roles: vec![],
        token_id: None,
        user_role: None,
    };
    let now = at(2025);
    let ids: Vec<String> = (0..4096u64)
        .map(|i| patient((i * 7919) % PATIENTS))
        .collect();
    let cases: [(&str, &str, &str); 4] = [
        ("same care giver", "care-documentation", "SE-CG-READER"),
        (
            "other care giver, consent in scope",
            "care-documentation",
            "SE-CG-SOURCE",
        ),
        (
            "other care giver, consent out of scope",
            "imaging-outcome",
            "SE-CG-SOURCE",
        ),
        (
            "blocked care giver (every 10th patient)",
            "care-documentation",
            "SE-CG-BLOCKED",
        ),
    ];
    const N: usize = 5_000_000;
    for (name, set, cg) in cases {
        let start = Instant::now();
        let mut allowed = 0usize;
        for i in 0..N {
            let d = index.decide(
                &user,
                black_box(&ids[i & 4095]),
                set,
                Some(cg),
                Some("SE-CU-1"),
                now,
            );
            allowed += usize::from(black_box(d).is_allowed());
        }
        let ns = start.elapsed().as_nanos() as f64 / N as f64;
        println!("decide, {name}: {ns:.0} ns/decision ({allowed} of {N} allowed)");
    }
    // How the aggregator would use it: one snapshot per answer, then decide per record.
    let now_ms = now.timestamp_millis();
    let start = Instant::now();
    let mut allowed = 0usize;
    for i in 0..N / 20 {
        let rules = index.patient(&PatientKey::parse(&ids[i & 4095]).unwrap());
        for r in 0..20 {
            let d = match &rules {
                Some(rules) => rules.decide(
                    &user,
                    "care-documentation",
                    Some(if r % 2 == 0 {
                        "SE-CG-READER"
                    } else {
                        "SE-CG-SOURCE"
                    }),
                    Some("SE-CU-1"),
                    now_ms,
                ),
                None => unreachable!("every patient has rules"),
            };
            allowed += usize::from(black_box(d).is_allowed());
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / N as f64;
    println!("per-answer snapshot, 20 records per lookup: {ns:.0} ns/decision ({allowed} of {N} allowed)");
}
