//! The citizen in the PDL access log (specs/access-log.md §1.2 and §9):
//!
//! - [`CitizenReadLog`]: the entries of one overview answer. Under PDL the patient's own
//!   reads are logged too: one entry per information set and source system, with the
//!   record ids shown, made by the citizen (for a guardian: by the GUARDIAN, about the
//!   child);
//! - [`citizen_extract`]: the patient's log extract (loggutdrag, PDL 8:1), newest first
//!   and paged, each entry mapped to what the patient is shown: when, which care giver
//!   and unit, in which role, why, and whether it was emergency access.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use vaxel_store::access_log::{AccessLogQuery, AccessLogStore, Order, Subject};

use super::identity::CitizenContext;
use crate::access_log::{AccessLogEntry, AccessLogError, Decision, DecisionReason};

/// `purpose` of a citizen's own reads.
pub const CITIZEN_PURPOSE: &str = "citizen-access";
/// Written when a record has no id (as for care staff's reads).
const NO_RECORD_ID: &str = "(no id)";

/// Collects the records one overview answer shows, and turns them into access log
/// entries: one per (information set, source system), in that order, records in the
/// order they were added.
#[derive(Debug)]
pub struct CitizenReadLog<'a> {
    reader: &'a CitizenContext,
    correlation_id: &'a str,
    shown: BTreeMap<(String, String), Vec<String>>,
}

impl<'a> CitizenReadLog<'a> {
    pub fn new(reader: &'a CitizenContext, correlation_id: &'a str) -> CitizenReadLog<'a> {
        CitizenReadLog {
            reader,
            correlation_id,
            shown: BTreeMap::new(),
        }
    }

    /// A record shown to the citizen. Records the patient-facing rules withheld are not
    /// added: they were not disclosed. `source_system`: the record's source system, or
    /// the logical address asked when it names none.
    pub fn shown(&mut self, information_set: &str, source_system: &str, record_id: Option<&str>) {
        self.shown
            .entry((information_set.to_string(), source_system.to_string()))
            .or_default()
            .push(record_id.unwrap_or(NO_RECORD_ID).to_string());
    }

    /// Whether no record was added (then there is nothing to log).
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// The entries, all at `time` (when the answer was given). Empty when nothing was
    /// shown: an answer without records writes no entry.
    pub fn into_entries(self, time: DateTime<Utc>) -> Vec<AccessLogEntry> {
        let reader = self.reader;
        self.shown
            .into_iter()
            .map(|((information_set, source), record_ids)| AccessLogEntry {
                time,
                correlation_id: self.correlation_id.to_string(),
                // The person who read: for a guardian, the guardian (specs/access-log.md §1.2).
                user_hsa_id: reader.citizen.clone(),
                // The reader acted for no care unit or care giver.
                care_unit_hsa_id: String::new(),
                care_giver_hsa_id: String::new(),
                patient_id: reader.patient.clone(),
                information_set,
                source_system_hsa_id: source,
                record_ids,
                decision: Decision::Allowed,
                reason: reader.acting_as.log_reason(),
                emergency_reason: None,
                purpose: CITIZEN_PURPOSE.to_string(),
                user_role: Some(reader.acting_as.user_role().to_string()),
            })
            .collect()
    }
}

/// Entries per extract page when the caller names no size.
pub const DEFAULT_EXTRACT_PAGE_SIZE: usize = 50;
/// Largest extract page.
pub const MAX_EXTRACT_PAGE_SIZE: usize = 200;
/// Deepest page: `MAX_EXTRACT_PAGES × page_size` entries back (every page is one index
/// range scan that skips the pages before it).
pub const MAX_EXTRACT_PAGES: usize = 10_000;

