//! The service port's TLS, checked with independent clients (openssl s_client, curl)
//! as well as reqwest: a client certificate from the trusted CA is required, expired
//! and foreign certificates fail the handshake, only TLS 1.2 and 1.3 are spoken.

use std::time::Duration;

use crate::harness::*;

const TOOL_TIMEOUT: Duration = Duration::from_secs(20);

fn path(p: std::path::PathBuf) -> String {
    p.display().to_string()
}

/// An HTTP/1.1 POST of `body` that asks the server to close afterwards.
fn raw_post(body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /vp HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=UTF-8\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// `openssl s_client` against the gateway, with extra arguments, sending `stdin`.
fn s_client(gw: &Gateway, extra: &[&str], stdin: &[u8]) -> ToolRun {
    let mut args: Vec<String> = [
        "s_client",
        "-connect",
        &format!("127.0.0.1:{}", gw.port),
        "-servername",
        "localhost",
        "-CAfile",
        &path(pki().ca()),
        "-ign_eof",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    run_tool("openssl", &args, stdin, TOOL_TIMEOUT)
}

/// `curl` POST of `body` with an optional client certificate: (run, HTTP status text).
fn curl_post(gw: &Gateway, cert: Option<&str>, body: &[u8]) -> ToolRun {
    let pki = pki();
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "-o".into(),
        "/dev/null".into(),
        "-w".into(),
        "%{http_code}".into(),
        "--max-time".into(),
        "15".into(),
        "--cacert".into(),
        path(pki.ca()),
        "-H".into(),
        "content-type: text/xml; charset=UTF-8".into(),
        "--data-binary".into(),
        "@-".into(),
    ];
    if let Some(stem) = cert {
        args.extend([
            "--cert".into(),
            path(pki.cert(stem)),
            "--key".into(),
            path(pki.key(stem)),
        ]);
    }
    args.push(gw.url());
    run_tool("curl", &args, body, TOOL_TIMEOUT)
}

async fn handshake_failures(gw: &Gateway) -> u64 {
    gw.status().await["counts"]["tls_handshake_failures"]
        .as_u64()
        .expect("tls_handshake_failures")
}

/// The failure count once it is above `before` (the server counts a failed handshake
/// after its alert reached the client), or as it is after 2 s.
async fn handshake_failures_above(gw: &Gateway, before: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let n = handshake_failures(gw).await;
        if n > before || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// reqwest gets no HTTP response at all (the handshake fails, not the request).
async fn assert_no_http_response(gw: &Gateway, stem: Option<&str>) {
    let client = client_with(stem, Http::Negotiate);
    let result = try_post(&client, &gw.url(), rivta21(SCHEDULE, "RIVTA21REQUEST"), &[]).await;
    match result {
        Ok(r) => panic!(
            "{stem:?}: expected a failed TLS handshake, got an HTTP answer:\n{}",
            r.describe()
        ),
        Err(e) => assert!(
            !e.is_timeout(),
            "{stem:?}: refused at once, not timed out: {}",
            error_chain(&e)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_certificate_fails_the_handshake() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let before = handshake_failures(&gw).await;
    assert_no_http_response(&gw, None).await;
    assert!(
        handshake_failures_above(&gw, before).await > before,
        "counted as a handshake failure"
    );
    assert!(
        gw.logs_with("peer sent no certificates")
            .contains("peer sent no certificates"),
        "the log says why"
    );

    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    if tool_available("curl") {
        let run = curl_post(&gw, None, &body);
        assert!(
            !run.success(),
            "curl without a certificate must fail:\n{}",
            run.describe()
        );
        assert_eq!(
            run.stdout.trim(),
            "000",
            "no HTTP status at all:\n{}",
            run.describe()
        );
    }
    if tool_available("openssl") {
        let run = s_client(&gw, &["-tls1_3"], &raw_post(&body));
        assert!(
            !run.stdout.contains("HTTP/1.1"),
            "no HTTP answer:\n{}",
            run.describe()
        );
        assert!(
            run.stderr.contains("certificate required"),
            "the gateway demands a certificate:\n{}",
            run.describe()
        );
        let run = s_client(&gw, &["-tls1_2"], &raw_post(&body));
        assert!(
            !run.success(),
            "TLS 1.2 without a certificate fails:\n{}",
            run.describe()
        );
        assert!(
            !run.stdout.contains("HTTP/1.1"),
            "no HTTP answer:\n{}",
            run.describe()
        );
    }
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_expired_client_certificates_fail_the_handshake() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    for stem in ["rogue-consumer", "consumer-expired"] {
        let before = handshake_failures(&gw).await;
        assert_no_http_response(&gw, Some(stem)).await;
        assert!(
            handshake_failures_above(&gw, before).await > before,
            "{stem}: counted"
        );
        if tool_available("curl") {
            let run = curl_post(&gw, Some(stem), &body);
            assert!(
                !run.success(),
                "{stem}: curl must fail:\n{}",
                run.describe()
            );
            assert_eq!(
                run.stdout.trim(),
                "000",
                "{stem}: no HTTP status:\n{}",
                run.describe()
            );
        }
    }
    gw.logs_with("UnknownIssuer");
    let logs = gw.logs_with("certificate expired");
    assert!(
        logs.contains("UnknownIssuer"),
        "the gateway logs why the rogue certificate was refused"
    );
    assert!(
        logs.contains("certificate expired"),
        "the gateway logs why the expired certificate was refused"
    );
    assert!(
        !logs.contains(" request correlation_id="),
        "no request from a refused certificate reached the pipeline"
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_is_refused() {
    if !tool_available("openssl") {
        return;
    }
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let pki = pki();
    let before = handshake_failures(&gw).await;
    // SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all, so the refusal is the gateway's.
    let run = s_client(
        &gw,
        &[
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-cert",
            &path(pki.cert("consumer")),
            "-key",
            &path(pki.key("consumer")),
        ],
        &raw_post(&rivta21(SCHEDULE, "RIVTA21REQUEST")),
    );
    assert!(
        !run.success(),
        "TLS 1.1 must be refused:\n{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("Cipher is (NONE)"),
        "no cipher agreed:\n{}",
        run.describe()
    );
    assert!(!run.stdout.contains("HTTP/1.1"), "{}", run.describe());
    assert!(
        run.stderr.contains("alert"),
        "the gateway answers with an alert:\n{}",
        run.describe()
    );
    assert!(
        handshake_failures_above(&gw, before).await > before,
        "counted as a handshake failure"
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_with_a_valid_certificate_work() {
    if !tool_available("openssl") {
        return;
    }
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let pki = pki();
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let run = s_client(
            &gw,
            &[
                flag,
                "-verify_return_error",
                "-cert",
                &path(pki.cert("consumer")),
                "-key",
                &path(pki.key("consumer")),
            ],
            &raw_post(&body),
        );
        let out = &run.stdout;
        assert!(run.success(), "{name}:\n{}", run.describe());
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{name}: server certificate verified:\n{}",
            run.describe()
        );
        assert!(
            out.contains(&format!("Protocol  : {name}")) || out.contains(&format!("New, {name}")),
            "{name}:\n{}",
            run.describe()
        );
        assert!(
            !out.contains("Cipher is (NONE)"),
            "{name}:\n{}",
            run.describe()
        );
        assert!(
            out.contains("HTTP/1.1 200 OK"),
            "{name}: the call went through:\n{}",
            run.describe()
        );
        assert!(
            out.contains(&format!("x-demo-sender-id: {CONSUMER_ID}")),
            "{name}: identified by the certificate:\n{}",
            run.describe()
        );
        assert!(
            out.contains(&format!("x-demo-body-fnv: {}", fnv_hex(&body))),
            "{name}:\n{}",
            run.describe()
        );
    }
    if tool_available("curl") {
        let run = curl_post(&gw, Some("consumer"), &body);
        assert!(run.success(), "{}", run.describe());
        assert_eq!(run.stdout.trim(), "200", "{}", run.describe());
    }
}
