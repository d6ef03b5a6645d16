//! GetImagingOutcome:1 (bilddiagnostiska svar, imaging outcomes).
//!
//! Sources: skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedImagingOutcome
//! (`GAIOAgpServiceFactoryImpl`: records `imagingOutcome`, then a `result` of `ResultType`
//! from `...actoutcome:3` (TD clinicalprocess_healthcond_actoutcome 3.1); teststub
//! `ServiceTestDataGenerator`: `imagingOutcomeHeader` as `PatientSummaryHeaderType` with
//! `documentId`, `sourceSystemHSAId`, `accountableHealthcareProfessional/healthcareProfessionalCareGiverHSAId`
//! and `healthcareProfessionalCareUnitHSAId`; `GAIOAgpServiceConfiguration`: engagement index
//! domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetImagingOutcome1.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths, ResultElement,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:healthcond:actoutcome:GetImagingOutcomeResponder:1";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:actoutcome:3";

/// What aggregation needs to know about GetImagingOutcome.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "imaging-outcome",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetImagingOutcome",
    response_element: "GetImagingOutcomeResponse",
    record_element: "imagingOutcome",
    ei_service_domain: "riv:clinicalprocess:healthcond:actoutcome",
    ei_categorization: "und-bdi-ure",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: RecordPaths {
        record_id: &["imagingOutcomeHeader", "documentId"],
        source_system: &["imagingOutcomeHeader", "sourceSystemHSAId"],
        care_giver: &[
            "imagingOutcomeHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareGiverHSAId",
        ],
        care_unit: &[
            "imagingOutcomeHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareUnitHSAId",
        ],
        time: &["imagingOutcomeHeader", "documentTime"],
    },
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetImagingOutcome:1 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImagingOutcome;

impl InformationSet for ImagingOutcome {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
