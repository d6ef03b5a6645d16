//! The citizen listener (`[citizen] listen`): the citizen web page and the citizen API
//! over TLS with the service certificate, without client certificates (citizens have
//! none; the citizen token authenticates every API call). HTTP/1.1 and HTTP/2.
//! Requests are counted and logged like any other (contract label `citizen`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Response};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::Port;
use crate::onward::Onward;
use crate::pipeline::observe;
use crate::pipeline::Shared;
use vaxel_model::headers;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve the citizen listener until shutdown. `onward` is the client the overview asks
/// sources with.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    onward: Onward,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "citizen listener accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        let onward = onward.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "citizen TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "citizen TLS handshake timed out");
                    return;
                }
            };
            let svc = service_fn(move |req| {
                let (shared, onward) = (shared.clone(), onward.clone());
                async move { Ok::<_, Infallible>(handle(req, &shared, &onward).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

async fn handle(
    req: http::Request<hyper::body::Incoming>,
    shared: &Shared,
    onward: &Onward,
) -> Response<http_body_util::Full<bytes::Bytes>> {
    let started = std::time::Instant::now();
    let _counted = observe::InFlight::start();
    let correlation = crate::onward::correlation_id(req.headers());
    let mut facts = observe::Facts::new(observe::request_log_enabled());
    facts.sender_seen = true;
    let (parts, body) = req.into_parts();
    let resp = match (&shared.citizen, parts.uri.path()) {
        (Some(citizen), p) if p.starts_with(super::PREFIX) => {
            citizen
                .handle(
                    &parts,
                    body,
                    &citizen.consumer_id,
                    Port::Citizen,
                    onward,
                    &shared.instance_header,
                    &correlation,
                    &mut facts,
                )
                .await
        }
        (_, "/") => {
            let mut r = Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            *r.status_mut() = http::StatusCode::FOUND;
            r.headers_mut().insert(
                http::header::LOCATION,
                HeaderValue::from_static("/citizen/"),
            );
            r
        }
        _ => crate::ops::json_response(
            http::StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not-found", "message": "this listener serves /citizen/ only"}),
        ),
    };
    let outcome = observe::Outcome {
        status: resp.status(),
        fault_code: observe::citizen_fault_code(resp.status()),
        fault: None,
    };
    observe::finish(&facts, started, &outcome, &correlation);
    let mut resp = resp;
    resp.headers_mut()
        .insert(headers::CORRELATION_ID, correlation.clone());
    resp
}
