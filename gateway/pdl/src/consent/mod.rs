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
use vaxel_model::ResidentId;
use vaxel_store::consent::{
    Block, Consent, ConsentStore, EndOutcome, LiftRequestOutcome, NewBlock, NewConsent, Rule,
};
use vaxel_store::StoreError;

use crate::config::ConsentConfig;

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
    /// leave the index with the older of the two states (held across the store call).
    write: tokio::sync::Mutex<()>,
}

impl ConsentService {
    /// A service over an open store: loads the keys and the index.
    pub async fn new(
        config: ConsentConfig,
        store: Arc<dyn ConsentStore>,
    ) -> Result<ConsentService, ConsentError> {
        let verifier = Verifier::from_config(&config)?;
        let service = ConsentService {
            config,
            store,
            index: ConsentIndex::default(),
            verifier: ArcSwap::from_pointee(verifier),
            write: tokio::sync::Mutex::new(()),
        };
        let patients = service.reload_index().await?;
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
            .verify_headers(headers, vaxel_model::clock::now_utc().timestamp())
    }

    /// The consent register.
    pub fn store(&self) -> &Arc<dyn ConsentStore> {
        &self.store
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
    /// returns the number of patients with rules.
    pub async fn reload_index(&self) -> Result<usize, StoreError> {
        let _w = self.write.lock().await;
        // The store streams its rows into the builder (on its own thread).
        let builder = Arc::new(Mutex::new(IndexBuilder::default()));
        let sink = builder.clone();
        self.store
            .for_each_rule(Box::new(move |rule| {
                let mut b = sink.lock().unwrap_or_else(|e| e.into_inner());
                match rule {
                    Rule::Consent(c) => b.add_consent(&c),
                    Rule::Block(x) => b.add_block(&x),
                }
            }))
            .await?;
        let b = std::mem::take(&mut *builder.lock().unwrap_or_else(|e| e.into_inner()));
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

    /// Another node (or a tool) changed this patient's consents or blocks: read them
    /// again. A patient id that does not parse is ignored.
    pub async fn apply_change(&self, patient: &str) -> Result<(), StoreError> {
        let Some(patient) = ResidentId::parse(patient) else {
            return Ok(());
        };
        let _w = self.write.lock().await;
        self.refresh_patient(&patient).await
    }

    async fn refresh_patient(&self, patient: &ResidentId) -> Result<(), StoreError> {
        let consents = self.store.consents_for_patient(patient).await?;
        let blocks = self.store.blocks_for_patient(patient).await?;
        if let Some(k) = PatientKey::parse(patient.as_str()) {
            self.index
                .replace_patient(k, PatientRules::from_rows(&consents, &blocks));
        }
        Ok(())
    }

    /// Register a consent and update the index.
    pub async fn register_consent(&self, c: &NewConsent) -> Result<Consent, StoreError> {
        let _w = self.write.lock().await;
        let stored = self
            .store
            .register_consent(c, vaxel_model::clock::now_utc())
            .await?;
        self.refresh_patient(&stored.patient).await?;
        Ok(stored)
    }

    /// Revoke a consent (recorded, never deleted) and update the index.
    pub async fn revoke_consent(
        &self,
        id: &str,
        by: &str,
    ) -> Result<EndOutcome<Consent>, StoreError> {
        let _w = self.write.lock().await;
        let out = self
            .store
            .revoke_consent(id, by, vaxel_model::clock::now_utc())
            .await?;
        if let EndOutcome::Ended(c) = &out {
            self.refresh_patient(&c.patient).await?;
        }
        Ok(out)
    }

    /// Register a block and update the index.
    pub async fn register_block(&self, b: &NewBlock) -> Result<Block, StoreError> {
        let _w = self.write.lock().await;
        let stored = self
            .store
            .register_block(b, vaxel_model::clock::now_utc())
            .await?;
        self.refresh_patient(&stored.patient).await?;
        Ok(stored)
    }

    /// Lift a block (recorded, never deleted) and update the index.
    pub async fn lift_block(&self, id: &str, by: &str) -> Result<EndOutcome<Block>, StoreError> {
        let _w = self.write.lock().await;
        let out = self
            .store
            .lift_block(id, by, vaxel_model::clock::now_utc())
            .await?;
        if let EndOutcome::Ended(b) = &out {
            self.refresh_patient(&b.patient).await?;
        }
        Ok(out)
    }

    /// Revoke a consent of `patient` only (the citizen API): another patient's consent is
    /// [`EndOutcome::NotFound`], exactly as an unknown id, and is not changed. The index
    /// is updated as for [`ConsentService::revoke_consent`].
    pub async fn revoke_consent_of(
        &self,
        patient: &ResidentId,
        id: &str,
        by: &str,
    ) -> Result<EndOutcome<Consent>, StoreError> {
        let _w = self.write.lock().await;
        // A consent's patient never changes and rows are never deleted, so the check
        // holds when the revoke runs (and the write lock keeps this node's index order).
        let own = self
            .store
            .consents_for_patient(patient)
            .await?
            .iter()
            .any(|c| c.id == id);
        if !own {
            return Ok(EndOutcome::NotFound);
        }
        let out = self
            .store
            .revoke_consent(id, by, vaxel_model::clock::now_utc())
            .await?;
        if let EndOutcome::Ended(c) = &out {
            self.refresh_patient(&c.patient).await?;
        }
        Ok(out)
    }

    /// Record `patient`'s request (made by `by`) that block `id` be lifted
    /// ([`ConsentStore::request_block_lift`]). The block stays in force, so the index
    /// is not touched: a consent administrator lifts it with
    /// [`ConsentService::lift_block`].
    pub async fn request_block_lift(
        &self,
        patient: &ResidentId,
        id: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<LiftRequestOutcome, StoreError> {
        self.store
            .request_block_lift(id, patient, by, reason, vaxel_model::clock::now_utc())
            .await
    }

    /// Every consent of a patient.
    pub async fn consents_for(&self, patient: &ResidentId) -> Result<Vec<Consent>, StoreError> {
        self.store.consents_for_patient(patient).await
    }

    /// Every block of a patient.
    pub async fn blocks_for(&self, patient: &ResidentId) -> Result<Vec<Block>, StoreError> {
        self.store.blocks_for_patient(patient).await
    }
}

/// SIGHUP: re-read the issuers' keys (JWKS rotation) and the consent index.
pub async fn reload_on_signal(service: Arc<ConsentService>) {
    // Key files are small, but reading them is file I/O: off the runtime's threads.
    let s = service.clone();
    let keys = tokio::task::spawn_blocking(move || s.reload_keys())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let index = service.reload_index().await;
    match (keys, index) {
        (Ok(()), Ok(patients)) => tracing::info!(patients, "consent keys and index reloaded"),
        (keys, index) => {
            if let Err(e) = keys {
                tracing::error!(error = %e, "consent keys not reloaded; the previous keys stay in use");
            }
            if let Err(e) = index {
                tracing::error!(error = %e, "consent index not reloaded; the previous index stays in use");
            }
        }
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
            match service.reload_index().await {
                Ok(patients) => tracing::debug!(patients, "consent index reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "consent index reload failed; keeping the previous one")
                }
            }
        }
    });
}
