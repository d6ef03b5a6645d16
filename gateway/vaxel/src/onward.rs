//! The one way the gateway calls onward: forwarding a virtualised call to its producer,
//! each source of an aggregated query, and engagement index notifications all build
//! their requests here ([`Onward::request`]) with the same headers ([`OnwardHeaders`]:
//! sender, instance id, original consumer, routing history, correlation id, host) and
//! send them with the same client ([`Onward::send`]): a pooled hyper client with mutual
//! TLS, connect timeout, the caller's response timeout, and exactly one retry when the
//! connection could not be made before any byte of the request was sent. Request bodies
//! stream through ([`ForwardBody`]: the sniffed head first, then the rest as it arrives).
//!
//! Each per-core runtime owns its own [`Onward`] client (and so its own connection
//! pool): see DESIGN.md "Performance model". Dates for route lookups come from the one
//! clock, [`vaxel_model::clock`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use vaxel_model::headers;

use crate::config::ProducerConfig;

/// The request body exceeded the configured maximum while it was being streamed.
#[derive(Debug, thiserror::Error)]
#[error("the message is larger than the {limit}-byte limit")]
pub struct BodyTooLarge {
    pub limit: u64,
}

/// The caller stopped sending its request body (slowloris protection).
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled: no bytes arrived for {idle_ms} ms")]
pub struct BodyStalled {
    pub idle_ms: u128,
}

/// Why a producer call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    #[error("could not connect to producer {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("producer {url} did not answer within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u128 },
    #[error("producer {url} failed: {reason}")]
    Failed { url: String, reason: String },
    #[error(transparent)]
    TooLarge(BodyTooLarge),
    #[error(transparent)]
    Stalled(BodyStalled),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the request body comes from: the chunks already read while sniffing, then the
/// rest of the caller's body.
#[derive(Debug)]
struct BodySource {
    head: VecDeque<Bytes>,
    rest: Option<Incoming>,
    received: u64,
    limit: u64,
    idle: Duration,
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The body sent to the producer. Until it is first polled, its source stays in a shared
/// slot, so a request whose connection failed before any byte was sent can be retried
/// with the same, untouched body (the client drops the request on connect errors).
#[derive(Debug)]
pub struct ForwardBody {
    slot: Option<Arc<Mutex<Option<BodySource>>>>,
    src: Option<BodySource>,
    hint: SizeHint,
}

impl ForwardBody {
    /// `head` is what was read so far (already counted in `received`), `rest` the
    /// remaining stream, `content_length` the caller's declared length if any.
    pub fn new(
        head: Vec<Bytes>,
        received: u64,
        rest: Option<Incoming>,
        content_length: Option<u64>,
        limit: u64,
        idle: Duration,
    ) -> ForwardBody {
        let hint = match content_length {
            Some(n) => SizeHint::with_exact(n),
            None if rest.is_none() => SizeHint::with_exact(received),
            None => SizeHint::default(),
        };
        let src = BodySource {
            head: head.into(),
            rest,
            received,
            limit,
            idle,
            idle_timer: None,
        };
        ForwardBody {
            slot: Some(Arc::new(Mutex::new(Some(src)))),
            src: None,
            hint,
        }
    }

