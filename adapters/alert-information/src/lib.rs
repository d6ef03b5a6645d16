//! GetAlertInformation:2 (uppmärksamhetsinformation, alert information).
//!
//! Schema: `GetAlertInformationResponder_2.0.xsd` with the core components
//! `clinicalprocess_healthcond_description_2.1.xsd` (TD clinicalprocess:healthcond:description
//! 2.1, in `shared/reference/riv-ta/information-set-schemas/GetAlertInformation2`):
//! - request `GetAlertInformationType`: `careUnitHSAId*`, `patientId` (`PersonIdType`),
//!   `timePeriod?` (`DatePeriodType`), `sourceSystemHSAId?`, `careContactId*`;
//! - response `GetAlertInformationResponseType`: `alertInformation*`
//!   (`AlertInformationType`: `alertInformationHeader` of the core component
//!   `PatientSummaryHeaderType`, `alertInformationBody` of `AlertInformationBodyType`:
//!   `typeOfAlertInformation`, `ascertainedDate?`, `verifiedTime?`, `validityTimePeriod`
//!   (`TimePeriodType`: `start?`, `end?`), `alertInformationComment?`, `obsoleteTime?`, ...,
//!   then one of `hypersensitivity`, `seriousDisease`, `treatment`, `communicableDisease`,
//!   `restrictionOfCare`, `unstructuredAlertInformation`), then `result?` as for GetDiagnosis:2.
//!
//! Field rules from the TKB clinicalprocess:healthcond:description 2.1.18 §7.3:
//! - the header's `documentTitle` and `documentTime` are 0..0 in this contract, so the
//!   record's time is the start of its validity, `alertInformationBody/validityTimePeriod/start`
//!   (1..1 in the TKB);
//! - `timePeriod` keeps an alert whose validity interval (from `validityTimePeriod/start` to
//!   `obsoleteTime` or `validityTimePeriod/end`, whichever comes first, open if neither is
//!   set) overlaps the requested dates; the re-check compares that interval
//!   ([`RECORD_INTERVAL`]), so an alert that began before the period and is still valid
//!   is kept;
//! - `careUnitHSAId` compares with `healthcareProfessionalCareUnitHSAId`,
//!   `sourceSystemHSAId` with the header's `sourceSystemHSAId`, `careContactId` with the
//!   header's `careContactId`.
//!
//! Engagement index domain and categorization from
//! skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.description.GetAggregatedAlertInformation
//! (`GAIAgpServiceFactoryImpl`, `GAIAgpServiceConfiguration`).
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, IntervalEnd, IntervalStart, RecordInterval,
    RequestPaths, ResultElement,
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
    core_namespace: CORE_NAMESPACE,
    kind: "alert",
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
        "alertInformationHeader",
        time: ["alertInformationBody", "validityTimePeriod", "start"],
        // What the alert is about (the substance, agent, disease or treatment of its one
        // kind), else the kind of alert (KV Informationstyp).
        title: [
            ["alertInformationHeader", "documentTitle"],
            [
                "alertInformationBody",
                "hypersensitivity",
                "pharmaceuticalHypersensitivity",
                "atcSubstance",
                "displayName"
            ],
            [
                "alertInformationBody",
                "hypersensitivity",
                "otherHypersensitivity",
                "hypersensitivityAgent"
            ],
            [
                "alertInformationBody",
                "hypersensitivity",
                "otherHypersensitivity",
                "hypersensitivityAgentCode",
                "displayName"
            ],
            ["alertInformationBody", "seriousDisease", "disease", "displayName"],
            [
                "alertInformationBody",
                "communicableDisease",
                "communicableDiseaseCode",
                "displayName"
            ],
            ["alertInformationBody", "treatment", "pharmaceuticalTreatment", "displayName"],
            ["alertInformationBody", "treatment", "treatmentCode", "displayName"],
            ["alertInformationBody", "treatment", "treatmentDescription"],
            [
                "alertInformationBody",
                "unstructuredAlertInformation",
                "unstructuredAlertInformationHeading"
            ],
            ["alertInformationBody", "typeOfAlertInformation", "displayName"],
            ["alertInformationBody", "typeOfAlertInformation", "originalText"],
        ],
        status: [],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

const VALIDITY_START: &[&str] = &["alertInformationBody", "validityTimePeriod", "start"];
const VALIDITY_END: &[&str] = &["alertInformationBody", "validityTimePeriod", "end"];
const OBSOLETE_TIME: &[&str] = &["alertInformationBody", "obsoleteTime"];

/// The interval `timePeriod` is compared with: the alert's validity, from its start to
/// the end of its validity period or the time it was made obsolete, whichever is first;
/// open towards the future when it has neither.
pub static RECORD_INTERVAL: RecordInterval = RecordInterval {
    start: &[VALIDITY_START],
    start_rule: IntervalStart::FirstPresent,
    end: &[OBSOLETE_TIME, VALIDITY_END],
    end_rule: IntervalEnd::Earliest,
    open_without: &[],
    otherwise: &[],
};

/// The GetAlertInformation:2 information set: the [`DESCRIPTOR`], and the period filter
/// by overlap with [`RECORD_INTERVAL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertInformation;

impl InformationSet for AlertInformation {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is overlap with the alert's validity, not one time.
    fn record_interval(&self) -> Option<&'static RecordInterval> {
        Some(&RECORD_INTERVAL)
    }
}
