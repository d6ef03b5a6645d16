//! One round: two fresh gateways (the region as one or more nodes) on empty stores, a
//! warm-up, the timed submits until every message is delivered, the checks of what the
//! systems see, and the round's figures.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vaxel::sdk_pki::{MUNICIPALITY, REGION};

use crate::cpu::{cpu_seconds, db_cpu, db_cpu_delta, peak_rss_mib};
use crate::gateways::{address_book, app_name, pg_store, ports, start_gateway, Gateway, StoreAt};
use crate::load::{count, status, submit_all, system_client, wait_delivered, Template};
use crate::{Case, Opts};

pub struct Round {
    pub msgs_per_s: f64,
    /// CPU ms per message of each region node (the table shows their sum).
    pub cpu_ms_region_nodes: Vec<f64>,
    /// Messages each region node delivered (its log's `SDK message delivered` lines).
    pub delivered_by_node: Vec<usize>,
    /// CPU ms per message of the database backends serving the region's and the
    /// municipality's connections (PostgreSQL only).
    pub db_cpu_ms: Option<(f64, f64)>,
    pub submit_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_ms_region: f64,
    pub cpu_ms_municipality: f64,
    pub cpu_ms_client: f64,
    pub rss_region: f64,
    pub rss_municipality: f64,
    /// Peak RSS of both right after start-up (before any message), MiB.
    pub rss_idle: (f64, f64),
    pub submitted_bytes: usize,
}

const WARMUP: usize = 20;

