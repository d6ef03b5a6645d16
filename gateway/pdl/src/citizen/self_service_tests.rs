//! "My consents and blocks" over HTTP requests on a SQLite store: what a citizen sees,
//! what care staff's decisions see at once, and that refused requests store nothing.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use vaxel_model::ResidentId;
use vaxel_store::consent::{ConsentKind, ConsentScope, NewBlock, NewConsent, Rule};
use vaxel_store_sqlite::SqliteStore;

use super::*;
use crate::config::ConsentConfig;
use crate::consent::jwt::UserContext;
use crate::consent::policy::{AllowReason, Decision, DenyReason};

/// The patient signed in (an adult acting for themselves).
const P: &str = "191212121212";
/// Another patient.
const OTHER: &str = "199001012380";
/// A child, and the guardian acting for the child.
const CHILD: &str = "201501012384";
const PARENT: &str = "198002022389";

/// The care giver whose staff read, and the care giver (and unit) whose records they read.
const READER_CG: &str = "SE2321000016-CG1";
const SOURCE_CG: &str = "SE2321000016-CG2";
const SOURCE_CU: &str = "SE2321000016-CU2";

const ME: SelfServiceCaller<'static> = SelfServiceCaller {
    patient: P,
    citizen: P,
    as_guardian: false,
};

struct Fixture {
    _dir: tempfile::TempDir,
    service: ConsentService,
}

async fn fixture() -> Fixture {
    fixture_with(true).await
}

async fn fixture_with(enabled: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let config = ConsentConfig {
        enabled,
        ..ConsentConfig::default()
    };
    let service = ConsentService::new(config, store).await.unwrap();
    Fixture { _dir: dir, service }
}

/// A care staff user of [`READER_CG`], without an emergency.
fn staff() -> UserContext {
    UserContext {
        user_hsa_id: "SE2321000016-U1".into(),
        care_unit_hsa_id: "SE2321000016-CU1".into(),
        care_giver_hsa_id: READER_CG.into(),
        purpose: "care".into(),
        emergency_reason: None,
        roles: vec![],
        token_id: None,
        user_role: None,
    }
}

impl Fixture {
    async fn call(
        &self,
        who: &SelfServiceCaller<'_>,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let resp = handle(req, who, &self.service).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: {status} not JSON: {e}"));
        (status, headers, v)
    }

    /// A care staff user's decision for a care-documentation record of [`SOURCE_CG`]
    /// about `patient`, now: what the index enforces.
    fn decide(&self, patient: &str, information_set: &str) -> Decision {
        self.service.decide(
            &staff(),
            patient,
            information_set,
            Some(SOURCE_CG),
            Some(SOURCE_CU),
            Utc::now(),
        )
    }

    /// Every row of the register, in store order.
    async fn rows(&self) -> Vec<Rule> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        self.service
            .store()
            .for_each_rule(Box::new(move |r| sink.lock().unwrap().push(r)))
            .await
            .unwrap();
        let rows = std::mem::take(&mut *seen.lock().unwrap());
        rows
    }

    /// A consent of `patient` for [`READER_CG`] registered by care staff.
    async fn staff_consent(&self, patient: &str) -> String {
        self.service
            .register_consent(&NewConsent {
                patient: ResidentId::parse(patient).unwrap(),
                care_giver: READER_CG.into(),
                scope: ConsentScope::All,
                valid_from: Utc::now(),
                valid_to: None,
                registered_by: "SE2321000016-ADMIN".into(),
                kind: ConsentKind::Normal,
            })
            .await
            .unwrap()
            .id
    }

    /// A block of `patient` on [`SOURCE_CG`] registered by care staff.
    async fn staff_block(&self, patient: &str) -> String {
        self.service
            .register_block(&NewBlock {
                patient: ResidentId::parse(patient).unwrap(),
                care_giver: Some(SOURCE_CG.into()),
                care_unit: None,
                valid_from: Utc::now(),
                valid_to: None,
                registered_by: "SE2321000016-ADMIN".into(),
                reason: None,
            })
            .await
            .unwrap()
            .id
    }
}

fn consent_body() -> String {
    json!({"care_giver": READER_CG}).to_string()
}

