//! Cluster store benchmark (not a test; benches/cluster/README.md): what the store costs
//! per operation on PostgreSQL and on SQLite, with one node and with two nodes on one
//! database, all in one process and one run, so the figures compare directly.
//!
//! For every round, backend (`sqlite`, `postgres`) and node count (1, 2), on a fresh
//! database (a SQLite file in a temporary folder on disk; a fresh PostgreSQL schema from
//! `TestDatabase`), three phases one after the other, the nodes driven concurrently
//! within a phase and sharing the work (the totals are per configuration, not per node):
//!
//! 1. **EI Update**: `EngagementIndex::handle` with 1000-transaction Updates (the
//!    generator of benches/ei), each node writing disjoint residents, one Update at a
//!    time per node (`_EI_STREAMS`); no subscribers, so no notification outbox writes.
//!    Transactions/s.
//! 2. **Access log**: one `AccessLog` writer per node (queue, writer thread, group
//!    commit), fed by 8 tasks per node with one request (3 entries) per `record` call,
//!    as in benches/access-log phase 2, until every writer has flushed: durable
//!    entries/s over all nodes; then `record_durable` latency (one entry at a time per
//!    node, nodes concurrently); then (untimed) `pdl-verify` checks that the nodes'
//!    entries form one intact chain.
//! 3. **SDK store path**: the store's share of one delivered SDK message: `sdk_submit`,
//!    `sdk_claim_due` (one item), `sdk_inbox_insert`, `sdk_record_receipt`, from 16
//!    workers per node; messages/s. The inbox insert goes to the same database (as if the
//!    cluster also received its own traffic): 4 durable transactions per message.
//!
//! A "node" here is one independently opened `Stores` (its own PostgreSQL pool and
//! LISTEN connection, or its own SQLite connections on the same file) with its own
//! `EngagementIndex` and access log writer thread. Both nodes live in this one process:
//! the contention in the database is real, the client CPU (2 tokio workers, the
//! blocking pool) is shared.
//!
//! CPU per operation: this process's `utime+stime` (`/proc/self/stat`) over each phase;
//! on PostgreSQL also the server's: the backends of this configuration's connections
//! (found by application name in `pg_stat_activity`) and all `postgres` processes
//! (including the WAL writer, checkpointer, autovacuum, and exited children via the
//! postmaster's `cutime+cstime`; other sessions' queries on the same server count too).
//!
//! `cargo bench -p vaxel --bench cluster`; knobs in the README (`VAXEL_CLUSTER_BENCH_*`).
//! Without `--bench` (`cargo test --benches`) one tiny round runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use vaxel_engagement_index::config::EngagementIndexConfig;
use vaxel_engagement_index::xml::UPDATE_NS;
use vaxel_engagement_index::EngagementIndex;
use vaxel_pdl::access_log::{verify, AccessLog, AccessLogEntry, Decision, DecisionReason};
use vaxel_pdl::config::AccessLogConfig;
use vaxel_store::{NewIncoming, NewOutgoing, PostgresConfig, Stores};
use vaxel_store_postgres::test_support::TestDatabase;

// ---------------------------------------------------------------------------------------
// Knobs
// ---------------------------------------------------------------------------------------

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
struct Knobs {
    quick: bool,
    rounds: usize,
    backends: Vec<Backend>,
    nodes: Vec<usize>,
    phases: Vec<String>,
    ei_engagements: usize,
    ei_streams: usize,
    al_entries: u64,
    al_tasks: u64,
    durable_samples: usize,
    verify: bool,
    sdk_messages: usize,
    sdk_workers: usize,
    sdk_envelope: usize,
    pool_size: usize,
    dir: Option<PathBuf>,
}

