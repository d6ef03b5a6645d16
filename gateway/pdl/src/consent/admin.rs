//! The consent admin REST API on the admin listener (specs/openapi-consent.yaml):
//! register, list and revoke consents; register, list and lift blocks.
//!
//! Every call carries a user-context JWT (Authorization: Bearer or the user-context
//! header) verified like any other; the user needs the role `[consent] admin_role`.
//! The registering/revoking user's HSA id is taken from the token, never from the body.
//! Personal ids are not logged above debug level.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Map, Value};

use vaxel_model::ResidentId;
use vaxel_store::consent::{
    valid_set_name, Block, Consent, ConsentKind, ConsentScope, EndOutcome, NewBlock, NewConsent,
};

use super::jwt::UserContext;
use super::ConsentService;

/// Largest request body accepted by the admin API (and the citizen API).
pub(crate) const MAX_BODY: usize = 64 * 1024;

type Resp = Response<Full<Bytes>>;

pub(crate) fn json_response(status: StatusCode, v: Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Invalid input: names the field and the problem (HTTP 400; the CLI prints it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {problem}")]
pub struct InputError {
    pub field: String,
    pub problem: String,
}

impl InputError {
    pub(crate) fn response(self) -> Resp {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": self.to_string(), "field": self.field}),
        )
    }
}

pub(crate) fn bad_request(field: &str, problem: &str) -> InputError {
    InputError {
        field: field.to_string(),
        problem: problem.to_string(),
    }
}

/// Whether `path` belongs to this API (for the admin router).
pub fn is_consent_path(path: &str) -> bool {
    path == "/api/consents"
        || path == "/api/blocks"
        || path.starts_with("/api/consents/")
        || path.starts_with("/api/blocks/")
}

/// Handle one request to `/api/consents…` or `/api/blocks…`.
pub async fn handle<B>(req: Request<B>, service: Arc<ConsentService>) -> Resp
where
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let user = match service.verify_user(req.headers()) {
        Ok(u) => u,
        Err(e) => {
            tracing::info!(check = e.check(), "consent admin API: user context refused");
            let mut r = json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": e.to_string(), "check": e.check()}),
            );
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                e.check()
            );
            if let Ok(v) = header::HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            return r;
        }
    };
    let role = &service.config().admin_role;
    if !user.has_role(role) {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({"error": format!("the user lacks the role `{role}` needed for the consent admin API")}),
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["api", "consents"]) => list(&service, &query, true).await,
        (&Method::GET, ["api", "blocks"]) => list(&service, &query, false).await,
        (&Method::POST, ["api", "consents"]) => match body(req).await {
            Ok(b) => register_consent(&service, &user, b).await,
            Err(e) => e.response(),
        },
        (&Method::POST, ["api", "blocks"]) => match body(req).await {
            Ok(b) => register_block(&service, &user, b).await,
            Err(e) => e.response(),
        },
        (&Method::POST, ["api", kind @ ("consents" | "blocks"), id, action])
            if (*kind == "consents" && *action == "revoke")
                || (*kind == "blocks" && *action == "lift") =>
        {
            end(&service, &user, kind == &"consents", id).await
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not found: GET/POST /api/consents, POST /api/consents/{id}/revoke, GET/POST /api/blocks, POST /api/blocks/{id}/lift"}),
        ),
    }
}

async fn body<B>(req: Request<B>) -> Result<Map<String, Value>, InputError>
where
    B: http_body::Body + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    body_object(req, false).await
}

/// The request body as a JSON object of at most [`MAX_BODY`] bytes; with `empty_ok`, an
/// empty body is an empty object (routes whose body is optional).
pub(crate) async fn body_object<B>(
    req: Request<B>,
    empty_ok: bool,
) -> Result<Map<String, Value>, InputError>
where
    B: http_body::Body + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            bad_request(
                "body",
                &format!("unreadable or larger than {MAX_BODY} bytes"),
            )
        })?
        .to_bytes();
    if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request("body", "must be a JSON object")),
    }
}

