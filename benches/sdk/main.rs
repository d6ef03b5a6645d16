//! SDK messaging end to end between two real gateways (benchmark, not a test;
//! benches/sdk/README.md): a region and a municipality, each a `vaxel serve` process
//! with its own SQLite store, the demo PKI from `vaxel certs`. The region's journal
//! system submits N messages with C concurrent submitters; the region encrypts, signs,
//! stores and delivers them over mutual TLS to the municipality, which verifies,
//! decrypts, validates, stores and answers a receipt (specs/sdk.md §1, §5, §7).
//!
//! Measured per round: messages/s from the first submit to the last `delivered` (the
//! region's `GET /status` counts), submit latency p50/p99, CPU time per message of each
//! gateway process (`utime+stime` from `/proc/<pid>/stat`) and their peak RSS (`VmHWM`).
//! Each round starts two fresh gateways on empty stores. Medians over the rounds.
//!
//! `cargo bench -p vaxel --bench sdk`; knobs (environment):
//! - `VAXEL_SDK_BENCH_ROUNDS` (3), `VAXEL_SDK_BENCH_THREADS` (service threads of each
//!   gateway, 2), `VAXEL_SDK_BENCH_CONCURRENCY` (submitters, 16),
//!   `VAXEL_SDK_BENCH_N_SMALL` (2000), `VAXEL_SDK_BENCH_N_LARGE` (200),
//!   `VAXEL_SDK_BENCH_SIZES` (`small,large`);
//! - `VAXEL_SDK_BENCH_DIR`: where PKI and stores go (default a temporary folder; keep it
//!   on the disk a gateway would use, not tmpfs, or fsync costs nothing);
//! - `VAXEL_BIN`: the `vaxel` binary (default the one cargo built for this bench);
//! - `VAXEL_SDK_BENCH_PROFILE_DIR`: a folder with `xmlsec.txt` (output of the
//!   `xmlsec_profile` timing test) and `store.txt` (output of `sdk_write_rate`, plus an
//!   optional `cpu_s=<seconds>` line); when present, the cost split is printed
//!   (benches/sdk/run.sh makes them);
//! - `VAXEL_SDK_BENCH_STORE`: `sqlite` (default: each gateway its own file) or
//!   `postgres` (each gateway's `[store]` on its own fresh schema of the test server,
//!   `VAXEL_TEST_POSTGRES_URL`, default 127.0.0.1:5432; `VAXEL_SDK_BENCH_PG_POOL` sets
//!   `pool_size`); with PostgreSQL the CPU of each gateway's database backends is
//!   measured too;
//! - `VAXEL_SDK_BENCH_SENDER_NODES`: `2` runs the region as two `vaxel serve` nodes on
//!   one PostgreSQL schema (needs `postgres`); submitter `w` sends to node `w mod 2`,
//!   both nodes' delivery loops share the work, and the delivered count is the shared
//!   store's (either node's `/status` counts every node's messages).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vaxel::sdk_pki::{SdkOrg, SdkPki, MUNICIPALITY, REGION};
use vaxel_sdk_message::message::Message;
use vaxel_store_postgres::test_support::TestDatabase;

/// One message size.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    /// Attachment size in bytes (random bytes: incompressible, like a scanned PDF).
    attachment: usize,
    n: usize,
}

struct Opts {
    vaxel: PathBuf,
    rounds: usize,
    threads: usize,
    concurrency: usize,
    cases: Vec<Case>,
    dir: PathBuf,
    profile_dir: Option<PathBuf>,
    /// Each gateway's store on PostgreSQL (a fresh schema each) instead of SQLite.
    postgres: bool,
    /// `pool_size` of each gateway on PostgreSQL (`None`: the default).
    pg_pool: Option<usize>,
    /// Region gateway processes (nodes) on one store: 1, or 2 on PostgreSQL.
    sender_nodes: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `vaxel serve`, killed on drop.
struct Gateway {
    child: Child,
    port: u16,
    admin_port: u16,
    log: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_url(&self) -> String {
        format!("http://127.0.0.1:{}/status", self.admin_port)
    }

    fn logs_tail(&self) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
    }
}

/// Ports (service, admin) of every gateway, all different: the region's nodes, then
/// the municipality.
struct Ports {
    region: Vec<(u16, u16)>,
    municipality: (u16, u16),
}

fn ports(region_nodes: usize) -> Ports {
    let n = 2 * (region_nodes + 1);
    loop {
        let p: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut q = p.clone();
        q.sort_unstable();
        q.dedup();
        if q.len() == n {
            return Ports {
                region: (0..region_nodes)
                    .map(|i| (p[2 * i], p[2 * i + 1]))
                    .collect(),
                municipality: (p[n - 2], p[n - 1]),
            };
        }
    }
}

