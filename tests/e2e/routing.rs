//! Routing behaviour a caller notices: platform headers, HTTP versions, streamed
//! responses, the HSA parent walk, CN identity and RIV-TA 2.0/2.1 conversion.

use std::time::Duration;

use bytes::Bytes;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_id_is_kept_and_routing_history_is_appended() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let client = consumer();

    let r = post(
        &client,
        &gw.url(),
        body.clone(),
        &[
            ("x-skltp-correlation-id", "e2e-correlation-4711"),
            ("x-rivta-routing-history", "upstream-vp-1,upstream-vp-2"),
            ("soapaction", "urn:e2e:action"),
        ],
    )
    .await;
    assert_forwarded(&r, &body);
    assert_eq!(
        r.header("x-skltp-correlation-id"),
        Some("e2e-correlation-4711")
    );
    assert_eq!(
        r.header("x-demo-correlation-id"),
        Some("e2e-correlation-4711")
    );
    assert_eq!(
        r.header("x-demo-routing-history"),
        Some("upstream-vp-1,upstream-vp-2,vaxel-e2e"),
        "the gateway appends its instance id to an existing history"
    );
    assert_eq!(
        r.header("x-demo-soapaction"),
        Some("urn:e2e:action"),
        "ordinary headers such as SOAPAction are forwarded"
    );

    // Without a correlation id each call gets a fresh one.
    let a = post(&client, &gw.url(), body.clone(), &[]).await;
    let b = post(&client, &gw.url(), body.clone(), &[]).await;
    let (ca, cb) = (
        a.header("x-skltp-correlation-id").unwrap_or_default(),
        b.header("x-skltp-correlation-id").unwrap_or_default(),
    );
    assert!(!ca.is_empty() && !cb.is_empty());
    assert_ne!(ca, cb, "generated correlation ids are unique");
    assert_eq!(a.header("x-demo-correlation-id"), Some(ca));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_and_http2_both_work() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let body = rivta20(SCHEDULE, "RIVTA20REQUEST");
    for (http, version) in [
        (Http::Negotiate, http::Version::HTTP_2),
        (Http::H1, http::Version::HTTP_11),
    ] {
        let client = client_with(Some("consumer"), http);
        // Several requests on one connection (keep-alive / multiplexing).
        for _ in 0..3 {
            let r = post(&client, &gw.url(), body.clone(), &[]).await;
            assert_eq!(r.version, version, "{http:?}");
            assert_forwarded(&r, &body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_mebibyte_streamed_response_comes_back_whole() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url("")).route_for_consumer(
        SCHEDULE,
        "LARGE-ANSWER",
        &producer.url("/large?kb=2048"),
    );
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let body = rivta21(SCHEDULE, "LARGE-ANSWER");

    // What the producer sends for exactly these bytes, asked directly with the same
    // client certificate the gateway uses.
    let direct = post(
        &client("gateway-client"),
        &producer.url("/large?kb=2048"),
        body.clone(),
        &[],
    )
    .await;
    assert_eq!(direct.status, 200);
    assert!(
        direct.body.len() >= 2 * 1024 * 1024,
        "producer sends ≥ 2 MiB"
    );

    for (http, r) in post_each_http(&gw.url(), &body).await {
        assert_forwarded(&r, &body);
        assert_eq!(r.body.len(), direct.body.len(), "{http:?}: whole response");
        assert!(r.body == direct.body, "{http:?}: response bytes unchanged");
        assert!(r.text().ends_with("</soap:Envelope>"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsa_parent_walk_routes_a_child_address_by_the_parent_rule() {
    let Some(to_unit) = reference::npo_request("GetCareDocumentation2.xml", CARE_UNIT) else {
        return;
    };
    let Some(elsewhere) =
        reference::npo_request("GetCareDocumentation2.xml", "SE2321000016-ELSEWHERE")
    else {
        return;
    };
    let recorder = RecordingProducer::start(|_| (200, Bytes::from_static(b"<ok/>"))).await;
    // Only the care provider has a rule; its unit is reached through the HSA tree.
    let table = Table::new()
        .route(
            CARE_DOC,
            CARE_PROVIDER,
            "RIVTABP21",
            &recorder.url("/by-parent-rule"),
        )
        .hsa(CARE_PROVIDER, "SE")
        .hsa(CARE_UNIT, CARE_PROVIDER)
        .authorize(CONSUMER_ID, CARE_DOC, "*")
        .route(
            SCHEDULE,
            "RIVTA21REQUEST",
            "RIVTABP21",
            &recorder.url("/schedule"),
        )
        .authorize(CONSUMER_ID, SCHEDULE, "*");
    let gw = Gateway::start(&GatewayConfig::new(&table));

    let r = post(&consumer(), &gw.url(), to_unit.clone(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let seen = recorder.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].path, "/by-parent-rule",
        "routed by the parent's rule"
    );
    assert!(seen[0].body == to_unit, "forwarded unchanged");

    // An address outside the tree has no route (no "*" rule in this table).
    let r = post(&consumer(), &gw.url(), elsewhere, &[]).await;
    assert_fault(&r, &gw, "VP004", &["SE2321000016-ELSEWHERE", CARE_DOC]);
    assert_eq!(recorder.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cn_only_certificate_is_identified_by_its_cn() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let r = post(&client("consumer-cn-only"), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&r, &body);
    assert_eq!(r.header("x-demo-sender-id"), Some(CN_CONSUMER_ID));
    assert_eq!(r.header("x-demo-original-consumer"), Some(CN_CONSUMER_ID));
}

/// Splits `sent` around the first occurrence of `start`..`end` (inclusive).
fn split_around<'a>(sent: &'a [u8], start: &str, end: &str) -> (&'a [u8], &'a [u8]) {
    let text = std::str::from_utf8(sent).expect("UTF-8");
    let s = text.find(start).expect("start tag");
    let e = text[s..].find(end).expect("end tag") + s + end.len();
    (&sent[..s], &sent[e..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rivta21_request_is_converted_for_a_rivtabp20_producer_and_back() {
    let Some(rivta21) = reference::read("riv-ta/vp-requests/Rivta21Request.xml") else {
        return;
    };
    let Some(rivta20) = reference::read("riv-ta/vp-requests/Rivta20Request.xml") else {
        return;
    };
    let recorder =
        RecordingProducer::start(|_| (200, Bytes::from_static(b"<converted-ok/>"))).await;
    // The reference samples' addresses routed to producers of the *other* profile.
    let table = Table::new()
        .route(
            SCHEDULE,
            "RIVTA21REQUEST",
            "RIVTABP20",
            &recorder.url("/speaks-20"),
        )
        .route(
            SCHEDULE,
            "RIVTA20REQUEST",
            "RIVTABP21",
            &recorder.url("/speaks-21"),
        )
        .authorize(CONSUMER_ID, SCHEDULE, "*");
    let gw = Gateway::start(&GatewayConfig::new(&table));

    // 2.1 → 2.0: <LogicalAddress> becomes wsa:To; every other byte stays.
    let sent = rivta21;
    let r = post(&consumer(), &gw.url(), sent.clone(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body, Bytes::from_static(b"<converted-ok/>"));
    let (before, after) = split_around(&sent, "<ns5:LogicalAddress", "</ns5:LogicalAddress>");
    let mut expected = before.to_vec();
    expected.extend_from_slice(
        b"<wsa:To xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">RIVTA21REQUEST</wsa:To>",
    );
    expected.extend_from_slice(after);
    let seen = recorder.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/speaks-20");
    assert_eq!(
        String::from_utf8_lossy(&seen[0].body),
        String::from_utf8_lossy(&expected),
        "only the address header is rewritten"
    );
    assert_eq!(
        seen[0]
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(expected.len().to_string().as_str()),
        "Content-Length follows the rewritten body"
    );

    // 2.0 → 2.1: wsa:To becomes <LogicalAddress>.
    let sent = rivta20;
    let r = post(&consumer(), &gw.url(), sent.clone(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let (before, after) = split_around(&sent, "<ns5:To", "</ns5:To>");
    let mut expected = before.to_vec();
    expected.extend_from_slice(
        b"<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">RIVTA20REQUEST</LogicalAddress>",
    );
    expected.extend_from_slice(after);
    let seen = recorder.received();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/speaks-21");
    assert_eq!(
        String::from_utf8_lossy(&seen[1].body),
        String::from_utf8_lossy(&expected),
        "only the address header is rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_does_not_hold_up_other_callers() {
    let producer = DemoProducer::start();
    let table = Table::standard(&producer.url("")).route_for_consumer(
        SCHEDULE,
        "SLOW",
        &producer.url("/slow?ms=3000"),
    );
    // One service thread: concurrency must come from async I/O, not from more cores.
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let slow_body = rivta21(SCHEDULE, "SLOW");
    let url = gw.url();
    let slow = tokio::spawn(async move { post(&consumer(), &url, slow_body, &[]).await });
    eventually(
        "the slow request to reach the gateway",
        PATIENCE,
        || async {
            let s = gw.status().await;
            (s["counts"]["requests"].as_u64() >= Some(1)).then_some(())
        },
    )
    .await;

    // Another caller, on another connection, while the slow call is in flight.
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let fast = post(&client("consumer-cn-only"), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&fast, &body);
    assert!(
        fast.elapsed < Duration::from_millis(1500),
        "the other caller waited {:?} behind a slow producer",
        fast.elapsed
    );
    assert!(!slow.is_finished(), "the slow call is still in flight");
    let slow = slow.await.expect("slow task");
    assert_eq!(slow.status, 200, "{}", slow.describe());
    assert!(slow.elapsed >= Duration::from_millis(2900));
}
