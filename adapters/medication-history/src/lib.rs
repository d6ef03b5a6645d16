//! GetMedicationHistory:2 (läkemedelshistorik, medication history).
//!
//! Sources: skltp-aggregerandetjanster/riv.clinicalprocess.activityprescription.actoutcome.GetAggregatedMedicationHistory
//! (`GAMHAgpServiceFactoryImpl`: records `medicationMedicalRecord`, then a `result` of
//! `ResultType` from `...activityprescription:actoutcome:2`; teststub `ServiceTestDataGenerator`:
//! `medicationMedicalRecordHeader` as `PatientSummaryHeaderType`; `GAMHAgpServiceConfiguration`:
//! engagement index domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetMedicationHistory2.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths, ResultElement,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:activityprescription:actoutcome:GetMedicationHistoryResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:activityprescription:actoutcome:2";

/// What aggregation needs to know about GetMedicationHistory.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "medication-history",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetMedicationHistory",
    response_element: "GetMedicationHistoryResponse",
    record_element: "medicationMedicalRecord",
    ei_service_domain: "riv:clinicalprocess:activityprescription:actoutcome",
    ei_categorization: "caa-gmh",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: RecordPaths {
        record_id: &["medicationMedicalRecordHeader", "documentId"],
        source_system: &["medicationMedicalRecordHeader", "sourceSystemHSAId"],
        care_giver: &[
            "medicationMedicalRecordHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareGiverHSAId",
        ],
        care_unit: &[
            "medicationMedicalRecordHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareUnitHSAId",
        ],
        time: &["medicationMedicalRecordHeader", "documentTime"],
    },
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetMedicationHistory:2 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MedicationHistory;

impl InformationSet for MedicationHistory {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
