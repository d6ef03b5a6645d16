//! The patient-facing rules: what a citizen (or a guardian) sees of the patient's OWN
//! records (specs/user-context.md "Patient-facing rules (the citizen's own access)").
//!
//! They apply after the information-set adapter has read each record, instead of the
//! care staff's decision table: consents and blocks (spärr) govern what care staff of
//! other care givers may read, and never hide anything from the patient. What can hide
//! a record from the patient is the care giver's own judgement that it is not (yet) for
//! the patient: the record's "approved for patient" flag, and a delay before new records
//! of some information sets are shown (a result the clinician should explain first).
//!
//! Rows, in order; the first that matches decides:
//! 1. the record says it is not approved for the patient → withhold
//!    (`not-approved-for-patient`);
//! 2. the contract has the flag but the record lacks it, or it cannot be read → withhold
//!    (`not-approved-for-patient`): fail closed;
//! 3. a delay applies to the record's information set and care giver, and the record's
//!    time plus the delay is after now → withhold (`delayed`, with the time it will be
//!    shown);
//! 4. a delay applies and the record has no readable time → withhold (`delayed`): fail
//!    closed;
//! 5. otherwise → show (a contract without the flag counts as approved).
//!
//! Pure: no I/O, no clock; `now` is passed in. Record times carry no zone; like the
//! engagement index's, they are the local (Swedish) time of the gateway's host
//! ([`vaxel_model::clock::now_local`] gives the matching `now`).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use serde::Serialize;

use super::config::{CitizenConfig, DelayCareGiver};

/// What the record says about being shown to the patient (`approvedForPatient`,
/// "godkänd för patient").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Approval {
    /// The record is approved for the patient (`true`).
    Approved,
    /// The record is NOT approved for the patient (`false`).
    NotApproved,
    /// The contract has the flag, but this record lacks it or it cannot be read.
    Missing,
    /// The contract has no such flag (e.g. booked times): counts as approved.
    NoFlagInContract,
}

impl Approval {
    /// From what an adapter read: whether the contract has the flag, and the record's
    /// value (`None`: absent or not an `xs:boolean`).
    pub fn from_flag(contract_has_flag: bool, value: Option<bool>) -> Approval {
        match (contract_has_flag, value) {
            (false, _) => Approval::NoFlagInContract,
            (true, Some(true)) => Approval::Approved,
            (true, Some(false)) => Approval::NotApproved,
            (true, None) => Approval::Missing,
        }
    }
}

/// Why a record of the patient's own is not shown to them (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WithholdReason {
    /// Rows 1 and 2: the care giver has not approved it for the patient.
    NotApprovedForPatient,
    /// Rows 3 and 4: a delay applies. `shown_from`: the local time from which it is shown;
    /// `None` when the record has no readable time (row 4: not shown until it has one).
    Delayed { shown_from: Option<NaiveDateTime> },
}

impl WithholdReason {
    /// The stable name (API, counts).
    pub fn as_str(self) -> &'static str {
        match self {
            WithholdReason::NotApprovedForPatient => "not-approved-for-patient",
            WithholdReason::Delayed { .. } => "delayed",
        }
    }
}

/// The outcome for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Release {
    Show,
    Withhold(WithholdReason),
}

impl Release {
    pub fn is_shown(self) -> bool {
        self == Release::Show
    }
}

/// Records withheld from one answer, by reason: the overview says that more exists
/// ("information exists that is not shown yet") without showing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WithheldCounts {
    /// `not-approved-for-patient` (rows 1 and 2).
    pub not_approved_for_patient: u64,
    /// `delayed` (rows 3 and 4).
    pub delayed: u64,
}

impl WithheldCounts {
    /// Count one withheld record (a shown one counts nothing).
    pub fn add(&mut self, release: Release) {
        match release {
            Release::Show => {}
            Release::Withhold(WithholdReason::NotApprovedForPatient) => {
                self.not_approved_for_patient += 1
            }
            Release::Withhold(WithholdReason::Delayed { .. }) => self.delayed += 1,
        }
    }

    /// Add another answer's counts (one per source or information set).
    pub fn merge(&mut self, other: WithheldCounts) {
        self.not_approved_for_patient += other.not_approved_for_patient;
        self.delayed += other.delayed;
    }

    pub fn total(&self) -> u64 {
        self.not_approved_for_patient + self.delayed
    }
}

