//! One node among several on a shared database (specs/deployment.md): applies the other
//! nodes' changes here (consent and block writes to the consent index, routing-table
//! reloads), and watches whether the database answers (readiness).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use vaxel_store::{Cluster, ClusterEvent};

use crate::pipeline::Shared;

/// How often the database is pinged for readiness.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// A ping not answered in this time counts as unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the store's database answered the last ping.
#[derive(Debug)]
pub struct StoreHealth {
    reachable: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            reachable: AtomicBool::new(true),
            error: Mutex::new(None),
        }
    }
}

impl StoreHealth {
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Why the last ping failed.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, result: Result<(), String>) {
        let ok = result.is_ok();
        let was = self.reachable.swap(ok, Ordering::Relaxed);
        let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(()) if !was => tracing::info!("the store's database is reachable again"),
            Err(e) if was => {
                tracing::error!(error = %e, "the store's database is not reachable: /ready answers 503 and calls that need the store are refused until it is back");
                *error = Some(e);
            }
            Err(e) => *error = Some(e),
            Ok(()) => {}
        }
        if ok {
            *error = None;
        }
    }
}

/// Start the health check and, when the database is shared, the change follower. Call
/// on the control runtime.
pub fn spawn(shared: Arc<Shared>, cluster: Arc<dyn Cluster>, stop: watch::Receiver<bool>) {
    tokio::spawn(watch_health(shared.clone(), cluster.clone(), stop.clone()));
    if cluster.shared() {
        // Subscribed now, before any change could be missed.
        let events = cluster.subscribe();
        tokio::spawn(follow_changes(shared, events, stop));
    }
}

async fn watch_health(
    shared: Arc<Shared>,
    cluster: Arc<dyn Cluster>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let result = match tokio::time::timeout(PING_TIMEOUT, cluster.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", PING_TIMEOUT.as_millis())),
        };
        shared.store_health.set(result);
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { return },
        }
    }
}

async fn follow_changes(
    shared: Arc<Shared>,
    mut events: broadcast::Receiver<ClusterEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            r = stop.changed() => if r.is_err() || *stop.borrow() { return } else { continue },
        };
        match event {
            Ok(ClusterEvent::ConsentChanged { patient }) => {
                if let Some(consent) = &shared.consent {
                    if let Err(e) = consent.apply_change(&patient).await {
                        tracing::warn!(error = %e, "a consent change from another node was not applied; rebuilding the index");
                        resync(&shared).await;
                    }
                }
            }
            Ok(ClusterEvent::RoutingReload) => {
                tracing::info!("another node reloaded the routing table: reloading here");
                let routing = shared.routing.clone();
                match tokio::task::spawn_blocking(move || routing.reload()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "routing table reload (from another node) failed: the running table stays")
                    }
                    Err(e) => tracing::error!(error = %e, "routing table reload task failed"),
                }
            }
            Ok(ClusterEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                resync(&shared).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn reload_routing(shared: &Shared) {
    let routing = shared.routing.clone();
    match tokio::task::spawn_blocking(move || routing.reload()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "routing table reload (from another node) failed: the running table stays")
        }
        Err(e) => tracing::error!(error = %e, "routing table reload task failed"),
    }
}

/// Changes may have been missed: rebuild the consent index from the database and read
/// the routing table again (a reload published meanwhile is not lost).
async fn resync(shared: &Shared) {
    reload_routing(shared).await;
    if let Some(consent) = &shared.consent {
        match consent.reload_index().await {
            Ok(patients) => tracing::info!(patients, "consent index rebuilt from the database"),
            Err(e) => {
                tracing::error!(error = %e, "consent index not rebuilt; the previous one stays in use until the next resync")
            }
        }
    }
}
