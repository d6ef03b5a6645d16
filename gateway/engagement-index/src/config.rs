//! `[engagement_index]`: the local engagement index service (specs/configuration.md).

use std::time::Duration;

use serde::Deserialize;
use vaxel_model::config::{ConfigError, Section};

/// Default HSA id of the engagement index (`[engagement_index] owner`).
pub const DEFAULT_EI_OWNER: &str = "SE0000000000-VAXEL-EI";

/// Default `[engagement_index] notify_lease_ms`: longer than the longest producer
/// response timeout a notification waits for (29 s by default).
pub const DEFAULT_NOTIFY_LEASE_MS: u64 = 120_000;

/// `[engagement_index]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementIndexConfig {
    /// The index's own HSA id: written as `owner` of every engagement it accepts with
    /// Update (Update-R6), and the logical address Update must be sent to (Update-R7).
    pub owner: String,
    /// Other logical addresses accepted for Update-R7 (skltp/ei's alternative HSA id).
    pub owner_aliases: Vec<String>,
    /// First retry delay of a failed notification; doubled per attempt.
    pub notify_initial_backoff: Duration,
    /// Longest retry delay of a failed notification.
    pub notify_max_backoff: Duration,
    /// How long a node keeps the notifications it claimed before another node may take
    /// them over (a node that died mid-delivery).
    pub notify_lease: Duration,
    /// Residents per GetUpdates answer before `responseIsComplete` is false.
    pub get_updates_max_residents: usize,
    pub subscribers: Vec<SubscriberConfig>,
}

impl Default for EngagementIndexConfig {
    fn default() -> Self {
        EngagementIndexConfig {
            owner: DEFAULT_EI_OWNER.to_string(),
            owner_aliases: Vec::new(),
            notify_initial_backoff: Duration::from_millis(1_000),
            notify_max_backoff: Duration::from_millis(300_000),
            notify_lease: Duration::from_millis(DEFAULT_NOTIFY_LEASE_MS),
            get_updates_max_residents: 500,
            subscribers: Vec::new(),
        }
    }
}

/// An engagement index that is sent ProcessNotification for accepted changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    pub logical_address: String,
    /// Empty: every service domain. Matched case-insensitively (as skltp/ei).
    pub service_domains: Vec<String>,
    /// Empty: every categorization. Matched case-insensitively.
    pub categorizations: Vec<String>,
}

impl SubscriberConfig {
    /// Whether an engagement with this service domain and categorization is sent here.
    pub fn wants(&self, service_domain: &str, categorization: &str) -> bool {
        (self.service_domains.is_empty()
            || self
                .service_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(service_domain)))
            && (self.categorizations.is_empty()
                || self
                    .categorizations
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(categorization)))
    }
}

/// `[engagement_index]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngagementIndexConfig {
    owner: Option<String>,
    #[serde(default)]
    owner_aliases: Vec<String>,
    notify_initial_backoff_ms: Option<u64>,
    notify_max_backoff_ms: Option<u64>,
    notify_lease_ms: Option<u64>,
    get_updates_max_residents: Option<usize>,
    #[serde(default)]
    subscribers: Vec<RawSubscriber>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscriber {
    logical_address: String,
    #[serde(default)]
    service_domains: Vec<String>,
    #[serde(default)]
    categorizations: Vec<String>,
}

impl RawEngagementIndexConfig {
    /// Validate in `s` (`engagement_index`).
    pub fn validate(self, s: &Section<'_>) -> Result<EngagementIndexConfig, ConfigError> {
        let owner = self.owner.unwrap_or_else(|| DEFAULT_EI_OWNER.to_string());
        s.hsa_id("owner", &owner, "the engagement index's HSA id")?;
        for (i, a) in self.owner_aliases.iter().enumerate() {
            s.hsa_id(&format!("owner_aliases[{i}]"), a, "an HSA id")?;
        }
        let notify_initial_backoff = s.millis(
            "notify_initial_backoff_ms",
            self.notify_initial_backoff_ms,
            1_000,
        )?;
        let notify_max_backoff =
            s.millis("notify_max_backoff_ms", self.notify_max_backoff_ms, 300_000)?;
        s.check(
            "notify_max_backoff_ms",
            notify_max_backoff >= notify_initial_backoff,
            &format!(
                "must not be smaller than {}",
                s.key("notify_initial_backoff_ms")
            ),
        )?;
        let notify_lease = s.millis(
            "notify_lease_ms",
            self.notify_lease_ms,
            DEFAULT_NOTIFY_LEASE_MS,
        )?;
        s.check(
            "notify_lease_ms",
            notify_lease >= Duration::from_millis(1_000),
            "must be at least 1000 (longer than one delivery attempt)",
        )?;
        let get_updates_max_residents = s.count(
            "get_updates_max_residents",
            self.get_updates_max_residents,
            500,
        )?;
        let mut subscribers: Vec<SubscriberConfig> = Vec::new();
        for (i, raw) in self.subscribers.into_iter().enumerate() {
            let sub = s.nested(&format!("subscribers[{i}]"));
            sub.hsa_id(
                "logical_address",
                &raw.logical_address,
                "the subscriber's logical address",
            )?;
            sub.check(
                "logical_address",
                !subscribers
                    .iter()
                    .any(|o| o.logical_address.eq_ignore_ascii_case(&raw.logical_address)),
                &format!(
                    "`{}` is listed twice: merge the filters into one entry",
                    raw.logical_address
                ),
            )?;
            sub.check(
                "service_domains",
                raw.service_domains.iter().all(|d| !d.trim().is_empty()),
                "must not contain empty names (leave the list empty for every domain)",
            )?;
            sub.check(
                "categorizations",
                raw.categorizations.iter().all(|c| !c.trim().is_empty()),
                "must not contain empty names (leave the list empty for every categorization)",
            )?;
            subscribers.push(SubscriberConfig {
                logical_address: raw.logical_address,
                service_domains: raw.service_domains,
                categorizations: raw.categorizations,
            });
        }
        Ok(EngagementIndexConfig {
            owner,
            owner_aliases: self.owner_aliases,
            notify_initial_backoff,
            notify_max_backoff,
            notify_lease,
            get_updates_max_residents,
            subscribers,
        })
    }
}
