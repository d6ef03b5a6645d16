//! Records of the information sets of the domain
//! `clinicalprocess:activityprescription:actoutcome` 2.1 (core components
//! `clinicalprocess_activityprescription_actoutcome_2.0.xsd` + `_2.1_ext`):
//! GetMedicationHistory 2.
//!
//! Every record validates against the official schema and reads like a journal system's
//! läkemedelsordination: header (no `documentTime`, which the TKB forbids; the
//! registering nurse as accountable professional, the care contact it was ordered at),
//! then the prescription: id and chain id, type and status, purpose, prescriber (the
//! ordination time is [`super::record_time`], what the adapter reads as the record's
//! time), start and end of treatment, the drug with NPL id, ATC code, form and
//! strength, the dosage (instruction, short notation, structured dose), and for
//! outpatient medication the förskrivning (`dispensationAuthorization`). Record `i` is,
//! by `i % 5`:
//!
//! | `i % 5` | ordination | end of treatment |
//! | --- | --- | --- |
//! | 0 | fosfomycin (J01XX01) 3 g, single dose | the same day |
//! | 1 | metformin (A10BA02) 500 mg, 1 tablett 2 gånger dagligen | none: still taken |
//! | 2 | ramipril (C09AA05) 5 mg, 1 tablett 1 gång dagligen | none: still taken |
//! | 3 | fenoximetylpenicillin (J01CE02) 1 g, 1 tablett 3 gånger dagligen i 10 dagar | nine days later |
//! | 4 | utsättning (type U) of simvastatin (C10AA01) because of muscle pain | at the ordination |
//!
//! So under the contract's period rule (overlap with ordination..end of treatment,
//! open without an end: `vaxel_adapter_medication_history::RECORD_INTERVAL`) records 1
//! and 2 overlap every period that does not end before their day, record 3 ten days,
//! the others their own day. NPL ids are invented (the form of one, no real product);
//! ATC codes, the SNOMED CT code for oral use and the OIDs are the real ones.

use std::fmt::Write as _;

use vaxel_adapter::InformationSet;