/// The delays of one information set.
#[derive(Debug, Clone, Default)]
struct SetDelays {
    /// `care_giver = "*"`.
    any: Option<TimeDelta>,
    /// By care giver HSA id, upper-cased (HSA ids compare ASCII case-insensitively).
    by_care_giver: HashMap<String, TimeDelta>,
    /// The longest of all: for a record that does not name its care giver (fail closed).
    longest: TimeDelta,
}

/// The patient-facing rules of `[citizen]`. Immutable and cheap to share.
#[derive(Debug, Clone, Default)]
pub struct ReleaseRules {
    /// By information set name, lower-cased.
    delays: HashMap<String, SetDelays>,
}

impl ReleaseRules {
    pub fn from_config(config: &CitizenConfig) -> ReleaseRules {
        let mut delays: HashMap<String, SetDelays> = HashMap::new();
        for d in &config.delays {
            let set = delays
                .entry(d.information_set.to_ascii_lowercase())
                .or_default();
            // Validation bounds delays to about ten years: no overflow.
            let delay = TimeDelta::from_std(d.delay).unwrap_or(TimeDelta::MAX);
            match &d.care_giver {
                DelayCareGiver::Any => set.any = Some(delay),
                DelayCareGiver::Only(cg) => {
                    set.by_care_giver.insert(cg.to_ascii_uppercase(), delay);
                }
            }
            set.longest = set.longest.max(delay);
        }
        ReleaseRules { delays }
    }

    /// The delay for records of `information_set` from `care_giver`: the care giver's
    /// own entry, else `"*"`; for a record that names no care giver, the longest delay of
    /// the set (it may be any care giver's). `None`: no delay applies.
    pub fn delay_for(&self, information_set: &str, care_giver: Option<&str>) -> Option<TimeDelta> {
        let set = self.delays.get(&information_set.to_ascii_lowercase())?;
        match care_giver.map(str::trim).filter(|c| !c.is_empty()) {
            None => Some(set.longest),
            Some(cg) => set
                .by_care_giver
                .get(&cg.to_ascii_uppercase())
                .copied()
                .or(set.any),
        }
    }

    /// The decision table for one record (module head, rows 1–5). `record_time` as the
    /// record carries it: `yyyyMMddHHmmss` or `yyyyMMdd` (local time); `now` local time.
    pub fn decide(
        &self,
        information_set: &str,
        record_care_giver: Option<&str>,
        approval: Approval,
        record_time: Option<&str>,
        now: NaiveDateTime,
    ) -> Release {
        match approval {
            // Rows 1 and 2.
            Approval::NotApproved | Approval::Missing => {
                return Release::Withhold(WithholdReason::NotApprovedForPatient)
            }
            Approval::Approved | Approval::NoFlagInContract => {}
        }
        let Some(delay) = self.delay_for(information_set, record_care_giver) else {
            return Release::Show; // Row 5.
        };
        match record_time.and_then(record_instant) {
            // Row 4.
            None => Release::Withhold(WithholdReason::Delayed { shown_from: None }),
            Some(t) => {
                let shown_from = t.checked_add_signed(delay).unwrap_or(NaiveDateTime::MAX);
                if shown_from > now {
                    // Row 3.
                    Release::Withhold(WithholdReason::Delayed {
                        shown_from: Some(shown_from),
                    })
                } else {
                    Release::Show // Row 5 (at exactly the record's time + delay: shown).
                }
            }
        }
    }
}

