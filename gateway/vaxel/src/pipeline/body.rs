//! The request body: declared and actual size limits, reading it whole for the
//! gateway's own services and checked journal calls, and discarding the rest after a
//! fault. Every limit's fault says which limit and what to do (VP015).

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use vaxel_model::{Cause, Fault};

use super::sniff::EnvelopeHead;
use crate::onward::{BodyStalled, BodyTooLarge, BoxError, ForwardBody};

/// How long at most the rest of a refused HTTP/1.1 request is read and discarded.
const DISCARD_UNREAD_BODY_FOR: Duration = Duration::from_secs(10);

/// The declared `Content-Length`, if any.
pub fn content_length(h: &HeaderMap) -> Result<Option<u64>, Fault> {
    match h.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Fault::Malformed(Cause::msg("Content-Length is not a number"))),
    }
}

/// Larger than the listener's limit.
pub fn too_large(limit: u64) -> Fault {
    Fault::Malformed(Cause::msg(format!(
        "the message is larger than the gateway's limit of {limit} bytes ({} MiB): split the message or send attachments another way",
        limit / (1024 * 1024)
    )))
}

/// Larger than the contract's limit (routing table `max_body_bytes`).
pub fn too_large_for_contract(limit: u64, contract: &str) -> Fault {
    Fault::Malformed(Cause::msg(format!(
        "the message is larger than the limit of {limit} bytes for service contract {contract}: split the message or send attachments another way"
    )))
}

/// The caller paused longer than `service.body_idle_timeout_ms` (slowloris
/// protection), as a fault's cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}: send the whole message without pauses (service.body_idle_timeout_ms)")]
pub struct Stalled(pub BodyStalled);

/// VP015 for a caller that paused longer than `idle`.
pub fn stalled(idle: Duration) -> Fault {
    Fault::Malformed(Cause::new(Stalled(BodyStalled {
        idle_ms: idle.as_millis(),
    })))
}

/// A request body that could not be read whole.
pub fn body_fault(e: BoxError, limit: u64, contract: &str) -> Fault {
    if e.downcast_ref::<BodyTooLarge>().is_some() {
        too_large_for_contract(limit, contract)
    } else if let Some(s) = e.downcast_ref::<BodyStalled>() {
        stalled(Duration::from_millis(
            u64::try_from(s.idle_ms).unwrap_or(u64::MAX),
        ))
    } else {
        Fault::Malformed(Cause::msg(format!("reading the request body failed: {e}")))
    }
}

/// The rest of the request read into one buffer (bounded by `max_body` and the body
/// idle timeout), for the gateway's own services and consent-checked journal calls.
pub async fn read_whole(
    head: &mut EnvelopeHead,
    unread: &mut Option<Incoming>,
    content_length: Option<u64>,
    max_body: u64,
    idle: Duration,
    contract: &str,
) -> Result<Bytes, Fault> {
    Ok(ForwardBody::new(
        std::mem::take(&mut head.chunks),
        head.received,
        unread.take(),
        content_length,
        max_body,
        idle,
    )
    .collect()
    .await
    .map_err(|e| body_fault(e, max_body, contract))?
    .to_bytes())
}

/// After a fault on HTTP/1.1 the caller may still be sending its body. Closing the
/// connection now would make its writes fail (broken pipe / reset) before it reads the
/// fault. So the rest is read and thrown away, bounded in bytes and time (a lingering
/// close, RFC 9112 §9.6); then the connection is reused or closed as usual. HTTP/2
/// needs none of this: an unread request stream is reset on its own.
pub async fn discard_unread(mut body: Incoming, max_bytes: u64) {
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
