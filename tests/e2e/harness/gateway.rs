//! The gateway under test: `GatewayConfig` (what goes into `vaxel.toml`, written with
//! the routing table to a temporary folder), `Gateway` (the real `vaxel serve`, started
//! on free ports, restarted on the same files, killed on drop) and its admin listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, pki, tcp_accepts, Proc, Table, PATIENCE, VAXEL};

/// What goes into the gateway's `vaxel.toml` (specs/configuration.md).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub instance_id: String,
    pub threads: usize,
    /// Routing table source text (TOML); `None` writes no table file at all.
    pub table: Option<String>,
    pub trusted_header_addresses: Vec<String>,
    pub original_consumer_allowed: Vec<String>,
    pub connect_timeout_ms: Option<u64>,
    /// Wait for /ready == 200 (otherwise only /health).
    pub expect_ready: bool,
    /// Extra `key = value` lines for the `[service]` table (limits).
    pub service_extra: String,
    /// Extra top-level tables appended to the file (e.g. `[aggregation]`).
    pub extra_sections: String,
    /// Fixed (service, admin) ports, e.g. for a gateway that others address by URL and
    /// that must come back on the same ports after a restart; `None`: free ports.
    pub ports: Option<(u16, u16)>,
    /// The service port's certificate and key instead of the demo `gateway.pem`.
    pub service_cert: Option<(PathBuf, PathBuf)>,
    /// Extra `key = value` lines for the `[admin]` table (its protection).
    pub admin_extra: String,
    /// The admin listener speaks TLS: start-up waits for its port to accept instead of
    /// asking `/ready` over plain HTTP.
    pub admin_tls: bool,
}

impl GatewayConfig {
    pub fn new(table: &Table) -> GatewayConfig {
        GatewayConfig {
            instance_id: "vaxel-e2e".to_string(),
            threads: 1,
            table: Some(table.to_toml()),
            trusted_header_addresses: Vec::new(),
            original_consumer_allowed: Vec::new(),
            connect_timeout_ms: None,
            expect_ready: true,
            service_extra: String::new(),
            extra_sections: String::new(),
            ports: None,
            service_cert: None,
            admin_extra: String::new(),
            admin_tls: false,
        }
    }

    /// The admin listener behind mutual TLS: the demo gateway certificate, clients
    /// need a certificate from the demo CA.
    pub fn admin_mutual_tls(&mut self) {
        let pki = pki();
        self.admin_extra = format!(
            "tls = {{ certificate = {:?}, private_key = {:?}, client_ca = {:?} }}\n",
            pki.cert("gateway").display().to_string(),
            pki.key("gateway").display().to_string(),
            pki.ca().display().to_string()
        );
        self.admin_tls = true;
    }

    pub fn raw_table(text: &str) -> GatewayConfig {
        let mut c = GatewayConfig::new(&Table::new());
        c.table = Some(text.to_string());
        c
    }

    fn toml(&self, dir: &Path, listen: u16, admin: u16) -> String {
        let pki = pki();
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let connect = self
            .connect_timeout_ms
            .map(|ms| format!("connect_timeout_ms = {ms}\n"))
            .unwrap_or_default();
        format!(
            r#"instance_id = "{instance}"

[service]
listen = "127.0.0.1:{listen}"
threads = {threads}
{service_extra}

[service.tls]
certificate = {gw_cert:?}
private_key = {gw_key:?}
client_ca = {ca:?}

[admin]
listen = "127.0.0.1:{admin}"
{admin_extra}

[producers]
certificate = {cl_cert:?}
private_key = {cl_key:?}
ca = {ca:?}
{connect}
[routing]
source = {table:?}

[identity]
trusted_header_addresses = {trusted}
original_consumer_allowed = {allowed}

{extra_sections}
"#,
            instance = self.instance_id,
            threads = self.threads,
            service_extra = self.service_extra,
            gw_cert = self
                .service_cert
                .as_ref()
                .map(|(c, _)| c.clone())
                .unwrap_or_else(|| pki.cert("gateway"))
                .display()
                .to_string(),
            gw_key = self
                .service_cert
                .as_ref()
                .map(|(_, k)| k.clone())
                .unwrap_or_else(|| pki.key("gateway"))
                .display()
                .to_string(),
            ca = pki.ca().display().to_string(),
            cl_cert = pki.cert("gateway-client").display().to_string(),
            cl_key = pki.key("gateway-client").display().to_string(),
            table = dir.join("tak.toml").display().to_string(),
            trusted = list(&self.trusted_header_addresses),
            allowed = list(&self.original_consumer_allowed),
            extra_sections = self.extra_sections,
            admin_extra = self.admin_extra,
        )
    }
}

