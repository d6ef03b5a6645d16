//! The citizen's side (specs/citizen.md): the overview of one's care across every care
//! giver, one's consents and blocks, and who has read one's records.
//!
//! | method and path | what |
//! | --- | --- |
//! | `GET /citizen/v1/me` | who the token says is asking, and for whom |
//! | `GET /citizen/v1/overview` | the overview: items, sources, withheld counts |
//! | `GET /citizen/v1/records?information_set=&logical_address=&record_id=` | one full record |
//! | `GET`, `POST /citizen/v1/consents`, `POST /citizen/v1/consents/{id}/revoke` | my consents (with blocks in the list) |
//! | `POST /citizen/v1/blocks`, `POST /citizen/v1/blocks/{id}/lift-request` | my blocks |
//! | `GET /citizen/v1/access-log?page=&page_size=` | who has read my records |
//! | `GET /citizen/` (citizen listener only) | the citizen web page |
//! | `GET /citizen/demo/token` (`serve --demo`, citizen listener only) | a demo sign-in |
//!
//! The API is served on the mutual-TLS service port (for e-service platforms that call
//! on a citizen's behalf; the platform is the sender the routing table authorises) and,
//! with the page, on the citizen listener (`[citizen] listen`: TLS without client
//! certificates, because citizens have none; the sender is `[citizen] consumer_id`).
//! Either way the citizen is who the citizen token says, and the patient comes from the
//! token only, never from the request.

pub mod demo;
pub mod listener;
pub mod overview;
mod page;
pub mod record;

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::json;
use vaxel_adapter::{InformationSet, Record};
use vaxel_pdl::access_log::{AccessLog, AccessLogStore};
use vaxel_pdl::citizen::identity::{ActingAs, CitizenContext, CitizenVerifier};
use vaxel_pdl::citizen::log::{citizen_extract, CitizenReadLog, ExtractError};
use vaxel_pdl::citizen::rules::{Approval, ReleaseRules};
use vaxel_pdl::consent::policy::PatientKey;
use vaxel_pdl::consent::ConsentService;

use crate::onward::{Onward, OnwardHeaders};
use crate::ops::json_response;
use crate::pipeline::observe::{Facts, Producer};
use crate::services::aggregating::Aggregator;
use crate::services::Caller;

/// Every citizen path starts with this.
pub const PREFIX: &str = "/citizen/";
/// The API's paths.
pub const API_PREFIX: &str = "/citizen/v1/";
/// Where an overview item's full record is.
pub const RECORD_PATH: &str = "/citizen/v1/records";

thread_local! {
    /// The citizen API's contract label for metrics (made once per thread).
    static LABEL: Arc<str> = Arc::from("citizen");
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The mutual-TLS service port: the API only.
    Service,
    /// The citizen listener: the page and the API.
    Citizen,
}

/// The citizen side's state.
pub struct Citizen {
    verifier: CitizenVerifier,
    rules: ReleaseRules,
    aggregator: Arc<Aggregator>,
    consent: Arc<ConsentService>,
    access_log: Option<AccessLog>,
    access_log_store: Arc<dyn AccessLogStore>,
    sets: &'static [&'static dyn InformationSet],
    /// The sender on the citizen listener.
    pub consumer_id: String,
    demo: Option<demo::DemoIssuer>,
}

impl std::fmt::Debug for Citizen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Citizen")
            .field("consumer_id", &self.consumer_id)
            .field("demo", &self.demo.is_some())
            .finish_non_exhaustive()
    }
}

