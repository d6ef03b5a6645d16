//! Operators' view (specs/metrics.md): `/metrics` counts exactly the traffic sent and
//! parses with the Prometheus project's own text-format parser; one JSON log line per
//! request, with no patient id or token in any line; the log level changes at run
//! time; the admin listener behind mutual TLS or operator tokens.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// One sample as the Prometheus parser read it.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The exposition parsed by `prometheus_client.parser` (the Prometheus project's Python
/// client, installed by scripts/install-test-tools.sh): (family types, samples). `None`
/// (with a note) when it is not installed, except under CI where that fails.
fn parse_with_prometheus(text: &str) -> Option<(BTreeMap<String, String>, Vec<Sample>)> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
types, samples = {}, []
for fam in text_string_to_metric_families(sys.stdin.read()):
    types[fam.name] = fam.type
    for s in fam.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps({"types": types, "samples": samples}))
"#;
    let probe = run_tool(
        "python3",
        &["-c".into(), "import prometheus_client".into()],
        b"",
        Duration::from_secs(20),
    );
    if !probe.success() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the Prometheus parser (python3 -m pip install prometheus-client) is missing; scripts/install-test-tools.sh installs it"
        );
        eprintln!("SKIP: python3 prometheus_client is not installed: the text format is not parsed by the reference parser");
        return None;
    }
    let run = run_tool(
        "python3",
        &["-c".into(), SCRIPT.into()],
        text.as_bytes(),
        Duration::from_secs(30),
    );
    assert!(
        run.success(),
        "the Prometheus parser refused /metrics: {}\n{text}",
        run.describe()
    );
    let v: Value = serde_json::from_str(&run.stdout).expect("parser output");
    let types = v["types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap_or("").to_string()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_string(),
            labels: s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect();
    Some((types, samples))
}

