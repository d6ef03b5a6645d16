//! Review queries (PDL: the patient's right to know who has read their data; the care
//! giver's systematic follow-up of accesses). The lead wires these to the admin API.

use chrono::{DateTime, Utc};

use super::{AccessLogEntry, AccessLogError};
use crate::store::access_log::AccessLogStore;

/// Whose accesses to list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subject {
    /// Every access to this patient's data ("who has read my data").
    Patient(String),
    /// Every access by this user (HSA id).
    User(String),
    /// Every access in the period.
    Everyone,
}

/// A review query: `from` inclusive, `to` exclusive (both optional), at most `limit`
/// entries in chronological order (time, then seq).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogQuery {
    pub subject: Subject,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Accesses to `patient`'s data in [from, to), oldest first, at most `limit`, each with
/// its seq in the chain.
pub fn query_by_patient(
    store: &dyn AccessLogStore,
    patient: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    run(
        store,
        Subject::Patient(patient.to_string()),
        from,
        to,
        limit,
    )
}

/// Accesses by the user `user_hsa_id` in [from, to), oldest first, at most `limit`.
pub fn query_by_user(
    store: &dyn AccessLogStore,
    user_hsa_id: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    run(
        store,
        Subject::User(user_hsa_id.to_string()),
        from,
        to,
        limit,
    )
}

/// All accesses in [from, to), oldest first, at most `limit`.
pub fn query_by_period(
    store: &dyn AccessLogStore,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    run(store, Subject::Everyone, from, to, limit)
}

fn run(
    store: &dyn AccessLogStore,
    subject: Subject,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    Ok(store.query_access_log(&AccessLogQuery {
        subject,
        from,
        to,
        limit,
    })?)
}
