//! Consent, blocks (spärr) and emergency access under SVOD/PDL (DESIGN.md "Consent
//! under SVOD/PDL"): the end user's JWT context ([`jwt`]), the decision table
//! ([`policy`]) over an in-memory index of the consent store, and the service that
//! keeps the two in step ([`ConsentService`]).

pub mod admin;
pub mod enforce;
pub mod jwt;
pub mod policy;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::config::{ConsentConfig, StoreConfig};
use crate::engagement::model::ResidentId;
use crate::store::consent::{Block, Consent, ConsentStore, EndOutcome, NewBlock, NewConsent};
use crate::store::StoreError;

use jwt::{JwtError, KeyLoadError, UserContext, Verifier};
use policy::{ConsentIndex, Decision, IndexBuilder, PatientKey, PatientRules};

/// The consent service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyLoadError),
}

/// Store + in-memory index + token verifier. Every write goes through here, so the
/// index this node decides with always includes this node's own writes; writes by
/// other nodes on a shared database arrive with [`ConsentService::reload_index`]
/// (`[consent] index_reload_s`).
#[derive(Debug)]
pub struct ConsentService {
    config: ConsentConfig,
    store: Arc<dyn ConsentStore>,
    index: ConsentIndex,
    verifier: ArcSwap<Verifier>,
    /// Serialises store write + index refresh, so two writes for one patient cannot
    /// leave the index with the older of the two states.
    write: Mutex<()>,
}

impl ConsentService {
    /// Open the consent tables in the configured store, load the index and the keys.
    pub fn open(
        config: &ConsentConfig,
        store: &StoreConfig,
    ) -> Result<ConsentService, ConsentError> {
        ConsentService::new(config.clone(), crate::store::consent::open(store)?)
    }

    /// A service over an open store (loads the index and the keys; blocking).
    pub fn new(
        config: ConsentConfig,
        store: Arc<dyn ConsentStore>,
    ) -> Result<ConsentService, ConsentError> {
        let verifier = Verifier::from_config(&config)?;
        let service = ConsentService {
            config,
            store,
            index: ConsentIndex::default(),
            verifier: ArcSwap::from_pointee(verifier),
            write: Mutex::new(()),
        };
        let patients = service.reload_index()?;
        tracing::info!(patients, "consent index loaded");
        Ok(service)
    }

    pub fn config(&self) -> &ConsentConfig {
        &self.config
    }

    /// Whether consent checking is on (`[consent] enabled`).
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Verify the user context in the request headers now.
    pub fn verify_user(&self, headers: &http::HeaderMap) -> Result<UserContext, JwtError> {
        self.verifier
            .load()
            .verify_headers(headers, Utc::now().timestamp())
    }

