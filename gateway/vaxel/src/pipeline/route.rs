//! Phase 5, route (vägval): where the message goes, decided on one snapshot of the
//! routing table before anything else is checked against it, as the national platform
//! does: an unknown contract or address is VP004, an ambiguous one VP006, a route in an
//! unknown RIV-TA profile VP005 — whoever the caller is. The decision names either a
//! producer or one of the gateway's own services; it also fixes the size limit.

use std::sync::Arc;
use std::time::Duration;

use vaxel_adapter::RivProfile;
use vaxel_model::{clock, Cause, Fault};
use vaxel_routing::RoutingTable;

use super::body;
use crate::services::{LocalService, Registry};

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Forward to a producer.
    Producer {
        url: http::Uri,
        /// The RIV-TA profile the producer speaks (the address header is converted when
        /// it differs from the request's).
        profile: RivProfile,
        /// The contract's response timeout.
        timeout: Duration,
    },
    /// Answer with one of the gateway's own services.
    Local(Arc<dyn LocalService>),
}

/// The route decision for one request.
#[derive(Debug, Clone)]
pub struct RouteDecision {
    pub target: Target,
    /// The largest message for the contract (the listener's limit or the contract's,
    /// whichever is smaller).
    pub max_body: u64,
}

/// Decide the route for `contract` at `address`.
pub fn decide(
    table: &RoutingTable,
    services: &Registry,
    contract: &str,
    address: &str,
    listener_max_body: u64,
) -> Result<RouteDecision, Fault> {
    let route = table.route(contract, address, clock::today())?;
    // A contract may allow less than the listener (routing table `max_body_bytes`).
    let max_body = route
        .max_body_bytes()
        .map_or(listener_max_body, |m| m.min(listener_max_body));
    let target = match route.local_service() {
        Some(local) => Target::Local(services.get(local.name()).cloned().ok_or_else(|| {
            Fault::NoRoute(Cause::msg(format!(
                "the routing table sends {contract} to {local}, which is not enabled on this gateway; see specs/configuration.md"
            )))
        })?),
        None => Target::Producer {
            url: route.url().clone(),
            profile: route.rivta_profile().known().ok_or_else(|| {
                Fault::RivVersion(Cause::msg(format!(
                    "the route for {contract} at {address} names RIV-TA profile \"{}\", which this gateway does not know: the routing table must say RIVTABP20 or RIVTABP21",
                    route.rivta_profile()
                )))
            })?,
            timeout: route.response_timeout(),
        },
    };
    Ok(RouteDecision { target, max_body })
}

/// The message's declared or received size fits the decision's limit.
pub fn check_size(
    decision: &RouteDecision,
    content_length: Option<u64>,
    received: u64,
    contract: &str,
) -> Result<(), Fault> {
    if content_length.is_some_and(|n| n > decision.max_body) || received > decision.max_body {
        return Err(body::too_large_for_contract(decision.max_body, contract));
    }
    Ok(())
}
