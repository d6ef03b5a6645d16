//! Phase 1, admit: whether the gateway takes the request at all. A core at its limit of
//! concurrent requests answers HTTP 503 with `Retry-After` at once (no unbounded queue);
//! only POST is a RIV-TA call; a declared `Content-Length` over the listener's limit is
//! refused before a byte of the body is read (VP015).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response};
use http_body_util::Full;
use vaxel_model::{Cause, Fault};

use super::body;
use crate::config::ServiceConfig;

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

/// A place among the core's requests in progress, or `None` when the core is full.
pub fn slot(limits: &CoreLimits) -> Option<CountGuard> {
    (limits.in_flight.load(Ordering::Relaxed) < limits.max_in_flight)
        .then(|| CountGuard::new(limits.in_flight.clone()))
}

/// HTTP 503 for a full core.
pub fn busy_response() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(
        b"the gateway is at its limit of concurrent requests (service.max_concurrent_requests): retry after 1 s\n",
    )));
    *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}

/// The request is a POST whose declared length (if any) fits the listener; returns that
/// length.
pub fn request(
    parts: &http::request::Parts,
    service: &ServiceConfig,
) -> Result<Option<u64>, Fault> {
    if parts.method != Method::POST {
        return Err(Fault::Malformed(Cause::msg(format!(
            "method {} is not supported: RIV-TA services are called with HTTP POST and a SOAP 1.1 envelope",
            parts.method
        ))));
    }
    let content_length = body::content_length(&parts.headers)?;
    if content_length.is_some_and(|n| n > service.max_body_bytes) {
        return Err(body::too_large(service.max_body_bytes));
    }
    Ok(content_length)
}
