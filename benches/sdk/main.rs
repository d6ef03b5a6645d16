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

mod cpu;
mod gateways;
mod load;
mod report;
mod round;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use cpu::clock_tick;
use report::{cost_split, store_table, summarise, Summary};
use round::round;

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
