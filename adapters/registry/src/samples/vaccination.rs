//! Records of GetVaccinationHistory 2 (domain `clinicalprocess:activityprescription:actoutcome`
//! 2.0 with the 2.1 extension, core components
//! `clinicalprocess_activityprescription_actoutcome_2.0.xsd`).
//!
//! Every record validates against the official schema: `vaccinationMedicalRecordHeader`
//! (`documentTime` is the time of vaccination, [`super::record_time`], what the adapter
//! reads as the record's time), then the body: the registration (care giver, source
//! system, registration date) and one administered dose. Record `i` is, by `i % 4`:
//!
//! | `i % 4` | vaccine (`vaccineName`) | against (`vaccineTargetDisease`) | dose |
//! | --- | --- | --- | --- |
//! | 0 | Vaxigrip Tetra (J07BB02) | influensa | 1 of 1 |
//! | 1 | Comirnaty (J07BN01) | covid-19 | 3 |
//! | 2 | FSME-Immun Vuxen (J07BA01) | fästingburen encefalit (TBE) | 2 of 3 |
//! | 3 | Boostrix (J07AJ52) | difteri, stelkramp, kikhosta | påfyllnadsdos |
//!
//! The vaccine's name is the title the adapter reads. Product names are real vaccines,
//! batch numbers invented; the codes are ATC and ICD-10-SE.

use std::fmt::Write as _;

use super::{escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// ATC (as the TKB gives it).
const ATC_OID: &str = "1.2.752.129.2.2.3.1.1";
/// ICD-10-SE (Socialstyrelsen).
const ICD10_SE_OID: &str = "1.2.752.116.1.1.1.1.3";
/// SNOMED CT, Swedish edition.
const SNOMED_OID: &str = "1.2.752.116.2.1.1";

/// One vaccination.
struct Vaccine {
    name: &'static str,
    atc: (&'static str, &'static str),
    /// ICD-10-SE code and text of the disease it protects against.
    target: (&'static str, &'static str),
    program: Option<&'static str>,
    manufacturer: &'static str,
    /// (dose number, doses prescribed).
    dose: (u32, Option<u32>),
}

const VACCINES: [Vaccine; 4] = [
    Vaccine {
        name: "Vaxigrip Tetra",
        atc: (
            "J07BB02",
            "Influensa, inaktiverat, split virus eller ytantigen",
        ),
        target: ("J11", "Influensa"),
        program: Some("Säsongsinfluensa, riskgrupp"),
        manufacturer: "Sanofi Pasteur",
        dose: (1, Some(1)),
    },
    Vaccine {
        name: "Comirnaty",
        atc: ("J07BN01", "Covid-19, RNA-baserat vaccin"),
        target: ("U07.1", "Covid-19"),
        program: Some("Covid-19, påfyllnadsdos"),
        manufacturer: "BioNTech Manufacturing GmbH",
        dose: (3, None),
    },
    Vaccine {
        name: "FSME-Immun Vuxen",
        atc: ("J07BA01", "Fästingburen encefalit, inaktiverat, helt virus"),
        target: ("A84.1", "Centraleuropeisk fästingburen encefalit (TBE)"),
        program: None,
        manufacturer: "Pfizer",
        dose: (2, Some(3)),
    },
    Vaccine {
        name: "Boostrix",
        atc: (
            "J07AJ52",
            "Pertussis, renat antigen, kombinationer med toxoider",
        ),
        target: ("A35", "Difteri, stelkramp och kikhosta"),
        program: None,
        manufacturer: "GlaxoSmithKline",
        dose: (1, Some(1)),
    },
];

/// Vaccinating nurses (invented names).
const NURSES: [&str; 2] = ["Leila Haddad", "Oskar Lind"];

/// The title the adapter reads from record `index` (super::record_title): the vaccine's
/// name (`vaccineName/displayName`).
pub(crate) fn title(index: usize) -> Option<&'static str> {
    Some(VACCINES[index % VACCINES.len()].name)
}

/// The request element's content, in the order of `GetVaccinationHistoryType`:
/// `careUnitHSAid*`, `patientId`, `timePeriod?`, `sourceSystemHSAid?`, `careContactId*`.
pub(crate) fn request_body(query: &SampleQuery<'_>) -> String {
    super::request_body_named(query, "careUnitHSAid", "timePeriod", "sourceSystemHSAid")
}

/// A `CVType` with a code from a code system and its display name.
fn coded(out: &mut String, p: &str, element: &str, code: &str, system: &str, display: &str) {
    let _ = write!(
        out,
        "<{p}{element}><{p}code>{code}</{p}code><{p}codeSystem>{system}</{p}codeSystem>\
<{p}displayName>{}</{p}displayName></{p}{element}>",
        escape(display)
    );
}

