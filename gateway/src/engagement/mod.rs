//! The engagement index (engagemangsindex, EI): the four service contracts
//! `urn:riv:itintegration:engagementindex:{Update,FindContent,ProcessNotification,
//! GetUpdates}Responder:1` served from the [`Store`], and the notifier that sends
//! accepted changes to subscribing indexes. Normative text: `specs/engagement-index.md`.
//!
//! The request pipeline calls [`EngagementIndex::handle`] with the sniffed contract
//! namespace; the aggregator calls [`EngagementIndex::find_content`].

use std::sync::Arc;

use bytes::Bytes;

use crate::config::EngagementIndexConfig;
use crate::store::{ApplyRequest, ChangeKind, EngagementChange, NewOutboxItem, Store};

pub mod error;
pub mod model;
mod notifier;
mod parse;
pub mod xml;

pub use error::EiError;
pub use model::{EiTime, Engagement, EngagementId, EngagementTransaction, FindQuery, ResidentId};
pub use notifier::{spawn_notifier, NotificationTransport};
pub use parse::MAX_TRANSACTIONS;

use parse::OwnerRule;

/// The four contracts, by the namespace of the request element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EiContract {
    Update,
    FindContent,
    ProcessNotification,
    GetUpdates,
}

impl EiContract {
    /// The contract whose request namespace is `ns`.
    pub fn from_namespace(ns: &str) -> Option<EiContract> {
        match ns {
            xml::UPDATE_NS => Some(EiContract::Update),
            xml::FIND_CONTENT_NS => Some(EiContract::FindContent),
            xml::PROCESS_NOTIFICATION_NS => Some(EiContract::ProcessNotification),
            xml::GET_UPDATES_NS => Some(EiContract::GetUpdates),
            _ => None,
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            EiContract::Update => xml::UPDATE_NS,
            EiContract::FindContent => xml::FIND_CONTENT_NS,
            EiContract::ProcessNotification => xml::PROCESS_NOTIFICATION_NS,
            EiContract::GetUpdates => xml::GET_UPDATES_NS,
        }
    }

    fn request_element(self) -> &'static str {
        match self {
            EiContract::Update => "Update",
            EiContract::FindContent => "FindContent",
            EiContract::ProcessNotification => "ProcessNotification",
            EiContract::GetUpdates => "GetUpdates",
        }
    }
}

/// The engagement index service. Cheap to share (`Arc` inside).
#[derive(Debug, Clone)]
pub struct EngagementIndex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    config: EngagementIndexConfig,
    /// Wakes the notifier when new outbox items were committed.
    outbox_signal: tokio::sync::Notify,
}

impl EngagementIndex {
    pub fn new(store: Arc<dyn Store>, config: EngagementIndexConfig) -> Self {
        EngagementIndex {
            inner: Arc::new(Inner {
                store,
                config,
                outbox_signal: tokio::sync::Notify::new(),
            }),
        }
    }

    pub fn config(&self) -> &EngagementIndexConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Serve one request. `contract_namespace` is the namespace of the first Body child
    /// (already sniffed); `envelope` the whole SOAP request. `Ok` is the whole SOAP 1.1
    /// response envelope (HTTP 200); `Err` becomes a fault through
    /// [`crate::fault::Fault::from`]. Parsing and storage run on the blocking pool.
    pub async fn handle(
        &self,
        contract_namespace: &str,
        envelope: Bytes,
    ) -> Result<Vec<u8>, EiError> {
        let contract = EiContract::from_namespace(contract_namespace)
            .ok_or_else(|| EiError::UnknownContract(contract_namespace.to_string()))?;
        let inner = self.inner.clone();
        let (response, queued) =
            tokio::task::spawn_blocking(move || inner.serve(contract, &envelope))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "engagement index task failed");
                    EiError::Storage
                })??;
        if queued > 0 {
            self.inner.outbox_signal.notify_one();
        }
        Ok(response)
    }

    /// The engagements for a query (the aggregator's NPÖ fan-out uses resident +
    /// service domain + optional categorization).
    pub async fn find_content(&self, query: FindQuery) -> Result<Vec<Engagement>, EiError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.find_engagements(&query))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "engagement index task failed");
                EiError::Storage
            })?
            .map_err(storage_error)
    }
}

fn storage_error(e: crate::store::StoreError) -> EiError {
    // The detail (may contain SQL) goes to the operator's log, not to the caller.
    tracing::error!(error = %e, "engagement index store failure");
    EiError::Storage
}

