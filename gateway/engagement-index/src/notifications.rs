//! Notifications to subscribing engagement indexes (specs/engagement-index.md,
//! "Notifications"): every accepted change a subscriber wants becomes one
//! ProcessNotification per subscriber and request, written to the general outbox
//! (queue [`QUEUE`]) in the same transaction as the change, and delivered by the store
//! crate's delivery loop until the subscriber answers ResultCode OK. A crash or restart
//! loses nothing (delivery is at least once; ProcessNotification is idempotent).

use std::sync::Arc;

use tokio::sync::watch;
use vaxel_store::engagement::{ChangeKind, EngagementChange, NotificationPlanner};
use vaxel_store::outbox::{self, DeliveryPolicy, NewOutboxItem, OutboxTransport};

use crate::config::SubscriberConfig;
use crate::{xml, EngagementIndex};

/// The outbox queue of the engagement index's ProcessNotification messages.
pub const QUEUE: &str = "engagement-notification";

/// The planner for one batch: which subscriber hears about which change.
/// `from_notification`: the batch came with ProcessNotification (its sender, the owning
/// index, already knows).
pub(crate) fn planner(
    subscribers: Vec<SubscriberConfig>,
    from_notification: bool,
) -> NotificationPlanner {
    Box::new(move |changes: &[EngagementChange]| {
        let mut items = Vec::new();
        for s in &subscribers {
            let selected = changes.iter().filter(|c| {
                notify_about(c.kind)
                    && s.wants(&c.engagement.service_domain, &c.engagement.categorization)
                    && !(from_notification
                        && c.engagement.owner.eq_ignore_ascii_case(&s.logical_address))
            });
            let mut selected = selected.peekable();
            if selected.peek().is_none() {
                continue;
            }
            // One notification per subscriber and request: ≤ 1000 transactions, the
            // contract's limit, because a request has at most 1000.
            let payload = xml::process_notification(
                &s.logical_address,
                selected.map(|c| (is_delete(c.kind), &c.engagement)),
            );
            items.push(NewOutboxItem {
                queue: QUEUE.to_string(),
                destination: s.logical_address.clone(),
                payload,
            });
        }
        Ok(items)
    })
}

/// Subscribers hear about real changes and about every delete (a subscriber may hold
/// an engagement this index never had, as skltp/ei does); not about no-op updates.
fn notify_about(kind: ChangeKind) -> bool {
    !matches!(kind, ChangeKind::Unchanged)
}

fn is_delete(kind: ChangeKind) -> bool {
    matches!(kind, ChangeKind::Deleted | ChangeKind::DeletedMissing)
}

/// Deliver the index's notifications with `transport` until `shutdown` turns true.
pub fn spawn_notifier(
    ei: &EngagementIndex,
    transport: Arc<dyn OutboxTransport>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let config = ei.config();
    outbox::spawn_delivery(
        ei.outbox().clone(),
        DeliveryPolicy {
            queue: QUEUE.to_string(),
            initial_backoff: config.notify_initial_backoff,
            max_backoff: config.notify_max_backoff,
            lease: config.notify_lease,
        },
        transport,
        ei.inner.outbox_signal.clone(),
        shutdown,
    )
}

/// The notification queue for `/status`: what has not reached each subscriber yet, and
/// why (never the payloads).
pub async fn status(ei: &EngagementIndex) -> serde_json::Value {
    let backlog = match ei.outbox().outbox_backlog(QUEUE).await {
        Ok(backlog) => backlog,
        Err(e) => return serde_json::json!({"enabled": true, "error": e.to_string()}),
    };
    let now = std::time::SystemTime::now();
    // Seconds from now to `t` (negative: in the past).
    let seconds_until = |t: std::time::SystemTime| match t.duration_since(now) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    let undelivered: Vec<serde_json::Value> = backlog
        .iter()
        .map(|b| {
            serde_json::json!({
                "subscriber": b.destination,
                "pending": b.pending,
                "oldest_age_seconds": (-seconds_until(b.oldest)).max(0.0),
                "head_attempts": b.head_attempts,
                "next_attempt_in_seconds": seconds_until(b.next_attempt).max(0.0),
                "last_error": b.last_error,
            })
        })
        .collect();
    serde_json::json!({
        "enabled": true,
        "owner": ei.config().owner,
        "notifications_pending": backlog.iter().map(|b| b.pending).sum::<u64>(),
        "undelivered": undelivered,
    })
}
