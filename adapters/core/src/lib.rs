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
    about_patient, escape_text, normalise_patient_id, patient_id_type, record_matches,
    request_envelope, retain_matching, write_processing_status, write_processing_status_noting,
    AdapterError, CausingAgent, InformationSet, InformationSetDescriptor, IntervalEnd,
    IntervalStart, MergeInput, MergeNotes, ProducerResponse, QueryRequest, Record, RecordHeader,
    RecordInterval, RecordPaths, RequestPaths, ResultElement, SourceOutcome, SourceStatus,
    TimeInterval, COORDINATION_NUMBER_OID, NULLIFIED_STATUS, PERSONAL_IDENTITY_NUMBER_OID,
    PROCESSING_STATUS_NAMESPACE, REGISTRY_NAMESPACE, SOAP11_NAMESPACE, VAXEL_STATUS_NAMESPACE,
};
