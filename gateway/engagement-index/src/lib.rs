//! The engagement index (engagemangsindex, EI): the four service contracts
//! `urn:riv:itintegration:engagementindex:{Update,FindContent,ProcessNotification,
//! GetUpdates}Responder:1` served from the store, and the notifications that carry
//! accepted changes to subscribing indexes. Normative text: `specs/engagement-index.md`.
//!
//! - [`EngagementIndex::handle`] answers one SOAP request (the gateway registers the
//!   index as its local service `local://engagement-index`);
//! - [`EngagementIndex::find_content`] serves the aggregating service's source lookups;
//! - [`notifications`] writes ProcessNotification for subscribers into the general
//!   outbox (queue [`notifications::QUEUE`]), in the same transaction as the change, and
//!   delivers them with the store's delivery loop.
//! - [`config`] owns `[engagement_index]`.
#![forbid(unsafe_code)]

use std::sync::Arc;

use bytes::Bytes;
use vaxel_store::engagement::{ApplyRequest, EngagementStore};
use vaxel_store::outbox::Outbox;
use vaxel_telemetry::metrics;

pub mod config;
pub mod error;
pub mod notifications;
mod parse;
pub mod xml;

pub use config::{EngagementIndexConfig, SubscriberConfig};
pub use error::EiError;
pub use parse::MAX_TRANSACTIONS;
pub use vaxel_store::engagement::{
    EiTime, Engagement, EngagementId, EngagementTransaction, FindQuery, ResidentId,
};

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
    store: Arc<dyn EngagementStore>,
    outbox: Arc<dyn Outbox>,
    config: EngagementIndexConfig,
    /// Wakes the notification delivery when new outbox items were committed.
    outbox_signal: Arc<tokio::sync::Notify>,
}

/// A request, parsed and checked, ready to run against the store.
#[derive(Debug)]
enum Parsed {
    Update(Vec<EngagementTransaction>),
    ProcessNotification(Vec<EngagementTransaction>),
    FindContent(FindQuery),
    GetUpdates(parse::GetUpdatesRequest),
}

impl EngagementIndex {
    /// The index over an engagement store and the outbox its notifications go to (the
    /// same database: a change and its notifications are written together).
    pub fn new(
        store: Arc<dyn EngagementStore>,
        outbox: Arc<dyn Outbox>,
        config: EngagementIndexConfig,
    ) -> Self {
        EngagementIndex {
            inner: Arc::new(Inner {
                store,
                outbox,
                config,
                outbox_signal: Arc::new(tokio::sync::Notify::new()),
            }),
        }
    }

    pub fn config(&self) -> &EngagementIndexConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn EngagementStore> {
        &self.inner.store
    }

