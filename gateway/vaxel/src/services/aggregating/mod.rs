//! NPÖ-style aggregated journal queries (DESIGN.md job 2): a consumer asks once for a
//! patient's information of one kind; the gateway finds every source system in the
//! engagement index, asks them all in parallel, merges their records and reports, per
//! source, whether it answered (`ProcessingStatus`, urn:riv:interoperability:headers:1).
//!
//! Rules (issue "Engagement index and NPÖ-style aggregated journal queries"):
//! - sources come from the engagement index (patient + the information set's service
//!   domain and categorization), narrowed by the request's `sourceSystemHSAId`;
//! - a source is asked only if the caller may reach it under the routing table
//!   (anropsbehörighet for the contract at the source's logical address, checked for
//!   the same identity as every other authorisation: the sender, never the original
//!   consumer header; specs/routing-table.md "Who is authorised"); sources it may not
//!   reach are left out without a trace in the answer, as the national aggregating
//!   services do;
//! - a slow or failing source never fails the whole answer: HTTP 200 with the records
//!   that did arrive and `NoDataSynchFailed` with the reason for the others; one overall
//!   deadline (`aggregation.deadline_ms`, default 28 s) bounds the call;
//! - records are filtered again by the request's period, care units and record ids
//!   (producers are expected to filter; the gateway does not rely on it).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use vaxel_adapter::{
    CausingAgent, Envelope, InformationSet, MergeInput, MergeNotes, QueryRequest, Record,
    SourceOutcome,
};
use vaxel_model::{clock, headers, Cause, Fault};
use vaxel_pdl::access_log::AccessLog;
use vaxel_pdl::consent::ConsentService;
use vaxel_routing::RoutingTableHandle;

use super::{BoxFuture, Caller, LocalRequest, LocalService};
use crate::onward::Onward;

mod fan_out;

use fan_out::{call_source, failure, FanOut};
pub use fan_out::{SourceAnswer, SourceRequests};

/// What asking the sources of one information set gave.
#[derive(Debug)]
pub struct Gathered {
    /// One per source asked, in no particular order.
    pub answers: Vec<SourceAnswer>,
    /// Sources the engagement index named that could not be asked (no usable route).
    pub failed: Vec<SourceOutcome>,
    /// The slowest source's round trip (zero when none was asked).
    pub slowest_source: Duration,
}

/// One engagement's source, as the aggregator needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EngagementSource {
    /// Logical address to ask (the engagement's `logicalAddress`).
    pub logical_address: String,
    /// The engagement's `sourceSystem` HSA id.
    pub source_system: String,
    /// The engagement's `mostRecentContent` (`yyyyMMddHHmmss`), when the producer gave it.
    pub most_recent_content: Option<String>,
}

/// Where the aggregator finds the sources of a patient's information (the engagement
/// index; a trait so that the aggregation can be tested on its own).
pub trait EngagementLookup: Send + Sync + fmt::Debug {
    fn find<'a>(
        &'a self,
        patient_id: &'a str,
        service_domain: &'a str,
        categorization: &'a str,
    ) -> BoxFuture<'a, Result<Vec<EngagementSource>, String>>;
}

/// SVOD/PDL for aggregated answers: the consent service and the access log every
/// decision goes to (`[consent] enabled`).
#[derive(Debug, Clone)]
pub struct Pdl {
    pub consent: Arc<ConsentService>,
    pub access_log: Option<AccessLog>,
}

/// The aggregating service (`local://aggregating`): information sets by contract, the
/// engagement lookup, the routing table it asks sources through, the deadline, and
/// PDL checks when consent checking is on.
#[derive(Debug, Clone)]
pub struct Aggregator {
    sets: &'static [&'static dyn InformationSet],
    lookup: Arc<dyn EngagementLookup>,
    routing: Arc<RoutingTableHandle>,
    deadline: Duration,
    /// Largest source answer read.
    max_response: u64,
    pdl: Option<Pdl>,
    timings: Arc<AggregationTimings>,
}