impl Knobs {
    fn from_env() -> Knobs {
        // `cargo bench` passes `--bench`; `cargo test --benches` does not: run tiny.
        let quick = !std::env::args().any(|a| a == "--bench");
        let list = |name: &str, default: &str| -> Vec<String> {
            env_or(name, default.to_string())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let backends = list("VAXEL_CLUSTER_BENCH_BACKENDS", "sqlite,postgres")
            .iter()
            .filter_map(|b| match b.as_str() {
                "sqlite" => Some(Backend::Sqlite),
                "postgres" | "postgresql" => Some(Backend::Postgres),
                other => {
                    eprintln!("VAXEL_CLUSTER_BENCH_BACKENDS: ignoring unknown `{other}`");
                    None
                }
            })
            .collect();
        let nodes = list("VAXEL_CLUSTER_BENCH_NODES", "1,2")
            .iter()
            .filter_map(|n| n.parse().ok().filter(|n: &usize| *n >= 1))
            .collect();
        Knobs {
            quick,
            rounds: env_or("VAXEL_CLUSTER_BENCH_ROUNDS", if quick { 1 } else { 3 }),
            backends,
            nodes,
            phases: list("VAXEL_CLUSTER_BENCH_PHASES", "ei,al,sdk"),
            ei_engagements: env_or(
                "VAXEL_CLUSTER_BENCH_EI_ENGAGEMENTS",
                if quick { 4_000 } else { 100_000 },
            ),
            ei_streams: env_or("VAXEL_CLUSTER_BENCH_EI_STREAMS", 1usize).max(1),
            al_entries: env_or(
                "VAXEL_CLUSTER_BENCH_AL_ENTRIES",
                if quick { 6_000 } else { 300_000 },
            ),
            al_tasks: env_or("VAXEL_CLUSTER_BENCH_AL_TASKS", 8u64).max(1),
            durable_samples: env_or(
                "VAXEL_CLUSTER_BENCH_DURABLE_SAMPLES",
                if quick { 10 } else { 200 },
            ),
            verify: env_or("VAXEL_CLUSTER_BENCH_VERIFY", 1u8) != 0,
            sdk_messages: env_or(
                "VAXEL_CLUSTER_BENCH_SDK_MESSAGES",
                if quick { 200 } else { 4_000 },
            ),
            sdk_workers: env_or("VAXEL_CLUSTER_BENCH_SDK_WORKERS", 16usize).max(1),
            sdk_envelope: env_or("VAXEL_CLUSTER_BENCH_SDK_ENVELOPE", 16_384usize),
            pool_size: env_or(
                "VAXEL_CLUSTER_BENCH_POOL_SIZE",
                vaxel_store::config::DEFAULT_POOL_SIZE,
            ),
            dir: std::env::var_os("VAXEL_CLUSTER_BENCH_DIR").map(PathBuf::from),
        }
    }

    fn phase(&self, name: &str) -> bool {
        self.phases.iter().any(|p| p == name)
    }
}

// ---------------------------------------------------------------------------------------
// Workloads (generators as in benches/ei and benches/access-log)
// ---------------------------------------------------------------------------------------

/// Transactions per Update.
const BATCH: usize = 1000;
/// Engagements per resident (service domains × source systems).
const PER_RESIDENT: usize = 10;
const DOMAINS: [&str; 2] = [
    "riv:clinicalprocess:healthcond:description",
    "riv:clinicalprocess:activityprescription:actoutcome",
];

fn resident(i: usize) -> String {
    format!("19{:010}", i)
}

/// The Update holding engagements `first..first + BATCH` (residents `first / 10 ..`;
/// batches never share a resident).
fn update(first: usize, owner: &str) -> Bytes {
    let mut s = String::with_capacity(BATCH * 900);
    s.push_str("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:c=\"urn:riv:itintegration:engagementindex:1\"><s:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">");
    s.push_str(owner);
    s.push_str("</LogicalAddress></s:Header><s:Body><u:Update xmlns:u=\"");
    s.push_str(UPDATE_NS);
    s.push_str("\">");
    for n in first..first + BATCH {
        let r = resident(n / PER_RESIDENT);
        let domain = DOMAINS[n % 2];
        let source = n % PER_RESIDENT;
        s.push_str(&format!(
            "<u:engagementTransaction><c:deleteFlag>false</c:deleteFlag><c:engagement>\
<c:registeredResidentIdentification>{r}</c:registeredResidentIdentification>\
<c:serviceDomain>{domain}</c:serviceDomain><c:categorization>voo</c:categorization>\
<c:logicalAddress>SE2321000016-{source:04}</c:logicalAddress>\
<c:businessObjectInstanceIdentifier>NA</c:businessObjectInstanceIdentifier>\
<c:clinicalProcessInterestId>NA</c:clinicalProcessInterestId>\
<c:mostRecentContent>20240101120000</c:mostRecentContent>\
<c:sourceSystem>SE2321000016-SRC{source:04}</c:sourceSystem>\
<c:dataController>SE2321000016-DC</c:dataController></c:engagement></u:engagementTransaction>"
        ));
    }
    s.push_str("</u:Update></s:Body></s:Envelope>");
    Bytes::from(s)
}

/// Entries per request: one per source system that holds data for the patient.
const ENTRIES_PER_REQUEST: u64 = 3;

/// splitmix64: patients and users spread over the key space as in real traffic.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Entry `n`: request `n / 3` by one of 5000 users about one of 1,000,000 patients, one
/// entry per source system, three record ids each (benches/access-log, 485 bytes).
fn entry(n: u64) -> AccessLogEntry {
    let request = n / ENTRIES_PER_REQUEST;
    let r = mix(request);
    AccessLogEntry {
        time: Utc
            .timestamp_millis_opt(1_735_689_600_000 + request as i64)
            .unwrap(),
        correlation_id: format!("6f1c2a9e-4b7d-4c1e-9a55-{request:012x}"),
        user_hsa_id: format!("SE2321000016-{:05}", r % 5000),
        care_unit_hsa_id: format!("SE2321000016-E{:04}", r % 300),
        care_giver_hsa_id: "SE2321000016-1000".to_string(),
        patient_id: format!("19{:010}", (r >> 16) % 1_000_000),
        information_set: "care-documentation".to_string(),
        source_system_hsa_id: format!("SE2321000016-S{:03}", n % ENTRIES_PER_REQUEST),
        record_ids: (1..=3).map(|k| format!("voo-{n:010}-{k}")).collect(),
        decision: Decision::Allowed,
        reason: DecisionReason::Consent,
        emergency_reason: None,
        purpose: "care".to_string(),
    }
}

/// Incompressible bytes (an envelope is ciphertext; PostgreSQL would compress a constant
/// fill in TOAST and look better than it is).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut i = seed;
    while out.len() < len {
        i += 1;
        out.extend_from_slice(&mix(i).to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------
// CPU: this process and the PostgreSQL server
// ---------------------------------------------------------------------------------------

/// From `/proc/<pid>/stat`, times in seconds.
struct ProcStat {
    comm: String,
    ppid: u32,
    /// `utime`.
    user: f64,
    /// `stime` (kernel: system calls, fsync, network).
    sys: f64,
    /// `cutime + cstime`: exited children that were waited for.
    children: f64,
}

fn proc_stat(pid: &str, tick: f64) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // After `(comm) `: state, ppid, ... utime is field 14 of the whole line (index 11
    // here), stime 15, cutime 16, cstime 17.
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(ProcStat {
        comm,
        ppid: f.get(1)?.parse().ok()?,
        user: num(11)? / tick,
        sys: num(12)? / tick,
        children: (num(13)? + num(14)?) / tick,
    })
}

fn clock_tick() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds of every `postgres` process on this machine, plus what the postmaster
/// collected from exited children (backends that ended, autovacuum workers).
fn postgres_cpu_all(tick: f64) -> Option<f64> {
    let mut procs = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(p) = proc_stat(pid, tick).filter(|p| p.comm == "postgres") {
            procs.push((
                pid.parse::<u32>().unwrap_or(0),
                p.ppid,
                p.user + p.sys,
                p.children,
            ));
        }
    }
    if procs.is_empty() {
        return None;
    }
    let pids: std::collections::HashSet<u32> = procs.iter().map(|p| p.0).collect();
    Some(
        procs
            .iter()
            .map(|&(_, ppid, own, children)| {
                // The postmaster (its parent is not a postgres process) reaps the others.
                own + if pids.contains(&ppid) { 0.0 } else { children }
            })
            .sum(),
    )
}

/// Reads CPU time before and after a phase.
struct Probe {
    tick: f64,
    /// A connection for `pg_stat_activity` (PostgreSQL configurations).
    monitor: Option<tokio_postgres::Client>,
}

impl Probe {
    async fn new(knobs: &Knobs) -> Probe {
        let monitor = if knobs.backends.contains(&Backend::Postgres) {
            match vaxel_store_postgres::test_support::test_url().parse::<tokio_postgres::Config>() {
                Ok(mut c) => {
                    c.application_name("vaxel_cluster_bench_monitor");
                    match c.connect(tokio_postgres::NoTls).await {
                        Ok((client, conn)) => {
                            tokio::spawn(conn);
                            Some(client)
                        }
                        Err(e) => {
                            eprintln!("no monitor connection ({e}): no server CPU figures");
                            None
                        }
                    }
                }
                Err(_) => None,
            }
        } else {
            None
        };
        Probe {
            tick: clock_tick(),
            monitor,
        }
    }

    async fn sample(&self, app: Option<&str>) -> Sample {
        let mut ours = HashMap::new();
        let mut pg_all = None;
        if let (Some(client), Some(app)) = (&self.monitor, app) {
            if let Ok(rows) = client
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                    &[&app],
                )
                .await
            {
                for row in rows {
                    let pid: i32 = row.get(0);
                    if let Some(p) = proc_stat(&pid.to_string(), self.tick) {
                        ours.insert(pid, (p.user, p.sys));
                    }
                }
            }
            pg_all = postgres_cpu_all(self.tick);
        }
        Sample {
            process: proc_stat("self", self.tick)
                .map(|p| (p.user, p.sys))
                .unwrap_or((f64::NAN, f64::NAN)),
            ours,
            pg_all,
        }
    }
}

struct Sample {
    /// This process: (user, kernel) seconds.
    process: (f64, f64),
    /// Our backends: pid → (user, kernel) seconds.
    ours: HashMap<i32, (f64, f64)>,
    pg_all: Option<f64>,
}

/// CPU seconds spent during a phase.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    process: f64,
    /// Of which in the kernel.
    process_sys: f64,
    pg_ours: Option<f64>,
    /// Of which in the kernel.
    pg_ours_sys: Option<f64>,
    pg_all: Option<f64>,
}

