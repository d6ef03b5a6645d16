//! Operations endpoints on the separate admin listener (bind it to loopback, or protect
//! it with mutual TLS or operator tokens: `[admin]`, specs/metrics.md §5): /health,
//! /ready, /status, /metrics (Prometheus), /dashboard (+ /dashboard/dashboard.css,
//! /dashboard/dashboard.js, /dashboard/data), /admin/log-level, POST /admin/reload,
//! and, when `[consent] enabled`, the consent admin API under /api/consents and
//! /api/blocks and the access log review API at /api/access-log
//! (specs/openapi-consent.yaml); in `serve --demo` only, demo user contexts at
//! /demo/user-context (`demo_tokens`).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use vaxel_pdl::consent::jwt::Verifier;

use crate::pipeline::Shared;

/// How the admin listener checks its clients (`[admin]`).
#[derive(Clone, Default)]
pub struct AdminGuard {
    /// Mutual TLS: a client certificate from `[admin] tls.client_ca` is required.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Operator tokens: verified against `[[consent.issuers]]`, with this role.
    token: Option<(Arc<Verifier>, String)>,
}

impl std::fmt::Debug for AdminGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminGuard")
            .field("mutual_tls", &self.tls.is_some())
            .field("operator_role", &self.token.as_ref().map(|(_, r)| r))
            .finish()
    }
}

impl AdminGuard {
    /// The guard `[admin]` asks for.
    pub fn from_config(shared: &Shared) -> anyhow::Result<AdminGuard> {
        let Some(admin) = &shared.config.admin else {
            return Ok(AdminGuard::default());
        };
        let tls = match &admin.tls {
            None => None,
            Some(t) => {
                let cfg = crate::tls::mtls_server_config(
                    &t.certificate,
                    &t.private_key,
                    &t.client_ca,
                    &[b"http/1.1"],
                )?;
                Some(tokio_rustls::TlsAcceptor::from(cfg))
            }
        };
        let token = if admin.require_token {
            let verifier = Verifier::from_config(&shared.config.consent)
                .map_err(|e| anyhow::anyhow!("[admin] require_token: {e}"))?;
            Some((Arc::new(verifier), admin.operator_role.clone()))
        } else {
            None
        };
        Ok(AdminGuard { tls, token })
    }

    /// `None` when the request may go on; else the refusal. `/health` and `/ready` stay
    /// open (load balancers), so does the dashboard page with its style sheet and script
    /// (not its data), and the consent and access-log APIs check their own roles.
    fn refuse(&self, req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
        let (verifier, role) = self.token.as_ref()?;
        let path = req.uri().path();
        // The page itself holds no data (it asks /dashboard/data with the token the
        // operator gives it); a browser cannot send a bearer token for the page, nor for
        // the style sheet and script it loads.
        if matches!(
            path,
            "/health"
                | "/ready"
                | "/dashboard"
                | "/dashboard/"
                | "/dashboard/dashboard.css"
                | "/dashboard/dashboard.js"
        ) || vaxel_pdl::consent::admin::is_consent_path(path)
            || path == vaxel_pdl::access_log::api::PATH
        {
            return None;
        }
        let now = vaxel_model::clock::now_utc().timestamp();
        match verifier.verify_headers(req.headers(), now) {
            Ok(user) if user.has_role(role) => None,
            Ok(_) => Some(json_response(
                StatusCode::FORBIDDEN,
                json!({"error": format!("the admin listener needs a token with the role `{role}` ([admin] operator_role)")}),
            )),
            Err(e) => Some(json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": format!("the admin listener needs an operator token (Authorization: Bearer <JWT> with the role `{role}`): {e}")}),
            )),
        }
    }
}