/// The value of the one sample named `name` whose labels include `labels`; the sum when
/// several match; 0 when none does.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(gw: &Gateway) -> String {
    let (status, text) = gw.admin_get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_the_traffic_sent_and_parse_as_prometheus_text() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let mut cfg = GatewayConfig::new(&table);
    // Two service cores: the counts are the sum over both.
    cfg.threads = 2;
    let gw = Gateway::start(&cfg);
    let producer_label = producer
        .url("")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();

    const OK: usize = 7;
    const UNAUTHORISED: usize = 3;
    const NO_ROUTE: usize = 2;
    for _ in 0..OK {
        let r = post(
            &consumer(),
            &gw.url(),
            rivta21(SCHEDULE, "RIVTA21REQUEST"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    for _ in 0..UNAUTHORISED {
        let r = post(
            &client("consumer2"),
            &gw.url(),
            rivta21(SCHEDULE, "RIVTA21REQUEST"),
            &[],
        )
        .await;
        assert_fault(&r, &gw, "VP007", &[]);
    }
    for _ in 0..NO_ROUTE {
        let r = post(
            &consumer(),
            &gw.url(),
            rivta21(SCHEDULE, "NO-SUCH-ADDRESS"),
            &[],
        )
        .await;
        assert_fault(&r, &gw, "VP004", &[]);
    }
    // A client without a certificate: the handshake fails (counted by reason).
    let anonymous = client_with(None, Http::H1);
    assert!(
        try_post(
            &anonymous,
            &gw.url(),
            rivta21(SCHEDULE, "RIVTA21REQUEST"),
            &[]
        )
        .await
        .is_err(),
        "a client without a certificate must not get an answer"
    );
    let (status, _) = gw.reload().await;
    assert_eq!(status, 200);

    // The handshake failure is counted when the server side gives up on it: wait for it.
    let deadline = Instant::now() + PATIENCE;
    let text = loop {
        let text = scrape(&gw).await;
        if text.contains("vaxel_tls_handshake_failures_total{reason=") || Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let Some((types, samples)) = parse_with_prometheus(&text) else {
        return;
    };
    let v = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);

    // Types as the parser read them (counter families lose `_total` in its names).
    assert_eq!(types["vaxel_requests"], "counter", "{types:?}");
    assert_eq!(types["vaxel_faults"], "counter", "{types:?}");
    assert_eq!(types["vaxel_request_duration_seconds"], "histogram");
    assert_eq!(types["vaxel_producer_duration_seconds"], "histogram");
    assert_eq!(types["vaxel_gateway_duration_seconds"], "histogram");
    assert_eq!(types["vaxel_requests_in_flight"], "gauge");

    // Requests per (contract, consumer, producer), exact.
    let ok = [
        ("contract", SCHEDULE),
        ("consumer", CONSUMER_ID),
        ("producer", producer_label.as_str()),
    ];
    assert_eq!(v("vaxel_requests_total", &ok), OK as f64, "{text}");
    // No route: the consumer is known, no producer was chosen.
    let unrouted = [
        ("contract", SCHEDULE),
        ("consumer", CONSUMER_ID),
        ("producer", "none"),
    ];
    assert_eq!(v("vaxel_requests_total", &unrouted), NO_ROUTE as f64);
    assert_eq!(
        v(
            "vaxel_faults_total",
            &[("code", "VP004"), ("consumer", CONSUMER_ID)]
        ),
        NO_ROUTE as f64
    );
    // consumer2 has no authorization in the table: its id is not a label value.
    assert_eq!(
        v(
            "vaxel_faults_total",
            &[
                ("code", "VP007"),
                ("contract", SCHEDULE),
                ("consumer", "other"),
                ("producer", producer_label.as_str()),
            ]
        ),
        UNAUTHORISED as f64,
        "{text}"
    );
    assert!(
        !text.contains(OTHER_CONSUMER_ID),
        "a consumer the routing table does not know must not become a label value"
    );
    assert_eq!(
        v("vaxel_requests_total", &[]),
        (OK + UNAUTHORISED + NO_ROUTE) as f64
    );
    assert_eq!(v("vaxel_faults_total", &[("code", "VP009")]), 0.0);

    // Histograms: counts exact, buckets cumulative and ending in +Inf == count.
    let by_route = [
        ("contract", SCHEDULE),
        ("producer", producer_label.as_str()),
    ];
    // Route comes before authorisation (specs/routing-table.md §8.3): the refused
    // calls were routed to the producer but never reached it.
    for (family, expected) in [
        ("vaxel_request_duration_seconds", OK + UNAUTHORISED),
        ("vaxel_gateway_duration_seconds", OK + UNAUTHORISED),
        ("vaxel_producer_duration_seconds", OK),
    ] {
        assert_eq!(
            v(&format!("{family}_count"), &by_route),
            expected as f64,
            "{family}"
        );
        assert!(v(&format!("{family}_sum"), &by_route) > 0.0, "{family}");
        let mut buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| {
                s.name == format!("{family}_bucket")
                    && s.labels.get("contract").map(String::as_str) == Some(SCHEDULE)
                    && s.labels.get("producer") == Some(&producer_label)
            })
            .map(|s| {
                let le = s.labels["le"].parse::<f64>().unwrap_or(f64::INFINITY);
                (le, s.value)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() > 10, "{family}: {buckets:?}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{family} buckets are cumulative: {buckets:?}"
        );
        assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, expected as f64));
    }
    // The unrouted requests' time is all the gateway's own.
    assert_eq!(
        v(
            "vaxel_gateway_duration_seconds_count",
            &[("contract", SCHEDULE), ("producer", "none")]
        ),
        NO_ROUTE as f64
    );
    assert_eq!(
        v(
            "vaxel_producer_duration_seconds_count",
            &[("producer", "none")]
        ),
        0.0
    );

    // Connections, TLS and limits.
    assert_eq!(v("vaxel_requests_in_flight", &[]), 0.0);
    assert_eq!(
        v(
            "vaxel_tls_handshake_failures_total",
            &[("reason", "no_client_certificate")]
        ),
        1.0,
        "{text}"
    );
    // The harness's start-up probes (TCP connect, then close) fail their handshakes
    // too, under another reason: every failure has exactly one reason.
    let failed = v("vaxel_tls_handshakes_total", &[("result", "failed")]);
    assert_eq!(
        failed,
        v("vaxel_tls_handshake_failures_total", &[]),
        "{text}"
    );
    let handshakes_ok = v("vaxel_tls_handshakes_total", &[("result", "ok")]);
    assert!(handshakes_ok >= 1.0, "{text}");
    // Every accepted connection either completed or failed its handshake.
    assert_eq!(v("vaxel_connections_total", &[]), handshakes_ok + failed);
    assert_eq!(v("vaxel_refused_total", &[]), 0.0);

    // The routing table: loaded, its size, one reload.
    let toml: toml::Value = toml::from_str(&table.to_toml()).expect("table");
    let count = |key: &str| toml.get(key).and_then(|v| v.as_array()).map_or(0, Vec::len);
    assert_eq!(v("vaxel_routing_table_loaded", &[]), 1.0);
    assert_eq!(
        v("vaxel_routing_table_entries", &[("kind", "routes")]),
        count("routes") as f64,
        "{text}"
    );
    assert_eq!(v("vaxel_routing_reloads_total", &[("outcome", "ok")]), 1.0);
    assert_eq!(
        v("vaxel_routing_reloads_total", &[("outcome", "failed")]),
        0.0
    );
    assert_eq!(
        v(
            "vaxel_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("instance_id", "vaxel-e2e")
            ]
        ),
        1.0
    );
}