/// The address book both gateways share (as in tests/e2e/sdk.rs).
fn address_book(sdk: &SdkPki, ports: &Ports) -> String {
    // The region's first node stands for the region (nothing is delivered to it here).
    [(REGION, ports.region[0].0), (MUNICIPALITY, ports.municipality.0)]
        .iter()
        .map(|(org, port)| {
            format!(
                "[[participant]]\nid = {:?}\nname = {:?}\nendpoint = {:?}\ngateway_id = {:?}\ncertificate = {:?}\nfunctional_addresses = [{:?}]\n\n",
                org.participant,
                org.name,
                format!("https://127.0.0.1:{port}/sdk/v1/deliveries"),
                org.gateway_id,
                sdk.org_cert(org).display().to_string(),
                org.functional_address
            )
        })
        .collect()
}

/// Where a gateway keeps its store.
enum StoreAt {
    /// A SQLite file in the gateway's folder.
    Sqlite,
    /// `[store]` on PostgreSQL: the test server, a schema of its own (or shared by the
    /// region's nodes).
    Postgres(vaxel_store::PostgresConfig),
}

/// The `[store]` section's keys.
fn store_section(store: &StoreAt, dir: &Path) -> String {
    match store {
        StoreAt::Sqlite => format!(
            "path = {:?}",
            dir.join("data").join("vaxel.db").display().to_string()
        ),
        StoreAt::Postgres(pg) => format!(
            "backend = \"postgres\"\nurl = {:?}\nschema = {:?}\npool_size = {}",
            pg.url, pg.schema, pg.pool_size
        ),
    }
}

/// `vaxel.toml` of `org`'s gateway: no routing table entries, SDK on, defaults for
/// delivery (concurrency 32), the store in `dir` or on PostgreSQL.
fn gateway_config(
    pki: &vaxel::certs::DemoPki,
    org: &SdkOrg,
    (listen, admin): (u16, u16),
    threads: usize,
    dir: &Path,
    store: &StoreAt,
) -> String {
    let sdk = vaxel::sdk_pki::paths(pki);
    let p = |path: PathBuf| path.display().to_string();
    format!(
        r#"instance_id = "vaxel-bench-{stem}"

[service]
listen = "127.0.0.1:{listen}"
threads = {threads}

[service.tls]
certificate = {gw_cert:?}
private_key = {gw_key:?}
client_ca = {ca:?}

[admin]
listen = "127.0.0.1:{admin}"

[producers]
certificate = {cl_cert:?}
private_key = {cl_key:?}
ca = {ca:?}

[routing]
source = {table:?}

[store]
{store}

[sdk]
enabled = true
organisation = {participant:?}
certificate = {org_cert:?}
private_key = {org_key:?}
organisation_ca = {ca:?}
client_certificate = {gw_cert:?}
client_private_key = {gw_key:?}
address_book = {book:?}
initial_backoff_ms = 100
max_backoff_ms = 1000

[[sdk.systems]]
id = {system:?}
organisations = [{participant:?}]
"#,
        stem = org.stem,
        gw_cert = p(sdk.gateway_cert(org)),
        gw_key = p(sdk.gateway_key(org)),
        ca = p(pki.ca_cert()),
        cl_cert = p(pki.gateway_client_cert()),
        cl_key = p(pki.gateway_client_key()),
        table = p(dir.join("tak.toml")),
        store = store_section(store, dir),
        participant = org.participant,
        org_cert = p(sdk.org_cert(org)),
        org_key = p(sdk.org_key(org)),
        book = p(dir.join("address-book.toml")),
        system = org.system_id,
    )
}

fn admin_ok(port: u16, path: &str) -> bool {
    use std::io::Read as _;
    let Ok(mut s) = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"HTTP/1.1 200"))
}

