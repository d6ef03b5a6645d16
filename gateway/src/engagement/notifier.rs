//! Delivers the notification outbox: every ProcessNotification written together with
//! an accepted update is sent to its subscriber until it is delivered, with exponential
//! backoff. Items are removed only after a successful delivery, so a crash or restart
//! loses nothing (delivery is at least once; ProcessNotification is idempotent).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::EngagementIndex;
use crate::store::OutboxItem;

/// Items fetched per round.
const BATCH: usize = 256;
/// Longest sleep between outbox checks (another node may have written items).
const MAX_IDLE: Duration = Duration::from_secs(1);

/// Sends a ProcessNotification envelope to a subscriber (over the gateway's producer
/// client in production, a fake in tests).
pub trait NotificationTransport: Send + Sync + 'static {
    /// Deliver one ProcessNotification SOAP envelope to a subscriber's logical address.
    /// `Ok` only when the subscriber answered ResultCode OK.
    fn deliver(
        &self,
        logical_address: &str,
        envelope: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Delay before attempt `attempts + 1`: `initial * 2^(attempts-1)`, at most `max`.
pub(crate) fn backoff(initial: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    initial.saturating_mul(factor).min(max)
}

/// Run the notifier until `shutdown` turns true (or its sender is dropped).
pub fn spawn_notifier(
    ei: Arc<EngagementIndex>,
    transport: Arc<dyn NotificationTransport>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let idle = match round(&ei, transport.as_ref()).await {
                Ok(true) => continue,
                Ok(false) => idle_time(&ei).await,
                Err(e) => {
                    tracing::error!(error = %e, "notification outbox unavailable");
                    MAX_IDLE
                }
            };
            tokio::select! {
                _ = ei.inner.outbox_signal.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                r = shutdown.changed() => if r.is_err() { break },
            }
        }
        tracing::debug!("notifier stopped");
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::store::Result<T> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How long to sleep when nothing is due.
async fn idle_time(ei: &EngagementIndex) -> Duration {
    let store = ei.store().clone();
    match blocking(move || store.outbox_next_attempt()).await {
        Ok(Some(t)) => t
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(5), MAX_IDLE),
        _ => MAX_IDLE,
    }
}

/// One pass over the due items. `Ok(true)` when something was delivered (look again).
async fn round(
    ei: &EngagementIndex,
    transport: &dyn NotificationTransport,
) -> Result<bool, String> {
    let store = ei.store().clone();
    let due: Vec<OutboxItem> = blocking(move || store.outbox_due(SystemTime::now(), BATCH)).await?;
    if due.is_empty() {
        return Ok(false);
    }
    let config = ei.config();
    let mut held_back: HashSet<String> = HashSet::new();
    let mut delivered_any = false;
    for item in due {
        // Keep each subscriber's order: after a failure, its later items wait too.
        if held_back.contains(&item.subscriber) {
            continue;
        }
        let OutboxItem {
            id,
            subscriber,
            payload,
            attempts,
            ..
        } = item;
        match transport.deliver(&subscriber, payload).await {
            Ok(()) => {
                let store = ei.store().clone();
                blocking(move || store.outbox_mark_delivered(id)).await?;
                delivered_any = true;
                tracing::debug!(%subscriber, id, attempts, "notification delivered");
            }
            Err(error) => {
                let attempts = attempts.saturating_add(1);
                let delay = backoff(
                    config.notify_initial_backoff,
                    config.notify_max_backoff,
                    attempts,
                );
                tracing::warn!(%subscriber, id, attempts, retry_in_ms = delay.as_millis() as u64, %error, "notification delivery failed");
                let store = ei.store().clone();
                let next = SystemTime::now() + delay;
                blocking(move || store.outbox_reschedule(id, next, attempts, &error)).await?;
                held_back.insert(subscriber);
            }
        }
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
