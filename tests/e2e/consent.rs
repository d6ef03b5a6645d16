//! Consent, blocks and emergency access under SVOD/PDL through the real binary
//! (DESIGN.md decision table): aggregated GetCareDocumentation answers from three care
//! givers' sources, the end user's context in a signed JWT, consents and blocks
//! registered through the admin REST API, the records each user gets, the withheld
//! count, the access log (review API and `vaxel pdl-verify`).

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::harness::*;

const EI: &str = "SE0000000000-PDL-EI";
const NATIONAL: &str = "SE0000000000-PDL-NATIONAL";
const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
const ISSUER: &str = "https://idp.e2e.example";

/// The user's own care giver, another care giver, and a third one.
const OWN_CG: &str = "SE2321000016-OWN";
const OTHER_CG: &str = "SE2321000032-OTHER";
const THIRD_CG: &str = "SE2321000040-THIRD";
const OWN_UNIT: &str = "SE2321000016-OWN-U1";
const SOURCES: [(&str, &str, &str); 3] = [
    ("SE2321000016-OWN-JOURNAL", OWN_CG, OWN_UNIT),
    (
        "SE2321000032-OTHER-JOURNAL",
        OTHER_CG,
        "SE2321000032-OTHER-U1",
    ),
    (
        "SE2321000040-THIRD-JOURNAL",
        THIRD_CG,
        "SE2321000040-THIRD-U1",
    ),
];

struct Pdl {
    _producer: DemoProducer,
    gw: Gateway,
    key: EncodingKey,
    _keys: tempfile::TempDir,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Pdl {
    fn start() -> Pdl {
        let keys = tempfile::tempdir().unwrap();
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        let public = keys.path().join("idp.pub.pem");
        std::fs::write(&public, pair.public_key_pem()).unwrap();
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();

        let producer = DemoProducer::start();
        let mut table = Table::new()
            .route_for_consumer(UPDATE, EI, "local://engagement-index")
            .route_for_consumer(CARE_DOC, NATIONAL, "local://aggregating");
        for (src, cg, unit) in SOURCES {
            table = table.route_for_consumer(
                CARE_DOC,
                src,
                &producer.url(&format!("/journal?care_giver={cg}&care_unit={unit}")),
            );
        }
        let mut cfg = GatewayConfig::new(&table);
        cfg.extra_sections = format!(
            "[engagement_index]\nowner = \"{EI}\"\n\n[consent]\nenabled = true\n\n\
[[consent.issuers]]\nissuer = \"{ISSUER}\"\naudience = [\"vaxel\"]\nalgorithms = [\"ES256\"]\npublic_key_pem = {:?}\n",
            public.display().to_string()
        );
        let gw = Gateway::start(&cfg);
        Pdl {
            _producer: producer,
            gw,
            key,
            _keys: keys,
        }
    }

    fn token(&self, claims: Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key).unwrap()
    }

    /// A clinician of `care_giver`, optionally declaring an emergency.
    fn user(&self, care_giver: &str, unit: &str, emergency: Option<&str>) -> String {
        let mut c = json!({
            "iss": ISSUER, "aud": "vaxel", "sub": format!("{care_giver}-DOCTOR"),
            "care_unit": unit, "care_giver": care_giver, "purpose": "care",
            "exp": now() + 300, "nbf": now() - 5, "jti": uuid_like(),
        });
        if let Some(reason) = emergency {
            c["emergency_reason"] = json!(reason);
        }
        self.token(c)
    }

    fn admin(&self) -> String {
        self.token(json!({
            "iss": ISSUER, "aud": "vaxel", "sub": "SE2321000016-ADMIN",
            "care_unit": OWN_UNIT, "care_giver": OWN_CG, "purpose": "administration",
            "roles": ["consent-admin", "pdl-auditor"],
            "exp": now() + 300, "nbf": now() - 5,
        }))
    }

