//! Consent changes and routing reloads on one node reach the other.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_change_reaches_the_other_node() {
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let idp = Idp::new();
    let journal = DemoProducer::start();
    let table = cluster_table(Some(&journal), None);
    let sections = format!(
        "{}{}{}[aggregation]\ndeadline_ms = 5000\n\n",
        store_section(&db.config.url, &db.config.schema),
        ei_section(false),
        idp.consent_section()
    );
    let a = Gateway::start(&node_config(&table, "vaxel-node-a", &sections));
    let b = Gateway::start(&node_config(&table, "vaxel-node-b", &sections));
    let client = consumer();
    register(&client, &a.url(), PATIENT, OWN_SOURCE).await;
    register(&client, &a.url(), PATIENT, OTHER_SOURCE).await;
    let doctor = idp.clinician("SE2321000016-DOCTOR");
    let ask_b = || async {
        let r = post(
            &client,
            &b.url(),
            journal_query(PATIENT),
            &[("x-vaxel-user-context", doctor.as_str())],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.describe());
        r
    };
    let own_only = vec![OWN_SOURCE.to_string(); 2];
    let mut both = vec![OWN_SOURCE.to_string(), OWN_SOURCE.to_string()];
    both.extend([OTHER_SOURCE.to_string(), OTHER_SOURCE.to_string()]);
    both.sort();

    // No consent yet: B withholds the other care giver's records.
    let r = ask_b().await;
    assert_eq!(record_sources(&r), own_only, "{}", r.describe());
    assert_eq!(withheld(&r), 2);

    // A consent registered through A: B shows the other care giver's records.
    idp.admin_post(
        &a,
        "/api/consents",
        json!({"patient": PATIENT, "care_giver": OWN_CG, "scope": ["care-documentation"]}),
    )
    .await;
    let consented = Instant::now();
    eventually("B applies A's consent", PROPAGATION_BOUND, || async {
        let r = ask_b().await;
        (record_sources(&r) == both && withheld(&r) == 0).then_some(())
    })
    .await;
    let consent_after = consented.elapsed();

    // A block on the other care giver through A: B withholds its records again.
    idp.admin_post(
        &a,
        "/api/blocks",
        json!({"patient": PATIENT, "care_giver": OTHER_CG}),
    )
    .await;
    let blocked = Instant::now();
    eventually("B applies A's block", PROPAGATION_BOUND, || async {
        let r = ask_b().await;
        (record_sources(&r) == own_only && withheld(&r) == 2).then_some(())
    })
    .await;
    let block_after = blocked.elapsed();

    // A routing reload on A: B reads its (changed) table file again.
    let before = b.status().await["routing_table"].clone();
    let a_before = a.status().await["routing_table"].clone();
    b.write_table(
        &table
            .clone()
            .route_for_consumer(SCHEDULE, "SE2321000016-NEW", "https://127.0.0.1:9/")
            .to_toml(),
    );
    let (code, body) = a.reload().await;
    let reloaded = Instant::now();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["other_nodes_told"], true, "{body}");
    let after = eventually("B reloads its routing table", PROPAGATION_BOUND, || async {
        let now = b.status().await["routing_table"].clone();
        (now["loaded_at"] != before["loaded_at"]).then_some(now)
    })
    .await;
    let reload_after = reloaded.elapsed();
    assert_eq!(
        after["routes"].as_u64(),
        before["routes"].as_u64().map(|n| n + 1),
        "B loaded the new table: before {before}, after {after}"
    );
    let a_after = a.status().await["routing_table"].clone();
    assert_eq!(
        a_after["routes"], a_before["routes"],
        "A's own file is unchanged"
    );
    println!(
        "cluster: on node B: consent after {consent_after:?}, block after {block_after:?}, routing reload after {reload_after:?} (bound {PROPAGATION_BOUND:?}); test took {:?}",
        t0.elapsed()
    );
    drop(b);
    drop(a);
    drop(db);
}
