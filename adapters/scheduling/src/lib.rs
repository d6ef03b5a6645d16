//! GetSubjectOfCareSchedule:1 (tidbokning: the patient's booked times).
//!
//! Sources: the official responder schema `GetSubjectOfCareScheduleResponder_1.1.xsd` with
//! the core components `crm_scheduling_1.1.xsd` (namespace `urn:riv:crm:scheduling:1`) and
//! its extension `crm_scheduling_1.1_ext.xsd` (`urn:riv:crm:scheduling:1.1`), in
//! `shared/reference/riv-ta/scheduling-schemas/TD_SCHEDULING_1_1_0_R`:
//!
//! - a record is a `timeslotDetail` (`TimeslotType`), which is **not** a
//!   `PatientSummaryHeaderType`: `startTimeInclusive?`, `endTimeExclusive?` (`TS`,
//!   `yyyyMMddHHmmss`), `healthcare_facility` 1..1 (the care unit's HSA id),
//!   `performer?`, `bookingId?`, `subject_of_care?` (a bare `SubjectOfCareIdType`, the
//!   12-character id, no `type`), `purpose?`, `reason?`, `resourceName?`,
//!   `healthcare_facility_name?`, `performerName?`, `resourceID?`, `timeTypeName?`,
//!   `timeTypeID?`, `careTypeName?`, `careTypeID?`, `cancel_booking_allowed?`,
//!   `rebooking_allowed?`, `message_allowed?`, then `isInvitation?` of the 1.1
//!   extension. So: the record's id is `bookingId`, its time `startTimeInclusive`, its
//!   care unit `healthcare_facility`, its patient `subject_of_care`; it names no care
//!   giver and no source system, has no `approvedForPatient` flag and no status (the
//!   `*_allowed` flags say what the patient may do, not what state the booking is in).
//!   A timeslot without `subject_of_care` cannot be shown to be the patient's: the
//!   gateway treats it as it treats a record about someone else in every contract with a
//!   patient path (`vaxel_adapter::about_patient` is false, and the aggregator does not
//!   pass that source's answer on);
//! - the request (`GetSubjectOfCareScheduleType`): `healthcare_facility` 1..1, then
//!   `subject_of_care` 1..1, both in the contract namespace; no period, no care unit
//!   list, no source system. `healthcare_facility` is not a filter on the records' care
//!   units (see below), so the defensive re-check has only the patient to compare;
//! - the response (`GetSubjectOfCareScheduleResponseType`): `timeslotDetail*`, no
//!   `result`.
//!
//! **`healthcare_facility` when the request goes to many sources.** The national
//! aggregating service GetAggregatedSubjectOfCareSchedule (skltp-aggregerandetjanster/
//! riv.crm.scheduling.GetAggregatedSubjectOfCareSchedule) writes, for each logical
//! address the engagement index names, a new request with
//! `healthcare_facility` = that logical address and `subject_of_care` = the engagement's
//! resident id (`RequestListFactoryImpl.createRequestList`: `request.setHealthcareFacility
//! (logicalAdress)`, "returns all bookings from a logical-address in one call", also in
//! the older `TidbokningRequestListTransformer`). Its later Spring Boot version
//! (`GetAggregatedSubjectOfCareSchedule-v1-main`, `AgServiceFactoryBase` with the
//! platform's `RequestListUtil.createRequest`) passes the consumer's request on unchanged
//! with only the logical address replaced. A request the gateway writes itself (the
//! citizen's overview, [`SubjectOfCareSchedule::overview_request`]) follows the explicit
//! rule: [`healthcare_facility_for`] the source, its logical address. A consumer's own
//! request is forwarded as it came, as the current national service does.
//!
//! Engagement index: service domain `riv:crm:scheduling` (`GASOCSAgpServiceConfiguration`
//! `setEiServiceDomain`), categorization `Booking`, what booking engagements carry
//! (`Contants.CATEGORIZATION_BOOKING` of the same service, used in its engagement index
//! test data). The national service itself asks FindContent with no categorization
//! ("Categorization has to be set to null for this service", `setEiCategorization(null)`),
//! so it also finds engagements a producer registered under another categorization; the
//! gateway's lookup asks for [`DESCRIPTOR`]'s categorization.
//! Request sample: `shared/reference/riv-ta/vp-requests/Rivta21Request.xml`.
#![forbid(unsafe_code)]

use vaxel_adapter::{
    escape_text, normalise_patient_id, request_envelope, InformationSet, InformationSetDescriptor,
    RecordPaths, RequestPaths,
};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";
/// Namespace of the record's content (the domain's core components).
pub const CORE_NAMESPACE: &str = "urn:riv:crm:scheduling:1";
/// Namespace of the 1.1 extension (`isInvitation`, the names of `SubjectOfCareType`).
pub const EXTENSION_NAMESPACE: &str = "urn:riv:crm:scheduling:1.1";

/// What aggregation needs to know about GetSubjectOfCareSchedule.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "scheduling",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetSubjectOfCareSchedule",
    response_element: "GetSubjectOfCareScheduleResponse",
    record_element: "timeslotDetail",
    ei_service_domain: "riv:crm:scheduling",
    ei_categorization: "Booking",
    core_namespace: CORE_NAMESPACE,
    kind: "booking",
    request: RequestPaths {
        patient_id: &["subject_of_care"],
        period_start: &[],
        period_end: &[],
        // The request's healthcare_facility says where to ask, not which units' bookings
        // to keep: aggregated, it is the source's logical address (or the consumer's
        // value), never the bookings' own facilities.
        care_unit: &[],
        record_id: &[],
        source_system: &[],
        care_contact: &[],
    },
    record: RecordPaths {
        record_id: &["bookingId"],
        source_system: &[],
        care_giver: &[],
        care_unit: &["healthcare_facility"],
        time: &["startTimeInclusive"],
        patient_id: &["subject_of_care"],
        care_contact: &[],
        approved_for_patient: &[],
        // What kind of visit, else the time type, the purpose, the resource booked.
        title: &[
            &["careTypeName"],
            &["timeTypeName"],
            &["purpose"],
            &["resourceName"],
        ],
        status: &[],
    },
    result: None,
};

/// The `healthcare_facility` of a request the gateway sends to the source at
/// `source_logical_address`: that logical address, as the national aggregating service
/// writes it for each source it asks (see the crate documentation).
pub fn healthcare_facility_for(source_logical_address: &str) -> &str {
    source_logical_address
}

/// The GetSubjectOfCareSchedule:1 information set: the [`DESCRIPTOR`], and the overview
/// request with its required `healthcare_facility`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubjectOfCareSchedule;

impl InformationSet for SubjectOfCareSchedule {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }

    // The request has a required healthcare_facility before the patient, and the
    // patient is a bare id (SubjectOfCareIdType), not a PersonIdType.
    fn overview_request(&self, patient_id: &str, logical_address: &str) -> Vec<u8> {
        let content = format!(
            "<q:healthcare_facility>{}</q:healthcare_facility><q:subject_of_care>{}</q:subject_of_care>",
            escape_text(healthcare_facility_for(logical_address)),
            escape_text(&normalise_patient_id(patient_id)),
        );
        request_envelope(&DESCRIPTOR, logical_address, &content)
    }
}