fn cpu_between(a: &Sample, b: &Sample) -> Cpu {
    // A backend that appeared during the phase started at zero.
    let delta = |which: fn(&(f64, f64)) -> f64| {
        (!b.ours.is_empty()).then(|| {
            b.ours
                .iter()
                .map(|(pid, t)| which(t) - a.ours.get(pid).map(which).unwrap_or(0.0))
                .sum::<f64>()
        })
    };
    Cpu {
        process: (b.process.0 + b.process.1) - (a.process.0 + a.process.1),
        process_sys: b.process.1 - a.process.1,
        pg_ours: delta(|t| t.0 + t.1),
        pg_ours_sys: delta(|t| t.1),
        pg_all: a.pg_all.zip(b.pg_all).map(|(x, y)| y - x),
    }
}

/// `(n % kernel)` of a CPU time.
fn kernel_share(total: Option<f64>, sys: Option<f64>) -> String {
    match (total, sys) {
        (Some(t), Some(s)) if t > 0.0 => format!(" ({:.0} % kernel)", s * 100.0 / t),
        _ => String::new(),
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The file system type of the mount holding `path` (to warn about tmpfs).
fn fs_type(path: &std::path::Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {}", f[2], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, t)| t)
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------
// Databases and nodes
// ---------------------------------------------------------------------------------------

/// One configuration's fresh database.
enum Database {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        /// Dropping it drops the schema.
        _db: Box<TestDatabase>,
        /// The test database's configuration with our pool size and an application
        /// name that finds our backends in `pg_stat_activity`.
        config: PostgresConfig,
    },
}

impl Database {
    async fn create(backend: Backend, knobs: &Knobs) -> Option<Database> {
        match backend {
            Backend::Sqlite => {
                let dir = match &knobs.dir {
                    Some(d) => {
                        std::fs::create_dir_all(d).expect("VAXEL_CLUSTER_BENCH_DIR");
                        tempfile::tempdir_in(d)
                    }
                    None => tempfile::tempdir(),
                }
                .expect("temporary folder");
                let path = dir.path().join("vaxel.db");
                Some(Database::Sqlite { _dir: dir, path })
            }
            Backend::Postgres => {
                let db = TestDatabase::create("vx_clbench").await?;
                let mut config = db.config.clone();
                config.pool_size = knobs.pool_size;
                let sep = if config.url.contains('?') { '&' } else { '?' };
                config.url = format!("{}{sep}application_name={}", config.url, db.schema());
                Some(Database::Postgres {
                    _db: Box::new(db),
                    config,
                })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => format!("{} ({})", path.display(), fs_type(path)),
            Database::Postgres { config, .. } => format!(
                "{} schema {}, pool {} per node",
                config.display_url(),
                config.schema,
                config.pool_size
            ),
        }
    }

    /// The application name of this configuration's connections (PostgreSQL).
    fn app(&self) -> Option<&str> {
        match self {
            Database::Sqlite { .. } => None,
            Database::Postgres { config, .. } => Some(&config.schema),
        }
    }

    /// Open one node's stores (a second call opens a second, independent node).
    async fn open(&self) -> Stores {
        match self {
            Database::Sqlite { path, .. } => vaxel_store_sqlite::open(path).expect("open SQLite"),
            Database::Postgres { config, .. } => vaxel_store_postgres::open(config)
                .await
                .expect("open PostgreSQL"),
        }
    }
}

/// One gateway node's view of the database.
struct Node {
    stores: Stores,
    ei: EngagementIndex,
}

async fn open_nodes(db: &Database, n: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        let stores = db.open().await;
        let ei = EngagementIndex::new(
            stores.engagements.clone(),
            stores.outbox.clone(),
            EngagementIndexConfig::default(),
        );
        nodes.push(Node { stores, ei });
    }
    // Warm each node: a few concurrent reads open pooled connections (and the SQLite
    // files' pages) before anything is timed.
    for node in &nodes {
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let sdk = node.stores.sdk.clone();
            reads.spawn(async move { sdk.sdk_counts().await });
        }
        while let Some(r) = reads.join_next().await {
            r.expect("warm-up task").expect("warm-up read");
        }
    }
    nodes
}

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------

/// One phase's result.
#[derive(Debug, Clone, Default)]
struct Phase {
    ops: u64,
    errors: u64,
    secs: f64,
    cpu: Cpu,
    /// record_durable latency p50 / p99 (access log), ms.
    durable_ms: Option<(f64, f64)>,
    /// A failed check after the phase (the run fails at the end).
    check: Option<String>,
    /// Worth knowing, not a failure: the first store error, retried empty claims.
    note: Option<String>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
}

fn first_error(slot: &std::sync::Mutex<Option<String>>, e: impl std::fmt::Display) {
    let mut s = slot.lock().unwrap();
    if s.is_none() {
        *s = Some(e.to_string());
    }
}

async fn ei_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
    let batches = knobs.ei_engagements.div_ceil(BATCH);
    let n = nodes.len();
    let owner = EngagementIndexConfig::default().owner;
    let errors = Arc::new(AtomicU64::new(0));
    let error_text = Arc::new(std::sync::Mutex::new(None));
    // Warm-up, untimed: one Update per node, residents above the timed ones.
    let mut warm = tokio::task::JoinSet::new();
    for (k, node) in nodes.iter().enumerate() {
        let (ei, owner) = (node.ei.clone(), owner.clone());
        warm.spawn(async move {
            ei.handle(UPDATE_NS, update((batches + k) * BATCH, &owner))
                .await
        });
    }
    while let Some(r) = warm.join_next().await {
        if let Err(e) = r.expect("EI warm-up") {
            errors.fetch_add(1, Ordering::Relaxed);
            first_error(&error_text, e);
        }
    }
    let before = probe.sample(app).await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (k, node) in nodes.iter().enumerate() {
        // Node k takes batches k, k + n, k + 2n, ...: disjoint residents.
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..knobs.ei_streams {
            let (ei, next, owner) = (node.ei.clone(), next.clone(), owner.clone());
            let (errors, error_text) = (errors.clone(), error_text.clone());
            tasks.spawn(async move {
                let mut ok = 0u64;
                loop {
                    let b = k + next.fetch_add(1, Ordering::Relaxed) * n;
                    if b >= batches {
                        return ok;
                    }
                    match ei.handle(UPDATE_NS, update(b * BATCH, &owner)).await {
                        Ok(_) => ok += BATCH as u64,
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error(&error_text, e);
                        }
                    }
                }
            });
        }
    }
    let mut ops = 0;
    while let Some(r) = tasks.join_next().await {
        ops += r.expect("EI stream");
    }
    let secs = started.elapsed().as_secs_f64();
    let after = probe.sample(app).await;
    let note = error_text
        .lock()
        .unwrap()
        .take()
        .map(|e| format!("first Update error: {e}"));
    Phase {
        ops,
        errors: errors.load(Ordering::Relaxed),
        secs,
        cpu: cpu_between(&before, &after),
        durable_ms: None,
        check: None,
        note,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

async fn al_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
    let config = AccessLogConfig::default();
    let n = nodes.len() as u64;
    let logs: Vec<AccessLog> = nodes
        .iter()
        .map(|node| AccessLog::start(node.stores.access_log.clone(), &config))
        .collect();
    // Entry numbers: the timed entries first, then the warm-up and durable samples
    // above them (every entry is distinct).
    let requests_per_task = knobs.al_entries / ENTRIES_PER_REQUEST / n / knobs.al_tasks;
    let total = requests_per_task * ENTRIES_PER_REQUEST * n * knobs.al_tasks;
    let mut extra = total;
    // Warm-up: each writer reads the head and commits once (connections, statements).
    for log in &logs {
        log.record_durable(vec![entry(extra)])
            .await
            .expect("warm-up entry");
        extra += ENTRIES_PER_REQUEST;
    }

    let before = probe.sample(app).await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (k, log) in logs.iter().enumerate() {
        for t in 0..knobs.al_tasks {
            let log = log.clone();
            let first_request = (k as u64 * knobs.al_tasks + t) * requests_per_task;
            tasks.spawn(async move {
                for i in 0..requests_per_task {
                    let first = (first_request + i) * ENTRIES_PER_REQUEST;
                    log.record((first..first + ENTRIES_PER_REQUEST).map(entry).collect())
                        .await;
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("recording task");
    }
    // Durable: every writer has committed everything (flush blocks: off the runtime).
    let mut flushes = tokio::task::JoinSet::new();
    for log in &logs {
        let log = log.clone();
        flushes.spawn_blocking(move || log.flush_blocking());
    }
    while let Some(r) = flushes.join_next().await {
        r.expect("flush task").expect("flush");
    }
    let secs = started.elapsed().as_secs_f64();
    let after = probe.sample(app).await;

    // record_durable latency: one entry at a time per node, the nodes concurrently.
    let mut samplers = tokio::task::JoinSet::new();
    for log in &logs {
        let log = log.clone();
        let samples = knobs.durable_samples;
        let first = extra;
        extra += samples as u64 * ENTRIES_PER_REQUEST;
        samplers.spawn(async move {
            let mut lat = Vec::with_capacity(samples);
            for i in 0..samples as u64 {
                let mut e = entry(first + i * ENTRIES_PER_REQUEST);
                e.decision = Decision::Emergency;
                e.reason = DecisionReason::Emergency;
                e.emergency_reason = Some("patient unconscious, no consent possible".into());
                let t = Instant::now();
                log.record_durable(vec![e]).await.expect("record_durable");
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = samplers.join_next().await {
        lat.extend(r.expect("durable sampler"));
    }
    lat.sort_unstable();
    let durable_ms = (!lat.is_empty()).then(|| (percentile(&lat, 0.5), percentile(&lat, 0.99)));
    for log in &logs {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.shutdown())
            .await
            .expect("shutdown");
    }
    let written: u64 = logs.iter().map(|l| l.stats().written).sum();
    let write_errors: u64 = logs.iter().map(|l| l.stats().write_errors).sum();

    // Untimed: one chain over every node's entries.
    let expected = total + n + (knobs.durable_samples as u64) * n;
    let mut check = None;
    if written != expected {
        check = Some(format!("writers committed {written}, expected {expected}"));
    }
    if knobs.verify && check.is_none() {
        match verify(nodes[0].stores.access_log.as_ref()).await {
            Ok(r) if r.is_intact() && r.entries == expected => {}
            Ok(r) => {
                check = Some(format!(
                    "pdl-verify: {} entries intact of {expected}, first break {:?}",
                    r.entries, r.first_broken
                ))
            }
            Err(e) => check = Some(format!("pdl-verify failed: {e}")),
        }
    }
    Phase {
        ops: total,
        errors: write_errors,
        secs,
        cpu: cpu_between(&before, &after),
        durable_ms,
        check,
        note: None,
    }
}

fn new_outgoing(id: String, envelope: Vec<u8>, now: SystemTime) -> NewOutgoing {
    NewOutgoing {
        conversation_id: id.clone(),
        message_id: id,
        ref_to_message_id: None,
        sender: "SE2321000016-REGION".into(),
        recipient: "SE2120000001-KOMMUN".into(),
        submitted_by: "journal-system-1".into(),
        endpoint: "https://sdk.kommun.example/sdk/v1/deliveries".into(),
        envelope,
        created: now,
    }
}

const RECEIPT: &[u8] = b"<Receipt xmlns=\"urn:sdk:receipt\"><Code>OK</Code></Receipt>";

/// What a set of SDK workers did.
#[derive(Debug, Default)]
struct SdkTally {
    ok: u64,
    errors: u64,
    /// Claims that found nothing due and were retried.
    empty_claims: u64,
    first_error: Option<String>,
}

/// `per_node` messages through the store path on every node, `sdk_workers` workers per
/// node; message ids start with `tag`.
async fn sdk_messages(
    nodes: &[Node],
    knobs: &Knobs,
    envelope: &Arc<Vec<u8>>,
    tag: &str,
    per_node: usize,
) -> SdkTally {
    let mut tasks = tokio::task::JoinSet::new();
    for (k, node) in nodes.iter().enumerate() {
        for w in 0..knobs.sdk_workers {
            let store = node.stores.sdk.clone();
            let envelope = envelope.clone();
            let workers = knobs.sdk_workers;
            let tag = tag.to_string();
            tasks.spawn(async move {
                let mut t = SdkTally::default();
                let fail = |t: &mut SdkTally, e: vaxel_store::StoreError| {
                    t.errors += 1;
                    t.first_error.get_or_insert_with(|| e.to_string());
                };
                for i in (w..per_node).step_by(workers) {
                    // The sending gateway stores the submitted message...
                    let id = format!("{tag}-{k}-{i:08}");
                    let now = SystemTime::now();
                    if let Err(e) = store
                        .sdk_submit(new_outgoing(id, envelope.to_vec(), now))
                        .await
                    {
                        fail(&mut t, e);
                        continue;
                    }
                    // ...its delivery loop claims a due one (any node's)...
                    let item = loop {
                        let now = SystemTime::now();
                        match store
                            .sdk_claim_due(now, now + Duration::from_secs(60), 1)
                            .await
                        {
                            Ok(mut items) if !items.is_empty() => break Some(items.remove(0)),
                            Ok(_) => {
                                t.empty_claims += 1;
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            Err(e) => {
                                fail(&mut t, e);
                                break None;
                            }
                        }
                    };
                    let Some(item) = item else { continue };
                    // ...the receiving gateway stores it in its inbox and answers a
                    // receipt, which the sender records.
                    let now = SystemTime::now();
                    let incoming = NewIncoming {
                        message_id: item.message_id.clone(),
                        conversation_id: item.message_id.clone(),
                        sender: item.sender.clone(),
                        recipient: item.recipient.clone(),
                        delivered_by: "vaxel-region".into(),
                        envelope: item.envelope,
                        receipt: RECEIPT.to_vec(),
                        received: now,
                    };
                    if let Err(e) = store.sdk_inbox_insert(incoming).await {
                        fail(&mut t, e);
                        continue;
                    }
                    match store
                        .sdk_record_receipt(&item.message_id, true, "OK", RECEIPT.to_vec(), now)
                        .await
                    {
                        Ok(()) => t.ok += 1,
                        Err(e) => fail(&mut t, e),
                    }
                }
                t
            });
        }
    }
    let mut all = SdkTally::default();
    while let Some(r) = tasks.join_next().await {
        let t = r.expect("SDK worker");
        all.ok += t.ok;
        all.errors += t.errors;
        all.empty_claims += t.empty_claims;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    all
}

async fn sdk_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
    let per_node = knobs.sdk_messages / nodes.len();
    let envelope = Arc::new(random_bytes(knobs.sdk_envelope, 42));
    // Warm-up, untimed: two messages per worker (every pooled connection opened and its
    // statements prepared).
    let warm = sdk_messages(nodes, knobs, &envelope, "warm", 2 * knobs.sdk_workers).await;
    let before = probe.sample(app).await;
    let started = Instant::now();
    let t = sdk_messages(nodes, knobs, &envelope, "bench", per_node).await;
    let secs = started.elapsed().as_secs_f64();
    let after = probe.sample(app).await;

    // Untimed: every message delivered once and in the inbox once.
    let counts = nodes[0].stores.sdk.sdk_counts().await.expect("sdk_counts");
    let (pending, _) = nodes[0]
        .stores
        .sdk
        .sdk_inbox_counts()
        .await
        .expect("sdk_inbox_counts");
    let done = warm.ok + t.ok;
    let check = (counts.delivered != done || pending != done).then(|| {
        format!(
            "{done} messages done, store counts delivered {} inbox {pending}",
            counts.delivered
        )
    });
    let mut notes = Vec::new();
    if let Some(e) = t.first_error.or(warm.first_error) {
        notes.push(format!("first SDK store error: {e}"));
    }
    if t.empty_claims > 0 {
        notes.push(format!(
            "{} claims found nothing due (retried after 1 ms)",
            t.empty_claims
        ));
    }
    Phase {
        ops: t.ok,
        errors: t.errors + warm.errors,
        secs,
        cpu: cpu_between(&before, &after),
        durable_ms: None,
        check,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

// ---------------------------------------------------------------------------------------
// Runs and the report
// ---------------------------------------------------------------------------------------

/// One configuration's results in one round.
#[derive(Debug, Clone, Default)]
struct Run {
    ei: Option<Phase>,
    al: Option<Phase>,
    sdk: Option<Phase>,
}

async fn configuration(
    backend: Backend,
    nodes: usize,
    knobs: &Knobs,
    probe: &Probe,
) -> Option<Run> {
    let db = Database::create(backend, knobs).await?;
    let load_before = load();
    let node_set = open_nodes(&db, nodes).await;
    let app = db.app();
    println!(
        "  {} × {nodes} node(s): {}; load avg {load_before}",
        backend.name(),
        db.describe()
    );
    let mut run = Run::default();
    if knobs.phase("ei") {
        let p = ei_phase(&node_set, knobs, probe, app).await;
        print_phase("EI Update", "transactions", &p);
        run.ei = Some(p);
    }
    if knobs.phase("al") {
        let p = al_phase(&node_set, knobs, probe, app).await;
        print_phase("access log", "entries", &p);
        run.al = Some(p);
    }
    if knobs.phase("sdk") {
        let p = sdk_phase(&node_set, knobs, probe, app).await;
        print_phase("SDK store path", "messages", &p);
        run.sdk = Some(p);
    }
    println!("    load avg after {}", load());
    drop(node_set);
    // Let the PostgreSQL pools close their connections before the schema is dropped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(db);
    Some(run)
}

fn us_per_op(cpu_s: Option<f64>, ops: u64) -> String {
    match cpu_s {
        Some(c) if ops > 0 => format!("{:.1}", c * 1e6 / ops as f64),
        _ => "–".into(),
    }
}

fn print_phase(what: &str, unit: &str, p: &Phase) {
    println!(
        "    {what}: {} {unit} in {:.2} s = {:.0} {unit}/s{}; CPU µs per op: process {}{}, PG backends {}{}, PG all {}{}{}",
        p.ops,
        p.secs,
        p.rate(),
        if p.errors > 0 {
            format!(" ({} errors)", p.errors)
        } else {
            String::new()
        },
        us_per_op(Some(p.cpu.process), p.ops),
        kernel_share(Some(p.cpu.process), Some(p.cpu.process_sys)),
        us_per_op(p.cpu.pg_ours, p.ops),
        kernel_share(p.cpu.pg_ours, p.cpu.pg_ours_sys),
        us_per_op(p.cpu.pg_all, p.ops),
        p.durable_ms
            .map(|(a, b)| format!("; record_durable p50 {a:.2} ms, p99 {b:.2} ms"))
            .unwrap_or_default(),
        p.check
            .as_ref()
            .map(|c| format!("\n      CHECK FAILED: {c}"))
            .unwrap_or_default()
            + &p.note
                .as_ref()
                .map(|c| format!("\n      note: {c}"))
                .unwrap_or_default(),
    );
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Medians of one phase over the rounds.
struct Summary {
    rate: Option<f64>,
    lo: f64,
    hi: f64,
    process_us: Option<f64>,
    pg_ours_us: Option<f64>,
    pg_all_us: Option<f64>,
    durable: Option<(f64, f64)>,
    errors: u64,
}

fn summarise(phases: &[&Phase]) -> Summary {
    let per_op = |f: &dyn Fn(&Phase) -> Option<f64>| {
        median(
            phases
                .iter()
                .filter_map(|p| f(p).filter(|_| p.ops > 0).map(|c| c * 1e6 / p.ops as f64))
                .collect(),
        )
    };
    let rates: Vec<f64> = phases.iter().map(|p| p.rate()).collect();
    Summary {
        rate: median(rates.clone()),
        lo: rates.iter().copied().fold(f64::INFINITY, f64::min),
        hi: rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        process_us: per_op(&|p| Some(p.cpu.process)),
        pg_ours_us: per_op(&|p| p.cpu.pg_ours),
        pg_all_us: per_op(&|p| p.cpu.pg_all),
        durable: median(
            phases
                .iter()
                .filter_map(|p| p.durable_ms.map(|d| d.0))
                .collect(),
        )
        .zip(median(
            phases
                .iter()
                .filter_map(|p| p.durable_ms.map(|d| d.1))
                .collect(),
        )),
        errors: phases.iter().map(|p| p.errors).sum(),
    }
}

fn fmt_rate(s: &Summary, rounds: usize) -> String {
    match s.rate {
        None => "–".into(),
        Some(r) if rounds > 1 => format!("{r:.0} ({:.0}–{:.0})", s.lo, s.hi),
        Some(r) => format!("{r:.0}"),
    }
}

fn fmt_cpu(s: &Summary) -> String {
    let f = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into());
    if s.pg_ours_us.is_none() && s.pg_all_us.is_none() {
        f(s.process_us)
    } else {
        format!(
            "{} + {} ({})",
            f(s.process_us),
            f(s.pg_ours_us),
            f(s.pg_all_us)
        )
    }
}

fn report(knobs: &Knobs, results: &HashMap<(Backend, usize), Vec<Run>>) {
    let configs: Vec<(Backend, usize)> = knobs
        .backends
        .iter()
        .flat_map(|&b| knobs.nodes.iter().map(move |&n| (b, n)))
        .filter(|c| results.contains_key(c))
        .collect();
    type Pick = fn(&Run) -> Option<&Phase>;
    let picks: [(&str, Pick); 3] = [
        ("ei", |r| r.ei.as_ref()),
        ("al", |r| r.al.as_ref()),
        ("sdk", |r| r.sdk.as_ref()),
    ];
    let summaries: HashMap<((Backend, usize), &'static str), Summary> = configs
        .iter()
        .flat_map(|c| {
            picks.iter().filter_map(move |(name, pick)| {
                let phases: Vec<&Phase> = results[c].iter().filter_map(pick).collect();
                (!phases.is_empty()).then(|| ((*c, *name), summarise(&phases)))
            })
        })
        .collect();
    let get = |c: (Backend, usize), name: &'static str| summaries.get(&(c, name));
    let rounds = knobs.rounds;

    println!(
        "\n### Throughput ({} round(s){}; EI {} engagements, access log {} entries, SDK {} messages of {} B per configuration)\n",
        rounds,
        if rounds > 1 { ", median (range)" } else { "" },
        knobs.ei_engagements.div_ceil(BATCH) * BATCH,
        knobs.al_entries,
        knobs.sdk_messages,
        knobs.sdk_envelope
    );
    println!("| backend | nodes | EI Update transactions/s | access log durable entries/s | record_durable p50 / p99 ms | SDK store messages/s | errors |");
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: |");
    for &c in &configs {
        let rate = |name: &'static str| {
            get(c, name)
                .map(|s| fmt_rate(s, rounds))
                .unwrap_or_else(|| "–".into())
        };
        let errors: u64 = picks
            .iter()
            .filter_map(|(n, _)| get(c, n))
            .map(|s| s.errors)
            .sum();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.0.name(),
            c.1,
            rate("ei"),
            rate("al"),
            get(c, "al")
                .and_then(|s| s.durable)
                .map(|(a, b)| format!("{a:.2} / {b:.2}"))
                .unwrap_or_else(|| "–".into()),
            rate("sdk"),
            errors
        );
    }

    // How each backend changes from its smallest to its largest node count.
    let (Some(&lo_n), Some(&hi_n)) = (knobs.nodes.iter().min(), knobs.nodes.iter().max()) else {
        return;
    };
    if lo_n != hi_n {
        println!("\n| backend | {hi_n} nodes ÷ {lo_n} node(s): EI | access log | SDK store |");
        println!("| --- | ---: | ---: | ---: |");
        for &b in &knobs.backends {
            let ratio = |name: &'static str| match (
                get((b, hi_n), name).and_then(|s| s.rate),
                get((b, lo_n), name).and_then(|s| s.rate),
            ) {
                (Some(h), Some(l)) if l > 0.0 => format!("{:.2}×", h / l),
                _ => "–".into(),
            };
            if results.contains_key(&(b, lo_n)) && results.contains_key(&(b, hi_n)) {
                println!(
                    "| {} | {} | {} | {} |",
                    b.name(),
                    ratio("ei"),
                    ratio("al"),
                    ratio("sdk")
                );
            }
        }
    }
    if knobs.backends.len() > 1 {
        println!("\n| nodes | postgres ÷ sqlite: EI | access log | SDK store |");
        println!("| ---: | ---: | ---: | ---: |");
        for &n in &knobs.nodes {
            let ratio = |name: &'static str| match (
                get((Backend::Postgres, n), name).and_then(|s| s.rate),
                get((Backend::Sqlite, n), name).and_then(|s| s.rate),
            ) {
                (Some(p), Some(s)) if s > 0.0 => format!("{:.2}×", p / s),
                _ => "–".into(),
            };
            println!(
                "| {n} | {} | {} | {} |",
                ratio("ei"),
                ratio("al"),
                ratio("sdk")
            );
        }
    }

    println!("\n### CPU µs per operation: this process + PostgreSQL backends of these connections (all postgres processes)\n");
    println!("| backend | nodes | per EI transaction | per access-log entry | per SDK message |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for &c in &configs {
        let cpu = |name: &'static str| get(c, name).map(fmt_cpu).unwrap_or_else(|| "–".into());
        println!(
            "| {} | {} | {} | {} | {} |",
            c.0.name(),
            c.1,
            cpu("ei"),
            cpu("al"),
            cpu("sdk")
        );
    }
}

fn main() {
    let knobs = Knobs::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "cluster store bench{}: backends {:?}, nodes {:?}, {} round(s), phases {:?}; EI {} engagements ({} Update stream(s) per node, no subscribers), access log {} entries ({} tasks per node), SDK {} messages ({} workers per node, {} B envelopes); PostgreSQL pool {} per node; {} CPUs; load avg {}",
        if knobs.quick { " (quick: not --bench)" } else { "" },
        knobs.backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
        knobs.nodes,
        knobs.rounds,
        knobs.phases,
        knobs.ei_engagements.div_ceil(BATCH) * BATCH,
        knobs.ei_streams,
        knobs.al_entries,
        knobs.al_tasks,
        knobs.sdk_messages,
        knobs.sdk_workers,
        knobs.sdk_envelope,
        knobs.pool_size,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load()
    );
    let started = Instant::now();
    let results = rt.block_on(async {
        let probe = Probe::new(&knobs).await;
        let mut results: HashMap<(Backend, usize), Vec<Run>> = HashMap::new();
        let mut configs: Vec<(Backend, usize)> = knobs
            .backends
            .iter()
            .flat_map(|&b| knobs.nodes.iter().map(move |&n| (b, n)))
            .collect();
        for round in 0..knobs.rounds {
            println!("round {}", round + 1);
            for &(backend, nodes) in &configs {
                match configuration(backend, nodes, &knobs, &probe).await {
                    Some(run) => results.entry((backend, nodes)).or_default().push(run),
                    None => println!("  {} × {nodes}: skipped (no database)", backend.name()),
                }
            }
            // Alternate the order between rounds, so drift in the machine's load does
            // not always favour the same configuration.
            configs.reverse();
        }
        results
    });
    report(&knobs, &results);
    println!(
        "\n{:.0} s in all; load avg at the end {}",
        started.elapsed().as_secs_f64(),
        load()
    );
    let checks: Vec<String> = results
        .values()
        .flatten()
        .flat_map(|r| [&r.ei, &r.al, &r.sdk])
        .flatten()
        .filter_map(|p| p.check.clone())
        .collect();
    assert!(checks.is_empty(), "checks failed: {checks:#?}");
}
