//! Delivery of queued messages to partner gateways (specs/sdk.md §5.3): claim due
//! messages with a lease, deliver up to `delivery_concurrency` at once, record the
//! receipt, or retry with exponential backoff until `dead_letter_after` has passed since
//! the message was submitted (then the message is `failed`, a dead letter).
//!
//! At least once between gateways; the receiving gateway's inbox drops duplicates by
//! message id and answers the first receipt again, so the receiving system gets each
//! message once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Semaphore};
use vaxel_sdk_message::receipt::Receipt;
use vaxel_store::sdk::OutgoingItem;
use vaxel_telemetry::metrics;

use crate::service::{backoff, Sdk};

/// Sends one delivery envelope to a partner gateway; `Ok` with the answer's body only
/// for HTTP 200 (the receipt). Implemented over the gateway's mutual-TLS client by the
/// binary, by fakes in tests.
pub trait DeliveryTransport: Send + Sync + 'static {
    fn deliver(
        &self,
        endpoint: &str,
        envelope: Vec<u8>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>>;
}

/// Longest sleep between looks at the store (another node may have queued messages).
const MAX_IDLE: Duration = Duration::from_secs(1);

/// Deliver until `shutdown` turns true.
pub fn spawn(
    sdk: Arc<Sdk>,
    transport: Arc<dyn DeliveryTransport>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let limit = sdk.config.delivery.concurrency;
        let permits = Arc::new(Semaphore::new(limit));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = permits.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let now = SystemTime::now();
                sdk.store
                    .sdk_claim_due(now, now + sdk.config.delivery.lease, free)
                    .await
            };
            match claimed {
                Ok(items) if !items.is_empty() => {
                    for item in items {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let sdk = sdk.clone();
                        let transport = transport.clone();
                        tokio::spawn(async move {
                            attempt(&sdk, transport.as_ref(), item).await;
                            drop(permit);
                            sdk.wake.notify_one();
                        });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "SDK outbox unavailable"),
            }
            let idle = if permits.available_permits() == 0 {
                MAX_IDLE
            } else {
                match sdk.store.sdk_next_due().await {
                    Ok(Some(t)) => t
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(5), MAX_IDLE),
                    _ => MAX_IDLE,
                }
            };
            tokio::select! {
                _ = sdk.wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                r = shutdown.changed() => if r.is_err() { break },
            }
        }
        tracing::debug!("SDK delivery stopped");
    })
}

/// One delivery attempt of one claimed message.
async fn attempt(sdk: &Sdk, transport: &dyn DeliveryTransport, item: OutgoingItem) {
    let OutgoingItem {
        message_id,
        endpoint,
        envelope,
        attempts,
        created,
        recipient,
        ..
    } = item;
    let timeout = sdk.config.delivery.attempt_timeout;
    let result = match tokio::time::timeout(
        timeout,
        transport.deliver(&endpoint, envelope, timeout),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    let result = result.and_then(|body| {
        let receipt =
            Receipt::parse(&body).map_err(|e| format!("the answer is not a receipt: {e}"))?;
        if receipt.document_reference != message_id {
            return Err(format!(
                "the receipt answers message {} instead",
                receipt.document_reference
            ));
        }
        Ok((receipt, body))
    });
    count_attempt(
        result
            .as_ref()
            .ok()
            .map(|(receipt, _)| receipt.is_accepted()),
    );
    let now = SystemTime::now();
    let stored = match result {
        Ok((receipt, body)) => {
            let accepted = receipt.is_accepted();
            tracing::info!(%message_id, %recipient, accepted, code = receipt.code_str(), attempts = attempts + 1, "SDK message delivered");
            sdk.store
                .sdk_record_receipt(&message_id, accepted, receipt.code_str(), body, now)
                .await
        }
        Err(error) => {
            let attempts = attempts.saturating_add(1);
            let age = now.duration_since(created).unwrap_or(Duration::ZERO);
            if age >= sdk.config.delivery.dead_letter_after {
                tracing::error!(%message_id, %recipient, attempts, %error, "SDK message dead-lettered: not delivered within sdk.dead_letter_after_s");
                sdk.store
                    .sdk_fail(
                        &message_id,
                        &format!(
                            "not delivered within {} s after {attempts} attempts; last error: {error}",
                            sdk.config.delivery.dead_letter_after.as_secs()
                        ),
                        now,
                    )
                    .await
            } else {
                let d = &sdk.config.delivery;
                let delay = backoff(d.initial_backoff, d.max_backoff, attempts);
                tracing::warn!(%message_id, %recipient, attempts, retry_in_ms = delay.as_millis() as u64, %error, "SDK delivery failed");
                sdk.store
                    .sdk_reschedule(&message_id, attempts, now + delay, &error, now)
                    .await
            }
        }
    };
    if let Err(e) = stored {
        // The lease runs out and the message is tried again: nothing is lost.
        tracing::error!(%message_id, error = %e, "SDK: cannot record a delivery attempt");
    }
}

/// Count one delivery attempt: `Some(accepted)` when the partner answered with a receipt
/// for the message, `None` when it did not (transport error, timeout, non-2xx, an answer
/// that is not this message's receipt): retried, or dead-lettered when too old.
fn count_attempt(receipt: Option<bool>) {
    let m = metrics();
    let outcome = match receipt {
        Some(true) => "delivered",
        Some(false) => "rejected",
        None => "failed",
    };
    m.sdk_delivery_attempts
        .get_or_create(&[("outcome", outcome)])
        .inc();
    if let Some(accepted) = receipt {
        m.sdk_receipts
            .get_or_create(&[
                ("direction", "received"),
                ("outcome", receipt_outcome(accepted)),
            ])
            .inc();
    }
}

/// The `outcome` label of `vaxel_sdk_receipts`.
pub(crate) fn receipt_outcome(accepted: bool) -> &'static str {
    if accepted {
        "accepted"
    } else {
        "rejected"
    }
}