impl Aggregator {
    pub fn new(
        sets: &'static [&'static dyn InformationSet],
        lookup: Arc<dyn EngagementLookup>,
        routing: Arc<RoutingTableHandle>,
        deadline: Duration,
        max_response: u64,
        pdl: Option<Pdl>,
    ) -> Aggregator {
        Aggregator {
            sets,
            lookup,
            routing,
            deadline,
            max_response,
            pdl,
            timings: Arc::new(AggregationTimings::default()),
        }
    }

    /// The whole query's deadline (`aggregation.deadline_ms`).
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// How long aggregated queries take (also in `/status`).
    pub fn timings(&self) -> &AggregationTimings {
        &self.timings
    }

    /// The information set for a contract namespace (case-insensitive, like the table).
    pub fn information_set(&self, contract: &str) -> Option<&'static dyn InformationSet> {
        self.sets.iter().copied().find(|s| {
            s.descriptor()
                .contract_namespace
                .eq_ignore_ascii_case(contract)
        })
    }

    /// Ask every source of `set` that holds the patient's information (engagement index,
    /// narrowed by the query's source system and period) and that the caller may reach,
    /// all at once, until `deadline`. A source that fails or is late is an outcome, never
    /// an error; the error is for what stops the whole query (the engagement index or
    /// the routing table cannot be read).
    pub async fn gather(
        &self,
        onward: &Onward,
        set: &'static dyn InformationSet,
        query: &QueryRequest,
        requests: SourceRequests<'_>,
        ctx: &Caller<'_>,
        deadline: Instant,
    ) -> Result<Gathered, Fault> {
        let descriptor = set.descriptor();
        let contract = descriptor.contract_namespace;
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
                Fault::Producer(Cause::msg(format!(
                    "the engagement index could not be read, so the sources of the patient's information are unknown: {e}"
                )))
            })?;
        if let Some(wanted) = &query.source_system {
            sources.retain(|s| s.source_system.eq_ignore_ascii_case(wanted));
        }
        if let (Some(start), None) = (query.period_start.as_deref(), set.record_interval()) {
            // A source whose newest content is older than the period has nothing in it
            // (specs/aggregation.md §2): not asked. Without mostRecentContent it is asked.
            // Not for a contract whose records are intervals (a care contact, a
            // treatment): a stay that began before the period may still run into it,
            // though nothing about it was registered since.
            sources.retain(|s| {
                s.most_recent_content
                    .as_deref()
                    .is_none_or(|newest| !before_period(newest, start))
            });
        }
        sources.sort();
        sources.dedup_by(|a, b| a.logical_address.eq_ignore_ascii_case(&b.logical_address));

        // Which sources the caller may reach, and how (one table snapshot). The caller
        // is authorised as the sender, like every other call it makes through us.
        let today = clock::today();
        let mut calls = Vec::new();
        let mut failed = Vec::new();
        {
            let guard = self.routing.current_guard();
            let table = guard.as_ref().ok_or(Fault::NoRoutingTable)?;
            for source in &sources {
                let la = source.logical_address.as_str();
                if table.authorize(ctx.sender, contract, la, today).is_err() {
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

        // Fan out, all at once, bounded by the deadline.
        let fan_out = FanOut::new(set, requests, ctx, query, self.max_response);
        let answers = futures_util::future::join_all(calls.into_iter().map(
            |(source, url, profile, timeout)| {
                let fan_out = &fan_out;
                async move {
                    let la = source.logical_address;
                    let budget = deadline.saturating_duration_since(Instant::now());
                    let timeout = timeout.min(budget);
                    let asked = call_source(onward, fan_out, &la, &url, profile, timeout);
                    match tokio::time::timeout(timeout, asked).await {
                        Ok(answer) => answer,
                        Err(_) => SourceAnswer {
                            round_trip: timeout,
                            timed_out: true,
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

        let slowest_source = answers
            .iter()
            .map(|a| a.round_trip)
            .max()
            .unwrap_or_default();
        Ok(Gathered {
            answers,
            failed,
            slowest_source,
        })
    }

    /// Answer one aggregated query. `request` is the consumer's whole envelope,
    /// `envelope` what the sniffer found in it.
    pub async fn handle(
        &self,
        onward: &Onward,
        envelope: &Envelope,
        request: Bytes,
        ctx: &Caller<'_>,
    ) -> Result<Response<Full<Bytes>>, Fault> {
        let started = Instant::now();
        let contract = envelope.contract_namespace.as_str();
        let set = self.information_set(contract).ok_or_else(|| {
            Fault::NoRoute(Cause::msg(format!(
                "the routing table sends {contract} to local://aggregating, but this gateway has no information-set adapter for it; route it to a producer instead"
            )))
        })?;
        let address = envelope.address.as_ref().ok_or(Fault::NoLogicalAddress)?;
        let query = set.parse_request(&request).map_err(|e| {
            Fault::Malformed(Cause::msg(format!(
                "the {} request cannot be read: {e}",
                set.descriptor().request_element
            )))
        })?;
        let descriptor = set.descriptor();

        // SVOD/PDL: who the end user is, before anything is asked (specs/user-context.md).
        let user = match &self.pdl {
            Some(pdl) => Some(
                pdl.consent
                    .verify_user(ctx.request_headers)
                    .map_err(Fault::from)?,
            ),
            None => None,
        };

        let gathered = self
            .gather(
                onward,
                set,
                &query,
                SourceRequests::Consumer {
                    request,
                    address: envelope.address.as_ref().map(|a| a.span.clone()),
                },
                ctx,
                started + self.deadline,
            )
            .await?;
        tracing::debug!(
            contract,
            address = %address.value,
            asked = gathered.answers.len(),
            "aggregated"
        );
        let Gathered {
            answers,
            failed,
            slowest_source,
        } = gathered;

        let mut outcomes: Vec<SourceOutcome> = Vec::with_capacity(answers.len() + failed.len());
        let mut kept: Vec<(Bytes, Vec<Record>)> = Vec::new();
        let mut notes = MergeNotes::default();
        let mut log_entries = Vec::new();
        for answer in answers {
            let asked = answer.outcome.logical_address.clone();
            outcomes.push(answer.outcome);
            if let Some(body) = answer.body {
                let mut records = keep_requested(answer.records, &query);
                if let (Some(pdl), Some(user)) = (&self.pdl, &user) {
                    let withheld = vaxel_pdl::consent::enforce::filter_records(
                        &pdl.consent,
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
        if let Some(pdl) = &self.pdl {
            vaxel_pdl::consent::enforce::write_access_log(pdl.access_log.as_ref(), log_entries)
                .await?;
        }
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
        if self.pdl.is_some() {
            resp.headers_mut().insert(
                headers::WITHHELD_RECORDS,
                HeaderValue::from(notes.withheld_records),
            );
        }
        *resp.status_mut() = StatusCode::OK;
        self.timings.record(started.elapsed(), slowest_source);
        Ok(resp)
    }
}

/// Whether the time stamp `newest` (`yyyyMMddHHmmss`) lies before the period that
/// starts at `start` (`yyyyMMdd` or `yyyyMMddHHmmss`, as the request wrote it). Anything
/// that is not such a time stamp compares as "not before" (the source is asked).
fn before_period(newest: &str, start: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(newest) || !digits(start) || newest.len() != 14 {
        return false;
    }
    match start.len() {
        8 => newest[..8] < *start,
        14 => newest < start,
        _ => false,
    }
}

/// Records that match the request's filters (period, care units, care contacts, record
/// ids, source system). Whether they are about the patient was checked per source
/// ([`call_source`]).
fn keep_requested(mut records: Vec<Record>, query: &QueryRequest) -> Vec<Record> {
    vaxel_adapter::retain_matching(query, &mut records);
    records
}

/// The service's name: `local://aggregating`.
pub const NAME: &str = "aggregating";

impl LocalService for Aggregator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn call<'a>(
        &'a self,
        request: LocalRequest<'a>,
    ) -> BoxFuture<'a, Result<Response<Full<Bytes>>, Fault>> {
        Box::pin(async move {
            self.handle(
                request.onward,
                request.envelope,
                request.body,
                &request.caller,
            )
            .await
        })
    }

    fn status_key(&self) -> &'static str {
        "aggregation"
    }

    /// How long aggregated queries take and how much the gateway adds (specs/aggregation.md §7).
    fn status(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(async move { self.timings.to_json() })
    }
}

/// Latency distributions of aggregated queries (specs/aggregation.md, "Timings"), in
/// microseconds, since start. One short lock per aggregated query, never per record.
#[derive(Debug)]
pub struct AggregationTimings {
    inner: Mutex<AggregationHistograms>,
}

#[derive(Debug)]
struct AggregationHistograms {
    /// Whole query, from the request read to the merged answer built.
    total: Histogram<u64>,
    /// The slowest source's round trip (request sent to answer read) in that query.
    slowest_source: Histogram<u64>,
    /// `total` minus `slowest_source`: what the gateway added over its slowest source.
    overhead: Histogram<u64>,
}

/// One hour in microseconds: the largest value recorded (larger ones are clamped).
const MAX_MICROS: u64 = 3_600_000_000;

fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static bounds are valid")
}

impl Default for AggregationTimings {
    fn default() -> Self {
        AggregationTimings {
            inner: Mutex::new(AggregationHistograms {
                total: micros_histogram(),
                slowest_source: micros_histogram(),
                overhead: micros_histogram(),
            }),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

impl AggregationTimings {
    /// Records one aggregated query: its whole duration and its slowest source's round
    /// trip (zero when no source was asked).
    pub fn record(&self, total: Duration, slowest_source: Duration) {
        let overhead = total.saturating_sub(slowest_source);
        // A poisoned lock only means another thread panicked while recording: the
        // histograms are still consistent enough to report.
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.total.saturating_record(micros(total));
        h.slowest_source.saturating_record(micros(slowest_source));
        h.overhead.saturating_record(micros(overhead));
    }

    /// `{"queries": n, "total_us": {..}, "slowest_source_us": {..}, "overhead_us": {..}}`
    /// with p50, p90, p99 and max of each.
    pub fn to_json(&self) -> serde_json::Value {
        let h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let summary = |h: &Histogram<u64>| {
            serde_json::json!({
                "p50": h.value_at_quantile(0.50),
                "p90": h.value_at_quantile(0.90),
                "p99": h.value_at_quantile(0.99),
                "max": h.max(),
            })
        };
        serde_json::json!({
            "queries": h.total.len(),
            "total_us": summary(&h.total),
            "slowest_source_us": summary(&h.slowest_source),
            "overhead_us": summary(&h.overhead),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_before_the_period_only_when_its_newest_content_is() {
        assert!(before_period("20231231235959", "20240101"));
        assert!(!before_period("20240101000000", "20240101"));
        assert!(!before_period("20240615093000", "20240101"));
        assert!(before_period("20240101093000", "20240101093001"));
        assert!(!before_period("20240101093001", "20240101093001"));
        // Not time stamps: the source is asked.
        assert!(!before_period("2024-01-01", "20240101"));
        assert!(!before_period("20231231235959", "2024-01-01"));
        assert!(!before_period("20231231", "20240101"));
    }

    #[test]
    fn aggregation_overhead_is_total_minus_slowest_source() {
        let t = AggregationTimings::default();
        for i in 0..100u64 {
            t.record(
                Duration::from_micros(20_000 + 1_000 + i),
                Duration::from_micros(20_000),
            );
        }
        let j = t.to_json();
        assert_eq!(j["queries"], 100);
        let p50 = j["overhead_us"]["p50"].as_u64().unwrap();
        assert!((1_040..=1_060).contains(&p50), "{j}");
        let max = j["overhead_us"]["max"].as_u64().unwrap();
        assert!((1_098..=1_100).contains(&max), "{j}");
        // Three significant digits: within 0.1 %.
        let slowest = j["slowest_source_us"]["p99"].as_u64().unwrap();
        assert!((19_980..=20_020).contains(&slowest), "{j}");
        // No source asked: all of it is the gateway's.
        t.record(Duration::from_micros(500), Duration::ZERO);
        assert_eq!(t.to_json()["queries"], 101);
    }
}
