//! Shared helpers of the end-to-end suite: the demo PKI (generated once per test
//! process with `vaxel certs`), the real `vaxel` binary as gateway and as demo producer
//! (each in its own temporary folder, on free loopback ports, killed on drop), a
//! routing-table builder, an in-process recording producer, HTTP clients with client
//! certificates, and assertions on SOAP faults.
//!
//! When a test fails, every gateway and producer it started prints its stderr (the
//! gateway's log) while it is dropped, so the failure shows what the gateway saw.

#![allow(dead_code)] // not every test module uses every helper

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Version};
use serde::Serialize;

/// The binary under test.
pub const VAXEL: &str = env!("CARGO_BIN_EXE_vaxel");

/// Caller ids in the demo PKI (subject SERIALNUMBER, or CN for the CN-only certificate).
pub const CONSUMER_ID: &str = "SE0000000000-DEMOCONSUMER";
pub const OTHER_CONSUMER_ID: &str = "SE0000000000-OTHERCONSUMER";
pub const CN_CONSUMER_ID: &str = "SE0000000000-CNCONSUMER";
/// The gateway's client certificate towards producers.
pub const GATEWAY_CLIENT_ID: &str = "SE0000000000-VAXEL";

/// Contracts (namespace of the first Body child) of the reference samples.
pub const SCHEDULE: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";
pub const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";
pub const CARE_DOC: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";
pub const DIAGNOSIS: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetDiagnosisResponder:2";
pub const PROCESS_NOTIFICATION: &str =
    "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1";

/// The NPÖ samples routed by [`Table::standard`]: (file, contract namespace).
pub const NPO_SAMPLES: [(&str, &str); 8] = [
    ("GetCareDocumentation2.xml", CARE_DOC),
    ("GetDiagnosis2.xml", DIAGNOSIS),
    (
        "GetAlertInformation2.xml",
        "urn:riv:clinicalprocess:healthcond:description:GetAlertInformationResponder:2",
    ),
    (
        "GetLaboratoryOrderOutcome3.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:3",
    ),
    (
        "GetMedicationHistory2.xml",
        "urn:riv:clinicalprocess:activityprescription:actoutcome:GetMedicationHistoryResponder:2",
    ),
    (
        "GetCareContacts2.xml",
        "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2",
    ),
    (
        "GetReferralOutcome3.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetReferralOutcomeResponder:3",
    ),
    (
        "GetImagingOutcome1.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetImagingOutcomeResponder:1",
    ),
];

/// Logical addresses used by the standard table.
pub const CARE_PROVIDER: &str = "SE2321000016-DEMO";
pub const CARE_UNIT: &str = "SE2321000016-DEMO-UNIT1";
pub const PATIENT: &str = "191212121212";

/// Default wait for anything that should happen "at once" but may be slow on a busy
/// 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------
// Reference folder

/// `<workspace>/../shared/reference`, or `None` (after printing why the test skips).
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace().join("..").join("shared").join("reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: reference folder not found at {}", dir.display());
        None
    }
}

/// Reads a reference file, e.g. `riv-ta/vp-requests/Rivta21Request.xml`.
pub fn reference(dir: &Path, rel: &str) -> Vec<u8> {
    let path = dir.join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read reference file {}: {e}", path.display()))
}

/// An NPÖ request template with `${logicalAddress}` and `${patientId1}` filled in.
pub fn npo_request(dir: &Path, file: &str, logical_address: &str) -> Vec<u8> {
    let raw = reference(dir, &format!("riv-ta/npo-requests/{file}"));
    let text = String::from_utf8(raw).expect("NPÖ samples are UTF-8");
    let text = text
        .replace("${logicalAddress}", logical_address)
        .replace("${patientId1}", PATIENT);
    assert!(
        !text.contains("${"),
        "unsubstituted template variable left in {file}"
    );
    text.into_bytes()
}