    async fn register(&self, patient: &str) {
        let mut tx = String::new();
        for (src, _, _) in SOURCES {
            tx.push_str(&format!(
                "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{patient}</e:registeredResidentIdentification>\
<e:serviceDomain>riv:clinicalprocess:healthcond:description</e:serviceDomain><e:categorization>voo</e:categorization>\
<e:logicalAddress>{src}</e:logicalAddress><e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId><e:sourceSystem>{src}</e:sourceSystem>\
<e:dataController>SE2321000016</e:dataController></e:engagement></u:engagementTransaction>"
            ));
        }
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"{UPDATE}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{EI}</LogicalAddress></soap:Header>\
<soap:Body><u:Update>{tx}</u:Update></soap:Body></soap:Envelope>"
        );
        let r = post(&consumer(), &self.gw.url(), body, &[]).await;
        assert_eq!(r.status, 200, "{}", r.describe());
    }

    /// The aggregated answer for `patient` as the user of `token` (None: no token).
    async fn ask(&self, patient: &str, token: Option<&str>) -> Reply {
        self.ask_at(NATIONAL, patient, token).await
    }

    /// GetCareDocumentation at `address`: NATIONAL (aggregated) or one source
    /// (a virtualised call straight to its producer).
    async fn ask_at(&self, address: &str, patient: &str, token: Option<&str>) -> Reply {
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{address}</LogicalAddress></soap:Header>\
<soap:Body><GetCareDocumentation xmlns=\"{CARE_DOC}\" xmlns:c=\"urn:riv:clinicalprocess:healthcond:description:2\">\
<patientId><c:id>{patient}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId></GetCareDocumentation></soap:Body></soap:Envelope>"
        );
        let headers: Vec<(&str, &str)> = token
            .map(|t| vec![("x-vaxel-user-context", t)])
            .unwrap_or_default();
        post(&consumer(), &self.gw.url(), body, &headers).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let r = admin_client()
            .post(self.gw.admin(path))
            .bearer_auth(self.admin())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("admin API answers");
        let status = r.status();
        let v: Value =
            serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "{path}: HTTP {status}: {v}\n{}",
            self.gw.logs()
        );
        v
    }
}

fn uuid_like() -> String {
    format!("jti-{}", now())
}

