//! Engagements (the engagement index's records) and their store: typed values that are
//! trusted once parsed ("parse, don't validate"). Field names follow the service
//! contract `urn:riv:itintegration:engagementindex:1` (TD_ENGAGEMENTINDEX_1_0_R).

use std::fmt;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};
pub use vaxel_model::ResidentId;

use crate::outbox::NewOutboxItem;
use crate::Result;

/// A contract time stamp, `yyyyMMddHHmmss` (core schema type `TS`), that is a real
/// calendar time. Ordered chronologically; its text form orders the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EiTime(NaiveDateTime);

impl EiTime {
    /// Parse `yyyyMMddHHmmss`: exactly 14 ASCII digits, first digit 1–9 (schema pattern),
    /// and a time that exists in the calendar (no 20230230..., no hour 24).
    pub fn parse(s: &str) -> Option<EiTime> {
        let b = s.as_bytes();
        if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
            return None;
        }
        NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
            .ok()
            .map(EiTime)
    }

    /// The current local time, truncated to seconds. The engagement index keeps times in
    /// the host's local time, as skltp/ei does (the contract's `TS` carries no zone).
    pub fn now() -> EiTime {
        EiTime(vaxel_model::clock::now_local())
    }

    pub fn from_naive(t: NaiveDateTime) -> EiTime {
        EiTime(t)
    }
}

impl fmt::Display for EiTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y%m%d%H%M%S"))
    }
}

/// The identity of an engagement: SHA-256 (lower-case hex) over its key fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EngagementId(String);

impl EngagementId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wrap an id read back from a store (written by [`Engagement::id`]).
    pub fn from_stored(s: String) -> EngagementId {
        EngagementId(s)
    }
}

/// One engagement: "this resident has information of this kind at this source".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engagement {
    pub registered_resident_identification: ResidentId,
    pub service_domain: String,
    pub categorization: String,
    pub logical_address: String,
    pub business_object_instance_identifier: String,
    pub clinical_process_interest_id: String,
    pub most_recent_content: Option<EiTime>,
    pub source_system: String,
    /// Set by the engagement index when the engagement was first stored.
    pub creation_time: Option<EiTime>,
    /// Set by the engagement index when a stored engagement changed.
    pub update_time: Option<EiTime>,
    pub data_controller: String,
    /// The HSA id of the engagement index that owns the engagement (Update-R6).
    pub owner: String,
}

impl Engagement {
    /// The engagement's identity: SHA-256 over the key fields in the order skltp/ei
    /// uses (resident, service domain, categorization, logical address, business object
    /// instance id, source system, data controller, owner, clinical process interest id).
    /// Unlike skltp/ei, which concatenates the fields without a separator (so
    /// `"ab"+"c"` and `"a"+"bc"` collide), each field is followed by U+001F, a character
    /// that XML 1.0 text cannot contain, so distinct keys never hash the same input.
    pub fn id(&self) -> EngagementId {
        self.id_with_owner(&self.owner)
    }

    /// The id the same key would have under another owner (ProcessNotification-R5).
    pub fn id_with_owner(&self, owner: &str) -> EngagementId {
        let mut h = Sha256::new();
        for field in [
            self.registered_resident_identification.as_str(),
            &self.service_domain,
            &self.categorization,
            &self.logical_address,
            &self.business_object_instance_identifier,
            &self.source_system,
            &self.data_controller,
            owner,
            &self.clinical_process_interest_id,
        ] {
            h.update(field.as_bytes());
            h.update([0x1f]);
        }
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        EngagementId(hex)
    }
}

/// One element of an Update or ProcessNotification: store or remove an engagement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementTransaction {
    /// `deleteFlag = true`: remove the engagement.
    pub delete: bool,
    pub engagement: Engagement,
}

/// A FindContent query: resident and service domain are required, every other field
/// narrows the result by exact match; `most_recent_content` keeps engagements whose
/// most recent content is at or after the given time (as skltp/ei).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindQuery {
    pub registered_resident_identification: ResidentId,
    pub service_domain: String,
    pub categorization: Option<String>,
    pub logical_address: Option<String>,
    pub business_object_instance_identifier: Option<String>,
    pub clinical_process_interest_id: Option<String>,
    pub most_recent_content: Option<EiTime>,
    pub source_system: Option<String>,
    pub data_controller: Option<String>,
    pub owner: Option<String>,
}

impl FindQuery {
    /// A query for one resident in one service domain, nothing else narrowed.
    pub fn new(resident: ResidentId, service_domain: impl Into<String>) -> FindQuery {
        FindQuery {
            registered_resident_identification: resident,
            service_domain: service_domain.into(),
            categorization: None,
            logical_address: None,
            business_object_instance_identifier: None,
            clinical_process_interest_id: None,
            most_recent_content: None,
            source_system: None,
            data_controller: None,
            owner: None,
        }
    }

