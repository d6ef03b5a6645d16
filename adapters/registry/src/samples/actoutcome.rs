//! Records of the information sets of the domain `clinicalprocess:healthcond:actoutcome`
//! 3.1 (core components `clinicalprocess_healthcond_actoutcome_3.1.xsd`, namespace
//! `...actoutcome:3`, plus `attested` from `..._3.1_ext.xsd`, namespace `...actoutcome:3.1`):
//! GetLaboratoryOrderOutcome 3, GetReferralOutcome 3, GetImagingOutcome 1.
//!
//! Every record follows its schema type element by element (`LaboratoryOrderOutcomeType`,
//! `ReferralOutcomeType`, `ImagingOutcomeType`, each a `PatientSummaryHeaderType` header and
//! a body) and reads like what a journal system sends: laboratory results with NPU-coded
//! analyses, values, units, reference intervals and pathological flags; referral outcomes
//! (konsultationssvar) with the referral, the answer and ICD-10-SE diagnoses; imaging
//! outcomes with the examination, findings and conclusion. The content cycles through a
//! few cases by record index; all people, units and values are made up.
//!
//! What the adapters read is what [`super::SampleSource`] promises: the header's
//! `documentId` is [`super::record_id`], its `sourceSystemHSAId` the source system, its
//! `accountableHealthcareProfessional` the source's care giver and care unit, and the time
//! the adapter reads (laboratory: the first analysis's `analysisTime/start`; referral and
//! imaging outcomes: `documentTime`) is [`super::record_time`].

use std::fmt::Write as _;

use vaxel_adapter::InformationSet;

