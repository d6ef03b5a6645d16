//! Phase 3, SDK store path: the store's share of one delivered SDK message
//! (`sdk_submit`, `sdk_claim_due`, `sdk_inbox_insert`, `sdk_record_receipt`) from
//! `sdk_workers` workers per node, and the untimed check of the store's counts.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use vaxel_store::{NewIncoming, NewOutgoing};

use crate::cpu::{cpu_between, Probe};
use crate::db::Node;
use crate::{mix, Knobs, Phase};

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

pub async fn sdk_phase(nodes: &[Node], knobs: &Knobs, probe: &Probe, app: Option<&str>) -> Phase {
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
