//! The citizen's side (specs/citizen.md) under test: identity providers whose keys the
//! test holds (`Issuer`: citizens' login tokens, care staff's user contexts), a gateway
//! with `[citizen]` on its own listener, consent checking for care staff and two journal
//! sources of two care givers (`CitizenGateway`; `CitizenOptions` change its deadline,
//! `[citizen]` settings and sources), and `vaxel serve --demo` with its citizen listener
//! (`ServeDemo`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{
    admin_get_status, client_in, client_with, consumer, free_port, post, tcp_accepts, DemoProducer,
    Gateway, GatewayConfig, Http, Pki, Proc, Reply, Table, CARE_DOC, PATIENCE, VAXEL,
};

/// The citizens' identity provider (`[[citizen.issuers]]`) and the audience its tokens name.
pub const CITIZEN_ISSUER: &str = "https://idp.citizen.e2e.example";
pub const CITIZEN_AUDIENCE: &str = "vaxel-citizen";
/// The care staff's identity provider (`[[consent.issuers]]`).
pub const STAFF_ISSUER: &str = "https://idp.staff.e2e.example";
/// The system the gateway acts as towards the sources for the citizen listener
/// (`[citizen] consumer_id`); the routing table authorises it like any consumer.
pub const CITIZEN_CONSUMER_ID: &str = "SE0000000000-CITIZENPORTAL";
/// The engagement index and the aggregating service's address in the test table.
pub const CITIZEN_EI: &str = "SE0000000000-CITIZEN-EI";
pub const CITIZEN_NATIONAL: &str = "SE0000000000-CITIZEN-NATIONAL";
const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";

/// Two journal source systems of two care givers: (logical address = source system,
/// care giver, care unit). Each answers every information set with two records.
pub const CITIZEN_SOURCES: [(&str, &str, &str); 2] = [
    (
        "SE2321000016-OWN-JOURNAL",
        "SE2321000016-OWN",
        "SE2321000016-OWN-U1",
    ),
    (
        "SE2321000032-OTHER-JOURNAL",
        "SE2321000032-OTHER",
        "SE2321000032-OTHER-U1",
    ),
];

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// An ES256 (P-256) identity provider: its public key in a file the gateway reads, the
/// private key in the test.
pub struct Issuer {
    dir: tempfile::TempDir,
    key: EncodingKey,
}

impl Issuer {
    pub fn new() -> Issuer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        std::fs::write(dir.path().join("idp.pub.pem"), pair.public_key_pem()).expect("write key");
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key");
        Issuer { dir, key }
    }

    pub fn public_key(&self) -> PathBuf {
        self.dir.path().join("idp.pub.pem")
    }

    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &self.key).expect("sign")
    }

    /// An issuer table (`[[consent.issuers]]`, `[[citizen.issuers]]`) for this key.
    pub fn toml(&self, table: &str, issuer: &str, audience: &str) -> String {
        format!(
            "[[{table}]]\nissuer = \"{issuer}\"\naudience = [\"{audience}\"]\nalgorithms = [\"ES256\"]\npublic_key_pem = {:?}\n",
            self.public_key().display().to_string()
        )
    }

    /// A citizen's login token: `sub` the personal identity number, `loa` 3.
    pub fn citizen_token(&self, person: &str) -> String {
        let now = unix_now();
        self.sign(&json!({
            "iss": CITIZEN_ISSUER, "aud": CITIZEN_AUDIENCE, "sub": person, "loa": 3,
            "iat": now, "nbf": now - 5, "exp": now + 900,
        }))
    }

    /// A clinician's user context at `care_giver`/`unit`, optionally in an emergency.
    pub fn staff_token(&self, care_giver: &str, unit: &str, emergency: Option<&str>) -> String {
        let now = unix_now();
        let mut c = json!({
            "iss": STAFF_ISSUER, "aud": "vaxel", "sub": format!("{care_giver}-DOCTOR"),
            "care_unit": unit, "care_giver": care_giver, "purpose": "care",
            "exp": now + 600, "nbf": now - 5,
        });
        if let Some(reason) = emergency {
            c["emergency_reason"] = json!(reason);
        }
        self.sign(&c)
    }

    /// An auditor's user context (role `pdl-auditor`: the admin access-log review API).
    pub fn auditor_token(&self) -> String {
        let now = unix_now();
        self.sign(&json!({
            "iss": STAFF_ISSUER, "aud": "vaxel", "sub": "SE2321000016-AUDITOR",
            "care_unit": CITIZEN_SOURCES[0].2, "care_giver": CITIZEN_SOURCES[0].1,
            "purpose": "audit", "roles": ["pdl-auditor"], "exp": now + 600, "nbf": now - 5,
        }))
    }
}

