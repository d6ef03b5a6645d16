//! Hostile-connection limits: concurrent requests (fast 503 + Retry-After), open
//! connections, slow headers and bodies (slowloris), per-contract message size.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_limit_get_503_with_retry_after() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url("")).route_for_consumer(
        SCHEDULE,
        "SLOW",
        &producer.url("/slow?ms=2500"),
    );
    let mut cfg = GatewayConfig::new(&table);
    cfg.service_extra = "max_concurrent_requests = 1".into();
    let gw = Gateway::start(&cfg);
    let url = gw.url();
    let slow =
        tokio::spawn(async move { post(&consumer(), &url, rivta21(SCHEDULE, "SLOW"), &[]).await });
    eventually("the slow request to be in flight", PATIENCE, || async {
        let s = gw.status().await;
        (s["counts"]["requests"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    let busy = post(
        &client("consumer-cn-only"),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_eq!(busy.status, 503, "{}", busy.describe());
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert!(
        busy.text().contains("max_concurrent_requests"),
        "{}",
        busy.describe()
    );
    assert!(
        busy.elapsed < Duration::from_millis(1000),
        "rejection must be immediate, took {:?}",
        busy.elapsed
    );

    let slow = slow.await.expect("slow task");
    assert_eq!(slow.status, 200, "{}", slow.describe());
    // The slot is free again.
    let after = post(
        &consumer(),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_eq!(after.status, 200, "{}", after.describe());
    let s = gw.status().await;
    assert_eq!(
        s["counts"]["requests_rejected_busy"].as_u64(),
        Some(1),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_closed_at_accept() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "max_connections = 2".into();
    let gw = Gateway::start(&cfg);
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    // Two clients keep their keep-alive connections open in their pools.
    let a = client_with(Some("consumer"), Http::H1);
    let b = client_with(Some("consumer"), Http::H1);
    assert_eq!(post(&a, &gw.url(), body.clone(), &[]).await.status, 200);
    assert_eq!(post(&b, &gw.url(), body.clone(), &[]).await.status, 200);
    let c = client_with(Some("consumer"), Http::H1);
    let third = try_post(&c, &gw.url(), body.clone(), &[]).await;
    assert!(
        third.is_err(),
        "a third connection must be refused: {third:?}"
    );
    let s = gw.status().await;
    assert!(
        s["counts"]["connections_rejected"].as_u64() >= Some(1),
        "{s}"
    );
    // Closing one connection makes room again.
    drop(a);
    let retry = eventually("a freed connection slot", PATIENCE, || async {
        let c = client_with(Some("consumer"), Http::H1);
        try_post(&c, &gw.url(), body.clone(), &[]).await.ok()
    })
    .await;
    assert_eq!(retry.status, 200, "{}", retry.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_after_the_head_is_abandoned_with_vp015() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "body_idle_timeout_ms = 500".into();
    let gw = Gateway::start(&cfg);
    // The head routes the call; then the caller stops sending.
    let msg = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let split = msg
        .windows(11)
        .position(|w| w == b"<c:patient>")
        .expect("body child content");
    let (first, rest) = (
        Bytes::from(msg[..split].to_vec()),
        Bytes::from(msg[split..].to_vec()),
    );
    let stream = futures_util::stream::unfold(0u8, move |state| {
        let (first, rest) = (first.clone(), rest.clone());
        async move {
            match state {
                0 => Some((Ok::<Bytes, std::io::Error>(first), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    });
    let started = std::time::Instant::now();
    let r = try_post(
        &client_with(Some("consumer"), Http::Negotiate),
        &gw.url(),
        reqwest::Body::wrap_stream(stream),
        &[],
    )
    .await;
    let elapsed = started.elapsed();
    let r = r.expect("the gateway answers while the body is still stalled");
    assert_fault(&r, &gw, "VP015", &["stalled", "body_idle_timeout_ms"]);
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert_still_serving(&gw).await;
}

/// Sends the first bytes of an envelope head, then nothing for `pause`, then ends the
/// body; the gateway must answer during the pause.
async fn post_half_a_head(gw: &Gateway, pause: Duration) -> Reply {
    let head = Bytes::from_static(
        b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Hea",
    );
    let stream = futures_util::stream::unfold(0u8, move |state| {
        let head = head.clone();
        async move {
            match state {
                0 => Some((Ok::<Bytes, std::io::Error>(head), 1)),
                1 => {
                    tokio::time::sleep(pause).await;
                    None
                }
                _ => None,
            }
        }
    });
    try_post(
        &client_with(Some("consumer"), Http::Negotiate),
        &gw.url(),
        reqwest::Body::wrap_stream(stream),
        &[],
    )
    .await
    .expect("the gateway answers while the head is incomplete")
}

/// `body_idle_timeout_ms` covers the whole body, the envelope head included: an
/// operator who lowers only the idle timeout is protected from a caller that stalls
/// half-way through the head (the head's own timeout is left at its 30 s default here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_stalls_is_abandoned_after_the_idle_timeout() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "body_idle_timeout_ms = 500".into();
    let gw = Gateway::start(&cfg);
    let r = post_half_a_head(&gw, Duration::from_secs(10)).await;
    assert_fault(
        &r,
        &gw,
        "VP015",
        &["stalled", "500 ms", "body_idle_timeout_ms"],
    );
    assert!(r.elapsed < Duration::from_secs(4), "took {:?}", r.elapsed);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_head_that_never_completes_is_vp015() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "envelope_head_timeout_ms = 500".into();
    let gw = Gateway::start(&cfg);
    let r = post_half_a_head(&gw, Duration::from_secs(5)).await;
    assert_fault(&r, &gw, "VP015", &["did not arrive within 500 ms"]);
    assert!(r.elapsed < Duration::from_secs(4), "took {:?}", r.elapsed);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_headers_close_the_connection() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "header_read_timeout_ms = 500".into();
    let gw = Gateway::start(&cfg);
    use rustls::pki_types::pem::PemObject;
    let pki = pki();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(pki.ca())
        .expect("ca.pem")
        .map(|c| c.expect("ca cert"))
    {
        roots.add(c).expect("root");
    }
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(pki.cert("consumer"))
        .expect("consumer.pem")
        .map(|c| c.expect("cert"))
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.key("consumer")).expect("key");
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .expect("client auth");
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    let mut stream = connector
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake");
    // Start a request and never finish its headers.
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the connection must be closed, not kept waiting"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after {:?}",
        started.elapsed()
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_limit_below_the_listener_limit_is_enforced() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url("")).max_body(SCHEDULE, 4096);
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let small = rivta21(SCHEDULE, "RIVTA21REQUEST");
    assert!(small.len() < 4096);
    let ok = post(&consumer(), &gw.url(), small.clone(), &[]).await;
    assert_forwarded(&ok, &small);

    // The same contract with 8 KiB of padding inside the Body child.
    let text = String::from_utf8(small).expect("utf-8");
    let pos = text.rfind("</soap:Body>").expect("body end");
    let big = format!(
        "{}<!--{}-->{}",
        &text[..pos],
        "x".repeat(8192),
        &text[pos..]
    );
    let r = post(&consumer(), &gw.url(), big.clone(), &[]).await;
    assert_fault(&r, &gw, "VP015", &["4096 bytes", SCHEDULE]);
    // Other contracts keep the listener's 15 MiB limit.
    let npo = rivta21(CARE_DOC, CARE_PROVIDER);
    let npo_text = String::from_utf8(npo).expect("utf-8");
    let pos = npo_text.rfind("</soap:Body>").expect("body end");
    let big_npo = format!(
        "{}<!--{}-->{}",
        &npo_text[..pos],
        "x".repeat(8192),
        &npo_text[pos..]
    );
    let r = post(&consumer(), &gw.url(), big_npo.clone(), &[]).await;
    assert_forwarded(&r, big_npo.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_nested_deeper_than_the_limit_is_vp015() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "max_element_depth = 8".into();
    let gw = Gateway::start(&cfg);
    let nest = |n: usize| {
        format!(
            "{}{}",
            "<x:e xmlns:x=\"urn:e2e\">".repeat(n),
            "</x:e>".repeat(n)
        )
    };
    let msg = |n: usize| {
        format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">RIVTA21REQUEST</la:LogicalAddress>{}</soap:Header>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>",
            nest(n)
        )
    };
    // Envelope + Header + 4 = depth 6: within the limit.
    let ok = post(&consumer(), &gw.url(), msg(4), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.describe());
    let r = post(&consumer(), &gw.url(), msg(20), &[]).await;
    assert_fault(&r, &gw, "VP015", &["nesting deeper than 8"]);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_head_over_the_limit_is_vp015() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&Table::standard(&producer.url("")));
    cfg.service_extra = "max_envelope_head_bytes = 4096".into();
    let gw = Gateway::start(&cfg);
    let msg = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">RIVTA21REQUEST</la:LogicalAddress>\
<!--{}--></soap:Header><soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>",
        "h".repeat(10_000)
    );
    let r = post(&consumer(), &gw.url(), msg, &[]).await;
    assert_fault(&r, &gw, "VP015", &["4096 bytes", "header is too large"]);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billion_laughs_is_refused_without_expansion() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push(']');
    dtd.push('>');
    let msg = format!(
        "<?xml version=\"1.0\"?>{dtd}<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">&lol9;</la:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>"
    );
    let r = post(&consumer(), &gw.url(), msg, &[]).await;
    assert_fault(&r, &gw, "VP015", &["DTD"]);
    assert!(r.elapsed < Duration::from_secs(2), "took {:?}", r.elapsed);
    assert_still_serving(&gw).await;
}
