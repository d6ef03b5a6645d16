//! SDK messaging over HTTP on the mutual-TLS service port (specs/sdk.md §7,
//! specs/openapi-sdk.yaml). The caller is identified as for RIV-TA (client certificate,
//! [`crate::pipeline::identify`]); the `vaxel-sdk` services decide what it may do.
//!
//! | method and path | who | what |
//! | --- | --- | --- |
//! | `POST /sdk/v1/messages` | an organisation's system | submit a message (XML, or JSON `{"message": "..."}`) → 202 + status |
//! | `GET /sdk/v1/messages[?limit=N]` | system | its newest messages' statuses |
//! | `GET /sdk/v1/messages/{id}` | system | one message's status |
//! | `GET /sdk/v1/messages/{id}/receipt` | system | the receipt it got (UBL ApplicationResponse) |
//! | `POST /sdk/v1/deliveries` | a partner gateway | deliver a message → 200 + receipt |
//! | `GET /sdk/v1/inbox[?limit=N]` | system | received, unacknowledged messages (metadata) |
//! | `GET /sdk/v1/inbox/{id}` | system | one received message, decrypted |
//! | `POST /sdk/v1/inbox/{id}/ack` | system | acknowledge: it leaves the inbox list |
//!
//! Errors are JSON `{"error", "message", "problems"?}` with the status that fits
//! (400, 403, 404, 405, 413, 422, 503). No error text holds message content.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::json;
use vaxel_sdk::service::{MAX_DELIVERY_BYTES, MAX_SUBMIT_BYTES};
use vaxel_sdk::{Sdk, SdkError};

use crate::ops::json_response;
use crate::pipeline::identify::{self, ConnectionInfo};
use crate::pipeline::observe::{Facts, Producer};
use crate::pipeline::Shared;

thread_local! {
    /// The SDK API's contract label, made once per thread (no allocation per request).
    static SDK_LABEL: std::sync::Arc<str> = std::sync::Arc::from("sdk");
}

/// The SDK paths' common prefix.
pub const PREFIX: &str = "/sdk/";

fn xml_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=UTF-8"),
    );
    r
}

fn error(e: &SdkError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, e.to_json())
}

fn plain_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(status, json!({"error": code, "message": message}))
}

/// Read the whole body: at most `limit` bytes, no pause longer than `idle`.
async fn read_body(
    mut body: Incoming,
    limit: usize,
    idle: Duration,
    what: &str,
) -> Result<Vec<u8>, Response<Full<Bytes>>> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(plain_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "body-stalled",
                    &format!(
                        "the request body paused for more than {} ms: send it without pauses (service.body_idle_timeout_ms)",
                        idle.as_millis()
                    ),
                ))
            }
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => {
                return Err(plain_error(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    &format!("reading the request body failed: {e}"),
                ))
            }
            Ok(Some(Ok(f))) => f,
        };
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > limit {
                return Err(plain_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    &format!("the request body is larger than {limit} bytes: {what}"),
                ));
            }
            out.extend_from_slice(data);
        }
    }
}

fn limit_param(query: Option<&str>) -> usize {
    query
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("limit="))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(100)
}

