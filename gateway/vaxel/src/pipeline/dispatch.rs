//! Phase 7, dispatch: carry out the route decision.
//!
//! - A producer gets the message streamed onward (only the address header is rewritten
//!   when the producer speaks the other RIV-TA profile, VP012) with the onward headers;
//!   its answer streams back, faults unchanged (VP009 when it fails or times out). With
//!   consent checking on, a journal contract (one with an information-set adapter) is
//!   read whole, the end user's context checked first (VX001), and the answer checked
//!   record by record before it leaves (specs/user-context.md).
//! - A local service gets the whole (bounded) message from the registry.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use vaxel_adapter::{InformationSet, ProducerResponse, RivProfile};
use vaxel_model::{headers, Cause, Fault};
use vaxel_pdl::consent::jwt::UserContext;
use vaxel_pdl::consent::ConsentService;

use super::body;
use super::sniff::EnvelopeHead;
use super::{GatewayBody, Request, Shared};
use crate::onward::{ForwardBody, ForwardError, Onward, NOT_RETURNED};
use crate::services::{LocalRequest, LocalService};

/// Answer with a local service.
pub async fn local(
    service: &dyn LocalService,
    r: &mut Request<'_>,
    head: &mut EnvelopeHead,
    max_body: u64,
) -> Result<Response<GatewayBody>, Fault> {
    let contract = head.envelope.contract_namespace.clone();
    let whole = body::read_whole(
        head,
        r.unread,
        r.content_length,
        max_body,
        r.shared.config.service.body_idle_timeout,
        &contract,
    )
    .await?;
    let resp = service
        .call(LocalRequest {
            envelope: &head.envelope,
            body: whole,
            caller: r.caller(),
            onward: r.onward,
        })
        .await?;
    r.shared.stats.local_answers.fetch_add(1, Ordering::Relaxed);
    Ok(resp.map(Either::Left))
}

/// A journal call under consent checking: who asks, about which patient.
struct JournalCheck<'a> {
    consent: &'a ConsentService,
    set: &'static dyn InformationSet,
    user: UserContext,
    patient: String,
}

/// Forward to a producer.
pub async fn producer(
    r: &mut Request<'_>,
    mut head: EnvelopeHead,
    url: &http::Uri,
    profile: RivProfile,
    timeout: Duration,
    max_body: u64,
) -> Result<Response<GatewayBody>, Fault> {
    let shared = r.shared;
    let cfg = &shared.config;
    let contract = head.envelope.contract_namespace.clone();
    let address = super::sniff::logical_address(&head.envelope)?.clone();
    let mut content_length = r.content_length;
    // SVOD/PDL on virtualised journal calls (contracts with an information-set adapter,
    // consent checking on): the user context is checked before the producer is asked,
    // the request is read whole (journal queries are small) to know the patient, and
    // the answer is checked record by record before it leaves.
    let journal = match (&shared.consent, vaxel_adapters::by_contract(&contract)) {
        (Some(consent), Some(set)) => {
            let user = consent.verify_user(r.headers).map_err(Fault::from)?;
            let whole = body::read_whole(
                &mut head,
                r.unread,
                content_length,
                max_body,
                cfg.service.body_idle_timeout,
                &contract,
            )
            .await?;
            let query = set.parse_request(&whole).map_err(|e| {
                Fault::Malformed(Cause::msg(format!(
                    "the {} request cannot be read: {e}",
                    set.descriptor().request_element
                )))
            })?;
            head.received = whole.len() as u64;
            content_length = Some(head.received);
            head.chunks = vec![whole];
            Some(JournalCheck {
                consent,
                set,
                user,
                patient: query.patient_id,
            })
        }
        _ => None,
    };
    if profile != address.profile {
        // The producer speaks the other basic profile: rewrite the address header only.
        let contiguous = head.contiguous();
        let converted = super::rivta::convert_address(
            &contiguous,
            address.span.clone(),
            &address.value,
            profile,
        )
        .map_err(|e| {
            Fault::Transform(Cause::msg(format!(
                "cannot convert the request from {} to {} for the producer of {contract} at {}: {e}",
                profile_name(address.profile),
                profile_name(profile),
                address.value
            )))
        })?;
        let old_len = contiguous.len() as u64;
        let new_len = converted.len() as u64;
        content_length = content_length.map(|n| n - old_len + new_len);
        head.received = head.received - old_len + new_len;
        head.chunks = vec![Bytes::from(converted)];
    }

    // The body streams onward: what was read, then the rest as it arrives.
    let body = ForwardBody::new(
        head.chunks,
        head.received,
        r.unread.take(),
        content_length,
        max_body,
        cfg.service.body_idle_timeout,
    );
    // The end user's token is for this gateway (it is not bound to one patient): it is
    // never passed to producers.
    let consent_header = shared.consent.as_ref().map(|c| &c.config().header);
    let skip: Vec<&http::HeaderName> = match consent_header {
        Some(h) => vec![&header::AUTHORIZATION, h],
        None => Vec::new(),
    };
    let req =
        Onward::request(url, body, r.headers.iter(), &skip, r.onward_headers).map_err(|e| {
            Fault::Producer(Cause::msg(format!(
                "cannot build the producer request: {e}"
            )))
        })?;
    let sent = std::time::Instant::now();
    let resp = r.onward.send(req, timeout).await;
    r.producer_time = Some(sent.elapsed());
    let resp = resp.map_err(|e| producer_fault(e, url, timeout))?;

    shared.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let (mut parts, rbody) = resp.into_parts();
    if parts.status == StatusCode::INTERNAL_SERVER_ERROR {
        // Producer SOAP faults pass through unchanged.
        shared
            .stats
            .producer_faults_passed
            .fetch_add(1, Ordering::Relaxed);
    }
    for name in NOT_RETURNED {
        parts.headers.remove(name);
    }
    parts
        .headers
        .insert(headers::CORRELATION_ID, r.correlation.clone());
    let Some(journal) = journal else {
        return Ok(Response::from_parts(parts, Either::Right(rbody)));
    };
    match parts.status {
        StatusCode::OK => {}
        // A producer fault carries no records: it passes through.
        StatusCode::INTERNAL_SERVER_ERROR => {
            return Ok(Response::from_parts(parts, Either::Right(rbody)))
        }
        // Anything else might carry records nobody checked: fail closed.
        other => {
            return Err(Fault::Producer(Cause::msg(format!(
                "the producer at {url} answered HTTP {other}; a journal answer is shown only as HTTP 200 (checked against consent and blocks) or a SOAP fault, so nothing was shown"
            ))))
        }
    }
    let answer = read_answer(rbody, max_body).await?;
    let (checked, withheld) =
        check_journal_answer(shared, &journal, &address.value, r.correlation, answer).await?;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(headers::WITHHELD_RECORDS, HeaderValue::from(withheld));
    Ok(Response::from_parts(
        parts,
        Either::Left(Full::new(checked)),
    ))
}

