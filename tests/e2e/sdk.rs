//! SDK messaging between two real gateways (specs/sdk.md): a region and a municipality,
//! each with its own certificates from the certificate generator (gateway, organisation
//! and journal-system certificates under `certs-example/out/sdk`), each a real
//! `vaxel serve` with its own store, talking mutual TLS.
//!
//! What an organisation's system sees: submit, status, receipt, inbox, fetch, ack; what
//! a receiving gateway answers for every kind of bad message (a rejecting receipt, or a
//! refusal at submit); retries, dead letters, and a receiving gateway killed with -9
//! during a burst of 1,000 messages. Independent tools check what the gateways produce:
//! `xmllint` (receipts, XHE, the decrypted payload) and `xmlsec1` (signature and
//! encryption of a captured XHE).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use vaxel::sdk_pki::{SdkOrg, SdkPki, MUNICIPALITY, REGION};
use vaxel_sdk_message::message::Message;

use crate::harness::*;

fn sdk_pki() -> SdkPki {
    vaxel::sdk_pki::paths(&vaxel::certs::DemoPki {
        dir: pki().dir.clone(),
    })
}

/// One `[[participant]]` of an address book.
pub(crate) struct Entry {
    org: SdkOrg,
    endpoint: String,
    certificate: PathBuf,
}

impl Entry {
    pub(crate) fn at(org: SdkOrg, port: u16) -> Entry {
        Entry {
            org,
            endpoint: format!("https://127.0.0.1:{port}/sdk/v1/deliveries"),
            certificate: sdk_pki().org_cert(&org),
        }
    }
}

pub(crate) fn address_book(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| {
            format!(
                "[[participant]]\nid = {:?}\nname = {:?}\nendpoint = {:?}\ngateway_id = {:?}\ncertificate = {:?}\nfunctional_addresses = [{:?}]\n\n",
                e.org.participant,
                e.org.name,
                e.endpoint,
                e.org.gateway_id,
                e.certificate.display().to_string(),
                e.org.functional_address
            )
        })
        .collect()
}

/// A gateway of `org` on fixed ports with `book` as its address book.
pub(crate) fn sdk_config(
    org: SdkOrg,
    ports: (u16, u16),
    book: &Path,
    extra: &str,
) -> GatewayConfig {
    let p = sdk_pki();
    let mut c = GatewayConfig::new(&Table::new());
    c.instance_id = format!("vaxel-{}", org.stem);
    c.expect_ready = false;
    c.threads = 2;
    c.ports = Some(ports);
    c.service_cert = Some((p.gateway_cert(&org), p.gateway_key(&org)));
    c.extra_sections = format!(
        r#"[sdk]
enabled = true
organisation = {participant:?}
certificate = {cert:?}
private_key = {key:?}
organisation_ca = {ca:?}
client_certificate = {gw_cert:?}
client_private_key = {gw_key:?}
address_book = {book:?}
initial_backoff_ms = 100
max_backoff_ms = 1000
{extra}
[[sdk.systems]]
id = {system:?}
organisations = [{participant:?}]
"#,
        participant = org.participant,
        cert = p.org_cert(&org).display().to_string(),
        key = p.org_key(&org).display().to_string(),
        ca = pki().ca().display().to_string(),
        gw_cert = p.gateway_cert(&org).display().to_string(),
        gw_key = p.gateway_key(&org).display().to_string(),
        book = book.display().to_string(),
        system = org.system_id,
    );
    c
}

/// Write `book` into a new temporary folder and start `org`'s gateway there.
pub(crate) fn start(org: SdkOrg, ports: (u16, u16), book: &str, extra: &str) -> Gateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("address-book.toml");
    std::fs::write(&path, book).expect("address book");
    Gateway::start_in(&sdk_config(org, ports, &path, extra), dir)
}

/// Write `entries` as `gw`'s address book and ask it to read the book again: the
/// reload's HTTP status and body.
async fn rewrite_book(gw: &Gateway, entries: &[Entry]) -> (u16, String) {
    std::fs::write(
        gw.dir.path().join("address-book.toml"),
        address_book(entries),
    )
    .expect("address book");
    let r = reqwest::Client::new()
        .post(gw.admin("/sdk/address-book/reload"))
        .send()
        .await
        .expect("reload");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

pub(crate) fn ports() -> (u16, u16) {
    loop {
        let p = (free_port(), free_port());
        if p.0 != p.1 {
            return p;
        }
    }
}

/// The journal system of `org`, with its client certificate.
pub(crate) fn system(org: &SdkOrg) -> reqwest::Client {
    let p = sdk_pki();
    let mut pem = std::fs::read(p.system_cert(org)).expect("system cert");
    pem.push(b'\n');
    pem.extend(std::fs::read(p.system_key(org)).expect("system key"));
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(pki().ca()).expect("ca")).expect("ca parses");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).expect("system identity"))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