fn admin_client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// Source systems of the records in a merged answer, sorted (one per record).
pub(crate) fn record_sources(r: &Reply) -> Vec<String> {
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

pub(crate) fn withheld(r: &Reply) -> usize {
    r.header("x-vaxel-withheld-records")
        .and_then(|v| v.parse().ok())
        .expect("x-vaxel-withheld-records header")
}

fn two_each(sources: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = sources
        .iter()
        .flat_map(|s| [s.to_string(), s.to_string()])
        .collect();
    v.sort();
    v
}

/// The decision table, row by row, over real aggregated answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_table_over_aggregated_answers() {
    let p = Pdl::start();
    let patient = "191212121212";
    p.register(patient).await;
    let (own, other, third) = (SOURCES[0].0, SOURCES[1].0, SOURCES[2].0);
    let doctor = p.user(OWN_CG, OWN_UNIT, None);

    // Row 1 + 5: same care giver allowed; other care givers without consent denied.
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(record_sources(&r), two_each(&[own]), "{}", r.describe());
    assert_eq!(withheld(&r), 4);
    assert!(
        r.text().contains("<count>4</count>"),
        "withheld count in ProcessingStatus: {}",
        r.describe()
    );
    assert!(
        !r.text().contains(&format!("{other}-care-documentation")),
        "no content of withheld records leaks"
    );
    // The decisions and withheld records are counted for operators (specs/metrics.md).
    let (status, metrics) = p.gw.admin_get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "vaxel_consent_decisions_total{decision=\"allowed\",reason=\"same-care-giver\"} 2",
        "vaxel_consent_decisions_total{decision=\"denied\",reason=\"no-consent\"} 4",
        "vaxel_consent_withheld_records_total{information_set=\"care-documentation\"} 4",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    // Row 2: consent for the user's care giver → other care givers' records allowed.
    let consent = p
        .admin_post(
            "/api/consents",
            json!({"patient": patient, "care_giver": OWN_CG, "scope": ["care-documentation"]}),
        )
        .await;
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(
        record_sources(&r),
        two_each(&[own, other, third]),
        "{}",
        r.describe()
    );
    assert_eq!(withheld(&r), 0);

    // Row 4: a block on the third care giver wins over the consent.
    p.admin_post(
        "/api/blocks",
        json!({"patient": patient, "care_giver": THIRD_CG}),
    )
    .await;
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(
        record_sources(&r),
        two_each(&[own, other]),
        "{}",
        r.describe()
    );
    assert_eq!(withheld(&r), 2);

    // Row 3: consent revoked, emergency declared → other allowed (flagged); the block
    // still wins over the emergency.
    let id = consent["id"].as_str().expect("consent id");
    p.admin_post(&format!("/api/consents/{id}/revoke"), json!({}))
        .await;
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(
        record_sources(&r),
        two_each(&[own]),
        "consent revoked: {}",
        r.describe()
    );
    let emergency = p.user(OWN_CG, OWN_UNIT, Some("unconscious patient in the ER"));
    let r = p.ask(patient, Some(&emergency)).await;
    assert_eq!(
        record_sources(&r),
        two_each(&[own, other]),
        "{}",
        r.describe()
    );
    assert_eq!(withheld(&r), 2);

    // Row 1 with an internal block (inre spärr, PDL 4:4): a block on the own unit U1
    // withholds its records from the care giver's other units, not from U1 itself.
    p.admin_post(
        "/api/blocks",
        json!({"patient": patient, "care_unit": OWN_UNIT}),
    )
    .await;
    let colleague = p.user(OWN_CG, "SE2321000016-OWN-U2", None);
    let r = p.ask(patient, Some(&colleague)).await;
    assert_eq!(record_sources(&r), Vec::<String>::new(), "{}", r.describe());
    assert_eq!(withheld(&r), 6);
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(record_sources(&r), two_each(&[own]), "{}", r.describe());

    // The access log: "who has read my data", every decision, the emergency flagged.
    // Entries other than emergency ones are written in batches off the request path, so
    // the review may lag the answers by a moment.
    let expected = [
        (own, "allowed", "same-care-giver"),
        (other, "denied", "no-consent"),
        (other, "allowed", "consent"),
        (third, "denied", "blocked"),
        (other, "emergency", "emergency"),
        (own, "denied", "blocked-care-unit"),
    ];
    let deadline = std::time::Instant::now() + PATIENCE;
    let entries = loop {
        let v: Value = admin_client()
            .get(p.gw.admin(&format!("/api/access-log?patient={patient}")))
            .bearer_auth(p.admin())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).expect("JSON"))
            .unwrap();
        let entries = v["entries"].as_array().expect("entries").clone();
        let decisions: Vec<(String, String, String)> = entries
            .iter()
            .map(|e| {
                (
                    e["entry"]["source_system_hsa_id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    e["entry"]["decision"].as_str().unwrap_or("").to_string(),
                    e["entry"]["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let missing: Vec<_> = expected
            .iter()
            .filter(|x| !decisions.contains(&(x.0.to_string(), x.1.to_string(), x.2.to_string())))
            .collect();
        if missing.is_empty() {
            break entries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "access log lacks {missing:?}: {decisions:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let emergency_entry = entries
        .iter()
        .find(|e| e["entry"]["decision"] == "emergency")
        .unwrap();
    assert_eq!(
        emergency_entry["entry"]["emergency_reason"],
        "unconscious patient in the ER"
    );

    // The chain is intact (the independent CLI check).
    let out = Command::new(VAXEL)
        .arg("pdl-verify")
        .arg("--config")
        .arg(p.gw.dir.path().join("vaxel.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdl-verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Missing, expired, tampered and wrong-audience tokens get VX001 naming the check,
/// without echoing the token; no source is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_user_context_is_refused_before_any_source_is_asked() {
    let p = Pdl::start();
    let patient = "191212121212";
    p.register(patient).await;
    let good = p.user(OWN_CG, OWN_UNIT, None);
    let expired = p.token(json!({
        "iss": ISSUER, "aud": "vaxel", "sub": "U", "care_unit": OWN_UNIT, "care_giver": OWN_CG,
        "purpose": "care", "exp": now() - 3600, "nbf": now() - 7200,
    }));
    let wrong_audience = p.token(json!({
        "iss": ISSUER, "aud": "someone-else", "sub": "U", "care_unit": OWN_UNIT,
        "care_giver": OWN_CG, "purpose": "care", "exp": now() + 300,
    }));
    // Payload swapped for one claiming another care giver, signature kept.
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let forged = p.user(OTHER_CG, "X", None);
    parts[1] = forged.split('.').nth(1).unwrap().to_string();
    let tampered = parts.join(".");
    for (name, token, check) in [
        ("missing", None, "missing"),
        ("expired", Some(expired.as_str()), "expired"),
        ("audience", Some(wrong_audience.as_str()), "wrong-audience"),
        ("tampered", Some(tampered.as_str()), "bad-signature"),
        ("garbage", Some("not-a-jwt"), "malformed"),
    ] {
        let r = p.ask(patient, token).await;
        assert_eq!(r.status, 500, "{name}: {}", r.describe());
        assert_eq!(r.header("x-vp-fault-code"), Some("VX001"), "{name}");
        let fault = r.faultstring().unwrap_or_default();
        // specs/user-context.md: `VX001 [instance-id] user context refused (<check>): <message>`.
        let expected = format!(
            "VX001 [{}] user context refused ({check}): ",
            p.gw.instance_id
        );
        assert!(
            fault.starts_with(&expected),
            "{name}: the fault names the check: {fault}"
        );
        if let Some(t) = token {
            assert!(
                !fault.contains(t),
                "{name}: the token is not echoed: {fault}"
            );
        }
        assert!(
            !r.text().contains("careDocumentation"),
            "{name}: no records: {}",
            r.describe()
        );
    }
    // /status counts VX001 like every other code.
    assert_eq!(p.gw.status().await["counts"]["faults"]["VX001"], 5);
}

/// A virtualised call straight to another care giver's producer is checked the same
/// way: records cut out of the producer's own answer (the rest kept byte for byte).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtualised_journal_call_is_checked_record_by_record() {
    let p = Pdl::start();
    let patient = "191212121212";
    let other = SOURCES[1].0;
    let doctor = p.user(OWN_CG, OWN_UNIT, None);

    let r = p.ask_at(other, patient, None).await;
    assert_eq!(
        r.header("x-vp-fault-code"),
        Some("VX001"),
        "{}",
        r.describe()
    );

    let r = p.ask_at(other, patient, Some(&doctor)).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(record_sources(&r), Vec::<String>::new(), "{}", r.describe());
    assert_eq!(withheld(&r), 2);
    let text = r.text();
    assert!(
        text.contains("GetCareDocumentationResponse") && text.contains("resultCode>OK<"),
        "the producer's envelope stays: {text}"
    );
    assert!(
        roxmltree::Document::parse(&text).is_ok(),
        "well-formed: {text}"
    );

    p.admin_post(
        "/api/consents",
        json!({"patient": patient, "care_giver": OWN_CG, "scope": ["care-documentation"]}),
    )
    .await;
    let r = p.ask_at(other, patient, Some(&doctor)).await;
    assert_eq!(record_sources(&r), two_each(&[other]), "{}", r.describe());
    assert_eq!(withheld(&r), 0);
}

/// The operator's CLI on the same store: a consent added with `vaxel consent` counts
/// after SIGHUP, `list` shows it, and `vaxel access-log` lists the patient's accesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_registers_consents_and_reviews_the_log() {
    let p = Pdl::start();
    let patient = "191212121212";
    p.register(patient).await;
    let config = p.gw.dir.path().join("vaxel.toml");
    let cli = |args: &[&str]| {
        let out = Command::new(VAXEL)
            .arg(args[0])
            .arg("--config")
            .arg(&config)
            .args(&args[1..])
            .output()
            .expect("vaxel runs");
        assert!(
            out.status.success(),
            "vaxel {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let doctor = p.user(OWN_CG, OWN_UNIT, None);
    let r = p.ask(patient, Some(&doctor)).await;
    assert_eq!(withheld(&r), 4, "{}", r.describe());

    let added: Value = serde_json::from_str(&cli(&[
        "consent",
        "add",
        "--patient",
        patient,
        "--care-giver",
        OWN_CG,
        "--by",
        "SE2321000016-OPERATOR",
    ]))
    .expect("JSON");
    let id = added["id"].as_str().expect("id").to_string();
    let listed = cli(&["consent", "list", "--patient", patient]);
    assert!(listed.contains(&id), "{listed}");

    // The running gateway reloads its consent index on SIGHUP.
    p.gw.proc.signal("HUP");
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let r = p.ask(patient, Some(&doctor)).await;
        if withheld(&r) == 0 {
            assert_eq!(record_sources(&r).len(), 6, "{}", r.describe());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the CLI's consent did not take effect after SIGHUP: {}",
            r.describe()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Review from the CLI (JSON lines), once the batched entries are written.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let lines = cli(&["access-log", "--patient", patient]);
        if lines.contains("\"reason\":\"consent\"") && lines.contains("\"no-consent\"") {
            for line in lines.lines() {
                let v: Value = serde_json::from_str(line).expect("JSON line");
                assert_eq!(v["entry"]["patient_id"], patient, "{line}");
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vaxel access-log lacks the decisions: {lines}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
