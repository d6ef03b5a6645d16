//! Records of the information sets of the domain
//! `clinicalprocess:activityprescription:actoutcome` 2.1 (core components
//! `clinicalprocess_activityprescription_actoutcome_2.0.xsd` + `_2.1_ext`):
//! GetMedicationHistory 2.

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