fn start_gateway(
    opts: &Opts,
    org: &SdkOrg,
    ports: (u16, u16),
    book: &str,
    dir: &Path,
    store: &StoreAt,
) -> Gateway {
    std::fs::create_dir_all(dir).expect("gateway folder");
    let pki = vaxel::certs::DemoPki {
        dir: opts.dir.join("pki"),
    };
    std::fs::write(
        dir.join("tak.toml"),
        "contracts = []\nroutes = []\nauthorizations = []\n",
    )
    .expect("table");
    std::fs::write(dir.join("address-book.toml"), book).expect("address book");
    let config = dir.join("vaxel.toml");
    std::fs::write(
        &config,
        gateway_config(&pki, org, ports, opts.threads, dir, store),
    )
    .expect("config");
    let log = dir.join("gateway.log");
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(&opts.vaxel)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", opts.vaxel.display()));
    let mut gw = Gateway {
        child,
        port: ports.0,
        admin_port: ports.1,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = gw.child.try_wait() {
            panic!(
                "the {} gateway exited ({status}):\n{}",
                org.stem,
                gw.logs_tail()
            );
        }
        if admin_ok(gw.admin_port, "/health")
            && std::net::TcpStream::connect(("127.0.0.1", gw.port)).is_ok()
        {
            return gw;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "the {} gateway did not come up within 15 s:\n{}",
        org.stem,
        gw.logs_tail()
    );
}

/// CPU seconds (`utime + stime`, all threads) of a process.
fn cpu_seconds(pid: u32, tick: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f[11].parse().expect("utime");
    let stime: f64 = f[12].parse().expect("stime");
    (utime + stime) / tick
}

/// Peak resident set (`VmHWM`) in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn clock_tick() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The region's journal system (its client certificate), as in tests/e2e/sdk.rs.
fn system_client(sdk: &SdkPki, org: &SdkOrg, concurrency: usize) -> reqwest::Client {
    let mut pem = std::fs::read(sdk.system_cert(org)).expect("system cert");
    pem.push(b'\n');
    pem.extend(std::fs::read(sdk.system_key(org)).expect("system key"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&sdk.ca).expect("ca")).expect("ca");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).expect("system identity"))
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// A message template of `size` attachment bytes; each submit gets a fresh message id
/// (= conversation id) by replacing the template's id in the document (same length), so
/// building the body costs the submitter a copy, not an XML serialisation.
struct Template {
    document: Vec<u8>,
    id: String,
}

impl Template {
    fn new(attachment: usize) -> Template {
        let mut m = Message::new(
            REGION.org_number,
            MUNICIPALITY.org_number,
            MUNICIPALITY.functional_address,
            "Benchmark",
        )
        .with_sender_functional_address(REGION.functional_address);
        m.add_text_document("text", "Meddelande", "Se bifogad fil.");
        let mut bytes = vec![0u8; attachment];
        openssl::rand::rand_bytes(&mut bytes).expect("random bytes");
        bytes[..9.min(attachment)].copy_from_slice(&b"%PDF-1.4\n"[..9.min(attachment)]);
        m.add_file("text", "bilaga.pdf", "application/pdf", &bytes);
        Template {
            document: m.to_document(),
            id: m.header.message_id.clone(),
        }
    }

    fn instance(&self) -> (String, Vec<u8>) {
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(id.len(), self.id.len());
        let mut doc = self.document.clone();
        let needle = self.id.as_bytes();
        let mut i = 0;
        while let Some(pos) = doc[i..].windows(needle.len()).position(|w| w == needle) {
            doc[i + pos..i + pos + needle.len()].copy_from_slice(id.as_bytes());
            i += pos + needle.len();
        }
        (id, doc)
    }
}

