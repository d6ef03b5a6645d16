//! Phase 2, access log: the entry generator (as in benches/access-log), one `AccessLog`
//! writer per node fed until every writer has flushed, `record_durable` latency, and the
//! untimed `pdl-verify` check of the one chain over every node's entries.

use std::time::{Duration, Instant};

use vaxel_pdl::access_log::{verify, AccessLog, Decision, DecisionReason};
use vaxel_pdl::config::AccessLogConfig;

use crate::cpu::{cpu_between, Probe};
use crate::db::Node;
use crate::entries::{entry, ENTRIES_PER_REQUEST};
use crate::{Knobs, Phase};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

pub async fn al_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
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
