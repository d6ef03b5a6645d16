//! Laboratory order outcomes (laboratoriesvar): two major versions of the contract,
//! GetLaboratoryOrderOutcome:3 ([`LaboratoryOrderOutcome3`]) and :4 ([`LaboratoryOrderOutcome4`]).
//! Producers answer one or the other; the engagement index categorization is the same.
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, IntervalEnd, IntervalStart, RecordInterval,
    RecordPaths, RequestPaths, ResultElement,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE_3: &str =
    "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:3";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE_3: &str = "urn:riv:clinicalprocess:healthcond:actoutcome:3";

/// What aggregation needs to know about GetLaboratoryOrderOutcome.
pub static DESCRIPTOR_3: InformationSetDescriptor = InformationSetDescriptor {
    name: "laboratory-outcome-3",
    contract_namespace: CONTRACT_NAMESPACE_3,
    request_element: "GetLaboratoryOrderOutcome",
    response_element: "GetLaboratoryOrderOutcomeResponse",
    record_element: "laboratoryOrderOutcome",
    ei_service_domain: "riv:clinicalprocess:healthcond:actoutcome",
    ei_categorization: "und-kkm-ure",
    core_namespace: CORE_NAMESPACE_3,
    kind: "lab-result",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    // The generic filter compares one instant with the requested period; the contract's
    // rule (see [`LaboratoryOrderOutcome3`]) is the analysis time, so that is what is read.
    record: vaxel_adapter::patient_summary_header_paths!(
        "laboratoryOrderOutcomeHeader",
        time: ["laboratoryOrderOutcomeBody", "analysis", "analysisTime", "start"],
        // The answer's title, else its first analysis, else the discipline.
        title: [
            ["laboratoryOrderOutcomeHeader", "documentTitle"],
            ["laboratoryOrderOutcomeBody", "analysis", "analysisCode", "displayName"],
            ["laboratoryOrderOutcomeBody", "analysis", "analysisText"],
            ["laboratoryOrderOutcomeBody", "discipline"],
        ],
        // The kind of answer (`resultType`, 1..1: e.g. DEF for a definitive answer).
        status: [["laboratoryOrderOutcomeBody", "resultType"]],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE_3,
        field_namespace: CORE_NAMESPACE_3,
    }),
};

/// GetLaboratoryOrderOutcome:3 (laboratoriesvar, laboratory results; PatientSummaryHeader).
///
/// Checked against the official schema (`GetLaboratoryOrderOutcomeResponder_3.1.xsd` with
/// the core components `clinicalprocess_healthcond_actoutcome_3.1.xsd`, namespace
/// `...actoutcome:3`, in `shared/reference/riv-ta/information-set-schemas/GetLaboratoryOrderOutcome3`):
///
/// - request `GetLaboratoryOrderOutcomeType`: `careUnitHSAId` (`HSAIdType`, 0..*),
///   `patientId` (`PersonIdType`: `id`, `type`), `timePeriod` (`DatePeriodType`: `start`,
///   `end` as `yyyyMMdd`), `sourceSystemHSAId` (0..1), `careContactId` (0..*);
/// - record `LaboratoryOrderOutcomeType`: `laboratoryOrderOutcomeHeader`
///   (`PatientSummaryHeaderType`: `documentId`, `sourceSystemHSAId`, `documentTime` 0..1,
///   `accountableHealthcareProfessional/{healthcareProfessionalCareUnitHSAId,
///   healthcareProfessionalCareGiverHSAId}`, `approvedForPatient`, `careContactId` 0..1),
///   read with [`vaxel_adapter::patient_summary_header_paths`]; then
///   `laboratoryOrderOutcomeBody` (`resultType`, `registrationTime`, `discipline`, ...,
///   `analysis` 0..* of `AnalysisType` with `analysisTime` 0..1 of `TimePeriodType`);
///   the response ends with a `result` of `ResultType` from `...actoutcome:3`.
///
/// The record time is the first analysis's `analysisTime/start`. The contract restricts
/// the answer by the analyses' times, not by the header's `documentTime` ("endast svar
/// returneras där det finns en tidpunkt angiven i någon av i svaret ingående
/// analysis/analysisTime, eller om sådan tid ej finns i svaret ... tidpunkten angiven i
/// documentTime, som ligger helt eller delvis inom det sökta tidsintervallet", quoted in
/// the contract's SoapUI test suite, `DateBoundaries`, skltp-aggregerandetjanster
/// GetAggregatedReferralOutcome-schemas `test-suite/GetLaboratoryOrderOutcome`). The
/// re-check compares the period with [`RECORD_INTERVAL_3`]: from the earliest to the
/// latest time of all the answer's analyses, else the `documentTime`. That keeps every
/// answer the rule keeps; it also keeps one whose analyses lie before and after the
/// period but none in it, which the producer's own filter decides. An answer with no
/// time at all is kept. The request's `careContactId` compares with the header's
/// `careContactId`.
///
/// Other sources: skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedLaboratoryOrderOutcome.v3
/// (`GLOO3AgpServiceFactoryImpl`: records `laboratoryOrderOutcome`, then `result`);
/// request from `shared/reference/riv-ta/npo-requests/GetLaboratoryOrderOutcome3.xml`;
/// engagement index domain/categorization from GetAggregatedLaboratoryOrderOutCome
/// (`GLOOAgpServiceConfiguration`).
///
/// Behaviour comes from [`DESCRIPTOR_3`], and the period filter by overlap with
/// [`RECORD_INTERVAL_3`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LaboratoryOrderOutcome3;

