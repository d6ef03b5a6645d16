//! One request through the gateway (DESIGN.md "Request path"). [`handle`] runs these
//! phases, in this order; each is a short function in its own module that returns a
//! typed value or a [`Fault`] (which `vaxel_model::fault` turns into the SOAP fault):
//!
//! 1. [`admit`]: a place among the core's requests (else HTTP 503 + `Retry-After`), POST
//!    only, the declared size within the listener's limit → the declared length;
//! 2. [`identify`]: the caller from its certificate, or `x-vp-sender-id` from a
//!    whitelisted address (VP002, VP011) → the sender;
//! 3. [`checks`]: routing-history loop (VP014) and who may name an original consumer
//!    (VP013) → the [`checks::Hop`] onward calls carry;
//! 4. [`sniff`]: the envelope head within its time and idle limits; contract and
//!    logical address (VP015, VP003, VP010) → [`sniff::EnvelopeHead`];
//! 5. [`route`]: vägval on one routing-table snapshot, producer or local service
//!    (VP008, VP004, VP005, VP006), and the contract's size limit → [`route::RouteDecision`];
//! 6. [`authorise`]: anropsbehörighet for the sender on the same snapshot (VP007);
//! 7. [`dispatch`]: a producer gets the message streamed onward (with SVOD/PDL checks on
//!    journal contracts), a local service answers from the registry.

pub mod admit;
pub mod authorise;
pub mod body;
pub mod checks;
pub mod dispatch;
pub mod identify;
pub mod observe;
pub mod rivta;
pub mod route;
pub mod sniff;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use vaxel_model::Fault;
use vaxel_pdl::access_log::{AccessLog, AccessLogStore};
use vaxel_pdl::consent::ConsentService;
use vaxel_routing::RoutingTableHandle;

use crate::config::Config;
use crate::onward::{Onward, OnwardHeaders};
use crate::services::{Caller, Registry};
use crate::stats::Stats;
use admit::CoreLimits;
use identify::ConnectionInfo;
use route::Target;

/// What the gateway answers with: its own small bodies, or the producer's stream.
pub type GatewayBody = Either<Full<Bytes>, Incoming>;

/// State shared by every core (immutable or atomic).
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub routing: Arc<RoutingTableHandle>,
    pub stats: Stats,
    pub started: std::time::Instant,
    /// The gateway's own SOAP services (`local://<name>` routes).
    pub services: Registry,
    /// Consent, blocks and emergency access (`[consent] enabled`); `None` when off.
    pub consent: Option<Arc<ConsentService>>,
    /// The PDL access log (running when consent checking is enabled).
    pub access_log: Option<AccessLog>,
    /// Read access to the access log (review API).
    pub access_log_store: Option<Arc<dyn AccessLogStore>>,
    /// `instance_id` as a header value, built once (every onward call carries it).
    pub instance_header: HeaderValue,
    /// SDK messaging (`[sdk] enabled`); `None` when off.
    pub sdk: Option<Arc<vaxel_sdk::Sdk>>,
    /// Changes between nodes on a shared database (routing reloads are published).
    pub cluster: Option<Arc<dyn vaxel_store::Cluster>>,
    /// Whether the store's database answers (readiness).
    pub store_health: crate::cluster::StoreHealth,
    /// The dashboard's last minutes of traffic.
    pub dashboard: crate::dashboard::History,
    /// The citizen's side (`[citizen] enabled`); `None` when off.
    pub citizen: Option<Arc<crate::citizen::Citizen>>,
    /// `serve --demo` only: the demo care-staff identity provider behind
    /// `GET /demo/user-context` on the admin listener.
    pub demo_staff: Option<crate::demo_tokens::DemoStaffIssuer>,
}

impl Shared {
    /// The shared state of a gateway with `config`, its routing table and local services,
    /// and (with consent checking on) its consent service and access log.
    pub fn new(
        config: Config,
        routing: Arc<RoutingTableHandle>,
        services: Registry,
        consent: Option<Arc<ConsentService>>,
        access_log: Option<AccessLog>,
        access_log_store: Option<Arc<dyn AccessLogStore>>,
    ) -> Shared {
        // Validated printable ASCII (config): always a valid header value.
        let instance_header = HeaderValue::from_str(&config.instance_id)
            .unwrap_or_else(|_| HeaderValue::from_static("vaxel"));
        Shared {
            config,
            routing,
            stats: Stats::default(),
            started: std::time::Instant::now(),
            services,
            consent,
            access_log,
            access_log_store,
            instance_header,
            sdk: None,
            cluster: None,
            store_health: crate::cluster::StoreHealth::default(),
            dashboard: crate::dashboard::History::default(),
            citizen: None,
            demo_staff: None,
        }
    }
}

