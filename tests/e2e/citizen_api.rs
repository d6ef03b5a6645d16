//! The citizen API (specs/citizen.md, specs/openapi-citizen.yaml, specs/user-context.md
//! "The citizen's token") over real HTTP against the real binary, without a browser:
//! the citizen listener (TLS without client certificates, trusting the test CA) of a
//! gateway with two care givers' journal sources (`harness/citizen.rs`).
//!
//! This file: who is asking. Refused tokens show nothing (401/403 with the check named);
//! the patient is the token's, whatever the request names; malformed consents and blocks
//! are 400 naming the field and store nothing; a guardian reads the child's records and
//! is logged as the guardian. `citizen_api_sources.rs`: the sources, the patient-facing
//! rules, the full records and the schemas.

use chrono::Datelike;
use serde_json::{json, Value};

use crate::harness::*;

const OVERVIEW: &str = "/citizen/v1/overview";
const CONSENTS: &str = "/citizen/v1/consents";
const ACCESS_LOG: &str = "/citizen/v1/access-log";

/// A citizen token's claims for `sub`, valid now at level of assurance 3; tests change
/// them to make bad ones.
fn claims(sub: &str) -> Value {
    let now = unix_now();
    json!({
        "iss": CITIZEN_ISSUER, "aud": CITIZEN_AUDIENCE, "sub": sub, "loa": 3,
        "iat": now, "nbf": now - 5, "exp": now + 900,
    })
}

/// `claims` changed by `f`, signed by the citizens' identity provider.
fn token_with(cg: &CitizenGateway, sub: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut c = claims(sub);
    f(&mut c);
    cg.citizens.sign(&c)
}

/// A child's personal number: born on 15 January `years_ago` years ago (so aged
/// `years_ago - 1` or `years_ago` today).
fn child(years_ago: i32, serial: u16) -> String {
    let today = chrono::Local::now().date_naive();
    personal_number(
        chrono::NaiveDate::from_ymd_opt(today.year() - years_ago, 1, 15).expect("a date"),
        serial,
    )
}

fn json_body(what: &str, body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"))
}

/// Another patient (a valid personal number that is not [`PATIENT`]).
fn other_patient() -> String {
    personal_number(chrono::NaiveDate::from_ymd_opt(1985, 3, 4).unwrap(), 123)
}

async fn get(cg: &CitizenGateway, path: &str, token: &str) -> (u16, http::HeaderMap, String) {
    cg.citizen_get(path, Some(token)).await
}

async fn post_json(cg: &CitizenGateway, path: &str, token: &str, body: &str) -> (u16, String) {
    let (status, _, body) = citizen_post(&cg.citizen_url(path), Some(token), body).await;
    (status, body)
}

/// `GET /citizen/v1/consents` as JSON (200 asserted).
async fn consents(cg: &CitizenGateway, token: &str) -> Value {
    let (status, _, body) = get(cg, CONSENTS, token).await;
    assert_eq!(status, 200, "GET consents: {body}");
    json_body("consents", &body)
}

/// The token is refused: `status`, `error` = `check`, `WWW-Authenticate` on a 401 (with
/// the check, or the step-up challenge) and none on a 403, and nothing of the patient's
/// in the body: only `error` and `message`, no personal number, no source, no record.
fn assert_refused(
    what: &str,
    (status, headers, body): &(u16, http::HeaderMap, String),
    expected: (u16, &str),
    secrets: &[&str],
) {
    assert_eq!(*status, expected.0, "{what}: {body}");
    let v = json_body(what, body);
    assert_eq!(v["error"], expected.1, "{what}: {body}");
    let keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["error", "message"],
        "{what}: nothing but the reason: {body}"
    );
    for secret in secrets
        .iter()
        .chain(&["JOURNAL", "SE2321", "care-documentation-"])
    {
        assert!(
            !body.contains(secret),
            "{what}: the body holds {secret}: {body}"
        );
    }
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    match (expected.0, expected.1) {
        (401, "insufficient-assurance") => assert_eq!(
            challenge,
            Some("Bearer error=\"insufficient_user_authentication\", error_description=\"insufficient-assurance\""),
            "{what}: the step-up challenge (RFC 9470)"
        ),
        (401, check) => assert_eq!(
            challenge,
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{check}\"").as_str()),
            "{what}"
        ),
        _ => assert_eq!(challenge, None, "{what}: no challenge on a 403"),
    }
}

