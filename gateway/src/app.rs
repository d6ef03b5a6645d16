//! Wiring of a running gateway: routing table, per-core service threads, the admin
//! listener, signals (SIGHUP reloads the routing table, SIGTERM/SIGINT drain and stop).

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::pipeline::{LocalServices, Shared};
use crate::routing::RoutingTableHandle;
use crate::stats::Stats;

/// Run the gateway until SIGTERM/SIGINT. `extra` runs on the control runtime too (the
/// demo producer in `serve --demo`).
pub fn run(
    config: Config,
    extra: Option<std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>>,
) -> anyhow::Result<()> {
    // Background work (admin, signals, reloads, demo producer) has its own small runtime,
    // away from the per-core service runtimes.
    let control = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vaxel-control")
        .enable_all()
        .build()?;

    let routing = Arc::new(RoutingTableHandle::new(
        config.routing.source.clone(),
        config.routing.last_known_good.clone(),
        config.routing.vars.clone(),
    ));
    if let Err(e) = routing.load_initial() {
        tracing::error!(error = %e, "no routing table could be loaded: every call is answered with VP008 until a reload succeeds");
    }
    // The store (engagements, notification outbox) and the services on it.
    let store = crate::store::open(&config.store).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the store at {} (store.path in {}): {e}",
            config.store.path.display(),
            config.origin.display()
        )
    })?;
    let index = crate::engagement::EngagementIndex::new(store, config.engagement_index.clone());
    let aggregator = crate::aggregate::Aggregator::new(
        vaxel_adapters::all(),
        Arc::new(crate::local::IndexLookup(index.clone())),
        config.aggregation.deadline,
    );
    let notifications = {
        let _runtime = control.enter();
        let client_tls = crate::tls::producer_client_config(
            &config.producers.certificate,
            &config.producers.private_key,
            &config.producers.ca,
        )?;
        Arc::new(crate::local::RoutedNotifications {
            routing: routing.clone(),
            forwarder: crate::forward::Forwarder::new(client_tls, &config.producers),
            instance_id: config.instance_id.clone(),
        })
    };
    // Consent under SVOD/PDL: off unless `[consent] enabled` (then the gateway behaves
    // exactly as before). Shares the store's database file, with its own tables.
    let consent = if config.consent.enabled {
        let service = crate::consent::ConsentService::open(&config.consent, &config.store)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start consent checking ([consent] in {}): {e}",
                    config.origin.display()
                )
            })?;
        Some(Arc::new(service))
    } else {
        None
    };
    // The PDL access log records every consent decision (specs/access-log.md).
    let (access_log, access_log_store) = if consent.is_some() {
        let log_store = crate::store::access_log::open(&config.store).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the access log in {}: {e}",
                config.store.path.display()
            )
        })?;
        (
            Some(crate::access_log::AccessLog::start(
                log_store.clone(),
                &config.access_log,
            )),
            Some(log_store),
        )
    } else {
        (None, None)
    };
    let shared = Arc::new(Shared {
        config,
        routing,
        stats: Stats::default(),
        started: std::time::Instant::now(),
        local: LocalServices {
            engagement_index: Some(Arc::new(index.clone())),
            aggregator: Some(aggregator),
        },
        consent,
        access_log,
        access_log_store,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    {
        let _runtime = control.enter();
        crate::engagement::spawn_notifier(Arc::new(index), notifications, stop_rx.clone());
    }

    if let Some(c) = shared.consent.clone() {
        let _runtime = control.enter();
        crate::consent::spawn_index_reload(c, stop_rx.clone());
    }

    if let Some(fut) = extra {
        control.spawn(async move {
            if let Err(e) = fut.await {
                tracing::error!(error = %e, "demo producer stopped");
            }
        });
    }

    let threads = crate::server::start_service(shared.clone(), stop_rx.clone())?;
    // The admin listener (and so /ready) comes up only after the service port is bound.
    let admin_addr = match shared.config.admin_listen {
        Some(addr) => {
            let listener = control
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (admin.listen): {e}"))?;
            let local = listener.local_addr()?;
            control.spawn(crate::ops::serve_admin(
                listener,
                shared.clone(),
                stop_rx.clone(),
            ));
            Some(local)
        }
        None => None,
    };

    tracing::info!(
        service = %threads.local_addr,
        admin = ?admin_addr,
        threads = shared.config.service.threads,
        instance_id = %shared.config.instance_id,
        "vaxel is serving (mutual TLS, client certificates required)"
    );

    let sig_shared = shared.clone();
    control.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the routing table");
                    let _ = crate::ops::reload(&sig_shared).await;
                    if let Some(c) = sig_shared.consent.clone() {
                        crate::consent::reload_on_signal(c).await;
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        anyhow::Ok(())
    })?;
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    let _ = stop_tx.send(true);
    threads.join();
    if let Some(log) = &shared.access_log {
        // Every decision taken before the stop is written before the process ends.
        log.shutdown();
    }
    tracing::info!("stopped");
    Ok(())
}
