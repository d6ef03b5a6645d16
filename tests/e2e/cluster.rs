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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_one_database_survive_kill_9() {
    // Acknowledged Updates before the kill (about half on each node) and after it.
    const UPDATES_BEFORE_KILL: usize = 120;
    const UPDATES_AFTER_KILL: usize = 180;
    const UPDATE_WORKERS: usize = 6;
    const SDK_MAX: usize = 80;
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let idp = Idp::new();
    let journal = DemoProducer::start();
    let (sub, arrivals) = subscriber().await;

    // SDK: the region's two nodes (the cluster) send to the municipality's gateway (its
    // own store); one address book for all.
    let (ports_a, ports_b, ports_m) = (sdk::ports(), sdk::ports(), sdk::ports());
    let book_dir = tempfile::tempdir().expect("tempdir");
    let book = book_dir.path().join("address-book.toml");
    let book_text = sdk::address_book(&[
        sdk::Entry::at(REGION, ports_a.0),
        sdk::Entry::at(MUNICIPALITY, ports_m.0),
    ]);
    std::fs::write(&book, &book_text).expect("address book");
    let municipality = sdk::start(MUNICIPALITY, ports_m, &book_text, "");

    let table = cluster_table(Some(&journal), Some(&sub.url("/ei")));
    let sections = format!(
        "{}{}{}[aggregation]\ndeadline_ms = 5000\n\n",
        store_section(&db.config.url, &db.config.schema),
        ei_section(true),
        idp.consent_section()
    );
    let node = |instance: &str, ports: (u16, u16)| {
        let mut c = sdk::sdk_config(REGION, ports, &book, SDK_EXTRA);
        c.instance_id = instance.to_string();
        c.table = Some(table.to_toml());
        c.expect_ready = true;
        c.extra_sections.push('\n');
        c.extra_sections.push_str(&sections);
        c
    };
    let names = ["vaxel-node-a", "vaxel-node-b"];
    let a = Gateway::start(&node(names[0], ports_a));
    let mut b = Gateway::start(&node(names[1], ports_b));
    println!(
        "cluster: two nodes and the receiver up after {:?}",
        t0.elapsed()
    );

    // Before the burst: the patient's engagements through A; one query through each
    // node (B reads what A wrote), each node with its own clinician, so that the access
    // log tells which node wrote an entry.
    let client = consumer();
    register(&client, &a.url(), PATIENT, OWN_SOURCE).await;
    register(&client, &b.url(), PATIENT, OTHER_SOURCE).await;
    let users = ["SE2321000016-DOCTOR-A", "SE2321000016-DOCTOR-B"];
    let tokens = [idp.clinician(users[0]), idp.clinician(users[1])];
    for (gw, token) in [(&a, &tokens[0]), (&b, &tokens[1])] {
        let r = post(
            &client,
            &gw.url(),
            journal_query(PATIENT),
            &[("x-vaxel-user-context", token)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(
            record_sources(&r),
            vec![OWN_SOURCE.to_string(); 2],
            "{}",
            r.describe()
        );
        assert_eq!(withheld(&r), 2, "{}", r.describe());
    }
    // Entries per query, once both nodes' writers have committed their first batch.
    let per_query = eventually("both nodes' first access-log entries", PATIENCE, || async {
        let na = idp.access_log_of(&a, users[0]).await.len();
        let nb = idp.access_log_of(&a, users[1]).await.len();
        (na > 0 && na == nb).then_some(na)
    })
    .await;

    // The burst: Updates from several workers, journal queries and SDK messages, all
    // alternating over the nodes, until told to stop. Node B is killed -9 once it has
    // taken a share of each kind; the burst then goes on for UPDATES_AFTER_KILL more
    // acknowledged Updates (on A alone, as a load balancer would send them).
    let urls = [a.url(), b.url()];
    let sdk_ports = [a.port, b.port];
    let dead = Arc::new(AtomicUsize::new(NONE_DEAD));
    let stop = Arc::new(AtomicBool::new(false));
    let next_update = Arc::new(AtomicUsize::new(0));
    // Per node: Updates acknowledged, journal queries answered, SDK messages accepted.
    let progress: Arc<[[AtomicUsize; 2]; 3]> = Arc::default();
    let (updates_acked, queries_answered, sdk_accepted) = (0, 1, 2);
    let burst_started = Instant::now();

    let mut update_jobs = tokio::task::JoinSet::new();
    for _ in 0..UPDATE_WORKERS {
        let (client, urls, dead, stop, next, progress) = (
            client.clone(),
            urls.clone(),
            dead.clone(),
            stop.clone(),
            next_update.clone(),
            progress.clone(),
        );
        update_jobs.spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let n = pick(i, &dead);
                let body = update(EI, BURST_PATIENT, &burst_source(i), "voo");
                let outcome = match try_post(&client, &urls[n], body, &[]).await {
                    Ok(r) if acknowledged(&r) => {
                        progress[updates_acked][n].fetch_add(1, Ordering::SeqCst);
                        Outcome::Acked(n)
                    }
                    Ok(_) => Outcome::Refused(n),
                    Err(_) => Outcome::Lost(n),
                };
                outcomes.push((i, outcome));
            }
            outcomes
        });
    }

    let query_jobs: Vec<_> = (0..2)
        .map(|w| {
            let (client, urls, dead, stop, progress) = (
                client.clone(),
                urls.clone(),
                dead.clone(),
                stop.clone(),
                progress.clone(),
            );
            let tokens = tokens.clone();
            tokio::spawn(async move {
                // (node, answered) per query; a wrong answer fails the test.
                let mut outcomes = Vec::new();
                let mut i = w;
                while !stop.load(Ordering::SeqCst) {
                    let n = pick(i, &dead);
                    i += 1;
                    let headers = [("x-vaxel-user-context", tokens[n].as_str())];
                    match try_post(&client, &urls[n], journal_query(PATIENT), &headers).await {
                        Ok(r) if r.status == 200 => {
                            assert_eq!(
                                record_sources(&r),
                                vec![OWN_SOURCE.to_string(); 2],
                                "{}",
                                r.describe()
                            );
                            assert_eq!(withheld(&r), 2, "{}", r.describe());
                            progress[queries_answered][n].fetch_add(1, Ordering::SeqCst);
                            outcomes.push((n, true));
                        }
                        Ok(r) => panic!("a journal query failed:\n{}", r.describe()),
                        Err(_) => outcomes.push((n, false)),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                outcomes
            })
        })
        .collect();

    // One SDK sender per node (submitting is slower than an Update: signing and
    // encryption), each going to the other node once its own is dead.
    let sdk_jobs: Vec<_> = (0..2)
        .map(|w| {
            let (dead, stop, progress) = (dead.clone(), stop.clone(), progress.clone());
            tokio::spawn(async move {
                let region_sys = sdk::system(&REGION);
                // (message id, node, HTTP status or None without an answer)
                let mut sent = Vec::new();
                let mut i = w;
                while sent.len() < SDK_MAX / 2 && !stop.load(Ordering::SeqCst) {
                    let n = pick(i, &dead);
                    let m = sdk::message(&REGION, &MUNICIPALITY, &format!("Kluster {i}"), "x");
                    let id = m.header.message_id.clone();
                    let status = try_submit(&region_sys, sdk_ports[n], m.to_document())
                        .await
                        .ok();
                    if status == Some(202) {
                        progress[sdk_accepted][n].fetch_add(1, Ordering::SeqCst);
                    }
                    sent.push((id, n, status));
                    i += 2;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                sent
            })
        })
        .collect();

    // kill -9 node B once it has taken Updates, queries and SDK messages.
    let got = |kind: usize, n: usize| progress[kind][n].load(Ordering::SeqCst);
    eventually(
        "node B's share of every kind of traffic",
        Duration::from_secs(30),
        || async {
            (got(updates_acked, 1) >= UPDATES_BEFORE_KILL / 2
                && got(queries_answered, 1) >= 3
                && got(sdk_accepted, 1) >= 3)
                .then_some(())
        },
    )
    .await;
    b.proc.signal("KILL");
    dead.store(1, Ordering::SeqCst);
    let killed_at = Instant::now();
    assert!(
        b.proc.wait_exit(Duration::from_secs(5)).is_some(),
        "node B did not die"
    );
    let acked_at_kill = got(updates_acked, 0) + got(updates_acked, 1);
    println!(
        "cluster: node B killed -9 {:?} into the burst, with {acked_at_kill} Updates acknowledged ({} by B), {} journal queries answered by B, {} SDK messages accepted by B",
        killed_at - burst_started,
        got(updates_acked, 1),
        got(queries_answered, 1),
        got(sdk_accepted, 1),
    );
    eventually(
        "the burst going on on node A",
        Duration::from_secs(30),
        || async {
            (got(updates_acked, 0) + got(updates_acked, 1) >= acked_at_kill + UPDATES_AFTER_KILL)
                .then_some(())
        },
    )
    .await;
    stop.store(true, Ordering::SeqCst);

    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    while let Some(r) = update_jobs.join_next().await {
        outcomes.extend(r.expect("an Update worker failed"));
    }
    let mut queries = Vec::new();
    for j in query_jobs {
        queries.extend(j.await.expect("a query worker failed"));
    }
    let mut sdk_sent = Vec::new();
    for j in sdk_jobs {
        sdk_sent.extend(j.await.expect("an SDK sender failed"));
    }
    let (code, ready) = a.admin_get("/ready").await;
    assert_eq!(code, 200, "the surviving node stays ready: {ready}");
    println!(
        "cluster: burst over after {:?}: {} Updates, {} journal queries, {} SDK messages",
        burst_started.elapsed(),
        outcomes.len(),
        queries.len(),
        sdk_sent.len()
    );

    // 1. Every acknowledged Update is in the index (as the surviving node finds it).
    let acked_sources: BTreeSet<String> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Acked(_)))
        .map(|(i, _)| burst_source(*i))
        .collect();
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let (acked_a, acked_b) = (
        count(&|o| *o == Outcome::Acked(0)),
        count(&|o| *o == Outcome::Acked(1)),
    );
    let refused = count(&|o| matches!(o, Outcome::Refused(_)));
    let lost = count(&|o| matches!(o, Outcome::Lost(_)));
    println!(
        "cluster: Updates acknowledged by A {acked_a}, by B {acked_b}; refused {refused}; without answer {lost}"
    );
    assert!(
        acked_b > 0 && acked_a > acked_b,
        "both nodes took Updates before the kill, A all after it"
    );
    assert_eq!(refused, 0, "no Update was refused: {outcomes:?}");
    let found = found_sources(&a, BURST_PATIENT).await;
    let missing: Vec<&String> = acked_sources.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "acknowledged Updates missing from the index: {missing:?}"
    );
    let unanswered_but_stored = found.len() - acked_sources.len();
    println!(
        "cluster: all {} acknowledged Updates found; {unanswered_but_stored} of the {lost} unanswered ones were committed too",
        acked_sources.len()
    );

    // 2. Every notification of an acknowledged Update reaches the subscriber: the killed
    //    node's claims are taken over once their lease ends.
    let mut expected = acked_sources.clone();
    expected.insert(OWN_SOURCE.to_string());
    expected.insert(OTHER_SOURCE.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: BTreeSet<String> = arrivals
            .lock()
            .expect("arrivals")
            .iter()
            .flat_map(|a| a.sources.clone())
            .collect();
        let missing: Vec<&String> = expected.difference(&got).collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let ei = a.status().await["engagement_index"].clone();
            panic!(
                "{} acknowledged Updates' notifications did not reach the subscriber within 60 s: {missing:?}\nnode A's queue: {ei}",
                missing.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_notified = Instant::now();
    // Nothing left in the shared queue (notifications of committed but unanswered
    // Updates are delivered too).
    eventually("an empty notification queue", PATIENCE, || async {
        let ei = a.status().await["engagement_index"].clone();
        (ei["notifications_pending"] == 0).then_some(())
    })
    .await;
    let arrivals = arrivals.lock().expect("arrivals").clone();
    let mut copies: BTreeMap<String, Vec<&Arrival>> = BTreeMap::new();
    for arrival in &arrivals {
        for s in &arrival.sources {
            copies.entry(s.clone()).or_default().push(arrival);
        }
    }
    let by_node = |name: &str| arrivals.iter().filter(|x| x.node == name).count();
    let duplicates: Vec<(&String, Vec<(&str, Duration)>)> = copies
        .iter()
        .filter(|(_, c)| c.len() > 1)
        .map(|(s, c)| {
            let seen: Vec<(&str, Duration)> = c
                .iter()
                .map(|x| {
                    (
                        x.node.as_str(),
                        x.at.saturating_duration_since(burst_started),
                    )
                })
                .collect();
            (s, seen)
        })
        .collect();
    println!(
        "cluster: {} notifications delivered (by A {}, by B {}), all acknowledged ones {:?} after the kill; duplicates: {duplicates:?}",
        arrivals.len(),
        by_node(names[0]),
        by_node(names[1]),
        all_notified - killed_at
    );
    // Which node delivers depends on who claimed first (a destination's items are with
    // one node at a time); the survivor delivers at least what was left after the kill.
    assert!(by_node(names[0]) > 0, "the surviving node delivered");
    for (source, seen) in &duplicates {
        // At least once: the only allowed duplicate is the notification the killed node
        // had sent but not yet marked delivered; the survivor sends it again.
        assert_eq!(
            seen.len(),
            2,
            "{source} delivered more than twice: {seen:?}"
        );
        assert!(
            seen.iter().any(|(n, _)| *n == names[1]) && seen.iter().any(|(n, _)| *n == names[0]),
            "{source} delivered twice, not once by the killed node and once by the survivor: {seen:?}"
        );
    }
    // The delivery loop sends one notification at a time: the killed node had at most
    // one in flight.
    assert!(
        duplicates.len() <= 1,
        "more duplicates than the killed node could have had in flight: {duplicates:?}"
    );
    for source in copies.keys() {
        assert!(
            found.contains(source) || source == OWN_SOURCE || source == OTHER_SOURCE,
            "a notification for an engagement that is not in the index: {source}"
        );
    }

    // 3. Every accepted SDK message ends delivered, once, in the receiver's inbox.
    let accepted: BTreeSet<String> = sdk_sent
        .iter()
        .filter(|(_, _, s)| *s == Some(202))
        .map(|(id, _, _)| id.clone())
        .collect();
    let submitted: BTreeSet<String> = sdk_sent.iter().map(|(id, _, _)| id.clone()).collect();
    let accepted_by = |n: usize| {
        sdk_sent
            .iter()
            .filter(|(_, m, s)| *m == n && *s == Some(202))
            .count()
    };
    assert!(
        sdk_sent
            .iter()
            .all(|(_, _, s)| matches!(s, None | Some(202))),
        "an SDK submit was refused: {sdk_sent:?}"
    );
    assert!(
        accepted_by(0) > 0 && accepted_by(1) > 0,
        "both nodes accepted SDK messages: {sdk_sent:?}"
    );
    let region_sys = sdk::system(&REGION);
    let statuses = eventually(
        "every accepted SDK message delivered",
        Duration::from_secs(60),
        || async {
            let (code, list) =
                sdk::get_json(&region_sys, &sdk::api(&a, "messages?limit=1000")).await;
            assert_eq!(code, 200, "{list}");
            let list = list["messages"].as_array().cloned().unwrap_or_default();
            let delivered: BTreeSet<String> = list
                .iter()
                .filter(|m| m["state"] == "delivered")
                .filter_map(|m| m["messageId"].as_str().map(str::to_string))
                .collect();
            accepted.is_subset(&delivered).then_some(list)
        },
    )
    .await;
    for st in &statuses {
        assert_eq!(st["receipt"]["accepted"], true, "{st}");
    }
    let (code, inbox) = sdk::get_json(
        &sdk::system(&MUNICIPALITY),
        &sdk::api(&municipality, "inbox?limit=1000"),
    )
    .await;
    assert_eq!(code, 200, "{inbox}");
    let mut in_inbox: HashMap<String, usize> = HashMap::new();
    for e in inbox["messages"].as_array().expect("inbox messages") {
        *in_inbox
            .entry(e["messageId"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for id in &accepted {
        assert_eq!(
            in_inbox.get(id),
            Some(&1),
            "accepted SDK message {id} not in the inbox exactly once"
        );
    }
    for (id, n) in &in_inbox {
        assert!(submitted.contains(id), "{id} in the inbox was never sent");
        assert_eq!(*n, 1, "{id} is in the inbox {n} times");
    }
    println!(
        "cluster: SDK: {} accepted (by A {}, by B {}), {} without answer; inbox holds {} messages, each once",
        accepted.len(),
        accepted_by(0),
        accepted_by(1),
        submitted.len() - accepted.len(),
        in_inbox.len()
    );

    // 4. The access log: both nodes wrote into one chain, and it verifies.
    let answered = |n: usize| queries.iter().filter(|(m, ok)| *m == n && *ok).count();
    let asked = |n: usize| queries.iter().filter(|(m, _)| *m == n).count();
    // The survivor's writer has committed every answered query's entries.
    let entries_a = eventually("node A's access-log entries", PATIENCE, || async {
        let n = idp.access_log_of(&a, users[0]).await.len();
        (n == per_query * (1 + answered(0))).then_some(n)
    })
    .await;
    let entries_b = idp.access_log_of(&a, users[1]).await.len();
    assert!(
        entries_b >= per_query && entries_b <= per_query * (1 + asked(1)),
        "node B's entries: {entries_b}, {per_query} per query, {} queries asked of B",
        asked(1)
    );
    let (intact, report) = pdl_verify(&a.dir.path().join("vaxel.toml"));
    assert!(intact, "vaxel pdl-verify on PostgreSQL:\n{report}");
    // Entries of queries B answered that never reached the database: they were in its
    // writer's queue (in memory) when it was killed.
    let lost_b = (per_query * (1 + answered(1))).saturating_sub(entries_b);
    println!(
        "cluster: access log: {per_query} entries per query; A wrote {entries_a} ({} queries answered), B {entries_b} ({} answered; {lost_b} entries of answered queries lost with its writer queue); pdl-verify: {}",
        answered(0),
        answered(1),
        report.trim().replace('\n', "; ")
    );
    println!("cluster: kill -9 test took {:?}", t0.elapsed());
    drop(b);
    drop(a);
    drop(municipality);
    drop(db);
}

// ---------------------------------------------------------------------------------
// 2. The database away and back

/// One Update of the traffic during the outage.
#[derive(Debug)]
struct Attempt {
    source: String,
    started: Instant,
    elapsed: Duration,
    /// HTTP status and fault code, or None without an answer.
    answer: Option<(u16, Option<String>)>,
    acked: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_and_recovery() {
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let proxy = TcpProxy::start(database_addr(&db.config.url)).await;
    let sections = format!(
        "{}{}",
        store_section(&url_via(&db.config.url, &proxy.addr()), &db.config.schema),
        ei_section(false)
    );
    let table = cluster_table(None, None);
    let a = Gateway::start(&node_config(&table, "vaxel-node-a", &sections));
    let b = Gateway::start(&node_config(&table, "vaxel-node-b", &sections));
    let nodes = [&a, &b];
    let client = consumer();

    // Before the outage: acknowledged through both nodes.
    let mut before = BTreeSet::new();
    for i in 0..10 {
        let source = format!("SE2321000016-BEFORE-{i:02}");
        register(&client, &nodes[i % 2].url(), BURST_PATIENT, &source).await;
        before.insert(source);
    }

    // Traffic all along: Updates alternating over the nodes.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (client, stop) = (client.clone(), stop.clone());
        let urls = [a.url(), b.url()];
        tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let source = format!("SE2321000016-DURING-{i:04}");
                let started = Instant::now();
                let r = try_post(
                    &client,
                    &urls[i % 2],
                    update(EI, BURST_PATIENT, &source, "voo"),
                    &[],
                )
                .await;
                attempts.push(Attempt {
                    source,
                    started,
                    elapsed: started.elapsed(),
                    acked: r.as_ref().is_ok_and(acknowledged),
                    answer: r
                        .ok()
                        .map(|r| (r.status, r.header("x-vp-fault-code").map(str::to_string))),
                });
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            attempts
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The database goes away.
    proxy.down();
    let down_at = Instant::now();
    for gw in nodes {
        let reason = eventually(
            "/ready 503 naming the database",
            Duration::from_secs(5),
            || async {
                let (code, body) = gw.admin_get("/ready").await;
                (code == 503).then_some(body)
            },
        )
        .await;
        assert!(
            reason.contains("database"),
            "{}: the reason names the database: {reason}",
            gw.instance_id
        );
        let (code, _) = gw.admin_get("/health").await;
        assert_eq!(code, 200, "/health does not depend on the database");
        let store = gw.status().await["store"].clone();
        assert_eq!(store["backend"], "postgres", "{store}");
        assert_eq!(store["reachable"], false, "{store}");
        assert!(
            store["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{store}"
        );
    }
    let unready_after = down_at.elapsed();
    // An Update now: a SOAP fault (EI000), in bounded time.
    for gw in nodes {
        let r = post(
            &client,
            &gw.url(),
            update(EI, BURST_PATIENT, "SE2321000016-REFUSED", "voo"),
            &[],
        )
        .await;
        assert_fault(&r, gw, "EI000", &[]);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "the fault came after {:?}, not bounded by the timeouts",
            r.elapsed
        );
    }
    // Under traffic a little longer.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Back.
    proxy.up();
    let up_at = Instant::now();
    for gw in nodes {
        eventually("/ready 200 again", Duration::from_secs(15), || async {
            (gw.admin_get("/ready").await.0 == 200).then_some(())
        })
        .await;
    }
    let ready_after = up_at.elapsed();
    for (i, gw) in nodes.iter().enumerate() {
        let source = format!("SE2321000016-AFTER-{i}");
        let r = post(
            &client,
            &gw.url(),
            update(EI, BURST_PATIENT, &source, "voo"),
            &[],
        )
        .await;
        assert!(
            acknowledged(&r),
            "{}: an Update right after /ready turned 200:\n{}",
            gw.instance_id,
            r.describe()
        );
        before.insert(source);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let attempts = traffic.await.expect("the traffic task failed");

    // While the database was away nothing was acknowledged; every refusal was a SOAP
    // fault (never a hang, never a dropped connection).
    let grace = Duration::from_millis(200);
    let during: Vec<&Attempt> = attempts
        .iter()
        .filter(|x| x.started >= down_at + grace && x.started + x.elapsed <= up_at)
        .collect();
    assert!(!during.is_empty(), "traffic ran during the outage");
    for x in &during {
        assert!(!x.acked, "acknowledged while the database was away: {x:?}");
        assert!(
            matches!(&x.answer, Some((500, Some(code))) if code == "EI000"),
            "during the outage an Update gets fault EI000: {x:?}"
        );
    }
    let slowest = attempts.iter().map(|x| x.elapsed).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(5),
        "an Update took {slowest:?}: not bounded by the store's timeouts"
    );
    for x in &attempts {
        if !x.acked {
            assert!(x.answer.is_some(), "an Update got no answer at all: {x:?}");
        }
    }

    // Nothing acknowledged is lost.
    let acked: BTreeSet<String> = attempts
        .iter()
        .filter(|x| x.acked)
        .map(|x| x.source.clone())
        .chain(before.iter().cloned())
        .collect();
    let found = found_sources(&b, BURST_PATIENT).await;
    let missing: Vec<&String> = acked.difference(&found).collect();
    assert!(missing.is_empty(), "acknowledged Updates lost: {missing:?}");
    assert!(
        !found.contains("SE2321000016-REFUSED"),
        "an Update answered with a fault changed nothing"
    );

    // The change listeners are back too: a routing reload on A reaches B again. B's
    // listener reconnects with a backoff (up to 5 s), and a reload published before it
    // is back is missed, so A reloads until B follows.
    let routes_before = b.status().await["routing_table"]["routes"].clone();
    b.write_table(
        &table
            .clone()
            .route_for_consumer(SCHEDULE, "SE2321000016-NEW", "https://127.0.0.1:9/")
            .to_toml(),
    );
    eventually(
        "B reloading its routing table after a reload on A",
        Duration::from_secs(15),
        || async {
            let (code, body) = a.reload().await;
            assert_eq!(code, 200, "{body}");
            // The reload reaches B within milliseconds once its listener is back.
            tokio::time::sleep(Duration::from_millis(300)).await;
            (b.status().await["routing_table"]["routes"] != routes_before).then_some(())
        },
    )
    .await;
    let listener_after = up_at.elapsed();

    let faults = attempts.iter().filter(|x| !x.acked).count();
    let (forwarded, dropped) = proxy.counts();
    println!(
        "cluster: outage: /ready 503 on both nodes {unready_after:?} after the cut, 200 again {ready_after:?} after it was back; \
{} Updates under traffic ({} acknowledged, {faults} EI000 faults, slowest {slowest:?}); routing reloads reach B again {listener_after:?} after; \
proxy: {forwarded} connections forwarded, {dropped} dropped while down; test took {:?}",
        attempts.len(),
        attempts.len() - faults,
        t0.elapsed()
    );
    drop(b);
    drop(a);
    drop(proxy);
    drop(db);
}

// ---------------------------------------------------------------------------------
// 3. Consent, blocks and routing reloads reach the other node

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_change_reaches_the_other_node() {
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let idp = Idp::new();
    let journal = DemoProducer::start();
    let table = cluster_table(Some(&journal), None);
    let sections = format!(
        "{}{}{}[aggregation]\ndeadline_ms = 5000\n\n",
        store_section(&db.config.url, &db.config.schema),
        ei_section(false),
        idp.consent_section()
    );
    let a = Gateway::start(&node_config(&table, "vaxel-node-a", &sections));
    let b = Gateway::start(&node_config(&table, "vaxel-node-b", &sections));
    let client = consumer();
    register(&client, &a.url(), PATIENT, OWN_SOURCE).await;
    register(&client, &a.url(), PATIENT, OTHER_SOURCE).await;
    let doctor = idp.clinician("SE2321000016-DOCTOR");
    let ask_b = || async {
        let r = post(
            &client,
            &b.url(),
            journal_query(PATIENT),
            &[("x-vaxel-user-context", doctor.as_str())],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.describe());
        r
    };
    let own_only = vec![OWN_SOURCE.to_string(); 2];
    let mut both = vec![OWN_SOURCE.to_string(), OWN_SOURCE.to_string()];
    both.extend([OTHER_SOURCE.to_string(), OTHER_SOURCE.to_string()]);
    both.sort();

    // No consent yet: B withholds the other care giver's records.
    let r = ask_b().await;
    assert_eq!(record_sources(&r), own_only, "{}", r.describe());
    assert_eq!(withheld(&r), 2);

    // A consent registered through A: B shows the other care giver's records.
    idp.admin_post(
        &a,
        "/api/consents",
        json!({"patient": PATIENT, "care_giver": OWN_CG, "scope": ["care-documentation"]}),
    )
    .await;
    let consented = Instant::now();
    eventually("B applies A's consent", PROPAGATION_BOUND, || async {
        let r = ask_b().await;
        (record_sources(&r) == both && withheld(&r) == 0).then_some(())
    })
    .await;
    let consent_after = consented.elapsed();

    // A block on the other care giver through A: B withholds its records again.
    idp.admin_post(
        &a,
        "/api/blocks",
        json!({"patient": PATIENT, "care_giver": OTHER_CG}),
    )
    .await;
    let blocked = Instant::now();
    eventually("B applies A's block", PROPAGATION_BOUND, || async {
        let r = ask_b().await;
        (record_sources(&r) == own_only && withheld(&r) == 2).then_some(())
    })
    .await;
    let block_after = blocked.elapsed();

    // A routing reload on A: B reads its (changed) table file again.
    let before = b.status().await["routing_table"].clone();
    let a_before = a.status().await["routing_table"].clone();
    b.write_table(
        &table
            .clone()
            .route_for_consumer(SCHEDULE, "SE2321000016-NEW", "https://127.0.0.1:9/")
            .to_toml(),
    );
    let (code, body) = a.reload().await;
    let reloaded = Instant::now();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["other_nodes_told"], true, "{body}");
    let after = eventually("B reloads its routing table", PROPAGATION_BOUND, || async {
        let now = b.status().await["routing_table"].clone();
        (now["loaded_at"] != before["loaded_at"]).then_some(now)
    })
    .await;
    let reload_after = reloaded.elapsed();
    assert_eq!(
        after["routes"].as_u64(),
        before["routes"].as_u64().map(|n| n + 1),
        "B loaded the new table: before {before}, after {after}"
    );
    let a_after = a.status().await["routing_table"].clone();
    assert_eq!(
        a_after["routes"], a_before["routes"],
        "A's own file is unchanged"
    );
    println!(
        "cluster: on node B: consent after {consent_after:?}, block after {block_after:?}, routing reload after {reload_after:?} (bound {PROPAGATION_BOUND:?}); test took {:?}",
        t0.elapsed()
    );
    drop(b);
    drop(a);
    drop(db);
}
