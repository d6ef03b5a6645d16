//! GetCareDocumentation:2 (vårddokumentation, care documentation: clinical notes).
//!
//! Schema: `GetCareDocumentationResponder_2.1.xsd` with the core components
//! `clinicalprocess_healthcond_description_2.1.xsd` / `_2.1_ext.xsd` (TD
//! clinicalprocess:healthcond:description 2.1, in `shared/reference/riv-ta/care-documentation-schemas`):
//! - request `GetCareDocumentationType`: `careUnitHSAid*`, `patientId` (`PersonIdType`),
//!   `timePeriod?` (`DatePeriodType`), `sourceSystemHSAid?`, `careContactId*` (a care
//!   contact, not a document id: no record-id filter); note the lower-case `id` kept from
//!   version 2.0;
//! - response `GetCareDocumentationResponseType`: `careDocumentation*`
//!   (`CareDocumentationType`: `careDocumentationHeader` of `CPatientSummaryHeaderType`,
//!   which is `PatientSummaryHeaderType` with the source system spelled
//!   `sourceSystemHSAid`, and `careDocumentationBody`), then `m1:result?` in namespace
//!   `...description:2.1`, whose children are in that namespace too.
//!
//! Field rules from the TKB clinicalprocess:healthcond:description 2.1.18 §7.1:
//! - the record's time is the header's `documentTime` ("händelsetidpunkt", 0..1);
//! - `timePeriod` keeps a record when any of `documentTime`, `authorTime`, `signatureTime`
//!   or a `dissentingOpinion/authorTime` lies within the requested dates; the re-check
//!   does the same ([`RECORD_TIMES`]; the schema spells the element `dissentintOpinion`)
//!   and keeps a record with none of them;
//! - `careUnitHSAid` compares with `healthcareProfessionalCareUnitHSAId`,
//!   `sourceSystemHSAid` with the header's `sourceSystemHSAid`, `careContactId` with the
//!   header's `careContactId`.
//!
//! Engagement index domain and categorization from
//! skltp-aggregerandetjanster/riv.clinicalprocess.healthcond.description.GetAggregatedCareDocumentation
//! (`GACDAgpServiceConfiguration`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:description:2";

/// What aggregation needs to know about GetCareDocumentation.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "care-documentation",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetCareDocumentation",
    response_element: "GetCareDocumentationResponse",
    record_element: "careDocumentation",
    ei_service_domain: "riv:clinicalprocess:healthcond:description",
    ei_categorization: "voo",
    core_namespace: CORE_NAMESPACE,
    kind: "note",
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
        "careDocumentationHeader",
        source_system: "sourceSystemHSAid",
        time: ["careDocumentationHeader", "documentTime"],
        title: [
            ["careDocumentationHeader", "documentTitle"],
            ["careDocumentationBody", "clinicalDocumentNote", "clinicalDocumentNoteTitle"],
        ],
        status: [],
    ),
    result: Some(ResultElement {
        namespace: "urn:riv:clinicalprocess:healthcond:description:2.1",
        field_namespace: "urn:riv:clinicalprocess:healthcond:description:2.1",
    }),
};

/// The times `timePeriod` is compared with: a note is returned when any of them lies
/// in the period (every dissenting opinion's time counts).
pub static RECORD_TIMES: &[&[&str]] = &[
    vaxel_adapter::patient_summary_header_time!("careDocumentationHeader", document),
    vaxel_adapter::patient_summary_header_time!("careDocumentationHeader", author),
    vaxel_adapter::patient_summary_header_time!("careDocumentationHeader", signature),
    &[
        "careDocumentationBody",
        "clinicalDocumentNote",
        "dissentintOpinion",
        "authorTime",
    ],
];

/// The GetCareDocumentation:2 information set: the [`DESCRIPTOR`], and the period
/// filter by any of [`RECORD_TIMES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CareDocumentation;

impl InformationSet for CareDocumentation {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is any of several times, not one.
    fn record_times(&self) -> &'static [&'static [&'static str]] {
        RECORD_TIMES
    }
}
