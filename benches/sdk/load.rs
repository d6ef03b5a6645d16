//! The load: the region's journal system as a client, the message template, the
//! concurrent submitters, and waiting on the region's `/status` until all is delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vaxel::sdk_pki::{SdkOrg, SdkPki, MUNICIPALITY, REGION};
use vaxel_sdk_message::message::Message;

use crate::gateways::Gateway;

/// The region's journal system (its client certificate), as in tests/e2e/sdk.rs.
pub fn system_client(sdk: &SdkPki, org: &SdkOrg, concurrency: usize) -> reqwest::Client {
    let mut pem = std::fs::read(sdk.system_cert(org)).expect("system cert");
    pem.push(b'\n');
    pem.extend(std::fs::read(sdk.system_key(org)).expect("system key"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&sdk.ca).expect("ca")).expect("ca");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).expect("system identity"))
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// A message template of `size` attachment bytes; each submit gets a fresh message id
/// (= conversation id) by replacing the template's id in the document (same length), so
/// building the body costs the submitter a copy, not an XML serialisation.
pub struct Template {
    pub document: Vec<u8>,
    id: String,
}

impl Template {
    pub fn new(attachment: usize) -> Template {
        let mut m = Message::new(
            REGION.org_number,
            MUNICIPALITY.org_number,
            MUNICIPALITY.functional_address,
            "Benchmark",
        )
        .with_sender_functional_address(REGION.functional_address);
        m.add_text_document("text", "Meddelande", "Se bifogad fil.");
        let mut bytes = vec![0u8; attachment];
        openssl::rand::rand_bytes(&mut bytes).expect("random bytes");
        bytes[..9.min(attachment)].copy_from_slice(&b"%PDF-1.4\n"[..9.min(attachment)]);
        m.add_file("text", "bilaga.pdf", "application/pdf", &bytes);
        Template {
            document: m.to_document(),
            id: m.header.message_id.clone(),
        }
    }

    pub fn instance(&self) -> (String, Vec<u8>) {
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(id.len(), self.id.len());
        let mut doc = self.document.clone();
        let needle = self.id.as_bytes();
        let mut i = 0;
        while let Some(pos) = doc[i..].windows(needle.len()).position(|w| w == needle) {
            doc[i + pos..i + pos + needle.len()].copy_from_slice(id.as_bytes());
            i += pos + needle.len();
        }
        (id, doc)
    }
}

pub async fn status(client: &reqwest::Client, gw: &Gateway) -> Value {
    let text = client
        .get(gw.status_url())
        .send()
        .await
        .expect("GET /status")
        .text()
        .await
        .expect("/status body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("/status not JSON ({e}): {text}"))
}

pub fn count(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

/// Submit `n` messages with `c` submitters, submitter `w` to `urls[w % urls.len()]` (the
/// region's nodes); latencies of each submit.
pub async fn submit_all(
    client: &reqwest::Client,
    urls: &[String],
    template: Arc<Template>,
    n: usize,
    c: usize,
) -> Vec<Duration> {
    let mut jobs = tokio::task::JoinSet::new();
    for worker in 0..c {
        let client = client.clone();
        let url = urls[worker % urls.len()].clone();
        let template = template.clone();
        jobs.spawn(async move {
            let mut lat = Vec::new();
            for _ in (worker..n).step_by(c) {
                let (_, body) = template.instance();
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/xml")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("submit: {e:?}"));
                let code = r.status();
                let text = r.text().await.unwrap_or_default();
                lat.push(t.elapsed());
                assert_eq!(code, 202, "submit refused: {text}");
            }
            lat
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = jobs.join_next().await {
        all.extend(r.expect("submitter"));
    }
    all
}

/// Wait until the region reports `target` delivered messages; fail on any rejected or
/// failed one.
pub async fn wait_delivered(admin: &reqwest::Client, gw: &Gateway, target: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = status(admin, gw).await;
        let delivered = count(&s, &["sdk", "outgoing", "delivered"]);
        let bad =
            count(&s, &["sdk", "outgoing", "rejected"]) + count(&s, &["sdk", "outgoing", "failed"]);
        assert_eq!(
            bad,
            0,
            "messages rejected or failed: {s}\n{}",
            gw.logs_tail()
        );
        if delivered >= target {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {delivered} of {target} delivered within {within:?}: {s}\n{}",
            gw.logs_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
