//! Consents and blocks (spärr) under SVOD/PDL, behind their own [`ConsentStore`] trait
//! (DESIGN.md "Consent under SVOD/PDL"). Kept apart from the engagement store so
//! the engagement index and the consent register evolve (and migrate) independently.
//!
//! Nothing is ever deleted: revoking a consent and lifting a block are recorded
//! (`revoked_at`/`revoked_by`, `lifted_at`/`lifted_by`), because PDL access decisions
//! must be explainable afterwards from what was registered at the time. A patient's
//! request that a block be lifted is recorded on the block too
//! (`lift_requested_at`/`lift_requested_by`); it does not lift it (specs/citizen.md "My
//! consents and blocks").
//!

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vaxel_model::ResidentId;

use crate::Result;

/// Which information sets a consent covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentScope {
    /// Every information set (stored as `all`).
    All,
    /// Only these information sets (adapter names, e.g. `care-documentation`).
    Sets(Vec<String>),
}

impl ConsentScope {
    /// Whether `information_set` is covered (names compare ASCII case-insensitively).
    pub fn covers(&self, information_set: &str) -> bool {
        match self {
            ConsentScope::All => true,
            ConsentScope::Sets(s) => s.iter().any(|x| x.eq_ignore_ascii_case(information_set)),
        }
    }

    /// Stored form: `all` or the set names joined by `,`.
    pub fn to_stored(&self) -> String {
        match self {
            ConsentScope::All => "all".into(),
            ConsentScope::Sets(s) => s.join(","),
        }
    }

    /// Parse the stored form (or an API list): `all` or comma-separated names.
    pub fn from_stored(s: &str) -> Option<ConsentScope> {
        if s.eq_ignore_ascii_case("all") {
            return Some(ConsentScope::All);
        }
        let sets: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
        (!sets.is_empty() && sets.iter().all(|x| valid_set_name(x)))
            .then_some(ConsentScope::Sets(sets))
    }
}

/// An information-set name: 1–64 of `[A-Za-z0-9._:-]` (no commas: the stored list uses them).
pub fn valid_set_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// How a consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    /// The patient consented (PDL 6:3).
    Normal,
    /// Registered in an emergency on the patient's behalf (PDL 6:4), usually short-lived.
    Emergency,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Normal => "normal",
            ConsentKind::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentKind> {
        match s {
            "normal" => Some(ConsentKind::Normal),
            "emergency" => Some(ConsentKind::Emergency),
            _ => None,
        }
    }
}

/// A consent to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub patient: ResidentId,
    /// HSA id of the care giver (vårdgivare) whose users may read other care givers' data.
    pub care_giver: String,
    pub scope: ConsentScope,
    pub valid_from: DateTime<Utc>,
    /// `None`: valid until revoked.
    pub valid_to: Option<DateTime<Utc>>,
    /// Who registered it: the care staff user's HSA id (consent admin API, CLI), or the
    /// personal identity number of the citizen who registered it through the citizen
    /// API (the patient, or a guardian acting for a child).
    pub registered_by: String,
    pub kind: ConsentKind,
}

/// A stored consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: String,
    pub patient: ResidentId,
    pub care_giver: String,
    pub scope: ConsentScope,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub kind: ConsentKind,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A time as the stores keep it: whole milliseconds (what a backend returns after a
/// write equals what it reads back later).
pub fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

impl NewConsent {
    /// The consent as stored under `id`, registered at `now` (times in whole ms).
    pub fn stored(&self, id: String, now: DateTime<Utc>) -> Consent {
        Consent {
            id,
            patient: self.patient.clone(),
            care_giver: self.care_giver.clone(),
            scope: self.scope.clone(),
            valid_from: stored_time(self.valid_from),
            valid_to: self.valid_to.map(stored_time),
            registered_by: self.registered_by.clone(),
            registered_at: stored_time(now),
            kind: self.kind,
            revoked_at: None,
            revoked_by: None,
        }
    }
}

impl NewBlock {
    /// The block as stored under `id`, registered at `now` (times in whole ms).
    pub fn stored(&self, id: String, now: DateTime<Utc>) -> Block {
        Block {
            id,
            patient: self.patient.clone(),
            care_giver: self.care_giver.clone(),
            care_unit: self.care_unit.clone(),
            valid_from: stored_time(self.valid_from),
            valid_to: self.valid_to.map(stored_time),
            registered_by: self.registered_by.clone(),
            registered_at: stored_time(now),
            reason: self.reason.clone(),
            lifted_at: None,
            lifted_by: None,
            lift_requested_at: None,
            lift_requested_by: None,
            lift_request_reason: None,
        }
    }
}

impl Consent {
    /// In force at `now`: `valid_from <= now < valid_to` and not revoked at or before `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        in_force(self.valid_from, self.valid_to, self.revoked_at, now)
    }
}

