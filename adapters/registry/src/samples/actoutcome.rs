//! Records of the information sets of the domain `clinicalprocess:healthcond:actoutcome`
//! 3.1 (core components `clinicalprocess_healthcond_actoutcome_3.1.xsd`):
//! GetLaboratoryOrderOutcome 3, GetReferralOutcome 3, GetImagingOutcome 1.

use super::RecordContext;

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    super::generic_record(out, r)
}