/// A valid Swedish personal identity number (12 digits, Luhn check digit) of someone
/// born on `born`, with birth number `serial` (0-999).
pub fn personal_number(born: chrono::NaiveDate, serial: u16) -> String {
    let nine = format!("{}{serial:03}", born.format("%y%m%d"));
    let sum: u32 = nine
        .bytes()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    format!(
        "{}{serial:03}{}",
        born.format("%Y%m%d"),
        (10 - sum % 10) % 10
    )
}

impl Default for Issuer {
    fn default() -> Self {
        Issuer::new()
    }
}

/// A source a [`CitizenGateway`] routes every information set to besides
/// [`CITIZEN_SOURCES`] (its care giver: the address's first 12 characters).
#[derive(Debug, Clone)]
pub enum ExtraSource {
    /// Routed to a loopback port nothing listens on: the source is down.
    Down(&'static str),
    /// The demo producer's journal, answering after `delay_ms`.
    Slow {
        address: &'static str,
        delay_ms: u64,
    },
}

impl ExtraSource {
    pub fn address(&self) -> &'static str {
        match self {
            ExtraSource::Down(a) | ExtraSource::Slow { address: a, .. } => a,
        }
    }
}

/// What [`CitizenGateway::start_with`] changes from [`CitizenGateway::start`].
#[derive(Debug, Clone, Default)]
pub struct CitizenOptions {
    /// `[aggregation] deadline_ms` (the overview's deadline too).
    pub deadline_ms: Option<u64>,
    /// `[citizen] guardian_age_limit` (0: guardian access off).
    pub guardian_age_limit: Option<u8>,
    /// `[[citizen.delays]]`: (information set, care giver, days).
    pub delays: Vec<(&'static str, &'static str, u64)>,
    /// Records each of [`CITIZEN_SOURCES`] answers per information set (the demo
    /// producer's default: 2).
    pub records: Option<usize>,
    pub extra_sources: Vec<ExtraSource>,
    /// Contracts routed to `local://aggregating` at [`CITIZEN_NATIONAL`] for the demo
    /// consumer besides GetCareDocumentation.
    pub aggregated: Vec<&'static str>,
    /// `[consent] enabled = false`: care staff's queries are not checked (and the
    /// citizen's consents and blocks are not served).
    pub consent_off: bool,
}

/// A gateway with the citizen's side on: `[citizen]` on its own listener (the demo
/// gateway certificate, no client certificates) acting as [`CITIZEN_CONSUMER_ID`],
/// consent checking for care staff (`[consent] enabled`), every information set at both
/// [`CITIZEN_SOURCES`] (the demo producer's `/journal`), and the patient's engagements
/// there.
pub struct CitizenGateway {
    pub gw: Gateway,
    pub citizen_port: u16,
    pub citizens: Issuer,
    pub staff: Issuer,
    _producer: DemoProducer,
}

impl CitizenGateway {
    /// Starts it and registers `patient`'s engagements at both sources.
    pub async fn start(patient: &str) -> CitizenGateway {
        CitizenGateway::start_with(patient, &CitizenOptions::default()).await
    }

