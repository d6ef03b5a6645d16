//! The SVOD/PDL decision table (DESIGN.md "Consent under SVOD/PDL") over an in-memory
//! index `patient → consents, blocks`.
//!
//! `decide` is pure and allocation-free: it runs once per record that would leave the
//! gateway, so it reads an immutable snapshot (lock-free `ArcSwap` load per shard) and
//! compares strings ASCII case-insensitively in place. Writes (rare: an operator
//! registers a consent) copy one shard of the map and swap it in.
//!
//! Rules, in order (specs/user-context.md "Decision table"):
//! 1. A record without a care giver, or a patient id that is not a personal id →
//!    deny: vaxel cannot tell which blocks cover it, so it fails closed.
//! 2. A block (spärr) in force that covers the record denies, also over an emergency
//!    (PDL 6:4 emergency access does not lift a block). For the user's own care giver
//!    only unit blocks apply (internal block, PDL 4:4), and not to the blocked unit's
//!    own users; towards other care givers a care-giver block or a unit block applies
//!    (PDL 6:2). A unit block and a record with no unit → deny (fail closed).
//! 3. Same care giver as the user → allow.
//! 4. A consent in force for the user's care giver covering the information set →
//!    allow (the care relation is asserted by the token issuer: vaxel has no register
//!    of care relations).
//! 5. No such consent, the user declared an emergency with a reason → allow, flagged.
//! 6. Otherwise deny.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use super::jwt::UserContext;
use vaxel_store::consent::{Block, Consent, ConsentKind, ConsentScope};

/// Why a record may be shown. The strings are stable (access log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AllowReason {
    /// The record is the user's own care giver's.
    SameCareGiver,
    /// A consent the patient gave for the user's care giver.
    Consent,
    /// A consent registered in an emergency (kind `emergency`) for the user's care giver.
    EmergencyConsent,
}

impl AllowReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AllowReason::SameCareGiver => "same-care-giver",
            AllowReason::Consent => "consent",
            AllowReason::EmergencyConsent => "emergency-consent",
        }
    }
}

/// Why a record is withheld. The strings are stable (access log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// A block covers the record's care giver.
    BlockedCareGiver,
    /// A block covers the record's care unit.
    BlockedCareUnit,
    /// A unit block exists and the record does not say which unit it comes from.
    BlockedUnknownCareUnit,
    /// Another care giver's record, no consent in force, no emergency declared.
    NoConsent,
    /// A consent is in force for the user's care giver but not for this information set.
    ConsentOutOfScope,
    /// The record does not name its care giver.
    UnknownRecordCareGiver,
    /// The patient id is not a 12-character personal id.
    InvalidPatientId,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::BlockedCareGiver => "blocked-care-giver",
            DenyReason::BlockedCareUnit => "blocked-care-unit",
            DenyReason::BlockedUnknownCareUnit => "blocked-unknown-care-unit",
            DenyReason::NoConsent => "no-consent",
            DenyReason::ConsentOutOfScope => "consent-out-of-scope",
            DenyReason::UnknownRecordCareGiver => "unknown-record-care-giver",
            DenyReason::InvalidPatientId => "invalid-patient-id",
        }
    }
}

/// The outcome for one record (`ConsentDecision` in the access log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow(AllowReason),
    /// No consent; the user declared an emergency (PDL 6:4): show, flag in the log.
    AllowEmergency,
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        !matches!(self, Decision::Deny(_))
    }

    /// Stable string for the access log: the reason, or `emergency-access`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow(r) => r.as_str(),
            Decision::AllowEmergency => "emergency-access",
            Decision::Deny(r) => r.as_str(),
        }
    }
}

/// A patient id as an index key: the 12 characters, letters upper-cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientKey([u8; 12]);