pub(crate) fn api(gw: &Gateway, path: &str) -> String {
    format!("https://127.0.0.1:{}/sdk/v1/{path}", gw.port)
}

async fn submit(client: &reqwest::Client, gw: &Gateway, xml: Vec<u8>) -> (u16, Value) {
    let r = client
        .post(api(gw, "messages"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap_or_else(|e| panic!("submit: {}", error_chain(&e)));
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {}", error_chain(&e)));
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_bytes(client: &reqwest::Client, url: &str) -> (u16, Vec<u8>) {
    let r = client.get(url).send().await.expect("GET");
    (r.status().as_u16(), r.bytes().await.expect("body").to_vec())
}

/// Poll a message's status until it is final (delivered, rejected, failed).
async fn final_status(client: &reqwest::Client, gw: &Gateway, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, v) = get_json(client, &api(gw, &format!("messages/{id}"))).await;
        assert_eq!(code, 200, "status of {id}: {v}");
        if matches!(
            v["state"].as_str(),
            Some("delivered" | "rejected" | "failed")
        ) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} not final within {within:?}: {v}\n{}",
            gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn message(from: &SdkOrg, to: &SdkOrg, label: &str, text: &str) -> Message {
    let mut m = Message::new(from.org_number, to.org_number, to.functional_address, label)
        .with_sender_functional_address(from.functional_address);
    m.add_text_document("text", "Meddelande", text);
    m
}

/// `xmllint --noout --schema <reference xsd>` on `xml`; panics with its report.
fn xmllint(xsd_rel: &str, xml: &[u8], what: &str) -> bool {
    let Some(xsd) = reference::path(xsd_rel) else {
        return false;
    };
    if !tool_available("xmllint") {
        return false;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("doc.xml");
    std::fs::write(&file, xml).expect("write");
    let run = run_tool(
        "xmllint",
        &[
            "--noout".into(),
            "--schema".into(),
            xsd.display().to_string(),
            file.display().to_string(),
        ],
        b"",
        Duration::from_secs(60),
    );
    assert!(
        run.success(),
        "{what} is not valid against {xsd_rel}:\n{}",
        run.describe()
    );
    true
}

/// The region and the municipality, each with the other in its address book.
struct Pair {
    region: Gateway,
    municipality: Gateway,
    municipality_ports: (u16, u16),
}

fn pair(region_extra: &str, municipality_extra: &str) -> Pair {
    let (rp, mp) = (ports(), ports());
    let book = address_book(&[Entry::at(REGION, rp.0), Entry::at(MUNICIPALITY, mp.0)]);
    let municipality = start(MUNICIPALITY, mp, &book, municipality_extra);
    let region = start(REGION, rp, &book, region_extra);
    Pair {
        region,
        municipality,
        municipality_ports: mp,
    }
}

/// The motivating case: the region invites the municipality to a SIP meeting with a PDF;
/// the municipality's system fetches it and answers in the same conversation; both
/// senders end with an accepted receipt, valid against the receipt schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_invitation_and_answer_travel_both_ways_with_receipts() {
    let p = pair("", "");
    let (region_sys, kommun_sys) = (system(&REGION), system(&MUNICIPALITY));

    let invitation = vaxel::sdk_client::sip_invitation(&REGION, &MUNICIPALITY);
    let pdf = invitation.documents[0].files[0].decode().expect("pdf");
    assert!(pdf.starts_with(b"%PDF-1.4"));
    let id = invitation.header.message_id.clone();
    let (code, v) = submit(&region_sys, &p.region, invitation.to_document()).await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["messageId"], id.as_str());
    assert_eq!(v["state"], "queued");

    let st = final_status(&region_sys, &p.region, &id, PATIENCE).await;
    assert_eq!(st["state"], "delivered", "{st}");
    assert_eq!(st["receipt"]["accepted"], true, "{st}");
    assert_eq!(st["recipient"], MUNICIPALITY.participant);

    // The receipt as the region got it: a UBL ApplicationResponse for this message.
    let (code, receipt) = get_bytes(
        &region_sys,
        &api(&p.region, &format!("messages/{id}/receipt")),
    )
    .await;
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&receipt).into_owned();
    assert!(
        text.contains("ApplicationResponse") && text.contains(&id),
        "{text}"
    );
    xmllint(
        "sdk/receipt-schema/Response-2.1.xsd",
        &receipt,
        "the accepted receipt",
    );

    // The municipality's system: inbox, fetch (decrypted), the PDF byte for byte.
    let (code, inbox) = get_json(&kommun_sys, &api(&p.municipality, "inbox")).await;
    assert_eq!(code, 200, "{inbox}");
    let entries = inbox["messages"].as_array().expect("messages");
    assert!(
        entries.iter().any(|e| e["messageId"] == id.as_str()),
        "{inbox}"
    );
    assert!(
        !inbox.to_string().contains("SIP-möte"),
        "the inbox list carries no content: {inbox}"
    );
    let (code, fetched) =
        get_bytes(&kommun_sys, &api(&p.municipality, &format!("inbox/{id}"))).await;
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&fetched));
    xmllint(
        "sdk/message-v3/infrastructure_messaging_MessageWithAttachments_3.0.xsd",
        &fetched,
        "the fetched message",
    );
    let got = Message::parse(&fetched).expect("fetched message parses");
    assert_eq!(got.header.message_id, id);
    assert_eq!(got.header.label, invitation.header.label);
    assert_eq!(got.documents[0].files[0].decode().expect("pdf"), pdf);
    assert_eq!(got.documents[0].files[0].content_type, "application/pdf");

    // The region's system may not read the municipality's inbox.
    let (code, _) = get_json(&region_sys, &api(&p.municipality, &format!("inbox/{id}"))).await;
    assert_eq!(code, 403, "a system of another organisation is refused");

    // The answer: same conversation, refToMessageId = the invitation.
    let mut answer = Message::new(
        MUNICIPALITY.org_number,
        REGION.org_number,
        REGION.functional_address,
        "Svar: Kallelse till SIP-möte",
    )
    .with_reply_to(&got)
    .with_sender_functional_address(MUNICIPALITY.functional_address);
    answer.add_text_document("svar", "Svar", "Vi kommer, två deltagare från hemtjänsten.");
    let minutes = vaxel::sdk_client::simple_pdf(&["Deltagare från kommunen", "Hemtjänsten Demo"]);
    answer.add_file("svar", "deltagare.pdf", "application/pdf", &minutes);
    let answer_id = answer.header.message_id.clone();
    let (code, v) = submit(&kommun_sys, &p.municipality, answer.to_document()).await;
    assert_eq!(code, 202, "{v}");
    let st = final_status(&kommun_sys, &p.municipality, &answer_id, PATIENCE).await;
    assert_eq!(st["state"], "delivered", "{st}");
    assert_eq!(st["refToMessageId"], id.as_str());
    assert_eq!(st["conversationId"], got.header.conversation_id.as_str());
    let (_, receipt) = get_bytes(
        &kommun_sys,
        &api(&p.municipality, &format!("messages/{answer_id}/receipt")),
    )
    .await;
    xmllint(
        "sdk/receipt-schema/Response-2.1.xsd",
        &receipt,
        "the answer's receipt",
    );

    let (code, reply) =
        get_bytes(&region_sys, &api(&p.region, &format!("inbox/{answer_id}"))).await;
    assert_eq!(code, 200);
    let reply = Message::parse(&reply).expect("reply parses");
    assert_eq!(reply.header.ref_to_message_id.as_deref(), Some(id.as_str()));
    assert_eq!(reply.documents[0].files[0].decode().expect("pdf"), minutes);
    assert_eq!(
        reply.header.conversation_id,
        invitation.header.conversation_id
    );

    // Acknowledged messages leave the inbox list (and ack is idempotent).
    for _ in 0..2 {
        let r = kommun_sys
            .post(api(&p.municipality, &format!("inbox/{id}/ack")))
            .send()
            .await
            .expect("ack");
        assert_eq!(r.status(), 200);
    }
    let (_, inbox) = get_json(&kommun_sys, &api(&p.municipality, "inbox")).await;
    assert!(!inbox.to_string().contains(&id), "acknowledged: {inbox}");

    // Nothing of the content in either gateway's log.
    for (name, gw) in [("region", &p.region), ("municipality", &p.municipality)] {
        let logs = gw.logs();
        for secret in ["SIP-möte", "Tolvan", "19121212-1212", "hemtjänsten"] {
            assert!(
                !logs.contains(secret),
                "the {name} gateway logged content ({secret}):\n{logs}"
            );
        }
        assert!(logs.contains(&id), "the {name} gateway logs message ids");
    }

    // At rest, both stores hold the messages encrypted: no content in any file of
    // either gateway's folder (database, WAL).
    for (name, gw) in [("region", &p.region), ("municipality", &p.municipality)] {
        for entry in std::fs::read_dir(gw.dir.path())
            .expect("gateway folder")
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            for secret in ["Tolvan".as_bytes(), b"19121212-1212", b"JVBERi0xLjQ"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "{name}: {} holds content in the clear",
                    path.display()
                );
            }
        }
    }

    // /status and the address book on the admin port.
    let s = p.region.status().await;
    assert!(
        s["sdk"]["outgoing"]["delivered"].as_u64().unwrap_or(0) >= 1,
        "{s}"
    );
    // The same on /metrics, for operators (specs/metrics.md): each gateway made one
    // delivery (accepted) and answered the other's one with an accepted receipt.
    for gw in [&p.region, &p.municipality] {
        let (code, metrics) = gw.admin_get("/metrics").await;
        assert_eq!(code, 200);
        for line in [
            "vaxel_sdk_delivery_attempts_total{outcome=\"delivered\"} 1",
            "vaxel_sdk_receipts_total{direction=\"received\",outcome=\"accepted\"} 1",
            "vaxel_sdk_receipts_total{direction=\"sent\",outcome=\"accepted\"} 1",
        ] {
            assert!(metrics.contains(line), "{line} in\n{metrics}");
        }
        assert!(
            metrics.contains("vaxel_requests_total{contract=\"sdk\","),
            "the SDK API's requests are counted: {metrics}"
        );
    }
    let (code, book) = p.municipality.admin_get("/sdk/address-book").await;
    assert_eq!(code, 200);
    assert!(
        book.contains(REGION.participant) && book.contains("certificate_valid_now"),
        "{book}"
    );

    // The command line, as an operator uses it.
    let out = std::process::Command::new(VAXEL)
        .args(["sdk", "--gateway"])
        .arg(format!("https://127.0.0.1:{}", p.region.port))
        .arg("--cert")
        .arg(sdk_pki().system_cert(&REGION))
        .arg("--key")
        .arg(sdk_pki().system_key(&REGION))
        .arg("--ca")
        .arg(pki().ca())
        .args(["status", &id])
        .output()
        .expect("vaxel sdk status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["state"], "delivered");
}

