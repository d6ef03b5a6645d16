//! The PDL access log (DESIGN.md "Consent under SVOD/PDL", specs/access-log.md).
//!
//! PDL 4:3 requires that every access to patient data is logged and that the log can be
//! reviewed ("who has read my data"). Every consent decision, allowed or denied, becomes
//! one [`AccessLogEntry`]. Entries are appended to a hash chain
//! ([`vaxel_store::access_log`]), so that an auditor can prove that no entry was
//! changed, removed or reordered ([`verify()`]).
//!
//! Writes are off the request path: [`AccessLog::record`] queues entries for a writer
//! thread that commits them in batches (group commit). [`AccessLog::record_durable`]
//! waits for the commit (emergency access: the log entry must be on disk before the
//! response leaves).

mod query;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub mod api;

pub use query::{query_by_patient, query_by_period, query_by_user};
pub use vaxel_store::access_log::{
    chain_hash, to_hex, AccessLogEntry, AccessLogQuery, AccessLogStore, BadChainHead, ChainHead,
    Decision, DecisionReason, EntryDecodeError, Subject, CANONICAL_VERSION, GENESIS_PREV_HASH,
};
pub use verify::{verify, verify_against, Break, BreakKind, VerifyReport};
pub use writer::{AccessLog, AccessLogStats};

/// Why the access log could not take or keep entries.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    /// The database refused the write (disk full, file locked too long, ...). The writer
    /// keeps retrying the batch; the caller MUST treat the entries as not yet durable
    /// (emergency access: refuse the response).
    #[error("the access log could not be written: {0}")]
    Store(String),
    /// The writer was shut down; nothing more can be logged.
    #[error("the access log writer has been shut down")]
    Closed,
}

impl From<vaxel_store::StoreError> for AccessLogError {
    fn from(e: vaxel_store::StoreError) -> Self {
        AccessLogError::Store(e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    pub(crate) use vaxel_store::testkit::access_log::entry;
}
