//! GetCareContacts:2 (vårdkontakter, care contacts).
//!
//! Sources: skltp-aggregerandetjanster/riv.clinicalprocess.logistics.GetAggregatedCareContacts
//! (`GCCAgpServiceFactoryImpl`: a response of `careContact*` only, no `result`; teststub
//! `ServiceTestDataGenerator`: `careContactHeader` as `PatientSummaryHeaderType` of
//! `...logistics:logistics:2` with `documentId`, `sourceSystemHSAId`,
//! `accountableHealthcareProfessional/healthcareProfessionalCareGiverHSAId`;
//! `GCCAgpServiceConfiguration`: engagement index domain/categorization); request from
//! `shared/reference/riv-ta/npo-requests/GetCareContacts2.xml` (`timePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:logistics:logistics:2";

/// What aggregation needs to know about GetCareContacts.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "care-contacts",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetCareContacts",
    response_element: "GetCareContactsResponse",
    record_element: "careContact",
    ei_service_domain: "riv:clinicalprocess:logistics:logistics",
    ei_categorization: "vko",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
    },
    record: RecordPaths {
        record_id: &["careContactHeader", "documentId"],
        source_system: &["careContactHeader", "sourceSystemHSAId"],
        care_giver: &[
            "careContactHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareGiverHSAId",
        ],
        care_unit: &[
            "careContactHeader",
            "accountableHealthcareProfessional",
            "healthcareProfessionalCareUnitHSAId",
        ],
        time: &["careContactHeader", "documentTime"],
    },
    result: None,
};

/// The GetCareContacts:2 information set; all behaviour comes from [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CareContacts;

impl InformationSet for CareContacts {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