/// One access to the patient's records, as the patient is shown it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractItem {
    /// When, UTC, RFC 3339 with milliseconds (`2025-03-01T08:15:02.047Z`).
    pub time: String,
    /// The reader's care giver (HSA id); `null` for a citizen's or guardian's own read.
    pub care_giver: Option<String>,
    /// The reader's care unit (HSA id); `null` for a citizen's or guardian's own read.
    pub care_unit: Option<String>,
    /// The reader's role (e.g. `Läkare`; `citizen`, `guardian`); `null` when the entry
    /// has none (entries written before roles were logged, or tokens without the claim).
    pub user_role: Option<String>,
    /// Why they read (the user context's `purpose`; `citizen-access`).
    pub purpose: String,
    /// `allowed`, `emergency` or `denied` (then nothing was shown to the reader).
    pub decision: Decision,
    /// The access log reason (specs/access-log.md §1.1).
    pub reason: DecisionReason,
    /// Emergency access (nödåtkomst, PDL 6:4): read without consent.
    pub emergency: bool,
    /// e.g. `care-documentation`.
    pub information_set: String,
    /// How many records the access concerned.
    pub record_count: usize,
}

impl ExtractItem {
    /// What the patient is shown of an entry about them. Not the reader's own identity
    /// (HSA id or personal number), not the emergency's stated reason, not record ids:
    /// see specs/access-log.md §9.
    pub fn from_entry(e: &AccessLogEntry) -> ExtractItem {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ExtractItem {
            time: e.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            care_giver: non_empty(&e.care_giver_hsa_id),
            care_unit: non_empty(&e.care_unit_hsa_id),
            user_role: e.user_role.clone(),
            purpose: e.purpose.clone(),
            decision: e.decision,
            reason: e.reason,
            emergency: e.decision == Decision::Emergency,
            information_set: e.information_set.clone(),
            record_count: e.record_ids.len(),
        }
    }
}

/// One page of a patient's log extract, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractPage {
    /// This page's number, from 1.
    pub page: usize,
    pub page_size: usize,
    /// Whether an older page follows.
    pub has_more: bool,
    pub items: Vec<ExtractItem>,
}