/// A running `vaxel serve --config <tempdir>/vaxel.toml`.
#[derive(Debug)]
pub struct Gateway {
    pub proc: Proc,
    pub port: u16,
    pub admin_port: u16,
    pub instance_id: String,
    pub dir: tempfile::TempDir,
}

impl Gateway {
    /// Stops the gateway (SIGKILL) and hands back its folder, to start another gateway
    /// on the same files.
    pub fn into_dir(self) -> tempfile::TempDir {
        let Gateway { proc, dir, .. } = self;
        drop(proc);
        dir
    }

    /// Starts the gateway and waits until `/ready` answers 200 (or `/health`, when the
    /// config says a table is not expected to load).
    pub fn start(cfg: &GatewayConfig) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        Gateway::start_in(cfg, dir)
    }

    /// Starts in an existing folder (to restart a gateway on the same files).
    pub fn start_in(cfg: &GatewayConfig, dir: tempfile::TempDir) -> Gateway {
        if let Some(table) = &cfg.table {
            std::fs::write(dir.path().join("tak.toml"), table).expect("write table");
        }
        let mut last_logs = String::new();
        for attempt in 0..3 {
            let (port, admin_port) = cfg.ports.unwrap_or_else(|| (free_port(), free_port()));
            if port == admin_port {
                continue;
            }
            let config = dir.path().join("vaxel.toml");
            std::fs::write(&config, cfg.toml(dir.path(), port, admin_port)).expect("write config");
            let mut cmd = Command::new(VAXEL);
            cmd.arg("serve").arg("--config").arg(&config);
            let mut proc = Proc::spawn(
                "gateway",
                &mut cmd,
                dir.path().join(format!("gateway-{attempt}.log")),
            );
            let path = if cfg.expect_ready {
                "/ready"
            } else {
                "/health"
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if proc.exited().is_some() {
                    break;
                }
                let admin_up = if cfg.admin_tls {
                    tcp_accepts(admin_port)
                } else {
                    admin_get_status(admin_port, path) == Some(200)
                };
                if admin_up && tcp_accepts(port) {
                    return Gateway {
                        proc,
                        port,
                        admin_port,
                        instance_id: cfg.instance_id.clone(),
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            last_logs = proc.logs();
            let _ = proc.child.kill();
            let _ = proc.child.wait();
            if !last_logs.contains("cannot listen") {
                break;
            }
            if cfg.ports.is_some() {
                // Fixed ports: the previous process may still hold them for a moment.
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        panic!("the gateway did not become ready within 10 s; its log:\n{last_logs}");
    }

    /// The service URL (`https://127.0.0.1:<port>/`; the gateway certificate names 127.0.0.1).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    pub fn logs(&self) -> String {
        self.proc.logs()
    }

    /// The output once it holds `needle`, or after 5 s as it is: log lines are written
    /// out in batches up to 50 ms after they happen (specs/metrics.md §3).
    pub fn logs_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.proc.logs();
            if logs.contains(needle) || Instant::now() > deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn table_path(&self) -> PathBuf {
        self.dir.path().join("tak.toml")
    }

    pub fn write_table(&self, text: &str) {
        // Write and rename so that a reload never sees half a file.
        let tmp = self.dir.path().join(".tak.toml.tmp");
        std::fs::write(&tmp, text).expect("write table");
        std::fs::rename(&tmp, self.table_path()).expect("rename table");
    }

    /// `GET /status` as JSON.
    pub async fn status(&self) -> serde_json::Value {
        let r = admin_client()
            .get(self.admin("/status"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /status: {e}"));
        assert_eq!(r.status(), 200, "GET /status");
        let text = r.text().await.expect("/status body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {text}"))
    }

    /// `GET <path>` on the admin listener: (status, body).
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let r = admin_client()
            .get(self.admin(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// `POST /admin/reload`: (status, JSON body).
    pub async fn reload(&self) -> (u16, serde_json::Value) {
        let r = admin_client()
            .post(self.admin("/admin/reload"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /admin/reload: {e}"));
        let status = r.status().as_u16();
        let text = r.text().await.expect("reload body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("reload did not answer JSON ({e}): {text}"));
        (status, json)
    }
}

/// Plain HTTP/1.1 GET against the admin port, no client library: the status code.
pub fn admin_get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn admin_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("admin client")
}
