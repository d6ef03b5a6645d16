//! Asking the sources of one information set for one patient: the request each source
//! gets, the call, and what its answer is worth (specs/aggregation.md §2–§4). Used by
//! the aggregating service and by the citizen's overview.

use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use vaxel_adapter::{
    CausingAgent, InformationSet, ProducerResponse, QueryRequest, Record, RivProfile,
    SourceOutcome, SourceStatus,
};
use vaxel_model::clock;

use crate::onward::{ForwardBody, ForwardError, Onward};
use crate::services::Caller;

/// What one source gave.
#[derive(Debug)]
pub struct SourceAnswer {
    pub outcome: SourceOutcome,
    /// The source's whole answer, when it is used.
    pub body: Option<Bytes>,
    pub records: Vec<Record>,
    /// From just before the request was sent until the answer was read (or the call
    /// failed or timed out).
    pub round_trip: Duration,
    /// Whether it failed by not answering in time.
    pub timed_out: bool,
}

/// How each source's request is made.
#[derive(Debug, Clone)]
pub enum SourceRequests<'r> {
    /// The consumer's own envelope, its address header set to each source's logical
    /// address (`address`: where the header's value sits; `None`: it has none).
    Consumer {
        request: Bytes,
        address: Option<Range<usize>>,
    },
    /// A request the adapter writes for each source: all of the patient's records of
    /// the information set (the citizen's overview).
    Overview { patient_id: &'r str },
}

/// Is every record about the queried patient? A source that answers about anyone else
/// is broken: nothing it sent is trusted, not only those records.
pub(super) fn all_about_patient(fan_out: &FanOut<'_>, records: &[Record]) -> bool {
    let descriptor = fan_out.set.descriptor();
    records
        .iter()
        .all(|r| vaxel_adapter::about_patient(descriptor, fan_out.query, &r.header))
}

pub(super) fn failure(la: &str, agent: CausingAgent, code: &str, text: String) -> SourceOutcome {
    SourceOutcome {
        logical_address: la.to_string(),
        status: SourceStatus::NoDataSynchFailed {
            causing_agent: agent,
            code: code.to_string(),
            text,
        },
        timestamp: clock::local_stamp(),
    }
}

/// What every call of one fan-out shares. Header values are checked once here, not once
/// per source.
pub(super) struct FanOut<'c> {
    pub(super) set: &'static dyn InformationSet,
    requests: SourceRequests<'c>,
    /// The content type and SOAPAction passed to every source.
    copied: Vec<(HeaderName, HeaderValue)>,
    caller: &'c Caller<'c>,
    /// The query: every source's records must be about its patient.
    pub(super) query: &'c QueryRequest,
    max_response: u64,
}

impl<'c> FanOut<'c> {
    pub(super) fn new(
        set: &'static dyn InformationSet,
        requests: SourceRequests<'c>,
        caller: &'c Caller<'c>,
        query: &'c QueryRequest,
        max_response: u64,
    ) -> FanOut<'c> {
        let mut copied = Vec::with_capacity(2);
        match &requests {
            SourceRequests::Consumer { .. } => {
                for name in [header::CONTENT_TYPE, HeaderName::from_static("soapaction")] {
                    if let Some(v) = caller.request_headers.get(&name) {
                        copied.push((name, v.clone()));
                    }
                }
            }
            SourceRequests::Overview { .. } => {
                let d = set.descriptor();
                copied.push((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=UTF-8"),
                ));
                // RIV-TA's SOAPAction: the contract namespace and the operation.
                let action = format!("\"{}:{}\"", d.contract_namespace, d.request_element);
                if let Ok(v) = HeaderValue::from_str(&action) {
                    copied.push((HeaderName::from_static("soapaction"), v));
                }
            }
        }
        FanOut {
            set,
            requests,
            copied,
            caller,
            query,
            max_response,
        }
    }

    /// The request for the source at `la` (as the `profile` writes the address).
    fn request_for(&self, la: &str, profile: RivProfile) -> Result<Bytes, (&'static str, String)> {
        match &self.requests {
            SourceRequests::Consumer { request, address } => {
                let Some(address) = address.clone() else {
                    return Err(("VP003", "the request has no address header".into()));
                };
                crate::pipeline::rivta::convert_address(request, address, la, profile)
                    .map(Bytes::from)
                    .map_err(|e| ("VP012", e))
            }
            SourceRequests::Overview { patient_id } => {
                // Written for this source; for a RIV-TA 2.0 route its address header
                // is rewritten like a consumer's.
                let request = self.set.overview_request(patient_id, la);
                if profile == RivProfile::Rivta21 {
                    // Already addressed to `la` in RIV-TA 2.1, as the adapter writes it.
                    return Ok(Bytes::from(request));
                }
                let address = match vaxel_adapter::sniff(
                    &request,
                    true,
                    &vaxel_adapter::SniffLimits::default(),
                ) {
                    Ok(vaxel_adapter::SniffOutcome::Complete(e)) => e.address.map(|a| a.span),
                    _ => None,
                };
                let Some(address) = address else {
                    return Err((
                        "VP012",
                        "the overview request the adapter wrote has no address header".into(),
                    ));
                };
                crate::pipeline::rivta::convert_address(&request, address, la, profile)
                    .map(Bytes::from)
                    .map_err(|e| ("VP012", e))
            }
        }
    }
}

/// Ask one source: the consumer's request with the address header set to the source.
pub(super) async fn call_source(
    onward: &Onward,
    fan_out: &FanOut<'_>,
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
        timed_out: false,
    };
    let body = match fan_out.request_for(la, profile) {
        Ok(b) => b,
        Err((code, e)) => return fail(CausingAgent::VirtualizationPlatform, code, e),
    };
    let len = body.len() as u64;
    let body = ForwardBody::new(vec![body], len, None, Some(len), len.max(1), timeout);
    let req = match Onward::request(
        url,
        body,
        fan_out.copied.iter().map(|(n, v)| (n, v)),
        &[],
        fan_out.caller.onward,
    ) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                CausingAgent::VirtualizationPlatform,
                "VP009",
                format!("cannot build the request: {e}"),
            )
        }
    };

    let sent = Instant::now();
    let resp = match onward.send(req, timeout).await {
        Ok(r) => r,
        Err(ForwardError::Timeout { timeout_ms, .. }) => {
            return SourceAnswer {
                round_trip: sent.elapsed(),
                timed_out: true,
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
        Ok(ProducerResponse::Records(records))
            if status == StatusCode::OK && !all_about_patient(fan_out, &records) =>
        {
            let descriptor = fan_out.set.descriptor();
            let foreign = records
                .iter()
                .filter(|r| !vaxel_adapter::about_patient(descriptor, fan_out.query, &r.header))
                .count();
            // Counts only: no person ids, no content (no sekretess content in logs).
            tracing::warn!(
                source = la,
                information_set = descriptor.name,
                records = foreign,
                "a source answered with records that are not about the queried patient; its whole answer is refused"
            );
            fail(
                CausingAgent::ServiceProducer,
                "VP009",
                format!(
                    "the source answered with {foreign} record(s) that do not name the queried patient; none of its answer is used"
                ),
            )
        }
        Ok(ProducerResponse::Records(records)) if status == StatusCode::OK => SourceAnswer {
            outcome: SourceOutcome {
                logical_address: la.to_string(),
                status: SourceStatus::DataFromSource,
                timestamp: clock::local_stamp(),
            },
            body: Some(body),
            records,
            round_trip,
            timed_out: false,
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
