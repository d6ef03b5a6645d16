//! Every national fault code the gateway produces, each from a real request, with the
//! text a caller needs to fix the call; producer faults pass through untouched; after
//! bad input the gateway keeps serving.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::*;

/// A contract that exists only in these tests, for timeouts and producer failures.
const E2E_CONTRACT: &str = "urn:riv:e2e:test:ProbeResponder:1";

fn standard(producer: &DemoProducer) -> Table {
    Table::standard(&producer.url(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp002_certificate_without_serialnumber_or_cn() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let r = post(
        &client("consumer-noname"),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_fault(&r, &gw, "VP002", &["neither a SERIALNUMBER nor a CN"]);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp003_message_without_logical_address() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let body = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header/>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>"
    );
    let r = post(&consumer(), &gw.url(), body, &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP003",
        &[
            "LogicalAddress",
            "urn:riv:itintegration:registry:1",
            "wsa:To",
        ],
    );
    // A LogicalAddress in a foreign namespace is not an address either.
    let body = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<x:LogicalAddress xmlns:x=\"urn:e2e:not-the-registry\">RIVTA21REQUEST</x:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>"
    );
    let r = post(&consumer(), &gw.url(), body, &[]).await;
    assert_fault(&r, &gw, "VP003", &[]);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp004_unknown_contract_missing_route_and_route_out_of_validity() {
    let producer = DemoProducer::start();
    let table = standard(&producer)
        .route_valid(
            SCHEDULE,
            "ENDED-2020",
            "RIVTABP21",
            &producer.url("/x"),
            Some("2020-01-01"),
            Some("2020-12-31"),
        )
        .route_valid(
            SCHEDULE,
            "STARTS-2099",
            "RIVTABP21",
            &producer.url("/x"),
            Some("2099-01-01"),
            None,
        );
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let client = consumer();

    let r = post(
        &client,
        &gw.url(),
        rivta21("urn:riv:e2e:NoSuchContractResponder:1", "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_fault(
        &r,
        &gw,
        "VP004",
        &["unknown service contract urn:riv:e2e:NoSuchContractResponder:1"],
    );
    assert_still_serving(&gw).await;

    let r = post(
        &client,
        &gw.url(),
        rivta21(SCHEDULE, "SE-NO-SUCH-ADDRESS"),
        &[],
    )
    .await;
    assert_fault(
        &r,
        &gw,
        "VP004",
        &["no valid route", SCHEDULE, "SE-NO-SUCH-ADDRESS"],
    );
    assert_still_serving(&gw).await;

    let r = post(&client, &gw.url(), rivta21(SCHEDULE, "ENDED-2020"), &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP004",
        &["ENDED-2020", "valid only from 2020-01-01 to 2020-12-31"],
    );
    let r = post(&client, &gw.url(), rivta21(SCHEDULE, "STARTS-2099"), &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP004",
        &["STARTS-2099", "valid only from 2099-01-01"],
    );
    assert_still_serving(&gw).await;
}

/// The national platform decides the route (VP004/VP005/VP006) before it checks
/// authorisation (VP007): a caller without any authorisation learns that an address
/// has no route, and gets VP007 only for a message that could be routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_is_decided_before_authorisation() {
    let producer = DemoProducer::start();
    let table = standard(&producer)
        .route(SCHEDULE, "TWICE", "RIVTABP21", &producer.url("/one"))
        .route(SCHEDULE, "TWICE", "RIVTABP21", &producer.url("/two"))
        .route(SCHEDULE, "PROFILE-30", "RIVTABP30", &producer.url("/x"));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    // consumer2 has no authorisation at all in this table.
    let unauthorised = client("consumer2");
    let cases = [
        (
            "urn:riv:e2e:NoSuchContractResponder:1",
            "RIVTA21REQUEST",
            "VP004",
            "unknown service contract",
        ),
        (SCHEDULE, "SE-NO-SUCH-ADDRESS", "VP004", "no valid route"),
        (SCHEDULE, "TWICE", "VP006", "ambiguous route"),
        (SCHEDULE, "PROFILE-30", "VP005", "RIVTABP30"),
        (SCHEDULE, "RIVTA21REQUEST", "VP007", OTHER_CONSUMER_ID),
    ];
    for (contract, address, code, needle) in cases {
        let r = post(&unauthorised, &gw.url(), rivta21(contract, address), &[]).await;
        assert_fault(&r, &gw, code, &[needle]);
    }
    let faults = &gw.status().await["counts"]["faults"];
    assert_eq!(faults["VP004"], 2, "{faults}");
    assert_eq!(faults["VP007"], 1, "{faults}");
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp005_route_with_unknown_rivta_profile() {
    let producer = DemoProducer::start();
    let table = standard(&producer).route(SCHEDULE, "PROFILE-30", "RIVTABP30", &producer.url("/x"));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let r = post(&consumer(), &gw.url(), rivta21(SCHEDULE, "PROFILE-30"), &[]).await;
    assert_fault(&r, &gw, "VP005", &["RIVTABP30", "RIVTABP20 or RIVTABP21"]);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp006_two_routes_to_different_producers() {
    let producer = DemoProducer::start();
    let table = standard(&producer)
        .route(SCHEDULE, "TWICE", "RIVTABP21", &producer.url("/one"))
        .route(SCHEDULE, "TWICE", "RIVTABP21", &producer.url("/two"));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let r = post(&consumer(), &gw.url(), rivta21(SCHEDULE, "TWICE"), &[]).await;
    let fs = assert_fault(&r, &gw, "VP006", &["ambiguous route", "TWICE"]);
    assert!(
        fs.contains("/one") && fs.contains("/two"),
        "names both producers: {fs}"
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp007_consumer_without_authorisation_and_expired_authorisation() {
    let producer = DemoProducer::start();
    let table = standard(&producer).authorize_valid(
        OTHER_CONSUMER_ID,
        PING,
        "*",
        Some("2020-01-01"),
        Some("2020-12-31"),
    );
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let other = client("consumer2");

    let r = post(&other, &gw.url(), rivta21(SCHEDULE, "RIVTA21REQUEST"), &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP007",
        &[
            OTHER_CONSUMER_ID,
            SCHEDULE,
            "RIVTA21REQUEST",
            "anropsbehörighet",
        ],
    );

    let r = post(&other, &gw.url(), rivta20(PING, "local-ping-producer"), &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP007",
        &[
            OTHER_CONSUMER_ID,
            PING,
            "valid only from 2020-01-01 to 2020-12-31",
        ],
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp008_broken_routing_table_without_last_known_good() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::raw_table("[[routes]\ncontract = \"this is not TOML\"\n");
    cfg.expect_ready = false;
    let gw = Gateway::start(&cfg);

    let (status, body) = gw.admin_get("/ready").await;
    assert_eq!(status, 503, "/ready without a table: {body}");
    assert!(body.contains("VP008"), "{body}");
    let s = gw.status().await;
    assert_eq!(s["routing_table"]["loaded"], false, "{s}");

    let r = post(
        &consumer(),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[],
    )
    .await;
    assert_fault(&r, &gw, "VP008", &["no routing table is loaded"]);
    assert!(
        gw.logs_with("tak.toml").contains("tak.toml"),
        "the log names the broken file"
    );

    // Fixing the source and reloading brings the gateway into service.
    gw.write_table(&standard(&producer).to_toml());
    let (status, body) = gw.reload().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gw.admin_get("/ready").await.0, 200);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp009_producer_down_is_answered_within_the_connect_timeout_and_one_retry() {
    let producer = DemoProducer::start();
    // A port nobody listens on: refused at once.
    let closed = free_port();
    // A listener whose accept queue is full: SYNs are dropped, so connecting hangs
    // until the gateway's connect timeout.
    let blackhole =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    blackhole
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    blackhole.listen(0).expect("listen");
    let hole: SocketAddr = blackhole
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    let mut fillers = Vec::new();
    let mut hanging = false;
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&hole, Duration::from_millis(300)) {
            Ok(s) => fillers.push(s),
            Err(_) => {
                hanging = true;
                break;
            }
        }
    }
    assert!(
        hanging,
        "precondition: connecting to a full accept queue must hang"
    );

    let table = standard(&producer)
        .route(
            E2E_CONTRACT,
            "CLOSED-PORT",
            "RIVTABP21",
            &format!("https://127.0.0.1:{closed}/x"),
        )
        .route(
            E2E_CONTRACT,
            "BLACKHOLE",
            "RIVTABP21",
            &format!("https://127.0.0.1:{}/x", hole.port()),
        )
        .authorize(CONSUMER_ID, E2E_CONTRACT, "*");
    let mut cfg = GatewayConfig::new(&table);
    cfg.connect_timeout_ms = Some(2000);
    let gw = Gateway::start(&cfg);
    let client = consumer();

    let r = post(
        &client,
        &gw.url(),
        rivta21(E2E_CONTRACT, "CLOSED-PORT"),
        &[],
    )
    .await;
    assert_fault(&r, &gw, "VP009", &[&format!("127.0.0.1:{closed}")]);
    assert!(
        r.elapsed < Duration::from_secs(5),
        "refused connect answered in {:?}",
        r.elapsed
    );

    let r = post(&client, &gw.url(), rivta21(E2E_CONTRACT, "BLACKHOLE"), &[]).await;
    assert_fault(&r, &gw, "VP009", &[&format!("127.0.0.1:{}", hole.port())]);
    assert!(
        r.elapsed >= Duration::from_millis(3800),
        "two connect attempts of 2 s each (one retry) take ~4 s, took {:?}",
        r.elapsed
    );
    assert!(
        r.elapsed < Duration::from_millis(5500),
        "connect timeout 2 s + one retry must answer within ~5 s, took {:?}",
        r.elapsed
    );
    drop(fillers);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp009_hanging_producer_is_cut_off_at_the_contract_response_timeout() {
    let producer = DemoProducer::start();
    let table = standard(&producer)
        .route(
            E2E_CONTRACT,
            "HANGING",
            "RIVTABP21",
            &producer.url("/slow?ms=60000"),
        )
        .response_timeout(E2E_CONTRACT, 1000)
        .authorize(CONSUMER_ID, E2E_CONTRACT, "*");
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let started = Instant::now();
    let r = post(
        &consumer(),
        &gw.url(),
        rivta21(E2E_CONTRACT, "HANGING"),
        &[],
    )
    .await;
    let elapsed = started.elapsed();
    assert_fault(&r, &gw, "VP009", &["did not answer within 1000 ms"]);
    assert!(
        elapsed >= Duration::from_millis(950),
        "waited the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "answered within ~3 s: {elapsed:?}"
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp010_empty_logical_address() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    for address in ["", "   "] {
        let r = post(&consumer(), &gw.url(), rivta21(SCHEDULE, address), &[]).await;
        assert_fault(&r, &gw, "VP010", &["empty", "HSA id"]);
        let r = post(&consumer(), &gw.url(), rivta20(SCHEDULE, address), &[]).await;
        assert_fault(&r, &gw, "VP010", &["empty"]);
    }
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp011_sender_header_from_an_address_that_is_not_whitelisted() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let r = post(
        &consumer(),
        &gw.url(),
        rivta21(SCHEDULE, "RIVTA21REQUEST"),
        &[
            ("x-vp-sender-id", "SE0000000000-SPOOFED"),
            ("x-vp-instance-id", "vaxel-e2e"),
        ],
    )
    .await;
    assert_fault(
        &r,
        &gw,
        "VP011",
        &["127.0.0.1", "identity.trusted_header_addresses"],
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitelisted_load_balancer_asserts_the_caller_with_headers() {
    let producer = DemoProducer::start();
    const LB_CALLER: &str = "SE0000000000-BEHIND-LB";
    let table = standard(&producer).authorize(LB_CALLER, SCHEDULE, "*");
    let mut cfg = GatewayConfig::new(&table);
    cfg.trusted_header_addresses = vec!["127.0.0.1".into()];
    let gw = Gateway::start(&cfg);
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    // consumer2 is not authorised itself: the call succeeds only as the asserted caller.
    let other = client("consumer2");
    let r = post(
        &other,
        &gw.url(),
        body.clone(),
        &[
            ("x-vp-sender-id", LB_CALLER),
            ("x-vp-instance-id", "vaxel-e2e"),
        ],
    )
    .await;
    assert_forwarded(&r, &body);
    assert_eq!(r.header("x-demo-sender-id"), Some(LB_CALLER));
    assert_eq!(r.header("x-demo-original-consumer"), Some(LB_CALLER));

    // For another platform's instance id the header is not ours: the certificate decides.
    let r = post(
        &other,
        &gw.url(),
        body.clone(),
        &[
            ("x-vp-sender-id", LB_CALLER),
            ("x-vp-instance-id", "some-other-vp"),
        ],
    )
    .await;
    assert_fault(&r, &gw, "VP007", &[OTHER_CONSUMER_ID]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp012_address_with_child_element_cannot_be_converted() {
    let producer = DemoProducer::start();
    let table = standard(&producer).route(SCHEDULE, "CHILD-ADDR", "RIVTABP20", &producer.url("/x"));
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let body = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">CHILD-ADDR<x:marker xmlns:x=\"urn:e2e\"/></la:LogicalAddress>\
</soap:Header><soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></soap:Body></soap:Envelope>"
    );
    let r = post(&consumer(), &gw.url(), body, &[]).await;
    assert_fault(
        &r,
        &gw,
        "VP012",
        &["child elements", "RIVTABP20", "CHILD-ADDR"],
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp013_original_consumer_header_only_from_allowed_callers() {
    let producer = DemoProducer::start();
    let mut cfg = GatewayConfig::new(&standard(&producer));
    cfg.original_consumer_allowed = vec![CONSUMER_ID.into()];
    let gw = Gateway::start(&cfg);
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let header = [(
        "x-rivta-original-serviceconsumer-hsaid",
        "SE0000000000-ORIGINAL",
    )];

    // Allowed caller: passed through unchanged.
    let r = post(&consumer(), &gw.url(), body.clone(), &header).await;
    assert_forwarded(&r, &body);
    assert_eq!(
        r.header("x-demo-original-consumer"),
        Some("SE0000000000-ORIGINAL")
    );
    assert_eq!(r.header("x-demo-sender-id"), Some(CONSUMER_ID));

    // Another caller (authorised, but not allowed to set the header).
    let r = post(
        &client("consumer-cn-only"),
        &gw.url(),
        body.clone(),
        &header,
    )
    .await;
    assert_fault(
        &r,
        &gw,
        "VP013",
        &[
            CN_CONSUMER_ID,
            "x-rivta-original-serviceconsumer-hsaid",
            "original_consumer_allowed",
        ],
    );
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp014_message_that_already_passed_this_gateway() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    for history in [
        "vaxel-e2e",
        "other-vp,vaxel-e2e",
        "other-vp, VAXEL-E2E ,third",
    ] {
        let r = post(
            &consumer(),
            &gw.url(),
            rivta21(SCHEDULE, "RIVTA21REQUEST"),
            &[("x-rivta-routing-history", history)],
        )
        .await;
        assert_fault(
            &r,
            &gw,
            "VP014",
            &["vaxel-e2e", "x-rivta-routing-history", history],
        );
    }
    assert_still_serving(&gw).await;
}

/// A refused call with a large body: the caller must get the fault, whatever HTTP
/// version it speaks, although the gateway decided after the first bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_large_request_gets_its_fault_on_http1_and_http2() {
    let Some(body) = reference::read("riv-ta/vp-requests/ProcessNotificationLargePayload.xml")
    else {
        return;
    };
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    for http in [Http::Negotiate, Http::H1] {
        let r = post(
            &client_with(Some("consumer2"), http),
            &gw.url(),
            body.clone(),
            &[],
        )
        .await;
        assert_fault(&r, &gw, "VP007", &[OTHER_CONSUMER_ID, PROCESS_NOTIFICATION]);
        assert_still_serving(&gw).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp015_malformed_messages() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let soap12 = format!(
        "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">RIVTA21REQUEST</la:LogicalAddress></env:Header>\
<env:Body><c:Request xmlns:c=\"{SCHEDULE}\"/></env:Body></env:Envelope>"
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">RIVTA21REQUEST</la:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\">&xxe;</c:Request></soap:Body></soap:Envelope>"
    );
    let full = String::from_utf8(rivta21(SCHEDULE, "RIVTA21REQUEST")).expect("utf8");
    let truncated = full[..full.find("<soap:Body>").expect("body")].to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not XML",
            "hello, this is not a SOAP message".into(),
            "not a routable SOAP 1.1 envelope",
        ),
        (
            "JSON",
            "{\"patientId\": \"191212121212\", \"logicalAddress\": \"RIVTA21REQUEST\"}".into(),
            "not a routable SOAP 1.1 envelope",
        ),
        ("DOCTYPE/XXE", xxe, "DTD"),
        ("SOAP 1.2", soap12, "SOAP 1.1"),
        (
            "truncated",
            truncated,
            "ended before the first SOAP Body child",
        ),
        ("empty", String::new(), "not a routable SOAP 1.1 envelope"),
    ];
    for (what, body, needle) in cases {
        let r = post(&consumer(), &gw.url(), body, &[]).await;
        let fs = assert_fault(&r, &gw, "VP015", &[needle]);
        assert!(
            !fs.contains("root:"),
            "{what}: nothing of /etc/passwd may leak: {fs}"
        );
        assert_still_serving(&gw).await;
    }

    let r = consumer().get(gw.url()).send().await.expect("GET");
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.headers()
            .get("x-vp-fault-code")
            .map(|v| v.to_str().unwrap_or("")),
        Some("VP015")
    );
    assert!(r.text().await.unwrap_or_default().contains("HTTP POST"));
    assert_still_serving(&gw).await;
}

/// A message of `len` bytes: a routable envelope head, then padding in the Body.
fn oversized_message(len: usize) -> Vec<u8> {
    let head = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">RIVTA21REQUEST</la:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{SCHEDULE}\"><c:padding>"
    );
    let tail = "</c:padding></c:Request></soap:Body></soap:Envelope>";
    let mut body = head.into_bytes();
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp015_content_length_over_15_mib_is_refused_not_hung() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let body = bytes::Bytes::from(oversized_message(SIXTEEN_MIB));
    for (http, r) in post_each_http(&gw.url(), &body).await {
        assert_fault(&r, &gw, "VP015", &["15728640 bytes", "15 MiB"]);
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{http:?}: answered in {:?}",
            r.elapsed
        );
        assert_still_serving(&gw).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp015_chunked_body_over_the_limit_is_cut_off() {
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&standard(&producer)));
    let message = bytes::Bytes::from(oversized_message(SIXTEEN_MIB));
    for http in [Http::Negotiate, Http::H1] {
        // A stream without Content-Length: chunked on HTTP/1.1, DATA frames on HTTP/2.
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = message
            .chunks(64 * 1024)
            .map(|c| Ok(message.slice_ref(c)))
            .collect();
        let stream = futures_util::stream::iter(chunks);
        let r = post(
            &client_with(Some("consumer"), http),
            &gw.url(),
            reqwest::Body::wrap_stream(stream),
            &[],
        )
        .await;
        assert_fault(&r, &gw, "VP015", &["15728640 bytes"]);
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{http:?}: answered in {:?}",
            r.elapsed
        );
        assert_still_serving(&gw).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_soap_fault_passes_through_unchanged() {
    let producer = DemoProducer::start();
    let table = standard(&producer).route(
        SCHEDULE,
        "PRODUCER-FAULT",
        "RIVTABP21",
        &producer.url("/fault"),
    );
    let gw = Gateway::start(&GatewayConfig::new(&table));
    let body = rivta21(SCHEDULE, "PRODUCER-FAULT");
    // What the producer itself answers to exactly this call.
    let direct = post(
        &client("gateway-client"),
        &producer.url("/fault"),
        body.clone(),
        &[],
    )
    .await;
    assert_eq!(direct.status, 500);
    for (_, r) in post_each_http(&gw.url(), &body).await {
        assert_eq!(r.status, 500, "{}", r.describe());
        assert!(
            r.body == direct.body,
            "producer fault bytes unchanged:\n{}",
            r.describe()
        );
        assert_eq!(r.header("x-vp-fault-code"), None, "not a gateway fault");
        assert_eq!(r.header("x-demo-body-fnv"), Some(fnv_hex(&body).as_str()));
        assert!(r.text().contains("Demo producer fault"));
    }
    let s = gw.status().await;
    assert_eq!(s["counts"]["producer_faults_passed"], 2, "{s}");
    assert_still_serving(&gw).await;
}