    pub fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.inner.outbox
    }

    /// Serve one request. `contract_namespace` is the namespace of the first Body child
    /// (already sniffed); `envelope` the whole SOAP request. `Ok` is the whole SOAP 1.1
    /// response envelope (HTTP 200); `Err` becomes a fault through `Fault::from`.
    /// Parsing (up to 1000 transactions) runs on the blocking pool, not on the caller's
    /// core.
    pub async fn handle(
        &self,
        contract_namespace: &str,
        envelope: Bytes,
    ) -> Result<Vec<u8>, EiError> {
        let contract = EiContract::from_namespace(contract_namespace)
            .ok_or_else(|| EiError::UnknownContract(contract_namespace.to_string()))?;
        let answer = self.serve(contract, envelope).await;
        if contract == EiContract::Update {
            // Every Update answered, by outcome: a fault is any EI fault (schema, field
            // rules, wrong logical address, store), counted here once whichever step failed.
            let outcome = if answer.is_ok() { "ok" } else { "fault" };
            metrics()
                .engagement_updates
                .get_or_create(&[("outcome", outcome)])
                .inc();
        }
        answer
    }

    /// [`EngagementIndex::handle`] for a known contract.
    async fn serve(&self, contract: EiContract, envelope: Bytes) -> Result<Vec<u8>, EiError> {
        let inner = self.inner.clone();
        let parsed = tokio::task::spawn_blocking(move || inner.parse(contract, &envelope))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "engagement index task failed");
                EiError::Storage
            })??;
        match parsed {
            Parsed::Update(txs) => {
                let count = txs.len() as u64;
                self.apply(txs, None).await?;
                // Only what an accepted Update applied (a refused batch applies nothing).
                metrics().engagement_transactions.inc_by(count);
                Ok(xml::result_ok(xml::UPDATE_NS, "UpdateResponse"))
            }
            Parsed::ProcessNotification(txs) => {
                if !txs.is_empty() {
                    let owner = self.inner.config.owner.clone();
                    self.apply(txs, Some(owner)).await?;
                }
                Ok(xml::result_ok(
                    xml::PROCESS_NOTIFICATION_NS,
                    "ProcessNotificationResponse",
                ))
            }
            Parsed::FindContent(query) => {
                let found = self
                    .inner
                    .store
                    .find_engagements(&query)
                    .await
                    .map_err(storage_error)?;
                tracing::debug!(found = found.len(), "FindContent");
                Ok(xml::find_content_response(&found))
            }
            Parsed::GetUpdates(req) => {
                let page = self
                    .inner
                    .store
                    .engagements_updated_since(
                        &req.service_domain,
                        req.since,
                        req.after_resident.as_ref(),
                        self.inner.config.get_updates_max_residents,
                    )
                    .await
                    .map_err(storage_error)?;
                Ok(xml::get_updates_response(&page))
            }
        }
    }

    /// The engagements for a query (the aggregator's NPÖ fan-out uses resident +
    /// service domain + optional categorization).
    pub async fn find_content(&self, query: FindQuery) -> Result<Vec<Engagement>, EiError> {
        self.inner
            .store
            .find_engagements(&query)
            .await
            .map_err(storage_error)
    }

    /// Apply a validated batch and queue its notifications in one database transaction.
    /// `superseded_owner` is set for ProcessNotification (R5, and: never notify the
    /// sender back).
    async fn apply(
        &self,
        txs: Vec<EngagementTransaction>,
        superseded_owner: Option<String>,
    ) -> Result<usize, EiError> {
        let plan = notifications::planner(
            self.inner.config.subscribers.clone(),
            superseded_owner.is_some(),
        );
        let count = txs.len();
        let outcome = self
            .inner
            .store
            .apply_engagement_transactions(
                ApplyRequest {
                    transactions: txs,
                    now: EiTime::now(),
                    superseded_owner,
                },
                plan,
            )
            .await
            .map_err(storage_error)?;
        tracing::info!(
            transactions = count,
            created = outcome.created,
            updated = outcome.updated,
            unchanged = outcome.unchanged,
            deleted = outcome.deleted,
            notifications = outcome.notifications,
            "engagement index batch applied"
        );
        if outcome.notifications > 0 {
            self.inner.outbox_signal.notify_one();
        }
        Ok(outcome.notifications)
    }
}

fn storage_error(e: vaxel_store::StoreError) -> EiError {
    // The detail (may contain SQL) goes to the operator's log, not to the caller.
    tracing::error!(error = %e, "engagement index store failure");
    EiError::Storage
}

impl Inner {
    /// Parse and check the whole request (CPU only, no store access).
    fn parse(&self, contract: EiContract, envelope: &[u8]) -> Result<Parsed, EiError> {
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
                Ok(Parsed::Update(txs))
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
                Ok(Parsed::ProcessNotification(txs))
            }
            EiContract::FindContent => Ok(Parsed::FindContent(parse::find_content(
                body,
                contract.namespace(),
            )?)),
            EiContract::GetUpdates => Ok(Parsed::GetUpdates(parse::get_updates(
                body,
                contract.namespace(),
            )?)),
        }
    }
}

#[cfg(test)]
mod tests;