/// What the region's gateway puts on the wire, captured by a recording partner: the
/// transport envelope (ebMS header), an XHE valid against the XHE schema, signed by the
/// region (xmlsec1 verifies it with the region's certificate) and encrypted for the
/// recipient (xmlsec1 decrypts it with the recipient's key; the payload is the message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_gateway_sends_verifies_and_decrypts_with_xmlsec1() {
    if !tool_available("xmlsec1") {
        return;
    }
    let tap =
        RecordingProducer::start(|_| (503, bytes::Bytes::from_static(b"recording only"))).await;
    let rp = ports();
    // The tap stands in for the municipality's gateway (its certificate, so the
    // municipality's key decrypts).
    let book = address_book(&[
        Entry::at(REGION, rp.0),
        Entry {
            org: MUNICIPALITY,
            endpoint: tap.url("/sdk/v1/deliveries"),
            certificate: sdk_pki().org_cert(&MUNICIPALITY),
        },
    ]);
    let region = start(REGION, rp, &book, "");
    let m = message(
        &REGION,
        &MUNICIPALITY,
        "Hemligt ärende",
        "Innehåll som bara kommunen får läsa.",
    );
    let (code, v) = submit(&system(&REGION), &region, m.to_document()).await;
    assert_eq!(code, 202, "{v}");
    let deadline = Instant::now() + PATIENCE;
    while tap.received().is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing delivered:\n{}",
            region.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = tap.received().remove(0);
    assert_eq!(seen.path, "/sdk/v1/deliveries");
    let envelope = String::from_utf8_lossy(&seen.body).into_owned();
    for part in [
        "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/",
        "originalSender",
        "finalRecipient",
        REGION.gateway_id,
        MUNICIPALITY.gateway_id,
        &m.header.message_id,
    ] {
        assert!(
            envelope.contains(part),
            "the envelope names {part}: {envelope}"
        );
    }
    assert!(
        !envelope.contains("Hemligt"),
        "the content is not readable on the wire"
    );
    let b64 = envelope
        .split("<vx:payload")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .map(|(_, rest)| rest.split("</vx:payload>").next().unwrap_or(""))
        .expect("payload element");
    let xhe = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64 XHE");
    assert!(
        !String::from_utf8_lossy(&xhe).contains("Hemligt"),
        "encrypted"
    );
    xmllint(
        "sdk/xhe-schema/XHE-1.0.xsd",
        &xhe,
        "the XHE the gateway sent",
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("xhe.xml");
    std::fs::write(&file, &xhe).expect("write");
    let p = sdk_pki();
    let verify = run_tool(
        "xmlsec1",
        &[
            "--verify".into(),
            "--pubkey-cert-pem".into(),
            p.org_cert(&REGION).display().to_string(),
            "--enabled-reference-uris".into(),
            "empty".into(),
            file.display().to_string(),
        ],
        b"",
        Duration::from_secs(60),
    );
    assert!(
        verify.success(),
        "xmlsec1 verifies the region's signature:\n{}",
        verify.describe()
    );
    let wrong = run_tool(
        "xmlsec1",
        &[
            "--verify".into(),
            "--pubkey-cert-pem".into(),
            p.org_cert(&MUNICIPALITY).display().to_string(),
            file.display().to_string(),
        ],
        b"",
        Duration::from_secs(60),
    );
    assert!(
        !wrong.success(),
        "another organisation's key does not verify it"
    );
    let decrypt = run_tool(
        "xmlsec1",
        &[
            "--decrypt".into(),
            "--privkey-pem".into(),
            p.org_key(&MUNICIPALITY).display().to_string(),
            "--output".into(),
            dir.path().join("plain.xml").display().to_string(),
            file.display().to_string(),
        ],
        b"",
        Duration::from_secs(60),
    );
    assert!(
        decrypt.success(),
        "xmlsec1 decrypts with the municipality's key:\n{}",
        decrypt.describe()
    );
    let plain = std::fs::read(dir.path().join("plain.xml")).expect("plain");
    let plain_text = String::from_utf8_lossy(&plain);
    assert!(plain_text.contains("Hemligt ärende"), "{plain_text}");
    xmllint(
        "validation/xhe-with-message-v3.xsd",
        &plain,
        "the decrypted XHE (with its MessageWithAttachments:3 payload)",
    );
    // The tap answered 503: the message waits for another attempt, with the error.
    let st = get_json(
        &system(&REGION),
        &api(&region, &format!("messages/{}", m.header.message_id)),
    )
    .await
    .1;
    assert!(
        matches!(st["state"].as_str(), Some("queued" | "sending")),
        "{st}"
    );
}