impl Inner {
    /// The whole request, synchronously: (response, outbox items written).
    fn serve(&self, contract: EiContract, envelope: &[u8]) -> Result<(Vec<u8>, usize), EiError> {
        let request = parse::envelope(envelope)?;
        let body = &request.body;
        if body.ns != contract.namespace() || body.local != contract.request_element() {
            return Err(EiError::Schema(format!(
                "the Body holds {{{}}}{}, expected {} in {}",
                body.ns,
                body.local,
                contract.request_element(),
                contract.namespace()
            )));
        }
        match contract {
            EiContract::Update => {
                // Update-R7: Update is addressed to this index.
                if let Some(la) = &request.logical_address {
                    let ours = la.eq_ignore_ascii_case(&self.config.owner)
                        || self
                            .config
                            .owner_aliases
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(la));
                    if !ours {
                        return Err(EiError::WrongLogicalAddress {
                            got: la.clone(),
                            owner: self.config.owner.clone(),
                        });
                    }
                }
                let txs = parse::transactions(
                    body,
                    contract.namespace(),
                    OwnerRule::SetTo(&self.config.owner),
                )?;
                let queued = self.apply(&txs, None)?;
                Ok((xml::result_ok(xml::UPDATE_NS, "UpdateResponse"), queued))
            }
            EiContract::ProcessNotification => {
                let mut txs = parse::transactions(body, contract.namespace(), OwnerRule::Required)?;
                // Our own engagements coming back (a notification loop) are dropped, as
                // skltp/ei does: this index is the truth for what it owns.
                let before = txs.len();
                txs.retain(|t| !t.engagement.owner.eq_ignore_ascii_case(&self.config.owner));
                if txs.len() < before {
                    tracing::debug!(
                        dropped = before - txs.len(),
                        "ProcessNotification: ignored engagements owned by this index"
                    );
                }
                let queued = if txs.is_empty() {
                    0
                } else {
                    self.apply(&txs, Some(&self.config.owner))?
                };
                Ok((
                    xml::result_ok(xml::PROCESS_NOTIFICATION_NS, "ProcessNotificationResponse"),
                    queued,
                ))
            }
            EiContract::FindContent => {
                let query = parse::find_content(body, contract.namespace())?;
                let found = self.store.find_engagements(&query).map_err(storage_error)?;
                tracing::debug!(found = found.len(), "FindContent");
                Ok((xml::find_content_response(&found), 0))
            }
            EiContract::GetUpdates => {
                let req = parse::get_updates(body, contract.namespace())?;
                let page = self
                    .store
                    .engagements_updated_since(
                        &req.service_domain,
                        req.since,
                        req.after_resident.as_ref(),
                        self.config.get_updates_max_residents,
                    )
                    .map_err(storage_error)?;
                Ok((xml::get_updates_response(&page), 0))
            }
        }
    }

    /// Apply a validated batch and queue its notifications in one database transaction.
    /// `superseded_owner` is set for ProcessNotification (R5, and: never notify the
    /// sender back).
    fn apply(
        &self,
        txs: &[EngagementTransaction],
        superseded_owner: Option<&str>,
    ) -> Result<usize, EiError> {
        let subscribers = &self.config.subscribers;
        let from_notification = superseded_owner.is_some();
        let plan = |changes: &[EngagementChange]| {
            let mut items = Vec::new();
            for s in subscribers {
                let selected = changes.iter().filter(|c| {
                    notify_about(c.kind)
                        && s.wants(&c.engagement.service_domain, &c.engagement.categorization)
                        // ProcessNotification: the sender (the owning index) already knows.
                        && !(from_notification
                            && c.engagement.owner.eq_ignore_ascii_case(&s.logical_address))
                });
                let mut selected = selected.peekable();
                if selected.peek().is_none() {
                    continue;
                }
                // One notification per subscriber and request: ≤ 1000 transactions,
                // the contract's limit, because a request has at most 1000.
                let payload = xml::process_notification(
                    &s.logical_address,
                    selected.map(|c| (is_delete(c.kind), &c.engagement)),
                );
                items.push(NewOutboxItem {
                    subscriber: s.logical_address.clone(),
                    payload,
                });
            }
            Ok(items)
        };
        let outcome = self
            .store
            .apply_engagement_transactions(
                ApplyRequest {
                    transactions: txs,
                    now: EiTime::now(),
                    superseded_owner,
                },
                &plan,
            )
            .map_err(storage_error)?;
        tracing::info!(
            transactions = txs.len(),
            created = outcome.created,
            updated = outcome.updated,
            unchanged = outcome.unchanged,
            deleted = outcome.deleted,
            notifications = outcome.notifications,
            "engagement index batch applied"
        );
        Ok(outcome.notifications)
    }
}

/// Subscribers hear about real changes and about every delete (a subscriber may hold
/// an engagement this index never had, as skltp/ei does); not about no-op updates.
fn notify_about(kind: ChangeKind) -> bool {
    !matches!(kind, ChangeKind::Unchanged)
}

fn is_delete(kind: ChangeKind) -> bool {
    matches!(kind, ChangeKind::Deleted | ChangeKind::DeletedMissing)
}

#[cfg(test)]
mod tests;
