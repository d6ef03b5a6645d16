//! Changes between nodes over PostgreSQL (specs/deployment.md "Changes reach every
//! node"): one channel, [`CHANNEL`], carries `"<schema> <kind> [<argument>]"`; every
//! node keeps one connection that `LISTEN`s on it, outside the pool.
//!
//! - Consent and block writes are published by a trigger in the same transaction
//!   (`<schema> consent <patient>`), so any writer reaches every node: a node, or
//!   `vaxel consent` run against the database. PostgreSQL delivers a notification when
//!   its transaction commits, to every listening session, typically within
//!   milliseconds.
//! - A routing-table reload is published by the node that reloaded
//!   (`<schema> routing <node id>`); that node ignores its own.
//! - When the listening connection is lost, it is re-made with backoff, and a
//!   [`ClusterEvent::Resync`] tells the node that it may have missed changes (it
//!   rebuilds its consent index from the database).
//!
//! Several schemas (several clusters, or test runs) can share one database: each node
//! takes only its own schema's events.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;
use vaxel_store::cluster::{Cluster, ClusterEvent};
use vaxel_store::config::{PostgresConfig, PostgresTls};
use vaxel_store::Result;

use crate::{db, PgStore};

/// The notification channel.
pub const CHANNEL: &str = "vaxel_changes";

/// Events buffered per subscriber before it lags (and resyncs).
const EVENT_BUFFER: usize = 4096;
/// Longest wait between reconnect attempts of the listener.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(5);

/// The cluster of nodes on one PostgreSQL schema.
#[derive(Debug)]
pub struct PgCluster {
    store: PgStore,
    events: broadcast::Sender<ClusterEvent>,
    /// This process's id in routing events (to skip its own).
    node_id: String,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgCluster {
    /// Start listening (the first connection is made before this returns, so that no
    /// change committed after start-up is missed).
    pub async fn start(config: &PostgresConfig, store: PgStore) -> Result<PgCluster> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let node_id = uuid::Uuid::new_v4().simple().to_string();
        let pg = crate::pg_config(config)?;
        let io = store.io().clone();
        let (first_pg, tls) = (pg.clone(), config.tls.clone());
        // Connected on the store's I/O runtime, where it then runs.
        let first = io
            .spawn(async move { listen(&first_pg, &tls).await })
            .await
            .map_err(|e| {
                vaxel_store::StoreError::Backend(format!("listener task failed: {e}"))
            })??;
        let listener = io.spawn(run_listener(
            pg,
            config.tls.clone(),
            store.schema().to_string(),
            node_id.clone(),
            events.clone(),
            first,
        ));
        Ok(PgCluster {
            store,
            events,
            node_id,
            listener,
        })
    }
}

#[async_trait]
impl Cluster for PgCluster {
    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.events.subscribe()
    }

    async fn publish(&self, event: ClusterEvent) -> Result<()> {
        let payload = match &event {
            ClusterEvent::RoutingReload => {
                format!("{} routing {}", self.store.schema(), self.node_id)
            }
            ClusterEvent::ConsentChanged { patient } => {
                format!("{} consent {patient}", self.store.schema())
            }
            ClusterEvent::Resync => format!("{} resync {}", self.store.schema(), self.node_id),
        };
        let client = self.store.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    fn shared(&self) -> bool {
        true
    }
}

/// A listening connection: the client (kept alive by the caller) and its messages.
type Listening = (
    tokio_postgres::Client,
    futures_util::stream::BoxStream<
        'static,
        std::result::Result<AsyncMessage, tokio_postgres::Error>,
    >,
);

/// Connect outside the pool and `LISTEN`.
async fn listen(pg: &tokio_postgres::Config, tls: &PostgresTls) -> Result<Listening> {
    let (client, messages) = match tls {
        PostgresTls::Disable => {
            let (client, mut connection) = pg.connect(tokio_postgres::NoTls).await.map_err(db)?;
            let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            (client, stream.boxed())
        }
        tls => {
            let connector = crate::tls_connector(tls)?;
            let (client, mut connection) = pg.connect(connector).await.map_err(db)?;
            let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            (client, stream.boxed())
        }
    };
    // The connection must be polled for LISTEN's answer to arrive: poll it on a task
    // until the command is through, forwarding what comes meanwhile.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let pump = tokio::spawn(async move {
        let mut messages = messages;
        while let Some(m) = messages.next().await {
            let end = m.is_err();
            if tx.send(m).is_err() || end {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| {
            pump.abort();
            db(e)
        })?;
    let stream = futures_util::stream::unfold((rx, pump), |(mut rx, pump)| async move {
        rx.recv().await.map(|m| (m, (rx, pump)))
    });
    Ok((client, stream.boxed()))
}

async fn run_listener(
    pg: tokio_postgres::Config,
    tls: PostgresTls,
    schema: String,
    node_id: String,
    events: broadcast::Sender<ClusterEvent>,
    first: Listening,
) {
    let mut current = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        let (client, mut messages) = match current.take() {
            Some(l) => l,
            None => match listen(&pg, &tls).await {
                Ok(l) => {
                    tracing::info!("cluster change listener reconnected; resyncing");
                    let _ = events.send(ClusterEvent::Resync);
                    backoff = Duration::from_millis(100);
                    l
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cluster change listener cannot connect");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_RECONNECT_BACKOFF);
                    continue;
                }
            },
        };
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.channel() == CHANNEL => {
                    if let Some(event) = parse(n.payload(), &schema, &node_id) {
                        let _ = events.send(event);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cluster change listener lost its connection");
                    break;
                }
            }
        }
        drop(client);
        tracing::warn!(
            "cluster change listener disconnected; other nodes' changes wait until it is back"
        );
    }
}

/// An event for this node from a payload, or `None` (another schema, this node's own
/// routing reload, not understood).
fn parse(payload: &str, schema: &str, node_id: &str) -> Option<ClusterEvent> {
    let mut parts = payload.splitn(3, ' ');
    if parts.next()? != schema {
        return None;
    }
    let kind = parts.next()?;
    let arg = parts.next().unwrap_or("");
    match kind {
        "consent" if !arg.is_empty() => Some(ClusterEvent::ConsentChanged {
            patient: arg.to_string(),
        }),
        "routing" if arg != node_id => Some(ClusterEvent::RoutingReload),
        "resync" if arg != node_id => Some(ClusterEvent::Resync),
        _ => None,
    }
}

/// The statement a trigger function runs to publish a change: `kind` is `consent`, and
/// `value_sql` the SQL expression of its argument (e.g. `NEW.patient`). Migrations
/// write it out literally; this keeps the format in one place for tests.
#[cfg(test)]
pub(crate) fn notify_sql(kind: &str, value_sql: &str) -> String {
    format!("PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || ' {kind} ' || {value_sql});")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_for_this_schema_only() {
        assert_eq!(
            parse("vaxel consent 191212121212", "vaxel", "me"),
            Some(ClusterEvent::ConsentChanged {
                patient: "191212121212".into()
            })
        );
        assert_eq!(parse("other consent 191212121212", "vaxel", "me"), None);
        assert_eq!(
            parse("vaxel routing node2", "vaxel", "me"),
            Some(ClusterEvent::RoutingReload)
        );
        assert_eq!(parse("vaxel routing me", "vaxel", "me"), None, "own reload");
        assert_eq!(parse("vaxel consent", "vaxel", "me"), None);
        assert_eq!(parse("vaxel", "vaxel", "me"), None);
        assert_eq!(parse("", "vaxel", "me"), None);
    }
}
