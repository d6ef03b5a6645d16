//! "My consents and blocks" (specs/citizen.md): a citizen lists, gives and revokes their
//! own consents (samtycke, PDL 6:3), registers blocks (spärr, PDL 4:4 and 6:2) and asks
//! for a block to be lifted, through REST/JSON routes under `/citizen/v1/consents` and
//! `/citizen/v1/blocks`.
//!
//! Security reasoning first:
//!
//! - The caller arrives verified ([`SelfServiceCaller`], from the citizen token): the
//!   patient whose register is managed and the acting citizen (the patient, or a
//!   guardian acting for a child). The patient comes ONLY from there. A `patient` or
//!   `patient_id` in the body or the query that names someone else is refused (403)
//!   before anything is read or written; one that names the same patient is accepted
//!   (a client may echo it).
//! - Ids in the path are only looked up among the patient's own rows: another patient's
//!   consent or block is "not found" (404), with the same answer as an unknown id, so
//!   the API never reveals that it exists.
//! - Writes go through the one [`ConsentService`] the care staff's admin API uses, so
//!   the in-memory index that decides care staff's queries includes a change before the
//!   answer is sent (specs/user-context.md "Index and nodes").
//! - A citizen can register a consent of kind `normal` only: an `emergency` consent is
//!   registered by care staff on the patient's behalf when the patient cannot consent
//!   (PDL 6:4; `ConsentKind::Emergency`).
//! - A citizen cannot lift a block: the request is recorded on the block
//!   (`lift_requested_at`/`_by`) and the block stays in force until a consent
//!   administrator lifts it (`POST /api/blocks/{id}/lift`). The decision table
//!   (DESIGN.md) only knows blocks in force and lifted ones, and under PDL a block is
//!   lifted by the care giver at the patient's request.
//! - Malformed input is 400 naming the field, checked completely before the store is
//!   written, so a refused request stores nothing. Unknown fields are refused too: a
//!   misspelt `valid_to` must not silently give an open-ended consent.
//! - Personal identity numbers, reasons and HSA ids are never logged; log lines carry
//!   the row id and whether a guardian acted.

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Map, Value};
use vaxel_model::ResidentId;
use vaxel_store::consent::{
    ConsentKind, ConsentScope, EndOutcome, LiftRequestOutcome, NewBlock, NewConsent,
};

use crate::consent::admin::{
    bad_request, block_json, body_object, check_fields, consent_json, json_response, parse_block,
    parse_consent, reason_field, InputError,
};
use crate::consent::policy::PatientKey;
use crate::consent::ConsentService;

/// Lists (`GET`) and registers (`POST`) consents; `…/{id}/revoke` revokes one.
pub const CONSENTS_PATH: &str = "/citizen/v1/consents";
/// Registers blocks (`POST`); `…/{id}/lift-request` asks for one to be lifted.
pub const BLOCKS_PATH: &str = "/citizen/v1/blocks";

/// The information set called `name` (ASCII case-insensitively) by its canonical name:
/// the adapters' descriptor names (specs/user-context.md "The record's care giver and
/// care unit"). The admin API accepts any well-formed name; a citizen's unknown name is
/// refused, because a consent that covers nothing is never what a citizen meant.
fn information_set(name: &str) -> Option<&'static str> {
    vaxel_adapters::all()
        .iter()
        .map(|set| set.descriptor().name)
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// How far in the past a given `valid_from` may lie (the citizen's clock may be behind);
/// earlier is refused: a consent is given from now on, not backdated.
const VALID_FROM_LEEWAY_S: i64 = 300;

/// The verified citizen behind a request (from the citizen token; see the module head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfServiceCaller<'a> {
    /// The patient whose consents and blocks are managed: a 12-character personal
    /// identity number, `[0-9]{8}[0-9pPtTfF][0-9]{3}`.
    pub patient: &'a str,
    /// The acting citizen's own personal identity number: the patient's, or a
    /// guardian's. Recorded as `registered_by`, `revoked_by`, `lift_requested_by`.
    pub citizen: &'a str,
    /// The citizen acts as guardian for the patient (a child); then `citizen` differs
    /// from `patient`, otherwise they are the same person.
    pub as_guardian: bool,
}

type Resp = Response<Full<Bytes>>;

