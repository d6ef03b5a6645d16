//! GetCareContacts:2 (vårdkontakter, care contacts).
//!
//! Sources: the official responder schema `GetCareContactsResponder_2.0.xsd` and core
//! components `clinicalprocess_logistics_logistics_2.0.xsd` (namespace
//! `...logistics:logistics:2`, in `shared/reference/riv-ta/information-set-schemas/
//! GetCareContacts2`), and the field rules of the service contract description (TKB
//! clinicalprocess:logistics:logistics 2.0.7, GetCareContacts):
//!
//! - a record is a `CareContactType`: `careContactHeader` of the domain's
//!   `PatientSummaryHeaderType` (`documentId`, `sourceSystemHSAId`, `patientId`,
//!   `accountableHealthcareProfessional` of `HealthcareProfessionalType` with
//!   `healthcareProfessionalCareUnitHSAId` and `healthcareProfessionalCareGiverHSAId`,
//!   `approvedForPatient`), then `careContactBody` (`CareContactBodyType`). This 2.0
//!   header has **no `documentTime`**: the contact's time is
//!   `careContactBody/careContactTimePeriod` (`TimePeriodType`, `start` 1..1, `end`
//!   0..1; for a visit the end equals the start, a planned contact or an ongoing stay
//!   has no end). The record's time is that period's `start`;
//! - the request (`GetCareContactsType`): `careUnitHSAId` 0..* (matches the header's
//!   `healthcareProfessionalCareUnitHSAId`), `patientId`, `timePeriod`
//!   (`DatePeriodType`, dates), `sourceSystemHSAId` 0..1, `careContactId` 0..* (the
//!   contact's id, which the header carries as `documentId`: the schema documents that
//!   element as "careContactId: Vårdkontaktens identitet");
//! - `timePeriod` keeps the records "där datumintervallet, som bildas av tidpunkterna
//!   authorTime, careContactTimePeriod.start och careContactTimePeriod.end i svaret,
//!   helt eller delvis överlappar med det angivna sökintervallet", compared as dates:
//!   [`RECORD_INTERVAL`] runs from the earliest to the latest of those points. A
//!   contact without an end is planned or still going on (the TKB: "Pågående
//!   vårdtillfälle ... utan slutdatum"), so its interval is open towards the future.
//!
//! The response has records only, no `result` (`GetCareContactsResponseType`; also
//! skltp-aggregerandetjanster/riv.clinicalprocess.logistics.GetAggregatedCareContacts
//! `GCCAgpServiceFactoryImpl`); engagement index domain and categorization from that
//! service's `GCCAgpServiceConfiguration`.
#![forbid(unsafe_code)]

use vaxel_adapter::{
    InformationSet, InformationSetDescriptor, IntervalEnd, IntervalStart, RecordInterval,
    RequestPaths,
};

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
    core_namespace: CORE_NAMESPACE,
    kind: "care-contact",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["timePeriod", "start"],
        period_end: &["timePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &["careContactId"],
        source_system: &["sourceSystemHSAId"],
        care_contact: &[],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "careContactHeader",
        time: ["careContactBody", "careContactTimePeriod", "start"],
        // The 2.0 contact code is a number (CareContactCodeEnum), not a CVType with a
        // displayName: the reason the patient gave, else the unit's name.
        title: [
            ["careContactBody", "careContactReason"],
            ["careContactBody", "careContactOrgUnit", "orgUnitName"],
        ],
        // CareContactStatusEnum, as its code: 1 ej påbörjad, 2 inställd, 3 pågående,
        // 4 avbruten, 5 avslutad.
        status: [["careContactBody", "careContactStatus"]],
    ),
    result: None,
};

const AUTHOR_TIME: &[&str] = &[
    "careContactHeader",
    "accountableHealthcareProfessional",
    "authorTime",
];
const CONTACT_START: &[&str] = &["careContactBody", "careContactTimePeriod", "start"];
const CONTACT_END: &[&str] = &["careContactBody", "careContactTimePeriod", "end"];

/// The interval `timePeriod` is compared with (TKB GetCareContacts, `timePeriod`): from
/// the earliest to the latest of `authorTime` and the contact's start and end; open
/// towards the future when the contact has no end.
pub static RECORD_INTERVAL: RecordInterval = RecordInterval {
    start: &[AUTHOR_TIME, CONTACT_START, CONTACT_END],
    start_rule: IntervalStart::Earliest,
    end: &[AUTHOR_TIME, CONTACT_START, CONTACT_END],
    end_rule: IntervalEnd::Latest,
    open_without: CONTACT_END,
    otherwise: &[],
};

/// The GetCareContacts:2 information set: the [`DESCRIPTOR`], and the period filter by
/// overlap with [`RECORD_INTERVAL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CareContacts;

impl InformationSet for CareContacts {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The contract's period rule is overlap with the contact's interval, not one time.
    fn record_interval(&self) -> Option<&'static RecordInterval> {
        Some(&RECORD_INTERVAL)
    }
}