/// The JSON request lines in the gateway's output (parsed), by correlation id.
fn request_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect()
}

async fn wait_for_lines(gw: &Gateway, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lines = request_lines(&gw.logs());
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_json_line_per_request_without_patient_ids_or_tokens() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let mut cfg = GatewayConfig::new(&table);
    cfg.extra_sections = "[log]\nformat = \"json\"\n".to_string();
    let gw = Gateway::start(&cfg);

    // A journal query naming the patient, with a bearer token the gateway must never
    // write anywhere.
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJTRUNSRVQtVVNFUiJ9.c2VjcmV0LXNpZ25hdHVyZQ";
    let Some(body) = reference::npo_request("GetCareDocumentation2.xml", CARE_PROVIDER) else {
        eprintln!("SKIP: the reference folder is missing (GetCareDocumentation2.xml)");
        return;
    };
    assert!(
        String::from_utf8_lossy(&body).contains(PATIENT),
        "the request names the patient"
    );
    let bearer = format!("Bearer {token}");
    let sent: [(&str, reqwest::Client); 3] = [
        ("e2e-log-ok-1", consumer()),
        ("e2e-log-ok-2", consumer()),
        ("e2e-log-vp007", client("consumer2")),
    ];
    for (correlation, client) in &sent {
        let r = post(
            client,
            &gw.url(),
            body.clone(),
            &[
                ("x-skltp-correlation-id", correlation),
                ("authorization", &bearer),
            ],
        )
        .await;
        let expected = if correlation.ends_with("vp007") {
            500
        } else {
            // The correlation id went onward to the producer with the same value.
            assert_eq!(r.header("x-demo-correlation-id"), Some(*correlation));
            200
        };
        assert_eq!(r.status, expected, "{}", r.describe());
    }
    let lines = wait_for_lines(&gw, sent.len()).await;
    let logs = gw.logs();
    assert_eq!(lines.len(), sent.len(), "one line per request:\n{logs}");
    for (correlation, _) in &sent {
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| l["correlation_id"] == *correlation)
            .collect();
        assert_eq!(mine.len(), 1, "{correlation}:\n{logs}");
        let l = mine[0];
        assert_eq!(l["level"], "INFO", "{l}");
        assert!(l["timestamp"].is_string(), "{l}");
        assert_eq!(l["contract"], CARE_DOC, "{l}");
        assert_eq!(l["logical_address"], CARE_PROVIDER, "{l}");
        assert!(l["gateway_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{l}");
        if correlation.ends_with("vp007") {
            assert_eq!(l["caller"], OTHER_CONSUMER_ID, "{l}");
            assert_eq!(l["status"], 500, "{l}");
            assert_eq!(l["fault_code"], "VP007", "{l}");
            assert!(l["reason"]
                .as_str()
                .is_some_and(|r| r.contains("not authorized")));
            assert!(l.get("producer_ms").is_none_or(Value::is_null), "{l}");
        } else {
            assert_eq!(l["caller"], CONSUMER_ID, "{l}");
            assert_eq!(l["status"], 200, "{l}");
            assert!(l.get("fault_code").is_none_or(Value::is_null), "{l}");
            let producer = producer.url("");
            assert!(
                l["producer"]
                    .as_str()
                    .is_some_and(|p| producer.contains(p) && p.contains(':')),
                "{l}"
            );
            assert!(l["producer_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{l}");
        }
    }
    // Nothing in the whole output names the patient or carries the token.
    assert!(!logs.contains(PATIENT), "patient id in the logs:\n{logs}");
    assert!(!logs.contains(token), "token in the logs:\n{logs}");
    assert!(!logs.contains("c2VjcmV0"), "token part in the logs");
    // Every line is JSON (a collector reads them one by one).
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_level_changes_at_run_time() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let mut cfg = GatewayConfig::new(&table);
    cfg.extra_sections = "[log]\nformat = \"json\"\n".to_string();
    let gw = Gateway::start(&cfg);
    let admin = reqwest::Client::new();
    let put = |level: &'static str| {
        let admin = admin.clone();
        let url = gw.admin("/admin/log-level");
        async move {
            let r = admin.put(url).body(level).send().await.expect("PUT");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let send = |correlation: &'static str| {
        let url = gw.url();
        async move {
            let r = post(
                &consumer(),
                &url,
                rivta21(SCHEDULE, "RIVTA21REQUEST"),
                &[("x-skltp-correlation-id", correlation)],
            )
            .await;
            assert_eq!(r.status, 200);
        }
    };

    send("level-info-1").await;
    assert_eq!(wait_for_lines(&gw, 1).await.len(), 1);
    let (status, body) = put("warn").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["level"],
        "warn"
    );
    send("level-warn-1").await;
    let (status, body) = put("info").await;
    assert_eq!(status, 200, "{body}");
    send("level-info-2").await;
    let lines = wait_for_lines(&gw, 2).await;
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["correlation_id"].as_str())
        .collect();
    assert_eq!(ids, ["level-info-1", "level-info-2"], "{}", gw.logs());
    // A broken filter is refused and the one in force stays.
    let (status, body) = put("info,=nonsense[").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gw.admin_get("/admin/log-level").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["level"],
        "info"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_listener_with_mutual_tls_refuses_clients_without_a_certificate() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let mut cfg = GatewayConfig::new(&table);
    cfg.admin_mutual_tls();
    let gw = Gateway::start(&cfg);
    let url = format!("https://127.0.0.1:{}/metrics", gw.admin_port);

    // Plain HTTP gets no answer; TLS without a client certificate fails the handshake.
    assert_eq!(admin_get_status(gw.admin_port, "/metrics"), None);
    let anonymous = client_with(None, Http::H1);
    assert!(anonymous.get(&url).send().await.is_err());
    // With a certificate from the admin CA: served.
    let r = client_with(Some("consumer"), Http::H1)
        .get(&url)
        .send()
        .await
        .expect("mutual TLS admin request");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("vaxel_requests_in_flight"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_listener_requiring_tokens_wants_the_operator_role() {
    let issuer = OperatorIssuer::new();
    let producer = DemoProducer::start();
    let gw = Gateway::start(&issuer.protected(&Table::standard(&producer.url(""))));
    let token = |roles: &[&str]| issuer.token(roles);
    let admin = reqwest::Client::new();
    let get = |path: &str, bearer: Option<String>| {
        let mut req = admin.get(gw.admin(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.expect("admin GET");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    // Load balancers' checks stay open.
    assert_eq!(get("/health", None).await.0, 200);
    assert_eq!(get("/ready", None).await.0, 200);
    // Everything else needs a token with the operator role.
    let (status, body) = get("/metrics", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("operator token"), "{body}");
    let (status, body) = get("/dashboard/data", Some(token(&["consent-admin"]))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("`operator`"), "{body}");
    let (status, body) = get("/metrics", Some(token(&["operator"]))).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get("/dashboard/data", Some(token(&["operator"]))).await;
    assert_eq!(status, 200);
    // A token with a broken signature is refused like none.
    // One character in the middle of the signature changed (the last one may only hold
    // padding bits, and may already be the replacement).
    let mut forged = token(&["operator"]).into_bytes();
    let i = forged.iter().rposition(|b| *b == b'.').expect("a JWS") + 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII");
    assert_eq!(get("/status", Some(forged)).await.0, 401);
}