/// Answer one request under `/sdk/`.
pub async fn handle(
    parts: &http::request::Parts,
    body: Incoming,
    conn: &ConnectionInfo,
    shared: &Shared,
    facts: &mut Facts,
) -> Response<Full<Bytes>> {
    // Metrics and the request line: the SDK API is one "contract" answered locally.
    facts.contract = Some(SDK_LABEL.with(|l| l.clone()));
    facts.contract_seen = true;
    facts.producer = Producer::Local("sdk");
    let Some(sdk) = shared.sdk.as_deref() else {
        return plain_error(
            StatusCode::NOT_FOUND,
            "sdk-disabled",
            "SDK messaging is not enabled on this gateway: set [sdk] enabled = true",
        );
    };
    let cfg = &shared.config;
    let caller =
        match identify::resolve_sender(conn, &parts.headers, &cfg.identity, &cfg.instance_id) {
            Ok(c) => c,
            Err(fault) => {
                return plain_error(StatusCode::FORBIDDEN, "identity", &fault.to_string());
            }
        };
    facts.sender_seen = true;
    facts.consumer = shared
        .routing
        .current_guard()
        .as_ref()
        .and_then(|t| t.consumer_label(&caller).cloned());
    if let Some(log) = &mut facts.log {
        log.caller.clone_from(&caller);
        log.contract = format!("{} {}", parts.method, parts.uri.path());
    }
    let path = parts.uri.path();
    let segments: Vec<&str> = path
        .trim_start_matches("/sdk/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if !path.starts_with("/sdk/v1/") && path != "/sdk/v1" {
        return plain_error(
            StatusCode::NOT_FOUND,
            "not-found",
            "SDK paths start with /sdk/v1/ (specs/openapi-sdk.yaml)",
        );
    }
    let idle = cfg.service.body_idle_timeout;
    let method = &parts.method;
    match (method, segments.as_slice()) {
        (&Method::POST, ["messages"]) => {
            let body = match read_body(
                body,
                MAX_SUBMIT_BYTES,
                idle,
                "an SDK message is at most 31457280 bytes (30 MiB) of XML",
            )
            .await
            {
                Ok(b) => b,
                Err(r) => return r,
            };
            match sdk.submit(&caller, &body).await {
                Ok(s) => {
                    let status = if s.duplicate {
                        StatusCode::OK
                    } else {
                        StatusCode::ACCEPTED
                    };
                    let mut r = json_response(
                        status,
                        json!({
                            "messageId": s.message_id,
                            "state": s.state,
                            "duplicate": s.duplicate,
                            "status": format!("/sdk/v1/messages/{}", s.message_id),
                        }),
                    );
                    if let Ok(v) =
                        HeaderValue::from_str(&format!("/sdk/v1/messages/{}", s.message_id))
                    {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    r
                }
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["messages"]) => {
            match sdk.list(&caller, limit_param(parts.uri.query())).await {
                Ok(list) => json_response(StatusCode::OK, json!({ "messages": list })),
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["messages", id]) => match sdk.status(&caller, id).await {
            Ok(s) => json_response(StatusCode::OK, json!(s)),
            Err(e) => error(&e),
        },
        (&Method::GET, ["messages", id, "receipt"]) => match sdk.receipt(&caller, id).await {
            Ok(r) => xml_response(StatusCode::OK, r),
            Err(e) => error(&e),
        },
        (&Method::POST, ["deliveries"]) => {
            let body = match read_body(
                body,
                MAX_DELIVERY_BYTES,
                idle,
                "a delivery carries one message of at most 30 MiB",
            )
            .await
            {
                Ok(b) => b,
                Err(r) => return r,
            };
            match sdk.receive(&caller, body).await {
                Ok(receipt) => xml_response(StatusCode::OK, receipt),
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["inbox"]) => match sdk.inbox(&caller, limit_param(parts.uri.query())).await
        {
            Ok(list) => json_response(StatusCode::OK, json!({ "messages": list })),
            Err(e) => error(&e),
        },
        (&Method::GET, ["inbox", id]) => match sdk.fetch(&caller, id).await {
            Ok(xml) => xml_response(StatusCode::OK, xml),
            Err(e) => error(&e),
        },
        (&Method::POST, ["inbox", id, "ack"]) => match sdk.ack(&caller, id).await {
            Ok(()) => json_response(
                StatusCode::OK,
                json!({"messageId": id, "acknowledged": true}),
            ),
            Err(e) => error(&e),
        },
        (
            _,
            ["messages"]
            | ["messages", _]
            | ["messages", _, "receipt"]
            | ["deliveries"]
            | ["inbox"]
            | ["inbox", _]
            | ["inbox", _, "ack"],
        ) => plain_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            &format!("{method} is not allowed on {path} (specs/openapi-sdk.yaml)"),
        ),
        _ => plain_error(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no SDK resource at {path} (specs/openapi-sdk.yaml lists them)"),
        ),
    }
}

/// `sdk` as a `/status` value.
pub async fn status(sdk: &Sdk) -> serde_json::Value {
    sdk.counts().await
}
