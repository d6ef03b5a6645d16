//! Access log benchmark (not a test): durable append throughput of the hash-chained PDL
//! access log (SQLite, WAL + synchronous=FULL, SHA-256 chain), with realistic entries:
//! requests of 3 entries (one per source system) by one of 5000 users about one of 1M
//! patients spread over the key space, three record ids per entry.
//!
//! 1. store: `append_access_log` in batches of `max_batch` (5000): one transaction and
//!    one fsync per batch, no queue; then the review index filled behind it in batches
//!    of 50,000 (timed separately).
//! 2. writer: 8 async tasks each `record` one request's entries (3) at a time through
//!    `AccessLog` (queue, writer thread, group commit) until all are committed
//!    (`flush_blocking`).
//! 3. record_durable: latency of one durable entry when nothing else is queued (one
//!    commit + fsync each), sequentially.
//!
//! `cargo bench -p vaxel --bench access-log` — entries from `VAXEL_AL_BENCH_ENTRIES`
//! (default 500000), the database in a temporary folder (or `VAXEL_AL_BENCH_DIR`);
//! `VAXEL_AL_BENCH_PRAGMAS` adds PRAGMAs on the writer connection (to compare settings).

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaxel_pdl::access_log::{verify, AccessLog, AccessLogStore, Decision, DecisionReason};
use vaxel_pdl::config::AccessLogConfig;
use vaxel_store_sqlite::SqliteAccessLogStore;

mod entries;
use entries::{entry, ENTRIES_PER_REQUEST};

const TASKS: u64 = 8;
const DURABLE_SAMPLES: usize = 200;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let total: u64 = std::env::var("VAXEL_AL_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("VAXEL_AL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let config = AccessLogConfig::default();
    // Extra PRAGMAs for the writer connection, to compare settings
    // (e.g. "PRAGMA cache_size=-2000; PRAGMA wal_autocheckpoint=10000;").
    let pragmas = std::env::var("VAXEL_AL_BENCH_PRAGMAS").unwrap_or_default();
    if !pragmas.is_empty() {
        println!("writer pragmas: {pragmas}");
    }
    println!(
        "access log bench: {total} entries per phase, max_batch {}, queue_capacity {}, load avg {}",
        config.max_batch,
        config.queue_capacity,
        load()
    );
    println!(
        "canonical entry size: {} bytes",
        entry(123_456).canonical_bytes().len()
    );

    // 1. Store alone.
    let path = dir.join("al-store.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteAccessLogStore::open_with_pragmas(&path, &pragmas).unwrap();
    let direct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let entries: Vec<_> = (0..total).map(entry).collect();
    let start = Instant::now();
    for chunk in entries.chunks(config.max_batch) {
        direct.block_on(store.append_access_log(chunk)).unwrap();
    }
    let took = start.elapsed();
    println!(
        "store append (batches of {}): {total} entries in {:.2?} = {:.0} entries/s durable",
        config.max_batch,
        took,
        total as f64 / took.as_secs_f64()
    );
    // The review index is filled behind the chain (specs/access-log.md 4.5); the
    // writer does this in batches of 50,000. Timed here on its own.
    let start = Instant::now();
    let mut indexed = 0;
    while indexed < total {
        indexed = direct
            .block_on(store.index_access_log(50_000))
            .unwrap()
            .indexed_upto;
    }
    let index_took = start.elapsed();
    println!(
        "review index behind the chain (sorted batches of 50000): {total} entries in {:.2?} = {:.0} entries/s; append + index {:.0} entries/s",
        index_took,
        total as f64 / index_took.as_secs_f64(),
        total as f64 / (took + index_took).as_secs_f64()
    );
    let start = Instant::now();
    let report = direct.block_on(verify(&store)).unwrap();
    assert!(report.is_intact() && report.entries == total);
    let took = start.elapsed();
    println!(
        "pdl-verify: {} entries in {:.2?} = {:.0} entries/s",
        report.entries,
        took,
        report.entries as f64 / took.as_secs_f64()
    );
    drop(store);

    // 2. Through the writer.
    let path = dir.join("al-writer.db");
    let _ = std::fs::remove_file(&path);
    let store: Arc<dyn AccessLogStore> =
        Arc::new(SqliteAccessLogStore::open_with_pragmas(&path, &pragmas).unwrap());
    let log = AccessLog::start(store.clone(), &config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let requests_per_task = total / ENTRIES_PER_REQUEST / TASKS;
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..requests_per_task {
                    let first = (t * requests_per_task + i) * ENTRIES_PER_REQUEST;
                    log.record((first..first + ENTRIES_PER_REQUEST).map(entry).collect())
                        .await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let queued = start.elapsed();
    log.flush_blocking().unwrap();
    let took = start.elapsed();
    let stats = log.stats();
    println!(
        "writer (record from {TASKS} tasks, one request = {ENTRIES_PER_REQUEST} entries per call): {} entries queued in {:.2?}, durable in {:.2?} = {:.0} entries/s durable; {} commits, largest {}, backpressure waits {}",
        stats.written,
        queued,
        took,
        stats.written as f64 / took.as_secs_f64(),
        stats.batches,
        stats.largest_batch,
        stats.backpressure_waits
    );

    // 3. record_durable latency, nothing else queued.
    let mut samples = Vec::with_capacity(DURABLE_SAMPLES);
    rt.block_on(async {
        for i in 0..DURABLE_SAMPLES as u64 {
            let mut e = entry(total + i);
            e.decision = Decision::Emergency;
            e.reason = DecisionReason::Emergency;
            e.emergency_reason = Some("patient unconscious, no consent possible".into());
            let t = Instant::now();
            log.record_durable(vec![e]).await.unwrap();
            samples.push(t.elapsed());
        }
    });
    samples.sort();
    println!(
        "record_durable (1 entry, idle writer): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
    log.shutdown();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "database after writer phase: {:.1} MiB (before checkpointing the WAL), load avg {}",
        size as f64 / 1_048_576.0,
        load()
    );
}