/// Whether `path` belongs to this API (for the lead's router).
pub fn is_self_service_path(path: &str) -> bool {
    [CONSENTS_PATH, BLOCKS_PATH].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Handle one request under [`CONSENTS_PATH`] or [`BLOCKS_PATH`] for `who` (already
/// verified). Routes and answers: specs/citizen.md "My consents and blocks".
pub async fn handle<B>(
    req: Request<B>,
    who: &SelfServiceCaller<'_>,
    service: &ConsentService,
) -> Resp
where
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if !service.enabled() {
        // Stored but never enforced would mislead the citizen.
        return error(
            StatusCode::NOT_FOUND,
            "consents and blocks are not managed by this gateway ([consent] enabled = false)",
        );
    }
    route(req, who, service)
        .await
        .unwrap_or_else(Refused::response)
}

async fn route<B>(
    req: Request<B>,
    who: &SelfServiceCaller<'_>,
    service: &ConsentService,
) -> Result<Resp, Refused>
where
    B: http_body::Body + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let caller = Caller::new(who)?;
    caller.check_query(req.uri().query().unwrap_or(""))?;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match (segments.as_slice(), method) {
        (["citizen", "v1", "consents"], Method::GET) => list(&caller, service).await,
        (["citizen", "v1", "consents"], Method::POST) => {
            let m = caller.body(req, false).await?;
            register_consent(&caller, service, m).await
        }
        (["citizen", "v1", "consents"], _) => not_allowed("GET, POST"),
        (["citizen", "v1", "consents", id, "revoke"], Method::POST) => {
            let m = caller.body(req, true).await?;
            revoke(&caller, service, id, &m).await
        }
        (["citizen", "v1", "blocks"], Method::POST) => {
            let m = caller.body(req, false).await?;
            register_block(&caller, service, m).await
        }
        (["citizen", "v1", "blocks", id, "lift-request"], Method::POST) => {
            let m = caller.body(req, true).await?;
            lift_request(&caller, service, id, &m).await
        }
        (
            ["citizen", "v1", "blocks"]
            | ["citizen", "v1", "consents", _, "revoke"]
            | ["citizen", "v1", "blocks", _, "lift-request"],
            _,
        ) => not_allowed("POST"),
        _ => error(
            StatusCode::NOT_FOUND,
            "not found: GET/POST /citizen/v1/consents, POST /citizen/v1/consents/{id}/revoke, POST /citizen/v1/blocks, POST /citizen/v1/blocks/{id}/lift-request",
        ),
    })
}

/// Why a request is refused before it reaches the register.
#[derive(Debug)]
enum Refused {
    /// 403: the caller context does not hold together, or the request names another
    /// patient.
    Forbidden(String),
    /// 400: malformed input, naming the field.
    Input(InputError),
}

impl From<InputError> for Refused {
    fn from(e: InputError) -> Refused {
        Refused::Input(e)
    }
}

impl Refused {
    fn response(self) -> Resp {
        match self {
            Refused::Forbidden(message) => error(StatusCode::FORBIDDEN, &message),
            Refused::Input(e) => e.response(),
        }
    }
}

/// The checked caller: the patient as stored and as compared, and who acts.
struct Caller<'a> {
    patient: ResidentId,
    key: PatientKey,
    citizen: &'a str,
    as_guardian: bool,
}

