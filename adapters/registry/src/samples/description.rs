//! Records of the information sets of the domain
//! `clinicalprocess:healthcond:description` 2.1 (core components
//! `clinicalprocess_healthcond_description_2.1.xsd`): GetCareDocumentation 2,
//! GetDiagnosis 2, GetAlertInformation 2.

use std::fmt::Write as _;

use vaxel_adapter::InformationSet;

use super::{escape, RecordContext, SampleQuery, PERSONAL_ID_OID};

/// The request element's content (children of `q:<Request>`, the contract namespace
/// bound to `q:`, the core namespace to `c:`).
pub(crate) fn request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    super::generic_request_body(set, query)
}

/// The record of `r.set`.
pub(crate) fn record(out: &mut String, r: &RecordContext<'_>) {
    match r.set.descriptor().name {
        "care-documentation" => care_documentation_record(out, r),
        _ => super::generic_record(out, r),
    }
}

fn care_documentation_record(out: &mut String, r: &RecordContext<'_>) {
    let (source, index, p) = (r.source, r.index, r.prefix);
    let time = r.time();
    let _ = write!(
        out,
        "<{p}careDocumentationHeader>\
<{p}documentId>{id}</{p}documentId>\
<{p}sourceSystemHSAid>{src}</{p}sourceSystemHSAid>\
<{p}documentTitle>Daganteckning</{p}documentTitle>\
<{p}documentTime>{time}</{p}documentTime>\
<{p}patientId><{p}id>{pid}</{p}id><{p}type>{PERSONAL_ID_OID}</{p}type></{p}patientId>\
<{p}accountableHealthcareProfessional>\
<{p}authorTime>{time}</{p}authorTime>\
<{p}healthcareProfessionalHSAId>{unit}-P{n}</{p}healthcareProfessionalHSAId>\
<{p}healthcareProfessionalName>Åsa Öberg</{p}healthcareProfessionalName>\
<{p}healthcareProfessionalCareUnitHSAId>{unit}</{p}healthcareProfessionalCareUnitHSAId>\
<{p}healthcareProfessionalCareGiverHSAId>{giver}</{p}healthcareProfessionalCareGiverHSAId>\
</{p}accountableHealthcareProfessional>\
<{p}approvedForPatient>true</{p}approvedForPatient>\
</{p}careDocumentationHeader>\
<{p}careDocumentationBody><{p}clinicalDocumentNote>\
<{p}clinicalDocumentNoteCode>utr</{p}clinicalDocumentNoteCode>\
<{p}clinicalDocumentNoteTitle>Anteckning {n}</{p}clinicalDocumentNoteTitle>\
<{p}clinicalDocumentNoteText>Patienten mår bättre &amp; sover gott; blodtryck &lt; 140/90.</{p}clinicalDocumentNoteText>\
</{p}clinicalDocumentNote></{p}careDocumentationBody>",
        id = escape(&r.id()),
        src = escape(source.source_system),
        pid = escape(source.patient_id),
        unit = escape(source.care_unit),
        giver = escape(source.care_giver),
        n = index + 1,
    );
}