/// The citizen side of a gateway with `config` (`[citizen] enabled`).
pub fn build(
    config: &crate::config::Config,
    aggregator: Arc<Aggregator>,
    consent: Arc<ConsentService>,
    access_log: Option<AccessLog>,
    access_log_store: Arc<dyn AccessLogStore>,
) -> anyhow::Result<Citizen> {
    let c = &config.citizen;
    let verifier = CitizenVerifier::from_config(c).map_err(|e| {
        anyhow::anyhow!(
            "cannot load the citizen issuers' keys ([[citizen.issuers]] in {}): {e}",
            config.origin.display()
        )
    })?;
    let demo = match &config.demo_citizen_key {
        Some(path) => Some(demo::DemoIssuer::load(path)?),
        None => None,
    };
    Ok(Citizen {
        verifier,
        rules: ReleaseRules::from_config(c),
        aggregator,
        consent,
        access_log,
        access_log_store,
        // Without the citizen listener nobody asks as this consumer.
        consumer_id: c.consumer_id.clone().unwrap_or_default(),
        sets: vaxel_adapters::all(),
        demo,
    })
}

impl Citizen {
    /// Answer one request under `/citizen/`. `sender` is the system the routing table
    /// authorises for the sources.
    #[allow(clippy::too_many_arguments)]
    pub async fn handle(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        sender: &str,
        port: Port,
        onward: &Onward,
        instance: &HeaderValue,
        correlation: &HeaderValue,
        facts: &mut Facts,
    ) -> Response<Full<Bytes>> {
        facts.contract = Some(LABEL.with(|l| l.clone()));
        facts.contract_seen = true;
        facts.producer = Producer::Local("citizen");
        let path = parts.uri.path();
        if port == Port::Citizen && !path.starts_with(API_PREFIX) {
            if path == "/citizen/demo/token" {
                return self.demo_token(parts);
            }
            return page::serve(parts, self.demo.is_some());
        }
        // Everything else needs the citizen's token.
        let now = chrono::Utc::now().timestamp();
        let who = match self.verifier.verify_headers(&parts.headers, now) {
            Ok(c) => c,
            Err(e) => {
                let mut r = json_response(
                    e.status(),
                    json!({"error": e.check(), "message": e.to_string()}),
                );
                if let Some(v) = e
                    .www_authenticate()
                    .and_then(|v| HeaderValue::from_str(&v).ok())
                {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return r;
            }
        };
        if let Some(log) = &mut facts.log {
            log.caller = sender.to_string();
        }
        let onward_headers = OnwardHeaders::on_behalf(
            sender,
            instance,
            &HeaderValue::from_str(sender).unwrap_or_else(|_| HeaderValue::from_static("")),
            "",
            correlation,
        );
        let ctx = Caller {
            sender,
            original_consumer: sender,
            correlation,
            request_headers: &parts.headers,
            onward: &onward_headers,
        };
        let rest = &path[API_PREFIX.len()..];
        if matches!(rest, "me" | "overview" | "records" | "access-log") {
            // The consents and blocks routes check their own (self_service.rs).
            if let Some(refused) = names_another_patient(parts, &who) {
                return refused;
            }
        }
        match (&parts.method, rest) {
            (&Method::GET, "me") => json_response(StatusCode::OK, me_json(&who)),
            (&Method::GET, "overview") => self.overview(&who, onward, &ctx).await,
            (&Method::GET, "records") => self.record(parts, &who, onward, &ctx).await,
            (&Method::GET, "access-log") => self.access_log_extract(parts, &who).await,
            _ if vaxel_pdl::citizen::self_service::is_self_service_path(path) => {
                self.self_service(parts, body, &who).await
            }
            (_, "me" | "overview" | "records" | "access-log") => method_not_allowed(),
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not-found", "message": format!("no citizen API at {path}: see specs/openapi-citizen.yaml")}),
            ),
        }
    }

    /// The patient-facing rules for one record.
    fn release(
        &self,
        now: chrono::NaiveDateTime,
        set: &'static dyn InformationSet,
        record: &Record,
    ) -> overview::Release {
        let d = set.descriptor();
        let h = &record.header;
        let approval = Approval::from_flag(
            !d.record.approved_for_patient.is_empty(),
            h.approved_for_patient,
        );
        match self.rules.decide(
            d.name,
            h.care_giver.as_deref(),
            approval,
            h.time.as_deref(),
            now,
        ) {
            vaxel_pdl::citizen::rules::Release::Show => Ok(()),
            vaxel_pdl::citizen::rules::Release::Withhold(reason) => Err(reason.as_str()),
        }
    }

