//! One request through the gateway, phase by phase (DESIGN.md "Request path"):
//! identity → loop and header checks → envelope sniff → authorisation → route →
//! forward. Each phase returns a typed outcome; `fault.rs` turns failures into faults.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response};
use http_body::Body as _;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use vaxel_adapter::{sniff, Envelope, RivProfile, SniffError, SniffLimits, SniffOutcome};

use crate::config::Config;
use crate::fault::Fault;
use crate::forward::{ForwardBody, ForwardError, Forwarder};
use crate::headers;
use crate::identity::{resolve_sender, ConnectionInfo};
use crate::routing::{LocalService, RoutingTableHandle};
use crate::stats::Stats;

/// What the gateway answers with: its own small bodies, or the producer's stream.
pub type GatewayBody = Either<Full<Bytes>, Incoming>;

/// State shared by every core (immutable or atomic).
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub routing: Arc<RoutingTableHandle>,
    pub stats: Stats,
    pub started: std::time::Instant,
    /// The gateway's own SOAP services (`local://...` routes).
    pub local: LocalServices,
    /// Consent, blocks and emergency access (`[consent] enabled`); `None` when off.
    pub consent: Option<Arc<crate::consent::ConsentService>>,
    /// The PDL access log (running when consent checking is enabled).
    pub access_log: Option<crate::access_log::AccessLog>,
    /// Read access to the access log (review API).
    pub access_log_store: Option<Arc<dyn crate::store::access_log::AccessLogStore>>,
}

/// A SOAP service answered inside the gateway (e.g. the engagement index): the whole
/// request envelope in, the whole response envelope (HTTP 200) or a fault out.
pub trait LocalSoapService: Send + Sync + std::fmt::Debug {
    fn call<'a>(
        &'a self,
        contract: &'a str,
        envelope: Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>>;

    /// What the service reports under its name in `GET /status`.
    fn status(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = serde_json::Value> + Send + '_>> {
        Box::pin(async { serde_json::json!({"enabled": true}) })
    }
}

/// The services behind `local://<name>` routes; `None` when not configured.
#[derive(Debug, Default)]
pub struct LocalServices {
    pub engagement_index: Option<Arc<dyn LocalSoapService>>,
    pub aggregator: Option<crate::aggregate::Aggregator>,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones this gateway sets itself.
/// `content-length` is left to the client, which sets it from the forwarded body's exact
/// size: the body differs from the caller's when the address header is converted.
const NOT_FORWARDED: [&str; 14] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "x-vp-sender-id",
    "x-vp-instance-id",
    "x-rivta-original-serviceconsumer-hsaid",
    "x-rivta-routing-history",
    "x-skltp-correlation-id",
];

/// Per-core request limit (thread-per-core: no counter is shared between cores).
#[derive(Debug, Clone)]
pub struct CoreLimits {
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: usize,
}

/// Decrements its counter when dropped.
#[derive(Debug)]
pub struct CountGuard(Arc<AtomicUsize>);

impl CountGuard {
    pub fn new(counter: Arc<AtomicUsize>) -> CountGuard {
        counter.fetch_add(1, Ordering::Relaxed);
        CountGuard(counter)
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Handle one request; never fails (every failure is a SOAP fault response).
pub async fn handle(
    req: Request<Incoming>,
    conn: Arc<ConnectionInfo>,
    shared: Arc<Shared>,
    forwarder: Forwarder,
    limits: CoreLimits,
) -> Result<Response<GatewayBody>, std::convert::Infallible> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    if limits.in_flight.load(Ordering::Relaxed) >= limits.max_in_flight {
        // Fast rejection instead of unbounded queueing.
        shared
            .stats
            .requests_rejected_busy
            .fetch_add(1, Ordering::Relaxed);
        return Ok(busy_response());
    }
    let _in_flight = CountGuard::new(limits.in_flight.clone());
    let correlation = req
        .headers()
        .get(headers::CORRELATION_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .cloned()
        .unwrap_or_else(new_correlation_id);
    let http1 = req.version() < http::Version::HTTP_2;
    let mut unread = None;
    match route_and_forward(req, &conn, &shared, &forwarder, &correlation, &mut unread).await {
        Ok(resp) => Ok(resp),
        Err(fault) => {
            if let (true, Some(body)) = (http1, unread.take()) {
                tokio::spawn(discard_unread_body(
                    body,
                    shared.config.service.max_body_bytes.saturating_mul(2),
                ));
            }
            shared.stats.fault(fault.code());
            tracing::info!(
                code = fault.code(),
                correlation_id = ?correlation,
                peer = %conn.peer,
                reason = %fault,
                "request refused"
            );
            let resp = fault.into_response(&shared.config.instance_id, Some(&correlation));
            Ok(resp.map(Either::Left))
        }
    }
}

fn busy_response() -> Response<GatewayBody> {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from_static(
        b"the gateway is at its limit of concurrent requests (service.max_concurrent_requests): retry after 1 s\n",
    ))));
    *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}

