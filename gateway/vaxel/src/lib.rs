//! vaxel: the mutual-TLS gateway binary's library (specs/architecture.md has the crate
//! map). This crate wires the concern crates together and owns what only a running
//! gateway needs:
//!
//! - [`config`]: the configuration file, assembled from every crate's section;
//! - [`stores`]: the one place that chooses the store backend;
//! - [`app`]: start-up wiring, signals, shutdown;
//! - [`server`] and [`tls`]: the thread-per-core service listener with mutual TLS;
//! - [`pipeline`]: one request, phase by phase (admit → identify → checks → sniff →
//!   route → authorise → dispatch);
//! - [`services`]: the gateway's own SOAP services behind one trait and registry
//!   (engagement index, aggregating service);
//! - [`onward`]: the one way the gateway calls producers and subscribers;
//! - [`ops`]: the admin listener (`/health`, `/ready`, `/status`, reload, consent and
//!   access log APIs); [`stats`]: its counters;
//! - [`citizen`]: the citizen's side (overview, consents and blocks, own access log,
//!   the citizen page and listener);
//! - [`top`]: `vaxel top`, the terminal view of the admin listener's dashboard data;
//! - [`certs`], [`demo`], [`demo_producer`], [`demo_tokens`]: the demo PKI, configuration,
//!   producer and care-staff identity provider.
#![forbid(unsafe_code)]

pub mod app;
pub mod certs;
pub mod citizen;
pub mod cluster;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod demo_producer;
pub mod demo_tokens;
pub mod logging;
pub mod onward;
pub mod ops;
pub mod pipeline;
pub mod sdk_client;
pub mod sdk_http;
pub mod sdk_pki;
pub mod server;
pub mod services;
pub mod stats;
pub mod stores;
pub mod tls;
pub mod top;