impl<'a> Caller<'a> {
    /// Fail closed on a context that does not hold together (the verifier's duty, but a
    /// wrong one here would write under someone else's name).
    fn new(who: &SelfServiceCaller<'a>) -> Result<Caller<'a>, Refused> {
        let refuse = |what: &str| {
            tracing::warn!(
                guardian = who.as_guardian,
                "citizen API: caller context refused: {what}"
            );
            Refused::Forbidden(format!("the citizen context is not usable: {what}"))
        };
        let (Some(patient), Some(key)) = (
            ResidentId::parse(who.patient),
            PatientKey::parse(who.patient),
        ) else {
            return Err(refuse("the patient is not a personal identity number"));
        };
        let Some(citizen) = PatientKey::parse(who.citizen) else {
            return Err(refuse(
                "the acting citizen is not a personal identity number",
            ));
        };
        match (who.as_guardian, citizen == key) {
            (true, true) => Err(refuse(
                "a guardian acts for someone else, not for themselves",
            )),
            (false, false) => Err(refuse("only a guardian acts for another person")),
            _ => Ok(Caller {
                patient,
                key,
                citizen: who.citizen,
                as_guardian: who.as_guardian,
            }),
        }
    }

    /// A `patient`/`patient_id` value given by the client: the same patient passes, a
    /// different one is 403, a malformed one 400.
    fn same_patient(&self, field: &str, value: &Value) -> Result<(), Refused> {
        let given = match value {
            Value::Null => return Ok(()),
            Value::String(s) => PatientKey::parse(s),
            _ => None,
        };
        match given {
            Some(k) if k == self.key => Ok(()),
            Some(_) => {
                tracing::info!(
                    field,
                    guardian = self.as_guardian,
                    "citizen API: request names another patient; refused"
                );
                Err(Refused::Forbidden(format!(
                    "`{field}` names another patient: you can only manage the consents and blocks of the patient you are signed in for (leave `{field}` out)"
                )))
            }
            None => Err(bad_request(
                field,
                "must be a 12-character personal id matching [0-9]{8}[0-9pPtTfF][0-9]{3} (or left out: the patient is the one you are signed in for)",
            )
            .into()),
        }
    }

    /// Query parameters: only `patient`/`patient_id`, naming this patient.
    fn check_query(&self, query: &str) -> Result<(), Refused> {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "patient" | "patient_id" => {
                    self.same_patient(name, &Value::String(value.to_string()))?
                }
                _ => {
                    return Err(bad_request(
                        name,
                        "unknown query parameter; this API takes none (the patient is the one you are signed in for)",
                    )
                    .into())
                }
            }
        }
        Ok(())
    }

    /// The body as a JSON object whose `patient`/`patient_id`, if any, name this
    /// patient; both are then removed (the patient comes from the context).
    async fn body<B>(&self, req: Request<B>, empty_ok: bool) -> Result<Map<String, Value>, Refused>
    where
        B: http_body::Body + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let mut m = body_object(req, empty_ok).await?;
        for field in ["patient", "patient_id"] {
            if let Some(v) = m.remove(field) {
                self.same_patient(field, &v)?;
            }
        }
        Ok(m)
    }

    /// `m` with the context's patient, for the admin API's parsers.
    fn with_patient(&self, mut m: Map<String, Value>) -> Map<String, Value> {
        m.insert(
            "patient".into(),
            Value::String(self.patient.as_str().into()),
        );
        m
    }
}