impl PatientKey {
    /// `None` unless `s` matches `[0-9]{8}[0-9pPtTfF][0-9]{3}`.
    pub fn parse(s: &str) -> Option<PatientKey> {
        let b: [u8; 12] = s.as_bytes().try_into().ok()?;
        let ok = b[..8].iter().all(u8::is_ascii_digit)
            && (b[8].is_ascii_digit() || b"pPtTfF".contains(&b[8]))
            && b[9..].iter().all(u8::is_ascii_digit);
        ok.then(|| {
            let mut k = b;
            k[8] = k[8].to_ascii_uppercase();
            PatientKey(k)
        })
    }

    fn shard(&self) -> usize {
        // The serial digits are close to uniform.
        let b = &self.0;
        (usize::from(b[9] - b'0') * 100
            + usize::from(b[10] - b'0') * 10
            + usize::from(b[11] - b'0'))
            % SHARDS
    }
}

const SHARDS: usize = 64;
const OPEN: i64 = i64::MAX;

#[derive(Debug, Clone)]
struct ConsentRule {
    care_giver: Box<str>,
    scope: ConsentScope,
    kind: ConsentKind,
    from: i64,
    /// Earliest of `valid_to` and `revoked_at` (ms), or [`OPEN`].
    until: i64,
}

#[derive(Debug, Clone)]
struct BlockRule {
    care_giver: Option<Box<str>>,
    care_unit: Option<Box<str>>,
    from: i64,
    /// Earliest of `valid_to` and `lifted_at` (ms), or [`OPEN`].
    until: i64,
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> i64 {
    let m = |t: Option<DateTime<Utc>>| t.map_or(OPEN, |t| t.timestamp_millis());
    m(a).min(m(b))
}

/// Everything registered for one patient, as the decision needs it.
#[derive(Debug, Clone, Default)]
pub struct PatientRules {
    consents: Vec<ConsentRule>,
    blocks: Vec<BlockRule>,
}

impl PatientRules {
    /// Rules from the stored rows (ended rows included: they are ended by time).
    pub fn from_rows(consents: &[Consent], blocks: &[Block]) -> PatientRules {
        let mut r = PatientRules::default();
        consents.iter().for_each(|c| r.add_consent(c));
        blocks.iter().for_each(|b| r.add_block(b));
        r
    }

    fn add_consent(&mut self, c: &Consent) {
        self.consents.push(ConsentRule {
            care_giver: c.care_giver.as_str().into(),
            scope: c.scope.clone(),
            kind: c.kind,
            from: c.valid_from.timestamp_millis(),
            until: earliest(c.valid_to, c.revoked_at),
        });
    }