impl InformationSet for LaboratoryOrderOutcome3 {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR_3
    }

    // The contract's period rule is overlap with the analyses' times, not one time.
    fn record_interval(&self) -> Option<&'static RecordInterval> {
        Some(&RECORD_INTERVAL_3)
    }
}

const ANALYSIS_START: &[&str] = &[
    "laboratoryOrderOutcomeBody",
    "analysis",
    "analysisTime",
    "start",
];
const ANALYSIS_END: &[&str] = &[
    "laboratoryOrderOutcomeBody",
    "analysis",
    "analysisTime",
    "end",
];

/// The interval GetLaboratoryOrderOutcome:3's `timePeriod` is compared with: every
/// analysis's start and end (the span of them all), else the header's `documentTime`.
pub static RECORD_INTERVAL_3: RecordInterval = RecordInterval {
    start: &[ANALYSIS_START, ANALYSIS_END],
    start_rule: IntervalStart::Earliest,
    end: &[ANALYSIS_START, ANALYSIS_END],
    end_rule: IntervalEnd::Latest,
    open_without: &[],
    otherwise: vaxel_adapter::patient_summary_header_time!(
        "laboratoryOrderOutcomeHeader",
        document
    ),
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE_4: &str =
    "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:4";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE_4: &str = "urn:riv:clinicalprocess:healthcond:actoutcome:4";

/// What aggregation needs to know about GetLaboratoryOrderOutcome.
pub static DESCRIPTOR_4: InformationSetDescriptor = InformationSetDescriptor {
    name: "laboratory-outcome-4",
    contract_namespace: CONTRACT_NAMESPACE_4,
    request_element: "GetLaboratoryOrderOutcome",
    response_element: "GetLaboratoryOrderOutcomeResponse",
    record_element: "laboratoryOrderOutcome",
    ei_service_domain: "riv:clinicalprocess:healthcond:actoutcome",
    ei_categorization: "und-kkm-ure",
    core_namespace: CORE_NAMESPACE_4,
    kind: "lab-result",
    request: RequestPaths {
        patient_id: &["patientId", "extension"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId", "extension"],
        record_id: &[],
        source_system: &["sourceSystemHSAId", "extension"],
        care_contact: &[],
    },
    record: RecordPaths {
        record_id: &["header", "record", "id", "extension"],
        source_system: &["header", "sourceSystemId", "extension"],
        care_giver: &[
            "header",
            "accessControlHeader",
            "accountableCareGiver",
            "extension",
        ],
        care_unit: &[
            "header",
            "accessControlHeader",
            "accountableCareUnit",
            "extension",
        ],
        time: &["header", "record", "timestamp"],
        patient_id: &[],
        care_contact: &[],
        approved_for_patient: &["header", "accessControlHeader", "approvedForPatient"],
        title: &[
            &["body", "groupOfAnalyses", "name"],
            &["body", "groupOfAnalyses", "analysis", "code", "displayName"],
        ],
        status: &[&["body", "type", "displayName"], &["body", "type", "code"]],
    },
    result: None,
};

/// GetLaboratoryOrderOutcome:4 (laboratoriesvar, laboratory results; JoL header).
///
/// Version 4 uses the "JoL" header instead of PatientSummaryHeader: identities are `IIType`
/// (`root` OID + `extension` value), the care giver and unit are
/// `header/accessControlHeader/accountableCareGiver` and `accountableCareUnit`, the source
/// system is `header/sourceSystemId`, the record id and creation time are
/// `header/record/id` and `header/record/timestamp`; the request names the patient as
/// `patientId/extension` and filters on `careUnitHSAId*`, `careGiverHSAId*`, `datePeriod` and
/// `sourceSystemHSAId` (all `IIType`). Sources: the contract's field rules (TKB
/// GetLaboratoryOrderOutcome 4.2, "Fältregler"), and
/// skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.actoutcome.GetAggregatedLaboratoryOrderOutCome
/// (`GLOOAgpServiceFactoryImpl` v4: patient `getPatientId().getExtension()`, source
/// `getSourceSystemHSAId().getExtension()`, response of records only; `GLOOAgpServiceConfiguration`:
/// engagement index domain/categorization). No `result` element is written (the national
/// aggregator writes none for v4).
///
/// The facts for a citizen's overview, from the v4 core components
/// (`clinicalprocess_healthcond_actoutcome_4.0.xsd` in skltp-aggregerandetjanster
/// GetAggregatedLaboratoryOrderOutCome, `GetAggregatedLaboratoryOrderOutcome-v4-schemas`;
/// not in the shared reference folder): `approvedForPatient` is in the JoL header's
/// `AccessControlHeaderType` (`header/accessControlHeader/approvedForPatient`, 1..1), the
/// title is the first group of analyses' `name`, else its first analysis's code text, the
/// status is the answer's type (`body/type`, a `CVType`: its `displayName`, else its
/// `code`); the JoL header has no `nullified`.
///
/// All behaviour comes from [`DESCRIPTOR_4`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LaboratoryOrderOutcome4;

impl InformationSet for LaboratoryOrderOutcome4 {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR_4
    }
}