pub fn workspace() -> PathBuf {
    // The e2e target is declared by the `vaxel` crate in gateway/vaxel.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

// ---------------------------------------------------------------------------------
// Small SOAP messages written by the tests themselves

/// A RIV-TA 2.1 request (LogicalAddress header) for `contract` at `address`.
pub fn rivta21(contract: &str, address: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">{address}</la:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{contract}\"><c:patient>{PATIENT}</c:patient></c:Request></soap:Body>\
</soap:Envelope>\n"
    )
    .into_bytes()
}

/// A RIV-TA 2.0 request (wsa:To header) for `contract` at `address`.
pub fn rivta20(contract: &str, address: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">\
<soap:Header><wsa:To>{address}</wsa:To></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{contract}\"><c:patient>{PATIENT}</c:patient></c:Request></soap:Body>\
</soap:Envelope>\n"
    )
    .into_bytes()
}

/// FNV-1a 64 as the demo producer reports it in `x-demo-body-fnv`.
pub fn fnv_hex(data: &[u8]) -> String {
    format!("{:016x}", vaxel::demo_producer::fnv1a64(data))
}

// ---------------------------------------------------------------------------------
// Demo PKI

/// The demo PKI of this test process.
#[derive(Debug)]
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// `<stem>.pem`, e.g. `cert("consumer2")`.
    pub fn cert(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.pem"))
    }

    /// `<stem>.key`.
    pub fn key(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.key"))
    }

    pub fn ca(&self) -> PathBuf {
        self.cert("ca")
    }

    /// Certificate and key PEM concatenated (what `reqwest::Identity::from_pem` takes).
    pub fn identity_pem(&self, stem: &str) -> Vec<u8> {
        let mut pem = std::fs::read(self.cert(stem)).expect("certificate");
        pem.push(b'\n');
        pem.extend(std::fs::read(self.key(stem)).expect("key"));
        pem
    }
}

/// Generated once per test process with `vaxel certs --out <dir>` (the real command).
/// The folder is in cargo's per-target temporary folder, named after the process id;
/// folders of test processes that are gone are removed on the way.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).expect("CARGO_TARGET_TMPDIR");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("e2e-pki-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = base.join(format!("e2e-pki-{}", std::process::id()));
        let out = Command::new(VAXEL)
            .args(["certs", "--force", "--out"])
            .arg(&dir)
            .output()
            .expect("run vaxel certs");
        assert!(
            out.status.success(),
            "vaxel certs --out {} failed: {}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for stem in [
            "ca",
            "gateway",
            "gateway-client",
            "producer",
            "consumer",
            "consumer2",
            "consumer-cn-only",
            "consumer-noname",
            "consumer-expired",
            "rogue-ca",
            "rogue-consumer",
        ] {
            assert!(
                dir.join(format!("{stem}.pem")).is_file(),
                "{stem}.pem missing"
            );
            assert!(
                dir.join(format!("{stem}.key")).is_file(),
                "{stem}.key missing"
            );
        }
        Pki { dir }
    })
}

