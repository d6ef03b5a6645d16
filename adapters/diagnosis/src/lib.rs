//! GetDiagnosis:2 (diagnoser, diagnoses).
//!
//! Schema: `GetDiagnosisResponder_2.0.xsd` with the core components
//! `clinicalprocess_healthcond_description_2.1.xsd` (TD clinicalprocess:healthcond:description
//! 2.1, in `shared/reference/riv-ta/information-set-schemas/GetDiagnosis2`):
//! - request `GetDiagnosisType`: `careUnitHSAId*`, `patientId` (`PersonIdType`: `id`,
//!   `type`), `timePeriod?` (`DatePeriodType`: `start`, `end`, `yyyyMMdd`),
//!   `sourceSystemHSAId?`, `careContactId*`; the request's own elements are in the contract
//!   namespace, the children of `patientId` and `timePeriod` in the core namespace;
//! - response `GetDiagnosisResponseType`: `diagnosis*` (`DiagnosisType`: `diagnosisHeader`
//!   of the core component `PatientSummaryHeaderType`, `diagnosisBody` of
//!   `DiagnosisBodyType`: `typeOfDiagnosis`, `chronicDiagnosis?`, `diagnosisTime?`,
//!   `diagnosisCode?`, `relatedDiagnosis*`), then `result?` (`ResultType`; a local element,
//!   so in the contract namespace, its children in `...description:2`).
//!
//! Field rules from the TKB clinicalprocess:healthcond:description 2.1.18 §7.2:
//! - the record's time is `diagnosisBody/diagnosisTime` ("tidpunkt då bedömningen gjordes",
//!   0..1); the header's `documentTitle` and `documentTime` are 0..0 in this contract;
//! - `timePeriod` keeps a record when any of `authorTime`, `signatureTime` or
//!   `diagnosisTime` lies within the requested dates; the re-check does the same
//!   ([`RECORD_TIMES`]) and keeps a record with none of them;
//! - `careUnitHSAId` compares with `healthcareProfessionalCareUnitHSAId`,
//!   `sourceSystemHSAId` with the header's `sourceSystemHSAId`, `careContactId` with the
//!   header's `careContactId`;
//! - `result` is 1..1 for a 2.1 producer (0..1 in the schema for 2.0 producers).
//!
//! Engagement index domain and categorization from
//! skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.description.GetAggregatedDiagnosis
//! (`GDAgpServiceFactoryImpl`, `GDAgpServiceConfiguration`).
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
    core_namespace: CORE_NAMESPACE,
    kind: "diagnosis",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "diagnosisHeader",
        time: ["diagnosisBody", "diagnosisTime"],
        title: [
            ["diagnosisBody", "diagnosisCode", "displayName"],
            ["diagnosisBody", "diagnosisCode", "originalText"],
        ],
        status: [],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The times `timePeriod` is compared with: a diagnosis is returned when any of them
/// lies in the period.
pub static RECORD_TIMES: &[&[&str]] = &[
    vaxel_adapter::patient_summary_header_time!("diagnosisHeader", author),
    vaxel_adapter::patient_summary_header_time!("diagnosisHeader", signature),
    &["diagnosisBody", "diagnosisTime"],
];

/// The GetDiagnosis:2 information set: the [`DESCRIPTOR`], and the period filter by
/// any of [`RECORD_TIMES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Diagnosis;

impl InformationSet for Diagnosis {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is any of three times, not one.
    fn record_times(&self) -> &'static [&'static [&'static str]] {
        RECORD_TIMES
    }
}
