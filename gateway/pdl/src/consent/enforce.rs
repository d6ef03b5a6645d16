//! Enforcement per record (issue "Consent, blocks and emergency access"): every record
//! an information-set adapter found in a journal answer goes through the decision table
//! ([`super::policy`]); denied records are removed, and every decision becomes an access
//! log entry (PDL 4:3), one per source system, decision and reason with the record ids.

use std::collections::BTreeMap;

use vaxel_adapter::Record;

use vaxel_model::{Cause, Fault};

use super::jwt::UserContext;
use super::policy::{AllowReason, Decision, DenyReason};
use super::ConsentService;
use crate::access_log::{self, AccessLogEntry, DecisionReason};

/// The access log's decision and reason for a consent decision.
pub fn log_decision(decision: Decision) -> (access_log::Decision, DecisionReason) {
    use access_log::Decision as Logged;
    match decision {
        Decision::Allow(AllowReason::SameCareGiver) => {
            (Logged::Allowed, DecisionReason::SameCareGiver)
        }
        Decision::Allow(AllowReason::Consent) => (Logged::Allowed, DecisionReason::Consent),
        Decision::Allow(AllowReason::EmergencyConsent) => {
            (Logged::Allowed, DecisionReason::EmergencyConsent)
        }
        Decision::AllowEmergency => (Logged::Emergency, DecisionReason::Emergency),
        Decision::Deny(DenyReason::BlockedCareGiver) => (Logged::Denied, DecisionReason::Blocked),
        Decision::Deny(DenyReason::BlockedCareUnit | DenyReason::BlockedUnknownCareUnit) => {
            (Logged::Denied, DecisionReason::BlockedCareUnit)
        }
        Decision::Deny(DenyReason::NoConsent) => (Logged::Denied, DecisionReason::NoConsent),
        Decision::Deny(DenyReason::ConsentOutOfScope) => {
            (Logged::Denied, DecisionReason::ConsentOutOfScope)
        }
        Decision::Deny(DenyReason::UnknownRecordCareGiver) => {
            (Logged::Denied, DecisionReason::UnknownRecordCareGiver)
        }
        Decision::Deny(DenyReason::InvalidPatientId) => {
            (Logged::Denied, DecisionReason::InvalidPatientId)
        }
    }
}

/// Keep the records `user` may see, append the access log entries for all of them to
/// `log`, and return how many were withheld. `asked` is the logical address the records
/// came from (used when a record does not name its source system).
#[allow(clippy::too_many_arguments)]
pub fn filter_records(
    consent: &ConsentService,
    user: &UserContext,
    patient: &str,
    information_set: &str,
    asked: &str,
    correlation_id: &str,
    records: &mut Vec<Record>,
    log: &mut Vec<AccessLogEntry>,
) -> usize {
    let now = vaxel_model::clock::now_utc();
    // (source system, decision, reason) → record ids, in a stable order.
    let mut groups: BTreeMap<(String, &'static str, &'static str), (Decision, Vec<String>)> =
        BTreeMap::new();
    let before = records.len();
    records.retain(|record| {
        let h = &record.header;
        let decision = consent.decide(
            user,
            patient,
            information_set,
            h.care_giver.as_deref(),
            h.care_unit.as_deref(),
            now,
        );
        let source = h.source_system.clone().unwrap_or_else(|| asked.to_string());
        let (logged, reason) = log_decision(decision);
        let group = groups
            .entry((source, logged.as_str(), reason.as_str()))
            .or_insert_with(|| (decision, Vec::new()));
        group
            .1
            .push(h.record_id.clone().unwrap_or_else(|| "(no id)".to_string()));
        decision.is_allowed()
    });
    for ((source, _, _), (decision, record_ids)) in groups {
        let (logged, reason) = log_decision(decision);
        log.push(AccessLogEntry {
            time: now,
            correlation_id: correlation_id.to_string(),
            user_hsa_id: user.user_hsa_id.clone(),
            care_unit_hsa_id: user.care_unit_hsa_id.clone(),
            care_giver_hsa_id: user.care_giver_hsa_id.clone(),
            patient_id: patient.to_string(),
            information_set: information_set.to_string(),
            source_system_hsa_id: source,
            record_ids,
            decision: logged,
            reason,
            emergency_reason: (logged == access_log::Decision::Emergency)
                .then(|| user.emergency_reason.clone())
                .flatten(),
            purpose: user.purpose.clone(),
        });
    }
    before - records.len()
}

/// Write the decisions of one answer to the PDL access log: durable before the answer
/// leaves when any is emergency access (PDL 6:4 must be reviewable), otherwise queued for
/// the batched writer (off the request path).
pub async fn write_access_log(
    log: Option<&crate::access_log::AccessLog>,
    entries: Vec<AccessLogEntry>,
) -> Result<(), Fault> {
    let Some(log) = log else { return Ok(()) };
    let emergency = entries
        .iter()
        .any(|e| e.decision == access_log::Decision::Emergency);
    if emergency {
        log.record_durable(entries).await.map_err(|e| {
            Fault::Producer(Cause::msg(format!(
                "emergency access cannot be answered: the access log could not be written ({e}); nothing was shown"
            )))
        })?;
    } else {
        log.record(entries).await;
    }
    Ok(())
}
