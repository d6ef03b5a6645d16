//! Phase 4, sniff: read the envelope head and find what routing needs in it (the
//! contract namespace of the first Body child and the logical address) without a DOM
//! and without reading further (adapters/core's streaming sniffer). The whole head must
//! arrive within `service.envelope_head_timeout_ms`, and the caller may not pause longer
//! than `service.body_idle_timeout_ms` between chunks, here as later in the body
//! (specs/configuration.md). Faults: VP015 (not a routable envelope, too large, too
//! slow), VP003 (no logical address), VP010 (an empty one).

use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use vaxel_adapter::{sniff, AddressHeader, Envelope, SniffError, SniffLimits, SniffOutcome};
use vaxel_model::{Cause, Fault};

use super::body;
use crate::config::ServiceConfig;

/// The envelope head: routing facts plus the chunks read so far (forwarded as they are).
#[derive(Debug)]
pub struct EnvelopeHead {
    pub envelope: Envelope,
    pub chunks: Vec<Bytes>,
    pub received: u64,
}

impl EnvelopeHead {
    /// The bytes read so far as one buffer (a copy only when they came in several chunks).
    pub fn contiguous(&self) -> Bytes {
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

/// Read the head of `body` (left in `unread` with what follows the head, or `None` when
/// the whole body was read).
pub async fn envelope_head(
    unread: &mut Option<Incoming>,
    service: &ServiceConfig,
) -> Result<EnvelopeHead, Fault> {
    let Some(body) = unread.take() else {
        return Err(Fault::Malformed(Cause::msg(
            "the request body was already read",
        )));
    };
    let limits = SniffLimits {
        max_prefix_bytes: service.max_envelope_head_bytes,
        max_depth: service.max_element_depth,
    };
    let (head, rest) = read_head(body, &limits, service).await?;
    *unread = rest;
    Ok(head)
}

/// The logical address the message is for (RIV-TA 2.1 `LogicalAddress`, 2.0 `wsa:To`).
pub fn logical_address(envelope: &Envelope) -> Result<&AddressHeader, Fault> {
    match &envelope.address {
        None => Err(Fault::NoLogicalAddress),
        Some(a) if a.value.is_empty() => Err(Fault::EmptyLogicalAddress),
        Some(a) => Ok(a),
    }
}

/// Read body chunks until the sniffer has seen the first Body child. Chunks are kept as
/// they came (refcounted, no copy); only when the head spans several chunks is a
/// contiguous copy made for the sniffer. One timer bounds both limits: it is set to
/// whichever comes first, the head's deadline or the next idle deadline, and moved on
/// each chunk (a timer per chunk would cost on the hot path).
async fn read_head(
    mut body: Incoming,
    limits: &SniffLimits,
    service: &ServiceConfig,
) -> Result<(EnvelopeHead, Option<Incoming>), Fault> {
    let max_body = service.max_body_bytes;
    let idle = service.body_idle_timeout;
    let head_deadline = Instant::now() + service.envelope_head_timeout;
    let timer = tokio::time::sleep_until(head_deadline.min(Instant::now() + idle));
    tokio::pin!(timer);
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut joined = BytesMut::new();
    let mut received: u64 = 0;
    let mut next_attempt: usize = 0;
    loop {
        let frame = tokio::select! {
            biased;
            frame = body.frame() => frame,
            () = &mut timer => return Err(head_timeout(head_deadline, service)),
        };
        timer
            .as_mut()
            .reset(head_deadline.min(Instant::now() + idle));
        let is_final = match frame {
            None => true,
            Some(Err(e)) => {
                return Err(Fault::Malformed(Cause::msg(format!(
                    "reading the request body failed: {e}"
                ))))
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if data.is_empty() {
                        continue;
                    }
                    received += data.len() as u64;
                    if received > max_body {
                        return Err(body::too_large(max_body));
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
                return Ok((
                    EnvelopeHead {
                        envelope,
                        chunks,
                        received,
                    },
                    rest,
                ));
            }
            Ok(SniffOutcome::NeedMore) if !is_final => continue,
            Ok(SniffOutcome::NeedMore) => return Err(sniff_fault(SniffError::Truncated)),
            Err(e) => return Err(sniff_fault(e)),
        }
    }
}

/// The head's own deadline passed, or the caller paused longer than the idle timeout.
fn head_timeout(head_deadline: Instant, service: &ServiceConfig) -> Fault {
    if Instant::now() >= head_deadline {
        Fault::Malformed(Cause::msg(format!(
            "the SOAP envelope head did not arrive within {} ms: send the whole message without pauses (service.envelope_head_timeout_ms)",
            service.envelope_head_timeout.as_millis()
        )))
    } else {
        body::stalled(service.body_idle_timeout)
    }
}

fn sniff_fault(e: SniffError) -> Fault {
    Fault::Malformed(Cause::msg(format!(
        "the message is not a routable SOAP 1.1 envelope: {e}"
    )))
}
