//! Operations: /health, /ready, /status, routing-table reload (admin endpoint and
//! SIGHUP), the last-known-good copy, and graceful shutdown on SIGTERM.

use std::time::Duration;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_status_describe_the_running_gateway() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));

    let (status, body) = gw.admin_get("/health").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.admin_get("/ready").await;
    assert_eq!(status, 200, "{body}");

    let s = gw.status().await;
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"), "{s}");
    assert_eq!(s["instance_id"], "vaxel-e2e", "{s}");
    assert!(s["uptime_seconds"].as_u64().is_some(), "{s}");
    let rt = &s["routing_table"];
    assert_eq!(rt["loaded"], true, "{s}");
    assert!(
        rt["age_seconds"]
            .as_i64()
            .is_some_and(|a| (0..60).contains(&a)),
        "{s}"
    );
    // The counts are those of the table file written for this gateway.
    let toml: toml::Value = toml::from_str(&table.to_toml()).expect("table");
    let count = |key: &str| {
        toml.get(key)
            .and_then(|v| v.as_array())
            .map(Vec::len)
            .unwrap_or(0)
    };
    assert_eq!(rt["contracts"], count("contracts"), "{s}");
    assert_eq!(rt["routes"], count("routes"), "{s}");
    assert_eq!(rt["authorizations"], count("authorizations"), "{s}");
    assert!(
        rt["source"]
            .as_str()
            .is_some_and(|src| src.contains("tak.toml")),
        "{s}"
    );

    let before = s["counts"].clone();
    let r = post(
        &client("consumer2"),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_fault(&r, &gw, "VP007", &[]);
    let after = gw.status().await["counts"].clone();
    assert_eq!(
        after["faults"]["VP007"].as_u64(),
        before["faults"]["VP007"].as_u64().map(|n| n + 1),
        "VP007 counted: {after}"
    );
    assert_eq!(
        after["requests"].as_u64(),
        before["requests"].as_u64().map(|n| n + 1),
        "request counted: {after}"
    );
    assert_eq!(
        after["faults"]["VP004"], before["faults"]["VP004"],
        "{after}"
    );

    let (status, _) = gw.admin_get("/no-such-endpoint").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_puts_an_edited_table_in_service() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let body = rivta21(SCHEDULE, "ADDED-LATER");
    let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
    assert_fault(&r, &gw, "VP004", &["ADDED-LATER"]);
    let routes_before = gw.status().await["routing_table"]["routes"]
        .as_u64()
        .expect("routes");

    gw.write_table(
        &table
            .clone()
            .route(
                SCHEDULE,
                "ADDED-LATER",
                "RIVTABP21",
                &producer.url("/added"),
            )
            .to_toml(),
    );
    let (status, json) = gw.reload().await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["reloaded"], true, "{json}");
    assert_eq!(json["routing_table"]["routes"], routes_before + 1, "{json}");

    let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&r, &body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_reload_is_refused_and_the_old_table_keeps_routing() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let loaded_at = gw.status().await["routing_table"]["loaded_at"].clone();

    // The new route (index = number of existing routes) has a URL the gateway cannot use.
    let toml: toml::Value = toml::from_str(&table.to_toml()).expect("table");
    let index = toml
        .get("routes")
        .and_then(|v| v.as_array())
        .map(Vec::len)
        .expect("routes");
    gw.write_table(
        &table
            .clone()
            .route(SCHEDULE, "BROKEN", "RIVTABP21", "ftp://producer.example/x")
            .to_toml(),
    );
    let (status, json) = gw.reload().await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["reloaded"], false, "{json}");
    let error = json["error"].as_str().unwrap_or_default();
    let path = gw.table_path().display().to_string();
    assert!(
        error.contains(&path),
        "the error names the file {path}: {error}"
    );
    assert!(
        error.contains(&format!("routes[{index}].url")),
        "the error names the entry: {error}"
    );
    assert!(
        error.contains("ftp"),
        "the error says what is wrong: {error}"
    );

    // The old table is still in service, unchanged.
    let s = gw.status().await;
    assert_eq!(s["routing_table"]["loaded"], true, "{s}");
    assert_eq!(s["routing_table"]["loaded_at"], loaded_at, "{s}");
    assert_eq!(gw.admin_get("/ready").await.0, 200);
    assert_still_serving(&gw).await;

    // A syntax error is refused the same way, with its line.
    gw.write_table("[[routes]\nurl = 1\n");
    let (status, json) = gw.reload().await;
    assert_eq!(status, 422, "{json}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(error.contains(&path) && error.contains("line"), "{error}");
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_routing_table() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let loaded_at = gw.status().await["routing_table"]["loaded_at"].clone();
    gw.write_table(
        &table
            .clone()
            .route(SCHEDULE, "AFTER-HUP", "RIVTABP21", &producer.url("/hup"))
            .to_toml(),
    );
    gw.proc.signal("HUP");
    eventually("the SIGHUP reload", PATIENCE, || async {
        let s = gw.status().await;
        (s["routing_table"]["loaded_at"] != loaded_at).then_some(())
    })
    .await;
    let body = rivta21(SCHEDULE, "AFTER-HUP");
    let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&r, &body);
    assert!(
        gw.logs_with("SIGHUP").contains("SIGHUP"),
        "the log says why it reloaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_known_good_copy_serves_when_the_source_is_broken_at_startup() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let cfg = GatewayConfig::new(&table);
    let first = Gateway::start(&cfg);
    let copy = first.dir.path().join("tak.toml.last-known-good");
    assert!(
        copy.is_file(),
        "a successful load writes {}",
        copy.display()
    );
    let dir = first.into_dir();

    std::fs::write(
        dir.path().join("tak.toml"),
        "this is = not a [routing table",
    )
    .expect("break");
    let mut again = cfg.clone();
    again.table = None; // keep the broken source
    let gw = Gateway::start_in(&again, dir);
    let s = gw.status().await;
    let source = s["routing_table"]["source"].as_str().unwrap_or_default();
    assert!(
        source.contains("last-known-good"),
        "/status shows the copy in use: {s}"
    );
    assert!(source.contains(&copy.display().to_string()), "{s}");
    assert!(
        gw.logs_with("last-known-good").contains("last-known-good"),
        "the log says so too"
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url("")).route_for_consumer(
        SCHEDULE,
        "SLOW",
        &producer.url("/slow?ms=1500"),
    );
    let mut gw = Gateway::start(&GatewayConfig::new(&table));
    let body = rivta21(SCHEDULE, "SLOW");
    let url = gw.url();
    let sent = body.clone();
    let in_flight = tokio::spawn(async move { post(&consumer(), &url, sent, &[]).await });
    eventually(
        "the slow request to reach the gateway",
        PATIENCE,
        || async {
            let s = gw.status().await;
            (s["counts"]["requests"].as_u64() >= Some(1)).then_some(())
        },
    )
    .await;
    // Give the gateway a moment to pass the request on to the producer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.proc.signal("TERM");

    let r = in_flight.await.expect("request task");
    assert_forwarded(&r, &body);
    assert!(r.elapsed >= Duration::from_millis(1400), "{:?}", r.elapsed);
    let exit = tokio::task::block_in_place(|| gw.proc.wait_exit(Duration::from_secs(15)));
    let exit = exit.expect("the gateway exits after draining");
    assert!(exit.success(), "exit status {exit:?}");
    assert!(gw.logs().contains("stopped"));
}