    fn add_block(&mut self, b: &Block) {
        self.blocks.push(BlockRule {
            care_giver: b.care_giver.as_deref().map(Into::into),
            care_unit: b.care_unit.as_deref().map(Into::into),
            from: b.valid_from.timestamp_millis(),
            until: earliest(b.valid_to, b.lifted_at),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.consents.is_empty() && self.blocks.is_empty()
    }

    /// The decision table for one record of this patient at `now` (Unix ms).
    pub fn decide(
        &self,
        user: &UserContext,
        information_set: &str,
        record_care_giver: Option<&str>,
        record_care_unit: Option<&str>,
        now_ms: i64,
    ) -> Decision {
        let Some(rcg) = record_care_giver.filter(|s| !s.is_empty()) else {
            return Decision::Deny(DenyReason::UnknownRecordCareGiver);
        };
        let rcu = record_care_unit.filter(|s| !s.is_empty());
        let same = rcg.eq_ignore_ascii_case(&user.care_giver_hsa_id);
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);

        for b in self
            .blocks
            .iter()
            .filter(|b| b.from <= now_ms && now_ms < b.until)
        {
            let giver_matches = b.care_giver.as_deref().is_none_or(|g| eq(g, rcg));
            match (&b.care_giver, &b.care_unit) {
                // A care-giver block: towards other care givers only (PDL 6:2).
                (Some(g), None) if !same && eq(g, rcg) => {
                    return Decision::Deny(DenyReason::BlockedCareGiver);
                }
                (_, Some(unit)) if giver_matches => match rcu {
                    // Internal block (PDL 4:4): the blocked unit's own users still see it.
                    Some(ru) if eq(ru, unit) && !(same && eq(ru, &user.care_unit_hsa_id)) => {
                        return Decision::Deny(DenyReason::BlockedCareUnit);
                    }
                    Some(_) => {}
                    None => return Decision::Deny(DenyReason::BlockedUnknownCareUnit),
                },
                _ => {}
            }
        }
        if same {
            return Decision::Allow(AllowReason::SameCareGiver);
        }
        let mut out_of_scope = false;
        for c in &self.consents {
            if c.from <= now_ms && now_ms < c.until && eq(&c.care_giver, &user.care_giver_hsa_id) {
                if c.scope.covers(information_set) {
                    return Decision::Allow(match c.kind {
                        ConsentKind::Normal => AllowReason::Consent,
                        ConsentKind::Emergency => AllowReason::EmergencyConsent,
                    });
                }
                out_of_scope = true;
            }
        }
        if user.emergency_reason.is_some() {
            return Decision::AllowEmergency;
        }
        Decision::Deny(if out_of_scope {
            DenyReason::ConsentOutOfScope
        } else {
            DenyReason::NoConsent
        })
    }
}

type Shard = HashMap<PatientKey, Arc<PatientRules>>;

/// `patient → rules`, sharded; reads are lock-free, writes copy one shard.
#[derive(Debug)]
pub struct ConsentIndex {
    shards: Vec<ArcSwap<Shard>>,
    write: Mutex<()>,
}

impl Default for ConsentIndex {
    fn default() -> Self {
        ConsentIndex {
            shards: (0..SHARDS)
                .map(|_| ArcSwap::from_pointee(Shard::new()))
                .collect(),
            write: Mutex::new(()),
        }
    }
}

/// Builds a whole index (start-up load, periodic reload).
#[derive(Debug, Default)]
pub struct IndexBuilder {
    map: HashMap<PatientKey, PatientRules>,
}

impl IndexBuilder {
    pub fn add_consent(&mut self, c: &Consent) {
        if let Some(k) = PatientKey::parse(c.patient.as_str()) {
            self.map.entry(k).or_default().add_consent(c);
        }
    }

    pub fn add_block(&mut self, b: &Block) {
        if let Some(k) = PatientKey::parse(b.patient.as_str()) {
            self.map.entry(k).or_default().add_block(b);
        }
    }
}

impl ConsentIndex {
    /// Replace everything with what `builder` holds; returns the number of patients.
    pub fn replace_all(&self, builder: IndexBuilder) -> usize {
        let mut shards: Vec<Shard> = (0..SHARDS).map(|_| Shard::new()).collect();
        let n = builder.map.len();
        for (k, r) in builder.map {
            shards[k.shard()].insert(k, Arc::new(r));
        }
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, s) in self.shards.iter().zip(shards) {
            slot.store(Arc::new(s));
        }
        n
    }

    /// Replace one patient's rules (after a write to the store).
    pub fn replace_patient(&self, patient: PatientKey, rules: PatientRules) {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &self.shards[patient.shard()];
        let mut shard = Shard::clone(&slot.load());
        if rules.is_empty() {
            shard.remove(&patient);
        } else {
            shard.insert(patient, Arc::new(rules));
        }
        slot.store(Arc::new(shard));
    }

    /// The patient's rules now (one snapshot for all records of an answer).
    pub fn patient(&self, patient: &PatientKey) -> Option<Arc<PatientRules>> {
        self.shards[patient.shard()].load().get(patient).cloned()
    }

