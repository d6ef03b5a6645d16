//! Review API on the admin listener (PDL 4:3: access must be reviewable):
//! `GET /api/access-log?patient=P` — a patient's access history ("who has read my
//! data"); `GET /api/access-log?user=U` — an operator's audit of one user;
//! `GET /api/access-log` with only `from`/`to` — everything in a period.
//! `from` (inclusive) and `to` (exclusive) are RFC 3339 times, `limit` at most 10 000.
//! Authenticated like the consent admin API (Bearer JWT from a configured issuer) with
//! the role `pdl-auditor` or the consent admin role.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use vaxel_store::access_log::AccessLogStore;

use super::{query_by_patient, query_by_period, query_by_user};
use crate::consent::ConsentService;

/// The role that may read the access log besides the consent admin role.
pub const AUDITOR_ROLE: &str = "pdl-auditor";
const MAX_LIMIT: usize = 10_000;

pub const PATH: &str = "/api/access-log";

fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Handle `GET /api/access-log`.
pub async fn handle<B>(
    req: Request<B>,
    consent: Arc<ConsentService>,
    store: Arc<dyn AccessLogStore>,
) -> Response<Full<Bytes>> {
    if req.method() != http::Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "the access log is read-only: use GET"}),
        );
    }
    let user = match consent.verify_user(req.headers()) {
        Ok(u) => u,
        Err(e) => {
            let mut r = json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": e.to_string(), "check": e.check()}),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    };
    if !user.has_role(AUDITOR_ROLE) && !user.has_role(&consent.config().admin_role) {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({"error": format!("reading the access log needs the role `{AUDITOR_ROLE}` or `{}`", consent.config().admin_role)}),
        );
    }
    let mut patient = None;
    let mut who = None;
    let mut from = None;
    let mut to = None;
    let mut limit = 1000usize;
    for (k, v) in url_pairs(req.uri().query().unwrap_or("")) {
        match k.as_str() {
            "patient" => patient = Some(v),
            "user" => who = Some(v),
            "from" | "to" => match DateTime::parse_from_rfc3339(&v) {
                Ok(t) => {
                    let t = t.with_timezone(&Utc);
                    if k == "from" {
                        from = Some(t)
                    } else {
                        to = Some(t)
                    }
                }
                Err(_) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({"error": format!("`{k}` is not an RFC 3339 time, e.g. 2026-11-30T08:00:00Z"), "field": k}),
                    )
                }
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                _ => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({"error": format!("`limit` must be 1..={MAX_LIMIT}"), "field": "limit"}),
                    )
                }
            },
            other => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("unknown parameter `{other}`: use patient, user, from, to, limit"), "field": other}),
                )
            }
        }
    }
    if patient.is_some() && who.is_some() {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "give `patient` or `user`, not both", "field": "user"}),
        );
    }
    tracing::info!(auditor = %user.user_hsa_id, by_patient = patient.is_some(), by_user = who.is_some(), "access log reviewed");
    let result = match (patient, who) {
        (Some(p), None) => query_by_patient(&*store, &p, from, to, limit).await,
        (None, Some(u)) => query_by_user(&*store, &u, from, to, limit).await,
        _ => query_by_period(&*store, from, to, limit).await,
    };
    match result {
        Ok(rows) => {
            let entries: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|(seq, entry)| json!({"seq": seq, "entry": entry}))
                .collect();
            json_response(StatusCode::OK, json!({"entries": entries}))
        }
        Err(e) => {
            tracing::error!(error = %e, "access log query failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "the access log could not be read; see the gateway log"}),
            )
        }
    }
}

/// `a=b&c=d` with `%XX` and `+` decoded.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::url_pairs;

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            url_pairs("patient=191212121212&from=2026-11-30T08%3A00%3A00Z&x=a+b&bad=%zz"),
            vec![
                ("patient".into(), "191212121212".into()),
                ("from".into(), "2026-11-30T08:00:00Z".into()),
                ("x".into(), "a b".into()),
                ("bad".into(), "%zz".into()),
            ]
        );
    }
}
