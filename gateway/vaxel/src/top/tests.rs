//! Unit tests of `vaxel top`: the rendered lines, pinned, and the arguments checks.

use serde_json::json;

use super::render::{duration, sparkline};
use super::*;

/// The contract's example (specs: the dashboard data), with a short series.
fn sample() -> Value {
    json!({
        "instance_id": "vaxel-demo", "version": "0.1.0", "uptime_seconds": 3725,
        "now_ms": 1765000003000u64, "step_seconds": 1,
        "series": [
            {"t_ms": 1765000000000u64, "requests": 0, "faults": 0, "p50_ms": null, "p99_ms": null},
            {"t_ms": 1765000001000u64, "requests": 8, "faults": 0, "p50_ms": 0.8, "p99_ms": 2.5},
            {"t_ms": 1765000002000u64, "requests": 12, "faults": 1, "p50_ms": 1.2, "p99_ms": 4.8}
        ],
        "totals": {"requests": 1234, "faults": 12, "requests_in_flight": 2, "connections_open": 3,
                   "refused": 1, "tls_handshake_failures": 4},
        "top": {
            "contracts": [
                {"name": "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
                 "requests": 100, "faults": 1, "per_second": 3.2},
                {"name": "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1",
                 "requests": 20, "faults": 0, "per_second": 0.5}
            ],
            "consumers": [{"name": "SE0000000000-DEMOCONSUMER", "requests": 120, "faults": 1, "per_second": 3.7}],
            "producers": []
        },
        "faults_by_code": [{"code": "VP007", "count": 3}, {"code": "VP004", "count": 1}],
        "routing_table": {"loaded": true, "age_seconds": 30, "contracts": 10, "routes": 20, "authorizations": 30},
        "sdk": {"outgoing": {"queued": 1, "sending": 0, "delivered": 5, "rejected": 0, "failed": 2},
                "inbox_pending": 3,
                "delivery_attempts": {"delivered": 5, "rejected": 0, "failed": 1},
                "receipts": {"sent_accepted": 4, "sent_rejected": 0, "received_accepted": 5, "received_rejected": 1}},
        "consent": {"decisions": {"allowed": 10, "emergency": 1, "denied": 3}, "withheld_records": 3,
                    "denials_per_second": 0.1},
        "engagement_index": {"notifications_pending": 0, "updates": 4},
        "access_log": {"queue_depth": 0, "entries": 14, "commit_p99_ms": 2.1}
    })
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn totals_line_is_exact_and_parseable() {
    let text = render(&sample(), 160);
    assert!(
        lines(&text).contains(
            &"totals        requests 1234 · faults 12 · in flight 2 · connections 3 · refused 1 · TLS handshake failures 4"
        ),
        "{text}"
    );
}

#[test]
fn totals_wrap_at_item_boundaries_on_a_narrow_terminal() {
    let text = render(&sample(), 80);
    let l = lines(&text);
    let i = l
        .iter()
        .position(|l| l.starts_with("totals"))
        .expect("totals line");
    assert_eq!(
        l[i],
        "totals        requests 1234 · faults 12 · in flight 2 · connections 3"
    );
    assert_eq!(
        l[i + 1],
        "              refused 1 · TLS handshake failures 4"
    );
    for line in &l {
        assert!(line.chars().count() <= 80, "{line:?} is wider than 80");
    }
}

#[test]
fn header_rate_latency_and_sparkline() {
    let text = render(&sample(), 120);
    let l = lines(&text);
    assert_eq!(
        l[0],
        "vaxel-demo (vaxel 0.1.0) · up 1 h 2 min · routing table loaded 30 s ago: 10 contracts, 20 routes, 30 authorizations"
    );
    assert_eq!(l[2], "requests/s          12  ▁▆█  max 12 over 3 s");
    assert_eq!(l[3], "latency       p50 1.2 ms · p99 4.8 ms");
}

#[test]
fn tables_shorten_contracts_and_align_numbers() {
    let text = render(&sample(), 80);
    let l = lines(&text);
    let expected = [
        "top contracts                                           req/s   requests  faults",
        "  GetCareDocumentationResponder:2                         3.2        100       1",
        "  GetSubjectOfCareScheduleResponder:1                    0.50         20       0",
    ];
    let at = l
        .iter()
        .position(|l| l.starts_with("top contracts"))
        .expect("contracts");
    assert_eq!(l[at..at + 3], expected, "{text}");
    assert!(
        l.contains(
            &"  SE0000000000-DEMOCONSUMER                               3.7        120       1"
        ),
        "{text}"
    );
    assert!(l.iter().all(|l| l.chars().count() <= 80), "{text}");
    let producers = l
        .iter()
        .position(|l| l.starts_with("top producers"))
        .expect("producers");
    assert_eq!(l[producers + 1], "  (no traffic yet)");
}

#[test]
fn faults_and_optional_sections() {
    let text = render(&sample(), 120);
    let l = lines(&text);
    assert!(l.contains(&"faults        VP007 3 · VP004 1"), "{text}");
    let sdk = l.iter().position(|l| l.starts_with("sdk")).expect("sdk");
    assert_eq!(
        l[sdk],
        "sdk           outgoing queued 1, sending 0, delivered 5, rejected 0, failed 2 · inbox pending 3"
    );
    assert_eq!(
        l[sdk + 1],
        "              delivery attempts delivered 5, rejected 0, failed 1 · receipts sent 4/0, received 5/1 (accepted/rejected)"
    );
    assert!(l.contains(&"consent       allowed 10 · emergency 1 · denied 3 · withheld records 3 · denials/s 0.10"), "{text}");
    assert!(
        l.contains(&"engagement    notifications pending 0 · updates 4"),
        "{text}"
    );
    assert!(
        l.contains(&"access log    queue depth 0 · entries 14 · commit p99 2.1 ms"),
        "{text}"
    );
}

#[test]
fn absent_subsystems_and_an_idle_gateway() {
    let mut d = sample();
    for k in ["sdk", "consent", "engagement_index", "access_log"] {
        d[k] = Value::Null;
    }
    d["series"] = json!([]);
    d["faults_by_code"] = json!([]);
    d["routing_table"]["loaded"] = json!(false);
    let text = render(&d, 100);
    for word in ["sdk", "consent", "engagement", "access log"] {
        assert!(
            !text.lines().any(|l| l.starts_with(word)),
            "{word} shown: {text}"
        );
    }
    assert!(text.contains("routing table NOT LOADED"), "{text}");
    assert!(text.contains("faults        none since start"), "{text}");
    assert!(
        text.contains("latency       no requests in the last minute"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("requests/s           0  ")),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no terminal control codes");
}

#[test]
fn short_contract_keeps_the_last_two_parts() {
    assert_eq!(
        short_contract(
            "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2"
        ),
        "GetCareDocumentationResponder:2"
    );
    assert_eq!(short_contract("Ping:1"), "Ping:1");
    assert_eq!(short_contract("plain"), "plain");
}

#[test]
fn sparkline_scales_to_the_maximum() {
    assert_eq!(sparkline(&[0.0, 1.0, 50.0, 100.0], 100.0), "▁▂▅█");
    assert_eq!(sparkline(&[0.0, 0.0], 0.0), "▁▁");
}

#[test]
fn durations_read_naturally() {
    let cases = [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (61, "1 min 1 s"),
        (3600, "1 h"),
        (3725, "1 h 2 min"),
        (48 * 3600, "2 d"),
        (50 * 3600 + 60, "2 d 2 h"),
    ];
    for (secs, text) in cases {
        assert_eq!(duration(secs), text, "{secs} s");
    }
}

#[test]
fn data_url_joins_with_one_slash() {
    assert_eq!(
        data_url("http://127.0.0.1:8080"),
        "http://127.0.0.1:8080/dashboard/data"
    );
    assert_eq!(
        data_url("http://127.0.0.1:8080/"),
        "http://127.0.0.1:8080/dashboard/data"
    );
}

#[test]
fn https_needs_a_ca_and_http_takes_no_tls_files() {
    let args = |admin: &str, ca: Option<&str>| TopArgs {
        admin: admin.into(),
        interval_ms: 1000,
        once: true,
        token: None,
        cert: None,
        key: None,
        ca: ca.map(PathBuf::from),
    };
    let e = client(&args("https://127.0.0.1:8080", None)).unwrap_err();
    assert!(e.to_string().contains("--ca"), "{e}");
    let e = client(&args("http://127.0.0.1:8080", Some("/ca.pem"))).unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
    let e = client(&args("127.0.0.1:8080", None)).unwrap_err();
    assert!(e.to_string().contains("http://"), "{e}");
    assert!(client(&args("http://127.0.0.1:8080", None)).is_ok());
}
