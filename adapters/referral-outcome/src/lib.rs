//! GetReferralOutcome:3 (konsultationssvar, referral outcomes).
//!
//! Checked against the official schema (`GetReferralOutcomeResponder_3.1.xsd` with the core
//! components `clinicalprocess_healthcond_actoutcome_3.1.xsd`, namespace `...actoutcome:3`,
//! in `shared/reference/riv-ta/information-set-schemas/GetReferralOutcome3`):
//!
//! - request `GetReferralOutcomeType`: `careUnitHSAid` (`HSAIdType`, 0..*; spelled with a
//!   lower-case `d` in this contract only, unlike GetLaboratoryOrderOutcome and
//!   GetImagingOutcome), `patientId` (`PersonIdType`: `id`, `type`), `datePeriod`
//!   (`DatePeriodType`: `start`, `end` as `yyyyMMdd`), `sourceSystemHSAId` (0..1),
//!   `careContactId` (0..*);
//! - record `ReferralOutcomeType`: `referralOutcomeHeader` (`PatientSummaryHeaderType`:
//!   `documentId`, `sourceSystemHSAId`, `documentTime` 0..1,
//!   `accountableHealthcareProfessional/{authorTime, healthcareProfessionalCareUnitHSAId,
//!   healthcareProfessionalCareGiverHSAId}`, `legalAuthenticator/signatureTime` 0..1,
//!   `approvedForPatient`, `careContactId` 0..1), read with
//!   [`vaxel_adapter::patient_summary_header_paths`]; then `referralOutcomeBody`
//!   (`referralOutcomeTypeCode` SS/SR, `referralOutcomeTitle`, `referralOutcomeText`,
//!   `clinicalInformation` 0..* with ICD-10-SE codes, `act` 0..*, `referral` with the
//!   referral's id, reason, time and author, `attested` 0..1 from `...actoutcome:3.1`); the
//!   response ends with a `result` of `ResultType` from `...actoutcome:3`.
//!
//! The record time is the header's `documentTime`. The contract's period rule keeps an
//! answer when any of `documentTime`, `accountableHealthcareProfessional/authorTime` or
//! `legalAuthenticator/signatureTime` lies within the period (the contract's SoapUI test
//! suite, "Date Boundaries", skltp-aggregerandetjanster GetAggregatedReferralOutcome-schemas
//! `test-suite/GetReferralOutcome`); the gateway's re-check does the same
//! ([`RECORD_TIMES`]) and keeps an answer with none of them. The request's `careContactId`
//! compares with the header's `careContactId`.
//!
//! Other sources: skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedReferralOutcome
//! (`GAREOAgpServiceFactoryImpl`: records `referralOutcome`, then `result`;
//! `GAREOAgpServiceConfiguration`: engagement index domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetReferralOutcome3.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

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
    core_namespace: CORE_NAMESPACE,
    kind: "referral",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAid"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "referralOutcomeHeader",
        time: ["referralOutcomeHeader", "documentTime"],
        // The answer's own title (1..1), else the header's, else the referral's reason.
        title: [
            ["referralOutcomeBody", "referralOutcomeTitle"],
            ["referralOutcomeHeader", "documentTitle"],
            ["referralOutcomeBody", "referral", "referralReason"],
        ],
        // ReferralOutcomeTypeCodeEnum: SS slutsvar, SR svar.
        status: [["referralOutcomeBody", "referralOutcomeTypeCode"]],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The times `datePeriod` is compared with: an answer is returned when any of them
/// lies in the period.
pub static RECORD_TIMES: &[&[&str]] = &[
    vaxel_adapter::patient_summary_header_time!("referralOutcomeHeader", document),
    vaxel_adapter::patient_summary_header_time!("referralOutcomeHeader", author),
    vaxel_adapter::patient_summary_header_time!("referralOutcomeHeader", signature),
];

/// The GetReferralOutcome:3 information set: the [`DESCRIPTOR`], and the period filter by any of
/// [`RECORD_TIMES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferralOutcome;

impl InformationSet for ReferralOutcome {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is any of three times, not one.
    fn record_times(&self) -> &'static [&'static [&'static str]] {
        RECORD_TIMES
    }
}
