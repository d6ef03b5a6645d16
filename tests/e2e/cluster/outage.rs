//! The database cut away under traffic, and back.

use super::*;

/// One Update of the traffic during the outage.
#[derive(Debug)]
struct Attempt {
    source: String,
    started: Instant,
    elapsed: Duration,
    /// HTTP status and fault code, or None without an answer.
    answer: Option<(u16, Option<String>)>,
    acked: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_and_recovery() {
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let proxy = TcpProxy::start(database_addr(&db.config.url)).await;
    let sections = format!(
        "{}{}",
        store_section(&url_via(&db.config.url, &proxy.addr()), &db.config.schema),
        ei_section(false)
    );
    let table = cluster_table(None, None);
    let a = Gateway::start(&node_config(&table, "vaxel-node-a", &sections));
    let b = Gateway::start(&node_config(&table, "vaxel-node-b", &sections));
    let nodes = [&a, &b];
    let client = consumer();

    // Before the outage: acknowledged through both nodes.
    let mut before = BTreeSet::new();
    for i in 0..10 {
        let source = format!("SE2321000016-BEFORE-{i:02}");
        register(&client, &nodes[i % 2].url(), BURST_PATIENT, &source).await;
        before.insert(source);
    }

    // Traffic all along: Updates alternating over the nodes.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (client, stop) = (client.clone(), stop.clone());
        let urls = [a.url(), b.url()];
        tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let source = format!("SE2321000016-DURING-{i:04}");
                let started = Instant::now();
                let r = try_post(
                    &client,
                    &urls[i % 2],
                    update(EI, BURST_PATIENT, &source, "voo"),
                    &[],
                )
                .await;
                attempts.push(Attempt {
                    source,
                    started,
                    elapsed: started.elapsed(),
                    acked: r.as_ref().is_ok_and(acknowledged),
                    answer: r
                        .ok()
                        .map(|r| (r.status, r.header("x-vp-fault-code").map(str::to_string))),
                });
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            attempts
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The database goes away.
    proxy.down();
    let down_at = Instant::now();
    for gw in nodes {
        let reason = eventually(
            "/ready 503 naming the database",
            Duration::from_secs(5),
            || async {
                let (code, body) = gw.admin_get("/ready").await;
                (code == 503).then_some(body)
            },
        )
        .await;
        assert!(
            reason.contains("database"),
            "{}: the reason names the database: {reason}",
            gw.instance_id
        );
        let (code, _) = gw.admin_get("/health").await;
        assert_eq!(code, 200, "/health does not depend on the database");
        let store = gw.status().await["store"].clone();
        assert_eq!(store["backend"], "postgres", "{store}");
        assert_eq!(store["reachable"], false, "{store}");
        assert!(
            store["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{store}"
        );
    }
    let unready_after = down_at.elapsed();
    // An Update now: a SOAP fault (EI000), in bounded time.
    for gw in nodes {
        let r = post(
            &client,
            &gw.url(),
            update(EI, BURST_PATIENT, "SE2321000016-REFUSED", "voo"),
            &[],
        )
        .await;
        assert_fault(&r, gw, "EI000", &[]);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "the fault came after {:?}, not bounded by the timeouts",
            r.elapsed
        );
    }
    // Under traffic a little longer.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Back.
    proxy.up();
    let up_at = Instant::now();
    for gw in nodes {
        eventually("/ready 200 again", Duration::from_secs(15), || async {
            (gw.admin_get("/ready").await.0 == 200).then_some(())
        })
        .await;
    }
    let ready_after = up_at.elapsed();
    for (i, gw) in nodes.iter().enumerate() {
        let source = format!("SE2321000016-AFTER-{i}");
        let r = post(
            &client,
            &gw.url(),
            update(EI, BURST_PATIENT, &source, "voo"),
            &[],
        )
        .await;
        assert!(
            acknowledged(&r),
            "{}: an Update right after /ready turned 200:\n{}",
            gw.instance_id,
            r.describe()
        );
        before.insert(source);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let attempts = traffic.await.expect("the traffic task failed");

    // While the database was away nothing was acknowledged; every refusal was a SOAP
    // fault (never a hang, never a dropped connection).
    let grace = Duration::from_millis(200);
    let during: Vec<&Attempt> = attempts
        .iter()
        .filter(|x| x.started >= down_at + grace && x.started + x.elapsed <= up_at)
        .collect();
    assert!(!during.is_empty(), "traffic ran during the outage");
    for x in &during {
        assert!(!x.acked, "acknowledged while the database was away: {x:?}");
        assert!(
            matches!(&x.answer, Some((500, Some(code))) if code == "EI000"),
            "during the outage an Update gets fault EI000: {x:?}"
        );
    }
    let slowest = attempts.iter().map(|x| x.elapsed).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(5),
        "an Update took {slowest:?}: not bounded by the store's timeouts"
    );
    for x in &attempts {
        if !x.acked {
            assert!(x.answer.is_some(), "an Update got no answer at all: {x:?}");
        }
    }

    // Nothing acknowledged is lost.
    let acked: BTreeSet<String> = attempts
        .iter()
        .filter(|x| x.acked)
        .map(|x| x.source.clone())
        .chain(before.iter().cloned())
        .collect();
    let found = found_sources(&b, BURST_PATIENT).await;
    let missing: Vec<&String> = acked.difference(&found).collect();
    assert!(missing.is_empty(), "acknowledged Updates lost: {missing:?}");
    assert!(
        !found.contains("SE2321000016-REFUSED"),
        "an Update answered with a fault changed nothing"
    );

    // The change listeners are back too: a routing reload on A reaches B again. B's
    // listener reconnects with a backoff (up to 5 s), and a reload published before it
    // is back is missed, so A reloads until B follows.
    let routes_before = b.status().await["routing_table"]["routes"].clone();
    b.write_table(
        &table
            .clone()
            .route_for_consumer(SCHEDULE, "SE2321000016-NEW", "https://127.0.0.1:9/")
            .to_toml(),
    );
    eventually(
        "B reloading its routing table after a reload on A",
        Duration::from_secs(15),
        || async {
            let (code, body) = a.reload().await;
            assert_eq!(code, 200, "{body}");
            // The reload reaches B within milliseconds once its listener is back.
            tokio::time::sleep(Duration::from_millis(300)).await;
            (b.status().await["routing_table"]["routes"] != routes_before).then_some(())
        },
    )
    .await;
    let listener_after = up_at.elapsed();

    let faults = attempts.iter().filter(|x| !x.acked).count();
    let (forwarded, dropped) = proxy.counts();
    println!(
        "cluster: outage: /ready 503 on both nodes {unready_after:?} after the cut, 200 again {ready_after:?} after it was back; \
{} Updates under traffic ({} acknowledged, {faults} EI000 faults, slowest {slowest:?}); routing reloads reach B again {listener_after:?} after; \
proxy: {forwarded} connections forwarded, {dropped} dropped while down; test took {:?}",
        attempts.len(),
        attempts.len() - faults,
        t0.elapsed()
    );
    drop(b);
    drop(a);
    drop(proxy);
    drop(db);
}

// ---------------------------------------------------------------------------------
// 3. Consent, blocks and routing reloads reach the other node
