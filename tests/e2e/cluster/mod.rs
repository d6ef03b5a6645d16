//! Several stateless vaxel nodes on one PostgreSQL database (specs/deployment.md),
//! through the real binary:
//!
//! - `two_nodes_one_database_survive_kill_9`: two nodes share one schema; EI Updates,
//!   aggregated queries under consent (a user-context JWT, so both nodes write the PDL
//!   access log) and SDK messages of the sending organisation are spread over both, and
//!   one node is killed with -9 in the middle of the burst. Afterwards: every
//!   acknowledged Update is in the index, every notification for one reached the
//!   subscriber (the killed node's claims taken over after `notify_lease_ms`; a
//!   duplicate only for the one it had in flight), every accepted SDK message is in the
//!   receiver's inbox exactly once, and `vaxel pdl-verify` finds the shared chain intact.
//! - `database_outage_and_recovery`: the nodes reach the database through an in-test TCP
//!   proxy that is cut under traffic: /ready turns 503 naming the database, Updates get a
//!   SOAP fault in bounded time (never a hang, never a false acknowledgement), /health
//!   stays 200; when the proxy is back, readiness, Updates and the change listener
//!   recover without restarting vaxel, and nothing acknowledged is lost.
//! - `consent_change_reaches_the_other_node`: a consent and a block registered through
//!   node A's admin API change node B's aggregated answers within 2 s (LISTEN/NOTIFY, no
//!   reload), and `POST /admin/reload` on A makes B reload its routing table.
//!
//! Each test gets its own schema on the test server (`VAXEL_TEST_POSTGRES_URL`, by
//! default `postgres://postgres@127.0.0.1:5432/test`), dropped at the end. Without a
//! server the tests print `SKIPPED: ...` and pass, except under `CI=true`.
//!
//! The nodes of one test get different `instance_id`s (deployment.md says they SHOULD
//! share one): the subscriber tells by `x-vp-instance-id` which node delivered a
//! notification.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use vaxel::sdk_pki::{MUNICIPALITY, REGION};
use vaxel_store_postgres::test_support::TestDatabase;

use crate::consent::{record_sources, withheld};
use crate::engagement::{find_content, update};
use crate::harness::*;
use crate::sdk;

const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
const FIND_CONTENT: &str = "urn:riv:itintegration:engagementindex:FindContentResponder:1";
const EI: &str = "SE0000000000-CLUSTER-EI";
const NATIONAL: &str = "SE0000000000-CLUSTER-NATIONAL";
/// The subscribing engagement index (a recording producer).
const SUBSCRIBER: &str = "SE0000000000-CLUSTER-SUBSCRIBER";
const ISSUER: &str = "https://idp.cluster.e2e.example";

/// The clinicians' care giver and unit, and the two journal sources of the patient.
const OWN_CG: &str = "SE2321000016-OWN";
const OWN_UNIT: &str = "SE2321000016-OWN-U1";
const OTHER_CG: &str = "SE2321000032-OTHER";
const OWN_SOURCE: &str = "SE2321000016-OWN-JOURNAL";
const OTHER_SOURCE: &str = "SE2321000032-OTHER-JOURNAL";
/// The patient of the Update bursts (one engagement per Update, at its own source).
const BURST_PATIENT: &str = "195001011234";

/// How long a node keeps claimed notifications: another node takes them over after this.
const NOTIFY_LEASE_MS: u64 = 3_000;
/// SDK: one delivery attempt, and the claim's lease (taken over after a kill).
const SDK_EXTRA: &str = "attempt_timeout_ms = 2000\nlease_ms = 3000\n";
/// The bound for a change made on one node to show on the other (deployment.md §5).
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------
// Configuration of a node

/// `[store]` on the test server's schema (`url` may point at a proxy). Short timeouts:
/// a call that needs an unreachable database fails within about a second or two.
fn store_section(url: &str, schema: &str) -> String {
    format!(
        "[store]\nbackend = \"postgres\"\nurl = {url:?}\nschema = {schema:?}\npool_size = 8\n\
connect_timeout_ms = 1000\nacquire_timeout_ms = 1000\nstatement_timeout_ms = 5000\n\n"
    )
}

/// `[engagement_index]`, with the recording subscriber when `subscriber` is set.
fn ei_section(subscriber: bool) -> String {
    let mut s = format!(
        "[engagement_index]\nowner = \"{EI}\"\nnotify_initial_backoff_ms = 100\n\
notify_max_backoff_ms = 500\nnotify_lease_ms = {NOTIFY_LEASE_MS}\n\n"
    );
    if subscriber {
        s.push_str(&format!(
            "[[engagement_index.subscribers]]\nlogical_address = \"{SUBSCRIBER}\"\n\
service_domains = [\"riv:clinicalprocess:healthcond:description\"]\n\n"
        ));
    }
    s
}