/// Serve the admin endpoints until shutdown.
pub async fn serve_admin(
    listener: TcpListener,
    shared: Arc<Shared>,
    guard: AdminGuard,
    mut shutdown: watch::Receiver<bool>,
) {
    let guard = Arc::new(guard);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let shared = shared.clone();
        let guard = guard.clone();
        tokio::spawn(async move {
            let g = guard.clone();
            let svc = service_fn(move |req| {
                let (shared, g) = (shared.clone(), g.clone());
                async move {
                    match g.refuse(&req) {
                        Some(refusal) => Ok::<_, Infallible>(refusal),
                        None => admin(req, shared, peer).await,
                    }
                }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match &guard.tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    )
                    .await;
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = http.serve_connection(TokioIo::new(tls), svc).await;
                        }
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "admin TLS handshake failed")
                        }
                        Err(_) => tracing::info!(%peer, "admin TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

fn text_response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// `GET` / `PUT /admin/log-level`: the filter in force, or a new one (plain text
/// directives such as `debug` or `info,vaxel_pdl=debug`, or JSON `{"level": "..."}`).
async fn log_level(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(logging) = crate::logging::get() else {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "logging is not initialised in this process"}),
        );
    };
    if req.method() == Method::PUT {
        let body = match http_body_util::Limited::new(req.into_body(), 4096)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("the body must be at most 4096 bytes of filter directives: {e}")}),
                )
            }
        };
        let text = String::from_utf8_lossy(&body);
        let directives = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => match v.get("level").and_then(|l| l.as_str()) {
                Some(l) => l.to_string(),
                None => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "a JSON body must be {\"level\": \"<filter directives>\"}"}),
                    )
                }
            },
            Err(_) => text.trim().to_string(),
        };
        if directives.is_empty() {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "send filter directives, e.g. `debug` or `info,vaxel_pdl=debug`"}),
            );
        }
        if let Err(e) = logging.set_level(&directives) {
            return json_response(StatusCode::BAD_REQUEST, json!({"error": e}));
        }
        tracing::info!(level = %directives, "log level changed");
    }
    let (level, requests) = logging.level();
    json_response(
        StatusCode::OK,
        json!({"level": level, "request_lines": requests}),
    )
}

/// A JSON answer (admin endpoints, the SDK API).
pub(crate) fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn admin(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == crate::demo_tokens::PATH {
        return Ok(crate::demo_tokens::handle(
            shared.demo_staff.as_ref(),
            req.method(),
            req.uri().query(),
            peer.ip().to_canonical().is_loopback(),
        ));
    }
    if vaxel_pdl::consent::admin::is_consent_path(req.uri().path()) {
        return Ok(match &shared.consent {
            Some(service) => vaxel_pdl::consent::admin::handle(req, service.clone()).await,
            None => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "consent is not enabled: set [consent] enabled = true and configure [[consent.issuers]]"}),
            ),
        });
    }
    if req.uri().path() == vaxel_pdl::access_log::api::PATH {
        return Ok(match (&shared.consent, &shared.access_log_store) {
            (Some(consent), Some(store)) => {
                vaxel_pdl::access_log::api::handle(req, consent.clone(), store.clone()).await
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "the access log is kept when consent checking is enabled: set [consent] enabled = true"}),
            ),
        });
    }
    if req.uri().path().starts_with("/sdk/") {
        return Ok(sdk_admin(&req, &shared));
    }
    if req.uri().path() == "/admin/log-level" && matches!(*req.method(), Method::GET | Method::PUT)
    {
        return Ok(log_level(req).await);
    }
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => text_response(
            StatusCode::OK,
            vaxel_telemetry::TEXT_CONTENT_TYPE,
            vaxel_telemetry::metrics().encode(),
        ),
        (&Method::GET, "/dashboard" | "/dashboard/") => text_response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            crate::dashboard::PAGE,
        ),
        (&Method::GET, "/dashboard/dashboard.css") => text_response(
            StatusCode::OK,
            "text/css; charset=utf-8",
            crate::dashboard::STYLE,
        ),
        (&Method::GET, "/dashboard/dashboard.js") => text_response(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            crate::dashboard::SCRIPT,
        ),
        (&Method::GET, "/dashboard/data") => {
            json_response(StatusCode::OK, crate::dashboard::data(&shared))
        }
        (&Method::GET, "/health") => json_response(StatusCode::OK, json!({"status": "live"})),
        (&Method::GET, "/ready") => {
            if shared.routing.current().is_none() {
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "not ready", "reason": "no routing table is loaded (VP008): fix the routing table source and POST /admin/reload"}),
                )
            } else if !shared.store_health.reachable() {
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "not ready", "reason": format!(
                        "the store's database is not reachable ({}); the node recovers by itself when it is back",
                        shared.store_health.error().unwrap_or_default()
                    )}),
                )
            } else {
                json_response(StatusCode::OK, json!({"status": "ready"}))
            }
        }
        (&Method::GET, "/status") => {
            let mut body = status(&shared);
            // Each local service reports under its own key (engagement_index,
            // aggregation, ...).
            for service in shared.services.iter() {
                body[service.status_key()] = service.status().await;
            }
            if let Some(sdk) = &shared.sdk {
                body["sdk"] = crate::sdk_http::status(sdk).await;
            }
            json_response(StatusCode::OK, body)
        }
        (&Method::POST, "/admin/reload") => reload(&shared).await,
        (
            _,
            "/health"
            | "/ready"
            | "/status"
            | "/metrics"
            | "/dashboard"
            | "/dashboard/dashboard.css"
            | "/dashboard/dashboard.js"
            | "/dashboard/data"
            | "/admin/reload"
            | "/admin/log-level",
        ) => json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method not allowed: GET /health, /ready, /status, /metrics, /dashboard, /dashboard/data, /admin/log-level; PUT /admin/log-level; POST /admin/reload"}),
        ),
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not found: GET /health, /ready, /status, /metrics, /dashboard, /dashboard/data, /admin/log-level; PUT /admin/log-level; POST /admin/reload"}),
        ),
    };
    Ok(resp)
}

