//! GetImagingOutcome:1 (bilddiagnostiska svar, imaging outcomes).
//!
//! Checked against the official schema (`GetImagingOutcomeResponder_1.0.xsd` with the core
//! components `clinicalprocess_healthcond_actoutcome_3.1.xsd`, namespace `...actoutcome:3`,
//! in `shared/reference/riv-ta/information-set-schemas/GetImagingOutcome1`):
//!
//! - request `GetImagingOutcomeType`: `careUnitHSAId` (`HSAIdType`, 0..*), `patientId`
//!   (`PersonIdType`: `id`, `type`), `datePeriod` (`DatePeriodType`: `start`, `end` as
//!   `yyyyMMdd`), `sourceSystemHSAId` (0..1), `careContactId` (0..*);
//! - record `ImagingOutcomeType`: `imagingOutcomeHeader` (`PatientSummaryHeaderType`:
//!   `documentId`, `sourceSystemHSAId`, `documentTime` 0..1,
//!   `accountableHealthcareProfessional/{authorTime, healthcareProfessionalCareUnitHSAId,
//!   healthcareProfessionalCareGiverHSAId}`, `legalAuthenticator/signatureTime` 0..1,
//!   `approvedForPatient`, `careContactId` 0..1), read with
//!   [`vaxel_adapter::patient_summary_header_paths`]; then `imagingOutcomeBody`
//!   (`ImagingBodyType`: `typeOfResult` PREL/DEF/TILL, `resultTime`, `resultReport`,
//!   `radiationDose` 0..*, `imageRecording` 0..* with the examination, its time period and
//!   DICOM references, `referral` 0..1); the response ends with a `result` of `ResultType`
//!   from `...actoutcome:3`.
//!
//! The record time is the header's `documentTime`. The period rule of the domain's test
//! suite for this contract keeps an outcome when any of `documentTime`,
//! `accountableHealthcareProfessional/authorTime` or `legalAuthenticator/signatureTime`
//! lies within the period ("Date Boundaries", skltp-aggregerandetjanster
//! GetAggregatedReferralOutcome-schemas `test-suite/GetImagingOutcome/data.xml`); the
//! gateway's re-check does the same ([`RECORD_TIMES`]) and keeps an outcome with none of
//! them. The request's `careContactId` compares with the header's `careContactId`.
//!
//! Other sources: skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedImagingOutcome
//! (`GAIOAgpServiceFactoryImpl`: records `imagingOutcome`, then `result`;
//! `GAIOAgpServiceConfiguration`: engagement index domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetImagingOutcome1.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

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
    core_namespace: CORE_NAMESPACE,
    kind: "imaging",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "imagingOutcomeHeader",
        time: ["imagingOutcomeHeader", "documentTime"],
        // The answer's title, else the examination, its speciality, the referral's reason.
        title: [
            ["imagingOutcomeHeader", "documentTitle"],
            [
                "imagingOutcomeBody",
                "imageRecording",
                "examinationActivity",
                "displayName"
            ],
            ["imagingOutcomeBody", "examinationSpeciality", "displayName"],
            ["imagingOutcomeBody", "referral", "referralReason"],
        ],
        // TypeOfResultCodeEnum (PREL, DEF, TILL), else the examination's status.
        status: [
            ["imagingOutcomeBody", "typeOfResult"],
            ["imagingOutcomeBody", "imageRecording", "examinationStatus"],
        ],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The times `datePeriod` is compared with: an answer is returned when any of them
/// lies in the period.
pub static RECORD_TIMES: &[&[&str]] = &[
    vaxel_adapter::patient_summary_header_time!("imagingOutcomeHeader", document),
    vaxel_adapter::patient_summary_header_time!("imagingOutcomeHeader", author),
    vaxel_adapter::patient_summary_header_time!("imagingOutcomeHeader", signature),
];

/// The GetImagingOutcome:1 information set: the [`DESCRIPTOR`], and the period filter by any of
/// [`RECORD_TIMES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImagingOutcome;

impl InformationSet for ImagingOutcome {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is any of three times, not one.
    fn record_times(&self) -> &'static [&'static [&'static str]] {
        RECORD_TIMES
    }
}
