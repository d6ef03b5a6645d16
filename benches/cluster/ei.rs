//! Phase 1, EI Update: the Update generator (as in benches/ei) and the phase that feeds
//! `EngagementIndex::handle` 1000-transaction Updates from every node, disjoint residents
//! per node.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use vaxel_engagement_index::config::EngagementIndexConfig;
use vaxel_engagement_index::xml::UPDATE_NS;

use crate::cpu::{cpu_between, Probe};
use crate::db::Node;
use crate::{Knobs, Phase};

/// Transactions per Update.
pub const BATCH: usize = 1000;
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