#[test]
fn paths_of_this_api() {
    for p in [
        "/citizen/v1/consents",
        "/citizen/v1/consents/abc/revoke",
        "/citizen/v1/blocks",
        "/citizen/v1/blocks/abc/lift-request",
    ] {
        assert!(is_self_service_path(p), "{p}");
    }
    for p in [
        "/citizen/v1/consentsx",
        "/citizen/v1/access-log",
        "/api/consents",
        "/citizen/v1",
    ] {
        assert!(!is_self_service_path(p), "{p}");
    }
}

#[test]
fn scope_names_are_the_adapters_names_in_any_case() {
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        assert_eq!(information_set(name), Some(name));
        assert_eq!(information_set(&name.to_ascii_uppercase()), Some(name));
    }
    assert_eq!(information_set("journal"), None);
    assert_eq!(information_set(""), None);
}

#[tokio::test]
async fn the_list_shows_only_the_patients_own_consents_and_blocks() {
    let f = fixture().await;
    let mine = f.staff_consent(P).await;
    f.staff_consent(OTHER).await;
    let my_block = f.staff_block(P).await;
    f.staff_block(OTHER).await;
    let (s, _, v) = f.call(&ME, "GET", "/citizen/v1/consents", "").await;
    assert_eq!(s, StatusCode::OK);
    let consents = v["consents"].as_array().unwrap();
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(consents.len(), 1, "{v}");
    assert_eq!(consents[0]["id"], mine.as_str());
    assert_eq!(consents[0]["patient"], P);
    assert_eq!(blocks.len(), 1, "{v}");
    assert_eq!(blocks[0]["id"], my_block.as_str());
    assert!(blocks[0]["lift_requested_at"].is_null());
    // Naming oneself is allowed; naming someone else is not.
    let (s, _, _) = f
        .call(&ME, "GET", "/citizen/v1/consents?patient=191212121212", "")
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, v) = f
        .call(
            &ME,
            "GET",
            &format!("/citizen/v1/consents?patient_id={OTHER}"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["error"].as_str().unwrap().contains("another patient"),
        "{v}"
    );
    assert!(
        !v.to_string().contains(&mine),
        "a refused list shows nothing"
    );
}

#[tokio::test]
async fn a_registered_consent_is_enforced_at_once() {
    let f = fixture().await;
    assert_eq!(
        f.decide(P, "care-documentation"),
        Decision::Deny(DenyReason::NoConsent)
    );
    let (s, _, c) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/consents",
            &json!({"care_giver": READER_CG, "scope": ["Care-Documentation"], "patient": P})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["patient"], P);
    assert_eq!(c["registered_by"], P);
    assert_eq!(c["kind"], "normal");
    assert_eq!(c["scope"], json!(["care-documentation"]), "canonical name");
    assert!(c["valid_to"].is_null(), "open-ended by default");
    assert_eq!(
        f.decide(P, "care-documentation"),
        Decision::Allow(AllowReason::Consent)
    );
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Deny(DenyReason::ConsentOutOfScope)
    );
    assert_eq!(
        f.decide(OTHER, "care-documentation"),
        Decision::Deny(DenyReason::NoConsent)
    );
    // A consent from a later time is not in force yet.
    let (s, _, later) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/consents",
            &json!({"care_giver": "SE2321000016-CG3", "valid_from": "2999-01-01T00:00:00Z", "valid_to": null}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{later}");
    assert_eq!(later["scope"], "all");
}