async fn status(client: &reqwest::Client, gw: &Gateway) -> Value {
    let text = client
        .get(gw.status_url())
        .send()
        .await
        .expect("GET /status")
        .text()
        .await
        .expect("/status body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("/status not JSON ({e}): {text}"))
}

fn count(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

/// Submit `n` messages with `c` submitters, submitter `w` to `urls[w % urls.len()]` (the
/// region's nodes); latencies of each submit.
async fn submit_all(
    client: &reqwest::Client,
    urls: &[String],
    template: Arc<Template>,
    n: usize,
    c: usize,
) -> Vec<Duration> {
    let mut jobs = tokio::task::JoinSet::new();
    for worker in 0..c {
        let client = client.clone();
        let url = urls[worker % urls.len()].clone();
        let template = template.clone();
        jobs.spawn(async move {
            let mut lat = Vec::new();
            for _ in (worker..n).step_by(c) {
                let (_, body) = template.instance();
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/xml")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("submit: {e:?}"));
                let code = r.status();
                let text = r.text().await.unwrap_or_default();
                lat.push(t.elapsed());
                assert_eq!(code, 202, "submit refused: {text}");
            }
            lat
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = jobs.join_next().await {
        all.extend(r.expect("submitter"));
    }
    all
}

/// Wait until the region reports `target` delivered messages; fail on any rejected or
/// failed one.
async fn wait_delivered(admin: &reqwest::Client, gw: &Gateway, target: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = status(admin, gw).await;
        let delivered = count(&s, &["sdk", "outgoing", "delivered"]);
        let bad =
            count(&s, &["sdk", "outgoing", "rejected"]) + count(&s, &["sdk", "outgoing", "failed"]);
        assert_eq!(
            bad,
            0,
            "messages rejected or failed: {s}\n{}",
            gw.logs_tail()
        );
        if delivered >= target {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {delivered} of {target} delivered within {within:?}: {s}\n{}",
            gw.logs_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Round {
    msgs_per_s: f64,
    /// CPU ms per message of each region node (the table shows their sum).
    cpu_ms_region_nodes: Vec<f64>,
    /// Messages each region node delivered (its log's `SDK message delivered` lines).
    delivered_by_node: Vec<usize>,
    /// CPU ms per message of the database backends serving the region's and the
    /// municipality's connections (PostgreSQL only).
    db_cpu_ms: Option<(f64, f64)>,
    submit_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_ms_region: f64,
    cpu_ms_municipality: f64,
    cpu_ms_client: f64,
    rss_region: f64,
    rss_municipality: f64,
    /// Peak RSS of both right after start-up (before any message), MiB.
    rss_idle: (f64, f64),
    submitted_bytes: usize,
}

const WARMUP: usize = 20;

/// A fresh schema on the test server for one gateway (or one cluster of nodes), with the
/// bench's pool size and an application name that finds its backends in
/// `pg_stat_activity`.
async fn pg_store(opts: &Opts, prefix: &str) -> (TestDatabase, StoreAt) {
    let db = TestDatabase::create(prefix).await.unwrap_or_else(|| {
        panic!(
            "VAXEL_SDK_BENCH_STORE=postgres and no PostgreSQL at {}",
            vaxel_store_postgres::test_support::test_url()
        )
    });
    let mut config = db.config.clone();
    if let Some(pool) = opts.pg_pool {
        config.pool_size = pool;
    }
    let sep = if config.url.contains('?') { '&' } else { '?' };
    config.url = format!("{}{sep}application_name={}", config.url, db.schema());
    (db, StoreAt::Postgres(config))
}

/// CPU seconds of the database backends whose application name is `app` (connections
/// of one gateway, or of one cluster's nodes), by pid.
async fn db_cpu(monitor: &tokio_postgres::Client, app: &str, tick: f64) -> Vec<(i32, f64)> {
    let rows = monitor
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("pg_stat_activity");
    rows.iter()
        .filter_map(|r| {
            let pid: i32 = r.get(0);
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some((pid, t / tick))
        })
        .collect()
}

/// CPU seconds between two [`db_cpu`] samples (a backend that appeared started at 0).
fn db_cpu_delta(before: &[(i32, f64)], after: &[(i32, f64)]) -> f64 {
    after
        .iter()
        .map(|(pid, t)| {
            t - before
                .iter()
                .find(|(p, _)| p == pid)
                .map(|(_, t)| *t)
                .unwrap_or(0.0)
        })
        .sum()
}

fn app_name(store: &StoreAt) -> Option<&str> {
    match store {
        StoreAt::Sqlite => None,
        StoreAt::Postgres(pg) => Some(&pg.schema),
    }
}

async fn round(
    opts: &Opts,
    case: Case,
    dir: &Path,
    tick: f64,
    monitor: Option<&tokio_postgres::Client>,
) -> Round {
    let sdk = vaxel::sdk_pki::paths(&vaxel::certs::DemoPki {
        dir: opts.dir.join("pki"),
    });
    // Declared before the gateways, so that the schemas are dropped after the gateways
    // were stopped.
    let (_dbs, region_store, municipality_store) = if opts.postgres {
        let (region_db, region_store) = pg_store(opts, "vx_sdkbench_region").await;
        let (muni_db, muni_store) = pg_store(opts, "vx_sdkbench_muni").await;
        (vec![region_db, muni_db], region_store, muni_store)
    } else {
        (Vec::new(), StoreAt::Sqlite, StoreAt::Sqlite)
    };
    let ports = ports(opts.sender_nodes);
    let book = address_book(&sdk, &ports);
    let municipality = start_gateway(
        opts,
        &MUNICIPALITY,
        ports.municipality,
        &book,
        &dir.join("municipality"),
        &municipality_store,
    );
    let regions: Vec<Gateway> = ports
        .region
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            // The first node keeps the folder name of the one-node bench.
            let folder = if i == 0 {
                "region".to_string()
            } else {
                format!("region-{}", i + 1)
            };
            start_gateway(opts, &REGION, p, &book, &dir.join(folder), &region_store)
        })
        .collect();
    let region = &regions[0];
    let rss_idle = (peak_rss_mib(region.pid()), peak_rss_mib(municipality.pid()));
    let client = system_client(&sdk, &REGION, opts.concurrency);
    let admin = reqwest::Client::new();
    let urls: Vec<String> = regions
        .iter()
        .map(|r| format!("https://127.0.0.1:{}/sdk/v1/messages", r.port))
        .collect();
    let template = Arc::new(Template::new(case.attachment));

    // Warm-up: TLS connections (system → region with C connections, region →
    // municipality), caches, the stores' first pages.
    submit_all(
        &client,
        &urls,
        template.clone(),
        WARMUP,
        opts.concurrency.min(WARMUP),
    )
    .await;
    // On a shared store one node's counts cover every node's messages.
    wait_delivered(&admin, region, WARMUP as u64, Duration::from_secs(60)).await;

    let me = std::process::id();
    let region_cpu =
        |tick| -> Vec<f64> { regions.iter().map(|r| cpu_seconds(r.pid(), tick)).collect() };
    let (r0, m0, c0) = (
        region_cpu(tick),
        cpu_seconds(municipality.pid(), tick),
        cpu_seconds(me, tick),
    );
    let apps = (app_name(&region_store), app_name(&municipality_store));
    let db0 = match (monitor, apps) {
        (Some(m), (Some(r), Some(mu))) => {
            Some((db_cpu(m, r, tick).await, db_cpu(m, mu, tick).await))
        }
        _ => None,
    };
    let started = Instant::now();
    let submitting = {
        let client = client.clone();
        let urls = urls.clone();
        let template = template.clone();
        let (n, c) = (case.n, opts.concurrency);
        tokio::spawn(async move {
            let lat = submit_all(&client, &urls, template, n, c).await;
            (lat, Instant::now())
        })
    };
    wait_delivered(
        &admin,
        region,
        (WARMUP + case.n) as u64,
        Duration::from_secs(600),
    )
    .await;
    let elapsed = started.elapsed();
    let (r1, m1, c1) = (
        region_cpu(tick),
        cpu_seconds(municipality.pid(), tick),
        cpu_seconds(me, tick),
    );
    let db1 = match (monitor, apps) {
        (Some(m), (Some(r), Some(mu))) => {
            Some((db_cpu(m, r, tick).await, db_cpu(m, mu, tick).await))
        }
        _ => None,
    };
    let (mut lat, submitted_at) = submitting.await.expect("submitters");
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;

    // What the systems see: the municipality holds every message once in its inbox, and a
    // submitted message's status is delivered with an accepted receipt.
    let s = status(&admin, &municipality).await;
    assert_eq!(
        count(&s, &["sdk", "inbox", "pending"]),
        (WARMUP + case.n) as u64,
        "municipality inbox: {s}"
    );
    let (id, body) = template.instance();
    let r = client
        .post(&urls[0])
        .body(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 202);
    wait_delivered(
        &admin,
        region,
        (WARMUP + case.n + 1) as u64,
        Duration::from_secs(60),
    )
    .await;
    // Asked of the last node: on a shared store any node answers for every node.
    let last = &regions[regions.len() - 1];
    let st: Value = client
        .get(format!(
            "https://127.0.0.1:{}/sdk/v1/messages/{id}",
            last.port
        ))
        .send()
        .await
        .expect("status")
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
        .expect("status body");
    assert_eq!(st["state"], "delivered", "{st}");
    assert_eq!(st["receipt"]["accepted"], true, "{st}");
    for r in &regions[1..] {
        let s = status(&admin, r).await;
        assert_eq!(
            count(&s, &["sdk", "outgoing", "delivered"]),
            (WARMUP + case.n + 1) as u64,
            "another node's /status does not show the shared store's count: {s}"
        );
    }
    // Which node delivered how many (each logs one line per delivered message).
    let delivered_by_node = regions
        .iter()
        .map(|r| {
            String::from_utf8_lossy(&std::fs::read(&r.log).unwrap_or_default())
                .matches("SDK message delivered")
                .count()
        })
        .collect();

    let n = case.n as f64;
    let cpu_ms_region_nodes: Vec<f64> =
        r1.iter().zip(&r0).map(|(b, a)| (b - a) * 1e3 / n).collect();
    Round {
        msgs_per_s: n / elapsed.as_secs_f64(),
        cpu_ms_region: cpu_ms_region_nodes.iter().sum(),
        cpu_ms_region_nodes,
        delivered_by_node,
        db_cpu_ms: db0.zip(db1).map(|((ra, ma), (rb, mb))| {
            (
                db_cpu_delta(&ra, &rb) * 1e3 / n,
                db_cpu_delta(&ma, &mb) * 1e3 / n,
            )
        }),
        submit_per_s: n / submitted_at.duration_since(started).as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu_ms_municipality: (m1 - m0) * 1e3 / n,
        cpu_ms_client: (c1 - c0) * 1e3 / n,
        rss_region: regions
            .iter()
            .map(|r| peak_rss_mib(r.pid()))
            .fold(0.0, f64::max),
        rss_municipality: peak_rss_mib(municipality.pid()),
        rss_idle,
        submitted_bytes: template.document.len(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// Medians of one case, for the table and the cost split.
struct Summary {
    case: Case,
    bytes: usize,
    msgs_per_s: f64,
    cpu_region: f64,
    cpu_municipality: f64,
}

fn summarise(case: Case, c: usize, rounds: &[Round]) -> Summary {
    let col = |f: fn(&Round) -> f64| rounds.iter().map(f).collect::<Vec<_>>();
    let rate = col(|r| r.msgs_per_s);
    let (lo, hi) = range(&rate);
    let s = Summary {
        case,
        bytes: rounds[0].submitted_bytes,
        msgs_per_s: median(rate.clone()),
        cpu_region: median(col(|r| r.cpu_ms_region)),
        cpu_municipality: median(col(|r| r.cpu_ms_municipality)),
    };
    println!(
        "| {} ({} B submitted) | {} | {} | {:.0} ({:.0}–{:.0}) | {:.0} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} | {:.0} / {:.0} |",
        case.name,
        s.bytes,
        case.n,
        c,
        s.msgs_per_s,
        lo,
        hi,
        median(col(|r| r.submit_per_s)),
        median(col(|r| r.p50_ms)),
        median(col(|r| r.p99_ms)),
        s.cpu_region,
        s.cpu_municipality,
        median(col(|r| r.cpu_ms_client)),
        median(col(|r| r.rss_region)),
        median(col(|r| r.rss_municipality)),
    );
    s
}

/// The store's share (PostgreSQL, several sender nodes): medians of the gateways' and
/// the database backends' CPU per message, and how the region's nodes shared the work.
fn store_table(opts: &Opts, results: &[(Case, Vec<Round>)]) {
    println!(
        "\n| size | store | region nodes | msgs/s | CPU ms/msg sender (all nodes) / receiver | database CPU ms/msg sender / receiver | gateways + database CPU ms/msg | delivered per node (last round) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (case, rounds) in results {
        let col = |f: &dyn Fn(&Round) -> Option<f64>| -> Option<f64> {
            let v: Vec<f64> = rounds.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| median(v))
        };
        let f2 = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
        let (sender, receiver) = (
            col(&|r| Some(r.cpu_ms_region)),
            col(&|r| Some(r.cpu_ms_municipality)),
        );
        let (db_s, db_r) = (
            col(&|r| r.db_cpu_ms.map(|d| d.0)),
            col(&|r| r.db_cpu_ms.map(|d| d.1)),
        );
        let total = col(&|r| {
            r.db_cpu_ms
                .map(|d| r.cpu_ms_region + r.cpu_ms_municipality + d.0 + d.1)
        });
        println!(
            "| {} | {} | {} | {:.0} | {} / {} | {} / {} | {} | {} |",
            case.name,
            if opts.postgres { "postgres" } else { "sqlite" },
            opts.sender_nodes,
            median(rounds.iter().map(|r| r.msgs_per_s).collect()),
            f2(sender),
            f2(receiver),
            f2(db_s),
            f2(db_r),
            f2(total),
            rounds
                .last()
                .map(|r| {
                    r.delivered_by_node
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .unwrap_or_default()
        );
    }
}

/// `encrypt+sign` and `verify+decrypt` ms per payload size from the `xmlsec_profile`
/// timing test's lines (`payload N B, envelope M B: encrypt+sign 1.23ms, verify+decrypt 4.56ms`).
fn parse_xmlsec(text: &str) -> Vec<(f64, f64, f64)> {
    fn ms(s: &str) -> Option<f64> {
        let s = s.trim().trim_end_matches(',');
        if let Some(v) = s.strip_suffix("ms") {
            v.parse().ok()
        } else if let Some(v) = s.strip_suffix("µs") {
            v.parse::<f64>().ok().map(|v| v / 1e3)
        } else if let Some(v) = s.strip_suffix('s') {
            v.parse::<f64>().ok().map(|v| v * 1e3)
        } else {
            None
        }
    }
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("payload")?;
            let (size, rest) = rest.split_once("B,")?;
            let (_, rest) = rest.split_once("encrypt+sign")?;
            let (seal, open) = rest.split_once(", verify+decrypt")?;
            Some((size.trim().parse().ok()?, ms(seal)?, ms(open)?))
        })
        .collect()
}

/// Rates (per second) from the `sdk_write_rate` test: submit, claim+receipt, inbox insert.
fn parse_store(text: &str) -> Option<(f64, f64, f64, Option<f64>)> {
    let rate = |key: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|r| r.trim().trim_end_matches("/s").parse().ok())
    };
    let cpu = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("cpu_s="))
        .and_then(|v| v.trim().parse().ok());
    Some((
        rate("sdk_submit:")?,
        rate("claim (64) + sdk_record_receipt:")?,
        rate("sdk_inbox_insert:")?,
        cpu,
    ))
}

fn cost_split(profile: &Path, summaries: &[Summary]) {
    let xmlsec = std::fs::read_to_string(profile.join("xmlsec.txt")).unwrap_or_default();
    let store = std::fs::read_to_string(profile.join("store.txt")).unwrap_or_default();
    let points = parse_xmlsec(&xmlsec);
    let Some((submit, deliver, insert, store_cpu)) = parse_store(&store) else {
        println!(
            "(no sdk_write_rate figures in {}: no cost split)",
            profile.display()
        );
        return;
    };
    if points.len() < 2 {
        println!(
            "(no xmlsec_profile figures in {}: no cost split)",
            profile.display()
        );
        return;
    }
    // Crypto cost as a + b·bytes through the two measured payload sizes: at 10 KB the
    // RSA operations dominate, at 1 MB the bytes (C14N, SHA-256, AES, base64).
    let (s0, e0, d0) = points[0];
    let (s1, e1, d1) = points[points.len() - 1];
    let at = |y0: f64, y1: f64, x: f64| y0 + (y1 - y0) * (x - s0) / (s1 - s0);
    println!("\nxmlsec_profile: {points:?} (payload B, encrypt+sign ms, verify+decrypt ms)");
    println!(
        "sdk_write_rate (4 KB envelopes, 16 writers): submit {submit:.0}/s, claim+receipt {deliver:.0}/s, inbox insert {insert:.0}/s{}",
        store_cpu
            .map(|c| format!(", test process CPU {c:.2} s for 3 × 2000 writes"))
            .unwrap_or_default()
    );
    // Storage per message as the store test saw it: wall time per durable write (mostly
    // fsync waits, shared by concurrent writers), and, when known, CPU per write.
    let store_ms_sender = 1e3 / submit + 1e3 / deliver;
    let store_ms_receiver = 1e3 / insert;
    let store_cpu_per_write = store_cpu.map(|c| c * 1e3 / 6000.0);
    println!("\n| size | side | CPU ms/msg (e2e) | crypto ms | storage ms (wall per durable write; CPU) | rest (CPU − crypto − storage CPU) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for s in summaries {
        // The payload the gateways encrypt: the submitted XML less the header, ≈ its size.
        let x = s.bytes as f64;
        for (side, cpu, crypto, st_wall, writes) in [
            (
                "sender (region)",
                s.cpu_region,
                at(e0, e1, x),
                store_ms_sender,
                2.0,
            ),
            (
                "receiver (municipality)",
                s.cpu_municipality,
                at(d0, d1, x),
                store_ms_receiver,
                1.0,
            ),
        ] {
            let st_cpu = store_cpu_per_write.map(|w| w * writes);
            println!(
                "| {} | {side} | {cpu:.2} | {crypto:.2} | {st_wall:.2}; {} | {:.2} |",
                s.case.name,
                st_cpu
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(|| "?".into()),
                cpu - crypto - st_cpu.unwrap_or(0.0),
            );
        }
        let limit = 2000.0 / (s.cpu_region + s.cpu_municipality);
        println!(
            "|  {} | both gateways | {:.2} | | | CPU bound: 2 cores ÷ both gateways' CPU = {:.0} msgs/s (measured {:.0}) |",
            s.case.name,
            s.cpu_region + s.cpu_municipality,
            limit,
            s.msgs_per_s
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: run small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("VAXEL_SDK_BENCH_DIR")
        .map(PathBuf::from)
        .map(|d| {
            std::fs::create_dir_all(&d).expect("VAXEL_SDK_BENCH_DIR");
            tempfile::tempdir_in(d).expect("tempdir").keep()
        })
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let small = Case {
        name: "10 KB",
        attachment: 10 * 1024,
        n: env_or("VAXEL_SDK_BENCH_N_SMALL", if quick { 50 } else { 2000 }),
    };
    let large = Case {
        name: "1 MB",
        attachment: 1024 * 1024,
        n: env_or("VAXEL_SDK_BENCH_N_LARGE", if quick { 5 } else { 200 }),
    };
    let sizes: String = env_or("VAXEL_SDK_BENCH_SIZES", "small,large".to_string());
    let opts = Opts {
        vaxel: std::env::var_os("VAXEL_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vaxel"))),
        rounds: env_or("VAXEL_SDK_BENCH_ROUNDS", if quick { 1 } else { 3 }),
        threads: env_or("VAXEL_SDK_BENCH_THREADS", 2),
        concurrency: env_or("VAXEL_SDK_BENCH_CONCURRENCY", 16),
        cases: sizes
            .split(',')
            .filter_map(|s| match s.trim() {
                "small" => Some(small),
                "large" => Some(large),
                _ => None,
            })
            .collect(),
        dir,
        profile_dir: std::env::var_os("VAXEL_SDK_BENCH_PROFILE_DIR").map(PathBuf::from),
        postgres: match env_or("VAXEL_SDK_BENCH_STORE", "sqlite".to_string()).as_str() {
            "sqlite" => false,
            "postgres" | "postgresql" => true,
            other => panic!("VAXEL_SDK_BENCH_STORE: `{other}` is not sqlite or postgres"),
        },
        pg_pool: std::env::var("VAXEL_SDK_BENCH_PG_POOL")
            .ok()
            .and_then(|v| v.parse().ok()),
        sender_nodes: env_or("VAXEL_SDK_BENCH_SENDER_NODES", 1usize).max(1),
    };
    assert!(
        opts.sender_nodes == 1 || opts.postgres,
        "VAXEL_SDK_BENCH_SENDER_NODES={} needs VAXEL_SDK_BENCH_STORE=postgres (nodes share one database)",
        opts.sender_nodes
    );

    // The demo PKI, SDK certificates under pki/sdk/.
    let out = Command::new(&opts.vaxel)
        .arg("certs")
        .arg("--out")
        .arg(opts.dir.join("pki"))
        .stdout(Stdio::null())
        .output()
        .expect("vaxel certs");
    assert!(
        out.status.success(),
        "vaxel certs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let tick = clock_tick();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "vaxel {} — {} service threads per gateway, {} submitters, {} rounds, stores under {}; load avg {}",
        opts.vaxel.display(),
        opts.threads,
        opts.concurrency,
        opts.rounds,
        opts.dir.display(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // PostgreSQL: a connection that reads pg_stat_activity (database CPU per gateway).
    let monitor = opts.postgres.then(|| {
        rt.block_on(async {
            let mut c: tokio_postgres::Config = vaxel_store_postgres::test_support::test_url()
                .parse()
                .expect("VAXEL_TEST_POSTGRES_URL");
            c.application_name("vaxel_sdk_bench_monitor");
            let (client, conn) = c
                .connect(tokio_postgres::NoTls)
                .await
                .expect("a monitoring connection to the test server");
            tokio::spawn(conn);
            client
        })
    });
    if opts.postgres || opts.sender_nodes > 1 {
        println!(
            "stores on PostgreSQL ({}, a fresh schema per gateway per round, pool_size {}); the region as {} node(s) on one schema",
            vaxel_store_postgres::test_support::test_url(),
            opts.pg_pool
                .map(|p| p.to_string())
                .unwrap_or_else(|| "default".into()),
            opts.sender_nodes
        );
    }
    let mut results = Vec::new();
    for &case in &opts.cases {
        let mut rounds = Vec::new();
        for i in 0..opts.rounds {
            let d = opts.dir.join(format!("{}-{i}", case.attachment));
            let r = rt.block_on(round(&opts, case, &d, tick, monitor.as_ref()));
            println!(
                "  {} round {}: {:.0} msgs/s end to end, submits {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, CPU ms/msg region {:.2} municipality {:.2} client {:.2}, peak RSS {:.0} / {:.0} MiB (after start-up {:.0} / {:.0})",
                case.name,
                i + 1,
                r.msgs_per_s,
                r.submit_per_s,
                r.p50_ms,
                r.p99_ms,
                r.cpu_ms_region,
                r.cpu_ms_municipality,
                r.cpu_ms_client,
                r.rss_region,
                r.rss_municipality,
                r.rss_idle.0,
                r.rss_idle.1
            );
            if opts.sender_nodes > 1 || r.db_cpu_ms.is_some() {
                println!(
                    "    region nodes: CPU ms/msg {}, delivered {}; database backends CPU ms/msg: region {}, municipality {}",
                    r.cpu_ms_region_nodes
                        .iter()
                        .map(|c| format!("{c:.2}"))
                        .collect::<Vec<_>>()
                        .join(" + "),
                    r.delivered_by_node
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    r.db_cpu_ms
                        .map(|d| format!("{:.2}", d.0))
                        .unwrap_or_else(|| "–".into()),
                    r.db_cpu_ms
                        .map(|d| format!("{:.2}", d.1))
                        .unwrap_or_else(|| "–".into()),
                );
            }
            let _ = std::fs::remove_dir_all(&d);
            rounds.push(r);
        }
        results.push((case, rounds));
    }
    println!("\n| size | N | C | msgs/s median (range) | submits/s | submit p50 / p99 ms | CPU ms/msg sender / receiver | bench client CPU ms/msg | peak RSS sender / receiver MiB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let summaries: Vec<Summary> = results
        .iter()
        .map(|(case, rounds)| summarise(*case, opts.concurrency, rounds))
        .collect();
    if opts.postgres || opts.sender_nodes > 1 {
        store_table(&opts, &results);
    }
    if let Some(profile) = &opts.profile_dir {
        cost_split(profile, &summaries);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload avg at the end {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = std::io::stdout().flush();
}