    /// [`CitizenGateway::start`] with what `options` change: the aggregation deadline,
    /// `[citizen]` settings, sources besides [`CITIZEN_SOURCES`], more aggregated
    /// contracts. `patient`'s engagements are registered at every source.
    pub async fn start_with(patient: &str, options: &CitizenOptions) -> CitizenGateway {
        let citizens = Issuer::new();
        let staff = Issuer::new();
        let producer = DemoProducer::start();
        let mut table = Table::new()
            .route_for_consumer(UPDATE, CITIZEN_EI, "local://engagement-index")
            .route_for_consumer(CARE_DOC, CITIZEN_NATIONAL, "local://aggregating");
        for contract in options.aggregated.iter().filter(|c| **c != CARE_DOC) {
            table = table.route_for_consumer(contract, CITIZEN_NATIONAL, "local://aggregating");
        }
        let records = options
            .records
            .map(|n| format!("&records={n}"))
            .unwrap_or_default();
        for set in vaxel_adapters::all() {
            let contract = set.descriptor().contract_namespace;
            for (source, care_giver, unit) in CITIZEN_SOURCES {
                table = table
                    .route_for_consumer(
                        contract,
                        source,
                        &producer.url(&format!(
                            "/journal?care_giver={care_giver}&care_unit={unit}{records}"
                        )),
                    )
                    .authorize(CITIZEN_CONSUMER_ID, contract, source);
            }
            for extra in &options.extra_sources {
                let url = match extra {
                    ExtraSource::Down(_) => format!("https://127.0.0.1:{}/journal", free_port()),
                    ExtraSource::Slow { address, delay_ms } => producer.url(&format!(
                        "/journal?care_giver={cg}&care_unit={cg}-U1&delay_ms={delay_ms}",
                        cg = &address[..12]
                    )),
                };
                table = table
                    .route_for_consumer(contract, extra.address(), &url)
                    .authorize(CITIZEN_CONSUMER_ID, contract, extra.address());
            }
        }
        let citizen_port = free_port();
        let mut cfg = GatewayConfig::new(&table);
        let mut citizen_extra = String::new();
        if let Some(limit) = options.guardian_age_limit {
            citizen_extra.push_str(&format!("guardian_age_limit = {limit}\n"));
        }
        let mut delays = String::new();
        for (set, care_giver, days) in &options.delays {
            delays.push_str(&format!(
                "\n[[citizen.delays]]\ninformation_set = \"{set}\"\ncare_giver = \"{care_giver}\"\ndays = {days}\n"
            ));
        }
        let aggregation = options
            .deadline_ms
            .map(|ms| format!("[aggregation]\ndeadline_ms = {ms}\n\n"))
            .unwrap_or_default();
        cfg.extra_sections = format!(
            "{aggregation}[engagement_index]\nowner = \"{CITIZEN_EI}\"\n\n[consent]\nenabled = {consent}\n\n{staff}\n\
[citizen]\nenabled = true\nlisten = \"127.0.0.1:{citizen_port}\"\nconsumer_id = \"{CITIZEN_CONSUMER_ID}\"\n{citizen_extra}\n{citizens}{delays}",
            consent = !options.consent_off,
            staff = staff.toml("consent.issuers", STAFF_ISSUER, "vaxel"),
            citizens = citizens.toml("citizen.issuers", CITIZEN_ISSUER, CITIZEN_AUDIENCE),
        );
        let gw = Gateway::start(&cfg);
        let deadline = Instant::now() + PATIENCE;
        while !tcp_accepts(citizen_port) {
            assert!(
                Instant::now() < deadline,
                "the citizen listener 127.0.0.1:{citizen_port} did not open; the log:\n{}",
                gw.logs()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        let g = CitizenGateway {
            gw,
            citizen_port,
            citizens,
            staff,
            _producer: producer,
        };
        let mut sources: Vec<&str> = CITIZEN_SOURCES.iter().map(|s| s.0).collect();
        sources.extend(options.extra_sources.iter().map(ExtraSource::address));
        g.register_at(patient, &sources).await;
        g
    }

    /// The demo producer behind every journal source (to ask a source directly).
    pub fn producer(&self) -> &DemoProducer {
        &self._producer
    }

    /// `https://127.0.0.1:<citizen port><path>` (the demo gateway certificate names 127.0.0.1).
    pub fn citizen_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.citizen_port)
    }

    /// The patient's engagements: one per (service domain, categorization) of every
    /// adapter, at `sources` (logical address = source system), through the engagement
    /// index's own Update service.
    pub async fn register_at(&self, patient: &str, sources: &[&str]) {
        let mut seen = std::collections::BTreeSet::new();
        let mut tx = String::new();
        for set in vaxel_adapters::all() {
            let d = set.descriptor();
            if !seen.insert((d.ei_service_domain, d.ei_categorization)) {
                continue;
            }
            for source in sources {
                tx.push_str(&format!(
                    "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{patient}</e:registeredResidentIdentification>\
<e:serviceDomain>{domain}</e:serviceDomain><e:categorization>{cat}</e:categorization>\
<e:logicalAddress>{source}</e:logicalAddress><e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId><e:sourceSystem>{source}</e:sourceSystem>\
<e:dataController>{controller}</e:dataController></e:engagement></u:engagementTransaction>",
                    domain = d.ei_service_domain,
                    cat = d.ei_categorization,
                    controller = &source[..12],
                ));
            }
        }
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"{UPDATE}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{CITIZEN_EI}</LogicalAddress></soap:Header>\
<soap:Body><u:Update>{tx}</u:Update></soap:Body></soap:Envelope>"
        );
        let r = post(&consumer(), &self.gw.url(), body, &[]).await;
        assert_eq!(r.status, 200, "engagement Update: {}", r.describe());
    }

    /// GetCareDocumentation for `patient`, aggregated over both sources, as the care
    /// staff user of `token` (the demo consumer sends it on the service port).
    pub async fn staff_query(&self, patient: &str, token: &str) -> Reply {
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{CITIZEN_NATIONAL}</LogicalAddress></soap:Header>\
<soap:Body><GetCareDocumentation xmlns=\"{CARE_DOC}\" xmlns:c=\"urn:riv:clinicalprocess:healthcond:description:2\">\
<patientId><c:id>{patient}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId></GetCareDocumentation></soap:Body></soap:Envelope>"
        );
        post(
            &consumer(),
            &self.gw.url(),
            body,
            &[("x-vaxel-user-context", token)],
        )
        .await
    }

    /// `GET <path>` on the citizen listener (no client certificate), with a bearer
    /// token when given: (status, headers, body).
    pub async fn citizen_get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (u16, http::HeaderMap, String) {
        citizen_get(&self.citizen_url(path), token).await
    }
}