/// Every kind of bad token, on every path: refused with the check named, nothing of the
/// patient's answered, nothing stored and nothing read (the patient's own extract, read
/// with a good token afterwards, is empty: no read was logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_the_check_named_and_show_nothing() {
    let options = CitizenOptions {
        guardian_age_limit: Some(13),
        ..CitizenOptions::default()
    };
    let cg = CitizenGateway::start_with(PATIENT, &options).await;
    let older_child = child(15, 321);
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let good = cg.citizens.citizen_token(PATIENT);
    let parts: Vec<&str> = good.split('.').collect();
    // The payload changed to another person, the signature kept: the classic forgery.
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&claims(&other_patient())),
        parts[2]
    );
    // One signature character flipped (in the middle: every bit there is significant).
    let mut sig: Vec<u8> = parts[2].bytes().collect();
    sig[20] = if sig[20] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).unwrap()
    );
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(PATIENT))
    );
    let bad: Vec<(&str, String, (u16, &str))> = vec![
        (
            "another audience (the care staff's)",
            token_with(&cg, PATIENT, |c| c["aud"] = json!("vaxel")),
            (401, "wrong-audience"),
        ),
        (
            "expired an hour ago",
            token_with(&cg, PATIENT, |c| {
                c["exp"] = json!(unix_now() - 3600);
                c["nbf"] = json!(unix_now() - 7200);
            }),
            (401, "expired"),
        ),
        (
            "level of assurance 2",
            token_with(&cg, PATIENT, |c| c["loa"] = json!(2)),
            (401, "insufficient-assurance"),
        ),
        (
            "no loa claim",
            token_with(&cg, PATIENT, |c| {
                c.as_object_mut().unwrap().remove("loa");
            }),
            (401, "missing-claim"),
        ),
        ("a forged payload", forged, (401, "bad-signature")),
        ("a flipped signature", flipped, (401, "bad-signature")),
        ("alg none", unsigned, (401, "wrong-algorithm")),
        (
            "guardian of a 14-15 year old (limit 13)",
            token_with(&cg, PATIENT, |c| c["guardian_of"] = json!(older_child)),
            (403, "child-over-age-limit"),
        ),
        (
            "sub with a wrong check digit",
            token_with(&cg, "191212121213", |_| {}),
            (401, "invalid-subject"),
        ),
        (
            "sub an HSA id",
            token_with(&cg, "SE2321000016-DOCTOR", |_| {}),
            (401, "invalid-subject"),
        ),
    ];
    let (own_src, own_cg, _) = CITIZEN_SOURCES[0];
    let record = format!(
        "/citizen/v1/records?information_set=care-documentation&logical_address={own_src}&record_id={own_src}-care-documentation-1"
    );
    let secrets = [PATIENT, older_child.as_str(), "19121212"];
    for (what, token, expected) in &bad {
        for path in ["/citizen/v1/me", OVERVIEW, &record, CONSENTS, ACCESS_LOG] {
            let r = get(&cg, path, token).await;
            assert_refused(&format!("{what}: GET {path}"), &r, *expected, &secrets);
        }
        let r = citizen_post(
            &cg.citizen_url(CONSENTS),
            Some(token),
            &json!({"care_giver": own_cg}).to_string(),
        )
        .await;
        assert_refused(&format!("{what}: POST consents"), &r, *expected, &secrets);
    }

    // Nothing was stored, nothing was read.
    assert_eq!(
        consents(&cg, &good).await,
        json!({"consents": [], "blocks": []})
    );
    let (status, _, body) = get(&cg, ACCESS_LOG, &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_body("extract", &body)["items"],
        json!([]),
        "no read was logged"
    );
    // The refused tokens' claim values never reach the gateway's log.
    let logs = cg.gw.logs();
    for secret in [PATIENT, older_child.as_str()] {
        assert!(!logs.contains(secret), "the gateway log holds {secret}");
    }
}

