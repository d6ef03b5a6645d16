//! One general outbox: messages the gateway must deliver elsewhere, written durably
//! (with the change that caused them, or on their own), delivered until they are
//! acknowledged, with exponential backoff. Each concern has its own queue (the
//! engagement index's notifications today); within a queue, each destination gets its
//! items in the order they were written. SDK messages need concurrent delivery and a
//! status per message instead, and have their own store ([`crate::sdk`]).
//!
//! Items are removed only after a successful delivery, so a crash or restart loses
//! nothing (delivery is at least once; receivers de-duplicate).

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::{watch, Notify};

use crate::Result;

/// An item to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxItem {
    /// The queue it belongs to (which concern delivers it, e.g.
    /// `engagement-notification`).
    pub queue: String,
    /// Where it goes (a logical address, an organisation's access point).
    pub destination: String,
    /// What is delivered (e.g. a whole SOAP envelope).
    pub payload: Vec<u8>,
}

/// A stored, undelivered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub destination: String,
    pub payload: Vec<u8>,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    pub next_attempt: SystemTime,
    pub last_error: Option<String>,
}

/// Undelivered items of one destination in one queue. Its oldest item (the head) holds
/// back the others: a destination gets its items in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationBacklog {
    pub destination: String,
    pub pending: u64,
    /// When the head item was written.
    pub oldest: SystemTime,
    /// Failed delivery attempts of the head item.
    pub head_attempts: u32,
    /// When the head item is tried next.
    pub next_attempt: SystemTime,
    /// Why the head item's last attempt failed.
    pub last_error: Option<String>,
}

/// The durable outbox.
#[async_trait]
pub trait Outbox: Send + Sync + fmt::Debug {
    /// Write items on their own (durable when this returns `Ok`). Items caused by a
    /// store change are written in that change's transaction instead (e.g.
    /// [`crate::EngagementStore::apply_engagement_transactions`]).
    async fn outbox_enqueue(&self, items: Vec<NewOutboxItem>) -> Result<()>;

    /// Claim the items of `queue` that may be delivered now, oldest first, at most
    /// `limit`. An item is due when its `next_attempt` has passed and so has that of
    /// every older item for the same destination in the queue. A claimed item is leased:
    /// its `next_attempt` moves to `now + lease`, so no other claim (by this or another
    /// node) returns it until it is delivered, rescheduled, released, or the lease runs
    /// out (its claimer died). Claims never hand out two items of one destination to
    /// two claimers at once, so each destination keeps its order across nodes. A
    /// backend for one node (SQLite) releases every claim when it is opened: the claimer
    /// was that node's previous run.
    async fn outbox_claim(
        &self,
        queue: &str,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>>;

    /// Give claimed items back undelivered (due again at `now`; their attempts unchanged).
    async fn outbox_release(&self, ids: &[i64], now: SystemTime) -> Result<()>;

    /// The earliest `next_attempt` over all items of `queue`, if any.
    async fn outbox_next_attempt(&self, queue: &str) -> Result<Option<SystemTime>>;

    /// The item was delivered: remove it.
    async fn outbox_mark_delivered(&self, id: i64) -> Result<()>;

    /// A delivery failed: record it and try again at `next_attempt`.
    async fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()>;

    /// Number of undelivered items in `queue`.
    async fn outbox_len(&self, queue: &str) -> Result<u64>;

    /// Undelivered items of `queue` per destination, by destination (status pages: a
    /// destination that cannot be reached shows here with its head item's attempts and
    /// last error).
    async fn outbox_backlog(&self, queue: &str) -> Result<Vec<DestinationBacklog>>;
}

/// Delivers one item to its destination (over the gateway's producer client in
/// production, a fake in tests). `Ok` only when the destination acknowledged it.
pub trait OutboxTransport: Send + Sync + 'static {
    fn deliver(
        &self,
        destination: &str,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + '_>>;
}

/// How one queue is delivered.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// The queue.
    pub queue: String,
    /// First retry delay of a failed item; doubled per attempt.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long claimed items stay with this node (it stops delivering a batch once the
    /// lease is nearly over); longer than the longest delivery attempt.
    pub lease: Duration,
}

