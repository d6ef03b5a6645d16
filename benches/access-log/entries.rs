//! The access-log entry generator shared by benches/access-log and benches/cluster:
//! realistic 485-byte entries, 3 per request, 5000 users, 1,000,000 patients.

use chrono::{TimeZone, Utc};
use vaxel_pdl::access_log::{AccessLogEntry, Decision, DecisionReason};

/// Entries per request: one per source system that holds data for the patient.
pub const ENTRIES_PER_REQUEST: u64 = 3;

/// A cheap deterministic scramble (splitmix64), so patients and users are spread over the
/// key space as in real traffic instead of arriving in index order.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Entry `n`: request `n / 3` by one of 5000 users about one of 1,000,000 patients, one
/// entry per source system, three record ids each.
pub fn entry(n: u64) -> AccessLogEntry {
    let request = n / ENTRIES_PER_REQUEST;
    let r = mix(request);
    AccessLogEntry {
        time: Utc
            .timestamp_millis_opt(1_735_689_600_000 + request as i64)
            .unwrap(),
        correlation_id: format!("6f1c2a9e-4b7d-4c1e-9a55-{request:012x}"),
        user_hsa_id: format!("SE2321000016-{:05}", r % 5000),
        care_unit_hsa_id: format!("SE2321000016-E{:04}", r % 300),
        care_giver_hsa_id: "SE2321000016-1000".to_string(),
        patient_id: format!("19{:010}", (r >> 16) % 1_000_000),
        information_set: "care-documentation".to_string(),
        source_system_hsa_id: format!("SE2321000016-S{:03}", n % ENTRIES_PER_REQUEST),
        record_ids: (1..=3).map(|k| format!("voo-{n:010}-{k}")).collect(),
        decision: Decision::Allowed,
        reason: DecisionReason::Consent,
        emergency_reason: None,
        purpose: "care".to_string(),
        user_role: None,
    }
}
