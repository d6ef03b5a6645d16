//! GetReferralOutcome:3 (konsultationssvar, referral outcomes).
//!
//! Sources: skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedReferralOutcome
//! (`GAREOAgpServiceFactoryImpl`: records `referralOutcome`, then a `result` of `ResultType`
//! from `...actoutcome:3`; teststub `ServiceTestDataGenerator`: `referralOutcomeHeader` as
//! `PatientSummaryHeaderType`; `GAREOAgpServiceConfiguration`: engagement index
//! domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetReferralOutcome3.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths, ResultElement,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:healthcond:actoutcome:GetReferralOutcomeResponder:3";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:actoutcome:3";

/// What aggregation needs to know about GetReferralOutcome.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "referral-outcome",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetReferralOutcome",
    response_element: "GetReferralOutcomeResponse",
    record_element: "referralOutcome",
    ei_service_domain: "riv:clinicalprocess:healthcond:actoutcome",
    ei_categorization: "und-kon-ure",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: RecordPaths {
        record_id: &["referralOutcomeHeader", "documentId"],
        source_system: &["referralOutcomeHeader", "sourceSystemHSAId"],
        care_giver: &[
            "referralOutcomeHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareGiverHSAId",
        ],
        care_unit: &[
            "referralOutcomeHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareUnitHSAId",
        ],
        time: &["referralOutcomeHeader", "documentTime"],
    },
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetReferralOutcome:3 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferralOutcome;

impl InformationSet for ReferralOutcome {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
