//! Records of GetCarePlans 2 (domain `clinicalprocess:logistics:logistics` 3.0, core
//! components `clinicalprocess_logistics_logistics_3.0.xsd`).
//!
//! Every record validates against the official schema: `carePlanHeader` (the 3.0
//! `PatientSummaryHeaderType`, `careContactId` last) and `carePlanBody` with the plan as
//! plain text (`content`, base64), the units taking part and the kind of plan. Record `i`
//! is, by `i % 4`:
//!
//! | `i % 4` | plan (`typeOfCarePlanEnum`) | taking part |
//! | --- | --- | --- |
//! | 0 | samordnad individuell plan (SIP) | the care unit, the municipality's home care, psychiatry |
//! | 1 | vårdplan (VP), diabetes typ 2 | the care unit |
//! | 2 | samordnad plan vid utskrivning (SPU) | the care unit, the municipality's home care |
//! | 3 | rehabiliteringsplan (RP) after a hip operation | the care unit, physiotherapy |
//!
//! The header's `documentTime` is [`super::record_time`] (what the adapter reads as the
//! record's time), `documentTitle` the plan's title (what it reads as the title).

use std::fmt::Write as _;

use base64::Engine as _;

use super::{escape, RecordContext, SampleQuery, HSA_OID, PERSONAL_ID_OID};

/// One kind of plan: `typeOfCarePlanEnum`, title, text, units taking part (HSA id
/// suffixes after the source's care unit, or whole ids of other care givers' units).
struct Plan {
    kind: &'static str,
    title: &'static str,
    text: &'static str,
    participants: &'static [&'static str],
}

const PLANS: [Plan; 4] = [
    Plan {
        kind: "SIP",
        title: "Samordnad individuell plan (SIP)",
        text: "Mål: att kunna bo kvar hemma med stöd. Hemtjänsten hjälper med läkemedel \
morgon och kväll; vårdcentralen följer upp blodsocker och blodtryck var tredje månad; \
psykiatrin har samtal varannan vecka. Samordningsansvarig: distriktssköterskan. \
Uppföljning av planen om tre månader.",
        participants: &["SE2120001234-HEMTJ", "SE2321000016-PSYK"],
    },
    Plan {
        kind: "VP",
        title: "Vårdplan diabetes typ 2",
        text: "Mål: HbA1c under 52 mmol/mol och blodtryck under 140/85. Egenmätning av \
blodsocker två dagar i veckan, fotkontroll årligen, ögonbottenfotografering vartannat år.",
        participants: &[],
    },
    Plan {
        kind: "SPU",
        title: "Samordnad plan vid utskrivning",
        text: "Utskrivning till hemmet efter lunginflammation. Hemsjukvården tar över \
såromläggning och läkemedel; hembesök av distriktssköterska dagen efter hemkomst.",
        participants: &["SE2120001234-HEMTJ"],
    },
    Plan {
        kind: "RP",
        title: "Rehabiliteringsplan efter höftledsoperation",
        text: "Mål: gå utan rollator inom åtta veckor. Träning enligt program två gånger \
dagligen, fysioterapeut varje vecka, belastning enligt smärta.",
        participants: &["SE2321000016-FYS"],
    },
];

/// Fictional authors of the plans (name, title).
const AUTHORS: [(&str, &str); 3] = [
    ("Eva Lindqvist", "Distriktssköterska"),
    ("Ahmed Karimi", "Specialistläkare"),
    ("Sofia Berg", "Fysioterapeut"),
];

/// The title the adapter reads from record `index` (super::record_title): the plan's
/// `documentTitle`.
pub(crate) fn title(index: usize) -> Option<&'static str> {
    Some(PLANS[index % PLANS.len()].title)
}

/// The request element's content, in the order of `GetCarePlansType`:
/// `careUnitHSAId*`, `patientId`, `datePeriod?`, `sourceSystemHSAId?`, `careContactId*`.
pub(crate) fn request_body(query: &SampleQuery<'_>) -> String {
    super::request_body_named(query, "careUnitHSAId", "datePeriod", "sourceSystemHSAId")
}

/// `CarePlanType`: `carePlanHeader`, then `carePlanBody`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let plan = &PLANS[index % PLANS.len()];
    let (author, role) = AUTHORS[index % AUTHORS.len()];
    let time = r.time();
    let day = &time[..8];
    let unit = escape(source.care_unit);
    let _ = write!(
        out,
        "<{p}carePlanHeader>\
<{p}documentId>{id}</{p}documentId>\
<{p}sourceSystemHSAId>{src}</{p}sourceSystemHSAId>\
<{p}documentTitle>{title}</{p}documentTitle>\
<{p}documentTime>{time}</{p}documentTime>\
<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{day}101500</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-P{n}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{author}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalRoleCode><{p}originalText>{role}</{p}originalText></{p}healthcareProfessionalRoleCode>\
<{p}healthcareProfessionalOrgUnit><{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId><{p}orgUnitName>Vårdcentralen Norrstaden</{p}orgUnitName></{p}healthcareProfessionalOrgUnit>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>\
<{p}legalAuthenticator><{p}signatureTime>{day}143000</{p}signatureTime>\
<{p}legalAuthenticatorName>{author}</{p}legalAuthenticatorName></{p}legalAuthenticator>\
<{p}approvedForPatient>{approved}</{p}approvedForPatient>",
        id = escape(&r.id()),
        src = escape(source.source_system),
        title = escape(plan.title),
        pid = escape(source.patient_id),
        n = index % AUTHORS.len() + 1,
        giver = escape(source.care_giver),
        approved = r.approved_for_patient(),
    );
    if let Some(contact) = r.care_contact() {
        let _ = write!(
            out,
            "<{p}careContactId>{}</{p}careContactId>",
            escape(&contact)
        );
    }
    let _ = write!(
        out,
        "</{p}carePlanHeader><{p}carePlanBody>\
<{p}content><{p}id>{id}-text</{p}id><{p}mediaType>text/plain</{p}mediaType><{p}value>{text}</{p}value></{p}content>\
<{p}participatingCareUnitHSAId><{p}root>{HSA_OID}</{p}root><{p}extension>{unit}</{p}extension></{p}participatingCareUnitHSAId>",
        id = escape(&r.id()),
        text = base64::engine::general_purpose::STANDARD.encode(plan.text),
    );
    for participant in plan.participants {
        let _ = write!(
            out,
            "<{p}participatingCareUnitHSAId><{p}root>{HSA_OID}</{p}root><{p}extension>{participant}</{p}extension></{p}participatingCareUnitHSAId>"
        );
    }
    let _ = write!(
        out,
        "<{p}typeOfCarePlanEnum>{kind}</{p}typeOfCarePlanEnum></{p}carePlanBody>",
        kind = plan.kind
    );
}