fn new_correlation_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// How long at most the rest of a refused HTTP/1.1 request is read and discarded.
const DISCARD_UNREAD_BODY_FOR: Duration = Duration::from_secs(10);

/// After a fault on HTTP/1.1 the caller may still be sending its body. Closing the
/// connection now would make its writes fail (broken pipe / reset) before it reads the
/// fault. So the rest is read and thrown away, bounded in bytes and time (a lingering
/// close, RFC 9112 §9.6); then the connection is reused or closed as usual. HTTP/2
/// needs none of this: an unread request stream is reset on its own.
async fn discard_unread_body(mut body: Incoming, max_bytes: u64) {
    let discard = async {
        let mut discarded: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                discarded += data.len() as u64;
                if discarded > max_bytes {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_UNREAD_BODY_FOR, discard).await;
}

/// `unread` holds the request body while it is not (fully) read, so that the caller can
/// discard the rest after a fault.
async fn route_and_forward(
    req: Request<Incoming>,
    conn: &ConnectionInfo,
    shared: &Shared,
    forwarder: &Forwarder,
    correlation: &HeaderValue,
    unread: &mut Option<Incoming>,
) -> Result<Response<GatewayBody>, Fault> {
    let cfg = &shared.config;
    let (parts, body) = req.into_parts();
    *unread = Some(body);
    if parts.method != Method::POST {
        return Err(Fault::Malformed(format!(
            "method {} is not supported: RIV-TA services are called with HTTP POST and a SOAP 1.1 envelope",
            parts.method
        )));
    }

    // Phase 1: who is calling.
    let sender = resolve_sender(conn, &parts.headers, &cfg.identity, &cfg.instance_id)?;

    // Phase 2: loop protection and the original consumer.
    let history = parts
        .headers
        .get(headers::ROUTING_HISTORY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if history
        .split(',')
        .any(|hop| hop.trim().eq_ignore_ascii_case(&cfg.instance_id))
    {
        return Err(Fault::Loop(format!(
            "the message has already passed this gateway ({}) : x-rivta-routing-history is \"{history}\"; check the routing tables of the platforms on the path",
            cfg.instance_id
        )));
    }
    // The history every onward call carries: the caller's, then this gateway.
    let new_history = if history.trim().is_empty() {
        cfg.instance_id.clone()
    } else {
        format!("{history},{}", cfg.instance_id)
    };
    let original_consumer = match parts.headers.get(headers::ORIGINAL_CONSUMER) {
        Some(v) => {
            if !cfg.identity.may_set_original_consumer(&sender) {
                return Err(Fault::OriginalConsumerNotAllowed(format!(
                    "caller {sender} may not set x-rivta-original-serviceconsumer-hsaid: remove the header, or have the operator add {sender} to identity.original_consumer_allowed"
                )));
            }
            v.clone()
        }
        None => HeaderValue::from_str(&sender).map_err(|_| {
            Fault::CallerIdentity(format!("caller id {sender:?} is not a valid header value"))
        })?,
    };

    // Phase 3: read the envelope head and sniff it.
    let content_length = content_length(&parts.headers)?;
    if let Some(n) = content_length {
        if n > cfg.service.max_body_bytes {
            return Err(too_large(cfg.service.max_body_bytes));
        }
    }
    let Some(body) = unread.take() else {
        return Err(Fault::Malformed("the request body was already read".into()));
    };
    let limits = SniffLimits {
        max_prefix_bytes: cfg.service.max_envelope_head_bytes,
        max_depth: cfg.service.max_element_depth,
    };
    let mut head = tokio::time::timeout(
        cfg.service.envelope_head_timeout,
        read_envelope_head(body, &limits, cfg.service.max_body_bytes),
    )
    .await
    .map_err(|_| {
        Fault::Malformed(format!(
            "the SOAP envelope head did not arrive within {} ms: send the whole message without pauses",
            cfg.service.envelope_head_timeout.as_millis()
        ))
    })??;
    *unread = head.rest.take();
    let envelope = head.envelope.clone();
    let address = match &envelope.address {
        None => return Err(Fault::NoLogicalAddress),
        Some(a) if a.value.is_empty() => return Err(Fault::EmptyLogicalAddress),
        Some(a) => a,
    };

    // Phase 4: authorisation (anropsbehörighet) and route (vägval), from one snapshot of
    // the routing table.
    // The lock-free guard is not held across an await: the block ends before forwarding.
    let contract = envelope.contract_namespace.as_str();
    let (url, timeout, producer_profile, contract_max_body, local) = {
        let guard = shared.routing.current_guard();
        let table = guard.as_ref().ok_or(Fault::NoRoutingTable)?;
        let today = today();
        table
            .authorize(&sender, contract, &address.value, today)
            .map_err(crate::routing::authz_fault)?;
        let route = table
            .route(contract, &address.value, today)
            .map_err(crate::routing::route_fault)?;
        let profile = route.rivta_profile.known().ok_or_else(|| {
            Fault::RivVersion(format!(
                "the route for {contract} at {} names RIV-TA profile \"{}\", which this gateway does not know: the routing table must say RIVTABP20 or RIVTABP21",
                address.value, route.rivta_profile
            ))
        })?;
        (
            route.url.clone(),
            route.response_timeout,
            profile,
            route.max_body_bytes,
            route.local_service(),
        )
    };
    // A contract may allow less than the listener (routing table `max_body_bytes`).
    let max_body = contract_max_body.map_or(cfg.service.max_body_bytes, |m| {
        m.min(cfg.service.max_body_bytes)
    });
    if content_length.is_some_and(|n| n > max_body) || head.received > max_body {
        return Err(too_large_for_contract(max_body, contract));
    }
    if let Some(service) = local {
        // The gateway answers itself: read the whole (bounded) message first.
        let whole = read_whole(&mut head, unread, content_length, max_body, cfg, contract).await?;
        let original = original_consumer.to_str().unwrap_or(&sender).to_string();
        let ctx = crate::aggregate::CallContext {
            sender: &sender,
            original_consumer: &original,
            correlation,
            routing_history: &new_history,
            request_headers: &parts.headers,
        };
        return call_local(shared, forwarder, service, &envelope, whole, &ctx).await;
    }
    let mut content_length = content_length;
    // SVOD/PDL on virtualised journal calls (contracts with an information-set adapter,
    // consent checking on): the user context is checked before the producer is asked,
    // the request is read whole (journal queries are small) to know the patient, and
    // the answer is checked record by record before it leaves (specs/user-context.md).
    let journal = match (&shared.consent, vaxel_adapters::by_contract(contract)) {
        (Some(consent), Some(set)) => {
            let user = consent
                .verify_user(&parts.headers)
                .map_err(|e| Fault::UserContext(e.to_string()))?;
            let whole =
                read_whole(&mut head, unread, content_length, max_body, cfg, contract).await?;
            let query = set.parse_request(&whole).map_err(|e| {
                Fault::Malformed(format!(
                    "the {} request cannot be read: {e}",
                    set.descriptor().request_element
                ))
            })?;
            head.received = whole.len() as u64;
            content_length = Some(head.received);
            head.chunks = vec![whole];
            Some((consent.clone(), set, user, query.patient_id))
        }
        _ => None,
    };
    if producer_profile != address.profile {
        // The producer speaks the other basic profile: rewrite the address header only.
        let contiguous = head.contiguous();
        let converted = crate::rivta::convert_address(
            &contiguous,
            address.span.clone(),
            &address.value,
            producer_profile,
        )
        .map_err(|e| {
            Fault::Transform(format!(
                "cannot convert the request from {} to {} for the producer of {contract} at {}: {e}",
                profile_name(address.profile),
                profile_name(producer_profile),
                address.value
            ))
        })?;
        let old_len = contiguous.len() as u64;
        let new_len = converted.len() as u64;
        content_length = content_length.map(|n| n - old_len + new_len);
        head.received = head.received - old_len + new_len;
        head.chunks = vec![Bytes::from(converted)];
    }

    // Phase 5: forward, body streamed.
    head.rest = unread.take();
    let mut fwd = Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .body(ForwardBody::new(
            head.chunks,
            head.received,
            head.rest,
            content_length,
            max_body,
            cfg.service.body_idle_timeout,
        ))
        .map_err(|e| Fault::Producer(format!("cannot build the producer request: {e}")))?;
    let h = fwd.headers_mut();
    for (name, value) in parts.headers.iter() {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            h.append(name.clone(), value.clone());
        }
    }
    if let Some(auth) = url.authority() {
        if let Ok(v) = HeaderValue::from_str(auth.as_str()) {
            h.insert(header::HOST, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&new_history) {
        h.insert(headers::ROUTING_HISTORY, v);
    }
    if let Ok(v) = HeaderValue::from_str(&sender) {
        h.insert(headers::VP_SENDER_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cfg.instance_id) {
        h.insert(headers::VP_INSTANCE_ID, v);
    }
    h.insert(headers::ORIGINAL_CONSUMER, original_consumer);
    h.insert(headers::CORRELATION_ID, correlation.clone());

    let resp = forwarder
        .send(fwd, timeout)
        .await
        .map_err(|e| producer_fault(e, &url.to_string(), timeout))?;

    shared.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let (mut rparts, rbody) = resp.into_parts();
    if rparts.status == http::StatusCode::INTERNAL_SERVER_ERROR {
        // Producer SOAP faults pass through unchanged.
        shared
            .stats
            .producer_faults_passed
            .fetch_add(1, Ordering::Relaxed);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "trailer",
    ] {
        rparts.headers.remove(name);
    }
    rparts
        .headers
        .insert(headers::CORRELATION_ID, correlation.clone());
    if let (Some((consent, set, user, patient)), http::StatusCode::OK) = (journal, rparts.status) {
        let body = http_body_util::Limited::new(rbody, max_body as usize)
            .collect()
            .await
            .map_err(|e| Fault::Producer(format!("reading the producer's answer failed: {e}")))?
            .to_bytes();
        let checked = check_journal_answer(
            shared,
            &consent,
            set,
            &user,
            &patient,
            &address.value,
            correlation,
            body,
        )
        .await?;
        rparts.headers.remove(header::CONTENT_LENGTH);
        rparts.headers.insert(
            crate::aggregate::WITHHELD_RECORDS,
            HeaderValue::from(checked.1),
        );
        return Ok(Response::from_parts(
            rparts,
            Either::Left(Full::new(checked.0)),
        ));
    }
    Ok(Response::from_parts(rparts, Either::Right(rbody)))
}

/// A producer's journal answer with the records the user may not see cut out (every
/// other byte kept), and how many were cut; every decision is access-logged.
#[allow(clippy::too_many_arguments)]
async fn check_journal_answer(
    shared: &Shared,
    consent: &crate::consent::ConsentService,
    set: &'static dyn vaxel_adapter::InformationSet,
    user: &crate::consent::jwt::UserContext,
    patient: &str,
    asked: &str,
    correlation: &HeaderValue,
    body: Bytes,
) -> Result<(Bytes, usize), Fault> {
    let all = match set.parse_response(&body) {
        Ok(vaxel_adapter::ProducerResponse::Records(records)) => records,
        Ok(vaxel_adapter::ProducerResponse::Fault(_)) => return Ok((body, 0)),
        Err(e) => {
            return Err(Fault::Producer(format!(
                "the producer's answer cannot be read, so it cannot be checked against consent and blocks ({e}); nothing was shown"
            )))
        }
    };
    let mut kept = all.clone();
    let mut log = Vec::new();
    let withheld = crate::consent::enforce::filter_records(
        consent,
        user,
        patient,
        set.descriptor().name,
        asked,
        correlation.to_str().unwrap_or(""),
        &mut kept,
        &mut log,
    );
    crate::consent::enforce::write_access_log(shared.access_log.as_ref(), log).await?;
    if withheld == 0 {
        return Ok((body, 0));
    }
    let keep: std::collections::HashSet<(usize, usize)> =
        kept.iter().map(|r| (r.span.start, r.span.end)).collect();
    let mut cut: Vec<std::ops::Range<usize>> = all
        .into_iter()
        .map(|r| r.span)
        .filter(|s| !keep.contains(&(s.start, s.end)))
        .collect();
    cut.sort_by_key(|r| r.start);
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for span in cut {
        if span.start >= at && span.end <= body.len() {
            out.extend_from_slice(&body[at..span.start]);
            at = span.end;
        }
    }
    out.extend_from_slice(&body[at..]);
    Ok((Bytes::from(out), withheld))
}

/// Dispatch to one of the gateway's own services.
async fn call_local(
    shared: &Shared,
    forwarder: &Forwarder,
    service: LocalService,
    envelope: &Envelope,
    whole: Bytes,
    ctx: &crate::aggregate::CallContext<'_>,
) -> Result<Response<GatewayBody>, Fault> {
    let contract = envelope.contract_namespace.as_str();
    let not_configured = || {
        Fault::NoRoute(format!(
            "the routing table sends {contract} to local://{}, which is not enabled on this gateway; see specs/configuration.md",
            service.name()
        ))
    };
    let resp = match service {
        LocalService::EngagementIndex => {
            let ei = shared
                .local
                .engagement_index
                .as_ref()
                .ok_or_else(not_configured)?;
            let out = ei.call(contract, whole).await?;
            let mut r = Response::new(Full::new(Bytes::from(out)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=UTF-8"),
            );
            r.headers_mut()
                .insert(headers::CORRELATION_ID, ctx.correlation.clone());
            r
        }
        LocalService::Aggregating => {
            let agg = shared
                .local
                .aggregator
                .as_ref()
                .ok_or_else(not_configured)?;
            agg.handle(shared, forwarder, envelope, whole, ctx).await?
        }
    };
    shared.stats.local_answers.fetch_add(1, Ordering::Relaxed);
    Ok(resp.map(Either::Left))
}

/// The rest of the request read into one buffer (bounded by `max_body` and the body idle
/// timeout), for the gateway's own services and consent-checked journal calls.
async fn read_whole(
    head: &mut EnvelopeHead,
    unread: &mut Option<Incoming>,
    content_length: Option<u64>,
    max_body: u64,
    cfg: &Config,
    contract: &str,
) -> Result<Bytes, Fault> {
    Ok(ForwardBody::new(
        std::mem::take(&mut head.chunks),
        head.received,
        unread.take(),
        content_length,
        max_body,
        cfg.service.body_idle_timeout,
    )
    .collect()
    .await
    .map_err(|e| body_fault(e, max_body, contract))?
    .to_bytes())
}

/// A request body that could not be read whole for a local service.
fn body_fault(e: crate::forward::BoxError, limit: u64, contract: &str) -> Fault {
    if e.downcast_ref::<crate::forward::BodyTooLarge>().is_some() {
        too_large_for_contract(limit, contract)
    } else if let Some(stalled) = e.downcast_ref::<crate::forward::BodyStalled>() {
        Fault::Malformed(format!(
            "{stalled}: send the whole message without pauses (service.body_idle_timeout_ms)"
        ))
    } else {
        Fault::Malformed(format!("reading the request body failed: {e}"))
    }
}

/// Today's local date for validity checks, recomputed at most once a second per thread
/// (the local-time lookup is not free, and validity is by day).
pub(crate) fn today() -> chrono::NaiveDate {
    use std::cell::Cell;
    thread_local! {
        static CACHE: Cell<Option<(u64, chrono::NaiveDate)>> = const { Cell::new(None) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| match c.get() {
        Some((secs, day)) if secs == now => day,
        _ => {
            let day = chrono::Local::now().date_naive();
            c.set(Some((now, day)));
            day
        }
    })
}

fn profile_name(p: RivProfile) -> &'static str {
    match p {
        RivProfile::Rivta20 => "RIVTABP20 (wsa:To header)",
        RivProfile::Rivta21 => "RIVTABP21 (LogicalAddress header)",
    }
}

fn producer_fault(e: ForwardError, url: &str, timeout: Duration) -> Fault {
    match e {
        ForwardError::TooLarge(t) => too_large(t.limit),
        ForwardError::Stalled(t) => Fault::Malformed(format!(
            "{t}: send the whole message without pauses (service.body_idle_timeout_ms)"
        )),
        ForwardError::Timeout { .. } => Fault::Producer(format!(
            "the producer at {url} did not answer within {} ms (the contract's response timeout); the request may or may not have been processed",
            timeout.as_millis()
        )),
        other => Fault::Producer(format!("{other}")),
    }
}

fn too_large(limit: u64) -> Fault {
    Fault::Malformed(format!(
        "the message is larger than the gateway's limit of {limit} bytes ({} MiB): split the message or send attachments another way",
        limit / (1024 * 1024)
    ))
}

fn too_large_for_contract(limit: u64, contract: &str) -> Fault {
    Fault::Malformed(format!(
        "the message is larger than the limit of {limit} bytes for service contract {contract}: split the message or send attachments another way"
    ))
}

fn content_length(h: &HeaderMap) -> Result<Option<u64>, Fault> {
    match h.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Fault::Malformed("Content-Length is not a number".into())),
    }
}

/// The envelope head: routing facts plus the chunks read so far (forwarded as they are).
struct EnvelopeHead {
    envelope: Envelope,
    chunks: Vec<Bytes>,
    received: u64,
    rest: Option<Incoming>,
}

impl EnvelopeHead {
    /// The bytes read so far as one buffer (a copy only when they came in several chunks).
    fn contiguous(&self) -> Bytes {
        match self.chunks.as_slice() {
            [one] => one.clone(),
            many => {
                let mut b = BytesMut::with_capacity(self.received as usize);
                for c in many {
                    b.extend_from_slice(c);
                }
                b.freeze()
            }
        }
    }
}

/// Read body chunks until the sniffer has seen the first Body child. Chunks are kept as
/// they came (refcounted, no copy); only when the head spans several chunks is a
/// contiguous copy made for the sniffer.
async fn read_envelope_head(
    mut body: Incoming,
    limits: &SniffLimits,
    max_body: u64,
) -> Result<EnvelopeHead, Fault> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut joined = BytesMut::new();
    let mut received: u64 = 0;
    let mut next_attempt: usize = 0;
    loop {
        let frame = body.frame().await;
        let is_final = match frame {
            None => true,
            Some(Err(e)) => {
                return Err(Fault::Malformed(format!(
                    "reading the request body failed: {e}"
                )))
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if data.is_empty() {
                        continue;
                    }
                    received += data.len() as u64;
                    if received > max_body {
                        return Err(too_large(max_body));
                    }
                    if !chunks.is_empty() {
                        if joined.is_empty() {
                            joined.extend_from_slice(&chunks[0]);
                        }
                        joined.extend_from_slice(&data);
                    }
                    chunks.push(data);
                }
                body.is_end_stream()
            }
        };
        let view: &[u8] = match chunks.len() {
            0 => &[],
            1 => &chunks[0],
            _ => &joined,
        };
        // The sniffer parses the prefix from its start each time: try again only when
        // the prefix has grown by half (at least 1 KiB), so a body trickled in tiny
        // frames costs linear, not quadratic, work.
        if !is_final && view.len() < next_attempt {
            continue;
        }
        next_attempt = (view.len() + (view.len() / 2).max(1024)).min(limits.max_prefix_bytes);
        match sniff(view, is_final, limits) {
            Ok(SniffOutcome::Complete(envelope)) => {
                let rest = (!is_final).then_some(body);
                return Ok(EnvelopeHead {
                    envelope,
                    chunks,
                    received,
                    rest,
                });
            }
            Ok(SniffOutcome::NeedMore) if !is_final => continue,
            Ok(SniffOutcome::NeedMore) => return Err(sniff_fault(SniffError::Truncated)),
            Err(e) => return Err(sniff_fault(e)),
        }
    }
}

fn sniff_fault(e: SniffError) -> Fault {
    Fault::Malformed(format!(
        "the message is not a routable SOAP 1.1 envelope: {e}"
    ))
}
