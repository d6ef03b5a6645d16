//! GetMedicationHistory:2 (läkemedelshistorik, medication history).
//!
//! Sources: the official responder schema `GetMedicationHistoryResponder_2.1.xsd` and
//! core components `clinicalprocess_activityprescription_actoutcome_2.0.xsd` with the
//! `_2.1_ext.xsd` extension (namespace `...activityprescription:actoutcome:2`, in
//! `shared/reference/riv-ta/information-set-schemas/GetMedicationHistory2`), and the
//! field rules of the service contract description (TKB
//! clinicalprocess:activityprescription:actoutcome 2.1, GetMedicationHistory):
//!
//! - a record is a `MedicationMedicalRecordType`: `medicationMedicalRecordHeader` of
//!   the domain's `PatientSummaryHeaderType` (`documentId`, usually the ordination id;
//!   `sourceSystemHSAId`; `accountableHealthcareProfessional` with
//!   `healthcareProfessionalCareUnitHSAId` and `healthcareProfessionalCareGiverHSAId`,
//!   the unit and care giver that own the information; `approvedForPatient`;
//!   `careContactId`), then `medicationMedicalRecordBody/medicationPrescription`. The
//!   TKB says the header's `documentTime` "Ska ej anges" (0..0), so the record's time
//!   is the ordination time `medicationPrescription/prescriber/authorTime`
//!   ("Beslutstidpunkt/ordinationstidpunkt");
//! - the request (`GetMedicationHistoryType`): `careUnitHSAId` 0..* (matches the
//!   header's `healthcareProfessionalCareUnitHSAId`), `careGiverHSAId` 0..*,
//!   `patientId`, `datePeriod` (`DatePeriodType`, dates), `sourceSystemHSAId` 0..1,
//!   `careContactId` 0..* (the header's `careContactId`, not the record's id),
//!   `prescriptionChainId`, `prescriptionStatus`. The defensive filter re-checks the
//!   care units, the care contacts, the source system and the period; `careGiverHSAId`,
//!   `prescriptionChainId` and `prescriptionStatus` narrow the answer at the producer
//!   only (the generic filter has no field for them);
//! - `datePeriod` keeps the records whose interval, "som bildas av ordinationstidpunkt
//!   (.../prescriber/authorTime) och utsättningstidpunkt (.../endOfTreatment)", "helt
//!   eller delvis överlappar" the period, compared as dates; without an ordination time
//!   the interval starts at `startOfTreatment`, else at the header's `authorTime`;
//!   without `endOfTreatment` it is open towards the future ([`RECORD_INTERVAL`]: the
//!   TKB writes the body paths without `medicationPrescription`, the schema has them
//!   below it).
//!
//! The response ends with `result` (`ResultType` of the core namespace, 1..1; also
//! skltp-aggregerandetjanster/riv.clinicalprocess.activityprescription.actoutcome.GetAggregatedMedicationHistory
//! `GAMHAgpServiceFactoryImpl`); engagement index domain and categorization from that
//! service's `GAMHAgpServiceConfiguration`; request sample
//! `shared/reference/riv-ta/npo-requests/GetMedicationHistory2.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, IntervalEnd, IntervalStart, RecordInterval,
    RequestPaths, ResultElement,
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
    core_namespace: CORE_NAMESPACE,
    kind: "medication",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        // The request's careContactId names the header's careContactId, not documentId.
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "medicationMedicalRecordHeader",
        time: [
            "medicationMedicalRecordBody",
            "medicationPrescription",
            "prescriber",
            "authorTime",
        ],
        // The drug's name: the product (NPL id), else its substance (ATC), the article,
        // the pack, free text; else the header's title.
        title: [
            [
                "medicationMedicalRecordBody",
                "medicationPrescription",
                "drug",
                "drug",
                "nplId",
                "displayName"
            ],
            [
                "medicationMedicalRecordBody",
                "medicationPrescription",
                "drug",
                "drug",
                "atcCode",
                "displayName"
            ],
            [
                "medicationMedicalRecordBody",
                "medicationPrescription",
                "drug",
                "merchandise",
                "articleNumber",
                "displayName"
            ],
            [
                "medicationMedicalRecordBody",
                "medicationPrescription",
                "drug",
                "drugArticle",
                "nplPackId",
                "displayName"
            ],
            [
                "medicationMedicalRecordBody",
                "medicationPrescription",
                "drug",
                "unstructuredDrugInformation",
                "unstructuredInformation"
            ],
            ["medicationMedicalRecordHeader", "documentTitle"],
        ],
        // PrescriptionStatusEnum (1..1): Active or Inactive.
        status: [[
            "medicationMedicalRecordBody",
            "medicationPrescription",
            "prescriptionStatus"
        ]],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

const ORDINATION_TIME: &[&str] = &[
    "medicationMedicalRecordBody",
    "medicationPrescription",
    "prescriber",
    "authorTime",
];
const START_OF_TREATMENT: &[&str] = &[
    "medicationMedicalRecordBody",
    "medicationPrescription",
    "startOfTreatment",
];
const REGISTRATION_TIME: &[&str] = &[
    "medicationMedicalRecordHeader",
    "accountableHealthcareProfessional",
    "authorTime",
];
const END_OF_TREATMENT: &[&str] = &[
    "medicationMedicalRecordBody",
    "medicationPrescription",
    "endOfTreatment",
];

/// The interval `datePeriod` is compared with (TKB GetMedicationHistory, `datePeriod`):
/// from the ordination time (else the start of treatment, else the registration time)
/// to the end of treatment, open towards the future when the treatment has no end.
pub static RECORD_INTERVAL: RecordInterval = RecordInterval {
    start: &[ORDINATION_TIME, START_OF_TREATMENT, REGISTRATION_TIME],
    start_rule: IntervalStart::FirstPresent,
    end: &[END_OF_TREATMENT],
    end_rule: IntervalEnd::Latest,
    open_without: END_OF_TREATMENT,
    otherwise: &[],
};

/// The GetMedicationHistory:2 information set: the [`DESCRIPTOR`], and the period
/// filter by overlap with [`RECORD_INTERVAL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MedicationHistory;

impl InformationSet for MedicationHistory {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is overlap with the treatment's interval, not one time.
    fn record_interval(&self) -> Option<&'static RecordInterval> {
        Some(&RECORD_INTERVAL)
    }
}