/// `VaccinationMedicalRecordType`: header, then registration and administration.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let vaccine = &VACCINES[index % VACCINES.len()];
    let nurse = NURSES[index % NURSES.len()];
    let time = r.time();
    let day = &time[..8];
    let unit = escape(source.care_unit);
    let _ = write!(
        out,
        "<{p}vaccinationMedicalRecordHeader>\
<{p}documentId>{id}</{p}documentId>\
<{p}sourceSystemHSAId>{src}</{p}sourceSystemHSAId>\
<{p}documentTitle>Vaccination</{p}documentTitle>\
<{p}documentTime>{time}</{p}documentTime>\
<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{day}094500</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-S{n}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{nurse}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalRoleCode><{p}originalText>Sjuksköterska</{p}originalText></{p}healthcareProfessionalRoleCode>\
<{p}healthcareProfessionalOrgUnit><{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId><{p}orgUnitName>Vaccinationsmottagningen</{p}orgUnitName></{p}healthcareProfessionalOrgUnit>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>\
<{p}approvedForPatient>{approved}</{p}approvedForPatient>",
        id = escape(&r.id()),
        src = escape(source.source_system),
        pid = escape(source.patient_id),
        n = index % NURSES.len() + 1,
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
        "</{p}vaccinationMedicalRecordHeader><{p}vaccinationMedicalRecordBody>\
<{p}registrationRecord>\
<{p}careGiverOrg><{p}orgUnitHSAId>{giver}</{p}orgUnitHSAId><{p}orgUnitName>Region Norrstaden</{p}orgUnitName></{p}careGiverOrg>\
<{p}sourceSystemName>Journalen</{p}sourceSystemName>\
<{p}sourceSystemProductName>Vaccinationsmodulen</{p}sourceSystemProductName>\
<{p}sourceSystemContact><{p}personName>Systemförvaltningen</{p}personName><{p}personTelecom>010-123 45 00</{p}personTelecom></{p}sourceSystemContact>\
<{p}date>{day}</{p}date>\
</{p}registrationRecord><{p}administrationRecord>",
        giver = escape(source.care_giver),
    );
    if let Some(program) = vaccine.program {
        let _ = write!(
            out,
            "<{p}vaccinationProgramName><{p}originalText>{program}</{p}originalText></{p}vaccinationProgramName>"
        );
    }
    let _ = write!(
        out,
        "<{p}performerOrg><{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId><{p}orgUnitName>Vaccinationsmottagningen</{p}orgUnitName></{p}performerOrg>\
<{p}performer><{p}hsaid>{unit}-S{n}</{p}hsaid><{p}personName>{nurse}</{p}personName></{p}performer>\
<{p}anatomicalSite><{p}originalText>Vänster överarm</{p}originalText></{p}anatomicalSite>",
        n = index % NURSES.len() + 1,
    );
    coded(
        out,
        p,
        "route",
        "78421000",
        SNOMED_OID,
        "intramuskulär användning",
    );
    let _ = write!(
        out,
        "<{p}dose><{p}quantity><{p}value>0.5</{p}value><{p}unit>ml</{p}unit></{p}quantity><{p}displayName>0,5 ml</{p}displayName></{p}dose>\
<{p}isDoseComplete>true</{p}isDoseComplete>\
<{p}doseOrdinalNumber>{}</{p}doseOrdinalNumber>",
        vaccine.dose.0
    );
    if let Some(doses) = vaccine.dose.1 {
        let _ = write!(
            out,
            "<{p}numberOfPrescribedDoses>{doses}</{p}numberOfPrescribedDoses>"
        );
    }
    coded(
        out,
        p,
        "typeOfVaccine",
        vaccine.atc.0,
        ATC_OID,
        vaccine.atc.1,
    );
    let _ = write!(
        out,
        "<{p}vaccineName><{p}displayName>{name}</{p}displayName></{p}vaccineName>\
<{p}vaccineBatchId>{batch}</{p}vaccineBatchId>\
<{p}vaccineManufacturer>{manufacturer}</{p}vaccineManufacturer>",
        name = vaccine.name,
        batch = format_args!("B{}{:03}", &day[2..6], index % 1000),
        manufacturer = vaccine.manufacturer,
    );
    coded(
        out,
        p,
        "vaccineTargetDisease",
        vaccine.target.0,
        ICD10_SE_OID,
        vaccine.target.1,
    );
    let _ = write!(
        out,
        "</{p}administrationRecord></{p}vaccinationMedicalRecordBody>"
    );
}