    async fn overview(
        &self,
        who: &CitizenContext,
        onward: &Onward,
        ctx: &Caller<'_>,
    ) -> Response<Full<Bytes>> {
        let now = vaxel_model::clock::now_local();
        let release = |set: &'static dyn InformationSet, r: &Record| self.release(now, set, r);
        let (view, shown) = overview::gather(
            &self.aggregator,
            onward,
            ctx,
            &who.patient,
            self.sets,
            &release,
        )
        .await;
        // Under PDL the patient's own reads are logged too (as the guardian's, when a
        // guardian reads); if the log cannot take them, nothing is shown.
        let correlation = ctx.correlation.to_str().unwrap_or("");
        let mut read = CitizenReadLog::new(who, correlation);
        for s in &shown {
            for (system, ids) in &s.by_source_system {
                for id in ids {
                    read.shown(s.information_set, system, id.as_deref());
                }
            }
        }
        let entries = read.into_entries(chrono::Utc::now());
        if let Err(e) = self.log(entries).await {
            return *e;
        }
        json_response(
            StatusCode::OK,
            json!({
                "patient": who.patient,
                "acting_as": acting_as(who),
                "items": view.items,
                "sources": view.sources,
                "withheld": view.withheld,
            }),
        )
    }

    async fn record(
        &self,
        parts: &http::request::Parts,
        who: &CitizenContext,
        onward: &Onward,
        ctx: &Caller<'_>,
    ) -> Response<Full<Bytes>> {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let missing = |field: &str| {
            json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("the query parameter `{field}` is required"), "field": field}),
            )
        };
        let Some(set_name) = get("information_set") else {
            return missing("information_set");
        };
        let Some(set) = self
            .sets
            .iter()
            .copied()
            .find(|s| s.descriptor().name == set_name)
        else {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("`{set_name}` is not an information set of this gateway"), "field": "information_set"}),
            );
        };
        let Some(logical_address) = get("logical_address") else {
            return missing("logical_address");
        };
        let Some(record_id) = get("record_id") else {
            return missing("record_id");
        };
        let q = record::RecordQuery {
            set,
            logical_address,
            record_id,
        };
        let now = vaxel_model::clock::now_local();
        let release = |set: &'static dyn InformationSet, r: &Record| self.release(now, set, r);
        match record::fetch(&self.aggregator, onward, ctx, &who.patient, &q, &release).await {
            Ok((xml, source_system)) => {
                let mut read = CitizenReadLog::new(who, ctx.correlation.to_str().unwrap_or(""));
                read.shown(
                    set.descriptor().name,
                    source_system.as_deref().unwrap_or(&q.logical_address),
                    Some(&q.record_id),
                );
                let entries = read.into_entries(chrono::Utc::now());
                if let Err(e) = self.log(entries).await {
                    return *e;
                }
                let mut r = Response::new(Full::new(Bytes::from(xml)));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml; charset=UTF-8"),
                );
                r
            }
            Err(record::NotShown::NotFound) => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not-found", "message": "no such record of yours at that source"}),
            ),
            Err(record::NotShown::SourceFailed(message)) => json_response(
                StatusCode::BAD_GATEWAY,
                json!({"error": "source-failed", "message": message}),
            ),
        }
    }

    async fn access_log_extract(
        &self,
        parts: &http::request::Parts,
        who: &CitizenContext,
    ) -> Response<Full<Bytes>> {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        // `Err(name)`: the parameter is there but not a whole number.
        let number = |name: &'static str| -> Result<Option<usize>, &'static str> {
            match params.iter().find(|(k, _)| k == name) {
                None => Ok(None),
                Some((_, v)) => v.parse::<usize>().map(Some).map_err(|_| name),
            }
        };
        let (page, page_size) = match (number("page"), number("page_size")) {
            (Ok(page), Ok(size)) => (page.unwrap_or(1), size),
            (Err(name), _) | (_, Err(name)) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("`{name}` must be a whole number above 0"), "field": name}),
                )
            }
        };
        match citizen_extract(
            self.access_log_store.as_ref(),
            &who.patient,
            page,
            page_size,
        )
        .await
        {
            Ok(extract) => json_response(StatusCode::OK, json!(extract)),
            Err(e @ ExtractError::OutOfRange { field, .. }) => json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": e.to_string(), "field": field}),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "the citizen's access log extract could not be read");
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "store", "message": "the access log cannot be read now; try again later"}),
                )
            }
        }
    }

    async fn self_service(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        who: &CitizenContext,
    ) -> Response<Full<Bytes>> {
        let mut req = http::Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.headers_mut() = parts.headers.clone();
        let caller = vaxel_pdl::citizen::self_service::SelfServiceCaller {
            patient: &who.patient,
            citizen: &who.citizen,
            as_guardian: who.acting_as == ActingAs::Guardian,
        };
        vaxel_pdl::citizen::self_service::handle(req, &caller, &self.consent).await
    }

    /// Write the entries of what was shown; an error answer when they cannot be.
    async fn log(
        &self,
        entries: Vec<vaxel_store::access_log::AccessLogEntry>,
    ) -> Result<(), Box<Response<Full<Bytes>>>> {
        if entries.is_empty() {
            return Ok(());
        }
        let Some(log) = &self.access_log else {
            return Err(Box::new(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "access-log", "message": "the access log is not running, so nothing can be shown (PDL)"}),
            )));
        };
        vaxel_pdl::consent::enforce::write_access_log(Some(log), entries)
            .await
            .map_err(|f| {
                Box::new(json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "access-log", "message": f.to_string()}),
                ))
            })
    }

    fn demo_token(&self, parts: &http::request::Parts) -> Response<Full<Bytes>> {
        let Some(issuer) = &self.demo else {
            return json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not-found", "message": "demo sign-in exists only in `vaxel serve --demo`"}),
            );
        };
        if parts.method != Method::GET {
            return method_not_allowed();
        }
        let child = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "child")
            .map(|(_, v)| v.into_owned());
        match issuer.token(vaxel_routing::DEMO_PATIENT, 3, child.as_deref()) {
            Ok(token) => json_response(
                StatusCode::OK,
                json!({"token": token, "expires_in": demo::TOKEN_LIFETIME_S}),
            ),
            Err(e) => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "demo-token", "message": e.to_string()}),
            ),
        }
    }
}

