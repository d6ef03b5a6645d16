//! The operations dashboard (`GET /dashboard` on the admin listener) in a real browser,
//! and `vaxel top`, both against a real gateway carrying real mutual-TLS traffic.
//!
//! The browser is headless Chromium driven by chromedriver over the W3C WebDriver HTTP
//! protocol (`harness/browser.rs`). Without `chromium` or `chromedriver` the browser
//! test prints `SKIP:` and passes, except under `CI=true`, where it fails: CI never
//! passes by skipping (`scripts/install-test-tools.sh` installs both). The `vaxel top`
//! tests need nothing but the binary.
//!
//! The browser test leaves a screenshot in `<target>/test-artifacts/dashboard.png`.
//!
//! Protected admin listeners (`[admin] require_token`, `[admin] tls`): the page asks
//! for an operator token and takes one from `#token=` in its URL; `vaxel top` takes
//! `--token`, or `--cert`/`--key`/`--ca` for mutual TLS, and fails clearly without.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

/// Successful requests each test sends.
const K: u64 = 20;

// ---------------------------------------------------------------------------------
// In the browser

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser_follows_the_gateways_traffic() {
    let Some(browser) = browser_tools() else {
        return;
    };
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let (status, body) = gw.admin_get("/dashboard").await;
    assert_eq!(status, 200, "GET /dashboard on the admin listener: {body}");

    let driver = ChromeDriver::start();
    let page = Session::start(&driver, &browser).await;
    page.navigate(&gw.admin("/dashboard")).await;

    // The page's first poll fills the counter with the gateway's total so far.
    let n0 = eventually_in(&page, "#total-requests to show a number", |s| {
        s["total"].as_str()?.parse::<u64>().ok()
    })
    .await;
    let points0 = page.state().await["points"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);

    // K good requests spread over about four seconds, so that several complete seconds
    // carry traffic (the chart's last point is the last complete second), then two
    // that the gateway refuses (VP007: consumer2 may not call the contract).
    let url = gw.url();
    let sender = tokio::spawn(async move {
        let client = consumer();
        let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
        for _ in 0..K {
            let r = post(&client, &url, body.clone(), &[]).await;
            assert_forwarded(&r, &body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let other = client_with(Some("consumer2"), Http::Negotiate);
        for _ in 0..2 {
            let r = post(&other, &url, body.clone(), &[]).await;
            assert_eq!(
                r.header("x-vp-fault-code"),
                Some("VP007"),
                "{}",
                r.describe()
            );
        }
    });
    let faults = 2;
    let expected = n0 + K + faults;

    // Until the page shows exactly the new total, remember whether the throughput chart
    // ever drew a last point above zero while the traffic flowed.
    let mut rps_seen = 0.0_f64;
    let mut points_max = points0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sender = Some(sender);
    let last = loop {
        let s = page.state().await;
        rps_seen = rps_seen.max(
            s["last"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        );
        points_max = points_max.max(
            s["points"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        );
        if let Some(task) = sender.as_ref() {
            if task.is_finished() {
                sender.take().expect("sender").await.expect("sender task");
            }
        }
        let total = s["total"].as_str().and_then(|t| t.parse::<u64>().ok());
        if sender.is_none() && total == Some(expected) && rps_seen > 0.0 {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not reach {expected} requests (n0 {n0} + {K} + {faults} faults) with a \
             nonzero throughput point within 30 s; last state {s}, highest data-last seen {rps_seen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The page shows what the endpoint says.
    let (_, data) = gw.admin_get("/dashboard/data").await;
    let data: Value = serde_json::from_str(&data).expect("/dashboard/data is JSON");
    assert_eq!(data["totals"]["requests"], expected, "{data}");

    assert!(
        points_max > points0,
        "#chart-rps data-points grew while the page was open ({points0} → {points_max})"
    );
    assert_eq!(last["live"], "live", "the live indicator: {last}");
    assert!(
        last["renderError"].is_null(),
        "the page's render threw: {}",
        last["renderError"]
    );
    assert!(
        last["latencyPoints"]
            .as_str()
            .and_then(|p| p.parse::<u64>().ok())
            .is_some_and(|p| p > 0),
        "#chart-latency drew points: {last}"
    );
    let fault_rows = last["faultRows"].as_array().expect("fault rows");
    assert!(
        fault_rows.contains(&json!(["VP007", "2"])),
        "the faults table has a VP007 row counting 2: {last}"
    );
    // Contract namespaces are shortened to their last two parts, the full name in the
    // tooltip.
    let contracts = last["contracts"].as_array().expect("contract rows");
    assert!(
        contracts.contains(&json!(["GetSubjectOfCareScheduleResponder:1", SCHEDULE])),
        "top contracts show {SCHEDULE} shortened: {last}"
    );

    // Self-contained: every resource the page loaded came from the admin listener, and
    // the document references no external script, style sheet or image (its own
    // /dashboard/dashboard.css and /dashboard/dashboard.js are same-origin).
    let external = page.exec(EXTERNAL_RESOURCES).await;
    assert_eq!(external, json!([]), "the page loads external resources");
    let same_origin = page
        .exec("return performance.getEntriesByType('resource').every(e => e.name.startsWith(location.origin));")
        .await;
    assert_eq!(same_origin, json!(true));

    page.screenshot_to("dashboard.png").await;
}

/// `/dashboard` on an admin listener that requires operator tokens: the page loads (it
/// holds no data: only `/dashboard/data` is protected, and a browser cannot put a token
/// on a navigation), says that an operator token is needed, then shows the data once
/// one is in its URL, and says so again for a token without the operator role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_asks_for_an_operator_token_and_takes_one_from_its_url() {
    let Some(browser) = browser_tools() else {
        return;
    };
    let issuer = OperatorIssuer::new();
    let producer = DemoProducer::start();
    let gw = Gateway::start(&issuer.protected(&Table::standard(&producer.url(""))));
    let (status, body) = gw.admin_get("/dashboard").await;
    assert_eq!(
        status, 200,
        "with [admin] require_token the page itself must still load without a token (it \
         holds no data; /dashboard/data is what needs the token, and a browser cannot send \
         one when it opens /dashboard): {body}"
    );
    // So do its style sheet and script, with their content types.
    for (path, content_type) in [
        ("/dashboard/dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard/dashboard.js", "text/javascript; charset=utf-8"),
    ] {
        let r = reqwest::get(gw.admin(path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status(), 200, "{path} without a token");
        assert_eq!(r.headers()["content-type"], content_type, "{path}");
    }
    let (status, _) = gw.admin_get("/dashboard/data").await;
    assert_eq!(status, 401, "the data needs a token");

    let driver = ChromeDriver::start();
    let page = Session::start(&driver, &browser).await;
    let banner = |s: &Value| {
        let b = &s["banner"];
        (b["shown"] == true).then(|| b["title"].as_str().unwrap_or_default().to_string())
    };
    page.navigate(&gw.admin("/dashboard")).await;
    let title = eventually_in(&page, "the token banner", banner).await;
    assert!(title.contains("operator token is needed"), "{title}");
    assert_eq!(page.state().await["live"], "unauthorized");

    // The same page with a token in its fragment (never sent to the server by the
    // browser; the page sends it as Authorization: Bearer).
    let ok = issuer.token(&["operator"]);
    page.navigate(&gw.admin(&format!("/dashboard#token={ok}")))
        .await;
    let total = eventually_in(&page, "data with the operator token", |s| {
        (s["live"] == "live" && s["banner"]["shown"] == false)
            .then(|| s["total"].as_str()?.parse::<u64>().ok())
            .flatten()
    })
    .await;
    let r = post(
        &consumer(),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    eventually_in(&page, "the counter to move", |s| {
        (s["total"].as_str()?.parse::<u64>().ok()? == total + 1).then_some(())
    })
    .await;

    let wrong_role = issuer.token(&["consent-admin"]);
    page.navigate(&gw.admin(&format!("/dashboard#token={wrong_role}")))
        .await;
    let title = eventually_in(&page, "the 403 banner", banner).await;
    assert!(
        title.contains("HTTP 403") && title.contains("operator token is needed"),
        "{title}"
    );
}

/// What the test reads from the page in one call: the counter, the charts' attributes,
/// the faults and contracts tables, the live indicator and any render error.
const PAGE_STATE: &str = "
    const rps = document.getElementById('chart-rps');
    const lat = document.getElementById('chart-latency');
    return {
        total: document.getElementById('total-requests').textContent,
        points: rps.getAttribute('data-points'),
        last: rps.getAttribute('data-last'),
        latencyPoints: lat.getAttribute('data-points'),
        live: document.getElementById('live').dataset.state,
        banner: {
            shown: !document.getElementById('banner').hidden,
            title: document.getElementById('banner-title').textContent,
        },
        renderError: document.body.dataset.renderError || null,
        faultRows: [...document.querySelectorAll('#faults-by-code tr[data-code]')]
            .map(r => [r.dataset.code, r.cells[2].textContent.trim()]),
        contracts: [...document.querySelectorAll('#top-contracts td.name')]
            .map(td => [td.textContent, td.title]),
    };";

/// Polls the page state until `f` gives a value (20 s).
async fn eventually_in<T>(page: &Session, what: &str, f: impl Fn(&Value) -> Option<T>) -> T {
    page.eventually(what, PAGE_STATE, f).await
}

impl Session {
    async fn state(&self) -> Value {
        self.exec(PAGE_STATE).await
    }
}

// ---------------------------------------------------------------------------------
// `vaxel top`

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaxel_top_once_prints_the_gateways_totals() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url(""));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    for _ in 0..K {
        let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
        assert_forwarded(&r, &body);
    }
    let r = post(&client("consumer2"), &gw.url(), body.clone(), &[]).await;
    assert_fault(&r, &gw, "VP007", &[]);
    let (status, data) = gw.admin_get("/dashboard/data").await;
    assert_eq!(status, 200, "GET /dashboard/data: {data}");
    let data: Value = serde_json::from_str(&data).expect("/dashboard/data is JSON");
    let count = data["totals"]["requests"]
        .as_u64()
        .expect("totals.requests");
    assert_eq!(count, K + 1, "the gateway counted every request: {data}");

    let run = top(&["--once", "--admin", &gw.admin("")]);
    assert!(run.success(), "vaxel top --once: {}", run.describe());
    let out = &run.stdout;
    assert!(
        !out.contains('\x1b'),
        "--once prints no terminal control codes: {out:?}"
    );
    assert_eq!(
        printed_total(out),
        Some(count),
        "the printed total is the gateway's count:\n{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("vaxel-e2e (vaxel ")),
        "the header names the instance:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("faults") && l.contains("VP007 1")),
        "faults by code:\n{out}"
    );
    assert!(
        out.contains("  GetSubjectOfCareScheduleResponder:1 "),
        "top contracts, shortened:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaxel_top_fails_clearly_without_an_admin_listener() {
    let port = free_port();
    let run = top(&["--once", "--admin", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "exit code 1: {}",
        run.describe()
    );
    assert!(
        run.stderr.contains(&format!(
            "cannot reach the admin listener at http://127.0.0.1:{port}/dashboard/data"
        )),
        "a clear error on stderr: {}",
        run.describe()
    );
    assert!(run.stdout.trim().is_empty(), "{}", run.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaxel_top_with_operator_tokens() {
    let issuer = OperatorIssuer::new();
    let producer = DemoProducer::start();
    let gw = Gateway::start(&issuer.protected(&Table::standard(&producer.url(""))));
    let admin = gw.admin("");

    let run = top(&["--once", "--admin", &admin]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("answered HTTP 401: an operator token is needed"),
        "{}",
        run.describe()
    );
    let run = top(&[
        "--once",
        "--admin",
        &admin,
        "--token",
        &issuer.token(&["consent-admin"]),
    ]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("answered HTTP 403") && run.stderr.contains("operator token"),
        "{}",
        run.describe()
    );
    let run = top(&[
        "--once",
        "--admin",
        &admin,
        "--token",
        &issuer.token(&["operator"]),
    ]);
    assert!(run.success(), "{}", run.describe());
    assert!(printed_total(&run.stdout).is_some(), "{}", run.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaxel_top_over_mutual_tls() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.admin_mutual_tls();
    let gw = Gateway::start(&cfg);
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    for _ in 0..3 {
        assert_forwarded(
            &post(&consumer(), &gw.url(), body.clone(), &[]).await,
            &body,
        );
    }
    let admin = format!("https://127.0.0.1:{}", gw.admin_port);
    let path = |p: PathBuf| p.display().to_string();
    let (cert, key, ca) = (
        path(pki().cert("consumer")),
        path(pki().key("consumer")),
        path(pki().ca()),
    );

    let run = top(&[
        "--once", "--admin", &admin, "--cert", &cert, "--key", &key, "--ca", &ca,
    ]);
    assert!(run.success(), "{}", run.describe());
    assert_eq!(printed_total(&run.stdout), Some(3), "{}", run.describe());

    // Without a client certificate the handshake fails: a clear error, exit code 1.
    let run = top(&["--once", "--admin", &admin, "--ca", &ca]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("cannot reach the admin listener at https://"),
        "{}",
        run.describe()
    );
    // https without --ca: told what to add.
    let run = top(&["--once", "--admin", &admin]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("--ca"), "{}", run.describe());
}

/// `vaxel top <args>` with a deadline.
fn top(args: &[&str]) -> ToolRun {
    let mut all = vec!["top".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::block_in_place(|| run_tool(VAXEL, &all, b"", Duration::from_secs(30)))
}

/// `requests N` on the `totals` line of a `vaxel top` frame.
fn printed_total(frame: &str) -> Option<u64> {
    let line = frame.lines().find(|l| l.starts_with("totals"))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "requests")?;
    words.next()?.parse().ok()
}
