//! vaxel-adapter: the streaming RIV-TA envelope sniffer and the information-set model.
//!
//! The sniffer reads a SOAP 1.1 envelope just far enough to route it: the RIV-TA 2.1
//! `LogicalAddress` header or RIV-TA 2.0 `wsa:To` header, and the namespace of the first
//! child of `Body` (the service contract). It stops there and never builds a DOM.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod xml_syntax;

pub use envelope::{
    sniff, AddressHeader, Envelope, RivProfile, SniffError, SniffLimits, SniffOutcome,
};
pub mod information_set;

pub use information_set::{
    about_patient, record_matches, retain_matching, write_processing_status,
    write_processing_status_noting, AdapterError, CausingAgent, InformationSet,
    InformationSetDescriptor, IntervalEnd, IntervalStart, MergeInput, MergeNotes, ProducerResponse,
    QueryRequest, Record, RecordHeader, RecordInterval, RecordPaths, RequestPaths, ResultElement,
    SourceOutcome, SourceStatus, TimeInterval, PROCESSING_STATUS_NAMESPACE, SOAP11_NAMESPACE,
    VAXEL_STATUS_NAMESPACE,
};