/// Items fetched per round.
const BATCH: usize = 256;
/// Longest sleep between outbox checks (another node may have written items).
const MAX_IDLE: Duration = Duration::from_secs(1);

/// Delay before attempt `attempts + 1`: `initial * 2^(attempts-1)`, at most `max`.
pub fn backoff(initial: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    initial.saturating_mul(factor).min(max)
}

/// Deliver `policy.queue` until `shutdown` turns true (or its sender is dropped). `wake`
/// is notified by the writer when new items were committed; without it the loop still
/// looks at least once a second. Await the handle after the shutdown: the loop then
/// gives back what it had claimed and not delivered.
pub fn spawn_delivery(
    outbox: Arc<dyn Outbox>,
    policy: DeliveryPolicy,
    transport: Arc<dyn OutboxTransport>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let idle = match round(outbox.as_ref(), &policy, transport.as_ref(), &shutdown).await {
                Ok(true) => continue,
                Ok(false) => idle_time(outbox.as_ref(), &policy.queue).await,
                Err(e) => {
                    tracing::error!(queue = %policy.queue, error = %e, "outbox unavailable");
                    MAX_IDLE
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                r = shutdown.changed() => if r.is_err() { break },
            }
        }
        tracing::debug!(queue = %policy.queue, "outbox delivery stopped");
    })
}

/// How long to sleep when nothing is due.
async fn idle_time(outbox: &dyn Outbox, queue: &str) -> Duration {
    match outbox.outbox_next_attempt(queue).await {
        Ok(Some(t)) => t
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(5), MAX_IDLE),
        _ => MAX_IDLE,
    }
}

/// One pass over the due items. `Ok(true)` when something was delivered (look again).
/// On shutdown it stops after the item in hand and gives the rest back, so that another
/// node (or this one, restarted) delivers them at once instead of after the lease.
async fn round(
    outbox: &dyn Outbox,
    policy: &DeliveryPolicy,
    transport: &dyn OutboxTransport,
    shutdown: &watch::Receiver<bool>,
) -> Result<bool> {
    let queue = policy.queue.as_str();
    let claimed_at = std::time::Instant::now();
    let due = outbox
        .outbox_claim(queue, SystemTime::now(), BATCH, policy.lease)
        .await?;
    if due.is_empty() {
        return Ok(false);
    }
    // Stop with a margin before the lease ends: after it, another node may claim the
    // rest of the batch.
    let deadline = claimed_at + policy.lease.mul_f64(0.8);
    let mut held_back: HashSet<String> = HashSet::new();
    let mut unsent: Vec<i64> = Vec::new();
    let mut delivered_any = false;
    for item in due {
        // Keep each destination's order: after a failure, its later items wait too
        // (given back, so that they follow the head's retry, not the lease).
        if held_back.contains(&item.destination)
            || std::time::Instant::now() >= deadline
            || *shutdown.borrow()
        {
            unsent.push(item.id);
            continue;
        }
        let OutboxItem {
            id,
            destination,
            payload,
            attempts,
            ..
        } = item;
        match transport.deliver(&destination, payload).await {
            Ok(()) => {
                outbox.outbox_mark_delivered(id).await?;
                delivered_any = true;
                tracing::debug!(queue, %destination, id, attempts, "outbox item delivered");
            }
            Err(error) => {
                let attempts = attempts.saturating_add(1);
                let delay = backoff(policy.initial_backoff, policy.max_backoff, attempts);
                tracing::warn!(queue, %destination, id, attempts, retry_in_ms = delay.as_millis() as u64, %error, "outbox delivery failed");
                let next = SystemTime::now() + delay;
                outbox.outbox_reschedule(id, next, attempts, &error).await?;
                held_back.insert(destination);
            }
        }
    }
    if !unsent.is_empty() {
        outbox.outbox_release(&unsent, SystemTime::now()).await?;
    }
    Ok(delivered_any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_millis(100);
        let m = Duration::from_millis(1000);
        assert_eq!(backoff(i, m, 1), Duration::from_millis(100));
        assert_eq!(backoff(i, m, 2), Duration::from_millis(200));
        assert_eq!(backoff(i, m, 4), Duration::from_millis(800));
        assert_eq!(backoff(i, m, 5), m);
        assert_eq!(backoff(i, m, u32::MAX), m);
    }
}