/// The routing table every node of a test reads: the engagement index, the aggregating
/// service and the patient's two journal sources (with `journal`), the subscriber (with
/// `subscriber_url`).
fn cluster_table(journal: Option<&DemoProducer>, subscriber_url: Option<&str>) -> Table {
    let mut t = Table::new()
        .route_for_consumer(UPDATE, EI, "local://engagement-index")
        .route_for_consumer(FIND_CONTENT, EI, "local://engagement-index");
    if let Some(journal) = journal {
        t = t.route_for_consumer(CARE_DOC, NATIONAL, "local://aggregating");
        for (source, cg, unit) in [
            (OWN_SOURCE, OWN_CG, OWN_UNIT),
            (OTHER_SOURCE, OTHER_CG, "SE2321000032-OTHER-U1"),
        ] {
            t = t.route_for_consumer(
                CARE_DOC,
                source,
                &journal.url(&format!("/journal?care_giver={cg}&care_unit={unit}")),
            );
        }
    }
    if let Some(url) = subscriber_url {
        t = t.route(PROCESS_NOTIFICATION, SUBSCRIBER, "RIVTABP21", url);
    }
    t
}

fn node_config(table: &Table, instance: &str, sections: &str) -> GatewayConfig {
    let mut c = GatewayConfig::new(table);
    c.instance_id = instance.to_string();
    c.extra_sections = sections.to_string();
    c
}

/// Where the database server listens, from the test URL (for the proxy).
fn database_addr(url: &str) -> SocketAddr {
    let (_, host_port) = split_authority(url);
    let with_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve the database address {with_port} of {url}"))
}

/// The test URL with the server's `host:port` replaced by `addr`.
fn url_via(url: &str, addr: &str) -> String {
    let (prefix, host_port) = split_authority(url);
    let rest = &url[prefix.len() + host_port.len()..];
    format!("{prefix}{addr}{rest}")
}

/// (`scheme://user@`, `host:port`) of a postgres URL.
fn split_authority(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..]
        .find(['/', '?'])
        .map(|i| after_scheme + i)
        .unwrap_or(url.len());
    let start = url[after_scheme..end]
        .rfind('@')
        .map(|i| after_scheme + i + 1)
        .unwrap_or(after_scheme);
    (&url[..start], &url[start..end])
}

// ---------------------------------------------------------------------------------
// The identity provider of the users' JWTs

/// An ES256 key pair: the gateways trust its public key for user contexts and the
/// consent admin API.
struct Idp {
    key: EncodingKey,
    public_key: PathBuf,
    _dir: tempfile::TempDir,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Idp {
    fn new() -> Idp {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        let public_key = dir.path().join("idp.pub.pem");
        std::fs::write(&public_key, pair.public_key_pem()).expect("write the IdP key");
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key");
        Idp {
            key,
            public_key,
            _dir: dir,
        }
    }

    /// `[consent]` on, trusting this IdP.
    fn consent_section(&self) -> String {
        format!(
            "[consent]\nenabled = true\n\n[[consent.issuers]]\nissuer = \"{ISSUER}\"\n\
audience = [\"vaxel\"]\nalgorithms = [\"ES256\"]\npublic_key_pem = {:?}\n\n",
            self.public_key.display().to_string()
        )
    }

    fn token(&self, claims: Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key).expect("sign")
    }

    /// A clinician of the own care giver, named `user` (the access log's user id).
    fn clinician(&self, user: &str) -> String {
        self.token(json!({
            "iss": ISSUER, "aud": "vaxel", "sub": user,
            "care_unit": OWN_UNIT, "care_giver": OWN_CG, "purpose": "care",
            "exp": now() + 600, "nbf": now() - 5,
        }))
    }

    /// The consent administrator and auditor.
    fn admin(&self) -> String {
        self.token(json!({
            "iss": ISSUER, "aud": "vaxel", "sub": "SE2321000016-ADMIN",
            "care_unit": OWN_UNIT, "care_giver": OWN_CG, "purpose": "administration",
            "roles": ["consent-admin", "pdl-auditor"],
            "exp": now() + 600, "nbf": now() - 5,
        }))
    }