/// `GET url` without a client certificate, trusting the test CA, with a bearer token
/// when given: (status, headers, body).
pub async fn citizen_get(url: &str, token: Option<&str>) -> (u16, http::HeaderMap, String) {
    let mut req = client_with(None, Http::Negotiate).get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {}", super::error_chain(&e)));
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap_or_default())
}

/// `POST url` with a JSON `body` (sent as given, so malformed JSON can be sent), without
/// a client certificate, with a bearer token when given: (status, headers, body).
pub async fn citizen_post(
    url: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, http::HeaderMap, String) {
    let mut req = client_with(None, Http::Negotiate)
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {}", super::error_chain(&e)));
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap_or_default())
}

/// Source systems of the records in a merged GetCareDocumentation answer, sorted.
pub fn care_doc_sources(r: &Reply) -> Vec<String> {
    let text = r.text();
    let doc = roxmltree::Document::parse(&text).expect("well-formed answer");
    let mut v: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name((CARE_DOC, "careDocumentation")))
        .filter_map(|rec| {
            rec.descendants()
                .find(|n| n.tag_name().name() == "sourceSystemHSAid")
                .and_then(|n| n.text())
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// `vaxel serve --demo` in a temporary root, on free ports (its citizen listener too);
/// killed on drop.
pub struct ServeDemo {
    pub proc: Proc,
    pub listen: u16,
    pub citizen: u16,
    pub root: tempfile::TempDir,
}

impl ServeDemo {
    pub fn start() -> ServeDemo {
        let root = tempfile::tempdir().expect("tempdir");
        for attempt in 0..3 {
            let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
            let (listen, admin, producer, peer, peer_admin, citizen) =
                (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]);
            let mut cmd = Command::new(VAXEL);
            // An absolute root: tests/e2e/demo.rs covers the README's relative one.
            cmd.current_dir(root.path())
                .args(["serve", "--demo", "--demo-root"])
                .arg(root.path());
            for (flag, port) in [
                ("--listen", listen),
                ("--admin-listen", admin),
                ("--producer-listen", producer),
                ("--peer-listen", peer),
                ("--peer-admin-listen", peer_admin),
                ("--citizen-listen", citizen),
            ] {
                cmd.arg(flag).arg(format!("127.0.0.1:{port}"));
            }
            let mut proc = Proc::spawn(
                "vaxel serve --demo",
                &mut cmd,
                root.path().join(format!("demo-{attempt}.log")),
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && proc.exited().is_none() {
                if admin_get_status(admin, "/ready") == Some(200)
                    && tcp_accepts(listen)
                    && tcp_accepts(producer)
                    && tcp_accepts(citizen)
                {
                    return ServeDemo {
                        proc,
                        listen,
                        citizen,
                        root,
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            eprintln!("demo attempt {attempt} did not come up:\n{}", proc.logs());
        }
        panic!("`vaxel serve --demo` did not become ready with its citizen listener");
    }

    pub fn citizen_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.citizen)
    }

    /// The PKI the demo generated in its root.
    pub fn pki(&self) -> Pki {
        Pki {
            dir: self.root.path().join("certs-example").join("out"),
        }
    }

    /// `GET <path>` on the demo's citizen listener (no client certificate, trusting the
    /// demo's CA), with a bearer token when given: (status, body).
    pub async fn citizen_get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let url = self.citizen_url(path);
        let mut req = client_in(&self.pki(), None, Http::Negotiate).get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {}", super::error_chain(&e)));
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }
}
