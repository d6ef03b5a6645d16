//! Records of GetSubjectOfCareSchedule 1 (domain `crm:scheduling` 1.1, core components
//! `crm_scheduling_1.1.xsd` and `crm_scheduling_1.1_ext.xsd`).
//!
//! Every record is a `timeslotDetail` that validates against the official schema (the
//! elements of `TimeslotType` in its order, `isInvitation` in the 1.1 extension's
//! namespace, declared on the element). Record `i` is, by `i % 4`:
//!
//! | `i % 4` | booking | length |
//! | --- | --- | --- |
//! | 0 | återbesök hos diabetessköterskan | 30 min |
//! | 1 | provtagning | 10 min |
//! | 2 | vaccination mot influensa (an invitation) | 15 min |
//! | 3 | fysioterapi | 45 min |
//!
//! `startTimeInclusive` is [`super::record_time`] (what the adapter reads as the
//! record's time), `bookingId` the record's id, `healthcare_facility` the source's care
//! unit, `subject_of_care` the patient, `careTypeName` the title the adapter reads.

use std::fmt::Write as _;

use super::{escape, RecordContext, SampleQuery};

/// Namespace of the 1.1 extension (`isInvitation`).
const EXTENSION_NAMESPACE: &str = "urn:riv:crm:scheduling:1.1";

/// One kind of booking.
struct Booking {
    care_type: (&'static str, &'static str),
    time_type: (&'static str, &'static str),
    purpose: &'static str,
    resource: &'static str,
    performer: &'static str,
    minutes: u32,
    invitation: bool,
}

const BOOKINGS: [Booking; 4] = [
    Booking {
        care_type: ("Diabetessköterska", "DSK"),
        time_type: ("Återbesök", "ATER"),
        purpose: "Årskontroll diabetes typ 2",
        resource: "Mottagningsrum 4",
        performer: "Eva Lindqvist",
        minutes: 30,
        invitation: false,
    },
    Booking {
        care_type: ("Provtagning", "PROV"),
        time_type: ("Laboratoriebesök", "LAB"),
        purpose: "Blodprov inför årskontroll (HbA1c, blodfetter)",
        resource: "Provtagningen",
        performer: "Maja Nilsson",
        minutes: 10,
        invitation: false,
    },
    Booking {
        care_type: ("Vaccination", "VACC"),
        time_type: ("Nybesök", "NY"),
        purpose: "Vaccination mot säsongsinfluensa",
        resource: "Vaccinationsmottagningen",
        performer: "Leila Haddad",
        minutes: 15,
        invitation: true,
    },
    Booking {
        care_type: ("Fysioterapi", "FYS"),
        time_type: ("Återbesök", "ATER"),
        purpose: "Träning efter höftledsoperation",
        resource: "Träningssalen",
        performer: "Sofia Berg",
        minutes: 45,
        invitation: false,
    },
];

/// The title the adapter reads from record `index` (super::record_title): the care type.
pub(crate) fn title(index: usize) -> Option<&'static str> {
    Some(BOOKINGS[index % BOOKINGS.len()].care_type.0)
}

/// The request element's content: `healthcare_facility` (the first care unit asked for,
/// else the logical address the request goes to), then `subject_of_care`; the contract
/// has no other parameter.
pub(crate) fn request_body(query: &SampleQuery<'_>) -> String {
    let facility = query
        .care_units
        .first()
        .copied()
        .unwrap_or(query.logical_address);
    format!(
        "<q:healthcare_facility>{}</q:healthcare_facility><q:subject_of_care>{}</q:subject_of_care>",
        escape(facility),
        escape(query.patient_id)
    )
}

/// `TimeslotType`, in schema order.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let booking = &BOOKINGS[index % BOOKINGS.len()];
    let start = r.time();
    let end = later(&start, booking.minutes);
    let unit = escape(source.care_unit);
    let _ = write!(
        out,
        "<{p}startTimeInclusive>{start}</{p}startTimeInclusive>\
<{p}endTimeExclusive>{end}</{p}endTimeExclusive>\
<{p}healthcare_facility>{unit}</{p}healthcare_facility>\
<{p}performer>{unit}-P{n}</{p}performer>\
<{p}bookingId>{id}</{p}bookingId>\
<{p}subject_of_care>{pid}</{p}subject_of_care>\
<{p}purpose>{purpose}</{p}purpose>\
<{p}resourceName>{resource}</{p}resourceName>\
<{p}healthcare_facility_name>Vårdcentralen Norrstaden</{p}healthcare_facility_name>\
<{p}performerName>{performer}</{p}performerName>\
<{p}resourceID>{unit}-R{n}</{p}resourceID>\
<{p}timeTypeName>{time_type}</{p}timeTypeName>\
<{p}timeTypeID>{time_type_id}</{p}timeTypeID>\
<{p}careTypeName>{care_type}</{p}careTypeName>\
<{p}careTypeID>{care_type_id}</{p}careTypeID>\
<{p}cancel_booking_allowed>true</{p}cancel_booking_allowed>\
<{p}rebooking_allowed>{rebook}</{p}rebooking_allowed>\
<{p}message_allowed>true</{p}message_allowed>\
<x:isInvitation xmlns:x=\"{EXTENSION_NAMESPACE}\">{invitation}</x:isInvitation>",
        n = index % BOOKINGS.len() + 1,
        id = escape(&r.id()),
        pid = escape(source.patient_id),
        purpose = booking.purpose,
        resource = booking.resource,
        performer = booking.performer,
        time_type = booking.time_type.0,
        time_type_id = booking.time_type.1,
        care_type = booking.care_type.0,
        care_type_id = booking.care_type.1,
        // A lab visit is only moved by calling the unit.
        rebook = index % BOOKINGS.len() != 1,
        invitation = booking.invitation,
    );
}

/// `yyyyMMddHHmmss` plus `minutes`, within the day (the samples' bookings start at 09:30).
fn later(time: &str, minutes: u32) -> String {
    let hours: u32 = time[8..10].parse().unwrap_or(9);
    let mins: u32 = time[10..12].parse().unwrap_or(30);
    let total = (hours * 60 + mins + minutes).min(23 * 60 + 59);
    format!(
        "{}{:02}{:02}{}",
        &time[..8],
        total / 60,
        total % 60,
        &time[12..]
    )
}
