//! Access control under SVOD/PDL (DESIGN.md "Consent under SVOD/PDL"):
//!
//! - [`consent`]: the end user's context, a JWT verified against the configured issuers
//!   ([`consent::jwt`]); the decision table over consents, blocks (spärr) and emergency
//!   access ([`consent::policy`]); the service that keeps an in-memory index in step with
//!   the consent store ([`consent::ConsentService`]); per-record enforcement on journal
//!   answers ([`consent::enforce`]); the consent admin API ([`consent::admin`]);
//! - [`access_log`]: every decision, allowed or denied, in the hash-chained PDL access
//!   log: the batched writer, review queries and API, and `pdl-verify`;
//! - [`citizen`]: the citizen's side: their login, the patient-facing rules over their
//!   own records, the access log entries of their reads and their log extract;
//! - [`config`]: `[consent]` and `[access_log]` (`[citizen]` is in [`citizen::config`]).
//!
//! The HTTP APIs here take `http` requests with any body and answer with complete
//! responses; the binary serves them on its admin listener.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod citizen;
pub mod config;
pub mod consent;
mod jws;