/// Refused at submit, each with the status and text that says what to fix; nothing is
/// queued. The same message id twice is queued (and delivered) once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_are_refused_with_a_clear_error() {
    let p = pair("", "");
    let region_sys = system(&REGION);

    // Schema error: the reference file with an invalid creationDateTime.
    if let Some(tf241) = reference::read("sdk/testdata/TF2.4.1.xml") {
        let (code, v) = submit(&region_sys, &p.region, tf241).await;
        assert_eq!(code, 422, "{v}");
        assert_eq!(v["error"], "schema-invalid", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or("")
                .contains("creationDateTime"),
            "{v}"
        );
    }
    // Business rule: a message id that is not a UUID.
    let mut m = message(&REGION, &MUNICIPALITY, "Regelbrott", "x");
    m.header.message_id = "not-a-uuid".into();
    let (code, v) = submit(&region_sys, &p.region, m.to_document()).await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"], "business-rule-violation", "{v}");
    assert!(v["problems"].to_string().contains("messageId"), "{v}");
    // Not XML at all.
    let (code, v) = submit(&region_sys, &p.region, b"hello".to_vec()).await;
    assert_eq!(code, 400, "{v}");
    // JSON around the XML is accepted as well; JSON without `message` is not.
    let m = message(&REGION, &MUNICIPALITY, "Som JSON", "x");
    let body = serde_json::json!({"message": String::from_utf8(m.to_document()).expect("UTF-8")});
    let (code, v) = submit(&region_sys, &p.region, body.to_string().into_bytes()).await;
    assert_eq!(code, 202, "{v}");
    final_status(&region_sys, &p.region, &m.header.message_id, PATIENCE).await;
    let (code, v) = submit(&region_sys, &p.region, br#"{"msg": "<x/>"}"#.to_vec()).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap_or("").contains("\"message\""),
        "{v}"
    );
    // Over 30 MiB.
    let mut big = message(&REGION, &MUNICIPALITY, "Stor", "x");
    big.add_file(
        "text",
        "big.bin",
        "application/octet-stream",
        &vec![7u8; 24 * 1024 * 1024],
    );
    let (code, v) = submit(&region_sys, &p.region, big.to_document()).await;
    assert_eq!(code, 413, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("30"), "{v}");
    // Unknown recipient.
    let stranger = Message::new(
        REGION.org_number,
        "0203:okand.example.se",
        "sdk.0203:okand.example.se",
        "Till okänd",
    );
    let mut stranger = stranger;
    stranger.add_text_document("t", "T", "x");
    let (code, v) = submit(&region_sys, &p.region, stranger.to_document()).await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"], "unknown-recipient", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("0203:okand.example.se"),
        "{v}"
    );
    // A system that may not send for the region (the municipality's system).
    let m = message(&REGION, &MUNICIPALITY, "Fel avsändare", "x");
    let (code, v) = submit(&system(&MUNICIPALITY), &p.region, m.to_document()).await;
    assert_eq!(code, 403, "{v}");
    // The region's system sending as the municipality.
    let m = message(&MUNICIPALITY, &REGION, "Utger sig", "x");
    let (code, v) = submit(&region_sys, &p.region, m.to_document()).await;
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("may not send for"),
        "{v}"
    );
    // A consumer certificate that is no SDK system.
    let (code, v) = submit(
        &consumer(),
        &p.region,
        message(&REGION, &MUNICIPALITY, "x", "x").to_document(),
    )
    .await;
    assert_eq!(code, 403, "{v}");

    // The same message id twice: queued once, delivered once.
    let m = message(&REGION, &MUNICIPALITY, "Två gånger", "x");
    let id = m.header.message_id.clone();
    let (code, _) = submit(&region_sys, &p.region, m.to_document()).await;
    assert_eq!(code, 202);
    let (code, v) = submit(&region_sys, &p.region, m.to_document()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    final_status(&region_sys, &p.region, &id, PATIENCE).await;
    let (_, list) = get_json(&region_sys, &api(&p.region, "messages?limit=1000")).await;
    let n = list["messages"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| s["messageId"] == id.as_str())
        .count();
    assert_eq!(n, 1, "{list}");
    let (_, inbox) = get_json(
        &system(&MUNICIPALITY),
        &api(&p.municipality, "inbox?limit=1000"),
    )
    .await;
    let n = inbox["messages"]
        .as_array()
        .expect("inbox")
        .iter()
        .filter(|s| s["messageId"] == id.as_str())
        .count();
    assert_eq!(n, 1, "delivered once: {inbox}");
    // Nothing was queued for the refused ones.
    let s = p.region.status().await;
    assert_eq!(
        s["sdk"]["outgoing"]["delivered"], 2,
        "the JSON one and the twice-sent one: {s}"
    );
}

