//! The `vaxel` command line.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vaxel::config::Config;
use vaxel::demo::{self, DemoOptions};

/// mimalloc instead of glibc malloc: glibc's malloc/free (with fastbin consolidation)
/// was ~9% of the gateway's CPU under load (perf), and an A/B run of the same build
/// with each allocator cut CPU per request by 3–12% (3 pairs) for ~13 MiB more RSS.
/// See BENCHMARKS.md. Built with `no_thp` (workspace Cargo.toml): with transparent huge
/// pages mimalloc's eagerly committed arenas made a gateway hold 300 MiB after a burst of
/// SDK messages instead of 70 MiB, at no CPU difference we could measure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "vaxel",
    version,
    about = "Mutual-TLS gateway for RIV-TA services (service virtualisation)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (TOML, see specs/configuration.md).
        #[arg(long, short, required_unless_present = "demo", conflicts_with = "demo")]
        config: Option<PathBuf>,
        /// Run the demo: generated PKI, demo routing table and demo producer.
        #[arg(long)]
        demo: bool,
        /// Demo: folder for certs-example/out and vaxel-data (default: current folder).
        #[arg(long, requires = "demo", default_value = ".")]
        demo_root: PathBuf,
        /// Demo: service address.
        #[arg(long, requires = "demo", default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Demo: admin address.
        #[arg(long, requires = "demo", default_value = "127.0.0.1:8080")]
        admin_listen: SocketAddr,
        /// Demo: the citizen page and API (TLS without client certificates).
        #[arg(long, requires = "demo", default_value = "127.0.0.1:8445")]
        citizen_listen: SocketAddr,
        /// Demo: demo producer address.
        #[arg(long, requires = "demo", default_value = "127.0.0.1:20443")]
        producer_listen: SocketAddr,
        /// Demo: the municipality's SDK gateway (a second process) service address.
        #[arg(long, requires = "demo", default_value = "127.0.0.1:9443")]
        peer_listen: SocketAddr,
        /// Demo: the municipality gateway's admin address.
        #[arg(long, requires = "demo", default_value = "127.0.0.1:9080")]
        peer_admin_listen: SocketAddr,
        /// Demo: run only the region's gateway (no municipality process).
        #[arg(long, requires = "demo")]
        no_peer: bool,
        /// Demo: keep every store on this PostgreSQL database (`postgres://...`) so that
        /// several demo nodes (other ports, `--no-peer`) form one cluster.
        #[arg(long, requires = "demo", value_name = "URL")]
        store_url: Option<String>,
        /// Demo: the schema for `--store-url`.
        #[arg(long, requires = "store_url", default_value = "vaxel_demo")]
        store_schema: String,
        /// Stop when standard input closes (the demo's second gateway ends with the
        /// first).
        #[arg(long, hide = true)]
        exit_on_stdin_eof: bool,
    },
    /// Validate a configuration file and its routing table, then exit.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Generate the demo PKI (CA, gateway, producer and consumer certificates).
    Certs {
        /// Output folder.
        #[arg(long, default_value = "certs-example/out")]
        out: PathBuf,
        /// Regenerate even when the files exist.
        #[arg(long)]
        force: bool,
    },
    /// Verify the PDL access log's hash chain (specs/access-log.md). Exit 0 and print the
    /// entry count and head when intact; exit 1 and name the first broken entry otherwise.
    PdlVerify {
        #[arg(long, short)]
        config: PathBuf,
        /// The head recorded earlier (`SEQ:HASH` as printed by pdl-verify): detects
        /// removal of the newest entries, which the chain alone cannot.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<vaxel_pdl::access_log::ChainHead>,
    },
    /// Review the PDL access log: print matching entries as JSON lines, oldest first.
    /// Without --patient or --user: every entry in the period.
    AccessLog {
        #[arg(long, short)]
        config: PathBuf,
        /// Accesses to this patient's data ("who has read my data").
        #[arg(long, conflicts_with = "user")]
        patient: Option<String>,
        /// Accesses by this user (HSA id).
        #[arg(long)]
        user: Option<String>,
        /// From this time, inclusive (RFC 3339, e.g. 2025-01-01T00:00:00Z).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Until this time, exclusive (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// At most this many entries.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Consents and blocks (spärr) in the configured store; prints JSON. Running
    /// gateways on PostgreSQL see the change at once; on SQLite after SIGHUP or
    /// `[consent] index_reload_s`.
    Consent {
        /// Configuration file (its [store] is used).
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        action: ConsentAction,
    },
    /// SDK messaging as an organisation's system: send, follow, fetch and acknowledge
    /// messages through a gateway's SDK API (specs/sdk.md §7). Prints JSON.
    Sdk {
        #[command(flatten)]
        target: vaxel::sdk_client::SdkTarget,
        #[command(subcommand)]
        action: vaxel::sdk_client::SdkAction,
    },
    /// A live terminal view of a running gateway, from its admin listener's
    /// `/dashboard/data`; `--once` prints one frame for scripts.
    Top(vaxel::top::TopArgs),
    /// Run the demo producer alone (used by the load harness).
    DemoProducer {
        #[arg(long, default_value = "127.0.0.1:20443")]
        listen: SocketAddr,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// CA whose client certificates are accepted.
        #[arg(long)]
        client_ca: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentAction {
    /// Register a consent for a care giver.
    Add {
        /// Personal id, 12 characters.
        #[arg(long)]
        patient: String,
        /// HSA id of the care giver whose users may read.
        #[arg(long)]
        care_giver: String,
        /// `all` or comma-separated information sets.
        #[arg(long, default_value = "all")]
        scope: String,
        /// RFC 3339; default now.
        #[arg(long)]
        valid_from: Option<String>,
        /// RFC 3339; default open-ended.
        #[arg(long)]
        valid_to: Option<String>,
        /// `normal` or `emergency`.
        #[arg(long, default_value = "normal")]
        kind: String,
        /// HSA id of the person registering.
        #[arg(long)]
        by: String,
    },
    /// List a patient's consents and blocks.
    List {
        #[arg(long)]
        patient: String,
    },
    /// Revoke a consent (recorded, never deleted).
    Revoke {
        id: String,
        #[arg(long)]
        by: String,
    },
    /// Register a block for a care giver and/or care unit.
    Block {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        care_giver: Option<String>,
        #[arg(long)]
        care_unit: Option<String>,
        #[arg(long)]
        valid_from: Option<String>,
        #[arg(long)]
        valid_to: Option<String>,
        #[arg(long)]
        by: String,
    },
    /// Lift a block (recorded, never deleted).
    Lift {
        id: String,
        #[arg(long)]
        by: String,
    },
}

fn consent_command(config: &std::path::Path, action: ConsentAction) -> anyhow::Result<()> {
    use serde_json::{json, Map, Value};
    use vaxel_pdl::consent::admin::{block_json, consent_json, parse_block, parse_consent};
    use vaxel_store::consent::EndOutcome;
    let cfg = Config::load(config)?;
    let rt = runtime()?;
    let store = rt.block_on(vaxel::stores::open(&cfg.store))?.consents;
    let obj = |v: Value| -> Map<String, Value> {
        match v {
            Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            _ => Map::new(),
        }
    };
    let patient_id = |p: &str| {
        vaxel_model::ResidentId::parse(p).ok_or_else(|| {
            anyhow::anyhow!("--patient must be a 12-character personal id matching [0-9]{{8}}[0-9pPtTfF][0-9]{{3}}")
        })
    };
    let out = match action {
        ConsentAction::Add {
            patient,
            care_giver,
            scope,
            valid_from,
            valid_to,
            kind,
            by,
        } => {
            let scope = if scope == "all" {
                json!("all")
            } else {
                json!(scope.split(',').map(str::trim).collect::<Vec<_>>())
            };
            let m = obj(
                json!({"patient": patient, "care_giver": care_giver, "scope": scope,
                "valid_from": valid_from, "valid_to": valid_to, "kind": kind}),
            );
            let c = parse_consent(&m, &by).map_err(|e| anyhow::anyhow!("{e}"))?;
            consent_json(&rt.block_on(store.register_consent(&c, vaxel_model::clock::now_utc()))?)
        }
        ConsentAction::Block {
            patient,
            care_giver,
            care_unit,
            valid_from,
            valid_to,
            by,
        } => {
            let m = obj(
                json!({"patient": patient, "care_giver": care_giver, "care_unit": care_unit,
                "valid_from": valid_from, "valid_to": valid_to}),
            );
            let b = parse_block(&m, &by).map_err(|e| anyhow::anyhow!("{e}"))?;
            block_json(&rt.block_on(store.register_block(&b, vaxel_model::clock::now_utc()))?)
        }
        ConsentAction::List { patient } => {
            let p = patient_id(&patient)?;
            json!({
                "consents": rt.block_on(store.consents_for_patient(&p))?.iter().map(consent_json).collect::<Vec<_>>(),
                "blocks": rt.block_on(store.blocks_for_patient(&p))?.iter().map(block_json).collect::<Vec<_>>(),
            })
        }
        ConsentAction::Revoke { id, by } => {
            match rt.block_on(store.revoke_consent(&id, &by, vaxel_model::clock::now_utc()))? {
                EndOutcome::Ended(c) => consent_json(&c),
                EndOutcome::AlreadyEnded(c) => {
                    anyhow::bail!("consent {} was already revoked at {:?}", c.id, c.revoked_at)
                }
                EndOutcome::NotFound => anyhow::bail!("no consent with id {id}"),
            }
        }
        ConsentAction::Lift { id, by } => {
            match rt.block_on(store.lift_block(&id, &by, vaxel_model::clock::now_utc()))? {
                EndOutcome::Ended(b) => block_json(&b),
                EndOutcome::AlreadyEnded(b) => {
                    anyhow::bail!("block {} was already lifted at {:?}", b.id, b.lifted_at)
                }
                EndOutcome::NotFound => anyhow::bail!("no block with id {id}"),
            }
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Subcommands that print JSON (or a screen) on stdout log to stderr.
    vaxel::logging::init(matches!(
        cli.command,
        Command::Consent { .. } | Command::AccessLog { .. } | Command::Sdk { .. } | Command::Top(_)
    ));
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vaxel: {e:#}");
            ExitCode::FAILURE
        }
    };
    vaxel::logging::flush();
    code
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::PdlVerify {
            config,
            expect_head,
        } => Ok(pdl_verify(&config, expect_head).unwrap_or_else(|e| {
            // 2, not 1: a script must tell "could not check" from "broken".
            eprintln!("vaxel: {e:#}");
            ExitCode::from(2)
        })),
        Command::AccessLog {
            config,
            patient,
            user,
            from,
            to,
            limit,
        } => {
            let rt = runtime()?;
            let store = open_access_log(&config, &rt)?;
            use vaxel_pdl::access_log::{query_by_patient, query_by_period, query_by_user};
            let found = rt.block_on(async {
                match (patient, user) {
                    (Some(p), _) => query_by_patient(&*store, &p, from, to, limit).await,
                    (None, Some(u)) => query_by_user(&*store, &u, from, to, limit).await,
                    (None, None) => query_by_period(&*store, from, to, limit).await,
                }
            })?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            /// One output line: the seq, then the entry's fields in canonical order.
            #[derive(serde::Serialize)]
            struct Line<'a> {
                seq: u64,
                entry: &'a vaxel_pdl::access_log::AccessLogEntry,
            }
            for (seq, entry) in &found {
                serde_json::to_writer(&mut out, &Line { seq: *seq, entry })?;
                std::io::Write::write_all(&mut out, b"\n")?;
            }
            std::io::Write::flush(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        other => run_other(other).map(|()| ExitCode::SUCCESS),
    }
}

/// The access log of the configured store. Refuses a missing database file instead of
/// creating an empty (and trivially intact) one.
fn open_access_log(
    config: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<std::sync::Arc<dyn vaxel_pdl::access_log::AccessLogStore>> {
    let cfg = Config::load(config)?;
    let stores = rt
        .block_on(vaxel::stores::open_existing(&cfg.store))
        .map_err(|e| anyhow::anyhow!("{e} (configuration {})", config.display()))?;
    Ok(stores.access_log)
}

/// A small runtime for the commands that talk to the (async) store.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn pdl_verify(
    config: &std::path::Path,
    expect_head: Option<vaxel_pdl::access_log::ChainHead>,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let store = open_access_log(config, &rt)?;
    let report = rt.block_on(vaxel_pdl::access_log::verify_against(&*store, expect_head))?;
    match &report.first_broken {
        None => {
            println!("access log intact: {} entries", report.entries);
            println!("head: {}", report.head);
            if expect_head.is_some() {
                println!("the recorded head is part of the chain");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!("access log BROKEN at {b}");
            println!(
                "intact before it: {} entries, last intact head {}",
                report.entries, report.head
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn run_other(command: Command) -> anyhow::Result<()> {
    match command {
        // Handled in `run` (they have their own exit codes).
        Command::PdlVerify { .. } | Command::AccessLog { .. } => Ok(()),
        Command::Serve {
            config,
            demo,
            demo_root,
            listen,
            admin_listen,
            citizen_listen,
            producer_listen,
            peer_listen,
            peer_admin_listen,
            no_peer,
            store_url,
            store_schema,
            exit_on_stdin_eof,
        } => {
            if exit_on_stdin_eof {
                std::thread::spawn(|| {
                    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                    tracing::info!(
                        "standard input closed: the demo's first gateway ended; stopping"
                    );
                    std::process::exit(0);
                });
            }
            if demo {
                let opts = DemoOptions {
                    root: demo_root,
                    listen,
                    admin_listen,
                    citizen_listen,
                    producer_listen,
                    peer_listen,
                    peer_admin_listen,
                    store_url,
                    store_schema,
                };
                let cfg = demo::prepare(&opts)?;
                // The municipality's gateway, a second process of this binary; it ends
                // when this one does (its standard input closes).
                let _peer = if no_peer {
                    None
                } else {
                    let peer_cfg = demo::municipality_config(&opts);
                    let child = std::process::Command::new(std::env::current_exe()?)
                        .arg("serve")
                        .arg("--config")
                        .arg(&peer_cfg)
                        .arg("--exit-on-stdin-eof")
                        .stdin(std::process::Stdio::piped())
                        .spawn()
                        .map_err(|e| {
                            anyhow::anyhow!("cannot start the municipality's gateway: {e}")
                        })?;
                    tracing::info!(config = %peer_cfg.display(), service = %peer_listen, admin = %peer_admin_listen, "the municipality's SDK gateway started (second process)");
                    Some(demo::Peer(child))
                };
                let certs = cfg
                    .producers
                    .ca
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default();
                let producer = Box::pin(async move {
                    vaxel::demo_producer::bind_and_run(
                        producer_listen,
                        &certs.join("producer.pem"),
                        &certs.join("producer.key"),
                        &certs.join("ca.pem"),
                    )
                    .await
                });
                tracing::info!(config = %cfg.origin.display(), "demo configuration written");
                vaxel::app::run(cfg, Some(producer))
            } else {
                let path = config.ok_or_else(|| anyhow::anyhow!("--config is required"))?;
                vaxel::app::run(Config::load(&path)?, None)
            }
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            vaxel::tls::service_server_config(
                &cfg.service.certificate,
                &cfg.service.private_key,
                &cfg.service.client_ca,
            )?;
            vaxel::tls::producer_client_config(
                &cfg.producers.certificate,
                &cfg.producers.private_key,
                &cfg.producers.ca,
            )?;
            let table = vaxel_routing::RoutingTableHandle::new(
                cfg.routing.source.clone(),
                cfg.routing.last_known_good.clone(),
                cfg.routing.vars.clone(),
            );
            table.set_local_services(
                vaxel::services::BUILT_IN
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            );
            let report = table.check_source()?;
            if let Some(sdk) = &cfg.sdk {
                // The organisation's key pair and the address book, as `serve` loads them.
                let book =
                    vaxel_sdk::AddressBook::load(&sdk.address_book, sdk.organisation_ca.as_deref())
                        .map_err(|e| anyhow::anyhow!(e))?;
                let cert = std::fs::read(&sdk.certificate)?;
                let key = std::fs::read(&sdk.private_key)?;
                vaxel_sdk::xmlsec::OrgCredentials::from_pem(&cert, &key)
                    .map_err(|e| anyhow::anyhow!("sdk.certificate / sdk.private_key: {e}"))?;
                println!(
                    "{}: SDK organisation {}, address book with {} participants",
                    config.display(),
                    sdk.organisation,
                    book.len()
                );
            }
            println!("{}: OK ({report})", config.display());
            Ok(())
        }
        Command::Certs { out, force } => {
            let pki = if force {
                vaxel::certs::generate_demo_pki(&out)?
            } else {
                vaxel::certs::ensure_demo_pki(&out)?
            };
            println!("demo PKI in {}", pki.dir.display());
            Ok(())
        }
        Command::Consent { config, action } => consent_command(&config, action),
        Command::Top(args) => vaxel::top::run(&args),
        Command::Sdk { target, action } => {
            let out = runtime()?.block_on(vaxel::sdk_client::run(&target, action))?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::DemoProducer {
            listen,
            cert,
            key,
            client_ca,
            threads,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .enable_all()
                .build()?;
            rt.block_on(vaxel::demo_producer::bind_and_run(
                listen, &cert, &key, &client_ca,
            ))
        }
    }
}
