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
//!   or a `dissentingOpinion/authorTime` lies within the requested dates. The generic
//!   re-check compares one time, `documentTime`, and keeps a record without one;
//! - `careUnitHSAid` compares with `healthcareProfessionalCareUnitHSAId`,
//!   `sourceSystemHSAid` with the header's `sourceSystemHSAid`; `careContactId` is applied
//!   by the producer only.
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
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAid"],
        record_id: &[],
        source_system: &["sourceSystemHSAid"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "careDocumentationHeader",
        source_system: "sourceSystemHSAid",
        time: ["careDocumentationHeader", "documentTime"],
    ),
    result: Some(ResultElement {
        namespace: "urn:riv:clinicalprocess:healthcond:description:2.1",
        field_namespace: "urn:riv:clinicalprocess:healthcond:description:2.1",
    }),
};

/// The GetCareDocumentation:2 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CareDocumentation;

impl InformationSet for CareDocumentation {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
