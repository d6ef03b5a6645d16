//! Durable state behind one [`Store`] trait (DESIGN.md "Storage"): engagements and the
//! notification outbox today. SQLite ([`sqlite::SqliteStore`]) is the embedded default;
//! a PostgreSQL backend MUST pass the same compliance suite (`store::compliance`).
//!
//! The methods are synchronous and may block on disk: async callers run them with
//! `tokio::task::spawn_blocking` (or on a dedicated thread), never on a core runtime.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{StoreBackend, StoreConfig};
use crate::engagement::model::{EiTime, EngagementId};
use crate::engagement::model::{Engagement, EngagementTransaction, FindQuery, ResidentId};

pub mod access_log;
pub mod consent;
mod consent_sqlite;
pub mod sqlite;

#[cfg(test)]
pub(crate) mod compliance;

/// A store failure. The text may contain database details: it is for the operator's
/// log, never for a SOAP fault (the engagement index answers with a generic message).
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

/// What happened to one transaction of an applied batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A new engagement was stored.
    Created,
    /// A stored engagement got a newer `mostRecentContent`.
    Updated,
    /// The engagement was already stored with the same or a newer `mostRecentContent`:
    /// nothing was written.
    Unchanged,
    /// A stored engagement was removed.
    Deleted,
    /// A delete for an engagement that was not stored: nothing was written.
    DeletedMissing,
}

/// One transaction's effect, with the engagement as stored (for deletes: as sent, with
/// the stored times when it existed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementChange {
    pub kind: ChangeKind,
    pub engagement: Engagement,
}

/// A batch of engagement transactions to apply atomically.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    pub transactions: &'a [EngagementTransaction],
    /// Time written as `creationTime` / `updateTime`.
    pub now: EiTime,
    /// ProcessNotification-R5: when set, storing an engagement first removes the
    /// engagement with the same key owned by this (our own) index: the engagement has
    /// moved to the notifying index.
    pub superseded_owner: Option<&'a str>,
}

/// A notification to write to the outbox together with the engagements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxItem {
    /// Logical address of the subscriber.
    pub subscriber: String,
    /// The whole SOAP envelope to deliver.
    pub payload: Vec<u8>,
}

/// A stored, undelivered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub subscriber: String,
    pub payload: Vec<u8>,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    pub next_attempt: SystemTime,
    pub last_error: Option<String>,
}

/// Counts of what an applied batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub deleted_missing: usize,
    /// Outbox items written in the same database transaction.
    pub notifications: usize,
}

/// One page of GetUpdates: residents in ascending order, each with all its engagements
/// in the service domain changed at or after the time stamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdatesPage {
    pub residents: Vec<(ResidentId, Vec<Engagement>)>,
    /// `false` when more residents follow: ask again after the last one.
    pub complete: bool,
}

/// Decides, inside the database transaction, which notifications a batch's effects
/// produce. Called once per batch, after the engagements were written; an `Err` rolls
/// the whole batch back.
pub type NotificationPlanner<'a> =
    &'a (dyn Fn(&[EngagementChange]) -> std::result::Result<Vec<NewOutboxItem>, String> + 'a);

/// The durable state of the gateway.
pub trait Store: Send + Sync + Debug {
    /// Apply all transactions and write the notifications `plan` returns, in ONE database
    /// transaction: either everything is durable when this returns `Ok`, or nothing is
    /// (Update is all-or-nothing; an acknowledged update survives a crash together with
    /// its notifications).
    ///
    /// Rules: a new engagement gets `creationTime = now`; a stored one is changed only
    /// when the incoming `mostRecentContent` is newer (then `updateTime = now`), so a
    /// late, older update never hides newer content; a delete removes the engagement.
    /// Transactions are applied in order; the caller has rejected duplicate keys.
    fn apply_engagement_transactions(
        &self,
        request: ApplyRequest<'_>,
        plan: NotificationPlanner<'_>,
    ) -> Result<ApplyOutcome>;

    /// The engagements matching `query` (see [`FindQuery::matches`]), ordered by id.
    fn find_engagements(&self, query: &FindQuery) -> Result<Vec<Engagement>>;

    /// One engagement by id.
    fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>>;

    /// GetUpdates: engagements in `service_domain` created or changed at or after
    /// `since`, grouped by resident, residents after `after_resident` in ascending order,
    /// at most `max_residents` residents per page.
    fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage>;

    /// Notifications that may be delivered now, oldest first, at most `limit`. An item is
    /// due when its `next_attempt` has passed and so has that of every older item for the
    /// same subscriber: a subscriber sees notifications in the order they were written.
    fn outbox_due(&self, now: SystemTime, limit: usize) -> Result<Vec<OutboxItem>>;

    /// The earliest `next_attempt` over all items, if any (for the notifier's sleep).
    fn outbox_next_attempt(&self) -> Result<Option<SystemTime>>;

    /// The item was delivered: remove it.
    fn outbox_mark_delivered(&self, id: i64) -> Result<()>;

    /// A delivery failed: record it and try again at `next_attempt`.
    fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()>;

    /// Number of undelivered notifications (for status pages and tests).
    fn outbox_len(&self) -> Result<u64>;

    /// Undelivered notifications per subscriber, by subscriber (status pages: a
    /// subscriber that cannot be reached shows here with its head item's attempts and
    /// last error).
    fn outbox_backlog(&self) -> Result<Vec<SubscriberBacklog>>;
}

/// Undelivered notifications of one subscriber. Its oldest item (the head) holds back
/// the others: a subscriber gets its notifications in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberBacklog {
    pub subscriber: String,
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

/// Open the configured store (creating and migrating it when needed).
pub fn open(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::open(&config.path)?)),
    }
}
