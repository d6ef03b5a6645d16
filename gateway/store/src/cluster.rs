//! What several gateway nodes on one database share besides data: changes that must
//! reach every node's in-memory state (consent index, routing table), and whether the
//! database can be reached now (readiness).
//!
//! A backend for one node (SQLite) has nothing to tell other nodes: its [`LocalCluster`]
//! publishes nowhere. The PostgreSQL backend publishes with `NOTIFY` and listens on every
//! node (specs/deployment.md gives the bound).

use std::fmt;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::Result;

/// A change another node made, to apply here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A consent or block of this patient changed (any writer: a node, `vaxel consent`
    /// against the database).
    ConsentChanged { patient: String },
    /// An operator reloaded the routing table on another node: read it again here.
    RoutingReload,
    /// Notifications may have been missed (the listening connection was lost and is
    /// back): rebuild everything derived from the database.
    Resync,
}

/// Changes between nodes, and the database's reachability.
#[async_trait]
pub trait Cluster: Send + Sync + fmt::Debug {
    /// Events from other nodes (and from writes to the database by tools). A receiver
    /// that lags behind gets `RecvError::Lagged` and SHOULD resync.
    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent>;

    /// Tell the other nodes (not this one) about a change made here. Consent and block
    /// writes need no call: the backend publishes them with the write.
    async fn publish(&self, event: ClusterEvent) -> Result<()>;

    /// Whether the database answers now (readiness).
    async fn ping(&self) -> Result<()>;

    /// Whether other nodes can share this database (a backend for one node says no).
    fn shared(&self) -> bool;
}

/// The one-node backend's cluster: nothing to publish, nothing arrives.
#[derive(Debug)]
pub struct LocalCluster {
    events: broadcast::Sender<ClusterEvent>,
}

impl Default for LocalCluster {
    fn default() -> Self {
        LocalCluster {
            events: broadcast::channel(1).0,
        }
    }
}

#[async_trait]
impl Cluster for LocalCluster {
    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.events.subscribe()
    }

    async fn publish(&self, _event: ClusterEvent) -> Result<()> {
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn shared(&self) -> bool {
        false
    }
}
