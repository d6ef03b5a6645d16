//! vaxel: mutual-TLS RIV-TA gateway (library part of the `vaxel` binary).
#![forbid(unsafe_code)]

pub mod routing;