/// The receiving gateway answers a rejecting receipt, shown in the sender's status, for
/// a signature by another key, an expired signer certificate, and a message encrypted
/// for another organisation; a gateway not in the address book may not deliver at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_rejects_bad_signatures_and_foreign_encryption_with_receipts() {
    let (rp, mp) = (ports(), ports());
    let p = sdk_pki();
    let region_sys = system(&REGION);

    // 1. The municipality knows the region by another (valid, trusted) certificate: the
    //    region's signature does not verify → SIG.
    let kommun_book = address_book(&[
        Entry {
            certificate: p.org_cert(&MUNICIPALITY),
            ..Entry::at(REGION, rp.0)
        },
        Entry::at(MUNICIPALITY, mp.0),
    ]);
    let book = address_book(&[Entry::at(REGION, rp.0), Entry::at(MUNICIPALITY, mp.0)]);
    let municipality = start(MUNICIPALITY, mp, &kommun_book, "");
    let region = start(REGION, rp, &book, "");
    let rejected = |expect_code: &'static str| {
        let region_sys = region_sys.clone();
        let region = &region;
        async move {
            let m = message(&REGION, &MUNICIPALITY, "Avvisas", "x");
            let id = m.header.message_id.clone();
            let (code, v) = submit(&region_sys, region, m.to_document()).await;
            assert_eq!(code, 202, "{v}");
            let st = final_status(&region_sys, region, &id, PATIENCE).await;
            assert_eq!(st["state"], "rejected", "{st}");
            assert_eq!(st["receipt"]["accepted"], false, "{st}");
            assert_eq!(st["receipt"]["code"], expect_code, "{st}");
            let (_, receipt) =
                get_bytes(&region_sys, &api(region, &format!("messages/{id}/receipt"))).await;
            xmllint(
                "sdk/receipt-schema/Response-2.1.xsd",
                &receipt,
                "a rejecting receipt",
            );
            String::from_utf8_lossy(&receipt).into_owned()
        }
    };
    let receipt = rejected("SIG").await;
    assert!(receipt.contains("REJECTED"), "{receipt}");

    // 2. Its certificate for the region has expired → SIG.
    let r = rewrite_book(
        &municipality,
        &[
            Entry {
                certificate: p.expired_org_cert(),
                ..Entry::at(REGION, rp.0)
            },
            Entry::at(MUNICIPALITY, mp.0),
        ],
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let receipt = rejected("SIG").await;
    assert!(receipt.contains("not valid now"), "{receipt}");

    // 3. An address book naming an untrusted certificate is refused; the old one stays.
    let r = rewrite_book(
        &municipality,
        &[
            Entry {
                certificate: p.untrusted_org_cert(),
                ..Entry::at(REGION, rp.0)
            },
            Entry::at(MUNICIPALITY, mp.0),
        ],
    )
    .await;
    assert_eq!(r.0, 422, "untrusted certificate refused: {}", r.1);
    assert!(r.1.contains("trusted"), "{}", r.1);

    // 4. Back to the right book at the municipality; the region now encrypts for the
    //    wrong organisation (its book holds its own certificate for the municipality).
    let r = rewrite_book(
        &municipality,
        &[Entry::at(REGION, rp.0), Entry::at(MUNICIPALITY, mp.0)],
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    rewrite_book(
        &region,
        &[
            Entry::at(REGION, rp.0),
            Entry {
                certificate: p.org_cert(&REGION),
                ..Entry::at(MUNICIPALITY, mp.0)
            },
        ],
    )
    .await;
    let receipt = rejected("ANNAT").await;
    assert!(receipt.contains("another organisation"), "{receipt}");

    // Nothing rejected reached the municipality's inbox.
    let (_, inbox) = get_json(&system(&MUNICIPALITY), &api(&municipality, "inbox")).await;
    assert_eq!(
        inbox["messages"].as_array().map(Vec::len),
        Some(0),
        "{inbox}"
    );

    // 5. A TLS client that is no partner gateway may not deliver.
    let r = region_sys
        .post(api(&municipality, "deliveries"))
        .body("<x/>")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
}

/// The receiving gateway down (connection refused) or hanging (accepts, never answers):
/// the message is retried with the error in its status, then dead-lettered (failed)
/// after the configured time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_hanging_receiver_is_retried_then_dead_lettered() {
    let rp = ports();
    let closed = free_port();
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hanging_port = hanging.local_addr().expect("addr").port();
    let book = address_book(&[Entry::at(REGION, rp.0), Entry::at(MUNICIPALITY, closed)]);
    let region = start(
        REGION,
        rp,
        &book,
        "dead_letter_after_s = 3\nattempt_timeout_ms = 400\nlease_ms = 1000",
    );
    let region_sys = system(&REGION);
    let m = message(&REGION, &MUNICIPALITY, "Ingen hemma", "x");
    let id = m.header.message_id.clone();
    assert_eq!(submit(&region_sys, &region, m.to_document()).await.0, 202);
    // Retried, with the reason visible.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, st) = get_json(&region_sys, &api(&region, &format!("messages/{id}"))).await;
        if st["attempts"].as_u64().unwrap_or(0) >= 2 {
            assert!(
                st["lastError"].as_str().is_some_and(|e| !e.is_empty()),
                "{st}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = final_status(&region_sys, &region, &id, PATIENCE).await;
    assert_eq!(st["state"], "failed", "{st}");
    assert!(
        st["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("not delivered within 3 s"),
        "{st}"
    );

    // A hanging receiver: each attempt ends at attempt_timeout_ms, then dead letter.
    rewrite_book(
        &region,
        &[
            Entry::at(REGION, rp.0),
            Entry::at(MUNICIPALITY, hanging_port),
        ],
    )
    .await;
    let m = message(&REGION, &MUNICIPALITY, "Hänger", "x");
    let id = m.header.message_id.clone();
    assert_eq!(submit(&region_sys, &region, m.to_document()).await.0, 202);
    let st = final_status(&region_sys, &region, &id, PATIENCE).await;
    assert_eq!(st["state"], "failed", "{st}");
    assert!(st["attempts"].as_u64().unwrap_or(0) >= 2, "{st}");
    drop(hanging);
}

/// A burst of 1,000 messages; the receiving gateway is killed with -9 in the middle and
/// started again on the same store: every accepted message reaches the municipality's
/// inbox exactly once and every sender status ends delivered with an accepted receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_killed_during_a_burst_of_1000_loses_and_duplicates_nothing() {
    const N: usize = 1000;
    let mut p = pair("", "");
    let region_sys = system(&REGION);
    let kommun_sys = system(&MUNICIPALITY);
    let region_port = p.region.port;

    // Submit from 16 concurrent senders.
    let mut ids = Vec::with_capacity(N);
    let mut jobs = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let client = region_sys.clone();
        jobs.spawn(async move {
            let mut mine = Vec::new();
            for i in (worker..N).step_by(16) {
                let mut m = message(
                    &REGION,
                    &MUNICIPALITY,
                    &format!("Burst {i}"),
                    &"x".repeat(2000),
                );
                m.header.label = Some(format!("Burst {i}"));
                let id = m.header.message_id.clone();
                let r = client
                    .post(format!("https://127.0.0.1:{region_port}/sdk/v1/messages"))
                    .header("content-type", "application/xml")
                    .body(m.to_document())
                    .send()
                    .await
                    .expect("submit");
                assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
                mine.push(id);
            }
            mine
        });
    }
    // Kill the receiver once a good part has arrived (or at the latest after 5 s).
    let kill_at = Instant::now() + Duration::from_secs(5);
    loop {
        let s = p.municipality.status().await;
        if s["sdk"]["inbox"]["pending"].as_u64().unwrap_or(0) >= 150 || Instant::now() > kill_at {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    p.municipality.proc.signal("KILL");
    let _ = p.municipality.proc.wait_exit(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Restart on the same folder, store, book and ports.
    let book = p.municipality.dir.path().join("address-book.toml");
    let cfg = sdk_config(MUNICIPALITY, p.municipality_ports, &book, "");
    let dir = std::mem::replace(&mut p.municipality, dummy_gateway()).into_dir();
    p.municipality = Gateway::start_in(&cfg, dir);
    while let Some(r) = jobs.join_next().await {
        ids.extend(r.expect("sender task"));
    }
    assert_eq!(ids.len(), N);

    // Every status ends delivered with an accepted receipt.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let s = p.region.status().await;
        let delivered = s["sdk"]["outgoing"]["delivered"].as_u64().unwrap_or(0);
        if delivered as usize >= N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all delivered: {s}\n{}",
            p.region.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, list) = get_json(&region_sys, &api(&p.region, "messages?limit=1000")).await;
    let list = list["messages"].as_array().expect("list").clone();
    assert_eq!(list.len(), N);
    for st in &list {
        assert_eq!(st["state"], "delivered", "{st}");
        assert_eq!(st["receipt"]["accepted"], true, "{st}");
    }
    // Exactly once in the municipality's inbox.
    let (_, inbox) = get_json(&kommun_sys, &api(&p.municipality, "inbox?limit=1000")).await;
    let got: Vec<String> = inbox["messages"]
        .as_array()
        .expect("inbox")
        .iter()
        .map(|e| e["messageId"].as_str().unwrap_or_default().to_string())
        .collect();
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), N, "every message once in the inbox");
    assert_eq!(unique.len(), N);
    let sent: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique, sent, "exactly the submitted messages");
    let s = p.municipality.status().await;
    assert_eq!(s["sdk"]["inbox"]["pending"], N as u64, "{s}");
}

