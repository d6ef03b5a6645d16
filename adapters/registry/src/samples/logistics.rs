//! Records of the information sets of the domain `clinicalprocess:logistics:logistics`
//! 2.0 (core components `clinicalprocess_logistics_logistics_2.0.xsd`): GetCareContacts 2.

use vaxel_adapter::InformationSet;

use super::{RecordContext, SampleQuery};

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    super::generic_request_body(set, query)
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    super::generic_record(out, r)
}