/// specs/citizen.md §1.2: the patient is never taken from the request. A `patient` or
/// `patient_id` query parameter MAY repeat the token's patient; any other value (another
/// patient, or no personal identity number at all) is refused with 403 before anything
/// is read: answering with the signed-in patient's records instead would let a client
/// that asked about someone else show them as that person's.
fn names_another_patient(
    parts: &http::request::Parts,
    who: &CitizenContext,
) -> Option<Response<Full<Bytes>>> {
    let own = PatientKey::parse(&who.patient);
    let query = parts.uri.query().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "patient" || name == "patient_id")
        .find(|(_, value)| own.is_none() || PatientKey::parse(value) != own)
        .map(|(name, _)| {
            json_response(
                StatusCode::FORBIDDEN,
                json!({"error": "another-patient", "message": format!("`{name}` does not name the patient you are signed in for: you can only read that patient's records (leave `{name}` out)")}),
            )
        })
}

fn acting_as(who: &CitizenContext) -> &'static str {
    match who.acting_as {
        ActingAs::Guardian => "guardian",
        ActingAs::Patient => "self",
    }
}

fn me_json(who: &CitizenContext) -> serde_json::Value {
    json!({
        "citizen": who.citizen,
        "patient": who.patient,
        "acting_as": acting_as(who),
        "loa": who.loa,
    })
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"error": "method-not-allowed", "message": "see specs/openapi-citizen.yaml for the methods of this path"}),
    )
}
