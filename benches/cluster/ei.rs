//! Phase 1, EI Update: the Update generator (as in benches/ei) and the phase that feeds
//! `EngagementIndex::handle` 1000-transaction Updates from every node, disjoint residents
//! per node.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vaxel_engagement_index::config::EngagementIndexConfig;
use vaxel_engagement_index::xml::UPDATE_NS;

use crate::cpu::{cpu_between, Probe};
use crate::db::Node;
use crate::updates::{update, BATCH};
use crate::{Knobs, Phase};

fn first_error(slot: &std::sync::Mutex<Option<String>>, e: impl std::fmt::Display) {
    let mut s = slot.lock().unwrap();
    if s.is_none() {
        *s = Some(e.to_string());
    }
}

pub async fn ei_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
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
