//! GetVaccinationHistory:2 (vaccinationer, vaccinations).
//!
//! Sources: the official responder schema `GetVaccinationHistoryResponder_2.0.xsd` with the
//! core components `clinicalprocess_activityprescription_actoutcome_2.0.xsd` and its
//! `_2.1_ext.xsd` extension (namespace `...activityprescription:actoutcome:2`, in
//! `shared/reference/riv-ta/vaccination-history-schemas`), and the logical model of the
//! contract in the TKB clinicalprocess:activityprescription:actoutcome (Inera):
//!
//! - a record is a `VaccinationMedicalRecordType`: `vaccinationMedicalRecordHeader` of the
//!   domain's `PatientSummaryHeaderType` (`documentId`, `sourceSystemHSAId`,
//!   `documentTitle?`, `documentTime?` — "Tidpunkt för vaccination" in the TKB —,
//!   `patientId`, `accountableHealthcareProfessional` with
//!   `healthcareProfessionalCareUnitHSAId?` and `healthcareProfessionalCareGiverHSAId?`,
//!   `legalAuthenticator?`, `approvedForPatient`, `careContactId?`, `nullified?`,
//!   `nullifiedReason?`), then `vaccinationMedicalRecordBody`:
//!   `registrationRecord` 1..1 (the registering care giver's organisation, source system
//!   and contact, the registration `date`), `administrationRecord*` (one dose:
//!   `vaccinationProgramName?`, prescriber and performer, `anatomicalSite?`, `route?`,
//!   `dose?`, `doseOrdinalNumber?`, `typeOfVaccine?`, `vaccineName?`, `vaccineBatchId?`,
//!   `vaccineManufacturer?`, `vaccineTargetDisease*`, ...);
//! - the request (`GetVaccinationHistoryType`): `careUnitHSAid*` (spelt with a small
//!   `d`, like GetCareDocumentation's), `patientId`, `timePeriod?` (`DatePeriodType`,
//!   both ends 0..1), `sourceSystemHSAid?`, `careContactId*` (the header's
//!   `careContactId`);
//! - the response: `vaccinationMedicalRecord*`, then `result` 1..1 (`ResultType` of the
//!   core namespace, a local element in the contract namespace; the national aggregating
//!   service writes it too: skltp-aggregerandetjanster/
//!   riv.clinicalprocess.activityprescription.actoutcome.GetAggregatedVaccinationHistory
//!   `GAVH2AgpServiceFactoryImpl`).
//!
//! The record's time is the header's `documentTime`, the time of vaccination; the period
//! is re-checked against it with the generic rule (a record without it is kept: the
//! producer applied the period). The title is the vaccine's name, else the disease it
//! protects against, the type of vaccine, the header's title; the status is `nullified`
//! only.
//!
//! Engagement index domain `riv:clinicalprocess:activityprescription:actoutcome`,
//! categorization `caa-gvh`: `GAVH2AgpServiceConfiguration` of the same service
//! (`setEiServiceDomain`, `setEiCategorization`). Request sample:
//! `shared/reference/riv-ta/npo-requests/GetVaccinationHistory2.xml` (`timePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:activityprescription:actoutcome:GetVaccinationHistoryResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:activityprescription:actoutcome:2";

/// What aggregation needs to know about GetVaccinationHistory.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "vaccination-history",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetVaccinationHistory",
    response_element: "GetVaccinationHistoryResponse",
    record_element: "vaccinationMedicalRecord",
    ei_service_domain: "riv:clinicalprocess:activityprescription:actoutcome",
    ei_categorization: "caa-gvh",
    core_namespace: CORE_NAMESPACE,
    kind: "vaccination",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAid"],
        record_id: &[],
        source_system: &["sourceSystemHSAid"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "vaccinationMedicalRecordHeader",
        time: ["vaccinationMedicalRecordHeader", "documentTime"],
        title: [
            [
                "vaccinationMedicalRecordBody",
                "administrationRecord",
                "vaccineName",
                "displayName"
            ],
            [
                "vaccinationMedicalRecordBody",
                "administrationRecord",
                "vaccineName",
                "originalText"
            ],
            [
                "vaccinationMedicalRecordBody",
                "administrationRecord",
                "vaccineTargetDisease",
                "displayName"
            ],
            [
                "vaccinationMedicalRecordBody",
                "administrationRecord",
                "typeOfVaccine",
                "displayName"
            ],
            ["vaccinationMedicalRecordHeader", "documentTitle"],
        ],
        status: [],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetVaccinationHistory:2 information set: everything comes from the [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct VaccinationHistory;

impl InformationSet for VaccinationHistory {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
