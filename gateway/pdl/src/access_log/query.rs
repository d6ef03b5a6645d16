//! Review queries (PDL: the patient's right to know who has read their data; the care
//! giver's systematic follow-up of accesses). The lead wires these to the admin API.

use chrono::{DateTime, Utc};

use vaxel_store::access_log::{AccessLogQuery, AccessLogStore, Subject};

use super::{AccessLogEntry, AccessLogError};

/// Accesses to `patient`'s data in [from, to), oldest first, at most `limit`, each with
/// its seq in the chain.
pub async fn query_by_patient(
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
    .await
}

/// Accesses by the user `user_hsa_id` in [from, to), oldest first, at most `limit`.
pub async fn query_by_user(
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
    .await
}

/// All accesses in [from, to), oldest first, at most `limit`.
pub async fn query_by_period(
    store: &dyn AccessLogStore,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    run(store, Subject::Everyone, from, to, limit).await
}

async fn run(
    store: &dyn AccessLogStore,
    subject: Subject,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<(u64, AccessLogEntry)>, AccessLogError> {
    Ok(store
        .query_access_log(&AccessLogQuery {
            from,
            to,
            ..AccessLogQuery::new(subject, limit)
        })
        .await?)
}