/// The instant a record's time stands for: `yyyyMMddHHmmss` as it is; a date alone
/// (`yyyyMMdd`) as the END of that day (the next midnight), because the record may be
/// from any time of it and a delay must not end early. Anything else: `None`.
pub fn record_instant(t: &str) -> Option<NaiveDateTime> {
    let t = t.trim();
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match t.len() {
        14 => NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S").ok(),
        8 => NaiveDate::parse_from_str(t, "%Y%m%d")
            .ok()?
            .succ_opt()?
            .and_hms_opt(0, 0, 0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::citizen::config::ReleaseDelay;

    const LAB: &str = "laboratory-outcome-3";
    const CG_FAST: &str = "SE2321000016-FAST";
    const CG_OTHER: &str = "SE2321000016-OTHER";

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").unwrap()
    }

    /// Lab results: 14 days from every care giver, 2 hours from CG_FAST; diagnoses: none.
    fn rules() -> ReleaseRules {
        let delay = |cg: DelayCareGiver, secs: u64| ReleaseDelay {
            information_set: LAB.into(),
            care_giver: cg,
            delay: Duration::from_secs(secs),
        };
        ReleaseRules::from_config(&CitizenConfig {
            delays: vec![
                delay(DelayCareGiver::Any, 14 * 86_400),
                delay(DelayCareGiver::Only(CG_FAST.into()), 2 * 3_600),
            ],
            ..CitizenConfig::default()
        })
    }

    fn decide(
        set: &str,
        cg: Option<&str>,
        approval: Approval,
        time: Option<&str>,
        now: &str,
    ) -> Release {
        rules().decide(set, cg, approval, time, at(now))
    }

    fn delayed(until: Option<&str>) -> Release {
        Release::Withhold(WithholdReason::Delayed {
            shown_from: until.map(at),
        })
    }

    const NOT_APPROVED: Release = Release::Withhold(WithholdReason::NotApprovedForPatient);
    const NOW: &str = "20250601120000";

    #[test]
    fn row_1_not_approved_is_withheld_even_without_a_delay() {
        let r = decide(
            "diagnosis",
            Some(CG_OTHER),
            Approval::NotApproved,
            Some("20200101000000"),
            NOW,
        );
        assert_eq!(r, NOT_APPROVED);
        assert!(!r.is_shown());
    }

    #[test]
    fn row_2_a_missing_flag_fails_closed() {
        let r = decide(
            "diagnosis",
            Some(CG_OTHER),
            Approval::Missing,
            Some("20200101000000"),
            NOW,
        );
        assert_eq!(r, NOT_APPROVED);
        // Rows 1-2 come before the delay rows: an unapproved delayed record says why.
        let r = decide(
            LAB,
            Some(CG_OTHER),
            Approval::Missing,
            Some("20250601110000"),
            NOW,
        );
        assert_eq!(r, NOT_APPROVED);
    }

    #[test]
    fn row_3_a_recent_record_under_a_delay_is_withheld_until_its_time() {
        // "*": 14 days.
        let r = decide(
            LAB,
            Some(CG_OTHER),
            Approval::Approved,
            Some("20250520080000"),
            NOW,
        );
        assert_eq!(r, delayed(Some("20250603080000")));
        // The care giver's own entry wins over "*", whatever the letter case.
        let r = decide(
            LAB,
            Some("se2321000016-fast"),
            Approval::Approved,
            Some("20250601110000"),
            NOW,
        );
        assert_eq!(r, delayed(Some("20250601130000")));
        // The information set name compares case-insensitively.
        let r = decide(
            "Laboratory-Outcome-3",
            Some(CG_OTHER),
            Approval::Approved,
            Some("20250601110000"),
            NOW,
        );
        assert_eq!(r, delayed(Some("20250615110000")));
    }

    #[test]
    fn row_3_boundary_exactly_at_the_delay_is_shown() {
        let exactly = decide(
            LAB,
            Some(CG_FAST),
            Approval::Approved,
            Some("20250601100000"),
            NOW,
        );
        assert_eq!(exactly, Release::Show);
        let a_second_before = decide(
            LAB,
            Some(CG_FAST),
            Approval::Approved,
            Some("20250601100001"),
            NOW,
        );
        assert_eq!(a_second_before, delayed(Some("20250601120001")));
        let fourteen_days = decide(
            LAB,
            Some(CG_OTHER),
            Approval::Approved,
            Some("20250518120000"),
            NOW,
        );
        assert_eq!(fourteen_days, Release::Show);
    }

    #[test]
    fn row_3_a_date_only_record_counts_from_the_end_of_its_day() {
        // 2025-05-18 is shown from 2025-06-02 00:00 (end of the 18th + 14 days).
        let r = decide(
            LAB,
            Some(CG_OTHER),
            Approval::Approved,
            Some("20250518"),
            NOW,
        );
        assert_eq!(r, delayed(Some("20250602000000")));
        let r = decide(
            LAB,
            Some(CG_OTHER),
            Approval::Approved,
            Some("20250518"),
            "20250602000000",
        );
        assert_eq!(r, Release::Show);
    }

    #[test]
    fn row_3_a_record_without_a_care_giver_gets_the_longest_delay() {
        let r = decide(LAB, None, Approval::Approved, Some("20250601110000"), NOW);
        assert_eq!(r, delayed(Some("20250615110000")));
        let r = decide(
            LAB,
            Some("  "),
            Approval::Approved,
            Some("20250601110000"),
            NOW,
        );
        assert_eq!(r, delayed(Some("20250615110000")));
    }

    #[test]
    fn row_4_a_delay_and_no_readable_time_fails_closed() {
        for time in [
            None,
            Some(""),
            Some("2025-06-01"),
            Some("20251301000000"),
            Some("202506011200"),
        ] {
            let r = decide(LAB, Some(CG_OTHER), Approval::Approved, time, NOW);
            assert_eq!(r, delayed(None), "{time:?}");
        }
    }

    #[test]
    fn row_5_otherwise_shown() {
        // No delay for the set: shown, whatever the time (even none).
        assert_eq!(
            decide("diagnosis", Some(CG_OTHER), Approval::Approved, None, NOW),
            Release::Show
        );
        // No flag in the contract (booked times) counts as approved.
        assert_eq!(
            decide(
                "scheduling",
                None,
                Approval::NoFlagInContract,
                Some("20250601110000"),
                NOW
            ),
            Release::Show
        );
        // An old enough result.
        assert_eq!(
            decide(
                LAB,
                Some(CG_OTHER),
                Approval::NoFlagInContract,
                Some("20250101000000"),
                NOW
            ),
            Release::Show
        );
    }

    #[test]
    fn a_zero_delay_for_one_care_giver_overrides_the_default() {
        let rules = ReleaseRules::from_config(&CitizenConfig {
            delays: vec![
                ReleaseDelay {
                    information_set: LAB.into(),
                    care_giver: DelayCareGiver::Any,
                    delay: Duration::from_secs(86_400),
                },
                ReleaseDelay {
                    information_set: LAB.into(),
                    care_giver: DelayCareGiver::Only(CG_FAST.into()),
                    delay: Duration::ZERO,
                },
            ],
            ..CitizenConfig::default()
        });
        assert_eq!(
            rules.decide(LAB, Some(CG_FAST), Approval::Approved, Some(NOW), at(NOW)),
            Release::Show
        );
        // Still a delay (of zero): a record without a time fails closed (row 4).
        assert_eq!(
            rules.decide(LAB, Some(CG_FAST), Approval::Approved, None, at(NOW)),
            delayed(None)
        );
        assert_eq!(
            rules.decide(LAB, Some(CG_OTHER), Approval::Approved, Some(NOW), at(NOW)),
            delayed(Some("20250602120000"))
        );
    }

    #[test]
    fn no_delays_configured_shows_every_approved_record() {
        let rules = ReleaseRules::default();
        assert_eq!(rules.delay_for(LAB, None), None);
        assert_eq!(
            rules.decide(LAB, None, Approval::Approved, None, at(NOW)),
            Release::Show
        );
    }

    #[test]
    fn approval_from_the_flag_an_adapter_read() {
        assert_eq!(Approval::from_flag(false, None), Approval::NoFlagInContract);
        assert_eq!(
            Approval::from_flag(false, Some(false)),
            Approval::NoFlagInContract
        );
        assert_eq!(Approval::from_flag(true, Some(true)), Approval::Approved);
        assert_eq!(
            Approval::from_flag(true, Some(false)),
            Approval::NotApproved
        );
        assert_eq!(Approval::from_flag(true, None), Approval::Missing);
    }

    #[test]
    fn withheld_counts_by_reason() {
        let mut counts = WithheldCounts::default();
        for r in [
            Release::Show,
            NOT_APPROVED,
            delayed(None),
            delayed(Some(NOW)),
            NOT_APPROVED,
        ] {
            counts.add(r);
        }
        assert_eq!(
            counts,
            WithheldCounts {
                not_approved_for_patient: 2,
                delayed: 2
            }
        );
        let mut all = WithheldCounts::default();
        all.merge(counts);
        all.merge(counts);
        assert_eq!(all.total(), 8);
        assert_eq!(
            serde_json::to_value(counts).unwrap(),
            serde_json::json!({"not_approved_for_patient": 2, "delayed": 2})
        );
        assert_eq!(
            NOT_APPROVED,
            Release::Withhold(WithholdReason::NotApprovedForPatient)
        );
        assert_eq!(
            WithholdReason::NotApprovedForPatient.as_str(),
            "not-approved-for-patient"
        );
        assert_eq!(
            WithholdReason::Delayed { shown_from: None }.as_str(),
            "delayed"
        );
    }
}