pub async fn round(
    opts: &Opts,
    case: Case,
    dir: &Path,
    tick: f64,
    monitor: Option<&tokio_postgres::Client>,
) -> Round {
    let sdk = vaxel::sdk_pki::paths(&vaxel::certs::DemoPki {
        dir: opts.dir.join("pki"),
    });
    // Declared before the gateways, so that the schemas are dropped after the gateways
    // were stopped.
    let (_dbs, region_store, municipality_store) = if opts.postgres {
        let (region_db, region_store) = pg_store(opts, "vx_sdkbench_region").await;
        let (muni_db, muni_store) = pg_store(opts, "vx_sdkbench_muni").await;
        (vec![region_db, muni_db], region_store, muni_store)
    } else {
        (Vec::new(), StoreAt::Sqlite, StoreAt::Sqlite)
    };
    let ports = ports(opts.sender_nodes);
    let book = address_book(&sdk, &ports);
    let municipality = start_gateway(
        opts,
        &MUNICIPALITY,
        ports.municipality,
        &book,
        &dir.join("municipality"),
        &municipality_store,
    );
    let regions: Vec<Gateway> = ports
        .region
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            // The first node keeps the folder name of the one-node bench.
            let folder = if i == 0 {
                "region".to_string()
            } else {
                format!("region-{}", i + 1)
            };
            start_gateway(opts, &REGION, p, &book, &dir.join(folder), &region_store)
        })
        .collect();
    let region = &regions[0];
    let rss_idle = (peak_rss_mib(region.pid()), peak_rss_mib(municipality.pid()));
    let client = system_client(&sdk, &REGION, opts.concurrency);
    let admin = reqwest::Client::new();
    let urls: Vec<String> = regions
        .iter()
        .map(|r| format!("https://127.0.0.1:{}/sdk/v1/messages", r.port))
        .collect();
    let template = Arc::new(Template::new(case.attachment));

    // Warm-up: TLS connections (system → region with C connections, region →
    // municipality), caches, the stores' first pages.
    submit_all(
        &client,
        &urls,
        template.clone(),
        WARMUP,
        opts.concurrency.min(WARMUP),
    )
    .await;
    // On a shared store one node's counts cover every node's messages.
    wait_delivered(&admin, region, WARMUP as u64, Duration::from_secs(60)).await;

    let me = std::process::id();
    let region_cpu =
        |tick| -> Vec<f64> { regions.iter().map(|r| cpu_seconds(r.pid(), tick)).collect() };
    let (r0, m0, c0) = (
        region_cpu(tick),
        cpu_seconds(municipality.pid(), tick),
        cpu_seconds(me, tick),
    );
    let apps = (app_name(&region_store), app_name(&municipality_store));
    let db0 = match (monitor, apps) {
        (Some(m), (Some(r), Some(mu))) => {
            Some((db_cpu(m, r, tick).await, db_cpu(m, mu, tick).await))
        }
        _ => None,
    };
    let started = Instant::now();
    let submitting = {
        let client = client.clone();
        let urls = urls.clone();
        let template = template.clone();
        let (n, c) = (case.n, opts.concurrency);
        tokio::spawn(async move {
            let lat = submit_all(&client, &urls, template, n, c).await;
            (lat, Instant::now())
        })
    };
    wait_delivered(
        &admin,
        region,
        (WARMUP + case.n) as u64,
        Duration::from_secs(600),
    )
    .await;
    let elapsed = started.elapsed();
    let (r1, m1, c1) = (
        region_cpu(tick),
        cpu_seconds(municipality.pid(), tick),
        cpu_seconds(me, tick),
    );
    let db1 = match (monitor, apps) {
        (Some(m), (Some(r), Some(mu))) => {
            Some((db_cpu(m, r, tick).await, db_cpu(m, mu, tick).await))
        }
        _ => None,
    };
    let (mut lat, submitted_at) = submitting.await.expect("submitters");
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;

    // What the systems see: the municipality holds every message once in its inbox, and a
    // submitted message's status is delivered with an accepted receipt.
    let s = status(&admin, &municipality).await;
    assert_eq!(
        count(&s, &["sdk", "inbox", "pending"]),
        (WARMUP + case.n) as u64,
        "municipality inbox: {s}"
    );
    let (id, body) = template.instance();
    let r = client
        .post(&urls[0])
        .body(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 202);
    wait_delivered(
        &admin,
        region,
        (WARMUP + case.n + 1) as u64,
        Duration::from_secs(60),
    )
    .await;
    // Asked of the last node: on a shared store any node answers for every node.
    let last = &regions[regions.len() - 1];
    let st: Value = client
        .get(format!(
            "https://127.0.0.1:{}/sdk/v1/messages/{id}",
            last.port
        ))
        .send()
        .await
        .expect("status")
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
        .expect("status body");
    assert_eq!(st["state"], "delivered", "{st}");
    assert_eq!(st["receipt"]["accepted"], true, "{st}");
    for r in &regions[1..] {
        let s = status(&admin, r).await;
        assert_eq!(
            count(&s, &["sdk", "outgoing", "delivered"]),
            (WARMUP + case.n + 1) as u64,
            "another node's /status does not show the shared store's count: {s}"
        );
    }
    // Which node delivered how many (each logs one line per delivered message).
    let delivered_by_node = regions
        .iter()
        .map(|r| {
            String::from_utf8_lossy(&std::fs::read(&r.log).unwrap_or_default())
                .matches("SDK message delivered")
                .count()
        })
        .collect();

    let n = case.n as f64;
    let cpu_ms_region_nodes: Vec<f64> =
        r1.iter().zip(&r0).map(|(b, a)| (b - a) * 1e3 / n).collect();
    Round {
        msgs_per_s: n / elapsed.as_secs_f64(),
        cpu_ms_region: cpu_ms_region_nodes.iter().sum(),
        cpu_ms_region_nodes,
        delivered_by_node,
        db_cpu_ms: db0.zip(db1).map(|((ra, ma), (rb, mb))| {
            (
                db_cpu_delta(&ra, &rb) * 1e3 / n,
                db_cpu_delta(&ma, &mb) * 1e3 / n,
            )
        }),
        submit_per_s: n / submitted_at.duration_since(started).as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu_ms_municipality: (m1 - m0) * 1e3 / n,
        cpu_ms_client: (c1 - c0) * 1e3 / n,
        rss_region: regions
            .iter()
            .map(|r| peak_rss_mib(r.pid()))
            .fold(0.0, f64::max),
        rss_municipality: peak_rss_mib(municipality.pid()),
        rss_idle,
        submitted_bytes: template.document.len(),
    }
}