/// `valid_from <= now < valid_to`, and not ended (revoked, lifted) at or before `now`.
fn in_force(
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    valid_from <= now && valid_to.is_none_or(|t| now < t) && ended_at.is_none_or(|t| now < t)
}

/// A block (spärr) to register. At least one of `care_giver` / `care_unit` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    pub patient: ResidentId,
    /// Blocks the information held by this care giver (towards other care givers).
    pub care_giver: Option<String>,
    /// Blocks the information held by this care unit (towards other units, internal
    /// block, PDL 4:4, and towards other care givers, PDL 6:2).
    pub care_unit: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    /// As for [`NewConsent::registered_by`]: an HSA id, or a citizen's personal identity
    /// number.
    pub registered_by: String,
    /// Why the block was asked for, in the patient's or the staff's words (optional: a
    /// patient need not give a reason). Never logged.
    pub reason: Option<String>,
}

/// A stored block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub id: String,
    pub patient: ResidentId,
    pub care_giver: Option<String>,
    pub care_unit: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    /// When the patient (or a guardian) first asked for the block to be lifted. The
    /// block stays in force: a consent administrator lifts it ([`ConsentStore::lift_block`]).
    pub lift_requested_at: Option<DateTime<Utc>>,
    /// Who asked: the acting citizen's personal identity number.
    pub lift_requested_by: Option<String>,
    /// The reason given with the request, if any. Never logged.
    pub lift_request_reason: Option<String>,
}

impl Block {
    /// In force at `now`: `valid_from <= now < valid_to` and not lifted at or before `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        in_force(self.valid_from, self.valid_to, self.lifted_at, now)
    }
}

/// Outcome of a revoke or lift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome<T> {
    /// Recorded now; the updated row.
    Ended(T),
    /// It was already revoked/lifted earlier: nothing changed; the row as stored.
    AlreadyEnded(T),
    /// No consent/block with that id.
    NotFound,
}

/// Outcome of [`ConsentStore::request_block_lift`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiftRequestOutcome {
    /// Recorded now; the updated row (still in force: a request does not lift).
    Recorded(Block),
    /// A lift was already requested: nothing changed, the first request is kept.
    AlreadyRequested(Block),
    /// The block is already lifted: nothing changed.
    AlreadyLifted(Block),
    /// No block with that id for that patient (another patient's block is not found:
    /// its existence is not revealed).
    NotFound,
}

/// One row of the register, as [`ConsentStore::for_each_rule`] visits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Consent(Consent),
    Block(Block),
}

/// Receives the rows of [`ConsentStore::for_each_rule`] (on the backend's thread: it must
/// not block or wait).
pub type RuleVisitor = Box<dyn FnMut(Rule) + Send>;

/// The durable consent and block register.
#[async_trait]
pub trait ConsentStore: Send + Sync + Debug {
    /// Store a consent with a new id and `registered_at = now`; returns it as stored.
    async fn register_consent(&self, consent: &NewConsent, now: DateTime<Utc>) -> Result<Consent>;

    /// Every consent of `patient` (revoked ones too), oldest registration first.
    async fn consents_for_patient(&self, patient: &ResidentId) -> Result<Vec<Consent>>;

    /// Record that `id` was revoked by `by` at `now` (never deletes).
    async fn revoke_consent(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Consent>>;

    /// Store a block with a new id and `registered_at = now`; returns it as stored.
    async fn register_block(&self, block: &NewBlock, now: DateTime<Utc>) -> Result<Block>;

    /// Every block of `patient` (lifted ones too), oldest registration first.
    async fn blocks_for_patient(&self, patient: &ResidentId) -> Result<Vec<Block>>;

    /// Record that block `id` was lifted by `by` at `now` (never deletes).
    async fn lift_block(&self, id: &str, by: &str, now: DateTime<Utc>)
        -> Result<EndOutcome<Block>>;

    /// Record that `by` asked at `now` for block `id` of `patient` to be lifted, with an
    /// optional reason. Only the first request is kept; a lifted block is not changed;
    /// the block stays in force either way. A block of another patient is
    /// [`LiftRequestOutcome::NotFound`] (the patient is part of the condition, not
    /// checked afterwards).
    async fn request_block_lift(
        &self,
        id: &str,
        patient: &ResidentId,
        by: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LiftRequestOutcome>;

    /// Visit every consent, then every block, ended ones included (start-up and
    /// periodic load of the in-memory index). Rows are streamed to `visit`, never all
    /// held at once by the store.
    async fn for_each_rule(&self, visit: RuleVisitor) -> Result<()>;
}