    /// A body for a retry, if the previous attempt never started sending.
    fn resume(slot: &Arc<Mutex<Option<BodySource>>>, hint: SizeHint) -> Option<ForwardBody> {
        let untouched = slot.lock().ok()?.is_some();
        untouched.then(|| ForwardBody {
            slot: Some(slot.clone()),
            src: None,
            hint,
        })
    }
}

impl Body for ForwardBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.src.is_none() {
            if let Some(slot) = this.slot.take() {
                this.src = slot.lock().ok().and_then(|mut s| s.take());
            }
        }
        let Some(src) = this.src.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(chunk) = src.head.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let Some(rest) = src.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(rest).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(timer) = src.idle_timer.as_mut() {
                    timer.as_mut().reset(tokio::time::Instant::now() + src.idle);
                }
                if let Some(data) = frame.data_ref() {
                    src.received += data.len() as u64;
                    if src.received > src.limit {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit: src.limit }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => {
                src.rest = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let idle = src.idle;
                let timer = src
                    .idle_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(BodyStalled {
                        idle_ms: idle.as_millis(),
                    }))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.hint.exact() == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// The headers every onward call carries, built once per incoming request (a fan-out
/// shares them across its sources) or once for the gateway's own calls. Plain fields,
/// no allocation of its own: this is on the forwarding hot path.
#[derive(Debug, Clone)]
pub struct OnwardHeaders {
    sender: Option<HeaderValue>,
    instance_id: Option<HeaderValue>,
    original_consumer: Option<HeaderValue>,
    routing_history: Option<HeaderValue>,
    correlation: HeaderValue,
}

impl OnwardHeaders {
    /// For a call made on behalf of a caller: `x-vp-sender-id` (who called us),
    /// `x-vp-instance-id` (this gateway; `instance_id` is built once at start),
    /// `x-rivta-original-serviceconsumer-hsaid`, `x-rivta-routing-history` (the caller's
    /// history plus this gateway) and the correlation id.
    pub fn on_behalf(
        sender: &str,
        instance_id: &HeaderValue,
        original_consumer: &HeaderValue,
        routing_history: &str,
        correlation: &HeaderValue,
    ) -> OnwardHeaders {
        OnwardHeaders {
            sender: HeaderValue::from_str(sender).ok(),
            instance_id: Some(instance_id.clone()),
            original_consumer: Some(original_consumer.clone()),
            routing_history: HeaderValue::from_str(routing_history).ok(),
            correlation: correlation.clone(),
        }
    }

    /// For a call the gateway makes by itself (engagement index notifications): its
    /// instance id, a routing history that starts here, and a new correlation id.
    pub fn own(instance_id: &str) -> OnwardHeaders {
        let instance = HeaderValue::from_str(instance_id).ok();
        OnwardHeaders {
            sender: None,
            instance_id: instance.clone(),
            original_consumer: None,
            routing_history: instance,
            correlation: new_correlation_id(),
        }
    }

    /// The correlation id the calls carry.
    pub fn correlation(&self) -> &HeaderValue {
        &self.correlation
    }

    /// Set them on an onward request.
    fn apply(&self, h: &mut HeaderMap) {
        for (name, value) in [
            (headers::VP_SENDER_ID, &self.sender),
            (headers::VP_INSTANCE_ID, &self.instance_id),
            (headers::ORIGINAL_CONSUMER, &self.original_consumer),
            (headers::ROUTING_HISTORY, &self.routing_history),
        ] {
            if let Some(v) = value {
                h.insert(name, v.clone());
            }
        }
        h.insert(headers::CORRELATION_ID, self.correlation.clone());
    }
}

/// The caller's correlation id (`x-skltp-correlation-id`, 1–128 bytes), or a new one.
pub fn correlation_id(request: &http::HeaderMap) -> HeaderValue {
    request
        .get(headers::CORRELATION_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .cloned()
        .unwrap_or_else(new_correlation_id)
}

/// A fresh correlation id (UUID v4).
pub fn new_correlation_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones [`OnwardHeaders`] sets: never
/// copied from a caller's request. `content-length` is left to the client, which sets
/// it from the forwarded body's exact size (the body differs from the caller's when the
/// address header is converted).
pub const NOT_FORWARDED: [&str; 14] = [
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

/// Response headers that are the gateway's own hop's business, never passed back.
pub const NOT_RETURNED: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "trailer",
];

/// A per-core pooled client for every onward call.
#[derive(Debug, Clone)]
pub struct Onward {
    client: Client<HttpsConnector<HttpConnector>, ForwardBody>,
}

impl Onward {
    /// A POST of `body` to `url`: first the `copied` headers of the caller's request
    /// (without [`NOT_FORWARDED`] and `skip`), then `Host` and the onward headers.
    pub fn request<'h>(
        url: &Uri,
        body: ForwardBody,
        copied: impl IntoIterator<Item = (&'h HeaderName, &'h HeaderValue)>,
        skip: &[&HeaderName],
        onward: &OnwardHeaders,
    ) -> Result<Request<ForwardBody>, http::Error> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .body(body)?;
        let h: &mut HeaderMap = req.headers_mut();
        for (name, value) in copied {
            if !NOT_FORWARDED.contains(&name.as_str()) && !skip.contains(&name) {
                h.append(name.clone(), value.clone());
            }
        }
        if !h.contains_key(header::CONTENT_TYPE) {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=UTF-8"),
            );
        }
        if let Some(auth) = url.authority() {
            if let Ok(v) = HeaderValue::from_str(auth.as_str()) {
                h.insert(header::HOST, v);
            }
        }
        onward.apply(h);
        Ok(req)
    }

    pub fn new(tls: Arc<rustls::ClientConfig>, cfg: &ProducerConfig) -> Onward {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(cfg.pool_idle_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
            // A pooled connection that the producer closed before our request was written
            // is retried on a fresh one by the client itself.
            .retry_canceled_requests(true)
            .build(https);
        Onward { client }
    }

    /// Send `req` to its producer. The whole exchange up to the response headers is
    /// bounded by `timeout`; the response body then streams back to the caller.
    pub async fn send(
        &self,
        req: Request<ForwardBody>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, ForwardError> {
        let url = req.uri().clone();
        let slot = req.body().slot.clone();
        let hint = req.body().hint;
        let (parts, body) = req.into_parts();
        let retry_parts = clone_parts(&parts);
        let attempt = async {
            match self.client.request(Request::from_parts(parts, body)).await {
                Ok(resp) => Ok(resp),
                Err(e) if e.is_connect() => {
                    // One retry, and only because no byte of the request was sent.
                    match slot.as_ref().and_then(|s| ForwardBody::resume(s, hint)) {
                        Some(body) => {
                            tracing::debug!(%url, error = %error_chain(&e), "connect failed; retrying once");
                            self.client
                                .request(Request::from_parts(retry_parts, body))
                                .await
                                .map_err(|e| classify(&url, e))
                        }
                        None => Err(classify(&url, e)),
                    }
                }
                Err(e) => Err(classify(&url, e)),
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(ForwardError::Timeout {
                url: url.to_string(),
                timeout_ms: timeout.as_millis(),
            }),
        }
    }
}

fn clone_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut b = Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone())
        .version(parts.version);
    if let Some(h) = b.headers_mut() {
        *h = parts.headers.clone();
    }
    b.body(()).map(|r| r.into_parts().0).unwrap_or_else(|_| {
        // The builder cannot fail on values taken from valid parts.
        Request::new(()).into_parts().0
    })
}

fn classify(url: &Uri, e: hyper_util::client::legacy::Error) -> ForwardError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<BodyTooLarge>() {
            return ForwardError::TooLarge(BodyTooLarge { limit: t.limit });
        }
        if let Some(t) = s.downcast_ref::<BodyStalled>() {
            return ForwardError::Stalled(BodyStalled { idle_ms: t.idle_ms });
        }
        source = s.source();
    }
    let reason = error_chain(&e);
    if e.is_connect() {
        ForwardError::Connect {
            url: url.to_string(),
            reason,
        }
    } else {
        ForwardError::Failed {
            url: url.to_string(),
            reason,
        }
    }
}

/// "a: b: c" from an error and its sources, for messages that say what really failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}
