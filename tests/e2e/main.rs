//! End-to-end tests: start the real binary and real TLS peers.
//!
//! Every test starts its own `vaxel serve` (and producers) from a configuration and a
//! routing table in a temporary folder, on free loopback ports, and stops them when it
//! ends. The demo PKI is generated once per test process with `vaxel certs`. Tests that
//! need the national reference messages read them from `../shared/reference` and skip
//! (with a note) when that folder is absent.

mod harness;

mod aggregation;
mod consent;
mod demo;
mod engagement;
mod faults;
mod interop;
mod limits;
mod ops;
mod routing;
mod tls;
