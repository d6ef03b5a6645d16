//! GetDiagnosis:2 (diagnoser, diagnoses).
//!
//! Sources: `DiagnosisType` (`diagnosisHeader`: `PatientSummaryHeaderType`, `diagnosisBody`
//! with `diagnosisTime`) and `ResultType` in core components
//! `clinicalprocess_healthcond_description_2.1.xsd` (namespace `...description:2`, in
//! `shared/reference/riv-ta/care-documentation-schemas`); the response's trailing `result`
//! (1..1, children in `...description:2`) as described by Inera's logical model of the
//! contract (fhir.inera.se ehds-tk `SEEHDSLMDiagnosis`); request fields and the engagement index
//! domain/categorization from
//! skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.description.GetAggregatedDiagnosis
//! (`GDAgpServiceFactoryImpl`, `GDAgpServiceConfiguration`). The record time is
//! `diagnosisBody/diagnosisTime` (the header's `documentTime` is not used by this contract).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetDiagnosisResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:description:2";

/// What aggregation needs to know about GetDiagnosis.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "diagnosis",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetDiagnosis",
    response_element: "GetDiagnosisResponse",
    record_element: "diagnosis",
    ei_service_domain: "riv:clinicalprocess:healthcond:description",
    ei_categorization: "dia",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "diagnosisHeader",
        time: ["diagnosisBody", "diagnosisTime"],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetDiagnosis:2 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Diagnosis;

impl InformationSet for Diagnosis {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
