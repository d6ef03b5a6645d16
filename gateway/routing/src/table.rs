//! The in-memory routing table: validated rules indexed for O(1) lookups.

use serde::Serialize;

use std::sync::Arc;

use super::key::{CiKey, CiMap, CiMapExt};
use super::model::{Authorization, Contract, Route};

/// A validated routing table (TAK). Build it with [`RoutingTable::load`] or
/// [`RoutingTable::from_str`]; query it with [`RoutingTable::route`] and
/// [`RoutingTable::authorize`].
#[derive(Debug)]
pub struct RoutingTable {
    pub(crate) origin: Box<str>,
    /// Contract namespace → its rules.
    pub(crate) contracts: CiMap<ContractRules>,
    /// HSA id → parent HSA id (original spelling), for the parent walk.
    pub(crate) hsa_parents: CiMap<Box<str>>,
    /// Every consumer named by an authorization, as spelled there (metric labels).
    pub(crate) consumers: CiMap<Arc<str>>,
    pub(crate) counts: TableCounts,
    pub(crate) warnings: Vec<String>,
}

/// All rules of one service contract.
#[derive(Debug)]
pub(crate) struct ContractRules {
    pub(crate) contract: Contract,
    /// Logical address (or `*`) → routes.
    pub(crate) routes: CiMap<Vec<Route>>,
    /// Consumer → logical address (or `*`) → authorizations.
    pub(crate) authorizations: CiMap<CiMap<Vec<Authorization>>>,
}

/// Sizes of a table, for `/status` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TableCounts {
    /// Distinct service contracts.
    pub contracts: usize,
    /// Distinct routes (identical duplicates count once).
    pub routes: usize,
    /// Distinct authorizations (identical duplicates count once).
    pub authorizations: usize,
    /// Nodes in the HSA tree.
    pub hsa_nodes: usize,
}

impl RoutingTable {
    /// Where the table came from (file path or the name given to `from_str`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sizes of the table.
    pub fn counts(&self) -> TableCounts {
        self.counts
    }

    /// Load-time warnings (unknown RIV-TA profiles, overlapping routes); each was also
    /// logged with `tracing::warn!`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The contract with this namespace (case-insensitive).
    pub fn contract(&self, namespace: &str) -> Option<&Contract> {
        self.contracts
            .get_ci(namespace)
            .map(|rules| &rules.contract)
    }

    /// The contract's namespace as the table spells it (a bounded metric label: the
    /// request's spelling is never used).
    pub fn contract_label(&self, namespace: &str) -> Option<&Arc<str>> {
        self.contracts
            .get_ci(namespace)
            .map(|rules| &rules.contract.namespace)
    }

    /// The consumer as the table spells it when some authorization names it (a bounded
    /// metric label).
    pub fn consumer_label(&self, consumer: &str) -> Option<&Arc<str>> {
        self.consumers.get_ci(consumer)
    }

    /// All contracts, in no particular order.
    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values().map(|rules| &rules.contract)
    }

    /// All routes, in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.contracts
            .values()
            .flat_map(|rules| rules.routes.values().flatten())
    }

    /// All authorizations, in no particular order.
    pub fn authorizations(&self) -> impl Iterator<Item = &Authorization> {
        self.contracts.values().flat_map(|rules| {
            rules
                .authorizations
                .values()
                .flat_map(|by_address| by_address.values().flatten())
        })
    }

    /// Parent of an HSA id in the table's HSA tree, as spelled there.
    pub fn hsa_parent(&self, hsa_id: &str) -> Option<&str> {
        self.hsa_parents.get_ci(hsa_id).map(|parent| &**parent)
    }

    /// Ancestors of `address` in the HSA tree, nearest first, ending with `SE` when the
    /// chain reaches it. The loader rejects cycles; the step bound only keeps this
    /// total.
    pub(crate) fn hsa_ancestors<'x>(&'x self, address: &'x str) -> HsaAncestors<'x> {
        HsaAncestors {
            parents: &self.hsa_parents,
            current: Some(address),
            steps_left: self.hsa_parents.len(),
        }
    }
}

/// Iterator over HSA ancestors (see [`RoutingTable::hsa_ancestors`]).
#[derive(Debug)]
pub(crate) struct HsaAncestors<'x> {
    parents: &'x CiMap<Box<str>>,
    current: Option<&'x str>,
    steps_left: usize,
}

impl<'x> Iterator for HsaAncestors<'x> {
    type Item = &'x str;

    fn next(&mut self) -> Option<&'x str> {
        let current = self.current.take()?;
        if self.steps_left == 0 {
            return None;
        }
        self.steps_left -= 1;
        let parent: &'x str = self.parents.get_ci(current)?;
        // HSA walk stops at the root "SE" (DESIGN.md "Protocol facts").
        if !parent.eq_ignore_ascii_case(super::model::HSA_ROOT) {
            self.current = Some(parent);
        }
        Some(parent)
    }
}

/// Every consumer that some authorization names, by case-insensitive id.
pub(crate) fn consumer_index(contracts: &CiMap<ContractRules>) -> CiMap<Arc<str>> {
    let mut out: CiMap<Arc<str>> = CiMap::new();
    for rules in contracts.values() {
        for by_address in rules.authorizations.values() {
            if let Some(a) = by_address.values().flatten().next() {
                if out.get_ci(a.consumer()).is_none() {
                    out.insert(CiKey::new(a.consumer()), Arc::from(a.consumer()));
                }
            }
        }
    }
    out
}