    /// POST a consent-admin request to `gw`; the JSON answer (must be a success).
    async fn admin_post(&self, gw: &Gateway, path: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(gw.admin(path))
            .bearer_auth(self.admin())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {}", error_chain(&e)));
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The access-log entries of `user`, as `gw`'s review API lists them.
    async fn access_log_of(&self, gw: &Gateway, user: &str) -> Vec<Value> {
        let r = reqwest::Client::new()
            .get(gw.admin(&format!("/api/access-log?user={user}&limit=10000")))
            .bearer_auth(self.admin())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /api/access-log: {}", error_chain(&e)));
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, 200, "GET /api/access-log?user={user}: {text}");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the access log review is not JSON ({e}): {text}"));
        v["entries"].as_array().cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------
// Requests

/// GetCareDocumentation for `patient` at the national (aggregating) address.
fn journal_query(patient: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{NATIONAL}</LogicalAddress></soap:Header>\
<soap:Body><GetCareDocumentation xmlns=\"{CARE_DOC}\" xmlns:c=\"urn:riv:clinicalprocess:healthcond:description:2\">\
<patientId><c:id>{patient}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId></GetCareDocumentation></soap:Body></soap:Envelope>"
    )
}

/// The Update of the burst's item `i`: one engagement of BURST_PATIENT at its own source.
fn burst_source(i: usize) -> String {
    format!("SE2321000016-BURST-{i:04}")
}

/// Whether an Update was acknowledged: HTTP 200, ResultCode OK, no fault.
fn acknowledged(r: &Reply) -> bool {
    let text = r.text();
    r.status == 200 && text.contains(">OK<") && !text.contains("Fault>")
}

/// Sends one Update to `url`; panics unless it is acknowledged.
async fn register(client: &reqwest::Client, url: &str, patient: &str, source: &str) {
    let r = post(client, url, update(EI, patient, source, "voo"), &[]).await;
    assert!(acknowledged(&r), "Update of {source}:\n{}", r.describe());
}

/// The logical addresses of the engagements in a FindContent answer or a
/// ProcessNotification (every `engagement` element's `logicalAddress`).
fn engagement_sources(xml: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(xml);
    let Ok(doc) = roxmltree::Document::parse(&text) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.tag_name().name() == "engagement")
        .filter_map(|e| {
            e.children()
                .find(|c| c.tag_name().name() == "logicalAddress")
                .and_then(|c| c.text())
                .map(str::to_string)
        })
        .collect()
}

/// The sources of `patient`'s engagements as `gw` finds them.
async fn found_sources(gw: &Gateway, patient: &str) -> BTreeSet<String> {
    let r = post(&consumer(), &gw.url(), find_content(EI, patient), &[]).await;
    assert_eq!(r.status, 200, "FindContent:\n{}", r.describe());
    engagement_sources(&r.body).into_iter().collect()
}

/// `vaxel pdl-verify --config <config>`: (exit success, output).
fn pdl_verify(config: &Path) -> (bool, String) {
    let out = Command::new(VAXEL)
        .env("NO_COLOR", "1")
        .arg("pdl-verify")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run vaxel pdl-verify");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// ---------------------------------------------------------------------------------
// The subscriber

/// One ProcessNotification as the subscriber received it.
#[derive(Debug, Clone)]
struct Arrival {
    /// `x-vp-instance-id`: the node that delivered it.
    node: String,
    sources: Vec<String>,
    at: Instant,
}

const PROCESS_NOTIFICATION_OK: &str = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
<p:ProcessNotificationResponse xmlns:p=\"urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1\">\
<p:ResultCode>OK</p:ResultCode></p:ProcessNotificationResponse></soap:Body></soap:Envelope>";

/// A subscribing index that answers OK and records which node delivered what, when.
async fn subscriber() -> (RecordingProducer, Arc<Mutex<Vec<Arrival>>>) {
    let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let log = arrivals.clone();
    let producer = RecordingProducer::start(move |seen| {
        let node = seen
            .headers
            .get("x-vp-instance-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_string();
        log.lock().expect("arrivals").push(Arrival {
            node,
            sources: engagement_sources(&seen.body),
            at: Instant::now(),
        });
        (200, Bytes::from_static(PROCESS_NOTIFICATION_OK.as_bytes()))
    })
    .await;
    (producer, arrivals)
}

// ---------------------------------------------------------------------------------
// SDK without panics on transport errors (a node may be dead)

/// Submits an SDK message to `gw_port`: the HTTP status, or the transport error.
async fn try_submit(client: &reqwest::Client, port: u16, xml: Vec<u8>) -> Result<u16, String> {
    let r = client
        .post(format!("https://127.0.0.1:{port}/sdk/v1/messages"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    Ok(status)
}

// ---------------------------------------------------------------------------------
// 1. kill -9 of one node mid-burst

/// What happened to one request of the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged by node 0 or 1.
    Acked(usize),
    /// An answer that is not an acknowledgement (a fault).
    Refused(usize),
    /// No answer (the node died under it).
    Lost(usize),
}

/// No node is dead.
const NONE_DEAD: usize = usize::MAX;

/// The node for request `i`: alternating, except the dead one (a load balancer takes a
/// dead node out of rotation).
fn pick(i: usize, dead: &AtomicUsize) -> usize {
    let n = i % 2;
    if dead.load(Ordering::SeqCst) == n {
        1 - n
    } else {
        n
    }
}

mod changes;
mod demo;
mod kill9;
mod outage;