    /// The decision table for one record (see the module documentation).
    pub fn decide(
        &self,
        user: &UserContext,
        patient: &str,
        information_set: &str,
        record_care_giver: Option<&str>,
        record_care_unit: Option<&str>,
        now: DateTime<Utc>,
    ) -> Decision {
        let Some(key) = PatientKey::parse(patient) else {
            return Decision::Deny(DenyReason::InvalidPatientId);
        };
        let shard = self.shards[key.shard()].load();
        let empty = PatientRules::default();
        let rules = shard.get(&key).map_or(&empty, |r| r);
        rules.decide(
            user,
            information_set,
            record_care_giver,
            record_care_unit,
            now.timestamp_millis(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vaxel_model::ResidentId;

    const P: &str = "191212121212";
    const ME: &str = "SE-CG-ME";
    const MY_UNIT: &str = "SE-CU-ME";
    const OTHER: &str = "SE-CG-OTHER";
    const OTHER_UNIT: &str = "SE-CU-OTHER";

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, day, 12, 0, 0).unwrap()
    }

    fn user(emergency: bool) -> UserContext {
        UserContext {
            user_hsa_id: "SE-U1".into(),
            care_unit_hsa_id: MY_UNIT.into(),
            care_giver_hsa_id: ME.into(),
            purpose: "care".into(),
            emergency_reason: emergency.then(|| "unconscious".into()),
            roles: vec![],
            token_id: None,
            user_role: None,
        }
    }

    fn consent(cg: &str, scope: ConsentScope, from: u32, to: Option<u32>) -> Consent {
        Consent {
            id: "c".into(),
            patient: ResidentId::parse(P).unwrap(),
            care_giver: cg.into(),
            scope,
            valid_from: t(from),
            valid_to: to.map(t),
            registered_by: "SE-U9".into(),
            registered_at: t(1),
            kind: ConsentKind::Normal,
            revoked_at: None,
            revoked_by: None,
        }
    }

    fn block(cg: Option<&str>, cu: Option<&str>) -> Block {
        Block {
            id: "b".into(),
            patient: ResidentId::parse(P).unwrap(),
            care_giver: cg.map(Into::into),
            care_unit: cu.map(Into::into),
            valid_from: t(1),
            valid_to: None,
            registered_by: "SE-U9".into(),
            registered_at: t(1),
            reason: None,
            lifted_at: None,
            lifted_by: None,
            lift_requested_at: None,
            lift_requested_by: None,
            lift_request_reason: None,
        }
    }

    fn index(consents: &[Consent], blocks: &[Block]) -> ConsentIndex {
        let ix = ConsentIndex::default();
        let mut b = IndexBuilder::default();
        consents.iter().for_each(|c| b.add_consent(c));
        blocks.iter().for_each(|x| b.add_block(x));
        ix.replace_all(b);
        ix
    }

    use AllowReason as A;
    use Decision::*;
    use DenyReason as D;

    #[test]
    fn decision_table() {
        let all = || ConsentScope::All;
        let docs = || ConsentScope::Sets(vec!["care-documentation".into()]);
        let valid = consent(ME, all(), 1, Some(20));
        let mut revoked = valid.clone();
        revoked.revoked_at = Some(t(5));
        let mut emergency_consent = valid.clone();
        emergency_consent.kind = ConsentKind::Emergency;
        let mut lifted = block(Some(OTHER), None);
        lifted.lifted_at = Some(t(5));
        let mut expired_block = block(Some(OTHER), None);
        expired_block.valid_to = Some(t(5));
        let info = "care-documentation";
        /// name, consents, blocks, emergency declared, record care giver, record unit, day, expected
        type Row<'a> = (
            &'a str,
            Vec<Consent>,
            Vec<Block>,
            bool,
            Option<&'a str>,
            Option<&'a str>,
            u32,
            Decision,
        );
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // row 1: same care giver
            ("same care giver, no block", vec![], vec![], false, Some(ME), Some("SE-CU-X"), 10, Allow(A::SameCareGiver)),
            ("same care giver, case differs", vec![], vec![], false, Some("se-cg-me"), None, 10, Allow(A::SameCareGiver)),
            ("same care giver, internal block on the unit", vec![], vec![block(Some(ME), Some("SE-CU-X"))], false, Some(ME), Some("SE-CU-X"), 10, Deny(D::BlockedCareUnit)),
            ("same care giver, unit-only block on the unit", vec![], vec![block(None, Some("SE-CU-X"))], false, Some(ME), Some("SE-CU-X"), 10, Deny(D::BlockedCareUnit)),
            ("same care giver, internal block elsewhere", vec![], vec![block(Some(ME), Some("SE-CU-Y"))], false, Some(ME), Some("SE-CU-X"), 10, Allow(A::SameCareGiver)),
            ("same care giver, blocked unit is the user's own", vec![], vec![block(Some(ME), Some(MY_UNIT))], false, Some(ME), Some(MY_UNIT), 10, Allow(A::SameCareGiver)),
            ("same care giver, internal block, record unit unknown", vec![], vec![block(Some(ME), Some("SE-CU-X"))], false, Some(ME), None, 10, Deny(D::BlockedUnknownCareUnit)),
            ("same care giver, care-giver block is external only", vec![], vec![block(Some(ME), None)], false, Some(ME), Some("SE-CU-X"), 10, Allow(A::SameCareGiver)),
            ("same care giver, internal block, emergency", vec![], vec![block(Some(ME), Some("SE-CU-X"))], true, Some(ME), Some("SE-CU-X"), 10, Deny(D::BlockedCareUnit)),
            // row 2: other care giver with consent
            ("consent in force", vec![valid.clone()], vec![], false, Some(OTHER), Some(OTHER_UNIT), 10, Allow(A::Consent)),
            ("emergency-kind consent", vec![emergency_consent], vec![], false, Some(OTHER), Some(OTHER_UNIT), 10, Allow(A::EmergencyConsent)),
            ("consent from its first instant", vec![valid.clone()], vec![], false, Some(OTHER), None, 1, Allow(A::Consent)),
            ("consent not yet valid", vec![consent(ME, all(), 11, None)], vec![], false, Some(OTHER), None, 10, Deny(D::NoConsent)),
            ("consent ended at valid_to (exclusive)", vec![valid.clone()], vec![], false, Some(OTHER), None, 20, Deny(D::NoConsent)),
            ("consent revoked before now", vec![revoked.clone()], vec![], false, Some(OTHER), None, 10, Deny(D::NoConsent)),
            ("consent revoked later", vec![revoked], vec![], false, Some(OTHER), None, 4, Allow(A::Consent)),
            ("consent for another care giver", vec![consent("SE-CG-THIRD", all(), 1, None)], vec![], false, Some(OTHER), None, 10, Deny(D::NoConsent)),
            ("consent scope matches", vec![consent(ME, docs(), 1, None)], vec![], false, Some(OTHER), None, 10, Allow(A::Consent)),
            // Consents are for the user's care giver, whatever the record's care giver is.
            ("consent scope mismatch", vec![consent(ME, ConsentScope::Sets(vec!["diagnosis".into()]), 1, None)], vec![], false, Some(OTHER), None, 10, Deny(D::ConsentOutOfScope)),
            // row 3: emergency
            ("no consent, emergency", vec![], vec![], true, Some(OTHER), Some(OTHER_UNIT), 10, AllowEmergency),
            ("scope mismatch, emergency", vec![consent(ME, ConsentScope::Sets(vec!["diagnosis".into()]), 1, None)], vec![], true, Some(OTHER), None, 10, AllowEmergency),
            ("consent and emergency: consent wins", vec![valid.clone()], vec![], true, Some(OTHER), None, 10, Allow(A::Consent)),
            // row 4: blocks deny, also over consent and emergency
            ("care-giver block over consent", vec![valid.clone()], vec![block(Some(OTHER), None)], false, Some(OTHER), Some(OTHER_UNIT), 10, Deny(D::BlockedCareGiver)),
            ("care-giver block over emergency", vec![], vec![block(Some(OTHER), None)], true, Some(OTHER), Some(OTHER_UNIT), 10, Deny(D::BlockedCareGiver)),
            ("unit block over consent", vec![valid.clone()], vec![block(Some(OTHER), Some(OTHER_UNIT))], false, Some(OTHER), Some(OTHER_UNIT), 10, Deny(D::BlockedCareUnit)),
            ("unit block over emergency", vec![], vec![block(None, Some(OTHER_UNIT))], true, Some(OTHER), Some(OTHER_UNIT), 10, Deny(D::BlockedCareUnit)),
            ("unit block, other unit of that care giver", vec![valid.clone()], vec![block(Some(OTHER), Some(OTHER_UNIT))], false, Some(OTHER), Some("SE-CU-Z"), 10, Allow(A::Consent)),
            ("unit block, record unit unknown", vec![valid.clone()], vec![block(Some(OTHER), Some(OTHER_UNIT))], true, Some(OTHER), None, 10, Deny(D::BlockedUnknownCareUnit)),
            ("block of a third care giver", vec![valid.clone()], vec![block(Some("SE-CG-THIRD"), None)], false, Some(OTHER), None, 10, Allow(A::Consent)),
            ("lifted block", vec![valid.clone()], vec![lifted.clone()], false, Some(OTHER), None, 10, Allow(A::Consent)),
            ("block before it was lifted", vec![valid.clone()], vec![lifted], false, Some(OTHER), None, 4, Deny(D::BlockedCareGiver)),
            ("block past valid_to", vec![valid.clone()], vec![expired_block], false, Some(OTHER), None, 5, Allow(A::Consent)),
            // row 5: otherwise deny
            ("other care giver, nothing", vec![], vec![], false, Some(OTHER), Some(OTHER_UNIT), 10, Deny(D::NoConsent)),
            // unknown record care giver: fail closed, also with consent and emergency
            ("record without care giver", vec![valid.clone()], vec![], true, None, Some(OTHER_UNIT), 10, Deny(D::UnknownRecordCareGiver)),
            ("record with empty care giver", vec![], vec![], false, Some(""), None, 10, Deny(D::UnknownRecordCareGiver)),
        ];
        for (name, consents, blocks, emergency, rcg, rcu, day, want) in rows {
            let ix = index(&consents, &blocks);
            let got = ix.decide(&user(emergency), P, info, rcg, rcu, t(day));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn patient_ids_are_keys_and_invalid_ones_deny() {
        let ix = index(&[consent(ME, ConsentScope::All, 1, None)], &[]);
        let u = user(false);
        assert_eq!(
            ix.decide(&u, "19121212-1212", "x", Some(OTHER), None, t(10)),
            Deny(D::InvalidPatientId)
        );
        // Another patient has no consent.
        assert_eq!(
            ix.decide(&u, "191212121213", "x", Some(OTHER), None, t(10)),
            Deny(D::NoConsent)
        );
        assert_eq!(
            PatientKey::parse("19121212t212"),
            PatientKey::parse("19121212T212")
        );
    }

    #[test]
    fn replace_patient_updates_the_decision() {
        let ix = ConsentIndex::default();
        let key = PatientKey::parse(P).unwrap();
        let u = user(false);
        assert_eq!(
            ix.decide(&u, P, "x", Some(OTHER), None, t(10)),
            Deny(D::NoConsent)
        );
        ix.replace_patient(
            key,
            PatientRules::from_rows(&[consent(ME, ConsentScope::All, 1, None)], &[]),
        );
        assert_eq!(
            ix.decide(&u, P, "x", Some(OTHER), None, t(10)),
            Allow(A::Consent)
        );
        ix.replace_patient(key, PatientRules::default());
        assert!(ix.patient(&key).is_none());
    }

    #[test]
    fn reason_strings_are_stable() {
        assert_eq!(Allow(A::SameCareGiver).as_str(), "same-care-giver");
        assert_eq!(AllowEmergency.as_str(), "emergency-access");
        assert_eq!(Deny(D::BlockedCareUnit).as_str(), "blocked-care-unit");
        assert_eq!(Deny(D::NoConsent).as_str(), "no-consent");
    }
}
