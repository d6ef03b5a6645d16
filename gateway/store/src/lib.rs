//! vaxel's durable state behind five traits (DESIGN.md "Storage", specs/architecture.md):
//!
//! - [`EngagementStore`]: the engagement index (Update, FindContent, GetUpdates);
//! - [`Outbox`]: one general outbox of messages to deliver elsewhere, by queue and in
//!   order per destination (engagement notifications), with the delivery loop
//!   ([`outbox::spawn_delivery`]);
//! - [`ConsentStore`]: consents and blocks (spärr) under SVOD/PDL;
//! - [`AccessLogStore`]: the append-only, hash-chained PDL access log;
//! - [`SdkStore`]: SDK messages between organisations' gateways: outgoing messages with
//!   their per-message status (leased claims, receipts, dead letters) and the inbox of
//!   received ones (duplicate detection by message id).
//!
//! The records they store are defined here too, so that every backend writes the same
//! values. A backend crate implements the traits (SQLite: `vaxel-store-sqlite`, the
//! embedded default; `vaxel-store-postgres` for several nodes) and MUST pass the compliance
//! suites in [`testkit`] (feature `testkit`), unchanged.
//!
//! The traits are async (specs/architecture.md "Store traits are async"): the cluster
//! backend's client is async, and a blocking backend (SQLite) moves its work to the
//! blocking pool inside its own implementation, so no caller can block a core runtime
//! on disk by forgetting to.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod cluster;
pub mod config;
pub mod consent;
pub mod engagement;
pub mod outbox;
pub mod sdk;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use std::sync::Arc;

pub use access_log::AccessLogStore;
pub use cluster::{Cluster, ClusterEvent, LocalCluster};
pub use config::{PostgresConfig, PostgresTls, StoreBackend, StoreConfig};
pub use consent::ConsentStore;
pub use engagement::EngagementStore;
pub use outbox::Outbox;
pub use sdk::{
    InboxEntry, InboxInsert, IncomingMessage, NewIncoming, NewOutgoing, OutgoingCounts,
    OutgoingItem, OutgoingState, OutgoingStatus, SdkStore, SubmitOutcome,
};

/// A store failure. The text may contain database details: it is for the operator's
/// log, never for a SOAP fault (services answer with a generic message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the store schema is version {found}, newer than this vaxel understands ({supported}); upgrade vaxel or restore a matching database")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("store operation failed: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Every store of one backend, opened together (the binary's one place that chooses a
/// backend hands these to the services).
#[derive(Debug, Clone)]
pub struct Stores {
    pub engagements: Arc<dyn EngagementStore>,
    pub outbox: Arc<dyn Outbox>,
    pub consents: Arc<dyn ConsentStore>,
    pub access_log: Arc<dyn AccessLogStore>,
    pub sdk: Arc<dyn SdkStore>,
    /// Changes between nodes and the database's reachability.
    pub cluster: Arc<dyn Cluster>,
}