/// Why an extract could not be given.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The page or page size is out of range (answer 400).
    #[error("`{field}` must be 1 to {max}")]
    OutOfRange { field: &'static str, max: usize },
    /// The log could not be read (answer 500; details in the process log).
    #[error(transparent)]
    Log(#[from] AccessLogError),
}

/// The access log entries about `patient` (12 digits), newest first (by time, then
/// seq), page `page` (from 1) of `page_size` entries (`None`: 50; at most 200), each as
/// the patient is shown it. Every entry is listed, also denied ones (someone tried and
/// was shown nothing) and the citizen's and guardians' own reads.
pub async fn citizen_extract(
    store: &dyn AccessLogStore,
    patient: &str,
    page: usize,
    page_size: Option<usize>,
) -> Result<ExtractPage, ExtractError> {
    let page_size = page_size.unwrap_or(DEFAULT_EXTRACT_PAGE_SIZE);
    if !(1..=MAX_EXTRACT_PAGE_SIZE).contains(&page_size) {
        return Err(ExtractError::OutOfRange {
            field: "page_size",
            max: MAX_EXTRACT_PAGE_SIZE,
        });
    }
    if !(1..=MAX_EXTRACT_PAGES).contains(&page) {
        return Err(ExtractError::OutOfRange {
            field: "page",
            max: MAX_EXTRACT_PAGES,
        });
    }
    // One more than the page: whether an older page exists, without counting them all.
    let query = AccessLogQuery {
        offset: (page - 1) * page_size,
        order: Order::NewestFirst,
        ..AccessLogQuery::new(Subject::Patient(patient.to_string()), page_size + 1)
    };
    let mut found = store
        .query_access_log(&query)
        .await
        .map_err(AccessLogError::from)?;
    let has_more = found.len() > page_size;
    found.truncate(page_size);
    Ok(ExtractPage {
        page,
        page_size,
        has_more,
        items: found
            .iter()
            .map(|(_, e)| ExtractItem::from_entry(e))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use vaxel_store_sqlite::SqliteAccessLogStore;

    use super::*;
    use crate::access_log::testing::entry;
    use crate::citizen::identity::ActingAs;

    const CHILD: &str = "201206152382";
    const GUARDIAN: &str = "198112189876";

    fn context(acting_as: ActingAs) -> CitizenContext {
        CitizenContext {
            citizen: GUARDIAN.into(),
            patient: if acting_as == ActingAs::Guardian {
                CHILD.into()
            } else {
                GUARDIAN.into()
            },
            acting_as,
            loa: 3,
            issuer: "https://idp.example".into(),
        }
    }

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_750_000_000_000 + ms).unwrap()
    }

    #[test]
    fn one_entry_per_information_set_and_source_with_the_records_shown() {
        let me = context(ActingAs::Patient);
        let mut log = CitizenReadLog::new(&me, "corr-c1");
        assert!(log.is_empty());
        log.shown("diagnosis", "SRC-B", Some("d1"));
        log.shown("care-documentation", "SRC-A", Some("c1"));
        log.shown("diagnosis", "SRC-B", None);
        log.shown("diagnosis", "SRC-A", Some("d2"));
        let entries = log.into_entries(t(0));
        let summary: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.information_set.as_str(),
                    e.source_system_hsa_id.as_str(),
                    e.record_ids.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("care-documentation", "SRC-A", vec!["c1".to_string()]),
                ("diagnosis", "SRC-A", vec!["d2".to_string()]),
                (
                    "diagnosis",
                    "SRC-B",
                    vec!["d1".to_string(), "(no id)".to_string()]
                ),
            ]
        );
        let e = &entries[0];
        assert_eq!(e.user_hsa_id, GUARDIAN);
        assert_eq!(e.patient_id, GUARDIAN);
        assert_eq!(
            (e.care_unit_hsa_id.as_str(), e.care_giver_hsa_id.as_str()),
            ("", "")
        );
        assert_eq!(
            (e.decision, e.reason),
            (Decision::Allowed, DecisionReason::OwnRecords)
        );
        assert_eq!(e.purpose, "citizen-access");
        assert_eq!(e.user_role.as_deref(), Some("citizen"));
        assert_eq!(e.emergency_reason, None);
        assert_eq!(e.correlation_id, "corr-c1");
        assert_eq!(e.time, t(0));
        // A role makes it a version 2 entry; it round-trips as every entry must.
        let bytes = e.canonical_bytes();
        assert!(bytes.starts_with(br#"{"v":2,"#));
        assert_eq!(&AccessLogEntry::from_canonical(&bytes).unwrap(), e);
    }

    #[test]
    fn a_guardian_read_is_logged_as_made_by_the_guardian_about_the_child() {
        let guardian = context(ActingAs::Guardian);
        let mut log = CitizenReadLog::new(&guardian, "corr-g1");
        log.shown("vaccination-history", "SRC-V", Some("v1"));
        let entries = log.into_entries(t(0));
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.user_hsa_id, GUARDIAN);
        assert_eq!(e.patient_id, CHILD);
        assert_eq!(
            (e.decision, e.reason),
            (Decision::Allowed, DecisionReason::Guardian)
        );
        assert_eq!(e.user_role.as_deref(), Some("guardian"));
    }

    #[test]
    fn nothing_shown_writes_nothing() {
        let me = context(ActingAs::Patient);
        assert!(CitizenReadLog::new(&me, "c").into_entries(t(0)).is_empty());
    }

    /// The patient's log: a doctor's consented read, an emergency access, a denied
    /// attempt, an entry written before roles existed, the guardian's own read, and one
    /// about somebody else.
    async fn patient_log(path: &std::path::Path) -> SqliteAccessLogStore {
        let store = SqliteAccessLogStore::open(path).unwrap();
        let mut doctor = entry(1, CHILD, "SE2321000016-DOC1");
        doctor.user_role = Some("Läkare".into());
        let mut emergency = entry(2, CHILD, "SE2321000016-DOC2");
        emergency.decision = Decision::Emergency;
        emergency.reason = DecisionReason::Emergency;
        emergency.emergency_reason = Some("unconscious".into());
        emergency.user_role = Some("Sjuksköterska".into());
        let mut denied = entry(3, CHILD, "SE2321000016-DOC3");
        denied.decision = Decision::Denied;
        denied.reason = DecisionReason::Blocked;
        denied.record_ids = vec!["x".into()];
        let old = entry(4, CHILD, "SE2321000016-DOC4");
        let guardian = context(ActingAs::Guardian);
        let mut own = CitizenReadLog::new(&guardian, "corr-g");
        own.shown("diagnosis", "SRC-D", Some("d1"));
        let own = own.into_entries(entry(5, CHILD, "").time);
        let other = entry(6, "191212121212", "SE2321000016-DOC1");
        let mut all = vec![doctor, emergency, denied, old];
        all.extend(own);
        all.push(other);
        store.append_access_log(&all).await.unwrap();
        store
    }

    #[tokio::test]
    async fn the_extract_is_newest_first_and_shows_role_unit_and_emergency() {
        let dir = tempfile::tempdir().unwrap();
        let store = patient_log(&dir.path().join("x.db")).await;
        let page = citizen_extract(&store, CHILD, 1, None).await.unwrap();
        assert_eq!((page.page, page.page_size, page.has_more), (1, 50, false));
        let roles: Vec<_> = page.items.iter().map(|i| i.user_role.as_deref()).collect();
        assert_eq!(
            roles,
            [
                Some("guardian"),
                None,
                None,
                Some("Sjuksköterska"),
                Some("Läkare")
            ],
            "newest first, only this patient's entries"
        );
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(
            json["items"][3],
            json!({
                "time": "2023-11-14T22:13:20.002Z",
                "care_giver": "SE2321000016-CG1",
                "care_unit": "SE2321000016-UNIT1",
                "user_role": "Sjuksköterska",
                "purpose": "care",
                "decision": "emergency",
                "reason": "emergency",
                "emergency": true,
                "information_set": "care-documentation",
                "record_count": 3,
            })
        );
        assert_eq!(
            json["items"][0],
            json!({
                "time": "2023-11-14T22:13:20.005Z",
                "care_giver": null,
                "care_unit": null,
                "user_role": "guardian",
                "purpose": "citizen-access",
                "decision": "allowed",
                "reason": "guardian",
                "emergency": false,
                "information_set": "diagnosis",
                "record_count": 1,
            })
        );
        assert_eq!(json["items"][2]["decision"], "denied");
        assert_eq!(json["items"][2]["reason"], "blocked");
        // Never the reader's identity, the emergency's stated reason or record ids.
        let text = json.to_string();
        for hidden in [
            "SE2321000016-DOC",
            GUARDIAN,
            "unconscious",
            "doc-1-1",
            "corr-",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
    }

    #[tokio::test]
    async fn the_extract_pages_with_has_more() {
        let dir = tempfile::tempdir().unwrap();
        let store = patient_log(&dir.path().join("p.db")).await;
        let times = |p: &ExtractPage| -> Vec<String> {
            p.items.iter().map(|i| i.time[20..23].to_string()).collect()
        };
        let p1 = citizen_extract(&store, CHILD, 1, Some(2)).await.unwrap();
        assert_eq!(
            (times(&p1), p1.has_more),
            (vec!["005".into(), "004".into()], true)
        );
        let p2 = citizen_extract(&store, CHILD, 2, Some(2)).await.unwrap();
        assert_eq!(
            (times(&p2), p2.has_more),
            (vec!["003".into(), "002".into()], true)
        );
        let p3 = citizen_extract(&store, CHILD, 3, Some(2)).await.unwrap();
        assert_eq!((times(&p3), p3.has_more), (vec!["001".into()], false));
        let p4 = citizen_extract(&store, CHILD, 4, Some(2)).await.unwrap();
        assert!(p4.items.is_empty() && !p4.has_more);
        let exact = citizen_extract(&store, CHILD, 1, Some(5)).await.unwrap();
        assert_eq!((exact.items.len(), exact.has_more), (5, false));
        let nobody = citizen_extract(&store, "190101010101", 1, None)
            .await
            .unwrap();
        assert!(nobody.items.is_empty());
    }

    #[tokio::test]
    async fn page_and_size_out_of_range_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccessLogStore::open(&dir.path().join("r.db")).unwrap();
        for (page, size, field) in [
            (0, None, "page"),
            (MAX_EXTRACT_PAGES + 1, None, "page"),
            (1, Some(0), "page_size"),
            (1, Some(MAX_EXTRACT_PAGE_SIZE + 1), "page_size"),
        ] {
            match citizen_extract(&store, CHILD, page, size).await {
                Err(ExtractError::OutOfRange { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{page} {size:?}: {other:?}"),
            }
        }
        assert!(
            citizen_extract(&store, CHILD, 1, Some(MAX_EXTRACT_PAGE_SIZE))
                .await
                .is_ok()
        );
    }
}
