//! Records of the information sets of the domain `clinicalprocess:logistics:logistics`
//! 2.0 (core components `clinicalprocess_logistics_logistics_2.0.xsd`): GetCareContacts 2.

use super::RecordContext;

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    super::generic_record(out, r)
}
