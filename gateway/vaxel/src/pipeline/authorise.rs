//! Phase 6, authorise (anropsbehörighet): may the caller call the contract for the
//! logical address, on the same routing table snapshot as the route (VP007)?
//!
//! Who is authorised (specs/routing-table.md "Who is authorised"): always the sender,
//! the caller identified in phase 2 (certificate, or `x-vp-sender-id` from a whitelisted
//! load balancer). The same rule holds for every call the gateway makes on the sender's
//! behalf (each source of an aggregated query). The original consumer header is passed
//! on and logged, never an authorisation input: no header a caller sends can widen what
//! it may reach.

use vaxel_model::{clock, Fault};
use vaxel_routing::RoutingTable;

/// `sender` may call `contract` at `address` today.
pub fn check(
    table: &RoutingTable,
    sender: &str,
    contract: &str,
    address: &str,
) -> Result<(), Fault> {
    table.authorize(sender, contract, address, clock::today())?;
    Ok(())
}
