//! NPÖ-style aggregated journal queries (DESIGN.md job 2): a consumer asks once for a
//! patient's information of one kind; the gateway finds every source system in the
//! engagement index, asks them all in parallel, merges their records and reports, per
//! source, whether it answered (`ProcessingStatus`, urn:riv:interoperability:headers:1).
//!
//! Rules (issue "Engagement index and NPÖ-style aggregated journal queries"):
//! - sources come from the engagement index (patient + the information set's service
//!   domain and categorization), narrowed by the request's `sourceSystemHSAId`;
//! - a source is asked only if the consumer may reach it under the routing table
//!   (anropsbehörighet for the contract at the source's logical address); sources it
//!   may not reach are left out without a trace in the answer, as the national
//!   aggregating services do;
//! - a slow or failing source never fails the whole answer: HTTP 200 with the records
//!   that did arrive and `NoDataSynchFailed` with the reason for the others; one overall
//!   deadline (`aggregation.deadline_ms`, default 28 s) bounds the call;
//! - records are filtered again by the request's period, care units and record ids
//!   (producers are expected to filter; the gateway does not rely on it).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use vaxel_adapter::{
    CausingAgent, Envelope, InformationSet, MergeInput, MergeNotes, ProducerResponse, QueryRequest,
    Record, RivProfile, SourceOutcome, SourceStatus,
};

use crate::fault::Fault;
use crate::forward::{ForwardBody, ForwardError, Forwarder};
use crate::headers;
use crate::pipeline::Shared;

/// Response header with the number of records withheld under SVOD/PDL (also in the
/// ProcessingStatus header as `WithheldRecords`); sent whenever consent checking is on.
pub const WITHHELD_RECORDS: &str = "x-vaxel-withheld-records";

/// Default overall deadline of an aggregated call: below the consumer's usual 30 s
/// timeout, so the consumer gets the partial answer instead of its own timeout.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(28_000);

/// One engagement's source, as the aggregator needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EngagementSource {
    /// Logical address to ask (the engagement's `logicalAddress`).
    pub logical_address: String,
    /// The engagement's `sourceSystem` HSA id.
    pub source_system: String,
}

/// Where the aggregator finds the sources of a patient's information (the engagement
/// index; a trait so that the aggregation can be tested on its own).
pub trait EngagementLookup: Send + Sync + fmt::Debug {
    fn find<'a>(
        &'a self,
        patient_id: &'a str,
        service_domain: &'a str,
        categorization: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<EngagementSource>, String>> + Send + 'a>>;
}

/// Who is asking, for the calls to the sources.
#[derive(Debug, Clone)]
pub struct CallContext<'a> {
    /// The calling system (certificate or trusted header).
    pub sender: &'a str,
    /// The system on whose behalf it calls; authorisation is checked for this one.
    pub original_consumer: &'a str,
    pub correlation: &'a HeaderValue,
    /// `x-rivta-routing-history` including this gateway.
    pub routing_history: &'a str,
    /// Headers of the consumer's request (content type, SOAPAction).
    pub request_headers: &'a HeaderMap,
}

/// The aggregating service: information sets by contract, the engagement lookup and the
/// deadline.
#[derive(Debug, Clone)]
pub struct Aggregator {
    sets: &'static [&'static dyn InformationSet],
    lookup: Arc<dyn EngagementLookup>,
    deadline: Duration,
}

/// What one source gave.
struct SourceAnswer {
    outcome: SourceOutcome,
    body: Option<Bytes>,
    records: Vec<Record>,
    /// From just before the request was sent until the answer was read (or the call
    /// failed or timed out).
    round_trip: Duration,
}