async fn read_answer(body: Incoming, max_body: u64) -> Result<Bytes, Fault> {
    Ok(
        http_body_util::Limited::new(body, usize::try_from(max_body).unwrap_or(usize::MAX))
            .collect()
            .await
            .map_err(|e| {
                Fault::Producer(Cause::msg(format!(
                    "reading the producer's answer failed: {e}"
                )))
            })?
            .to_bytes(),
    )
}

/// A producer's journal answer with the records the user may not see cut out (every
/// other byte kept), and how many were cut; every decision is access-logged.
async fn check_journal_answer(
    shared: &Shared,
    journal: &JournalCheck<'_>,
    asked: &str,
    correlation: &HeaderValue,
    body: Bytes,
) -> Result<(Bytes, usize), Fault> {
    let all = match journal.set.parse_response(&body) {
        Ok(ProducerResponse::Records(records)) => records,
        Ok(ProducerResponse::Fault(_)) => return Ok((body, 0)),
        Err(e) => {
            return Err(Fault::Producer(Cause::msg(format!(
                "the producer's answer cannot be read, so it cannot be checked against consent and blocks ({e}); nothing was shown"
            ))))
        }
    };
    let mut kept = all.clone();
    let mut log = Vec::new();
    let withheld = vaxel_pdl::consent::enforce::filter_records(
        journal.consent,
        &journal.user,
        &journal.patient,
        journal.set.descriptor().name,
        asked,
        correlation.to_str().unwrap_or(""),
        &mut kept,
        &mut log,
    );
    vaxel_pdl::consent::enforce::write_access_log(shared.access_log.as_ref(), log).await?;
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

fn profile_name(p: RivProfile) -> &'static str {
    match p {
        RivProfile::Rivta20 => "RIVTABP20 (wsa:To header)",
        RivProfile::Rivta21 => "RIVTABP21 (LogicalAddress header)",
    }
}

fn producer_fault(e: ForwardError, url: &http::Uri, timeout: Duration) -> Fault {
    match e {
        ForwardError::TooLarge(t) => body::too_large(t.limit),
        ForwardError::Stalled(t) => Fault::Malformed(Cause::new(body::Stalled(t))),
        ForwardError::Timeout { .. } => Fault::Producer(Cause::msg(format!(
            "the producer at {url} did not answer within {} ms (the contract's response timeout); the request may or may not have been processed",
            timeout.as_millis()
        ))),
        other => Fault::Producer(Cause::new(other)),
    }
}
