//! Records of the information sets of the domain `clinicalprocess:logistics:logistics`
//! 2.0 (core components `clinicalprocess_logistics_logistics_2.0.xsd`): GetCareContacts 2.
//!
//! Every record validates against the official schema (element order, required fields;
//! the 2.0 header has no `documentTime`) and reads like a journal system's care contact.
//! Record `i` is, by `i % 4`:
//!
//! | `i % 4` | contact | `careContactTimePeriod` |
//! | --- | --- | --- |
//! | 0 | besök (visit, code 1) | start = end = the record's time |
//! | 1 | telefon (phone, code 2) | start = end = the record's time |
//! | 2 | vårdtillfälle (inpatient stay, code 3) | the record's time to 11:00 three days later |
//! | 3 | dagsjukvård (day care, code 4) | the record's time to 15:00 the same day |
//!
//! The start is always [`super::record_time`] (what the adapter reads as the record's
//! time), the contact's status is 5 (avslutad), `authorTime` lies within the period (at
//! the end: the note is signed when the contact ends), so a record's interval (the
//! contract's period rule, `vaxel_adapter_care_contacts::RECORD_INTERVAL`) is its one day,
//! except for the inpatient stay, which also overlaps the three days after it. The care
//! unit is the source's (header `healthcareProfessionalCareUnitHSAId`, the unit's own
//! org unit and the contact's `careContactOrgUnit`).

use std::fmt::Write as _;

use vaxel_adapter::InformationSet;

use super::{add_days, escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`), in the order of `GetCareContactsType`:
/// `careUnitHSAId*`, `patientId`, `timePeriod?`, `sourceSystemHSAId?` (`careContactId*`
/// is not part of [`SampleQuery`]).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    match set.descriptor().name {
        "care-contacts" => care_contacts_request(query),
        _ => super::generic_request_body(set, query),
    }
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    match r.set.descriptor().name {
        "care-contacts" => care_contact_record(out, r),
        _ => super::generic_record(out, r),
    }
}

fn care_contacts_request(query: &SampleQuery<'_>) -> String {
    super::request_body_named(query, "careUnitHSAId", "timePeriod", "sourceSystemHSAId")
}

/// One kind of care contact: code (`CareContactCodeEnum`), the unit's name, reasons the
/// patient gives, and the contact's end as (days after the start, time of day).
struct ContactKind {
    code: u8,
    unit_name: &'static str,
    reasons: [&'static str; 3],
    end: (i64, &'static str),
}

const KINDS: [ContactKind; 4] = [
    ContactKind {
        code: 1,
        unit_name: "Medicinmottagningen",
        reasons: [
            "Uppföljning av högt blodtryck",
            "Hosta sedan tre veckor",
            "Årskontroll diabetes typ 2",
        ],
        end: (0, "093000"),
    },
    ContactKind {
        code: 2,
        unit_name: "Medicinmottagningen, telefonrådgivning",
        reasons: [
            "Frågor om biverkningar av ny medicin",
            "Provsvar, kolesterol",
            "Yrsel vid uppresning",
        ],
        end: (0, "093000"),
    },
    ContactKind {
        code: 3,
        unit_name: "Medicinavdelning 12",
        reasons: [
            "Andfåddhet och feber, misstänkt lunginflammation",
            "Bröstsmärta",
            "Försämrad hjärtsvikt med bensvullnad",
        ],
        end: (3, "110000"),
    },
    ContactKind {
        code: 4,
        unit_name: "Dagvårdsenheten, medicin",
        reasons: [
            "Järninfusion",
            "Blodtransfusion inför operation",
            "Antibiotikabehandling intravenöst",
        ],
        end: (0, "150000"),
    },
];

/// Accountable professionals (invented names) with their title as free text (the TKB
/// allows `originalText` when no KV Befattning code is given).
const PROFESSIONALS: [(&str, &str); 3] = [
    ("Karin Ekholm", "Överläkare"),
    ("Johan Sundqvist", "Specialistläkare"),
    ("Leila Haddad", "Sjuksköterska"),
];

/// Every sample contact is over: `careContactStatus` 5, avslutad (CareContactStatusEnum).
pub(crate) const STATUS: &str = "5";

/// The reason the patient gave for contact `index`.
fn reason(index: usize) -> &'static str {
    let kind = &KINDS[index % KINDS.len()];
    kind.reasons[(index / KINDS.len()) % kind.reasons.len()]
}

/// The title the adapter reads from record `index` (super::record_title): the reason.
pub(crate) fn title(index: usize) -> Option<&'static str> {
    Some(reason(index))
}

fn care_contact_record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let kind = &KINDS[index % KINDS.len()];
    let reason = reason(index);
    let (professional, title) = PROFESSIONALS[index % PROFESSIONALS.len()];
    let start = r.time();
    let end = format!("{}{}", add_days(&start[..8], kind.end.0), kind.end.1);
    let unit = escape(source.care_unit);
    let _ = write!(
        out,
        "<{p}careContactHeader>\
<{p}documentId>{id}</{p}documentId>\
<{p}sourceSystemHSAId>{src}</{p}sourceSystemHSAId>\
<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{end}</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-P{n}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{professional}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalRoleCode><{p}originalText>{title}</{p}originalText></{p}healthcareProfessionalRoleCode>\
<{p}healthcareProfessionalOrgUnit>\
<{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId>\
<{p}orgUnitName>{unit_name}</{p}orgUnitName>\
<{p}orgUnitTelecom>010-123 45 {phone:02}</{p}orgUnitTelecom>\
</{p}healthcareProfessionalOrgUnit>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>\
<{p}approvedForPatient>{approved}</{p}approvedForPatient>\
</{p}careContactHeader>\
<{p}careContactBody>\
<{p}careContactCode>{code}</{p}careContactCode>\
<{p}careContactReason>{reason}</{p}careContactReason>\
<{p}careContactOrgUnit>\
<{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId>\
<{p}orgUnitName>{unit_name}</{p}orgUnitName>\
<{p}orgUnitLocation>Sjukhusområdet, hus 4</{p}orgUnitLocation>\
</{p}careContactOrgUnit>\
<{p}careContactTimePeriod><{p}start>{start}</{p}start><{p}end>{end}</{p}end></{p}careContactTimePeriod>\
<{p}careContactStatus>{STATUS}</{p}careContactStatus>\
</{p}careContactBody>",
        id = escape(&r.id()),
        src = escape(source.source_system),
        pid = escape(source.patient_id),
        giver = escape(source.care_giver),
        n = index % PROFESSIONALS.len() + 1,
        unit_name = kind.unit_name,
        phone = 10 + index % KINDS.len(),
        code = kind.code,
        approved = r.approved_for_patient(),
    );
}