/// The sending gateway killed with -9 right after accepting 300 messages (its partner
/// down, so they are queued or in flight): after a restart on the same store every one is
/// delivered, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_a_kill_9_of_the_sending_gateway() {
    const N: usize = 300;
    let (rp, mp) = (ports(), ports());
    let book = address_book(&[Entry::at(REGION, rp.0), Entry::at(MUNICIPALITY, mp.0)]);
    // Short lease: messages that were in flight at the kill are claimed again soon.
    let extra = "attempt_timeout_ms = 1000\nlease_ms = 2000";
    let region = start(REGION, rp, &book, extra);
    let region_sys = system(&REGION);
    let mut ids = HashSet::new();
    for i in 0..N {
        let m = message(&REGION, &MUNICIPALITY, &format!("Före krasch {i}"), "x");
        let (code, v) = submit(&region_sys, &region, m.to_document()).await;
        assert_eq!(code, 202, "{v}");
        ids.insert(m.header.message_id);
    }
    region.proc.signal("KILL");
    let dir = region.into_dir();
    let municipality = start(MUNICIPALITY, mp, &book, "");
    let cfg = sdk_config(REGION, rp, &dir.path().join("address-book.toml"), extra);
    let region = Gateway::start_in(&cfg, dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = region.status().await;
        if s["sdk"]["outgoing"]["delivered"].as_u64().unwrap_or(0) as usize >= N {
            break;
        }
        assert!(Instant::now() < deadline, "{s}\n{}", region.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, inbox) = get_json(
        &system(&MUNICIPALITY),
        &api(&municipality, "inbox?limit=1000"),
    )
    .await;
    let got: Vec<String> = inbox["messages"]
        .as_array()
        .expect("inbox")
        .iter()
        .map(|e| e["messageId"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got.len(), N, "each once");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), ids);
}

/// A placeholder for `mem::replace` while a gateway is restarted.
fn dummy_gateway() -> Gateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new("true");
    Gateway {
        proc: Proc::spawn("placeholder", &mut cmd, dir.path().join("placeholder.log")),
        port: 0,
        admin_port: 0,
        instance_id: String::new(),
        dir,
    }
}