impl Aggregator {
    pub fn new(
        sets: &'static [&'static dyn InformationSet],
        lookup: Arc<dyn EngagementLookup>,
        deadline: Duration,
    ) -> Aggregator {
        Aggregator {
            sets,
            lookup,
            deadline,
        }
    }

    /// The information set for a contract namespace (case-insensitive, like the table).
    pub fn information_set(&self, contract: &str) -> Option<&'static dyn InformationSet> {
        self.sets.iter().copied().find(|s| {
            s.descriptor()
                .contract_namespace
                .eq_ignore_ascii_case(contract)
        })
    }

    /// Answer one aggregated query. `request` is the consumer's whole envelope,
    /// `envelope` what the sniffer found in it.
    pub async fn handle(
        &self,
        shared: &Shared,
        forwarder: &Forwarder,
        envelope: &Envelope,
        request: Bytes,
        ctx: &CallContext<'_>,
    ) -> Result<Response<Full<Bytes>>, Fault> {
        let started = Instant::now();
        let contract = envelope.contract_namespace.as_str();
        let set = self.information_set(contract).ok_or_else(|| {
            Fault::NoRoute(format!(
                "the routing table sends {contract} to local://aggregating, but this gateway has no information-set adapter for it; route it to a producer instead"
            ))
        })?;
        let address = envelope.address.as_ref().ok_or(Fault::NoLogicalAddress)?;
        let query = set.parse_request(&request).map_err(|e| {
            Fault::Malformed(format!(
                "the {} request cannot be read: {e}",
                set.descriptor().request_element
            ))
        })?;
        let descriptor = set.descriptor();

        // SVOD/PDL: who the end user is, before anything is asked (specs/user-context.md).
        let user = match &shared.consent {
            Some(consent) => Some(
                consent
                    .verify_user(ctx.request_headers)
                    .map_err(|e| Fault::UserContext(e.to_string()))?,
            ),
            None => None,
        };

        // Sources: engagement index, narrowed by the request's source system.
        let mut sources = self
            .lookup
            .find(
                &query.patient_id,
                descriptor.ei_service_domain,
                descriptor.ei_categorization,
            )
            .await
            .map_err(|e| {
                Fault::Producer(format!(
                    "the engagement index could not be read, so the sources of the patient's information are unknown: {e}"
                ))
            })?;
        if let Some(wanted) = &query.source_system {
            sources.retain(|s| s.source_system.eq_ignore_ascii_case(wanted));
        }
        sources.sort();
        sources.dedup_by(|a, b| a.logical_address.eq_ignore_ascii_case(&b.logical_address));

        // Which sources the consumer may reach, and how (one table snapshot).
        let today = crate::pipeline::today();
        let mut calls = Vec::new();
        let mut failed = Vec::new();
        {
            let guard = shared.routing.current_guard();
            let table = guard.as_ref().ok_or(Fault::NoRoutingTable)?;
            for source in &sources {
                let la = source.logical_address.as_str();
                if table
                    .authorize(ctx.original_consumer, contract, la, today)
                    .is_err()
                {
                    continue;
                }
                match table.route(contract, la, today) {
                    Ok(route) => match (route.local_service(), route.rivta_profile().known()) {
                        (None, Some(profile)) => calls.push((
                            source.clone(),
                            route.url().clone(),
                            profile,
                            route.response_timeout(),
                        )),
                        (Some(service), _) => failed.push(failure(
                            la,
                            CausingAgent::VirtualizationPlatform,
                            "VP004",
                            format!(
                                "the route for {la} leads to the gateway's own local://{} service, not to a source system",
                                service.name()
                            ),
                        )),
                        (None, None) => failed.push(failure(
                            la,
                            CausingAgent::VirtualizationPlatform,
                            "VP005",
                            format!(
                                "the route for {la} names RIV-TA profile {}, which this gateway does not know",
                                route.rivta_profile()
                            ),
                        )),
                    },
                    Err(e) => failed.push(failure(
                        la,
                        CausingAgent::VirtualizationPlatform,
                        "VP004",
                        e.to_string(),
                    )),
                }
            }
        }
        tracing::debug!(
            contract,
            address = %address.value,
            sources = sources.len(),
            asked = calls.len(),
            "aggregating"
        );

        // Fan out, all at once, bounded by the deadline.
        let deadline = started + self.deadline;
        let fan_out = FanOut::new(
            set,
            envelope,
            request,
            ctx,
            &shared.config.instance_id,
            shared.config.service.max_body_bytes,
        );
        let answers = futures_util::future::join_all(calls.into_iter().map(
            |(source, url, profile, timeout)| {
                let fan_out = &fan_out;
                async move {
                    let la = source.logical_address;
                    let budget = deadline.saturating_duration_since(Instant::now());
                    let timeout = timeout.min(budget);
                    let asked = call_source(forwarder, fan_out, &la, &url, profile, timeout);
                    match tokio::time::timeout(timeout, asked).await {
                        Ok(answer) => answer,
                        Err(_) => SourceAnswer {
                            round_trip: timeout,
                            outcome: failure(
                                &la,
                                CausingAgent::VirtualizationPlatform,
                                "VP009",
                                format!(
                                    "the source did not answer within {} ms (the aggregated call's deadline)",
                                    timeout.as_millis()
                                ),
                            ),
                            body: None,
                            records: Vec::new(),
                        },
                    }
                }
            },
        ))
        .await;

        let mut outcomes: Vec<SourceOutcome> = Vec::with_capacity(answers.len() + failed.len());
        let mut kept: Vec<(Bytes, Vec<Record>)> = Vec::new();
        let mut notes = MergeNotes::default();
        let mut log_entries = Vec::new();
        let slowest_source = answers
            .iter()
            .map(|a| a.round_trip)
            .max()
            .unwrap_or_default();
        for answer in answers {
            let asked = answer.outcome.logical_address.clone();
            outcomes.push(answer.outcome);
            if let Some(body) = answer.body {
                let mut records = keep_requested(answer.records, &query);
                if let (Some(consent), Some(user)) = (&shared.consent, &user) {
                    let withheld = crate::consent::enforce::filter_records(
                        consent,
                        user,
                        &query.patient_id,
                        descriptor.name,
                        &asked,
                        ctx.correlation.to_str().unwrap_or(""),
                        &mut records,
                        &mut log_entries,
                    );
                    notes.withheld_records += withheld;
                }
                kept.push((body, records));
            }
        }
        // PDL: every decision is logged; emergency access is durable before the answer
        // leaves, the rest is written in batches off the request path.
        crate::consent::enforce::write_access_log(shared.access_log.as_ref(), log_entries).await?;
        outcomes.extend(failed);
        outcomes.sort_by(|a, b| a.logical_address.cmp(&b.logical_address));

        let parts: Vec<MergeInput<'_>> = kept
            .iter()
            .map(|(body, records)| MergeInput { body, records })
            .collect();
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.body.len()).sum::<usize>() + 1024);
        set.write_merged_response_noting(&mut out, &parts, &outcomes, &notes);

        let mut resp = Response::new(Full::new(Bytes::from(out)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=UTF-8"),
        );
        resp.headers_mut()
            .insert(headers::CORRELATION_ID, ctx.correlation.clone());
        if shared.consent.is_some() {
            resp.headers_mut()
                .insert(WITHHELD_RECORDS, HeaderValue::from(notes.withheld_records));
        }
        *resp.status_mut() = StatusCode::OK;
        shared
            .stats
            .aggregation
            .record(started.elapsed(), slowest_source);
        Ok(resp)
    }
}

