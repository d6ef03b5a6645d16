//! GetAlertInformation:2 (uppmärksamhetsinformation, alert information).
//!
//! Sources: `AlertInformationType` (`alertInformationHeader`: `PatientSummaryHeaderType`,
//! `alertInformationBody`) and `ResultType` in core components
//! `clinicalprocess_healthcond_description_2.1.xsd` (namespace `...description:2`, in
//! `shared/reference/riv-ta/care-documentation-schemas`); the trailing `result` as for
//! GetDiagnosis:2 of the same domain (same TD version); request fields and engagement index
//! domain/categorization from
//! skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.description.GetAggregatedAlertInformation
//! (`GAIAgpServiceFactoryImpl`, `GAIAgpServiceConfiguration`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths, ResultElement,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetAlertInformationResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:description:2";

/// What aggregation needs to know about GetAlertInformation.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "alert-information",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetAlertInformation",
    response_element: "GetAlertInformationResponse",
    record_element: "alertInformation",
    ei_service_domain: "riv:clinicalprocess:healthcond:description",
    ei_categorization: "upp",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: RecordPaths {
        record_id: &["alertInformationHeader", "documentId"],
        source_system: &["alertInformationHeader", "sourceSystemHSAId"],
        care_giver: &[
            "alertInformationHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareGiverHSAId",
        ],
        care_unit: &[
            "alertInformationHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareUnitHSAId",
        ],
        time: &["alertInformationHeader", "documentTime"],
    },
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetAlertInformation:2 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertInformation;

impl InformationSet for AlertInformation {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
