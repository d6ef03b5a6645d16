//! Consents and blocks (spärr) under SVOD/PDL, behind their own [`ConsentStore`] trait
//! (DESIGN.md "Consent under SVOD/PDL"). Kept apart from [`super::Store`] so the
//! engagement index and the consent register evolve (and migrate) independently.
//!
//! Nothing is ever deleted: revoking a consent and lifting a block are recorded
//! (`revoked_at`/`revoked_by`, `lifted_at`/`lifted_by`), because PDL access decisions
//! must be explainable afterwards from what was registered at the time.
//!
//! Like [`super::Store`], the methods block on disk: async callers use
//! `tokio::task::spawn_blocking`.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Result;
use crate::config::{StoreBackend, StoreConfig};
use crate::engagement::model::ResidentId;

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
    /// HSA id of the person who registered it.
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
    pub registered_by: String,
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
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
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

/// The durable consent and block register.
pub trait ConsentStore: Send + Sync + Debug {
    /// Store a consent with a new id and `registered_at = now`; returns it as stored.
    fn register_consent(&self, consent: &NewConsent, now: DateTime<Utc>) -> Result<Consent>;

    /// Every consent of `patient` (revoked ones too), oldest registration first.
    fn consents_for_patient(&self, patient: &ResidentId) -> Result<Vec<Consent>>;

    /// Record that `id` was revoked by `by` at `now` (never deletes).
    fn revoke_consent(&self, id: &str, by: &str, now: DateTime<Utc>)
        -> Result<EndOutcome<Consent>>;

    /// Store a block with a new id and `registered_at = now`; returns it as stored.
    fn register_block(&self, block: &NewBlock, now: DateTime<Utc>) -> Result<Block>;

    /// Every block of `patient` (lifted ones too), oldest registration first.
    fn blocks_for_patient(&self, patient: &ResidentId) -> Result<Vec<Block>>;

    /// Record that block `id` was lifted by `by` at `now` (never deletes).
    fn lift_block(&self, id: &str, by: &str, now: DateTime<Utc>) -> Result<EndOutcome<Block>>;

    /// Visit every consent, then every block (start-up load of the in-memory index).
    fn for_each(
        &self,
        consent: &mut dyn FnMut(Consent),
        block: &mut dyn FnMut(Block),
    ) -> Result<()>;
}

/// Open the configured consent store (creating and migrating its tables when needed).
/// It shares the database file with [`super::open`] but has its own connections.
pub fn open(config: &StoreConfig) -> Result<Arc<dyn ConsentStore>> {
    match config.backend {
        StoreBackend::Sqlite => {
            let s = super::sqlite::SqliteStore::open(&config.path)?;
            s.migrate_consent()?;
            Ok(Arc::new(s))
        }
    }
}

/// The consent store compliance suite: every backend MUST pass it. It never assumes
/// the store is empty: each check uses its own patients.
#[cfg(test)]
pub(crate) fn compliance(store: &dyn ConsentStore) {
    use chrono::TimeZone;
    let t = |d: u32| Utc.with_ymd_and_hms(2025, 1, d, 12, 0, 0).unwrap();
    let patient = ResidentId::parse("191212121212").unwrap();
    let other = ResidentId::parse("19121212T212").unwrap();

    // Register and list: as given, with id and registration time, per patient only.
    let nc = NewConsent {
        patient: patient.clone(),
        care_giver: "SE2321000016-CG1".into(),
        scope: ConsentScope::Sets(vec!["care-documentation".into(), "diagnosis".into()]),
        valid_from: t(1),
        valid_to: Some(t(20)),
        registered_by: "SE2321000016-U1".into(),
        kind: ConsentKind::Normal,
    };
    let c1 = store.register_consent(&nc, t(2)).unwrap();
    assert!(!c1.id.is_empty());
    assert_eq!(c1.registered_at, t(2));
    assert_eq!(c1.scope, nc.scope);
    assert_eq!(c1.valid_to, Some(t(20)));
    let c2 = store
        .register_consent(
            &NewConsent {
                scope: ConsentScope::All,
                valid_to: None,
                kind: ConsentKind::Emergency,
                ..nc.clone()
            },
            t(3),
        )
        .unwrap();
    assert_ne!(c1.id, c2.id);
    store
        .register_consent(
            &NewConsent {
                patient: other.clone(),
                ..nc.clone()
            },
            t(3),
        )
        .unwrap();
    let listed = store.consents_for_patient(&patient).unwrap();
    assert_eq!(listed, vec![c1.clone(), c2.clone()]);

    // Revoke is recorded, never a delete; a second revoke changes nothing.
    let EndOutcome::Ended(r) = store
        .revoke_consent(&c1.id, "SE2321000016-U2", t(5))
        .unwrap()
    else {
        panic!("first revoke must end the consent")
    };
    assert_eq!(r.revoked_at, Some(t(5)));
    assert_eq!(r.revoked_by.as_deref(), Some("SE2321000016-U2"));
    assert!(c1.in_force(t(4)) && r.in_force(t(4)) && !r.in_force(t(5)));
    assert!(matches!(
        store.revoke_consent(&c1.id, "SE2321000016-U3", t(6)).unwrap(),
        EndOutcome::AlreadyEnded(ref x) if x.revoked_at == Some(t(5))
    ));
    assert_eq!(
        store.revoke_consent("no-such-id", "x", t(6)).unwrap(),
        EndOutcome::NotFound
    );
    assert_eq!(store.consents_for_patient(&patient).unwrap().len(), 2);

    // Blocks: unit and/or care giver; lifting recorded.
    let nb = NewBlock {
        patient: patient.clone(),
        care_giver: Some("SE2321000016-CG2".into()),
        care_unit: None,
        valid_from: t(1),
        valid_to: None,
        registered_by: "SE2321000016-U1".into(),
    };
    let b1 = store.register_block(&nb, t(2)).unwrap();
    let b2 = store
        .register_block(
            &NewBlock {
                care_giver: None,
                care_unit: Some("SE2321000016-CU9".into()),
                valid_to: Some(t(9)),
                ..nb.clone()
            },
            t(3),
        )
        .unwrap();
    assert_eq!(
        store.blocks_for_patient(&patient).unwrap(),
        vec![b1.clone(), b2.clone()]
    );
    assert!(store.blocks_for_patient(&other).unwrap().is_empty());
    let EndOutcome::Ended(l) = store.lift_block(&b1.id, "SE2321000016-U2", t(7)).unwrap() else {
        panic!("first lift must end the block")
    };
    assert_eq!(l.lifted_at, Some(t(7)));
    assert!(l.in_force(t(6)) && !l.in_force(t(7)));
    assert!(matches!(
        store.lift_block(&b1.id, "x", t(8)).unwrap(),
        EndOutcome::AlreadyEnded(_)
    ));
    assert_eq!(
        store.lift_block("nope", "x", t(8)).unwrap(),
        EndOutcome::NotFound
    );

    // for_each sees everything, ended rows included.
    let (mut cs, mut bs) = (Vec::new(), Vec::new());
    store
        .for_each(&mut |c| cs.push(c), &mut |b| bs.push(b))
        .unwrap();
    assert!(cs
        .iter()
        .any(|c| c.id == c1.id && c.revoked_at == Some(t(5))));
    assert!(cs.iter().any(|c| c.id == c2.id));
    assert!(bs
        .iter()
        .any(|b| b.id == b1.id && b.lifted_at == Some(t(7))));
    assert!(bs.iter().any(|b| b.id == b2.id));
}
