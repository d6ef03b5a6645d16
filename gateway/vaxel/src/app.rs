//! Wiring of a running gateway: stores, the gateway's own services and their registry,
//! the routing table (checked against those services), per-core service threads, the
//! admin listener, and signals (SIGHUP reloads the routing table, consent keys and
//! index; SIGTERM/SIGINT drain and stop).

use std::sync::Arc;

use tokio::sync::watch;
use vaxel_engagement_index::EngagementIndex;
use vaxel_pdl::access_log::AccessLog;
use vaxel_pdl::consent::ConsentService;
use vaxel_routing::RoutingTableHandle;

use crate::config::Config;
use crate::onward::Onward;
use crate::pipeline::Shared;
use crate::services::aggregating::{Aggregator, Pdl};
use crate::services::engagement_index::{EngagementIndexService, RoutedNotifications};
use crate::services::Registry;

/// Run the gateway until SIGTERM/SIGINT. `extra` runs on the control runtime too (the
/// demo producer in `serve --demo`).
pub fn run(
    config: Config,
    extra: Option<std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>>,
) -> anyhow::Result<()> {
    // `[log]` and `[metrics]` first: everything after logs in the configured format.
    if let Some(logging) = crate::logging::get() {
        logging.configure(&config.log).map_err(|e| {
            anyhow::anyhow!("cannot apply [log] in {}: {e}", config.origin.display())
        })?;
    }
    let metrics = vaxel_telemetry::metrics();
    metrics.set_enabled(config.metrics.enabled);
    metrics.set_build(env!("CARGO_PKG_VERSION"), &config.instance_id);

    // Background work (admin, signals, reloads, notifications, demo producer) has its
    // own small runtime, away from the per-core service runtimes.
    let control = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vaxel-control")
        .enable_all()
        .build()?;

    // Durable state, from the one configured backend.
    let stores = control
        .block_on(crate::stores::open(&config.store))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the store at {} in {}: {e}",
                crate::stores::describe(&config.store),
                config.origin.display()
            )
        })?;

    // Consent under SVOD/PDL: off unless `[consent] enabled` (then the gateway behaves
    // exactly as before), and the PDL access log every decision goes to.
    let consent = if config.consent.enabled {
        let service = control
            .block_on(ConsentService::new(
                config.consent.clone(),
                stores.consents.clone(),
            ))
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
    // The citizen's side reads and changes the same consents and blocks: with care-staff
    // consent checking on, through the same service (one index, changes enforced at
    // once); with it off, through a service of its own that no care-staff call reads.
    let citizen_consent = match (&consent, config.citizen.enabled) {
        (_, false) => None,
        (Some(c), true) => Some(c.clone()),
        (None, true) => {
            let service = control
                .block_on(ConsentService::new(
                    config.consent.clone(),
                    stores.consents.clone(),
                ))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot start the citizen's consents ([citizen] in {}): {e}",
                        config.origin.display()
                    )
                })?;
            Some(Arc::new(service))
        }
    };
    // The PDL access log: every care-staff decision, and the citizen's own reads.
    let access_log = (consent.is_some() || config.citizen.enabled)
        .then(|| AccessLog::start(stores.access_log.clone(), &config.access_log));

    // The routing table, then the gateway's own services (one registration each); the
    // table is loaded knowing their names, so a route to a service this gateway does not
    // have is refused when the table loads.
    let routing = Arc::new(RoutingTableHandle::new(
        config.routing.source.clone(),
        config.routing.last_known_good.clone(),
        config.routing.vars.clone(),
    ));
    let index = EngagementIndex::new(
        stores.engagements.clone(),
        stores.outbox.clone(),
        config.engagement_index.clone(),
    );
    let index_service = Arc::new(EngagementIndexService(index.clone()));
    let mut services = Registry::default();
    services.register(index_service.clone());
    let aggregator = Arc::new(Aggregator::new(
        vaxel_adapters::all(),
        index_service,
        routing.clone(),
        config.aggregation.deadline,
        config.service.max_body_bytes,
        consent.as_ref().map(|c| Pdl {
            consent: c.clone(),
            access_log: access_log.clone(),
        }),
    ));
    services.register(aggregator.clone());
    routing.set_local_services(services.names());
    if let Err(e) = routing.load_initial() {
        tracing::error!(error = %e, "no routing table could be loaded: every call is answered with VP008 until a reload succeeds");
    }

    // SDK messaging (`[sdk] enabled`): the organisation's keys, the address book, and
    // the message store; deliveries run on the control runtime.
    let sdk = match &config.sdk {
        Some(sdk_config) => {
            let sdk = vaxel_sdk::Sdk::new(sdk_config.clone(), stores.sdk.clone()).map_err(|e| {
                anyhow::anyhow!(
                    "cannot start SDK messaging ([sdk] in {}): {e}",
                    config.origin.display()
                )
            })?;
            Some(Arc::new(sdk))
        }
        None => None,
    };

    let access_log_for_citizen = access_log.clone();
    let mut shared = Shared::new(
        config,
        routing.clone(),
        services,
        consent,
        access_log,
        Some(stores.access_log.clone()),
    );
    shared.sdk = sdk;
    shared.citizen = match citizen_consent {
        Some(consent) => Some(Arc::new(crate::citizen::build(
            &shared.config,
            aggregator.clone(),
            consent,
            access_log_for_citizen,
            stores.access_log.clone(),
        )?)),
        None => None,
    };
    shared.cluster = Some(stores.cluster.clone());
    shared.demo_staff = match &shared.config.demo_staff_key {
        Some(path) => Some(crate::demo_tokens::DemoStaffIssuer::load(path)?),
        None => None,
    };
    let shared = Arc::new(shared);
    let (stop_tx, stop_rx) = watch::channel(false);

    // Readiness follows the database; on a shared database, other nodes' consent
    // changes and routing reloads are applied here.
    {
        let _runtime = control.enter();
        crate::cluster::spawn(shared.clone(), stores.cluster.clone(), stop_rx.clone());
    }

    if let Some(sdk) = shared.sdk.clone() {
        let _runtime = control.enter();
        let cfg = &shared.config;
        let (cert, key) = sdk.config.client_tls.clone().unwrap_or_else(|| {
            (
                cfg.producers.certificate.clone(),
                cfg.producers.private_key.clone(),
            )
        });
        let client = crate::sdk_client::mtls_client(&cert, &key, &cfg.producers.ca, None)?;
        tracing::info!(
            organisation = %sdk.config.organisation,
            gateway_id = %sdk.config.gateway_id,
            partners = sdk.book.current().len(),
            "SDK messaging enabled"
        );
        vaxel_sdk::delivery::spawn(
            sdk,
            Arc::new(crate::sdk_client::GatewayTransport::new(client)),
            stop_rx.clone(),
        );
    }

    // Engagement index notifications, delivered onward like any call.
    let notifier = {
        let _runtime = control.enter();
        let cfg = &shared.config;
        let client_tls = crate::tls::producer_client_config(
            &cfg.producers.certificate,
            &cfg.producers.private_key,
            &cfg.producers.ca,
        )?;
        let transport = Arc::new(RoutedNotifications {
            routing: routing.clone(),
            onward: Onward::new(client_tls, &cfg.producers),
            instance_id: cfg.instance_id.clone(),
        });
        vaxel_engagement_index::notifications::spawn_notifier(&index, transport, stop_rx.clone())
    };

    if let Some(c) = shared.consent.clone() {
        let _runtime = control.enter();
        vaxel_pdl::consent::spawn_index_reload(c, stop_rx.clone());
    }

    // The dashboard's history and the gauges read from elsewhere.
    {
        let _runtime = control.enter();
        crate::dashboard::spawn_sampler(shared.clone(), stop_rx.clone());
    }

    if let Some(fut) = extra {
        control.spawn(async move {
            if let Err(e) = fut.await {
                tracing::error!(error = %e, "demo producer stopped");
            }
        });
    }

    let threads = crate::server::start_service(shared.clone(), stop_rx.clone())?;
    // The citizen listener (TLS without client certificates), on the control runtime.
    let citizen_addr = match (&shared.citizen, shared.config.citizen.listen) {
        (Some(_), Some(addr)) => {
            let _runtime = control.enter();
            let cfg = &shared.config;
            let listener = control
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (citizen.listen): {e}"))?;
            let local = listener.local_addr()?;
            let tls = crate::tls::server_auth_only_config(
                &cfg.service.certificate,
                &cfg.service.private_key,
                &[b"h2", b"http/1.1"],
            )?;
            let client_tls = crate::tls::producer_client_config(
                &cfg.producers.certificate,
                &cfg.producers.private_key,
                &cfg.producers.ca,
            )?;
            control.spawn(crate::citizen::listener::serve(
                listener,
                shared.clone(),
                tokio_rustls::TlsAcceptor::from(tls),
                Onward::new(client_tls, &cfg.producers),
                stop_rx.clone(),
            ));
            Some(local)
        }
        _ => None,
    };
    // The admin listener (and so /ready) comes up only after the service port is bound.
    let admin_addr = match shared.config.admin_listen {
        Some(addr) => {
            let listener = control
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (admin.listen): {e}"))?;
            let local = listener.local_addr()?;
            let guard = crate::ops::AdminGuard::from_config(&shared)?;
            control.spawn(crate::ops::serve_admin(
                listener,
                shared.clone(),
                guard,
                stop_rx.clone(),
            ));
            Some(local)
        }
        None => None,
    };

    tracing::info!(
        service = %threads.local_addr,
        admin = ?admin_addr,
        citizen = ?citizen_addr,
        threads = shared.config.service.threads,
        instance_id = %shared.config.instance_id,
        local_services = ?shared.services.names(),
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
                    if let Some(sdk) = &sig_shared.sdk {
                        if let Err(e) = sdk.book.reload() {
                            tracing::error!(error = %e, "the SDK address book was not reloaded: the previous one stays in use");
                        }
                    }
                    if let Some(c) = sig_shared.consent.clone() {
                        vaxel_pdl::consent::reload_on_signal(c).await;
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
    // The notifier gives back the notifications it claimed and did not deliver (another
    // node takes them at once); a delivery in hand may take up to its timeout.
    // (The timer is made inside the runtime: it needs the runtime's time driver.)
    let stopped = control.block_on(async move {
        tokio::time::timeout(std::time::Duration::from_secs(5), notifier).await
    });
    if stopped.is_err() {
        tracing::warn!("the notification delivery did not stop within 5 s; its claimed notifications go out when their lease ends");
    }
    if let Some(log) = &shared.access_log {
        // Every decision taken before the stop is written before the process ends.
        log.shutdown();
    }
    tracing::info!("stopped");
    Ok(())
}