fn patient_field(m: &Map<String, Value>) -> Result<ResidentId, InputError> {
    let s = m.get("patient").and_then(Value::as_str).unwrap_or("");
    ResidentId::parse(s).ok_or_else(|| {
        bad_request(
            "patient",
            "must be a 12-character personal id matching [0-9]{8}[0-9pPtTfF][0-9]{3}",
        )
    })
}

fn hsa_id(
    m: &Map<String, Value>,
    field: &str,
    required: bool,
) -> Result<Option<String>, InputError> {
    match m.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s))
            if !s.trim().is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(s.clone()))
        }
        _ => Err(bad_request(
            field,
            "must be an HSA id: 1-64 printable ASCII characters without spaces",
        )),
    }
}

/// Longest free-text reason (a block's, a lift request's), in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// An optional free-text reason: absent or `null` is none; otherwise 1 to
/// [`MAX_REASON_CHARS`] characters, not only white space, without control characters
/// (it is shown back as one line). Stored trimmed.
pub(crate) fn reason_field(
    m: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, InputError> {
    let problem = format!(
        "must be a text of 1-{MAX_REASON_CHARS} characters without control characters (or left out)"
    );
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= MAX_REASON_CHARS
                && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.trim().to_string()))
        }
        Some(_) => Err(bad_request(field, &problem)),
    }
}

fn time_field(m: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, InputError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad_request(field, "must be an RFC 3339 time, e.g. 2025-06-01T00:00:00Z")),
        Some(_) => Err(bad_request(field, "must be an RFC 3339 time string")),
    }
}

pub(crate) fn check_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), InputError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad_request(
            k,
            &format!("unknown field; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn validity(m: &Map<String, Value>) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), InputError> {
    let from = time_field(m, "valid_from")?.unwrap_or_else(Utc::now);
    let to = time_field(m, "valid_to")?;
    if to.is_some_and(|t| t <= from) {
        return Err(bad_request("valid_to", "must be after valid_from"));
    }
    Ok((from, to))
}

pub fn parse_consent(
    m: &Map<String, Value>,
    registered_by: &str,
) -> Result<NewConsent, InputError> {
    check_fields(
        m,
        &[
            "patient",
            "care_giver",
            "scope",
            "valid_from",
            "valid_to",
            "kind",
        ],
    )?;
    let patient = patient_field(m)?;
    let care_giver = hsa_id(m, "care_giver", true)?.unwrap_or_default();
    let scope = match m.get("scope") {
        None | Some(Value::Null) => ConsentScope::All,
        Some(Value::String(s)) if s == "all" => ConsentScope::All,
        Some(Value::Array(a)) if !a.is_empty() => {
            let sets: Option<Vec<String>> = a
                .iter()
                .map(|v| v.as_str().filter(|s| valid_set_name(s)).map(str::to_string))
                .collect();
            ConsentScope::Sets(sets.ok_or_else(|| {
                bad_request("scope", "information set names are 1-64 of [A-Za-z0-9._:-]")
            })?)
        }
        _ => {
            return Err(bad_request(
                "scope",
                "must be \"all\" or a non-empty list of information sets",
            ))
        }
    };
    let kind = match m.get("kind") {
        None | Some(Value::Null) => ConsentKind::Normal,
        Some(Value::String(s)) => ConsentKind::parse(s)
            .ok_or_else(|| bad_request("kind", "must be \"normal\" or \"emergency\""))?,
        Some(_) => return Err(bad_request("kind", "must be \"normal\" or \"emergency\"")),
    };
    let (valid_from, valid_to) = validity(m)?;
    Ok(NewConsent {
        patient,
        care_giver,
        scope,
        valid_from,
        valid_to,
        registered_by: registered_by.to_string(),
        kind,
    })
}

pub fn parse_block(m: &Map<String, Value>, registered_by: &str) -> Result<NewBlock, InputError> {
    check_fields(
        m,
        &[
            "patient",
            "care_giver",
            "care_unit",
            "valid_from",
            "valid_to",
            "reason",
        ],
    )?;
    let patient = patient_field(m)?;
    let care_giver = hsa_id(m, "care_giver", false)?;
    let care_unit = hsa_id(m, "care_unit", false)?;
    if care_giver.is_none() && care_unit.is_none() {
        return Err(bad_request(
            "care_giver",
            "a block names the blocked care giver and/or care_unit",
        ));
    }
    let (valid_from, valid_to) = validity(m)?;
    let reason = reason_field(m, "reason")?;
    Ok(NewBlock {
        patient,
        care_giver,
        care_unit,
        valid_from,
        valid_to,
        registered_by: registered_by.to_string(),
        reason,
    })
}

fn store_failed(e: impl std::fmt::Display) -> Resp {
    tracing::error!(error = %e, "consent admin API: store operation failed");
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "the consent store failed; see the gateway log"}),
    )
}