/// `guardian_age_limit = 0`: any guardian claim is 403 `guardian-not-allowed`, however
/// young the child; the same citizen without the claim is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_claim_is_refused_when_guardian_access_is_off() {
    let options = CitizenOptions {
        guardian_age_limit: Some(0),
        ..CitizenOptions::default()
    };
    let cg = CitizenGateway::start_with(PATIENT, &options).await;
    let young = child(5, 246);
    let token = token_with(&cg, PATIENT, |c| c["guardian_of"] = json!(young));
    for path in ["/citizen/v1/me", OVERVIEW, CONSENTS, ACCESS_LOG] {
        let r = get(&cg, path, &token).await;
        assert_refused(
            &format!("GET {path}"),
            &r,
            (403, "guardian-not-allowed"),
            &[PATIENT, &young],
        );
    }
    let (status, _, body) = get(&cg, "/citizen/v1/me", &cg.citizens.citizen_token(PATIENT)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body("me", &body)["acting_as"], "self");
}

/// The patient is the token's: another patient named in a consent or block request
/// (body or query) is 403 and changes nothing; another patient's consent id is 404 like
/// an unknown one; reading (me, overview, records, access log) with another patient in
/// the query is 403 before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_comes_from_the_token_only() {
    let cg = CitizenGateway::start(PATIENT).await;
    let other = other_patient();
    let [(own_src, own_cg, _), (other_src, other_cg, _)] = CITIZEN_SOURCES;
    // The other patient has records at one source only.
    cg.register_at(&other, &[other_src]).await;
    let mine = cg.citizens.citizen_token(PATIENT);
    let theirs = cg.citizens.citizen_token(&other);

    let (status, body) = post_json(
        &cg,
        CONSENTS,
        &theirs,
        &json!({"care_giver": own_cg}).to_string(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let their_consent = json_body("consent", &body);
    let their_id = their_consent["id"].as_str().expect("an id").to_string();
    let theirs_before = consents(&cg, &theirs).await;

    // Naming the other patient, in the body or the query: 403, nothing stored.
    for (path, body) in [
        (
            CONSENTS.to_string(),
            json!({"care_giver": other_cg, "patient": other}),
        ),
        (
            CONSENTS.to_string(),
            json!({"care_giver": other_cg, "patient_id": other}),
        ),
        (
            format!("{CONSENTS}?patient={other}"),
            json!({"care_giver": other_cg}),
        ),
        (
            "/citizen/v1/blocks".to_string(),
            json!({"care_giver": other_cg, "patient": other}),
        ),
    ] {
        let (status, answer) = post_json(&cg, &path, &mine, &body.to_string()).await;
        assert_eq!(status, 403, "POST {path} {body}: {answer}");
        assert!(
            !answer.contains(&other),
            "the refusal does not echo the number: {answer}"
        );
    }
    let (status, _, body) = get(&cg, &format!("{CONSENTS}?patient_id={other}"), &mine).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        consents(&cg, &mine).await,
        json!({"consents": [], "blocks": []})
    );
    assert_eq!(
        consents(&cg, &theirs).await,
        theirs_before,
        "theirs unchanged"
    );

    // Another patient's consent id: answered exactly as an unknown id, and not revoked.
    let (status, answer) =
        post_json(&cg, &format!("{CONSENTS}/{their_id}/revoke"), &mine, "").await;
    assert_eq!(status, 404, "{answer}");
    let (status, unknown) = post_json(&cg, &format!("{CONSENTS}/999999/revoke"), &mine, "").await;
    assert_eq!(
        (status, &unknown),
        (404, &answer),
        "the same as an unknown id"
    );
    assert_eq!(
        consents(&cg, &theirs).await,
        theirs_before,
        "theirs unchanged"
    );
    assert_eq!(theirs_before["consents"][0]["revoked_at"], Value::Null);

    // Reading with another patient (or a malformed one) in the query: 403 before
    // anything is read (the other's log extract, below, stays empty).
    let record = format!(
        "/citizen/v1/records?information_set=care-documentation&logical_address={other_src}&record_id={other_src}-care-documentation-1"
    );
    for path in ["/citizen/v1/me", OVERVIEW, &record, ACCESS_LOG] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let others = [
            format!("patient={other}"),
            format!("patient_id={other}"),
            "patient=19121212-1212".to_string(),
            format!("patient={PATIENT}&patient={other}"),
        ];
        for query in others {
            let asked = format!("{path}{sep}{query}");
            let (status, _, body) = get(&cg, &asked, &mine).await;
            assert_eq!(status, 403, "{asked} names another patient: {body}");
            assert_eq!(
                json_body(&asked, &body)["error"],
                "another-patient",
                "{body}"
            );
            for secret in [other.as_str(), PATIENT, "JOURNAL"] {
                assert!(!body.contains(secret), "{asked}: nothing read: {body}");
            }
        }
    }
    // Naming oneself is allowed and answers as without it.
    let (status, _, body) = get(&cg, &format!("{OVERVIEW}?patient={PATIENT}"), &mine).await;
    assert_eq!(status, 200, "{body}");
    let overview = json_body("overview", &body);
    assert_eq!(overview["patient"], PATIENT);
    let from = |src: &str| {
        overview["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["source"]["logical_address"] == src)
            .count()
    };
    assert!(
        from(own_src) > 0 && from(other_src) > 0,
        "both sources: {overview}"
    );

    // The reads are logged as the token's patient's, never as the other's (checked once
    // the patient's are written: the log is written in order).
    let items = eventually("the reads in the patient's extract", PATIENCE, || async {
        let (_, _, body) = get(&cg, ACCESS_LOG, &mine).await;
        let v = json_body("extract", &body);
        (!v["items"].as_array()?.is_empty()).then_some(v["items"].clone())
    })
    .await;
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["user_role"] == "citizen"),
        "{items}"
    );
    let (status, _, body) = get(&cg, ACCESS_LOG, &theirs).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_body("extract", &body)["items"],
        json!([]),
        "nothing of theirs was read"
    );
}

