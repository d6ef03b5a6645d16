//! The producers a gateway forwards to: `DemoProducer` (the real `vaxel demo-producer`
//! process) and `RecordingProducer` (an in-process mutual-TLS producer that records
//! what arrives and answers what the test tells it to).

use std::convert::Infallible;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;

use super::{free_port, pki, tcp_accepts, Proc, VAXEL};

/// The real `vaxel demo-producer` on a free port.
#[derive(Debug)]
pub struct DemoProducer {
    pub proc: Proc,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl DemoProducer {
    pub fn start() -> DemoProducer {
        let pki = pki();
        let dir = tempfile::tempdir().expect("tempdir");
        for attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(VAXEL);
            cmd.arg("demo-producer")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--cert")
                .arg(pki.cert("producer"))
                .arg("--key")
                .arg(pki.key("producer"))
                .arg("--client-ca")
                .arg(pki.ca())
                .args(["--threads", "1"]);
            let mut proc = Proc::spawn(
                "demo producer",
                &mut cmd,
                dir.path().join(format!("producer-{attempt}.log")),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if proc.exited().is_some() {
                    break;
                }
                if tcp_accepts(port) {
                    return DemoProducer {
                        proc,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!(
                "demo producer did not come up on port {port} (attempt {attempt}): {}",
                proc.logs()
            );
        }
        panic!("the demo producer did not start");
    }

    /// `https://127.0.0.1:<port><path>` (the producer certificate names 127.0.0.1).
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

// ---------------------------------------------------------------------------------
// An in-process producer that records what arrives (tokio-rustls + hyper)

/// One request as the recording producer received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

type Responder = dyn Fn(&Seen) -> (u16, Bytes) + Send + Sync;

/// A mutual-TLS HTTP/1.1 producer running on the test's runtime. It requires a client
/// certificate from the demo CA, records every request and answers with `respond`.
pub struct RecordingProducer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RecordingProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProducer")
            .field("port", &self.port)
            .finish()
    }
}

impl RecordingProducer {
    pub async fn start(respond: impl Fn(&Seen) -> (u16, Bytes) + Send + Sync + 'static) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let pki = pki();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(pki.ca()).expect("ca.pem") {
            roots.add(c.expect("ca cert")).expect("add ca");
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("client verifier");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pki.cert("producer"))
                .expect("producer.pem")
                .collect::<Result<_, _>>()
                .expect("producer certs");
        let key = PrivateKeyDer::from_pem_file(pki.key("producer")).expect("producer.key");
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .expect("server config");
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let respond: Arc<Responder> = Arc::new(respond);
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let seen = seen2.clone();
                let respond = respond.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            let respond = respond.clone();
                            async move {
                                use http_body_util::BodyExt;
                                let path = req
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default();
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let s = Seen {
                                    path,
                                    headers: parts.headers,
                                    body,
                                };
                                let (status, answer) = respond(&s);
                                seen.lock().expect("seen").push(s);
                                let mut resp =
                                    http::Response::new(http_body_util::Full::new(answer));
                                *resp.status_mut() =
                                    http::StatusCode::from_u16(status).expect("status");
                                resp.headers_mut().insert(
                                    http::header::CONTENT_TYPE,
                                    http::HeaderValue::from_static("text/xml; charset=UTF-8"),
                                );
                                Ok::<_, Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        RecordingProducer { port, seen, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

impl Drop for RecordingProducer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
