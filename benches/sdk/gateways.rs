//! The gateway processes: free ports, the address book, each gateway's `vaxel.toml`
//! (its store on SQLite or on a fresh PostgreSQL schema), and starting `vaxel serve`
//! until it answers (killed on drop).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use vaxel::sdk_pki::{SdkOrg, SdkPki, MUNICIPALITY, REGION};
use vaxel_store_postgres::test_support::TestDatabase;

use crate::Opts;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `vaxel serve`, killed on drop.
pub struct Gateway {
    child: Child,
    pub port: u16,
    admin_port: u16,
    pub log: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn status_url(&self) -> String {
        format!("http://127.0.0.1:{}/status", self.admin_port)
    }

    pub fn logs_tail(&self) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
    }
}

/// Ports (service, admin) of every gateway, all different: the region's nodes, then
/// the municipality.
pub struct Ports {
    pub region: Vec<(u16, u16)>,
    pub municipality: (u16, u16),
}

pub fn ports(region_nodes: usize) -> Ports {
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
pub fn address_book(sdk: &SdkPki, ports: &Ports) -> String {
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
pub enum StoreAt {
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

pub fn start_gateway(
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
/// A fresh schema on the test server for one gateway (or one cluster of nodes), with the
/// bench's pool size and an application name that finds its backends in
/// `pg_stat_activity`.
pub async fn pg_store(opts: &Opts, prefix: &str) -> (TestDatabase, StoreAt) {
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
pub fn app_name(store: &StoreAt) -> Option<&str> {
    match store {
        StoreAt::Sqlite => None,
        StoreAt::Postgres(pg) => Some(&pg.schema),
    }
}
