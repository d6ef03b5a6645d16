//! The service listener, thread-per-core: one current-thread tokio runtime per core, each
//! with its own SO_REUSEPORT listener and its own producer connection pool, sharing only
//! immutable state (config, routing table snapshot) and relaxed counters. Measured on
//! this machine to beat a work-stealing runtime on CPU per request and tail latency
//! (see ../BENCHMARKING.md in the shared folder and BENCHMARKS.md).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::onward::Onward;
use crate::pipeline::admit::{CoreLimits, CountGuard};
use crate::pipeline::identify::ConnectionInfo;
use crate::pipeline::{handle, Core, Shared};
use crate::tls;

/// Blocking-pool threads per service core (store calls, SDK validation and crypto).
const BLOCKING_THREADS_PER_CORE: usize = 16;

/// Bind `addr` with SO_REUSEPORT so that every core can have a listener of its own.
pub fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Handle to the running per-core service threads.
#[derive(Debug)]
pub struct ServiceThreads {
    threads: Vec<std::thread::JoinHandle<()>>,
    pub local_addr: SocketAddr,
}

impl ServiceThreads {
    /// Wait until every core has drained (after the shutdown signal).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Start one service thread per configured core. The listeners are bound before this
/// returns, so a bind error is reported at start-up.
pub fn start_service(
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<ServiceThreads> {
    let cfg = &shared.config;
    let server_tls = tls::service_server_config(
        &cfg.service.certificate,
        &cfg.service.private_key,
        &cfg.service.client_ca,
    )?;
    let client_tls = tls::producer_client_config(
        &cfg.producers.certificate,
        &cfg.producers.private_key,
        &cfg.producers.ca,
    )?;
    let first = bind_reuseport(cfg.service.listen).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} (service.listen in {}): {e}",
            cfg.service.listen,
            cfg.origin.display()
        )
    })?;
    let local_addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cfg.service.threads {
        listeners.push(bind_reuseport(local_addr)?);
    }
    let mut threads = Vec::new();
    for (core, listener) in listeners.into_iter().enumerate() {
        let shared = shared.clone();
        let acceptor = TlsAcceptor::from(server_tls.clone());
        let client_tls = client_tls.clone();
        let shutdown = shutdown.clone();
        let t = std::thread::Builder::new()
            .name(format!("vaxel-core-{core}"))
            .spawn(move || {
                // The blocking pool runs store calls and SDK crypto. Bounded: a burst
                // would otherwise start a thread per waiting call, each keeping its own
                // allocator heap after the burst.
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(BLOCKING_THREADS_PER_CORE)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(core, error = %e, "cannot start runtime; stopping");
                        std::process::exit(70);
                    }
                };
                // A core that dies would leave its listener accepting connections that
                // nobody serves: stop the whole process instead, so a supervisor restarts
                // it. (Panics inside a connection's task are contained by tokio.)
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(serve_core(listener, acceptor, client_tls, shared, shutdown))
                }));
                if served.is_err() {
                    tracing::error!(core, "service core panicked; stopping the gateway");
                    std::process::exit(70);
                }
            })?;
        threads.push(t);
    }
    Ok(ServiceThreads {
        threads,
        local_addr,
    })
}

async fn serve_core(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    client_tls: Arc<rustls::ClientConfig>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot register listener");
            return;
        }
    };
    let onward = Onward::new(client_tls, &shared.config.producers);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // ALPN already told which protocol the client speaks: serve it directly instead of
    // sniffing the connection preface.
    let mut h1 = hyper::server::conn::http1::Builder::new();
    h1.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(shared.config.service.header_read_timeout);
    let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new());
    let builders = Arc::new((h1, h2));
    let handshake_timeout = shared.config.service.tls_handshake_timeout;
    // Limits are split evenly over the cores: each core counts its own, uncontended.
    let threads = shared.config.service.threads.max(1);
    let max_connections = shared.config.service.max_connections.div_ceil(threads);
    let core = Core {
        onward,
        limits: CoreLimits {
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: shared
                .config
                .service
                .max_concurrent_requests
                .div_ceil(threads),
        },
    };
    let open = Arc::new(AtomicUsize::new(0));

    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        if open.load(Ordering::Relaxed) >= max_connections {
            // Over the connection limit: close at once rather than queue.
            shared
                .stats
                .connections_rejected
                .fetch_add(1, Ordering::Relaxed);
            vaxel_telemetry::metrics()
                .refused
                .get_or_create(&[("limit", "connections")])
                .inc();
            drop(tcp);
            continue;
        }
        let conn_guard = CountGuard::new(open.clone());
        let _ = tcp.set_nodelay(true);
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        let open_gauge = OpenConnection::new();
        let core = core.clone();
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let builders = builders.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _conn_guard = conn_guard;
            let _open_gauge = open_gauge;
            let m = vaxel_telemetry::metrics();
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    m.tls_handshakes.get_or_create(&[("result", "ok")]).inc();
                    s
                }
                Ok(Err(e)) => {
                    shared
                        .stats
                        .tls_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    let reason = tls::handshake_failure_reason(&e);
                    m.tls_handshakes
                        .get_or_create(&[("result", "failed")])
                        .inc();
                    m.tls_handshake_failures
                        .get_or_create(&[("reason", reason)])
                        .inc();
                    tracing::info!(%peer, error = %e, reason, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    shared
                        .stats
                        .tls_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    m.tls_handshakes
                        .get_or_create(&[("result", "failed")])
                        .inc();
                    m.tls_handshake_failures
                        .get_or_create(&[("reason", "timeout")])
                        .inc();
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certificate_id = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|leaf| tls::caller_id_from_certificate(leaf))
                .unwrap_or_else(|| Err("no client certificate was presented".into()));
            let conn = Arc::new(ConnectionInfo {
                peer: peer.ip(),
                certificate_id,
            });
            let svc =
                service_fn(move |req| handle(req, conn.clone(), shared.clone(), core.clone()));
            let is_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let io = TokioIo::new(tls);
            let result = if is_h2 {
                watcher.watch(builders.1.serve_connection(io, svc)).await
            } else {
                watcher.watch(builders.0.serve_connection(io, svc)).await
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Finish in-flight requests, then close; bounded so shutdown cannot hang.
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 30 s; closing them");
    }
}

/// Counts a service-port connection as open (and accepted) while it lives.
#[derive(Debug)]
struct OpenConnection;

impl OpenConnection {
    fn new() -> OpenConnection {
        let m = vaxel_telemetry::metrics();
        m.connections.inc();
        m.connections_open.inc();
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        vaxel_telemetry::metrics().connections_open.dec();
    }
}
