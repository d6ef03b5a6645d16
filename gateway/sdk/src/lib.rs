//! SDK messaging between organisations (specs/sdk.md): organisation-to-organisation
//! XML signatures and encryption ([`xmlsec`]), the [`addressbook`], the delivery
//! envelope between gateways ([`transport`]), the submit / receive / fetch services on
//! the store ([`service`]) and the delivery loop ([`delivery`]). `[sdk]` is
//! [`config`]. The formats themselves (message, XHE, receipt) are in
//! `vaxel-sdk-message`.
#![forbid(unsafe_code)]

pub mod addressbook;
pub mod config;
pub mod delivery;
pub mod service;
pub mod transport;
pub mod xmlsec;

pub use addressbook::{AddressBook, AddressBookHandle, ParticipantId};
pub use config::{RawSdkConfig, SdkConfig};
pub use service::{Sdk, SdkError};
