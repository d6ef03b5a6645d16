//! Consent, blocks (spärr) and emergency access under SVOD/PDL (DESIGN.md "Consent
//! under SVOD/PDL"): the end user's JWT context ([`jwt`]), the decision table
//! ([`policy`]) over an in-memory index of the consent store, and the service that
//! keeps the two in step ([`ConsentService`]).

pub mod jwt;
pub mod policy;
