//! The national platform's own messages (../shared/reference) through the real gateway
//! to a real producer: RIV-TA 2.1 and 2.0 samples, the NPÖ queries and the ~1 MB
//! payloads. Each must arrive byte for byte (length and FNV-1a hash seen by the
//! producer) with the platform headers set as the national platform sets them.

use bytes::Bytes;

use crate::harness::*;

const VP_REQUESTS: &str = "riv-ta/vp-requests";

/// `(file, bytes)` of each `riv-ta/vp-requests/<file>`; `None` when the test skips.
fn vp_requests(files: &[&str]) -> Option<Vec<(String, Vec<u8>)>> {
    files
        .iter()
        .map(|f| {
            Some((
                f.to_string(),
                reference::read(&format!("{VP_REQUESTS}/{f}"))?,
            ))
        })
        .collect()
}

/// Sends every sample and checks what the producer saw and what the caller got.
async fn assert_samples_forwarded(gw: &Gateway, samples: &[(String, Vec<u8>)], contract: &[&str]) {
    let client = consumer();
    for ((name, body), ns) in samples.iter().zip(contract) {
        let r = post(&client, &gw.url(), body.clone(), &[]).await;
        assert_forwarded(&r, body);
        assert_eq!(
            r.header("x-demo-sender-id"),
            Some(CONSUMER_ID),
            "{name}: caller id"
        );
        assert_eq!(
            r.header("x-demo-original-consumer"),
            Some(CONSUMER_ID),
            "{name}: the gateway sets the original consumer to the caller"
        );
        assert_eq!(
            r.header("x-demo-instance-id"),
            Some(gw.instance_id.as_str()),
            "{name}"
        );
        assert_eq!(
            r.header("x-demo-routing-history"),
            Some(gw.instance_id.as_str()),
            "{name}: routing history starts with this gateway"
        );
        let corr = r.header("x-skltp-correlation-id").unwrap_or_default();
        assert!(!corr.is_empty(), "{name}: a correlation id is generated");
        assert_eq!(
            r.header("x-demo-correlation-id"),
            Some(corr),
            "{name}: the producer got the same correlation id the caller got back"
        );
        // The producer answers in the contract's namespace: proof that the sample's first
        // Body child reached it as the contract.
        assert!(
            r.text().contains(&format!("xmlns:ns=\"{ns}\"")),
            "{name}: answer in the contract namespace {ns}:\n{}",
            r.describe()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rivta21_reference_requests_reach_the_producer_unchanged() {
    let Some(samples) = vp_requests(&["Rivta21Request.xml", "Rivta21RequestNamespaceInHeader.xml"])
    else {
        return;
    };
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    assert_samples_forwarded(&gw, &samples, &[SCHEDULE, SCHEDULE]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rivta20_reference_requests_reach_the_producer_unchanged() {
    let Some(samples) = vp_requests(&[
        "Rivta20Request.xml",
        "Rivta20RequestNamespaceInHeader.xml",
        "PingForConfiguration-request-input.xml",
    ]) else {
        return;
    };
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    assert_samples_forwarded(&gw, &samples, &[SCHEDULE, SCHEDULE, PING]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npo_reference_requests_are_routed_by_logical_address() {
    let Some(samples) = reference::NPO_SAMPLES
        .iter()
        .map(|(f, _)| Some((f.to_string(), reference::npo_request(f, CARE_PROVIDER)?)))
        .collect::<Option<Vec<(String, Vec<u8>)>>>()
    else {
        return;
    };
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let contracts: Vec<&str> = reference::NPO_SAMPLES.iter().map(|(_, ns)| *ns).collect();
    assert!(samples.len() >= 2);
    assert_samples_forwarded(&gw, &samples, &contracts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_megabyte_reference_request_arrives_byte_identical() {
    let Some(body) = reference::read(&format!(
        "{VP_REQUESTS}/ProcessNotificationLargePayload.xml"
    )) else {
        return;
    };
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    assert!(body.len() > 900_000, "the sample is ~1 MB");
    for (_, r) in post_each_http(&gw.url(), &body).await {
        assert_forwarded(&r, &body);
        assert!(r.text().contains(PROCESS_NOTIFICATION), "{}", r.describe());
    }
}

/// GetSubjectOfCareLargeResponse.xml is a *response* (a ProcessingStatus header, no
/// logical address): routed as a request, the gateway must say VP003; returned by a
/// producer, it must come back to the caller byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_megabyte_reference_response_streams_back_byte_identical() {
    let Some(large) = reference::read(&format!("{VP_REQUESTS}/GetSubjectOfCareLargeResponse.xml"))
    else {
        return;
    };
    let Some(request) = reference::read(&format!("{VP_REQUESTS}/Rivta21Request.xml")) else {
        return;
    };
    let large = Bytes::from(large);
    assert!(large.len() > 1_000_000, "the sample is ~1.1 MB");
    let answer = large.clone();
    let recorder = RecordingProducer::start(move |_| (200, answer.clone())).await;
    let table = Table::new()
        .route(
            SCHEDULE,
            "RIVTA21REQUEST",
            "RIVTABP21",
            &recorder.url("/large-response"),
        )
        .authorize(CONSUMER_ID, SCHEDULE, "*");
    let gw = Gateway::start(&GatewayConfig::new(&table));
    for (_, r) in post_each_http(&gw.url(), &request).await {
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.body.len(), large.len(), "response length");
        assert!(
            r.body == large,
            "the producer's 1.1 MB response must come back unchanged"
        );
    }
    let seen = recorder.received();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.body == request),
        "request forwarded unchanged"
    );

    // The same file sent as a request: it names no receiver.
    let r = post(&consumer(), &gw.url(), large.clone(), &[]).await;
    assert_fault(&r, &gw, "VP003", &["LogicalAddress", "wsa:To"]);
    assert_eq!(
        recorder.received().len(),
        2,
        "a VP003 request never reaches a producer"
    );
}