/// Records that match the request's filters (period, care units, record ids).
fn keep_requested(mut records: Vec<Record>, query: &QueryRequest) -> Vec<Record> {
    vaxel_adapter::retain_matching(query, &mut records);
    records
}

fn failure(la: &str, agent: CausingAgent, code: &str, text: String) -> SourceOutcome {
    SourceOutcome {
        logical_address: la.to_string(),
        status: SourceStatus::NoDataSynchFailed {
            causing_agent: agent,
            code: code.to_string(),
            text,
        },
        timestamp: now_stamp(),
    }
}

/// `yyyyMMddHHmmss`, local time (the format of ProcessingStatus timestamps), formatted
/// at most once a second per thread (a fan-out asks for it once per source).
fn now_stamp() -> String {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != now {
            *c = (now, chrono::Local::now().format("%Y%m%d%H%M%S").to_string());
        }
        c.1.clone()
    })
}

/// What every call of one fan-out shares. Header values are checked once here, not once
/// per source.
struct FanOut {
    set: &'static dyn InformationSet,
    request: Bytes,
    /// Where the consumer's address header sits in `request` (None: no address header).
    address: Option<std::ops::Range<usize>>,
    headers: Vec<(http::HeaderName, HeaderValue)>,
    max_response: u64,
}

impl FanOut {
    fn new(
        set: &'static dyn InformationSet,
        envelope: &Envelope,
        request: Bytes,
        ctx: &CallContext<'_>,
        instance_id: &str,
        max_response: u64,
    ) -> FanOut {
        let mut headers = Vec::with_capacity(8);
        for name in [
            header::CONTENT_TYPE,
            http::HeaderName::from_static("soapaction"),
        ] {
            if let Some(v) = ctx.request_headers.get(&name) {
                headers.push((name, v.clone()));
            }
        }
        if !headers.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
            headers.push((
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=UTF-8"),
            ));
        }
        for (name, value) in [
            (headers::VP_SENDER_ID, ctx.sender),
            (headers::VP_INSTANCE_ID, instance_id),
            (headers::ORIGINAL_CONSUMER, ctx.original_consumer),
            (headers::ROUTING_HISTORY, ctx.routing_history),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.push((name, v));
            }
        }
        headers.push((headers::CORRELATION_ID, ctx.correlation.clone()));
        FanOut {
            set,
            request,
            address: envelope.address.as_ref().map(|a| a.span.clone()),
            headers,
            max_response,
        }
    }
}

