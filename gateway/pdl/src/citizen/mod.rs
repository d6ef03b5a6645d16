//! The citizen's side (issue 15): a citizen's overview of their own care across care
//! givers, and their log extract ("who has read my records"). The HTTP endpoints are the
//! binary's; this module is the domain logic they call:
//!
//! - [`config`]: `[citizen]` (listener, login issuers and claims, guardian access,
//!   delays before results are shown);
//! - [`identity`]: the citizen's login token, verified like the user context, read as a
//!   citizen (personal identity number, level of assurance) or guardian of one child;
//! - [`rules`]: the patient-facing rules, the decision table for what the patient sees of
//!   their own records (approved for the patient, delays);
//! - [`log`]: the access log entries of the citizen's own reads, and the citizen's log
//!   extract.
//!
//! Normative text: specs/user-context.md "The citizen's token" and "Patient-facing
//! rules", specs/access-log.md §1.2 and §9, specs/configuration.md "`[citizen]`".

pub mod config;
pub mod identity;
pub mod log;
pub mod rules;
pub mod self_service;

#[cfg(test)]
mod identity_tests;