/// A consent the citizen gives: the admin API's rules, and kind `normal` only, known
/// information sets only (stored by their canonical names), no backdating.
fn parse_citizen_consent(
    caller: &Caller<'_>,
    m: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<NewConsent, InputError> {
    check_fields(
        &m,
        &["care_giver", "scope", "kind", "valid_from", "valid_to"],
    )?;
    let from_given = !m.get("valid_from").is_none_or(Value::is_null);
    let mut c = parse_consent(&caller.with_patient(m), caller.citizen)?;
    if c.kind == ConsentKind::Emergency {
        return Err(bad_request(
            "kind",
            "must be \"normal\": an emergency consent (PDL 6:4) is registered by care staff on the patient's behalf",
        ));
    }
    if let ConsentScope::Sets(sets) = &mut c.scope {
        for name in sets.iter_mut() {
            let Some(known) = information_set(name) else {
                let names: Vec<&str> = vaxel_adapters::all()
                    .iter()
                    .map(|set| set.descriptor().name)
                    .collect();
                return Err(bad_request(
                    "scope",
                    &format!(
                        "unknown information set `{name}`; use \"all\" or names from: {}",
                        names.join(", ")
                    ),
                ));
            };
            *name = known.to_string();
        }
    }
    if from_given && c.valid_from < now - TimeDelta::seconds(VALID_FROM_LEEWAY_S) {
        return Err(bad_request(
            "valid_from",
            "must not be in the past: a consent applies from when it is given (leave it out for now)",
        ));
    }
    Ok(c)
}

/// A block the citizen registers: in force from now (no `valid_from`), optional end
/// and reason; the admin API's rules otherwise.
fn parse_citizen_block(caller: &Caller<'_>, m: Map<String, Value>) -> Result<NewBlock, InputError> {
    if m.contains_key("valid_from") {
        return Err(bad_request(
            "valid_from",
            "a block applies from when it is registered; leave valid_from out",
        ));
    }
    check_fields(&m, &["care_giver", "care_unit", "valid_to", "reason"])?;
    parse_block(&caller.with_patient(m), caller.citizen).map_err(|e| match e.field.as_str() {
        "valid_to" => bad_request(
            "valid_to",
            "must be an RFC 3339 time in the future (or left out: until lifted)",
        ),
        _ => e,
    })
}

async fn list(caller: &Caller<'_>, service: &ConsentService) -> Resp {
    let consents = match service.consents_for(&caller.patient).await {
        Ok(v) => v,
        Err(e) => return store_failed(e),
    };
    let blocks = match service.blocks_for(&caller.patient).await {
        Ok(v) => v,
        Err(e) => return store_failed(e),
    };
    json_response(
        StatusCode::OK,
        json!({
            "consents": consents.iter().map(consent_json).collect::<Vec<_>>(),
            "blocks": blocks.iter().map(block_json).collect::<Vec<_>>(),
        }),
    )
}

async fn register_consent(
    caller: &Caller<'_>,
    service: &ConsentService,
    m: Map<String, Value>,
) -> Resp {
    let c = match parse_citizen_consent(caller, m, Utc::now()) {
        Ok(c) => c,
        Err(e) => return e.response(),
    };
    match service.register_consent(&c).await {
        Ok(c) => {
            tracing::info!(id = %c.id, guardian = caller.as_guardian, "citizen API: consent registered");
            json_response(StatusCode::CREATED, consent_json(&c))
        }
        Err(e) => store_failed(e),
    }
}

async fn revoke(
    caller: &Caller<'_>,
    service: &ConsentService,
    id: &str,
    m: &Map<String, Value>,
) -> Resp {
    if let Some(field) = m.keys().next() {
        return bad_request(field, "unknown field; this route needs no body").response();
    }
    match service
        .revoke_consent_of(&caller.patient, id, caller.citizen)
        .await
    {
        Ok(EndOutcome::Ended(c)) => {
            tracing::info!(id = %c.id, guardian = caller.as_guardian, "citizen API: consent revoked");
            json_response(StatusCode::OK, consent_json(&c))
        }
        Ok(EndOutcome::AlreadyEnded(c)) => json_response(
            StatusCode::CONFLICT,
            json!({"error": "the consent was already revoked; nothing changed", "consent": consent_json(&c)}),
        ),
        Ok(EndOutcome::NotFound) => {
            error(StatusCode::NOT_FOUND, "you have no consent with that id")
        }
        Err(e) => store_failed(e),
    }
}

async fn register_block(
    caller: &Caller<'_>,
    service: &ConsentService,
    m: Map<String, Value>,
) -> Resp {
    let b = match parse_citizen_block(caller, m) {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    match service.register_block(&b).await {
        Ok(b) => {
            tracing::info!(id = %b.id, guardian = caller.as_guardian, "citizen API: block registered");
            json_response(StatusCode::CREATED, block_json(&b))
        }
        Err(e) => store_failed(e),
    }
}

async fn lift_request(
    caller: &Caller<'_>,
    service: &ConsentService,
    id: &str,
    m: &Map<String, Value>,
) -> Resp {
    let reason = match check_fields(m, &["reason"]).and_then(|()| reason_field(m, "reason")) {
        Ok(r) => r,
        Err(e) => return e.response(),
    };
    match service
        .request_block_lift(&caller.patient, id, caller.citizen, reason.as_deref())
        .await
    {
        Ok(LiftRequestOutcome::Recorded(b)) => {
            tracing::info!(id = %b.id, guardian = caller.as_guardian, "citizen API: block lift requested");
            json_response(StatusCode::ACCEPTED, block_json(&b))
        }
        Ok(LiftRequestOutcome::AlreadyRequested(b)) => {
            json_response(StatusCode::ACCEPTED, block_json(&b))
        }
        Ok(LiftRequestOutcome::AlreadyLifted(b)) => json_response(
            StatusCode::CONFLICT,
            json!({"error": "the block is already lifted; nothing changed", "block": block_json(&b)}),
        ),
        Ok(LiftRequestOutcome::NotFound) => {
            error(StatusCode::NOT_FOUND, "you have no block with that id")
        }
        Err(e) => store_failed(e),
    }
}

fn error(status: StatusCode, message: &str) -> Resp {
    json_response(status, json!({ "error": message }))
}

fn not_allowed(allow: &'static str) -> Resp {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed here; allowed: {allow}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    r
}

fn store_failed(e: impl std::fmt::Display) -> Resp {
    tracing::error!(error = %e, "citizen API: consent store operation failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the consent register failed; try again later (the list shows whether a change was made)",
    )
}

#[cfg(test)]
#[path = "self_service_tests.rs"]
mod tests;
