//! Records of the information sets of the domain
//! `clinicalprocess:activityprescription:actoutcome` 2.1 (core components
//! `clinicalprocess_activityprescription_actoutcome_2.0.xsd` + `_2.1_ext`):
//! GetMedicationHistory 2.

use super::RecordContext;

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    super::generic_record(out, r)
}