/// The SDK address book: `GET /sdk/address-book` lists it, `POST
/// /sdk/address-book/reload` reads the file again (the previous book stays on error).
fn sdk_admin(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let Some(sdk) = &shared.sdk else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "SDK messaging is not enabled: set [sdk] enabled = true"}),
        );
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/sdk/address-book") => {
            let book = sdk.book.current();
            json_response(
                StatusCode::OK,
                json!({"source": book.source.display().to_string(), "participants": book.view()}),
            )
        }
        (&Method::POST, "/sdk/address-book/reload") => match sdk.book.reload() {
            Ok(n) => json_response(StatusCode::OK, json!({"reloaded": true, "participants": n})),
            Err(e) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"reloaded": false, "error": e, "participants": sdk.book.current().len()}),
            ),
        },
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not found: GET /sdk/address-book; POST /sdk/address-book/reload"}),
        ),
    }
}

/// Reload the routing table from its source (also on SIGHUP). The running table stays in
/// place when the new one is broken.
pub async fn reload(shared: &Shared) -> Response<Full<Bytes>> {
    let routing = shared.routing.clone();
    let result = tokio::task::spawn_blocking(move || routing.reload()).await;
    match result {
        // The routing module logs the outcome of every reload.
        Ok(Ok(_report)) => {
            // Other nodes on a shared database reload their copy of the table too.
            let mut published = serde_json::Value::Null;
            if let Some(cluster) = shared.cluster.as_ref().filter(|c| c.shared()) {
                published = match cluster
                    .publish(vaxel_store::ClusterEvent::RoutingReload)
                    .await
                {
                    Ok(()) => json!(true),
                    Err(e) => {
                        tracing::error!(error = %e, "the routing reload was not published to the other nodes");
                        json!(format!("not published to the other nodes: {e}"))
                    }
                };
            }
            let mut body = json!({"reloaded": true, "routing_table": routing_status(shared)});
            if !published.is_null() {
                body["other_nodes_told"] = published;
            }
            json_response(StatusCode::OK, body)
        }
        Ok(Err(e)) => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"reloaded": false, "error": e.to_string(), "routing_table": routing_status(shared)}),
        ),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"reloaded": false, "error": e.to_string()}),
        ),
    }
}

fn routing_status(shared: &Shared) -> serde_json::Value {
    match shared.routing.current() {
        None => json!({"loaded": false}),
        Some(t) => {
            let s = t.stats();
            let age = (vaxel_model::clock::now_utc() - s.loaded_at).num_seconds();
            json!({
                "loaded": true,
                "source": s.source,
                "loaded_at": s.loaded_at.to_rfc3339(),
                "age_seconds": age,
                "contracts": s.contracts,
                "routes": s.routes,
                "authorizations": s.authorizations,
            })
        }
    }
}

fn status(shared: &Shared) -> serde_json::Value {
    let st = &shared.stats;
    json!({
        "name": "vaxel",
        "version": env!("CARGO_PKG_VERSION"),
        "instance_id": shared.config.instance_id,
        "uptime_seconds": shared.started.elapsed().as_secs(),
        "service_threads": shared.config.service.threads,
        "routing_table": routing_status(shared),
        "counts": {
            "requests": st.requests.load(Ordering::Relaxed),
            "forwarded": st.forwarded.load(Ordering::Relaxed),
            "answered_locally": st.local_answers.load(Ordering::Relaxed),
            "producer_faults_passed": st.producer_faults_passed.load(Ordering::Relaxed),
            "connections": st.connections.load(Ordering::Relaxed),
            "connections_rejected": st.connections_rejected.load(Ordering::Relaxed),
            "requests_rejected_busy": st.requests_rejected_busy.load(Ordering::Relaxed),
            "tls_handshake_failures": st.tls_handshake_failures.load(Ordering::Relaxed),
            "faults": st.faults(),
        },
        "local_services": shared.services.names(),
        "store": {
            "backend": match shared.config.store.backend {
                vaxel_store::StoreBackend::Sqlite => "sqlite",
                vaxel_store::StoreBackend::Postgres => "postgres",
            },
            "location": crate::stores::describe(&shared.config.store),
            "shared_by_nodes": shared.cluster.as_ref().is_some_and(|c| c.shared()),
            "reachable": shared.store_health.reachable(),
            "error": shared.store_health.error(),
        },
    })
}
