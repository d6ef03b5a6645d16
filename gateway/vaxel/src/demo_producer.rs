//! A demo RIV-TA producer for `serve --demo`, the end-to-end tests and the load
//! harness: mutual TLS (client certificate required), HTTP/1.1, answers by URL path:
//!
//! | path prefix | behaviour |
//! | --- | --- |
//! | `/fault` | HTTP 500 with a producer SOAP fault (must pass through the gateway unchanged) |
//! | `/slow?ms=N` | waits N ms (default 60000), then answers like `/echo` |
//! | `/large?kb=N` | answers with a response of about N KiB (default 1024) |
//! | `/journal?care_giver=G&care_unit=U&records=N&delay_ms=D&time_base=T&patient=P` | a journal source system: for a request of a contract with an information-set adapter, answers with N (default 2) generated records for the requested patient, written by source system = the request's logical address, care giver G and care unit U, one day apart from the start of the requested period (or from `T`, `yyyyMMdd`, to play a producer that ignores the period; a request without a period, such as a citizen's overview or any GetSubjectOfCareSchedule, gets recent records from two weeks ago, and bookings from a week ahead), after D ms (default 0); with `P`, the records are about patient P whoever was asked for (a broken source) |
//! | anything else | `/echo`: a `<Contract>Response` in the request's contract namespace |
//!
//! Every answer carries `x-demo-*` headers describing what arrived (caller headers,
//! body length and FNV-1a hash), so tests can prove what the gateway forwarded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vaxel_adapter::{sniff, SniffLimits, SniffOutcome};

use crate::tls;
use vaxel_model::xml::xml_escape;

/// How much of the request the producer keeps to find the contract name.
const HEAD_KEEP: usize = 64 * 1024;

/// FNV-1a 64: a cheap fingerprint of the body, to prove bytes arrived unchanged.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.update(data);
    h.finish()
}

/// Incremental FNV-1a 64.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a64(u64);