use super::{add_days, escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// Namespace of `attested` (`clinicalprocess_healthcond_actoutcome_3.1_ext.xsd`).
const EXT_NAMESPACE: &str = "urn:riv:clinicalprocess:healthcond:actoutcome:3.1";
/// ICD-10-SE, the only code system `ClinicalInformationCodeCodeSystemType` allows.
const ICD10_SE_OID: &str = "1.2.752.116.1.1.1.1.3";
/// NPU terminology (IUPAC/IFCC), as Swedish laboratories code their analyses.
const NPU_OID: &str = "1.2.208.176.2.1";
/// SNOMED CT, for the imaging examinations.
const SNOMED_CT_OID: &str = "2.16.840.1.113883.6.96";
/// KV Befattning, the code system of `healthcareProfessionalRoleCode`.
const KV_BEFATTNING_OID: &str = "1.2.752.129.2.2.1.4";
/// A made-up root (a `2.25` UUID-derived OID) for the producer's own identifiers
/// (analysis and recording ids): `IIType` wants a root.
const LOCAL_ID_ROOT: &str = "2.25.311195474371066396376478530187227370127";

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`): every filter of `query` in the contract's
/// own elements, in schema order (`careUnitHSAId`* — `careUnitHSAid` in
/// GetReferralOutcome —, `patientId`, the period, `sourceSystemHSAId`).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    let (care_unit, period) = match set.descriptor().name {
        "laboratory-outcome-3" => ("careUnitHSAId", "timePeriod"),
        "referral-outcome" => ("careUnitHSAid", "datePeriod"),
        "imaging-outcome" => ("careUnitHSAId", "datePeriod"),
        _ => return super::generic_request_body(set, query),
    };
    super::request_body_named(query, care_unit, period, "sourceSystemHSAId")
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    match r.set.descriptor().name {
        "laboratory-outcome-3" => laboratory_order_outcome(out, r),
        "referral-outcome" => referral_outcome(out, r),
        "imaging-outcome" => imaging_outcome(out, r),
        _ => super::generic_record(out, r),
    }
}

/// Writes child elements with the core prefix, escaping text.
struct Writer<'o> {
    out: &'o mut String,
    /// `ns2:` or `c:`.
    p: &'o str,
}

impl Writer<'_> {
    fn open(&mut self, name: &str) {
        let _ = write!(self.out, "<{}{name}>", self.p);
    }

    fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{}{name}>", self.p);
    }

    fn leaf(&mut self, name: &str, text: &str) {
        let _ = write!(
            self.out,
            "<{p}{name}>{}</{p}{name}>",
            escape(text),
            p = self.p
        );
    }

    fn optional(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// A `CVType` (`code`, `codeSystem`, `codeSystemName`, `displayName`).
    fn code(&mut self, name: &str, code: &str, system: &str, system_name: &str, display: &str) {
        self.open(name);
        self.leaf("code", code);
        self.leaf("codeSystem", system);
        self.leaf("codeSystemName", system_name);
        self.leaf("displayName", display);
        self.close(name);
    }

    /// An `IIType` (`root`, `extension`).
    fn identifier(&mut self, name: &str, extension: &str) {
        self.open(name);
        self.leaf("root", LOCAL_ID_ROOT);
        self.leaf("extension", extension);
        self.close(name);
    }

    /// A `HealthcareProfessionalType`, in schema order.
    fn professional(&mut self, name: &str, who: &Professional<'_>) {
        self.open(name);
        self.leaf("authorTime", &who.author_time);
        self.leaf("healthcareProfessionalHSAId", &who.hsa_id);
        self.leaf("healthcareProfessionalName", who.name);
        if let Some((code, display)) = who.role {
            self.code(
                "healthcareProfessionalRoleCode",
                code,
                KV_BEFATTNING_OID,
                "KV Befattning",
                display,
            );
        }
        self.open("healthcareProfessionalOrgUnit");
        self.leaf("orgUnitHSAId", &who.org_unit_hsa_id);
        self.leaf("orgUnitName", who.org_unit_name);
        self.close("healthcareProfessionalOrgUnit");
        self.leaf("healthcareProfessionalCareUnitHSAId", who.care_unit);
        self.leaf("healthcareProfessionalCareGiverHSAId", who.care_giver);
        self.close(name);
    }

    /// `m1:attested` (in the 3.1 extension namespace, declared on the element itself so
    /// that the record stays self-contained).
    fn attested(&mut self, time: &str, hsa_id: &str, name: &str) {
        let _ = write!(
            self.out,
            "<m1:attested xmlns:m1=\"{EXT_NAMESPACE}\"><m1:attestedTime>{}</m1:attestedTime>\
<m1:attesterHSAId>{}</m1:attesterHSAId><m1:attesterName>{}</m1:attesterName></m1:attested>",
            escape(time),
            escape(hsa_id),
            escape(name)
        );
    }

    /// A `PatientSummaryHeaderType`, in schema order.
    fn header(&mut self, r: &RecordContext<'_>, header: &Header<'_>) {
        let source = r.source;
        self.open(header.element);
        self.leaf("documentId", &r.id());
        self.leaf("sourceSystemHSAId", source.source_system);
        self.leaf("documentTitle", header.title);
        self.leaf("documentTime", &header.document_time);
        self.open("patientId");
        self.leaf("id", source.patient_id);
        self.leaf("type", PERSONAL_ID_OID);
        self.close("patientId");
        self.professional("accountableHealthcareProfessional", &header.author);
        if let Some((time, hsa_id, name)) = &header.signed {
            self.open("legalAuthenticator");
            self.leaf("signatureTime", time);
            self.leaf("legalAuthenticatorHSAId", hsa_id);
            self.leaf("legalAuthenticatorName", name);
            self.close("legalAuthenticator");
        }
        self.leaf(
            "approvedForPatient",
            if header.approved_for_patient {
                "true"
            } else {
                "false"
            },
        );
        self.optional("careContactId", header.care_contact_id.as_deref());
        self.close(header.element);
    }
}

/// One health care professional (`HealthcareProfessionalType`).
struct Professional<'a> {
    author_time: String,
    hsa_id: String,
    name: &'a str,
    /// KV Befattning code and its display name.
    role: Option<(&'a str, &'a str)>,
    org_unit_hsa_id: String,
    org_unit_name: &'a str,
    care_unit: &'a str,
    care_giver: &'a str,
}

/// The header fields that differ between records.
struct Header<'a> {
    element: &'static str,
    title: &'a str,
    document_time: String,
    author: Professional<'a>,
    /// `legalAuthenticator`: signature time, HSA id, name.
    signed: Option<(String, String, &'a str)>,
    approved_for_patient: bool,
    care_contact_id: Option<String>,
}

/// The title the adapter of `set` reads from record `index` (super::record_title): the
/// answer's `documentTitle`, a referral answer's own `referralOutcomeTitle`.
pub(crate) fn title(set: &str, index: usize) -> Option<&'static str> {
    Some(match set {
        "laboratory-outcome-3" => LABORATORY_CASES[index % LABORATORY_CASES.len()].title,
        "referral-outcome" => REFERRAL_CASES[index % REFERRAL_CASES.len()].title,
        _ => IMAGING_CASES[index % IMAGING_CASES.len()].title,
    })
}

/// The status the adapter of `set` reads from record `index` (super::record_status): the
/// laboratory answer's `resultType`, the referral answer's type, the imaging result's
/// type.
pub(crate) fn status(set: &str, index: usize) -> Option<&'static str> {
    Some(match set {
        "laboratory-outcome-3" => LABORATORY_RESULT_TYPE,
        "referral-outcome" => REFERRAL_CASES[index % REFERRAL_CASES.len()].type_code,
        _ => IMAGING_CASES[index % IMAGING_CASES.len()].type_of_result,
    })
}

/// Every laboratory answer is a definitive one.
const LABORATORY_RESULT_TYPE: &str = "DEF";

/// `yyyyMMdd` of the record plus `days`, at `hhmmss`.
fn at(r: &RecordContext<'_>, days: i64, hhmmss: &str) -> String {
    let time = r.time();
    format!("{}{hhmmss}", add_days(&time[..8], days))
}

/// One analysis of a laboratory order (`AnalysisType` with its `AnalysisOutcomeType`).
struct Analysis {
    /// NPU code; `None` for analyses the laboratory names only in text (cultures).
    code: Option<&'static str>,
    text: &'static str,
    specimen: &'static str,
    method: Option<&'static str>,
    value: &'static str,
    unit: Option<&'static str>,
    pathological: bool,
    reference_interval: Option<&'static str>,
    comment: Option<&'static str>,
}

/// One laboratory order and its answer.
struct LaboratoryCase {
    /// The answer's `documentTitle`.
    title: &'static str,
    discipline: &'static str,
    laboratory: &'static str,
    order_reason: &'static str,
    result_report: Option<&'static str>,
    /// Days from sampling to the answer (`documentTime`).
    answer_after_days: i64,
    analyses: &'static [Analysis],
}

/// A clinical chemistry analysis; the specimen follows the system of its name (`B-` blood,
/// otherwise plasma).
const fn chemistry(
    code: &'static str,
    text: &'static str,
    value: &'static str,
    unit: &'static str,
    pathological: bool,
    reference_interval: &'static str,
) -> Analysis {
    Analysis {
        code: Some(code),
        text,
        specimen: if text.as_bytes()[0] == b'B' {
            "Blod"
        } else {
            "Plasma"
        },
        method: None,
        value,
        unit: Some(unit),
        pathological,
        reference_interval: Some(reference_interval),
        comment: None,
    }
}

const LABORATORY_CASES: [LaboratoryCase; 5] = [
    LaboratoryCase {
        title: "Elektrolyter och njurfunktion",
        discipline: "Klinisk kemi",
        laboratory: "Klinisk kemi, Laboratoriemedicin",
        order_reason: "Kontroll av elektrolyter och njurfunktion, ACE-hämmare insatt",
        result_report: None,
        answer_after_days: 0,
        analyses: &[
            chemistry("NPU03429", "P-Natrium", "139", "mmol/L", false, "137–145"),
            Analysis {
                comment: Some("Lätt hemolys, kan ge falskt förhöjt värde."),
                ..chemistry("NPU03230", "P-Kalium", "4.9", "mmol/L", true, "3.5–4.4")
            },
            chemistry("NPU18016", "P-Kreatinin", "78", "µmol/L", false, "45–90"),
        ],
    },
    LaboratoryCase {
        title: "CRP och blodstatus",
        discipline: "Klinisk kemi",
        laboratory: "Klinisk kemi, Laboratoriemedicin",
        order_reason: "Feber och hosta sedan fem dagar",
        result_report: None,
        answer_after_days: 0,
        analyses: &[
            chemistry("NPU19748", "P-CRP", "48", "mg/L", true, "<5"),
            chemistry("NPU28309", "B-Hemoglobin", "128", "g/L", false, "117–153"),
            chemistry(
                "NPU02593",
                "B-Leukocyter",
                "12.4",
                "×10^9/L",
                true,
                "3.5–8.8",
            ),
        ],
    },
    LaboratoryCase {
        title: "HbA1c",
        discipline: "Klinisk kemi",
        laboratory: "Klinisk kemi, Laboratoriemedicin",
        order_reason: "Årskontroll diabetes mellitus typ 2",
        result_report: None,
        answer_after_days: 0,
        analyses: &[Analysis {
            comment: Some("Behandlingsmål vid typ 2-diabetes vanligen ≤52 mmol/mol."),
            ..chemistry("NPU27300", "B-HbA1c", "58", "mmol/mol", true, "27–42")
        }],
    },
    LaboratoryCase {
        title: "Lever- och sköldkörtelprover",
        discipline: "Klinisk kemi",
        laboratory: "Klinisk kemi, Laboratoriemedicin",
        order_reason: "Trötthet, utredning",
        result_report: None,
        answer_after_days: 0,
        analyses: &[
            chemistry("NPU19651", "P-ALAT", "0.42", "µkat/L", false, "0.15–0.75"),
            chemistry("NPU03577", "P-TSH", "2.1", "mIE/L", false, "0.4–4.0"),
        ],
    },
    LaboratoryCase {
        title: "Urinodling",
        discipline: "Klinisk mikrobiologi",
        laboratory: "Klinisk mikrobiologi, Laboratoriemedicin",
        order_reason: "Sveda vid miktion och täta trängningar",
        result_report: Some("Växt av Escherichia coli, se resistensbestämning."),
        answer_after_days: 2,
        analyses: &[Analysis {
            code: None,
            text: "U-Odling",
            specimen: "Mittstråleurin",
            method: Some("Odling med resistensbestämning"),
            value: "Escherichia coli >10^5 CFU/mL",
            unit: None,
            pathological: true,
            reference_interval: None,
            comment: Some("Känslig för nitrofurantoin, mecillinam och trimetoprim."),
        }],
    },
];

/// Ordering units (remittenter) of the laboratory orders and the referrals.
const ORDERING_UNITS: [(&str, &str); 3] = [
    ("SE2321000016-7VC1", "Vårdcentralen Norrmalm"),
    ("SE2321000016-7VC2", "Vårdcentralen Solberga"),
    ("SE2321000016-7AKM", "Akutmottagningen, Länssjukhuset"),
];

/// `LaboratoryOrderOutcomeType`: the laboratory's answer to one order. The header names
/// the laboratory (accountable for and signing the answer, in the source's care unit);
/// the body's `accountableHealthcareProfessional` is the physician who ordered it.
fn laboratory_order_outcome(out: &mut String, r: &RecordContext<'_>) {
    let case = &LABORATORY_CASES[r.index % LABORATORY_CASES.len()];
    let (ordering_unit, ordering_unit_name) = ORDERING_UNITS[r.index % ORDERING_UNITS.len()];
    let source = r.source;
    let n = r.index + 1;
    let sampled = r.time(); // the time the adapter reads
    let answered = at(r, case.answer_after_days, "143000");
    let mut w = Writer { out, p: r.prefix };
    w.header(
        r,
        &Header {
            element: "laboratoryOrderOutcomeHeader",
            title: case.title,
            document_time: answered.clone(),
            author: Professional {
                author_time: answered.clone(),
                hsa_id: format!("{}-BMA{}", source.care_unit, n % 3 + 1),
                name: "Sara Nyström",
                role: None,
                org_unit_hsa_id: format!("{}-LAB", source.care_unit),
                org_unit_name: case.laboratory,
                care_unit: source.care_unit,
                care_giver: source.care_giver,
            },
            signed: Some((
                at(r, case.answer_after_days, "151000"),
                format!("{}-LAK1", source.care_unit),
                "Henrik Ek",
            )),
            // A result the patient may read only after the physician has seen it.
            approved_for_patient: r.approved_for_patient() == "true",
            care_contact_id: r.care_contact(),
        },
    );
    w.open("laboratoryOrderOutcomeBody");
    w.leaf("resultType", LABORATORY_RESULT_TYPE);
    w.leaf("registrationTime", &at(r, 0, "101500"));
    w.leaf("discipline", case.discipline);
    w.optional("resultReport", case.result_report);
    w.professional(
        "accountableHealthcareProfessional",
        &Professional {
            author_time: at(r, -1, "161000"),
            hsa_id: format!("{ordering_unit}-L1"),
            name: "Anders Holm",
            role: Some(("201011", "Distriktsläkare/Specialist allmänmedicin")),
            org_unit_hsa_id: ordering_unit.to_owned(),
            org_unit_name: ordering_unit_name,
            care_unit: ordering_unit,
            care_giver: source.care_giver,
        },
    );
    for (k, analysis) in case.analyses.iter().enumerate() {
        w.open("analysis");
        w.identifier("analysisId", &format!("{}-a{}", r.id(), k + 1));
        w.open("analysisTime");
        w.leaf("start", &sampled);
        if case.answer_after_days > 0 {
            // A culture: sampled, then read when the answer is given.
            w.leaf("end", &at(r, case.answer_after_days, "080000"));
        }
        w.close("analysisTime");
        if let Some(code) = analysis.code {
            w.code("analysisCode", code, NPU_OID, "NPU", analysis.text);
        }
        w.leaf("analysisText", analysis.text);
        w.leaf("analysisStatus", "Slutsvar");
        w.optional("analysisComment", analysis.comment);
        w.leaf("specimen", analysis.specimen);
        w.optional("method", analysis.method);
        w.open("analysisOutcome");
        w.leaf("outcomeValue", analysis.value);
        w.optional("outcomeUnit", analysis.unit);
        w.leaf("observationTime", &at(r, case.answer_after_days, "104000"));
        w.leaf(
            "pathologicalFlag",
            if analysis.pathological {
                "true"
            } else {
                "false"
            },
        );
        w.optional("referenceInterval", analysis.reference_interval);
        w.close("analysisOutcome");
        w.close("analysis");
    }
    w.open("order");
    w.leaf("orderId", &format!("{}-rem-{n}", source.source_system));
    w.leaf("orderReason", case.order_reason);
    w.close("order");
    w.close("laboratoryOrderOutcomeBody");
}

/// One referral and its answer.
struct ReferralCase {
    specialty: &'static str,
    /// `SS` final answer, `SR` answer to the question (more to come).
    type_code: &'static str,
    title: &'static str,
    text: &'static str,
    /// ICD-10-SE code and text.
    diagnoses: &'static [(&'static str, &'static str)],
    acts: &'static [&'static str],
    referral_reason: &'static str,
    /// Days from the referral to the answer.
    referred_days_before: i64,
}

const REFERRAL_CASES: [ReferralCase; 4] = [
    ReferralCase {
        specialty: "Kardiologmottagningen",
        type_code: "SS",
        title: "Konsultationssvar kardiologi",
        text: "Arbetsprov till 180 W utan ischemiska ST-förändringar eller arytmier. Normalt \
ekokardiogram. Bedömning: låg sannolikhet för kranskärlssjukdom. Blodfetter behandlas i \
primärvården; ny remiss vid förvärrade besvär.",
        diagnoses: &[
            ("R07.4", "Bröstsmärta, ospecificerad"),
            ("E78.0", "Ren hyperkolesterolemi"),
        ],
        acts: &["Arbetsprov, cykelergometri", "Ekokardiografi"],
        referral_reason: "Ansträngningsutlöst tryck i bröstet sedan två månader. Önskar \
bedömning och arbetsprov.",
        referred_days_before: 35,
    },
    ReferralCase {
        specialty: "Ortopedmottagningen",
        type_code: "SS",
        title: "Konsultationssvar ortopedi",
        text: "Klinisk och radiologisk medial gonartros höger knä. Ingen operationsindikation i \
nuläget. Rekommenderar fysioterapi och artrosskola; ny bedömning vid försämring.",
        diagnoses: &[("M17.1", "Annan primär gonartros")],
        acts: &["Klinisk undersökning", "Slätröntgen höger knä, belastad"],
        referral_reason: "Belastningsrelaterad smärta i höger knä sedan ett år. Frågeställning \
artros, operationsindikation?",
        referred_days_before: 60,
    },
    ReferralCase {
        specialty: "Endoskopienheten, Medicinkliniken",
        type_code: "SR",
        title: "Svar gastroskopi",
        text: "Gastroskopi: lätt esofagit grad A enligt Los Angeles-klassifikationen, ingen \
Barrettslemhinna. Biopsier tagna, PAD-svar skickas separat. Fortsatt protonpumpshämmare i \
åtta veckor.",
        diagnoses: &[("K21.0", "Gastroesofageal refluxsjukdom med esofagit")],
        acts: &["Gastroskopi med biopsi"],
        referral_reason: "Refluxbesvär i ett år trots protonpumpshämmare. Gastroskopi önskas.",
        referred_days_before: 21,
    },
    ReferralCase {
        specialty: "Hudmottagningen",
        type_code: "SS",
        title: "Konsultationssvar dermatologi",
        text: "Psoriasis vulgaris med fjällande plack på armbågar och knän, PASI 9. Insatt \
lokalbehandling med kalcipotriol/betametason. Återbesök om tre månader.",
        diagnoses: &[("L40.0", "Psoriasis vulgaris")],
        acts: &["Klinisk undersökning"],
        referral_reason: "Utbredda fjällande hudförändringar sedan ett halvår. \
Behandlingsförslag?",
        referred_days_before: 90,
    },
];

/// `ReferralOutcomeType`: a consultant's answer (konsultationssvar) to a referral from
/// primary care or the emergency department.
fn referral_outcome(out: &mut String, r: &RecordContext<'_>) {
    let case = &REFERRAL_CASES[r.index % REFERRAL_CASES.len()];
    let (referring_unit, referring_unit_name) = ORDERING_UNITS[r.index % ORDERING_UNITS.len()];
    let source = r.source;
    let n = r.index + 1;
    let written = r.time(); // the time the adapter reads
    let signer = format!("{}-L{}", source.care_unit, n % 2 + 1);
    let mut w = Writer { out, p: r.prefix };
    w.header(
        r,
        &Header {
            element: "referralOutcomeHeader",
            title: case.title,
            document_time: written.clone(),
            author: Professional {
                author_time: written.clone(),
                hsa_id: signer.clone(),
                name: "Maria Sandberg",
                role: Some(("201010", "Överläkare")),
                org_unit_hsa_id: format!("{}-MOTT", source.care_unit),
                org_unit_name: case.specialty,
                care_unit: source.care_unit,
                care_giver: source.care_giver,
            },
            signed: Some((at(r, 0, "163000"), signer.clone(), "Maria Sandberg")),
            approved_for_patient: r.approved_for_patient() == "true",
            care_contact_id: r.care_contact(),
        },
    );
    w.open("referralOutcomeBody");
    w.leaf("referralOutcomeTypeCode", case.type_code);
    w.leaf("referralOutcomeTitle", case.title);
    w.leaf("referralOutcomeText", case.text);
    for (code, text) in case.diagnoses {
        w.open("clinicalInformation");
        w.open("clinicalInformationCode");
        w.leaf("code", code);
        w.leaf("codeSystem", ICD10_SE_OID);
        w.close("clinicalInformationCode");
        w.leaf("clinicalInformationText", text);
        w.close("clinicalInformation");
    }
    for (k, act) in case.acts.iter().enumerate() {
        w.open("act");
        w.leaf("actId", &format!("{}-at{}", r.id(), k + 1));
        w.leaf("actText", act);
        w.leaf("actTime", &at(r, 0, "081500"));
        w.close("act");
    }
    w.open("referral");
    w.leaf("referralId", &format!("{referring_unit}-remiss-{n}"));
    w.leaf("referralReason", case.referral_reason);
    let referred = at(r, -case.referred_days_before, "111500");
    w.leaf("referralTime", &referred);
    w.professional(
        "referralAuthor",
        &Professional {
            author_time: referred,
            hsa_id: format!("{referring_unit}-L1"),
            name: "Anders Holm",
            role: Some(("201011", "Distriktsläkare/Specialist allmänmedicin")),
            org_unit_hsa_id: referring_unit.to_owned(),
            org_unit_name: referring_unit_name,
            care_unit: referring_unit,
            care_giver: source.care_giver,
        },
    );
    w.close("referral");
    w.attested(&at(r, 0, "163000"), &signer, "Maria Sandberg");
    w.close("referralOutcomeBody");
}

/// One imaging examination and its report.
struct ImagingCase {
    title: &'static str,
    /// SNOMED CT procedure code and text.
    examination: (&'static str, &'static str),
    /// DICOM modality.
    modality: &'static str,
    /// DICOM SOP class of the stored images.
    sop_class: &'static str,
    images: u32,
    /// Radiation dose: value and unit.
    dose: Option<(&'static str, &'static str)>,
    /// `PREL` (preliminary) or `DEF`.
    type_of_result: &'static str,
    report: &'static str,
    comment: Option<&'static str>,
    referral_reason: &'static str,
    anamnesis: &'static str,
}

const IMAGING_CASES: [ImagingCase; 3] = [
    ImagingCase {
        title: "Röntgen lungor",
        examination: ("399208008", "Slätröntgen av lungor"),
        modality: "DX",
        sop_class: "1.2.840.10008.5.1.4.1.1.1.1",
        images: 2,
        dose: Some(("0.02", "mSv")),
        type_of_result: "DEF",
        report: "Fynd: Inga infiltrat, ingen pleuravätska. Normalstort hjärta, fria sinus.\n\
Bedömning: Normal lungröntgen.",
        comment: None,
        referral_reason: "Långdragen hosta, utesluta pneumoni eller tumör.",
        anamnesis: "Hosta sedan sex veckor, f.d. rökare, ingen feber.",
    },
    ImagingCase {
        title: "DT hjärna",
        examination: ("303653007", "Datortomografi av huvud"),
        modality: "CT",
        sop_class: "1.2.840.10008.5.1.4.1.1.2",
        images: 184,
        dose: Some(("920", "mGy*cm")),
        type_of_result: "DEF",
        report: "Fynd: Ingen intrakraniell blödning. Inga tecken på färsk ischemi. \
Normalvida ventriklar, ingen expansivitet.\nBedömning: Normal DT hjärna utan kontrast.",
        comment: None,
        referral_reason: "Akut insättande huvudvärk och yrsel. Blödning?",
        anamnesis: "Plötslig huvudvärk i morse, behandlas med warfarin.",
    },
    ImagingCase {
        title: "Ultraljud buk",
        examination: ("45036003", "Ultraljudsundersökning av buk"),
        modality: "US",
        sop_class: "1.2.840.10008.5.1.4.1.1.6.1",
        images: 24,
        dose: None,
        type_of_result: "PREL",
        report: "Fynd: Flera gallstenar, den största 12 mm, utan väggförtjockning eller vätska \
kring gallblåsan. Normal lever, pankreas och njurar.\nBedömning: Okomplicerad kolelitiasis.",
        comment: Some("Slutligt utlåtande efter demonstration på kirurgronden."),
        referral_reason: "Återkommande smärta i höger övre kvadrant efter måltid. Gallsten?",
        anamnesis: "Tre smärtattacker senaste månaden, afebril.",
    },
];

/// `ImagingOutcomeType`: a radiologist's report of one examination, with the examination
/// (`imageRecording`) and the referral that asked for it.
fn imaging_outcome(out: &mut String, r: &RecordContext<'_>) {
    let case = &IMAGING_CASES[r.index % IMAGING_CASES.len()];
    let (referring_unit, referring_unit_name) = ORDERING_UNITS[r.index % ORDERING_UNITS.len()];
    let source = r.source;
    let n = r.index + 1;
    let reported = r.time(); // the time the adapter reads
    let radiologist = format!("{}-R{}", source.care_unit, n % 2 + 1);
    let mut w = Writer { out, p: r.prefix };
    w.header(
        r,
        &Header {
            element: "imagingOutcomeHeader",
            title: case.title,
            document_time: reported.clone(),
            author: Professional {
                author_time: reported.clone(),
                hsa_id: radiologist.clone(),
                name: "Johan Åberg",
                role: Some(("201010", "Överläkare")),
                org_unit_hsa_id: format!("{}-RTG", source.care_unit),
                org_unit_name: "Bild- och funktionsmedicin",
                care_unit: source.care_unit,
                care_giver: source.care_giver,
            },
            signed: (case.type_of_result == "DEF")
                .then(|| (at(r, 0, "110500"), radiologist.clone(), "Johan Åberg")),
            approved_for_patient: r.approved_for_patient() == "true",
            care_contact_id: r.care_contact(),
        },
    );
    w.open("imagingOutcomeBody");
    w.leaf("typeOfResult", case.type_of_result);
    w.leaf("resultTime", &reported);
    w.leaf("resultReport", case.report);
    w.optional("resultComment", case.comment);
    if let Some((value, unit)) = case.dose {
        w.open("radiationDose");
        w.leaf("value", value);
        w.leaf("unit", unit);
        w.close("radiationDose");
    }
    w.open("imageRecording");
    w.identifier("recordingId", &format!("{}-us{n}", source.source_system));
    let (code, text) = case.examination;
    w.code(
        "examinationActivity",
        code,
        SNOMED_CT_OID,
        "SNOMED CT",
        text,
    );
    w.open("examinationTimePeriod");
    w.leaf("start", &at(r, 0, "084000"));
    w.leaf("end", &at(r, 0, "085500"));
    w.close("examinationTimePeriod");
    w.leaf("examinationStatus", "Avklarad");
    w.leaf("examinationUnit", "Röntgenavdelningen, Länssjukhuset");
    w.leaf("numberOfImages", &case.images.to_string());
    w.open("modalityData");
    w.leaf("typeOfModality", case.modality);
    w.close("modalityData");
    w.open("imageDicomData");
    w.leaf("dicomSOP", case.sop_class);
    w.close("imageDicomData");
    w.close("imageRecording");
    w.open("referral");
    w.leaf("referralId", &format!("{referring_unit}-remiss-{n}"));
    w.leaf("referralReason", case.referral_reason);
    w.leaf("anamnesis", case.anamnesis);
    w.professional(
        "accountableHealthcareProfessional",
        &Professional {
            author_time: at(r, -1, "132000"),
            hsa_id: format!("{referring_unit}-L1"),
            name: "Anders Holm",
            role: Some(("201011", "Distriktsläkare/Specialist allmänmedicin")),
            org_unit_hsa_id: referring_unit.to_owned(),
            org_unit_name: referring_unit_name,
            care_unit: referring_unit,
            care_giver: source.care_giver,
        },
    );
    w.close("referral");
    w.close("imagingOutcomeBody");
}
