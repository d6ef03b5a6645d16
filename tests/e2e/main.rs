//! End-to-end tests: start the real binary and real TLS peers. How to run them, what
//! they need and how they skip: tests/README.md (`cargo test -p vaxel --test e2e --
//! <filter>`).
//!
//! Every test starts its own `vaxel serve` (and producers) from a configuration and a
//! routing table in a temporary folder, on free loopback ports, and stops them when it
//! ends. The demo PKI is generated once per test process with `vaxel certs`. Tests that
//! need the national reference messages read them from `../shared/reference` through
//! `harness::reference` and skip (with a note) when that folder is absent.
//!
//! `harness/`, one file per peer (`harness/mod.rs` has the map):
//! - `pki.rs`: the demo PKI, certificate paths, caller ids;
//! - `process.rs`: the binary under test, child processes killed on drop, free ports;
//! - `gateway.rs`: config + routing table in a temporary folder, `vaxel serve`, admin;
//! - `routing_table.rs`: the routing-table (TAK) builder;
//! - `producers.rs`: the demo producer process and an in-process recording producer;
//! - `client.rs`: TLS clients (reqwest; curl and openssl as tools), `post`, `Reply`;
//! - `messages.rs`: contracts, addresses, the test patient, small SOAP requests;
//! - `reference.rs`: the reference folder: read files, fill templates, skip;
//! - `assertions.rs`: faults, forwarded requests, `eventually`.

mod harness;

mod aggregation;
mod citizen;
mod citizen_api;
mod citizen_api_sources;
mod cluster;
mod consent;
mod dashboard;
mod demo;
mod engagement;
mod faults;
mod interop;
mod limits;
mod observability;
mod ops;
mod routing;
mod schemas;
mod sdk;
mod tls;
