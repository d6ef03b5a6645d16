//! vaxel's shared vocabulary (specs/architecture.md): the typed ids every concern
//! passes around ([`ids`]), the one [`Fault`] type with the national fault codes
//! ([`fault`]), the platform's HTTP header names ([`headers`]), the one date and time
//! source ([`clock`]), and the configuration error every section's validation returns
//! ([`config`]).
//!
//! Everything above this crate may depend on it; it depends on no other vaxel crate.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod fault;
pub mod headers;
pub mod ids;
pub mod xml;

pub use fault::{Cause, Fault, FaultCode};
pub use ids::{HsaId, ResidentId};
