//! SDK messages (Säker digital kommunikation): the `MessageWithAttachments:3` payload,
//! the XHE 1.0 envelope that carries it, and the UBL 2.1 ApplicationResponse receipt.
//!
//! This crate knows formats only: parsing, building and validating them. Signing,
//! encryption, storage and delivery live in `vaxel-sdk`.
#![forbid(unsafe_code)]

pub mod message;
pub mod receipt;
pub mod validate;
pub mod xhe;
mod xml;
