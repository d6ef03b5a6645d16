//! Engagement index benchmark (not a test): Update throughput through
//! `EngagementIndex::handle` (parse + validate + one SQLite transaction per 1000
//! transactions, WAL + synchronous=FULL) until the store holds N engagements, then
//! FindContent latency (p50/p99) on that store.
//!
//! `cargo bench -p vaxel --bench ei` — N from `VAXEL_EI_BENCH_ENGAGEMENTS` (default
//! 1000000), the database in a temporary folder (or `VAXEL_EI_BENCH_DIR`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaxel_engagement_index::config::EngagementIndexConfig;
use vaxel_engagement_index::xml::UPDATE_NS;
use vaxel_engagement_index::{EngagementIndex, FindQuery, ResidentId};
use vaxel_store::EngagementStore;
use vaxel_store_sqlite::SqliteStore;

mod updates;
use updates::{resident, update, BATCH, DOMAINS, PER_RESIDENT};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: run small.
    let quick =
        std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let total: usize = std::env::var("VAXEL_EI_BENCH_ENGAGEMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 10_000 } else { 1_000_000 });
    let total = total.div_ceil(BATCH) * BATCH;
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("VAXEL_EI_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("ei-bench.db");
    let _ = std::fs::remove_file(&path);
    let sqlite = Arc::new(SqliteStore::open(&path).unwrap());
    let store: Arc<dyn EngagementStore> = sqlite.clone();
    let config = EngagementIndexConfig::default();
    let owner = config.owner.clone();
    let ei = EngagementIndex::new(store.clone(), sqlite, config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "ei bench: {total} engagements, {BATCH} per Update, store {}",
        path.display()
    );
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut done = 0;
    while done < total {
        let msg = update(done, &owner);
        rt.block_on(ei.handle(UPDATE_NS, msg)).unwrap();
        done += BATCH;
        if last_report.elapsed() > Duration::from_secs(5) {
            let rate = done as f64 / started.elapsed().as_secs_f64();
            println!("  {done}/{total} engagements, {rate:.0} transactions/s");
            last_report = Instant::now();
        }
    }
    let elapsed = started.elapsed();
    println!(
        "Update: {total} transactions in {:.1} s = {:.0} transactions/s ({:.1} ms per 1000-transaction Update)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / (total / BATCH) as f64
    );

    let residents = total / PER_RESIDENT;
    let queries = if quick { 1_000 } else { 20_000 };
    let mut lat = Vec::with_capacity(queries);
    let mut found = 0;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..queries {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = resident((x % residents as u64) as usize);
        let q = FindQuery::new(ResidentId::parse(&r).unwrap(), DOMAINS[i % 2]);
        let t = Instant::now();
        found += rt.block_on(store.find_engagements(&q)).unwrap().len();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "FindContent (store, {queries} random residents): p50 {:?}, p99 {:?}, max {:?}, {:.1} engagements per answer",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        found as f64 / queries as f64
    );
}
