//! Enforcement per record (issue "Consent, blocks and emergency access"): every record
//! an information-set adapter found in a journal answer goes through the decision table
//! ([`super::policy`]); denied records are removed, and every decision becomes an access
//! log entry (PDL 4:3), one per source system, decision and reason with the record ids.

use std::collections::BTreeMap;

use vaxel_adapter::Record;

use vaxel_model::{Cause, Fault};
use vaxel_telemetry::metrics;

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
/// came from (used when a record does not name its source system). `information_set`
/// is an adapter's descriptor name (`InformationSetDescriptor::name`): `'static`,
/// because it is also a metrics label value and must come from that fixed list.
#[allow(clippy::too_many_arguments)]
pub fn filter_records(
    consent: &ConsentService,
    user: &UserContext,
    patient: &str,
    information_set: &'static str,
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
    let m = metrics();
    for ((source, _, _), (decision, record_ids)) in groups {
        let (logged, reason) = log_decision(decision);
        // One count per record, added per group (one atomic add instead of one per record).
        m.consent_decisions
            .get_or_create(&[("decision", logged.as_str()), ("reason", reason.as_str())])
            .inc_by(record_ids.len() as u64);
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
            user_role: user.user_role.clone(),
        });
    }
    let withheld = before - records.len();
    if withheld > 0 {
        m.consent_withheld
            .get_or_create(&[("information_set", information_set)])
            .inc_by(withheld as u64);
    }
    withheld
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vaxel_adapter::RecordHeader;
    use vaxel_store_sqlite::SqliteStore;

    use super::*;
    use crate::config::ConsentConfig;

    /// Used by this test only: its withheld series is not shared with other tests in the
    /// process, so its delta is exact.
    const SET: &str = "test-enforce-metrics";

    fn record(id: &str, source: &str, care_giver: Option<&str>) -> Record {
        Record {
            span: 0..0,
            inherited_namespaces: Vec::new(),
            header: RecordHeader {
                record_id: Some(id.into()),
                source_system: Some(source.into()),
                care_giver: care_giver.map(Into::into),
                ..RecordHeader::default()
            },
            interval: None,
            times: Vec::new(),
        }
    }

    fn decisions(decision: &'static str, reason: &'static str) -> u64 {
        metrics()
            .consent_decisions
            .get_or_create(&[("decision", decision), ("reason", reason)])
            .get()
    }

    fn withheld() -> u64 {
        metrics()
            .consent_withheld
            .get_or_create(&[("information_set", SET)])
            .get()
    }

    #[tokio::test]
    async fn filter_records_counts_decisions_per_record_and_withheld_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
        let consent = ConsentService::new(ConsentConfig::default(), store)
            .await
            .unwrap();
        let user = UserContext {
            user_hsa_id: "SE-U1".into(),
            care_unit_hsa_id: "SE-CU-ME".into(),
            care_giver_hsa_id: "SE-CG-ME".into(),
            purpose: "care".into(),
            emergency_reason: None,
            roles: vec![],
            token_id: None,
            user_role: Some("Läkare".into()),
        };
        // Two own records, three of another care giver without consent (from two source
        // systems: two groups with one label set) and one that names no care giver.
        let mut records = vec![
            record("r1", "SRC1", Some("SE-CG-ME")),
            record("r2", "SRC2", Some("SE-CG-ME")),
            record("r3", "SRC1", Some("SE-CG-OTHER")),
            record("r4", "SRC2", Some("SE-CG-OTHER")),
            record("r5", "SRC2", Some("SE-CG-OTHER")),
            record("r6", "SRC1", None),
        ];
        let allowed = ("allowed", "same-care-giver");
        let no_consent = ("denied", "no-consent");
        let unknown = ("denied", "unknown-record-care-giver");
        let before = [allowed, no_consent, unknown].map(|(d, r)| decisions(d, r));
        let withheld_before = withheld();

        let mut log = Vec::new();
        let n = filter_records(
            &consent,
            &user,
            "191212121212",
            SET,
            "SE-LA",
            "corr-1",
            &mut records,
            &mut log,
        );

        assert_eq!(n, 4);
        assert_eq!(records.len(), 2);
        // Every entry carries the user's role from the token (the patient's extract).
        assert!(!log.is_empty());
        assert!(log.iter().all(|e| e.user_role.as_deref() == Some("Läkare")));
        assert_eq!(withheld() - withheld_before, 4);
        let after = [allowed, no_consent, unknown].map(|(d, r)| decisions(d, r));
        // The decision series have no test-specific label: another test deciding records
        // at the same time could add to them, so these are lower bounds.
        for ((b, a), want) in before.iter().zip(after).zip([2, 3, 1]) {
            assert!(a - b >= want, "{before:?} -> {after:?}");
        }
    }
}