/// Malformed consents and blocks: 400 naming the field, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_consents_and_blocks_are_400_naming_the_field_and_store_nothing() {
    let cg = CitizenGateway::start(PATIENT).await;
    let token = cg.citizens.citizen_token(PATIENT);
    let own_cg = CITIZEN_SOURCES[0].1;
    let soon =
        |minutes: i64| (chrono::Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339();
    let cases: Vec<(&str, &str, String)> = vec![
        (CONSENTS, "body", "not JSON at all".into()),
        (CONSENTS, "body", "[1, 2]".into()),
        (
            CONSENTS,
            "care_giver",
            json!({"care_giver": 42}).to_string(),
        ),
        (CONSENTS, "care_giver", json!({}).to_string()),
        (
            CONSENTS,
            "care_giver",
            json!({"care_giver": "not an HSA id"}).to_string(),
        ),
        (
            CONSENTS,
            "scope",
            json!({"care_giver": own_cg, "scope": "everything"}).to_string(),
        ),
        (
            CONSENTS,
            "scope",
            json!({"care_giver": own_cg, "scope": ["no-such-set"]}).to_string(),
        ),
        (
            CONSENTS,
            "scope",
            json!({"care_giver": own_cg, "scope": []}).to_string(),
        ),
        (
            CONSENTS,
            "kind",
            json!({"care_giver": own_cg, "kind": "emergency"}).to_string(),
        ),
        (
            CONSENTS,
            "valid_to",
            json!({"care_giver": own_cg, "valid_to": "tomorrow"}).to_string(),
        ),
        (
            CONSENTS,
            "valid_to",
            json!({"care_giver": own_cg, "valid_from": soon(60), "valid_to": soon(30)}).to_string(),
        ),
        (
            CONSENTS,
            "valid_from",
            json!({"care_giver": own_cg, "valid_from": soon(-60)}).to_string(),
        ),
        (
            CONSENTS,
            "valid_too",
            json!({"care_giver": own_cg, "valid_too": soon(30)}).to_string(),
        ),
        ("/citizen/v1/blocks", "body", "{\"care_giver\":".into()),
        ("/citizen/v1/blocks", "care_giver", json!({}).to_string()),
        (
            "/citizen/v1/blocks",
            "care_unit",
            json!({"care_unit": ""}).to_string(),
        ),
        (
            "/citizen/v1/blocks",
            "valid_from",
            json!({"care_giver": own_cg, "valid_from": soon(1)}).to_string(),
        ),
        (
            "/citizen/v1/blocks",
            "valid_to",
            json!({"care_giver": own_cg, "valid_to": soon(-1)}).to_string(),
        ),
        (
            "/citizen/v1/blocks",
            "reason",
            json!({"care_giver": own_cg, "reason": "  "}).to_string(),
        ),
    ];
    for (path, field, body) in &cases {
        let (status, answer) = post_json(&cg, path, &token, body).await;
        assert_eq!(status, 400, "POST {path} {body}: {answer}");
        let v = json_body("error", &answer);
        assert_eq!(v["field"], *field, "POST {path} {body}: {answer}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    assert_eq!(
        consents(&cg, &token).await,
        json!({"consents": [], "blocks": []}),
        "nothing stored"
    );
}

/// A guardian acting for a child under the limit: `/me` says so, the overview is the
/// child's records, and the reads are logged about the child, by the guardian, in the
/// role `guardian` (the child's extract and the auditor's view of the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_reads_the_childs_records_and_is_logged_as_the_guardian() {
    let kid = child(5, 468);
    let options = CitizenOptions {
        guardian_age_limit: Some(13),
        ..CitizenOptions::default()
    };
    // Only the child has engagements: whatever the guardian is shown is the child's.
    let cg = CitizenGateway::start_with(&kid, &options).await;
    let guardian = token_with(&cg, PATIENT, |c| c["guardian_of"] = json!(kid));

    let (status, _, body) = get(&cg, "/citizen/v1/me", &guardian).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_body("me", &body),
        json!({"citizen": PATIENT, "patient": kid, "acting_as": "guardian", "loa": 3})
    );
    let (status, _, body) = get(&cg, OVERVIEW, &guardian).await;
    assert_eq!(status, 200, "{body}");
    let overview = json_body("overview", &body);
    assert_eq!(overview["patient"], kid.as_str());
    assert_eq!(overview["acting_as"], "guardian");
    let items = overview["items"].as_array().expect("items").clone();
    for (src, _, _) in CITIZEN_SOURCES {
        assert!(
            items.iter().any(|i| i["source"]["logical_address"] == src),
            "the child's records at {src}: {overview}"
        );
    }
    // The guardian's own overview has none of them (no engagements of their own).
    let (status, _, body) = get(&cg, OVERVIEW, &cg.citizens.citizen_token(PATIENT)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body("overview", &body)["items"], json!([]));
    // A full record is about the child.
    let link = items[0]["link"].as_str().expect("a link");
    let (status, _, xml) = get(&cg, link, &guardian).await;
    assert_eq!(status, 200, "{link}: {xml}");
    assert!(xml.contains(&kid) && !xml.contains(PATIENT), "{xml}");

    // One entry per information set and source system shown, and one for the record.
    let mut groups = std::collections::BTreeSet::new();
    for i in &items {
        let system = i["source"]["source_system"]
            .as_str()
            .or(i["source"]["logical_address"].as_str());
        groups.insert((i["information_set"].to_string(), system.map(str::to_string)));
    }
    let (entries, records) = (groups.len() + 1, items.len() + 1);
    let extract = eventually(
        "the guardian's reads in the child's extract",
        PATIENCE,
        || async {
            let (_, _, body) = get(&cg, &format!("{ACCESS_LOG}?page_size=200"), &guardian).await;
            let v = json_body("extract", &body);
            (v["items"].as_array()?.len() == entries).then_some(v["items"].clone())
        },
    )
    .await;
    let extract = extract.as_array().unwrap();
    let counted: u64 = extract
        .iter()
        .map(|e| e["record_count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, records as u64, "{extract:?}");
    for e in extract {
        assert_eq!(e["user_role"], "guardian", "{e}");
        assert_eq!(e["reason"], "guardian", "{e}");
        assert_eq!(e["purpose"], "citizen-access", "{e}");
        assert_eq!(
            (&e["care_giver"], &e["decision"]),
            (&Value::Null, &json!("allowed")),
            "{e}"
        );
        assert!(
            !e.to_string().contains(PATIENT),
            "the reader's number is not shown: {e}"
        );
    }
    // Not in the guardian's own extract: they were about the child.
    let (_, _, body) = get(&cg, ACCESS_LOG, &cg.citizens.citizen_token(PATIENT)).await;
    assert_eq!(json_body("extract", &body)["items"], json!([]));

    // The store, as an auditor reads it: the guardian is the user, the child the patient.
    let auditor = cg.staff.auditor_token();
    let url = cg.gw.admin(&format!("/api/access-log?patient={kid}"));
    let stored = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("GET /api/access-log")
        .text()
        .await
        .unwrap();
    let stored = json_body("/api/access-log", &stored);
    let stored = stored["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{stored}"));
    assert_eq!(stored.len(), entries, "{stored:?}");
    for e in stored {
        let e = &e["entry"];
        assert_eq!(e["user_hsa_id"], PATIENT, "the guardian read: {e}");
        assert_eq!(e["patient_id"], kid.as_str(), "{e}");
        assert_eq!(e["user_role"], "guardian", "{e}");
        assert_eq!(e["reason"], "guardian", "{e}");
    }
}
