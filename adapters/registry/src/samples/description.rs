//! Records and requests of the information sets of the domain
//! `clinicalprocess:healthcond:description` 2.1 (core components
//! `clinicalprocess_healthcond_description_2.1.xsd`): GetCareDocumentation 2,
//! GetDiagnosis 2, GetAlertInformation 2.
//!
//! Every record validates against its contract's responder schema and follows the field
//! rules of the TKB clinicalprocess:healthcond:description 2.1.18 (elements the TKB marks
//! 0..0 are left out, those it makes 1..1 beyond the schema are written). Content varies by
//! record index, like a journal system's answer: notes of several kinds, diagnoses with
//! ICD-10-SE codes, alerts of every kind the contract has. All people are fictional.
//!
//! The record's time (`record_time`) is the time the adapter reads; the other times of a
//! record (`authorTime`, `signatureTime`, `verifiedTime`) fall on the same day, so that the
//! contracts' "any of these times" period rules and the adapters' one-time re-check agree on
//! these records.

use std::fmt::Write as _;

use vaxel_adapter::InformationSet;

use super::{add_days, escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// ICD-10-SE (Socialstyrelsen).
const ICD10_SE: &str = "1.2.752.116.1.1.1.1.3";
/// ATC (Anatomical Therapeutic Chemical classification).
const ATC: &str = "1.2.752.129.2.2.3.1.1";
/// KV Informationstyp, whose `upp-*` codes name the kinds of alert (TKB §7.3.4 rule 2).
const KV_INFORMATIONSTYP: &str = "1.2.752.129.2.2.2.1";

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`), in schema order: care units, patient,
/// period, source system. The three contracts share the request type
/// (`careUnitHSAId*`, `patientId`, `timePeriod?`, `sourceSystemHSAId?`, `careContactId*`)
/// except for GetCareDocumentation's spelling `careUnitHSAid`/`sourceSystemHSAid`, which
/// is taken from the descriptor's request paths (so the schema check of this request is
/// also a check of those paths).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    let paths = &set.descriptor().request;
    let unit = paths.care_unit[0];
    let source = paths.source_system[0];
    let (patient, id) = (paths.patient_id[0], paths.patient_id[1]);
    let (period, start, end) = (
        paths.period_start[0],
        paths.period_start[1],
        paths.period_end[1],
    );
    let mut body = String::new();
    for care_unit in query.care_units {
        let _ = write!(body, "<q:{unit}>{}</q:{unit}>", escape(care_unit));
    }
    let _ = write!(
        body,
        "<q:{patient}><c:{id}>{}</c:{id}><c:type>{PERSONAL_ID_OID}</c:type></q:{patient}>",
        escape(query.patient_id)
    );
    if let Some((from, to)) = query.period {
        let _ = write!(
            body,
            "<q:{period}><c:{start}>{}</c:{start}><c:{end}>{}</c:{end}></q:{period}>",
            escape(from),
            escape(to)
        );
    }
    if let Some(system) = query.source_system {
        let _ = write!(body, "<q:{source}>{}</q:{source}>", escape(system));
    }
    super::write_care_contacts(&mut body, query);
    body
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    match r.set.descriptor().name {
        "care-documentation" => care_documentation_record(out, r),
        "diagnosis" => diagnosis_record(out, r),
        "alert-information" => alert_information_record(out, r),
        _ => super::generic_record(out, r),
    }
}

/// The title the adapter of `set` reads from record `index` (super::record_title): a
/// note's `documentTitle`, a diagnosis's code text, what an alert is about (substance,
/// agent, disease, drug), else the kind of alert.
pub(crate) fn title(set: &str, index: usize) -> Option<&'static str> {
    Some(match set {
        "care-documentation" => NOTES[index % NOTES.len()].1,
        "diagnosis" => DIAGNOSES[index % DIAGNOSES.len()].1,
        _ => match index % 6 {
            0 => "Fenoximetylpenicillin",
            1 => "Warfarin",
            2 => "Kronisk virushepatit C",
            3 => "Von Willebrands sjukdom",
            4 => "Jordnöt",
            _ => "Vårdbegränsning",
        },
    })
}

/// The record's time on another clock of the same day (`hhmmss`).
fn same_day(r: &RecordContext<'_>, hhmmss: &str) -> String {
    format!("{}{hhmmss}", &r.time()[..8])
}

/// Fictional clinicians, picked by record index.
const CLINICIANS: [&str; 5] = [
    "Åsa Öberg",
    "Johan Lind",
    "Fatima Haddad",
    "Erik Sundström",
    "Maja Nilsson",
];

/// Organisational units below the care unit (suffix of the unit's HSA id, name).
const ORG_UNITS: [(&str, &str); 3] = [
    ("M1", "Medicinmottagningen"),
    ("A2", "Akutmottagningen"),
    ("V3", "Vårdcentralen Norrstaden"),
];

/// What a contract puts in its header (`PatientSummaryHeaderType`, or GetCareDocumentation's
/// `CPatientSummaryHeaderType`, which differs only in the spelling `sourceSystemHSAid`).
struct Header<'a> {
    /// The header element, e.g. `diagnosisHeader`.
    element: &'static str,
    /// `sourceSystemHSAId`, or `sourceSystemHSAid` in GetCareDocumentation.
    source_system: &'static str,
    /// `documentTitle` and `documentTime` (0..0 in GetDiagnosis and GetAlertInformation).
    document: Option<(&'a str, &'a str)>,
    /// Whether the record has been signed (`legalAuthenticator`).
    signed: bool,
}

/// Writes the header in schema order: `documentId`, source system, `documentTitle?`,
/// `documentTime?`, `patientId`, `accountableHealthcareProfessional` (`authorTime`,
/// professional, org unit, care unit, care giver), `legalAuthenticator?`,
/// `approvedForPatient`, `careContactId?`. The care unit and care giver are those of the
/// source (the consent checks rely on them).
fn header(out: &mut String, r: &RecordContext<'_>, h: &Header<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let unit = escape(source.care_unit);
    let (org_suffix, org_name) = ORG_UNITS[index % ORG_UNITS.len()];
    let author = CLINICIANS[index % CLINICIANS.len()];
    let signer = CLINICIANS[(index + 2) % CLINICIANS.len()];
    let element = h.element;
    let system = h.source_system;
    let _ = write!(
        out,
        "<{p}{element}><{p}documentId>{id}</{p}documentId><{p}{system}>{src}</{p}{system}>",
        id = escape(&r.id()),
        src = escape(source.source_system),
    );
    if let Some((title, time)) = h.document {
        let _ = write!(
            out,
            "<{p}documentTitle>{}</{p}documentTitle><{p}documentTime>{time}</{p}documentTime>",
            escape(title)
        );
    }
    let _ = write!(
        out,
        "<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{author_time}</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-P{author_n}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{author}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalOrgUnit>\
<{p}orgUnitHSAId>{unit}-{org_suffix}</{p}orgUnitHSAId>\
<{p}orgUnitName>{org_name}</{p}orgUnitName>\
<{p}orgUnitTelecom>010-123 45 0{org_n}</{p}orgUnitTelecom>\
<{p}orgUnitAddress>Sjukhusvägen {org_n}, 123 45 Norrstaden</{p}orgUnitAddress>\
</{p}healthcareProfessionalOrgUnit>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>",
        pid = escape(source.patient_id),
        author_time = same_day(r, "101500"),
        author_n = index % CLINICIANS.len() + 1,
        org_n = index % ORG_UNITS.len() + 1,
        giver = escape(source.care_giver),
    );
    if h.signed {
        let _ = write!(
            out,
            "<{p}legalAuthenticator><{p}signatureTime>{}</{p}signatureTime>\
<{p}legalAuthenticatorHSAId>{unit}-P{}</{p}legalAuthenticatorHSAId>\
<{p}legalAuthenticatorName>{signer}</{p}legalAuthenticatorName></{p}legalAuthenticator>",
            same_day(r, "143000"),
            (index + 2) % CLINICIANS.len() + 1,
        );
    }
    let _ = write!(
        out,
        "<{p}approvedForPatient>{}</{p}approvedForPatient>",
        r.approved_for_patient()
    );
    if let Some(contact) = r.care_contact() {
        let _ = write!(
            out,
            "<{p}careContactId>{}</{p}careContactId>",
            escape(&contact)
        );
    }
    let _ = write!(out, "</{p}{element}>");
}

/// A `CVType` element with a code from a code system (`code`, `codeSystem`,
/// `codeSystemName?`, `displayName`).
fn coded(
    out: &mut String,
    p: &str,
    element: &str,
    (code, system, system_name): (&str, &str, Option<&str>),
    display: &str,
) {
    let _ = write!(
        out,
        "<{p}{element}><{p}code>{code}</{p}code><{p}codeSystem>{system}</{p}codeSystem>"
    );
    if let Some(name) = system_name {
        let _ = write!(out, "<{p}codeSystemName>{name}</{p}codeSystemName>");
    }
    let _ = write!(
        out,
        "<{p}displayName>{}</{p}displayName></{p}{element}>",
        escape(display)
    );
}

/// A `CVType` element holding only `originalText` (a value from a local code list: the
/// TKB then forbids the other fields).
fn uncoded(out: &mut String, p: &str, element: &str, text: &str) {
    let _ = write!(
        out,
        "<{p}{element}><{p}originalText>{}</{p}originalText></{p}{element}>",
        escape(text)
    );
}

/// Notes of a care documentation record: `clinicalDocumentNoteCode` (KV Anteckningstyp),
/// document title, note title, text.
const NOTES: [(&str, &str, &str, &str); 5] = [
    (
        "utr",
        "Utredning",
        "Utredning yrsel",
        "Patienten söker för yrsel sedan en vecka. Ortostatiskt blodtryck 135/85 liggande, \
         118/76 stående. EKG: sinusrytm 72/min. Bedömning: sannolikt ortostatism & uttorkning; \
         ökat vätskeintag, återbesök om 2 veckor.",
    ),
    (
        "bes",
        "Besöksanteckning",
        "Uppföljning hypertoni",
        "Patienten mår bättre & sover gott; blodtryck < 140/90 vid tre mätningar. \
         Fortsatt behandling med amlodipin 5 mg x 1.",
    ),
    (
        "atb",
        "Åtgärd/behandling",
        "Omläggning sår vänster underben",
        "Såret rengjort med NaCl, ny förband med silverkompress. Sårytan 2 x 3 cm, \
         rena kanter, ingen rodnad. Ny omläggning om 3 dagar.",
    ),
    (
        "sam",
        "Sammanfattning",
        "Sammanfattning av vårdtiden",
        "Inlagd för samhällsförvärvad pneumoni, behandlad med bensylpenicillin i.v. \
         och därefter fenoximetylpenicillin p.o. Afebril sedan dag 3. CRP 180 -> 22.",
    ),
    (
        "auf",
        "Anteckning utan fysiskt möte",
        "Telefonkontakt provsvar",
        "Patienten informerad per telefon om normalt HbA1c (48 mmol/mol). \
         Ingen ändring av behandlingen.",
    ),
];

/// GetCareDocumentation 2.1: `careDocumentationHeader` (`CPatientSummaryHeaderType`),
/// `careDocumentationBody/clinicalDocumentNote` with a note code from KV Anteckningstyp
/// (the TKB makes `clinicalDocumentTypeCode` 0..0), a title and a plain text; every fourth
/// note carries a dissenting opinion of the patient (the schema spells the element
/// `dissentintOpinion`).
fn care_documentation_record(out: &mut String, r: &RecordContext<'_>) {
    let (index, p) = (r.index, r.prefix);
    let (code, kind, title, text) = NOTES[index % NOTES.len()];
    let time = r.time();
    header(
        out,
        r,
        &Header {
            element: "careDocumentationHeader",
            source_system: "sourceSystemHSAid",
            document: Some((kind, &time)),
            signed: index % 4 != 1,
        },
    );
    let _ = write!(
        out,
        "<{p}careDocumentationBody><{p}clinicalDocumentNote>\
<{p}clinicalDocumentNoteCode>{code}</{p}clinicalDocumentNoteCode>\
<{p}clinicalDocumentNoteTitle>{}</{p}clinicalDocumentNoteTitle>\
<{p}clinicalDocumentNoteText>{}</{p}clinicalDocumentNoteText>",
        escape(title),
        escape(text),
    );
    if index % 4 == 3 {
        let _ = write!(
            out,
            "<{p}dissentintOpinion><{p}opinionId><{p}root>{}</{p}root><{p}extension>AO-{}</{p}extension></{p}opinionId>\
<{p}authorTime>{}</{p}authorTime>\
<{p}opinion>Jag delar inte bedömningen att yrseln beror på för lite vätska.</{p}opinion>\
<{p}personId><{p}id>{}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}personId>\
<{p}personName>Patienten</{p}personName></{p}dissentintOpinion>",
            escape(r.source.source_system),
            index + 1,
            same_day(r, "160000"),
            escape(r.source.patient_id),
        );
    }
    let _ = write!(out, "</{p}clinicalDocumentNote></{p}careDocumentationBody>");
}

/// Diagnoses (ICD-10-SE code, its text, chronic: `None` when unknown, as the TKB says).
const DIAGNOSES: [(&str, &str, Option<bool>); 6] = [
    ("I10", "Essentiell hypertoni", Some(true)),
    (
        "E11.9",
        "Diabetes mellitus typ 2 utan komplikationer",
        Some(true),
    ),
    ("J18.9", "Pneumoni, ospecificerad", Some(false)),
    ("J45.9", "Astma, ospecificerad", Some(true)),
    ("M54.5", "Lumbago", None),
    (
        "I48.9",
        "Förmaksflimmer och förmaksfladder, ospecificerat",
        Some(true),
    ),
];

/// GetDiagnosis 2: `diagnosisHeader` (`PatientSummaryHeaderType` without `documentTitle` and
/// `documentTime`, 0..0 here) and `diagnosisBody`: `typeOfDiagnosis`, `chronicDiagnosis`,
/// `diagnosisTime` (the record's time), an ICD-10-SE `diagnosisCode`; every third diagnosis
/// is a secondary diagnosis (`Bidiagnos`) linked to the previous record by
/// `relatedDiagnosis/documentId`.
fn diagnosis_record(out: &mut String, r: &RecordContext<'_>) {
    let (index, p) = (r.index, r.prefix);
    let (code, text, chronic) = DIAGNOSES[index % DIAGNOSES.len()];
    header(
        out,
        r,
        &Header {
            element: "diagnosisHeader",
            source_system: "sourceSystemHSAId",
            document: None,
            signed: index % 5 != 4,
        },
    );
    let secondary = index % 3 == 2;
    let kind = if secondary {
        "Bidiagnos"
    } else {
        "Huvuddiagnos"
    };
    let _ = write!(
        out,
        "<{p}diagnosisBody><{p}typeOfDiagnosis>{kind}</{p}typeOfDiagnosis>"
    );
    if let Some(chronic) = chronic {
        let _ = write!(out, "<{p}chronicDiagnosis>{chronic}</{p}chronicDiagnosis>");
    }
    let _ = write!(out, "<{p}diagnosisTime>{}</{p}diagnosisTime>", r.time());
    coded(
        out,
        p,
        "diagnosisCode",
        (code, ICD10_SE, Some("ICD-10-SE")),
        text,
    );
    if secondary {
        let main = RecordContext {
            index: index - 1,
            ..*r
        };
        let _ = write!(
            out,
            "<{p}relatedDiagnosis><{p}documentId>{}</{p}documentId></{p}relatedDiagnosis>",
            escape(&main.id())
        );
    }
    let _ = write!(out, "</{p}diagnosisBody>");
}

/// GetAlertInformation 2: `alertInformationHeader` (`PatientSummaryHeaderType` without
/// `documentTitle` and `documentTime`, 0..0 here) and `alertInformationBody`: the kind of
/// alert from KV Informationstyp, `ascertainedDate`, `verifiedTime`, `validityTimePeriod`
/// starting at the record's time (open, or with a planned end), a comment, and exactly one
/// of the kinds (TKB §7.3.3): drug hypersensitivity (ATC), an anticoagulant treatment that
/// was later marked obsolete (`obsoleteTime`), a communicable disease, a serious disease, a
/// food hypersensitivity, a restriction of care.
fn alert_information_record(out: &mut String, r: &RecordContext<'_>) {
    let (index, p) = (r.index, r.prefix);
    let time = r.time();
    let kind = index % 6;
    header(
        out,
        r,
        &Header {
            element: "alertInformationHeader",
            source_system: "sourceSystemHSAId",
            document: None,
            signed: true,
        },
    );
    let (code, display) = match kind {
        0 | 4 => ("upp-okh", "Överkänslighet"),
        1 => ("upp-ube", "Allvarlig behandling"),
        2 => ("upp-arb", "Smittsam sjukdom"),
        3 => ("upp-uas", "Allvarlig sjukdom"),
        _ => ("upp-vbe", "Vårdbegränsning"),
    };
    let _ = write!(out, "<{p}alertInformationBody>");
    coded(
        out,
        p,
        "typeOfAlertInformation",
        (code, KV_INFORMATIONSTYP, Some("KV Informationstyp")),
        display,
    );
    let _ = write!(
        out,
        "<{p}ascertainedDate>{}</{p}ascertainedDate><{p}verifiedTime>{}</{p}verifiedTime>\
<{p}validityTimePeriod><{p}start>{time}</{p}start>",
        &time[..8],
        same_day(r, "103000"),
    );
    // A treatment is planned for half a year, then ended early.
    if kind == 1 {
        let _ = write!(out, "<{p}end>{}235959</{p}end>", add_days(&time[..8], 182));
    }
    let comment = match kind {
        0 => "Urtikaria och andnöd inom en timme efter första dosen fenoximetylpenicillin.",
        1 => "Ökad blödningsrisk. Kontrollera PK(INR) före invasiva ingrepp.",
        2 => "Blodsmitta. Basala hygienrutiner; stickskador rapporteras enligt rutin.",
        3 => "Kontakta koagulationsjouren före operation eller förlossning.",
        4 => "Anafylaxi efter intag av jordnötter. Adrenalinpenna förskriven.",
        _ => "Beslut i samråd med patienten och närstående.",
    };
    let _ = write!(
        out,
        "</{p}validityTimePeriod><{p}alertInformationComment>{comment}</{p}alertInformationComment>"
    );
    if kind == 1 {
        let _ = write!(
            out,
            "<{p}obsoleteTime>{}100000</{p}obsoleteTime>\
<{p}obsoleteComment>Behandlingen avslutad efter elkonvertering.</{p}obsoleteComment>",
            add_days(&time[..8], 90)
        );
    }
    match kind {
        0 => {
            let _ = write!(out, "<{p}hypersensitivity>");
            coded(
                out,
                p,
                "typeOfHypersensitivity",
                ("Z88.0", ICD10_SE, Some("ICD-10-SE")),
                "Allergi mot penicillin i den egna sjukhistorien",
            );
            uncoded(out, p, "degreeOfSeverity", "Skadande");
            uncoded(out, p, "degreeOfCertainty", "Bekräftad");
            // The TKB: an ATC code of at least three levels, no codeSystemName.
            let _ = write!(out, "<{p}pharmaceuticalHypersensitivity>");
            coded(
                out,
                p,
                "atcSubstance",
                ("J01CE02", ATC, None),
                "Fenoximetylpenicillin",
            );
            let _ = write!(
                out,
                "</{p}pharmaceuticalHypersensitivity></{p}hypersensitivity>"
            );
        }
        1 => {
            let _ = write!(
                out,
                "<{p}treatment><{p}treatmentDescription>Antikoagulantiabehandling med warfarin, \
INR-mål 2,0–3,0</{p}treatmentDescription>"
            );
            coded(
                out,
                p,
                "pharmaceuticalTreatment",
                ("B01AA03", ATC, Some("ATC")),
                "Warfarin",
            );
            let _ = write!(out, "</{p}treatment>");
        }
        2 => {
            let _ = write!(out, "<{p}communicableDisease>");
            coded(
                out,
                p,
                "communicableDiseaseCode",
                ("B18.2", ICD10_SE, Some("ICD-10-SE")),
                "Kronisk virushepatit C",
            );
            uncoded(out, p, "routeOfTransmission", "Blodsmitta");
            let _ = write!(out, "</{p}communicableDisease>");
        }
        3 => {
            let _ = write!(out, "<{p}seriousDisease>");
            coded(
                out,
                p,
                "disease",
                ("D68.0", ICD10_SE, Some("ICD-10-SE")),
                "Von Willebrands sjukdom",
            );
            let _ = write!(out, "</{p}seriousDisease>");
        }
        4 => {
            let _ = write!(out, "<{p}hypersensitivity>");
            uncoded(
                out,
                p,
                "typeOfHypersensitivity",
                "Överkänslighet avseende födoämne",
            );
            uncoded(out, p, "degreeOfSeverity", "Livshotande");
            let _ = write!(
                out,
                "<{p}otherHypersensitivity><{p}hypersensitivityAgent>Jordnöt</{p}hypersensitivityAgent>\
</{p}otherHypersensitivity></{p}hypersensitivity>"
            );
        }
        _ => {
            let _ = write!(
                out,
                "<{p}restrictionOfCare><{p}restrictionOfCareComment>Ej hjärt-lungräddning (HLR) \
vid hjärtstopp.</{p}restrictionOfCareComment></{p}restrictionOfCare>"
            );
        }
    }
    let _ = write!(out, "</{p}alertInformationBody>");
}