    /// The current verifier (e.g. to verify at an explicit time).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier.load_full()
    }

    /// Re-read the issuers' key files (JWKS rotation); the old keys stay on error.
    pub fn reload_keys(&self) -> Result<(), KeyLoadError> {
        self.verifier
            .store(Arc::new(Verifier::from_config(&self.config)?));
        Ok(())
    }

    /// Rebuild the whole index from the store (start, periodic multi-node refresh);
    /// returns the number of patients with rules. Blocking.
    pub fn reload_index(&self) -> Result<usize, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut b = IndexBuilder::default();
        let mut consents = |c: Consent| b.add_consent(&c);
        let mut blocks_seen = Vec::new();
        self.store
            .for_each(&mut consents, &mut |x: Block| blocks_seen.push(x))?;
        for x in &blocks_seen {
            b.add_block(x);
        }
        Ok(self.index.replace_all(b))
    }

    /// The decision table for one record (DESIGN.md "Consent under SVOD/PDL"); see
    /// [`policy`]. Pure and lock-free.
    pub fn decide(
        &self,
        user: &UserContext,
        patient: &str,
        information_set: &str,
        record_care_giver: Option<&str>,
        record_care_unit: Option<&str>,
        now: DateTime<Utc>,
    ) -> Decision {
        self.index.decide(
            user,
            patient,
            information_set,
            record_care_giver,
            record_care_unit,
            now,
        )
    }

    /// One snapshot of a patient's rules for all records of one answer
    /// ([`PatientRules::decide`] with `now` in Unix ms); `None`: nothing registered.
    pub fn patient_rules(&self, patient: &str) -> Option<Arc<PatientRules>> {
        self.index.patient(&PatientKey::parse(patient)?)
    }

    fn refresh_patient(&self, patient: &ResidentId) -> Result<(), StoreError> {
        let consents = self.store.consents_for_patient(patient)?;
        let blocks = self.store.blocks_for_patient(patient)?;
        if let Some(k) = PatientKey::parse(patient.as_str()) {
            self.index
                .replace_patient(k, PatientRules::from_rows(&consents, &blocks));
        }
        Ok(())
    }

    /// Register a consent and update the index. Blocking.
    pub fn register_consent(&self, c: &NewConsent) -> Result<Consent, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let stored = self.store.register_consent(c, Utc::now())?;
        self.refresh_patient(&stored.patient)?;
        Ok(stored)
    }

    /// Revoke a consent (recorded, never deleted) and update the index. Blocking.
    pub fn revoke_consent(&self, id: &str, by: &str) -> Result<EndOutcome<Consent>, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.store.revoke_consent(id, by, Utc::now())?;
        if let EndOutcome::Ended(c) = &out {
            self.refresh_patient(&c.patient)?;
        }
        Ok(out)
    }

    /// Register a block and update the index. Blocking.
    pub fn register_block(&self, b: &NewBlock) -> Result<Block, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let stored = self.store.register_block(b, Utc::now())?;
        self.refresh_patient(&stored.patient)?;
        Ok(stored)
    }

    /// Lift a block (recorded, never deleted) and update the index. Blocking.
    pub fn lift_block(&self, id: &str, by: &str) -> Result<EndOutcome<Block>, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.store.lift_block(id, by, Utc::now())?;
        if let EndOutcome::Ended(b) = &out {
            self.refresh_patient(&b.patient)?;
        }
        Ok(out)
    }

    /// Every consent of a patient. Blocking.
    pub fn consents_for(&self, patient: &ResidentId) -> Result<Vec<Consent>, StoreError> {
        self.store.consents_for_patient(patient)
    }

    /// Every block of a patient. Blocking.
    pub fn blocks_for(&self, patient: &ResidentId) -> Result<Vec<Block>, StoreError> {
        self.store.blocks_for_patient(patient)
    }
}

/// SIGHUP: re-read the issuers' keys (JWKS rotation) and the consent index.
pub async fn reload_on_signal(service: Arc<ConsentService>) {
    let r =
        tokio::task::spawn_blocking(move || (service.reload_keys(), service.reload_index())).await;
    match r {
        Ok((Ok(()), Ok(patients))) => tracing::info!(patients, "consent keys and index reloaded"),
        Ok((keys, index)) => {
            if let Err(e) = keys {
                tracing::error!(error = %e, "consent keys not reloaded; the previous keys stay in use");
            }
            if let Err(e) = index {
                tracing::error!(error = %e, "consent index not reloaded; the previous index stays in use");
            }
        }
        Err(e) => tracing::error!(error = %e, "consent reload task failed"),
    }
}

/// `[consent] index_reload_s`: rebuild the index from the store periodically, so writes
/// by other gateway nodes on a shared database are seen within that time.
pub fn spawn_index_reload(
    service: Arc<ConsentService>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(every) = service.config().index_reload else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let s = service.clone();
            match tokio::task::spawn_blocking(move || s.reload_index()).await {
                Ok(Ok(patients)) => tracing::debug!(patients, "consent index reloaded"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "consent index reload failed; keeping the previous one")
                }
                Err(e) => tracing::warn!(error = %e, "consent index reload task failed"),
            }
        }
    });
}
