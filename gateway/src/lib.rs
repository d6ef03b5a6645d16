//! vaxel: mutual-TLS RIV-TA gateway (library part of the `vaxel` binary).
//!
//! Layout follows DESIGN.md: identity (`identity`, `tls`), routing (`routing`),
//! the request phases (`pipeline`), forwarding (`forward`), faults (`fault`),
//! the listeners (`server`, `ops`), the engagement index (`engagement`) over the
//! durable `store`, and the demo PKI and producer (`certs`, `demo_producer`).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod aggregate;
pub mod app;
pub mod certs;
pub mod config;
pub mod consent;
pub mod demo;
pub mod demo_producer;
pub mod engagement;
pub mod fault;
pub mod forward;
pub mod headers;
pub mod identity;
pub mod local;
pub mod ops;
pub mod pipeline;
pub mod rivta;
pub mod routing;
pub mod server;
pub mod stats;
pub mod store;
pub mod tls;