/// What one core owns: its onward client (its own connection pool) and its request
/// limit.
#[derive(Debug, Clone)]
pub struct Core {
    pub onward: Onward,
    pub limits: CoreLimits,
}

/// One request in progress, as the phases after identification see it.
#[derive(Debug)]
pub struct Request<'a> {
    pub shared: &'a Shared,
    pub onward: &'a Onward,
    pub headers: &'a HeaderMap,
    pub sender: &'a str,
    pub hop: &'a checks::Hop,
    pub correlation: &'a HeaderValue,
    pub onward_headers: &'a OnwardHeaders,
    pub content_length: Option<u64>,
    /// The request body while it is not (fully) read: on a fault the rest is discarded.
    pub unread: &'a mut Option<Incoming>,
    /// From the onward request to the producer's answer head (set by dispatch).
    pub producer_time: Option<std::time::Duration>,
}

impl<'a> Request<'a> {
    /// The caller as local services see it.
    pub fn caller(&self) -> Caller<'a> {
        Caller {
            sender: self.sender,
            original_consumer: self.hop.original_consumer.to_str().unwrap_or(self.sender),
            correlation: self.correlation,
            request_headers: self.headers,
            onward: self.onward_headers,
        }
    }
}

/// Handle one request; never fails (every failure is a SOAP fault or an HTTP 503).
pub async fn handle(
    req: http::Request<Incoming>,
    conn: Arc<ConnectionInfo>,
    shared: Arc<Shared>,
    core: Core,
) -> Result<Response<GatewayBody>, std::convert::Infallible> {
    let started = std::time::Instant::now();
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    // Phase 1a: a place among this core's requests, or a fast 503 (no unbounded queue).
    let Some(_in_flight) = admit::slot(&core.limits) else {
        shared
            .stats
            .requests_rejected_busy
            .fetch_add(1, Ordering::Relaxed);
        vaxel_telemetry::metrics()
            .refused
            .get_or_create(&[("limit", "requests")])
            .inc();
        return Ok(admit::busy_response().map(Either::Left));
    };
    let _counted = observe::InFlight::start();
    let correlation = crate::onward::correlation_id(req.headers());
    let http1 = req.version() < http::Version::HTTP_2;
    let (parts, body) = req.into_parts();
    let mut facts = observe::Facts::new(observe::request_log_enabled());
    // SDK messaging has its own REST paths on the same mutual-TLS port (specs/sdk.md §7).
    if parts.uri.path().starts_with(crate::sdk_http::PREFIX) {
        let resp = crate::sdk_http::handle(&parts, body, &conn, &shared, &mut facts).await;
        let outcome = observe::Outcome {
            status: resp.status(),
            fault_code: observe::sdk_fault_code(resp.status()),
            fault: None,
        };
        observe::finish(&facts, started, &outcome, &correlation);
        return Ok(resp.map(Either::Left));
    }
    // The citizen API, for e-service platforms calling on a citizen's behalf
    // (specs/citizen.md); the platform is identified like any caller.
    if parts.uri.path().starts_with(crate::citizen::API_PREFIX) {
        let resp = citizen_api(
            &parts,
            body,
            &conn,
            &shared,
            &core,
            &correlation,
            &mut facts,
        )
        .await;
        let outcome = observe::Outcome {
            status: resp.status(),
            fault_code: observe::citizen_fault_code(resp.status()),
            fault: None,
        };
        observe::finish(&facts, started, &outcome, &correlation);
        return Ok(resp.map(Either::Left));
    }
    let mut unread = Some(body);
    let result = phases(
        &parts,
        &conn,
        &shared,
        &core,
        &correlation,
        &mut unread,
        &mut facts,
    )
    .await;
    match result {
        Ok(resp) => {
            // A producer's SOAP fault passes through unchanged; it is counted as one.
            let fault_code =
                (resp.status() == http::StatusCode::INTERNAL_SERVER_ERROR).then_some("PRODUCER");
            let outcome = observe::Outcome {
                status: resp.status(),
                fault_code,
                fault: None,
            };
            observe::finish(&facts, started, &outcome, &correlation);
            Ok(resp)
        }
        Err(fault) => {
            if let (true, Some(body)) = (http1, unread.take()) {
                tokio::spawn(body::discard_unread(
                    body,
                    shared.config.service.max_body_bytes.saturating_mul(2),
                ));
            }
            shared.stats.fault(&fault);
            let outcome = observe::Outcome {
                status: http::StatusCode::INTERNAL_SERVER_ERROR,
                fault_code: Some(fault.code()),
                fault: Some(&fault),
            };
            observe::finish(&facts, started, &outcome, &correlation);
            let resp = fault.into_response(&shared.config.instance_id, Some(&correlation));
            Ok(resp.map(Either::Left))
        }
    }
}

