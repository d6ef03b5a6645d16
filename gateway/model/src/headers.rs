//! HTTP header names of the national platform, in one place.
use http::HeaderName;

/// Caller id set by a trusted load balancer in front of the gateway (whitelisted addresses only).
pub const VP_SENDER_ID: HeaderName = HeaderName::from_static("x-vp-sender-id");
/// Instance id of the platform that set `x-vp-sender-id`.
pub const VP_INSTANCE_ID: HeaderName = HeaderName::from_static("x-vp-instance-id");
/// The consumer that originally made the call, through any intermediate platforms.
pub const ORIGINAL_CONSUMER: HeaderName =
    HeaderName::from_static("x-rivta-original-serviceconsumer-hsaid");
/// Correlation id carried end to end (generated when absent).
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-skltp-correlation-id");
/// Comma-separated instance ids the message has passed (loop protection).
pub const ROUTING_HISTORY: HeaderName = HeaderName::from_static("x-rivta-routing-history");
/// Fault code of a gateway fault, for clients and logs that don't parse SOAP.
pub const VP_FAULT_CODE: HeaderName = HeaderName::from_static("x-vp-fault-code");
/// Number of records withheld under SVOD/PDL in a journal answer (also in the
/// ProcessingStatus header as `WithheldRecords`); sent whenever consent checking is on.
pub const WITHHELD_RECORDS: HeaderName = HeaderName::from_static("x-vaxel-withheld-records");