/// Ask one source: the consumer's request with the address header set to the source.
async fn call_source(
    forwarder: &Forwarder,
    fan_out: &FanOut,
    la: &str,
    url: &http::Uri,
    profile: RivProfile,
    timeout: Duration,
) -> SourceAnswer {
    let fail = |agent, code: &str, text: String| SourceAnswer {
        outcome: failure(la, agent, code, text),
        body: None,
        records: Vec::new(),
        round_trip: Duration::ZERO,
    };
    let Some(address) = fan_out.address.clone() else {
        return fail(
            CausingAgent::VirtualizationPlatform,
            "VP003",
            "the request has no address header".into(),
        );
    };
    let body = match crate::rivta::convert_address(&fan_out.request, address, la, profile) {
        Ok(b) => Bytes::from(b),
        Err(e) => return fail(CausingAgent::VirtualizationPlatform, "VP012", e),
    };
    let len = body.len() as u64;
    let mut req = match Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .body(ForwardBody::new(
            vec![body],
            len,
            None,
            Some(len),
            len.max(1),
            timeout,
        )) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                CausingAgent::VirtualizationPlatform,
                "VP009",
                format!("cannot build the request: {e}"),
            )
        }
    };
    let h = req.headers_mut();
    h.reserve(fan_out.headers.len() + 1);
    for (name, value) in &fan_out.headers {
        h.insert(name.clone(), value.clone());
    }
    if let Some(auth) = url.authority() {
        if let Ok(v) = HeaderValue::from_str(auth.as_str()) {
            h.insert(header::HOST, v);
        }
    }

    let sent = Instant::now();
    let resp = match forwarder.send(req, timeout).await {
        Ok(r) => r,
        Err(ForwardError::Timeout { timeout_ms, .. }) => {
            return SourceAnswer {
                round_trip: sent.elapsed(),
                ..fail(
                    CausingAgent::VirtualizationPlatform,
                    "VP009",
                    format!("the source did not answer within {timeout_ms} ms"),
                )
            }
        }
        Err(e) => {
            return SourceAnswer {
                round_trip: sent.elapsed(),
                ..fail(
                    CausingAgent::VirtualizationPlatform,
                    "VP009",
                    format!("the source could not be called: {e}"),
                )
            }
        }
    };
    let status = resp.status();
    let body = match Limited::new(resp.into_body(), fan_out.max_response as usize)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return SourceAnswer {
                round_trip: sent.elapsed(),
                ..fail(
                    CausingAgent::ServiceProducer,
                    "VP009",
                    format!("reading the source's answer failed: {e}"),
                )
            }
        }
    };
    // The source's part ends here; reading its records is the gateway's.
    let round_trip = sent.elapsed();
    let fail = |agent, code: &str, text: String| SourceAnswer {
        round_trip,
        ..fail(agent, code, text)
    };
    if status != StatusCode::OK && status != StatusCode::INTERNAL_SERVER_ERROR {
        return fail(
            CausingAgent::ServiceProducer,
            "VP009",
            format!("the source answered HTTP {status}"),
        );
    }
    match fan_out.set.parse_response(&body) {
        Ok(ProducerResponse::Records(records)) if status == StatusCode::OK => SourceAnswer {
            outcome: SourceOutcome {
                logical_address: la.to_string(),
                status: SourceStatus::DataFromSource,
                timestamp: now_stamp(),
            },
            body: Some(body),
            records,
            round_trip,
        },
        Ok(ProducerResponse::Records(_)) => fail(
            CausingAgent::ServiceProducer,
            "VP009",
            format!("the source answered HTTP {status} without a SOAP fault"),
        ),
        Ok(ProducerResponse::Fault(text)) => {
            fail(CausingAgent::ServiceProducer, "SOAP-Fault", text)
        }
        Err(e) => fail(
            CausingAgent::ServiceProducer,
            "VP009",
            format!("the source's answer cannot be read: {e}"),
        ),
    }
}