    /// Whether `e` is in this query's answer (the reference semantics every store
    /// backend's query must equal).
    pub fn matches(&self, e: &Engagement) -> bool {
        fn opt(f: &Option<String>, v: &str) -> bool {
            f.as_deref().is_none_or(|f| f == v)
        }
        e.registered_resident_identification == self.registered_resident_identification
            && e.service_domain == self.service_domain
            && opt(&self.categorization, &e.categorization)
            && opt(&self.logical_address, &e.logical_address)
            && opt(
                &self.business_object_instance_identifier,
                &e.business_object_instance_identifier,
            )
            && opt(
                &self.clinical_process_interest_id,
                &e.clinical_process_interest_id,
            )
            && opt(&self.source_system, &e.source_system)
            && opt(&self.data_controller, &e.data_controller)
            && opt(&self.owner, &e.owner)
            && self
                .most_recent_content
                .is_none_or(|t| e.most_recent_content.is_some_and(|m| m >= t))
    }
}

/// What happened to one transaction of an applied batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A new engagement was stored.
    Created,
    /// A stored engagement got a newer `mostRecentContent`.
    Updated,
    /// The engagement was already stored with the same or a newer `mostRecentContent`:
    /// nothing was written.
    Unchanged,
    /// A stored engagement was removed.
    Deleted,
    /// A delete for an engagement that was not stored: nothing was written.
    DeletedMissing,
}

/// One transaction's effect, with the engagement as stored (for deletes: as sent, with
/// the stored times when it existed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementChange {
    pub kind: ChangeKind,
    pub engagement: Engagement,
}

/// A batch of engagement transactions to apply atomically.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub transactions: Vec<EngagementTransaction>,
    /// Time written as `creationTime` / `updateTime`.
    pub now: EiTime,
    /// ProcessNotification-R5: when set, storing an engagement first removes the
    /// engagement with the same key owned by this (our own) index: the engagement has
    /// moved to the notifying index.
    pub superseded_owner: Option<String>,
}

/// Counts of what an applied batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub deleted_missing: usize,
    /// Outbox items written in the same database transaction.
    pub notifications: usize,
}

/// One page of GetUpdates: residents in ascending order, each with all its engagements
/// in the service domain changed at or after the time stamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdatesPage {
    pub residents: Vec<(ResidentId, Vec<Engagement>)>,
    /// `false` when more residents follow: ask again after the last one.
    pub complete: bool,
}

/// Decides, inside the database transaction, which outbox items a batch's effects
/// produce. Called once per batch, after the engagements were written; an `Err` rolls
/// the whole batch back. It runs on whatever thread the backend works on, and must not
/// block or wait.
pub type NotificationPlanner =
    Box<dyn FnOnce(&[EngagementChange]) -> std::result::Result<Vec<NewOutboxItem>, String> + Send>;

/// The engagement index's records.
#[async_trait]
pub trait EngagementStore: Send + Sync + fmt::Debug {
    /// Apply all transactions and write the outbox items `plan` returns, in ONE database
    /// transaction: either everything is durable when this returns `Ok`, or nothing is
    /// (Update is all-or-nothing; an acknowledged update survives a crash together with
    /// its notifications).
    ///
    /// Rules: a new engagement gets `creationTime = now`; a stored one is changed only
    /// when the incoming `mostRecentContent` is newer (then `updateTime = now`), so a
    /// late, older update never hides newer content; a delete removes the engagement.
    /// Transactions are applied in order; the caller has rejected duplicate keys.
    async fn apply_engagement_transactions(
        &self,
        request: ApplyRequest,
        plan: NotificationPlanner,
    ) -> Result<ApplyOutcome>;

    /// The engagements matching `query` (see [`FindQuery::matches`]), ordered by id.
    async fn find_engagements(&self, query: &FindQuery) -> Result<Vec<Engagement>>;

    /// One engagement by id.
    async fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>>;

    /// GetUpdates: engagements in `service_domain` created or changed at or after
    /// `since`, grouped by resident, residents after `after_resident` in ascending order,
    /// at most `max_residents` residents per page.
    async fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_must_be_real_calendar_times() {
        assert_eq!(
            EiTime::parse("20150310104108").unwrap().to_string(),
            "20150310104108"
        );
        assert!(EiTime::parse("20240229235959").is_some());
        for bad in [
            "20230229120000",
            "20150310244108",
            "20151310104108",
            "2015031010410",
            "02015031010410",
            "+2015031010410",
            "2015-03-10T10:41",
            "${timestamp}",
        ] {
            assert!(EiTime::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn id_separates_fields() {
        let mut a = sample();
        let mut b = sample();
        a.service_domain = "ab".into();
        a.categorization = "c".into();
        b.service_domain = "a".into();
        b.categorization = "bc".into();
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().as_str().len(), 64);
        assert_ne!(a.id(), a.id_with_owner("other"));
        // Non-key fields do not change the identity.
        let mut c = a.clone();
        c.most_recent_content = EiTime::parse("20200101000000");
        assert_eq!(a.id(), c.id());
    }

    fn sample() -> Engagement {
        Engagement {
            registered_resident_identification: ResidentId::parse("191212121212").unwrap(),
            service_domain: "riv:clinicalprocess:healthcond:description".into(),
            categorization: "dia".into(),
            logical_address: "SE1".into(),
            business_object_instance_identifier: "NA".into(),
            clinical_process_interest_id: "NA".into(),
            most_recent_content: None,
            source_system: "SE1-SRC".into(),
            creation_time: None,
            update_time: None,
            data_controller: "SE1-DC".into(),
            owner: "SE-EI".into(),
        }
    }
}