// ---------------------------------------------------------------------------------
// Ports and processes

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A child process that is killed (and reaped) on drop; its stderr goes to a file.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr/stdout so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -<signal> <pid>` with the system's kill command.
    pub fn signal(&self, signal: &str) {
        let st = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(200).collect();
            eprintln!(
                "----- {} (pid {}) log, last {} lines -----",
                self.name,
                self.child.id(),
                tail.len()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            eprintln!("----- end of {} log -----", self.name);
        }
    }
}

pub fn tcp_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

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
// Routing table builder (format: specs/routing-table.md, TOML)

#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    contracts: Vec<ContractEntry>,
    routes: Vec<RouteEntry>,
    authorizations: Vec<AuthEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hsa_tree: Vec<HsaEntry>,
}

#[derive(Debug, Clone, Serialize)]
struct ContractEntry {
    namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
struct RouteEntry {
    contract: String,
    logical_address: String,
    rivta_profile: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct AuthEntry {
    consumer: String,
    contract: String,
    logical_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct HsaEntry {
    id: String,
    parent: String,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// The table most tests start from, every producer URL on `producer` (a base URL
    /// such as `https://127.0.0.1:1234`):
    /// - the reference samples' routes (RIVTA21REQUEST, RIVTA20REQUEST,
    ///   local-ping-producer, ProcessNotification at 5565594230);
    /// - the eight NPÖ contracts at SE2321000016-DEMO (its unit UNIT1 via the HSA tree);
    /// - the demo consumer and the CN-only consumer authorised for all of them at `*`.
    pub fn standard(producer: &str) -> Table {
        let mut t = Table::new()
            .route(
                SCHEDULE,
                "RIVTA21REQUEST",
                "RIVTABP21",
                &format!("{producer}/schedule/21"),
            )
            .route(
                SCHEDULE,
                "RIVTA20REQUEST",
                "RIVTABP20",
                &format!("{producer}/schedule/20"),
            )
            .route(
                PING,
                "local-ping-producer",
                "RIVTABP20",
                &format!("{producer}/ping"),
            )
            .route(
                PROCESS_NOTIFICATION,
                "5565594230",
                "RIVTABP21",
                &format!("{producer}/ei/process-notification"),
            )
            .hsa(CARE_PROVIDER, "SE")
            .hsa(CARE_UNIT, CARE_PROVIDER);
        for (file, ns) in NPO_SAMPLES {
            t = t.route(
                ns,
                CARE_PROVIDER,
                "RIVTABP21",
                &format!("{producer}/npo/{file}"),
            );
        }
        let contracts: Vec<String> = t.contracts.iter().map(|c| c.namespace.clone()).collect();
        for ns in contracts {
            t = t
                .authorize(CONSUMER_ID, &ns, "*")
                .authorize(CN_CONSUMER_ID, &ns, "*");
        }
        t
    }

    /// Lists a contract (no-op if listed).
    pub fn contract(mut self, namespace: &str) -> Table {
        if !self.contracts.iter().any(|c| c.namespace == namespace) {
            self.contracts.push(ContractEntry {
                namespace: namespace.to_string(),
                response_timeout_ms: None,
                max_body_bytes: None,
            });
        }
        self
    }

    /// Sets a contract's response timeout (listing the contract if needed).
    pub fn response_timeout(mut self, namespace: &str, ms: u64) -> Table {
        self = self.contract(namespace);
        for c in &mut self.contracts {
            if c.namespace == namespace {
                c.response_timeout_ms = Some(ms);
            }
        }
        self
    }

    /// Sets a contract's largest message (listing the contract if needed).
    pub fn max_body(mut self, namespace: &str, bytes: u64) -> Table {
        self = self.contract(namespace);
        for c in &mut self.contracts {
            if c.namespace == namespace {
                c.max_body_bytes = Some(bytes);
            }
        }
        self
    }

    /// A route valid from 2024-01-01 on.
    pub fn route(self, contract: &str, address: &str, profile: &str, url: &str) -> Table {
        self.route_valid(contract, address, profile, url, Some("2024-01-01"), None)
    }

    pub fn route_valid(
        mut self,
        contract: &str,
        address: &str,
        profile: &str,
        url: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Table {
        self = self.contract(contract);
        self.routes.push(RouteEntry {
            contract: contract.to_string(),
            logical_address: address.to_string(),
            rivta_profile: profile.to_string(),
            url: url.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
        self
    }

    /// A RIV-TA 2.1 route to `url` that the demo consumer may call for exactly `address`.
    pub fn route_for_consumer(self, contract: &str, address: &str, url: &str) -> Table {
        self.route(contract, address, "RIVTABP21", url)
            .authorize(CONSUMER_ID, contract, address)
    }

    /// An authorisation valid from 2024-01-01 on.
    pub fn authorize(self, consumer: &str, contract: &str, address: &str) -> Table {
        self.authorize_valid(consumer, contract, address, Some("2024-01-01"), None)
    }

    pub fn authorize_valid(
        mut self,
        consumer: &str,
        contract: &str,
        address: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Table {
        self = self.contract(contract);
        self.authorizations.push(AuthEntry {
            consumer: consumer.to_string(),
            contract: contract.to_string(),
            logical_address: address.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
        self
    }

    pub fn hsa(mut self, id: &str, parent: &str) -> Table {
        self.hsa_tree.push(HsaEntry {
            id: id.to_string(),
            parent: parent.to_string(),
        });
        self
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("routing table serialises to TOML")
    }
}

// ---------------------------------------------------------------------------------
// Gateway

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
        }
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
            gw_cert = pki.cert("gateway").display().to_string(),
            gw_key = pki.key("gateway").display().to_string(),
            ca = pki.ca().display().to_string(),
            cl_cert = pki.cert("gateway-client").display().to_string(),
            cl_key = pki.key("gateway-client").display().to_string(),
            table = dir.join("tak.toml").display().to_string(),
            trusted = list(&self.trusted_header_addresses),
            allowed = list(&self.original_consumer_allowed),
            extra_sections = self.extra_sections,
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
            let (port, admin_port) = (free_port(), free_port());
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
                if admin_get_status(admin_port, path) == Some(200) && tcp_accepts(port) {
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

// ---------------------------------------------------------------------------------
// Clients

fn admin_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("admin client")
}

/// Which HTTP version a consumer client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// ALPN offers h2 and http/1.1 (the gateway picks h2).
    Negotiate,
    /// HTTP/1.1 only.
    H1,
}

/// A consumer client with the client certificate `<stem>.pem` (None: no certificate),
/// trusting only the demo CA.
pub fn client_with(stem: Option<&str>, http: Http) -> reqwest::Client {
    client_in(pki(), stem, http)
}

/// [`client_with`] for the PKI in another folder (the one `serve --demo` generates).
pub fn client_in(pki: &Pki, stem: Option<&str>, http: Http) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).expect("ca.pem"))
        .expect("ca.pem parses");
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(PATIENCE)
        .pool_max_idle_per_host(4);
    if let Some(stem) = stem {
        let id = reqwest::Identity::from_pem(&pki.identity_pem(stem))
            .unwrap_or_else(|e| panic!("identity {stem}: {e}"));
        b = b.identity(id);
    }
    if http == Http::H1 {
        b = b.http1_only();
    }
    b.build().expect("client")
}

