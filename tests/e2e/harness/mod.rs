//! Shared helpers of the end-to-end suite, one file per peer a test talks to. How to
//! run the suite, and what it needs: tests/README.md.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `pki.rs` | the demo PKI, generated once per test process with `vaxel certs`; certificate and key paths; the caller ids in it |
//! | `process.rs` | the binary under test (`VAXEL`); child processes killed on drop, printing their log when a test fails; free loopback ports |
//! | `gateway.rs` | `GatewayConfig` (`vaxel.toml` + routing table in a temporary folder) and `Gateway`: the real `vaxel serve`, started, restarted, reloaded, stopped; admin and `/status` helpers |
//! | `routing_table.rs` | `Table`, the routing-table (TAK) builder, and `Table::standard`, the table most tests start from |
//! | `producers.rs` | `DemoProducer` (the real `vaxel demo-producer`) and `RecordingProducer` (in-process mutual-TLS producer that records what arrives) |
//! | `client.rs` | the consumer side: reqwest clients with client certificates, `post` and its `Reply`; curl and openssl s_client as external tools |
//! | `messages.rs` | contracts, logical addresses, the test patient; small SOAP requests the tests write themselves |
//! | `reference.rs` | the national reference messages (`../shared/reference`): locate, read, fill `${...}` templates, skip with a note when absent |
//! | `assertions.rs` | `assert_fault`, `assert_forwarded`, `assert_still_serving`, `eventually` |
//! | `browser.rs` | headless Chromium over W3C WebDriver (`ChromeDriver`, `Session`), skipping without it (except under `CI=true`), screenshots in `<target>/test-artifacts/` |
//! | `citizen.rs` | `Issuer` (citizens' login tokens, care staff's user contexts), `CitizenGateway` (`[citizen]` on its own listener, consent on, two care givers' journal sources), `ServeDemo` (`vaxel serve --demo` with its citizen listener) |
//! | `tcp_proxy.rs` | `TcpProxy`: a TCP forwarder to cut a gateway's database connections away and bring them back (cluster tests) |
//!
//! Test modules `use crate::harness::*;`: everything is re-exported here, except the
//! reference helpers, which are called by module name (`reference::read(...)`).
//!
//! When a test fails, every gateway and producer it started prints its stderr (the
//! gateway's log) while it is dropped, so the failure shows what the gateway saw.

#![allow(dead_code)] // not every test module uses every helper

use std::path::{Path, PathBuf};
use std::time::Duration;

mod assertions;
mod browser;
mod citizen;
mod client;
mod gateway;
mod messages;
mod operators;
mod pki;
mod process;
mod producers;
pub mod reference;
mod routing_table;
mod tcp_proxy;

pub use assertions::*;
pub use browser::*;
pub use citizen::*;
pub use client::*;
pub use gateway::*;
pub use messages::*;
pub use operators::*;
pub use pki::*;
pub use process::*;
pub use producers::*;
pub use routing_table::*;
pub use tcp_proxy::*;

/// Default wait for anything that should happen "at once" but may be slow on a busy
/// 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The repository root: the nearest folder above the crate that declares this test
/// target (`vaxel`) holding `tests/e2e/main.rs`. Found by walking up rather than taking
/// the manifest's parent, so it stays right wherever that crate's manifest moves under
/// gateway/; a wrong root would turn every reference test into a skip.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("tests").join("e2e").join("main.rs").is_file())
        .expect("tests/e2e/main.rs in a folder above the vaxel crate")
        .to_path_buf()
}
