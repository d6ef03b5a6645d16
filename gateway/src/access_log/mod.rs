//! The PDL access log (DESIGN.md "Consent under SVOD/PDL", specs/access-log.md).
//!
//! PDL 4:3 requires that every access to patient data is logged and that the log can be
//! reviewed ("who has read my data"). Every consent decision, allowed or denied, becomes
//! one [`AccessLogEntry`]. Entries are appended to a hash chain
//! ([`crate::store::access_log`]), so that an auditor can prove that no entry was
//! changed, removed or reordered ([`verify()`]).
//!
//! Writes are off the request path: [`AccessLog::record`] queues entries for a writer
//! thread that commits them in batches (group commit). [`AccessLog::record_durable`]
//! waits for the commit (emergency access: the log entry must be on disk before the
//! response leaves).

mod entry;
mod query;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub mod api;

pub use entry::{
    chain_hash, to_hex, AccessLogEntry, ChainHead, Decision, DecisionReason, EntryDecodeError,
    CANONICAL_VERSION, GENESIS_PREV_HASH,
};
pub use query::{query_by_patient, query_by_period, query_by_user, AccessLogQuery, Subject};
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
    /// A stored head or an `--expect-head` value is malformed.
    #[error("`{0}` is not a chain head: expected SEQ:HASH with HASH as 64 hexadecimal digits")]
    BadHead(String),
}

impl From<crate::store::StoreError> for AccessLogError {
    fn from(e: crate::store::StoreError) -> Self {
        AccessLogError::Store(e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use chrono::{TimeZone, Utc};

    use super::{AccessLogEntry, Decision, DecisionReason};

    /// A realistic entry: user at unit/care giver A reads three care documentation
    /// records of `patient` from another care giver's source system.
    pub(crate) fn entry(n: u64, patient: &str, user: &str) -> AccessLogEntry {
        AccessLogEntry {
            time: Utc
                .timestamp_millis_opt(1_700_000_000_000 + n as i64)
                .unwrap(),
            correlation_id: format!("corr-{n}"),
            user_hsa_id: user.to_string(),
            care_unit_hsa_id: "SE2321000016-UNIT1".to_string(),
            care_giver_hsa_id: "SE2321000016-CG1".to_string(),
            patient_id: patient.to_string(),
            information_set: "care-documentation".to_string(),
            source_system_hsa_id: "SE2321000016-SRC9".to_string(),
            record_ids: vec![
                format!("doc-{n}-1"),
                format!("doc-{n}-2"),
                format!("doc-{n}-3"),
            ],
            decision: Decision::Allowed,
            reason: DecisionReason::Consent,
            emergency_reason: None,
            purpose: "care".to_string(),
        }
    }
}