use super::{add_days, escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// The national OID for ids that are local to a source system (TKB: the extension is
/// then the system's HSA id, ':', the local id).
const LOCAL_ID_OID: &str = "1.2.752.129.2.1.2.1";
/// NPL-id (Nationellt produktregister för läkemedel).
const NPL_OID: &str = "1.2.752.129.2.1.5.1";
/// ATC (as the TKB gives it).
const ATC_OID: &str = "1.2.752.129.2.2.3.1.1";
/// SNOMED CT, Swedish edition.
const SNOMED_OID: &str = "1.2.752.116.2.1.1";

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`), in the order of
/// `GetMedicationHistoryType`: `careUnitHSAId*`, (`careGiverHSAId*`), `patientId`,
/// `datePeriod?`, `sourceSystemHSAId?` (the care givers, `careContactId`,
/// `prescriptionChainId` and `prescriptionStatus` are not part of [`SampleQuery`]).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    match set.descriptor().name {
        "medication-history" => medication_history_request(query),
        _ => super::generic_request_body(set, query),
    }
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    match r.set.descriptor().name {
        "medication-history" => medication_record(out, r),
        _ => super::generic_record(out, r),
    }
}

fn medication_history_request(query: &SampleQuery<'_>) -> String {
    super::request_body_named(query, "careUnitHSAId", "datePeriod", "sourceSystemHSAId")
}

/// When a treatment ends, from the ordination's day.
#[derive(Clone, Copy)]
enum TreatmentEnd {
    /// Still taken: no `endOfTreatment`.
    Open,
    /// Days after the ordination's day, time of day.
    After(i64, &'static str),
}

/// One kind of ordination.
struct Ordination {
    /// `TypeOfPrescriptionEnum`: I (insättning) or U (utsättning).
    kind: &'static str,
    /// `PrescriptionStatusEnum`.
    status: &'static str,
    purpose: &'static str,
    note: &'static str,
    npl_id: &'static str,
    product: &'static str,
    atc: (&'static str, &'static str),
    form: &'static str,
    strength: (&'static str, &'static str),
    end: TreatmentEnd,
    end_reason: Option<&'static str>,
    /// (dosageInstruction, unitDose, shortNotation, setDosage content, treatment days);
    /// `None` for an utsättning (the TKB: "Anges ej vid ordinationstyp Utsättning").
    dosage: Option<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<u32>,
    )>,
    /// A förskrivning (outpatient prescription): total amount and package unit.
    dispensation: Option<(&'static str, &'static str)>,
}

const ORDINATIONS: [Ordination; 5] = [
    Ordination {
        kind: "I",
        status: "Inactive",
        purpose: "Mot urinvägsinfektion",
        note: "Okomplicerad cystit, odling tagen.",
        npl_id: "20110415000026",
        product: "Fosfomycin 3 g granulat till oral lösning",
        atc: ("J01XX01", "Fosfomycin"),
        form: "Granulat till oral lösning",
        strength: ("3", "g"),
        end: TreatmentEnd::After(0, "220000"),
        end_reason: None,
        dosage: Some((
            "1 dospåse löses i vatten och tas som engångsdos till natten",
            "dospåse",
            "1",
            "<singleDose><dose><low>1</low><unit>{dospåse}</unit></dose></singleDose>",
            None,
        )),
        dispensation: Some(("1", "dospåse")),
    },
    Ordination {
        kind: "I",
        status: "Active",
        purpose: "Mot högt blodsocker",
        note: "Nyupptäckt diabetes typ 2, HbA1c 58 mmol/mol.",
        npl_id: "20030912000118",
        product: "Metformin 500 mg filmdragerad tablett",
        atc: ("A10BA02", "Metformin"),
        form: "Filmdragerad tablett",
        strength: ("500", "mg"),
        end: TreatmentEnd::Open,
        end_reason: None,
        dosage: Some((
            "1 tablett 2 gånger dagligen, i samband med måltid",
            "tablett",
            "1x2",
            "<frequencyDosage><dose><low>1</low><unit>{tablett}</unit></dose><frequency><value>2</value><unit>/d</unit></frequency></frequencyDosage>",
            None,
        )),
        dispensation: Some(("200", "tablett")),
    },
    Ordination {
        kind: "I",
        status: "Active",
        purpose: "Mot högt blodtryck",
        note: "Blodtryck 152/94 vid upprepade mätningar.",
        npl_id: "19950824000074",
        product: "Ramipril 5 mg tablett",
        atc: ("C09AA05", "Ramipril"),
        form: "Tablett",
        strength: ("5", "mg"),
        end: TreatmentEnd::Open,
        end_reason: None,
        dosage: Some((
            "1 tablett 1 gång dagligen",
            "tablett",
            "1x1",
            "<frequencyDosage><dose><low>1</low><unit>{tablett}</unit></dose><frequency><value>1</value><unit>/d</unit></frequency></frequencyDosage>",
            None,
        )),
        dispensation: Some(("100", "tablett")),
    },
    Ordination {
        kind: "I",
        status: "Inactive",
        purpose: "Mot halsfluss",
        note: "Strep A positiv, Centor 4.",
        npl_id: "19880601000035",
        product: "Fenoximetylpenicillin 1 g tablett",
        atc: ("J01CE02", "Fenoximetylpenicillin"),
        form: "Tablett",
        strength: ("1", "g"),
        end: TreatmentEnd::After(9, "200000"),
        end_reason: None,
        dosage: Some((
            "1 tablett 3 gånger dagligen i 10 dagar",
            "tablett",
            "1x3",
            "<frequencyDosage><dose><low>1</low><unit>{tablett}</unit></dose><frequency><value>3</value><unit>/d</unit></frequency></frequencyDosage>",
            Some(10),
        )),
        dispensation: Some(("30", "tablett")),
    },
    Ordination {
        kind: "U",
        status: "Inactive",
        purpose: "Mot höga blodfetter",
        note: "Utsatt på grund av muskelvärk, ny bedömning om tre månader.",
        npl_id: "19900316000057",
        product: "Simvastatin 20 mg filmdragerad tablett",
        atc: ("C10AA01", "Simvastatin"),
        form: "Filmdragerad tablett",
        strength: ("20", "mg"),
        end: TreatmentEnd::After(0, "093000"),
        end_reason: Some("Muskelvärk"),
        dosage: None,
        dispensation: None,
    },
];

/// The title the adapter reads from record `index` (super::record_title): the product's
/// name (the NPL id's `displayName`).
pub(crate) fn title(index: usize) -> Option<&'static str> {
    Some(ORDINATIONS[index % ORDINATIONS.len()].product)
}

/// The status the adapter reads from record `index` (super::record_status).
pub(crate) fn status(index: usize) -> &'static str {
    ORDINATIONS[index % ORDINATIONS.len()].status
}

/// Prescribing physicians and registering nurses (invented names).
const PRESCRIBERS: [&str; 3] = ["Karin Ekholm", "Johan Sundqvist", "Mirja Aalto"];
const REGISTRARS: [&str; 2] = ["Leila Haddad", "Oskar Lind"];

fn medication_record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let o = &ORDINATIONS[index % ORDINATIONS.len()];
    let time = r.time();
    let day = &time[..8];
    let id = escape(&r.id());
    let src = escape(source.source_system);
    let unit = escape(source.care_unit);
    let prescriber = PRESCRIBERS[index % PRESCRIBERS.len()];
    let prescriber_id = format!("{unit}-L{}", index % PRESCRIBERS.len() + 1);
    let registrar = REGISTRARS[index % REGISTRARS.len()];
    // The care contact the ordination was made at (the sample care contact of the day).
    let contact = escape(&r.care_contact().unwrap_or_default());
    let _ = write!(
        out,
        "<{p}medicationMedicalRecordHeader>\
<{p}documentId>{id}</{p}documentId>\
<{p}sourceSystemHSAId>{src}</{p}sourceSystemHSAId>\
<{p}documentTitle>Läkemedelsordination</{p}documentTitle>\
<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{day}094500</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-S{r}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{registrar}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalRoleCode><{p}originalText>Sjuksköterska</{p}originalText></{p}healthcareProfessionalRoleCode>\
<{p}healthcareProfessionalOrgUnit><{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId><{p}orgUnitName>Medicinmottagningen</{p}orgUnitName></{p}healthcareProfessionalOrgUnit>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>\
<{p}legalAuthenticator>\
<{p}signatureTime>{day}101500</{p}signatureTime>\
<{p}legalAuthenticatorHSAId>{prescriber_id}</{p}legalAuthenticatorHSAId>\
<{p}legalAuthenticatorName>{prescriber}</{p}legalAuthenticatorName>\
</{p}legalAuthenticator>\
<{p}approvedForPatient>{approved}</{p}approvedForPatient>\
<{p}careContactId>{contact}</{p}careContactId>\
</{p}medicationMedicalRecordHeader>\
<{p}medicationMedicalRecordBody><{p}medicationPrescription>\
<{p}prescriptionId><{p}root>{LOCAL_ID_OID}</{p}root><{p}extension>{id}</{p}extension></{p}prescriptionId>\
<{p}typeOfPrescription>{kind}</{p}typeOfPrescription>\
<{p}prescriptionStatus>{status}</{p}prescriptionStatus>\
<{p}prescriptionNote>{note}</{p}prescriptionNote>\
<{p}treatmentPurpose>{purpose}</{p}treatmentPurpose>\
<{p}prescriptionChainId><{p}root>{LOCAL_ID_OID}</{p}root><{p}extension>{src}:OK-{atc}</{p}extension></{p}prescriptionChainId>\
<{p}prescriber>\
<{p}authorTime>{time}</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{prescriber_id}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{prescriber}</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalRoleCode><{p}originalText>Läkare</{p}originalText></{p}healthcareProfessionalRoleCode>\
<{p}healthcareProfessionalOrgUnit><{p}orgUnitHSAId>{unit}</{p}orgUnitHSAId><{p}orgUnitName>Medicinmottagningen</{p}orgUnitName></{p}healthcareProfessionalOrgUnit>\
</{p}prescriber>",
        pid = escape(source.patient_id),
        giver = escape(source.care_giver),
        r = index % REGISTRARS.len() + 1,
        kind = o.kind,
        status = o.status,
        note = o.note,
        purpose = o.purpose,
        atc = o.atc.0,
        approved = r.approved_for_patient(),
    );
    // The TKB: startOfTreatment is required for an insättning ("Inte nödvändigtvis samma
    // som behandlingsstart" as the ordination time: long-term medication starts the
    // next morning, a course at once).
    if o.kind == "I" {
        let start = match o.end {
            TreatmentEnd::Open => format!("{}080000", add_days(day, 1)),
            TreatmentEnd::After(..) => time.clone(),
        };
        let _ = write!(out, "<{p}startOfTreatment>{start}</{p}startOfTreatment>");
    }
    if let TreatmentEnd::After(days, at) = o.end {
        let _ = write!(
            out,
            "<{p}endOfTreatment>{}{at}</{p}endOfTreatment>",
            add_days(day, days)
        );
    }
    if let Some(reason) = o.end_reason {
        let _ = write!(
            out,
            "<{p}endOfTreatmentReason><{p}originalText>{reason}</{p}originalText></{p}endOfTreatmentReason>"
        );
    }
    let _ = write!(
        out,
        "<{p}selfMedication>false</{p}selfMedication>\
<{p}drug><{p}drug>\
<{p}nplId><{p}code>{npl}</{p}code><{p}codeSystem>{NPL_OID}</{p}codeSystem><{p}codeSystemName>NPL</{p}codeSystemName><{p}displayName>{product}</{p}displayName></{p}nplId>\
<{p}atcCode><{p}code>{atc}</{p}code><{p}codeSystem>{ATC_OID}</{p}codeSystem><{p}codeSystemName>ATC</{p}codeSystemName><{p}displayName>{substance}</{p}displayName></{p}atcCode>\
<{p}routeOfAdministration><{p}code>26643006</{p}code><{p}codeSystem>{SNOMED_OID}</{p}codeSystem><{p}displayName>oral användning</{p}displayName></{p}routeOfAdministration>\
<{p}pharmaceuticalForm>{form}</{p}pharmaceuticalForm>\
<{p}strength>{strength}</{p}strength><{p}strengthUnit>{strength_unit}</{p}strengthUnit>\
</{p}drug>",
        npl = o.npl_id,
        product = o.product,
        atc = o.atc.0,
        substance = o.atc.1,
        form = o.form,
        strength = o.strength.0,
        strength_unit = o.strength.1,
    );
    if let Some((instruction, unit_dose, short, set_dosage, days)) = o.dosage {
        let _ = write!(out, "<{p}dosage>");
        if let Some(days) = days {
            let _ = write!(
                out,
                "<{p}lengthOfTreatment><{p}treatmentInterval><{p}low>{days}</{p}low><{p}high>{days}</{p}high><{p}unit>d</{p}unit></{p}treatmentInterval><{p}isMaximumTreatmentTime>false</{p}isMaximumTreatmentTime></{p}lengthOfTreatment>"
            );
        }
        let _ = write!(
            out,
            "<{p}dosageInstruction>{instruction}</{p}dosageInstruction>\
<{p}unitDose><{p}originalText>{unit_dose}</{p}originalText></{p}unitDose>\
<{p}shortNotation>{short}</{p}shortNotation>\
<{p}setDosage>{}</{p}setDosage></{p}dosage>",
            prefixed(set_dosage, p)
        );
    }
    let _ = write!(out, "</{p}drug>");
    if let Some((amount, package)) = o.dispensation {
        let _ = write!(
            out,
            "<{p}dispensationAuthorization>\
<{p}dispensationAuthorizationId><{p}root>{LOCAL_ID_OID}</{p}root><{p}extension>{src}:F-{id}</{p}extension></{p}dispensationAuthorizationId>\
<{p}validUntil>{valid}</{p}validUntil>\
<{p}totalAmount>{amount}</{p}totalAmount>\
<{p}packageUnit>{package}</{p}packageUnit>\
<{p}dispensationAuthorizer>\
<{p}authorTime>{time}</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{prescriber_id}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>{prescriber}</{p}healthcareProfessionalName>\
</{p}dispensationAuthorizer>\
<{p}prescriptionSignatura>{signatura}</{p}prescriptionSignatura>\
</{p}dispensationAuthorization>",
            valid = add_days(day, 365),
            signatura = o.dosage.map(|d| d.0).unwrap_or_default(),
        );
    }
    let _ = write!(
        out,
        "</{p}medicationPrescription></{p}medicationMedicalRecordBody>"
    );
}

/// An element fragment written without prefixes (`<a><b>1</b></a>`), with `p` on every
/// element name; its text holds no markup.
fn prefixed(fragment: &str, p: &str) -> String {
    fragment
        .replace("</", "\u{0}")
        .replace('<', &format!("<{p}"))
        .replace('\u{0}', &format!("</{p}"))
}