#[tokio::test]
async fn revoking_ones_own_consent_is_enforced_at_once() {
    let f = fixture().await;
    let (_, _, c) = f
        .call(&ME, "POST", "/citizen/v1/consents", &consent_body())
        .await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Allow(AllowReason::Consent)
    );
    let (s, _, r) = f
        .call(
            &ME,
            "POST",
            &format!("/citizen/v1/consents/{id}/revoke"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["revoked_by"], P);
    assert!(r["revoked_at"].is_string());
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Deny(DenyReason::NoConsent)
    );
    let (s, _, again) = f
        .call(
            &ME,
            "POST",
            &format!("/citizen/v1/consents/{id}/revoke"),
            &json!({"patient": P}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(again["consent"]["revoked_at"], r["revoked_at"]);
    // Revoked, never deleted: still listed.
    let (_, _, list) = f.call(&ME, "GET", "/citizen/v1/consents", "").await;
    assert_eq!(list["consents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_patients_consent_is_not_found_and_not_changed() {
    let f = fixture().await;
    let theirs = f.staff_consent(OTHER).await;
    let before = f.rows().await;
    let (s, _, v) = f
        .call(
            &ME,
            "POST",
            &format!("/citizen/v1/consents/{theirs}/revoke"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s2, _, unknown) = f
        .call(&ME, "POST", "/citizen/v1/consents/no-such-id/revoke", "")
        .await;
    assert_eq!(
        (s2, &unknown),
        (s, &v),
        "indistinguishable from an unknown id"
    );
    assert_eq!(f.rows().await, before);
    assert_eq!(
        f.decide(OTHER, "diagnosis"),
        Decision::Allow(AllowReason::Consent)
    );
}

#[tokio::test]
async fn a_block_denies_care_staff_at_once() {
    let f = fixture().await;
    f.staff_consent(P).await;
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Allow(AllowReason::Consent)
    );
    let (s, _, b) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/blocks",
            &json!({"care_giver": SOURCE_CG, "reason": "Jag vill inte."}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["registered_by"], P);
    assert_eq!(b["reason"], "Jag vill inte.");
    assert!(b["valid_to"].is_null());
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Deny(DenyReason::BlockedCareGiver)
    );
    // A unit block, until a time.
    let (s, _, u) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/blocks",
            &json!({"care_unit": "SE2321000016-CU7", "valid_to": "2999-01-01T00:00:00Z"})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert!(u["care_giver"].is_null());
    assert_eq!(u["valid_to"], "2999-01-01T00:00:00+00:00");
}

#[tokio::test]
async fn a_lift_request_is_recorded_and_the_block_stays_in_force() {
    let f = fixture().await;
    f.staff_consent(P).await;
    let (_, _, b) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/blocks",
            &json!({"care_giver": SOURCE_CG}).to_string(),
        )
        .await;
    let id = b["id"].as_str().unwrap().to_string();
    let uri = format!("/citizen/v1/blocks/{id}/lift-request");
    let (s, _, r) = f
        .call(
            &ME,
            "POST",
            &uri,
            &json!({"reason": "Nu får de se."}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert!(r["lift_requested_at"].is_string());
    assert_eq!(r["lift_requested_by"], P);
    assert_eq!(r["lift_request_reason"], "Nu får de se.");
    assert!(r["lifted_at"].is_null(), "a request does not lift");
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Deny(DenyReason::BlockedCareGiver)
    );
    // Idempotent: the first request is kept.
    let (s, _, again) = f.call(&ME, "POST", &uri, "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(again, r);
    let (_, _, list) = f.call(&ME, "GET", "/citizen/v1/consents", "").await;
    assert_eq!(list["blocks"][0], r);
    // Another patient's block: not found, not changed.
    let theirs = f.staff_block(OTHER).await;
    let before = f.rows().await;
    let (s, _, _) = f
        .call(
            &ME,
            "POST",
            &format!("/citizen/v1/blocks/{theirs}/lift-request"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(f.rows().await, before);
    // A consent administrator lifts it (the existing operation); then a request is moot.
    f.service
        .lift_block(&id, "SE2321000016-ADMIN")
        .await
        .unwrap();
    assert_eq!(
        f.decide(P, "diagnosis"),
        Decision::Allow(AllowReason::Consent)
    );
    let (s, _, v) = f.call(&ME, "POST", &uri, "").await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["block"]["lift_requested_at"], r["lift_requested_at"]);
}

#[tokio::test]
async fn malformed_input_names_the_field_and_stores_nothing() {
    let f = fixture().await;
    let block = f.staff_block(P).await;
    let consent = f.staff_consent(P).await;
    let before = f.rows().await;
    let long = "x".repeat(1001);
    let consents = "/citizen/v1/consents";
    let blocks = "/citizen/v1/blocks";
    let lift = format!("/citizen/v1/blocks/{block}/lift-request");
    let revoke = format!("/citizen/v1/consents/{consent}/revoke");
    let cases: Vec<(&str, String, &str)> = vec![
        (consents, "{".into(), "body"),
        (consents, "[1]".into(), "body"),
        (consents, "".into(), "body"),
        (consents, json!({"care_giver": 5}).to_string(), "care_giver"),
        (consents, json!({}).to_string(), "care_giver"),
        (consents, json!({"care_giver": "SE 1"}).to_string(), "care_giver"),
        (consents, json!({"care_giver": READER_CG, "scope": "journal"}).to_string(), "scope"),
        (consents, json!({"care_giver": READER_CG, "scope": ["journal"]}).to_string(), "scope"),
        (consents, json!({"care_giver": READER_CG, "scope": []}).to_string(), "scope"),
        (consents, json!({"care_giver": READER_CG, "kind": "emergency"}).to_string(), "kind"),
        (consents, json!({"care_giver": READER_CG, "kind": 1}).to_string(), "kind"),
        (consents, json!({"care_giver": READER_CG, "valid_to": "tomorrow"}).to_string(), "valid_to"),
        (
            consents,
            json!({"care_giver": READER_CG, "valid_from": "2999-02-01T00:00:00Z", "valid_to": "2999-01-01T00:00:00Z"}).to_string(),
            "valid_to",
        ),
        (consents, json!({"care_giver": READER_CG, "valid_from": "2020-01-01T00:00:00Z"}).to_string(), "valid_from"),
        (consents, json!({"care_giver": READER_CG, "vaild_to": "2999-01-01T00:00:00Z"}).to_string(), "vaild_to"),
        (consents, json!({"care_giver": READER_CG, "registered_by": "me"}).to_string(), "registered_by"),
        (consents, json!({"care_giver": READER_CG, "patient": "19121212-1212"}).to_string(), "patient"),
        (consents, json!({"care_giver": READER_CG, "patient_id": 191212121212_i64}).to_string(), "patient_id"),
        (blocks, json!({}).to_string(), "care_giver"),
        (blocks, json!({"care_unit": ""}).to_string(), "care_unit"),
        (blocks, json!({"care_giver": SOURCE_CG, "valid_to": "2020-01-01T00:00:00Z"}).to_string(), "valid_to"),
        (blocks, json!({"care_giver": SOURCE_CG, "valid_from": "2999-01-01T00:00:00Z"}).to_string(), "valid_from"),
        (blocks, json!({"care_giver": SOURCE_CG, "reason": " "}).to_string(), "reason"),
        (blocks, json!({"care_giver": SOURCE_CG, "reason": long}).to_string(), "reason"),
        (blocks, json!({"care_giver": SOURCE_CG, "reason": "a\u{7}b"}).to_string(), "reason"),
        (blocks, json!({"care_giver": SOURCE_CG, "kind": "normal"}).to_string(), "kind"),
        (&lift, json!({"reason": 5}).to_string(), "reason"),
        (&lift, json!({"why": "x"}).to_string(), "why"),
        (&lift, "nonsense".into(), "body"),
        (&revoke, json!({"reason": "x"}).to_string(), "reason"),
        ("/citizen/v1/consents?limit=5", consent_body(), "limit"),
    ];
    for (uri, body, field) in &cases {
        let (s, _, v) = f.call(&ME, "POST", uri, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri} {body}: {v}");
        assert_eq!(v["field"], *field, "{uri} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(field),
            "the message names the field: {v}"
        );
    }
    let (s, _, v) = f.call(&ME, "POST", blocks, &"x".repeat(70 * 1024)).await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );
    assert_eq!(f.rows().await, before, "nothing stored");
}

#[tokio::test]
async fn naming_another_patient_is_forbidden_and_stores_nothing() {
    let f = fixture().await;
    let block = f.staff_block(P).await;
    let consent = f.staff_consent(P).await;
    let before = f.rows().await;
    let other = json!({"care_giver": READER_CG, "patient": OTHER}).to_string();
    let other_id = json!({"care_giver": SOURCE_CG, "patient_id": OTHER}).to_string();
    let cases = [
        ("/citizen/v1/consents".to_string(), other.clone()),
        (
            format!("/citizen/v1/consents?patient={OTHER}"),
            consent_body(),
        ),
        ("/citizen/v1/blocks".into(), other_id),
        (
            format!("/citizen/v1/blocks/{block}/lift-request"),
            json!({"patient": OTHER}).to_string(),
        ),
        (
            format!("/citizen/v1/consents/{consent}/revoke?patient_id={OTHER}"),
            String::new(),
        ),
        // Also when the rest is malformed: the patient is checked first.
        (
            "/citizen/v1/consents".into(),
            json!({"patient": OTHER, "care_giver": ""}).to_string(),
        ),
    ];
    for (uri, body) in &cases {
        let (s, _, v) = f.call(&ME, "POST", uri, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("another patient"),
            "{v}"
        );
    }
    assert_eq!(f.rows().await, before, "nothing stored");
    // The same patient named in the body: fine.
    let (s, _, _) = f
        .call(
            &ME,
            "POST",
            "/citizen/v1/blocks",
            &json!({"care_unit": SOURCE_CU, "patient_id": P}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn a_guardian_manages_the_childs_consents_under_their_own_name() {
    let f = fixture().await;
    let guardian = SelfServiceCaller {
        patient: CHILD,
        citizen: PARENT,
        as_guardian: true,
    };
    // The guardian's own register is separate.
    f.staff_consent(PARENT).await;
    let (s, _, c) = f
        .call(&guardian, "POST", "/citizen/v1/consents", &consent_body())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["patient"], CHILD);
    assert_eq!(c["registered_by"], PARENT);
    assert_eq!(
        f.decide(CHILD, "diagnosis"),
        Decision::Allow(AllowReason::Consent)
    );
    let (s, _, b) = f
        .call(
            &guardian,
            "POST",
            "/citizen/v1/blocks",
            &json!({"care_unit": SOURCE_CU}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        (b["patient"].as_str(), b["registered_by"].as_str()),
        (Some(CHILD), Some(PARENT))
    );
    let (s, _, r) = f
        .call(
            &guardian,
            "POST",
            &format!(
                "/citizen/v1/blocks/{}/lift-request",
                b["id"].as_str().unwrap()
            ),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(r["lift_requested_by"], PARENT);
    let (_, _, list) = f.call(&guardian, "GET", "/citizen/v1/consents", "").await;
    assert_eq!(list["consents"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["consents"][0]["patient"], CHILD);
    // Naming the guardian's own number as the patient is naming another patient.
    let (s, _, _) = f
        .call(
            &guardian,
            "GET",
            &format!("/citizen/v1/consents?patient={PARENT}"),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = f
        .call(
            &guardian,
            "POST",
            &format!("/citizen/v1/consents/{}/revoke", c["id"].as_str().unwrap()),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn an_inconsistent_caller_context_is_refused() {
    let f = fixture().await;
    let before = f.rows().await;
    for who in [
        SelfServiceCaller {
            patient: CHILD,
            citizen: PARENT,
            as_guardian: false,
        },
        SelfServiceCaller {
            patient: P,
            citizen: P,
            as_guardian: true,
        },
        SelfServiceCaller {
            patient: "1912",
            citizen: "1912",
            as_guardian: false,
        },
    ] {
        let (s, _, v) = f
            .call(&who, "POST", "/citizen/v1/consents", &consent_body())
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who:?}: {v}");
    }
    assert_eq!(f.rows().await, before);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let f = fixture().await;
    let (s, _, _) = f.call(&ME, "GET", "/citizen/v1/consents/x", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = f.call(&ME, "POST", "/citizen/v1/blocks/x/lift", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, h, _) = f.call(&ME, "DELETE", "/citizen/v1/consents", "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[http::header::ALLOW], "GET, POST");
    let (s, h, _) = f.call(&ME, "GET", "/citizen/v1/blocks", "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[http::header::ALLOW], "POST");

    let off = fixture_with(false).await;
    let (s, _, v) = off.call(&ME, "POST", "/citizen/v1/blocks", "{}").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(off.rows().await.is_empty());
}