async fn register_consent(
    service: &Arc<ConsentService>,
    user: &UserContext,
    m: Map<String, Value>,
) -> Resp {
    let c = match parse_consent(&m, &user.user_hsa_id) {
        Ok(c) => c,
        Err(e) => return e.response(),
    };
    match service.register_consent(&c).await {
        Ok(c) => {
            tracing::info!(id = %c.id, by = %user.user_hsa_id, "consent registered");
            json_response(StatusCode::CREATED, consent_json(&c))
        }
        Err(e) => store_failed(e),
    }
}

async fn register_block(
    service: &Arc<ConsentService>,
    user: &UserContext,
    m: Map<String, Value>,
) -> Resp {
    let b = match parse_block(&m, &user.user_hsa_id) {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    match service.register_block(&b).await {
        Ok(b) => {
            tracing::info!(id = %b.id, by = %user.user_hsa_id, "block registered");
            json_response(StatusCode::CREATED, block_json(&b))
        }
        Err(e) => store_failed(e),
    }
}

async fn list(service: &Arc<ConsentService>, query: &str, consents: bool) -> Resp {
    let patient = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("patient="))
        .and_then(ResidentId::parse);
    let Some(patient) = patient else {
        return bad_request(
            "patient",
            "query parameter must be a 12-character personal id matching [0-9]{8}[0-9pPtTfF][0-9]{3}",
        )
        .response();
    };
    if consents {
        match service.consents_for(&patient).await {
            Ok(v) => json_response(
                StatusCode::OK,
                json!({"consents": v.iter().map(consent_json).collect::<Vec<_>>()}),
            ),
            Err(e) => store_failed(e),
        }
    } else {
        match service.blocks_for(&patient).await {
            Ok(v) => json_response(
                StatusCode::OK,
                json!({"blocks": v.iter().map(block_json).collect::<Vec<_>>()}),
            ),
            Err(e) => store_failed(e),
        }
    }
}

async fn end(service: &Arc<ConsentService>, user: &UserContext, consent: bool, id: &str) -> Resp {
    let by = user.user_hsa_id.as_str();
    let what = if consent { "consent" } else { "block" };
    let out = if consent {
        service.revoke_consent(id, by).await.map(|o| match o {
            EndOutcome::Ended(c) => EndOutcome::Ended(consent_json(&c)),
            EndOutcome::AlreadyEnded(c) => EndOutcome::AlreadyEnded(consent_json(&c)),
            EndOutcome::NotFound => EndOutcome::NotFound,
        })
    } else {
        service.lift_block(id, by).await.map(|o| match o {
            EndOutcome::Ended(b) => EndOutcome::Ended(block_json(&b)),
            EndOutcome::AlreadyEnded(b) => EndOutcome::AlreadyEnded(block_json(&b)),
            EndOutcome::NotFound => EndOutcome::NotFound,
        })
    };
    match out {
        Ok(EndOutcome::Ended(v)) => {
            tracing::info!(by = %user.user_hsa_id, "{what} ended");
            json_response(StatusCode::OK, v)
        }
        Ok(EndOutcome::AlreadyEnded(v)) => json_response(
            StatusCode::CONFLICT,
            json!({"error": format!("the {what} was already ended; nothing changed"), what: v}),
        ),
        Ok(EndOutcome::NotFound) => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no {what} with that id")}),
        ),
        Err(e) => store_failed(e),
    }
}