/// The demo consumer (SE0000000000-DEMOCONSUMER), HTTP/2 by ALPN.
pub fn consumer() -> reqwest::Client {
    client_with(Some("consumer"), Http::Negotiate)
}

pub fn client(stem: &str) -> reqwest::Client {
    client_with(Some(stem), Http::Negotiate)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The SOAP faultstring, unescaped.
    pub fn faultstring(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<faultstring>")? + "<faultstring>".len();
        let end = text[start..].find("</faultstring>")? + start;
        Some(
            text[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    }

    /// A one-paragraph description for assertion messages.
    pub fn describe(&self) -> String {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (k, v) in &self.headers {
            names.insert(format!("{k}: {}", v.to_str().unwrap_or("?")));
        }
        let body = if self.body.len() > 2000 {
            format!(
                "{}... ({} bytes)",
                String::from_utf8_lossy(&self.body[..2000]),
                self.body.len()
            )
        } else {
            self.text()
        };
        format!(
            "HTTP {} ({:?}) after {:?}\n{}\n\n{}",
            self.status,
            self.version,
            self.elapsed,
            names.into_iter().collect::<Vec<_>>().join("\n"),
            body
        )
    }
}

/// POSTs `body` as `text/xml` with extra headers; transport errors are returned.
pub async fn try_post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Result<Reply, reqwest::Error> {
    let started = Instant::now();
    let mut req = client
        .post(url)
        .header("content-type", "text/xml; charset=UTF-8")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    Ok(Reply {
        status,
        version,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

/// The same POST as the demo consumer over HTTP/2 (negotiated) and HTTP/1.1.
pub async fn post_each_http(url: &str, body: &[u8]) -> Vec<(Http, Reply)> {
    let mut replies = Vec::new();
    for http in [Http::Negotiate, Http::H1] {
        let r = post(
            &client_with(Some("consumer"), http),
            url,
            body.to_vec(),
            &[],
        )
        .await;
        replies.push((http, r));
    }
    replies
}

/// [`try_post`] that panics (with the error chain) on transport errors.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Reply {
    match try_post(client, url, body, headers).await {
        Ok(r) => r,
        Err(e) => panic!(
            "POST {url} failed without an HTTP response: {}",
            error_chain(&e)
        ),
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

// ---------------------------------------------------------------------------------
// Assertions

/// A gateway fault: HTTP 500, SOAP 1.1 fault, `x-vp-fault-code: <code>`, faultstring
/// `<code> [<instance>] text` with every `needle` in the text, and no producer headers.
pub fn assert_fault(r: &Reply, gw: &Gateway, code: &str, needles: &[&str]) -> String {
    assert_eq!(
        r.status,
        500,
        "expected a {code} fault, got:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-vp-fault-code"),
        Some(code),
        "x-vp-fault-code, response:\n{}",
        r.describe()
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/xml")),
        "a SOAP 1.1 fault is text/xml:\n{}",
        r.describe()
    );
    let text = r.text();
    assert!(
        text.contains("http://schemas.xmlsoap.org/soap/envelope/") && text.contains(":Fault>"),
        "not a SOAP 1.1 fault:\n{}",
        r.describe()
    );
    let fs = r
        .faultstring()
        .unwrap_or_else(|| panic!("no faultstring:\n{}", r.describe()));
    let prefix = format!("{code} [{}] ", gw.instance_id);
    assert!(
        fs.starts_with(&prefix),
        "faultstring {fs:?} should start with {prefix:?}"
    );
    for needle in needles {
        assert!(
            fs.contains(needle),
            "faultstring {fs:?} should mention {needle:?}"
        );
    }
    assert!(
        r.header("x-demo-body-bytes").is_none(),
        "a gateway fault must not come from the producer:\n{}",
        r.describe()
    );
    assert!(
        r.header("x-skltp-correlation-id")
            .is_some_and(|c| !c.is_empty()),
        "faults carry the correlation id:\n{}",
        r.describe()
    );
    fs
}

/// The demo producer answered 200 and received exactly `sent` from the gateway's
/// client certificate.
pub fn assert_forwarded(r: &Reply, sent: &[u8]) {
    assert_eq!(
        r.status,
        200,
        "expected the producer's answer:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-body-bytes"),
        Some(sent.len().to_string().as_str()),
        "body length at the producer:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-body-fnv"),
        Some(fnv_hex(sent).as_str()),
        "the producer must receive the request byte for byte:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-client-cert"),
        Some(GATEWAY_CLIENT_ID),
        "the gateway calls producers with its own client certificate"
    );
    assert!(
        r.text()
            .contains("<ns:producer>vaxel-demo-producer</ns:producer>"),
        "the body is the producer's answer:\n{}",
        r.describe()
    );
}

/// A good request still goes through (the gateway kept serving after bad input).
pub async fn assert_still_serving(gw: &Gateway) {
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&r, &body);
}

/// Polls `f` every 25 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------
// External tools (openssl, curl)

/// Output of an external tool run with a deadline.
#[derive(Debug)]
pub struct ToolRun {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ToolRun {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status.map(|s| s.code()),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// Whether `tool` is installed. Missing tools skip the test locally (with a note) but
/// fail it in CI, where `scripts/install-test-tools.sh` must have installed them.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg(if tool == "openssl" {
            "version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed; CI must run scripts/install-test-tools.sh"
        );
        println!("skipping: {tool} is not installed (scripts/install-test-tools.sh installs it)");
    }
    found
}

/// Runs `program args`, feeding `stdin`, killing it after `timeout`.
pub fn run_tool(program: &str, args: &[String], stdin: &[u8], timeout: Duration) -> ToolRun {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
        // EOF on stdin: curl has its whole body; s_client (run with -ign_eof)
        // keeps reading until the server closes the connection.
        drop(input);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = started + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    ToolRun {
        status,
        stdout,
        stderr,
        elapsed: started.elapsed(),
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