/// A citizen API request on the service port.
async fn citizen_api(
    parts: &http::request::Parts,
    body: Incoming,
    conn: &ConnectionInfo,
    shared: &Shared,
    core: &Core,
    correlation: &HeaderValue,
    facts: &mut observe::Facts,
) -> Response<Full<Bytes>> {
    let Some(citizen) = shared.citizen.as_deref() else {
        return crate::ops::json_response(
            http::StatusCode::NOT_FOUND,
            serde_json::json!({"error": "citizen-disabled", "message": "the citizen API is not enabled on this gateway: set [citizen] enabled = true"}),
        );
    };
    let cfg = &shared.config;
    let sender =
        match identify::resolve_sender(conn, &parts.headers, &cfg.identity, &cfg.instance_id) {
            Ok(s) => s,
            Err(fault) => {
                return crate::ops::json_response(
                    http::StatusCode::FORBIDDEN,
                    serde_json::json!({"error": "identity", "message": fault.to_string()}),
                )
            }
        };
    facts.sender_seen = true;
    citizen
        .handle(
            parts,
            body,
            &sender,
            crate::citizen::Port::Service,
            &core.onward,
            &shared.instance_header,
            correlation,
            facts,
        )
        .await
}

/// Phases 1b to 7.
async fn phases(
    parts: &http::request::Parts,
    conn: &ConnectionInfo,
    shared: &Shared,
    core: &Core,
    correlation: &HeaderValue,
    unread: &mut Option<Incoming>,
    facts: &mut observe::Facts,
) -> Result<Response<GatewayBody>, Fault> {
    let cfg = &shared.config;
    let content_length = admit::request(parts, &cfg.service)?;
    let sender = identify::resolve_sender(conn, &parts.headers, &cfg.identity, &cfg.instance_id)?;
    facts.sender_seen = true;
    if let Some(log) = &mut facts.log {
        log.caller.clone_from(&sender);
    }
    let hop = checks::hop(&parts.headers, &sender, &cfg.identity, &cfg.instance_id)?;
    let mut head = sniff::envelope_head(unread, &cfg.service).await?;
    facts.contract_seen = true;
    if let Some(log) = &mut facts.log {
        log.contract.clone_from(&head.envelope.contract_namespace);
        if let Some(a) = &head.envelope.address {
            log.logical_address.clone_from(&a.value);
        }
    }

    // Route, then authorise, on one snapshot of the routing table. The lock-free guard
    // is not held across an await: the block ends before dispatch.
    let decision = {
        let contract = head.envelope.contract_namespace.as_str();
        let guard = shared.routing.current_guard();
        let table = guard.as_ref().ok_or(Fault::NoRoutingTable)?;
        // Metric labels: the table's spelling, for names it knows.
        facts.contract = table.contract_label(contract).cloned();
        facts.consumer = table.consumer_label(&sender).cloned();
        let address = sniff::logical_address(&head.envelope)?.value.as_str();
        let decision = route::decide(
            table,
            &shared.services,
            contract,
            address,
            cfg.service.max_body_bytes,
        )?;
        facts.producer = match &decision.target {
            Target::Producer { url, .. } => observe::Producer::Url(url.clone()),
            Target::Local(service) => observe::Producer::Local(service.name()),
        };
        authorise::check(table, &sender, contract, address)?;
        route::check_size(&decision, content_length, head.received, contract)?;
        decision
    };

    let onward_headers = OnwardHeaders::on_behalf(
        &sender,
        &shared.instance_header,
        &hop.original_consumer,
        &hop.routing_history,
        correlation,
    );
    let mut request = Request {
        shared,
        onward: &core.onward,
        headers: &parts.headers,
        sender: &sender,
        hop: &hop,
        correlation,
        onward_headers: &onward_headers,
        content_length,
        unread,
        producer_time: None,
    };
    let result = match &decision.target {
        Target::Local(service) => {
            dispatch::local(service.as_ref(), &mut request, &mut head, decision.max_body).await
        }
        Target::Producer {
            url,
            profile,
            timeout,
        } => {
            dispatch::producer(
                &mut request,
                head,
                url,
                *profile,
                *timeout,
                decision.max_body,
            )
            .await
        }
    };
    facts.producer_time = request.producer_time;
    result
}
