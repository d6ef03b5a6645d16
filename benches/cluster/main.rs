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

mod access_log;
mod cpu;
mod db;
mod ei;
/// The generators of benches/access-log and benches/ei, shared.
#[path = "../access-log/entries.rs"]
mod entries;
#[path = "../ei/updates.rs"]
mod updates;
use entries::mix;
mod report;
mod sdk_store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use access_log::al_phase;
use cpu::{load, Cpu, Probe};
use db::{open_nodes, Database};
use ei::ei_phase;
use report::{print_phase, report};
use sdk_store::sdk_phase;
use updates::BATCH;

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
// Shared by the phases
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

// ---------------------------------------------------------------------------------------
// Runs
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
