//! The citizen web page (`GET /citizen/` on the citizen listener): one HTML file, one
//! style sheet and two scripts, embedded in the binary (no build step, nothing from the
//! internet), calling the citizen API of the same origin with the citizen's token.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::ops::json_response;

const PAGE: &str = include_str!("page/citizen.html");
const STYLE: &str = include_str!("page/citizen.css");
const SCRIPT: &str = include_str!("page/citizen.js");
const SCRIPT_CONSENTS: &str = include_str!("page/citizen-consents.js");

/// Everything the page may load comes from this origin; no inline script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Answer a page request (not the API). `demo`: whether demo sign-in exists (the page
/// asks `/citizen/demo/token` and shows what it gets either way).
pub fn serve(parts: &http::request::Parts, _demo: bool) -> Response<Full<Bytes>> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method-not-allowed", "message": "the page is read with GET"}),
        );
    }
    let (body, content_type) = match parts.uri.path() {
        "/citizen" | "/citizen/" | "/citizen/index.html" => (PAGE, "text/html; charset=utf-8"),
        "/citizen/citizen.css" => (STYLE, "text/css; charset=utf-8"),
        "/citizen/citizen.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/citizen/citizen-consents.js" => (SCRIPT_CONSENTS, "text/javascript; charset=utf-8"),
        _ => {
            return json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not-found", "message": "no such page: the citizen page is at /citizen/"}),
            )
        }
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}
