//! Routing table (TAK, tjänsteadresseringskatalog): service contract + logical
//! address → producer (vägval), and consumer + contract + address → allowed
//! (anropsbehörighet), with the HSA-tree fallback and validity periods.
//!
//! - `model`: typed rule values ([`Route`], [`Contract`], [`RivtaProfile`], [`Validity`]).
//! - `load`: JSON/TOML file → validated [`RoutingTable`] (format: specs/routing-table.md).
//! - `lookup`: [`RoutingTable::route`] and [`RoutingTable::authorize`] (hot path).
//! - `store`: [`RoutingTableHandle`], the `ArcSwap` holder with reload and the
//!   last-known-good copy.
//! - `demo`: the embedded demo table for `vaxel serve --demo`.
//! - `config`: `[routing]` (the table's source, last-known-good copy, placeholders).
#![forbid(unsafe_code)]

pub mod config;
mod demo;
mod key;
mod load;
mod lookup;
mod model;
mod placeholder;
mod store;
mod table;

pub use config::RoutingConfig;
pub use demo::{
    DEMO_AGGREGATION_ADDRESS, DEMO_CARE_PROVIDER, DEMO_CARE_UNIT, DEMO_CITIZEN_CONSUMER,
    DEMO_CONSUMER, DEMO_EI_ADDRESS, DEMO_JOURNAL_SOURCES, DEMO_PATIENT, DEMO_PRODUCER_PLACEHOLDER,
    DEMO_TABLE_TOML,
};
pub use load::{EntryProblem, RoutingTableError, MAX_RESPONSE_TIMEOUT_MS};
pub use lookup::{AuthzError, InactiveRule, RouteError};
pub use model::{
    Authorization, Contract, LocalService, RivtaProfile, Route, TableFormat, Validity,
    DEFAULT_RESPONSE_TIMEOUT, HSA_ROOT, WILDCARD_ADDRESS,
};
pub use store::{
    LastKnownGoodWrite, LoadedTable, ReloadReport, RoutingTableHandle, SourceCheck, StartupError,
    StartupReport, TableOrigin, TableStats,
};
pub use table::{RoutingTable, TableCounts};

/// Count one reload of the routing table by outcome (`vaxel_routing_reloads_total`).
fn count_reload(outcome: &'static str) {
    vaxel_telemetry::metrics()
        .routing_reloads
        .get_or_create(&[("outcome", outcome)])
        .inc();
}