impl Fnv1a64 {
    pub fn new() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, data: &[u8]) {
        for b in data {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

/// Run the demo producer on `listener` until the process ends.
pub async fn run(
    listener: TcpListener,
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: &std::path::Path,
) -> anyhow::Result<()> {
    let cfg = tls::mtls_server_config(cert, key, client_ca, &[b"http/1.1"])?;
    let acceptor = TlsAcceptor::from(cfg);
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "demo producer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let client_id = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| tls::caller_id_from_certificate(c).ok())
                .unwrap_or_default();
            let client_id = Arc::new(client_id);
            let svc = service_fn(move |req| answer(req, client_id.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                // Idle keep-alive connections stay open for the proxies in front (hyper's
                // default header timeout would close them after 30 s).
                .header_read_timeout(Duration::from_secs(300))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Bind and run (for the `demo-producer` subcommand and `serve --demo`).
pub async fn bind_and_run(
    addr: SocketAddr,
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: &std::path::Path,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("demo producer cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "demo producer listening (mutual TLS)");
    run(listener, cert, key, client_ca).await
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<u64> {
    query_text(req.uri(), name)?.parse().ok()
}

/// A query parameter as text (HSA ids need no percent-decoding).
fn query_text(uri: &http::Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The answer of a demo journal source system (`/journal`): generated records for the
/// requested patient, or `None` when the request is not a journal query it can read.
fn journal_answer(uri: &http::Uri, request: &[u8], logical_address: &str) -> Option<String> {
    let contract = match sniff(request, true, &SniffLimits::default()) {
        Ok(SniffOutcome::Complete(env)) => env.contract_namespace,
        _ => return None,
    };
    let set = vaxel_adapters::by_contract(&contract)?;
    let query = set.parse_request(request).ok()?;
    let care_giver = query_text(uri, "care_giver").unwrap_or_else(|| "SE2321000016-DEMO".into());
    let care_unit =
        query_text(uri, "care_unit").unwrap_or_else(|| "SE2321000016-DEMO-UNIT1".into());
    // Like a real source, answer inside the requested period (unless told otherwise, to
    // play a producer that ignores the filter).
    let time_base = query_text(uri, "time_base")
        .or_else(|| {
            query
                .period_start
                .as_deref()
                .filter(|s| s.len() >= 8 && s.is_ascii())
                .map(|s| s[..8].to_string())
        })
        .unwrap_or_else(|| unbounded_time_base(set.descriptor().kind));
    let records = query_text(uri, "records")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2usize)
        .min(1000);
    let patient = query_text(uri, "patient").unwrap_or_else(|| query.patient_id.clone());
    Some(vaxel_adapters::samples::producer_response(
        set,
        &vaxel_adapters::samples::SampleSource {
            patient_id: &patient,
            source_system: logical_address,
            care_giver: &care_giver,
            care_unit: &care_unit,
            records,
            time_base: &time_base,
            style: Default::default(),
        },
    ))
}

/// Where the records of a request without a period start (`yyyyMMdd`): two weeks ago, so
/// that a citizen's overview shows recent results, or a week ahead for bookings (the
/// times a patient has booked are still to come).
fn unbounded_time_base(kind: &str) -> String {
    let today = vaxel_model::clock::today();
    let days = if kind == "booking" { 7 } else { -14 };
    (today + chrono::Duration::days(days))
        .format("%Y%m%d")
        .to_string()
}

async fn answer(
    req: Request<Incoming>,
    client_id: Arc<String>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let slow_ms = if path.starts_with("/slow") {
        Some(query_param(&req, "ms").unwrap_or(60_000))
    } else {
        query_param(&req, "delay_ms")
    };
    let uri = req.uri().clone();
    let large_kb = path
        .starts_with("/large")
        .then(|| query_param(&req, "kb").unwrap_or(1024));
    let echo: Vec<(&'static str, Option<HeaderValue>)> = [
        ("x-demo-sender-id", "x-vp-sender-id"),
        ("x-demo-instance-id", "x-vp-instance-id"),
        (
            "x-demo-original-consumer",
            "x-rivta-original-serviceconsumer-hsaid",
        ),
        ("x-demo-correlation-id", "x-skltp-correlation-id"),
        ("x-demo-routing-history", "x-rivta-routing-history"),
        ("x-demo-soapaction", "soapaction"),
    ]
    .into_iter()
    .map(|(out, inp)| (out, req.headers().get(inp).cloned()))
    .collect();
    // Stream the body: hash every byte, keep only the head for the contract name, so
    // large uploads (load and memory tests) cost the producer no memory.
    let mut body = req.into_body();
    let mut head: Vec<u8> = Vec::new();
    let mut hash = Fnv1a64::new();
    let mut body_len: usize = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            hash.update(&data);
            body_len += data.len();
            if head.len() < HEAD_KEEP {
                let take = (HEAD_KEEP - head.len()).min(data.len());
                head.extend_from_slice(&data[..take]);
            }
        }
    }
    if let Some(ms) = slow_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let (contract, element, address) =
        match sniff(&head, body_len == head.len(), &SniffLimits::default()) {
            Ok(SniffOutcome::Complete(env)) => (
                env.contract_namespace,
                env.body_element,
                env.address.map(|a| a.value).unwrap_or_default(),
            ),
            _ => (
                "urn:vaxel:demo:unknown".to_string(),
                "Unknown".to_string(),
                String::new(),
            ),
        };
    let journal = (path.starts_with("/journal") && body_len == head.len())
        .then(|| journal_answer(&uri, &head, &address))
        .flatten();
    let (status, xml) = if let Some(journal) = journal {
        (StatusCode::OK, journal)
    } else if path.starts_with("/journal") {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Demo journal source: the request is not a journal query with a patient id</faultstring></soap:Fault></soap:Body></soap:Envelope>".to_string(),
        )
    } else if path.starts_with("/fault") {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Demo producer fault: the source system is unavailable</faultstring></soap:Fault></soap:Body></soap:Envelope>".to_string(),
        )
    } else {
        let pad_len = large_kb.map(|kb| kb as usize * 1024).unwrap_or(2048);
        let mut pad = String::with_capacity(pad_len + 64);
        while pad.len() < pad_len {
            pad.push_str("<ns:row>vaxel demo producer record padding 0123456789</ns:row>");
        }
        (
            StatusCode::OK,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><ns:{el}Response xmlns:ns=\"{ns}\"><ns:result><ns:resultCode>OK</ns:resultCode><ns:producer>vaxel-demo-producer</ns:producer><ns:receivedBytes>{len}</ns:receivedBytes><ns:caller>{caller}</ns:caller></ns:result>{pad}</ns:{el}Response></soap:Body></soap:Envelope>",
                el = xml_escape(&element),
                ns = xml_escape(&contract),
                len = body_len,
                caller = xml_escape(&client_id),
            ),
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(xml)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=UTF-8"),
    );
    for (name, v) in echo {
        if let Some(v) = v {
            h.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&client_id) {
        h.insert("x-demo-client-cert", v);
    }
    h.insert("x-demo-body-bytes", HeaderValue::from(body_len));
    if let Ok(v) = HeaderValue::from_str(&format!("{:016x}", hash.finish())) {
        h.insert("x-demo-body-fnv", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_a_period_get_recent_records_and_bookings_ahead() {
        let today = vaxel_model::clock::today().format("%Y%m%d").to_string();
        let bookings = unbounded_time_base("booking");
        assert_eq!(bookings.len(), 8);
        assert!(bookings > today, "{bookings} is after {today}");
        for kind in ["lab-result", "care-plan", "vaccination", "note"] {
            let base = unbounded_time_base(kind);
            assert!(base < today, "{kind}: {base} is before {today}");
        }
    }
}