fn time_json(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// A consent as the API and the CLI print it.
pub fn consent_json(c: &Consent) -> Value {
    json!({
        "id": c.id,
        "patient": c.patient.as_str(),
        "care_giver": c.care_giver,
        "scope": match &c.scope { ConsentScope::All => json!("all"), ConsentScope::Sets(s) => json!(s) },
        "valid_from": c.valid_from.to_rfc3339(),
        "valid_to": time_json(c.valid_to),
        "kind": c.kind.as_str(),
        "registered_by": c.registered_by,
        "registered_at": c.registered_at.to_rfc3339(),
        "revoked_at": time_json(c.revoked_at),
        "revoked_by": c.revoked_by,
    })
}

/// A block as the API and the CLI print it.
pub fn block_json(b: &Block) -> Value {
    json!({
        "id": b.id,
        "patient": b.patient.as_str(),
        "care_giver": b.care_giver,
        "care_unit": b.care_unit,
        "valid_from": b.valid_from.to_rfc3339(),
        "valid_to": time_json(b.valid_to),
        "registered_by": b.registered_by,
        "registered_at": b.registered_at.to_rfc3339(),
        "reason": b.reason,
        "lifted_at": time_json(b.lifted_at),
        "lifted_by": b.lifted_by,
        "lift_requested_at": time_json(b.lift_requested_at),
        "lift_requested_by": b.lift_requested_by,
        "lift_request_reason": b.lift_request_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConsentConfig, IssuerKeys};
    use crate::consent::jwt::tests::{claims, ec_pair, issuer, sign, write};
    use crate::consent::policy::{AllowReason, Decision, DenyReason};
    use jsonwebtoken::{Algorithm, EncodingKey};
    use vaxel_store_sqlite::SqliteStore;

    struct Fixture {
        _dir: tempfile::TempDir,
        service: Arc<ConsentService>,
        key: EncodingKey,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = ec_pair();
        let pem = write(dir.path(), "ec.pub.pem", &public);
        let config = ConsentConfig {
            enabled: true,
            issuers: vec![issuer(
                "ES256",
                IssuerKeys::Public {
                    pem: Some(pem),
                    pem_kid: None,
                    jwks: None,
                },
            )],
            ..ConsentConfig::default()
        };
        let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
        let service = Arc::new(ConsentService::new(config, store).await.unwrap());
        Fixture {
            _dir: dir,
            service,
            key: EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
        }
    }

    impl Fixture {
        fn token(&self, roles: &[&str]) -> String {
            let now = Utc::now().timestamp();
            let mut c = claims();
            c["exp"] = json!(now + 300);
            c["nbf"] = json!(now - 10);
            c["roles"] = json!(roles);
            sign(Algorithm::ES256, None, &self.key, &c)
        }

        async fn call(
            &self,
            method: &str,
            uri: &str,
            token: Option<&str>,
            body: &str,
        ) -> (StatusCode, http::HeaderMap, Value) {
            let mut b = Request::builder().method(method).uri(uri);
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            let req = b.body(Full::new(Bytes::from(body.to_string()))).unwrap();
            let resp = handle(req, self.service.clone()).await;
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, headers, serde_json::from_slice(&bytes).unwrap())
        }
    }

    const P: &str = "191212121212";

    #[tokio::test]
    async fn unauthenticated_and_unauthorised_calls_are_refused() {
        let f = fixture().await;
        let (s, h, v) = f
            .call("GET", "/api/consents?patient=191212121212", None, "")
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(v["check"], "missing");
        assert!(h[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer "));
        let (s, _, v) = f
            .call(
                "GET",
                "/api/consents?patient=191212121212",
                Some("a.b.c"),
                "",
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(v["check"], "malformed");
        let (s, _, v) = f
            .call(
                "GET",
                "/api/consents?patient=191212121212",
                Some(&f.token(&["reader"])),
                "",
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(v["error"].as_str().unwrap().contains("consent-admin"));
    }

    #[tokio::test]
    async fn invalid_input_names_the_field() {
        let f = fixture().await;
        let t = f.token(&["consent-admin"]);
        let cases = [
            (
                r#"{"patient": "19121212-1212", "care_giver": "SE-CG"}"#,
                "patient",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": ""}"#,
                "care_giver",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": "SE-CG", "valid_to": "tomorrow"}"#,
                "valid_to",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": "SE-CG", "valid_from": "2025-02-01T00:00:00Z", "valid_to": "2025-01-01T00:00:00Z"}"#,
                "valid_to",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": "SE-CG", "scope": []}"#,
                "scope",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": "SE-CG", "kind": "forever"}"#,
                "kind",
            ),
            (
                r#"{"patient": "191212121212", "care_giver": "SE-CG", "registered_by": "me"}"#,
                "registered_by",
            ),
            ("[1]", "body"),
        ];
        for (body, field) in cases {
            let (s, _, v) = f.call("POST", "/api/consents", Some(&t), body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(v["field"], field, "{body}: {v}");
        }
        let (s, _, v) = f
            .call(
                "POST",
                "/api/blocks",
                Some(&t),
                r#"{"patient": "191212121212"}"#,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["field"], "care_giver");
        let (s, _, v) = f
            .call("GET", "/api/blocks?patient=1912", Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["field"], "patient");
    }

    #[tokio::test]
    async fn consent_and_block_lifecycle_changes_decisions() {
        let f = fixture().await;
        let t = f.token(&["consent-admin"]);
        let user = crate::consent::jwt::UserContext {
            user_hsa_id: "SE-U2".into(),
            care_unit_hsa_id: "SE-CU2".into(),
            care_giver_hsa_id: "SE2321000016-CG1".into(),
            purpose: "care".into(),
            emergency_reason: None,
            roles: vec![],
            token_id: None,
            user_role: None,
        };
        let decide = || {
            f.service.decide(
                &user,
                P,
                "care-documentation",
                Some("SE-CG-SOURCE"),
                Some("SE-CU-SOURCE"),
                Utc::now(),
            )
        };
        assert_eq!(decide(), Decision::Deny(DenyReason::NoConsent));

        let (s, _, c) = f
            .call("POST", "/api/consents", Some(&t), r#"{"patient": "191212121212", "care_giver": "SE2321000016-CG1", "scope": ["care-documentation"]}"#)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(c["registered_by"], "SE2321000016-U1");
        assert_eq!(c["kind"], "normal");
        assert_eq!(decide(), Decision::Allow(AllowReason::Consent));

        let (s, _, list) = f
            .call("GET", "/api/consents?patient=191212121212", Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list["consents"].as_array().unwrap().len(), 1);

        let (s, _, b) = f
            .call(
                "POST",
                "/api/blocks",
                Some(&t),
                r#"{"patient": "191212121212", "care_unit": "SE-CU-SOURCE", "reason": " asked at the desk "}"#,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(b["reason"], "asked at the desk");
        assert!(b["lift_requested_at"].is_null() && b["lift_requested_by"].is_null());
        assert_eq!(decide(), Decision::Deny(DenyReason::BlockedCareUnit));
        let id = b["id"].as_str().unwrap();
        let (s, _, lifted) = f
            .call("POST", &format!("/api/blocks/{id}/lift"), Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(lifted["lifted_by"], "SE2321000016-U1");
        assert_eq!(decide(), Decision::Allow(AllowReason::Consent));
        let (s, _, _) = f
            .call("POST", &format!("/api/blocks/{id}/lift"), Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::CONFLICT);

        let id = c["id"].as_str().unwrap();
        let (s, _, r) = f
            .call("POST", &format!("/api/consents/{id}/revoke"), Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(r["revoked_at"].is_string());
        assert_eq!(decide(), Decision::Deny(DenyReason::NoConsent));
        let (s, _, _) = f
            .call("POST", "/api/consents/nope/revoke", Some(&t), "")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, _, list) = f
            .call("GET", "/api/blocks?patient=191212121212", Some(&t), "")
            .await;
        assert_eq!(
            list["blocks"].as_array().unwrap().len(),
            1,
            "lifting never deletes"
        );

        // A new service over the same store loads the same state into its index.
        let again = ConsentService::new(f.service.config().clone(), f.service.store.clone())
            .await
            .unwrap();
        assert_eq!(
            again.decide(
                &user,
                P,
                "care-documentation",
                Some("SE-CG-SOURCE"),
                Some("SE-CU-SOURCE"),
                Utc::now()
            ),
            Decision::Deny(DenyReason::NoConsent)
        );
    }
}
