//! The compliance suites every store backend MUST pass, unchanged (CONVENTIONS.md: one
//! suite runs against every backend, as rustls runs one suite against every crypto
//! provider). A backend's tests call [`run_all`] on a freshly opened [`Stores`]; the
//! suites never assume the stores are empty.
//!
//! Public behind the feature `testkit` (backend crates enable it in their
//! dev-dependencies).

pub mod access_log;
pub mod consents;
pub mod engagements;
pub mod outbox;
pub mod sdk;

use crate::Stores;

/// Every suite, against every store of one backend.
pub async fn run_all(stores: &Stores) {
    engagements::run_all(stores.engagements.as_ref(), stores.outbox.as_ref()).await;
    outbox::run_all(stores.outbox.as_ref()).await;
    consents::run_all(stores.consents.as_ref()).await;
    access_log::run_all(stores.access_log.as_ref()).await;
    sdk::run_all(&stores.sdk).await;
}
