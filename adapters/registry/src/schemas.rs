//! The official schemas of each information set, as published by the national platform
//! and kept in the shared reference folder (`../shared/reference`, never copied into
//! the repository), and a check of a whole SOAP message against them with `xmllint`:
//! the Body child strictly against the contract's responder schema, the Header's
//! `ProcessingStatus` against the interoperability headers schema. Tests and tools use
//! it; the gateway itself never validates against schemas on the request path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use vaxel_adapter::InformationSet;

/// The interoperability headers schema (`ProcessingStatus`, urn:riv:interoperability:headers:1),
/// relative to the reference folder.
pub const HEADERS_SCHEMA: &str =
    "riv-ta/information-set-schemas/interoperability-headers/core_components/interoperability_headers_1.0.xsd";

/// The responder schema (request and response elements) of `set`, relative to the
/// reference folder; `None` for a contract whose schema is not published there.
pub fn responder_schema(set: &dyn InformationSet) -> Option<&'static str> {
    Some(match set.descriptor().name {
        "care-documentation" => "riv-ta/care-documentation-schemas/clinicalprocess_healthcond_description/interactions/GetCareDocumentationInteraction/GetCareDocumentationResponder_2.1.xsd",
        "diagnosis" => "riv-ta/information-set-schemas/GetDiagnosis2/TD_CLINICALPROCESS_HEALTHCOND_DESCRIPTION_2.1/interactions/GetDiagnosisInteraction/GetDiagnosisResponder_2.0.xsd",
        "alert-information" => "riv-ta/information-set-schemas/GetAlertInformation2/TD_CLINICALPROCESS_HEALTHCOND_DESCRIPTION_2.1/interactions/GetAlertInformationInteraction/GetAlertInformationResponder_2.0.xsd",
        "care-contacts" => "riv-ta/information-set-schemas/GetCareContacts2/clinicalprocess_logistics_logistics_2.0.0/interactions/GetCareContactsInteraction/GetCareContactsResponder_2.0.xsd",
        "laboratory-outcome-3" => "riv-ta/information-set-schemas/GetLaboratoryOrderOutcome3/clinicalprocess-healthcond-actoutcome/interactions/GetLaboratoryOrderOutcomeInteraction/GetLaboratoryOrderOutcomeResponder_3.1.xsd",
        "medication-history" => "riv-ta/information-set-schemas/GetMedicationHistory2/clinicalprocess.activityprescription.actoutcome/interactions/GetMedicationHistoryInteraction/GetMedicationHistoryResponder_2.1.xsd",
        "referral-outcome" => "riv-ta/information-set-schemas/GetReferralOutcome3/clinicalprocess_healthcond_actoutcome/interactions/GetReferralOutcomeInteraction/GetReferralOutcomeResponder_3.1.xsd",
        "imaging-outcome" => "riv-ta/information-set-schemas/GetImagingOutcome1/TD_CLINICALPROCESS_HEALTHCOND_ACTOUTCOME_3.1/interactions/GetImagingOutcomeInteraction/GetImagingOutcomeResponder_1.0.xsd",
        "care-plans" => "riv-ta/care-plans-schemas/clinicalprocess_logistics_logistics_3.0/interactions/GetCarePlansInteraction/GetCarePlansResponder_2.0.xsd",
        "scheduling" => "riv-ta/scheduling-schemas/TD_SCHEDULING_1_1_0_R/interactions/GetSubjectOfCareScheduleInteraction/GetSubjectOfCareScheduleResponder_1.1.xsd",
        "vaccination-history" => "riv-ta/vaccination-history-schemas/interactions/GetVaccinationHistoryInteraction/GetVaccinationHistoryResponder_2.0.xsd",
        _ => return None,
    })
}

/// Why a message could not be shown to be schema-valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaCheckError {
    /// The reference folder, or the set's schema in it, is missing.
    NoSchema(String),
    /// `xmllint` is not installed (`apt-get install -y libxml2-utils`).
    NoXmllint(String),
    /// xmllint refuses the message: its report.
    Invalid(String),
}

impl std::fmt::Display for SchemaCheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaCheckError::NoSchema(s) => write!(f, "no schema: {s}"),
            SchemaCheckError::NoXmllint(s) => write!(f, "xmllint not runnable: {s}"),
            SchemaCheckError::Invalid(s) => write!(f, "not schema-valid: {s}"),
        }
    }
}

impl SchemaCheckError {
    /// The check could not run (a missing tool or schema), as opposed to a refusal.
    pub fn is_skip(&self) -> bool {
        !matches!(self, SchemaCheckError::Invalid(_))
    }
}

/// A SOAP 1.1 envelope schema whose Body child is validated strictly against the
/// responder schema at `responder_xsd` and whose Header is validated laxly with the
/// interoperability headers schema at `headers_xsd` (so a `ProcessingStatus` header is
/// checked, other header elements are not).
pub fn soap_wrapper_xsd(
    contract_namespace: &str,
    responder_xsd: &Path,
    headers_xsd: &Path,
) -> String {
    format!(
        r###"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="http://schemas.xmlsoap.org/soap/envelope/" elementFormDefault="qualified">
  <xs:import namespace="{contract_namespace}" schemaLocation="{responder}"/>
  <xs:import namespace="urn:riv:interoperability:headers:1" schemaLocation="{headers}"/>
  <xs:element name="Envelope">
    <xs:complexType><xs:sequence>
      <xs:element name="Header" minOccurs="0"><xs:complexType><xs:sequence>
        <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence><xs:anyAttribute processContents="lax"/></xs:complexType></xs:element>
      <xs:element name="Body"><xs:complexType><xs:sequence>
        <xs:any namespace="##other" processContents="strict" minOccurs="1" maxOccurs="1"/>
      </xs:sequence><xs:anyAttribute processContents="lax"/></xs:complexType></xs:element>
    </xs:sequence><xs:anyAttribute processContents="lax"/></xs:complexType>
  </xs:element>
</xs:schema>
"###,
        responder = responder_xsd.display(),
        headers = headers_xsd.display(),
    )
}

/// A correction to a published schema that no conforming validator can apply as written.
/// The check copies the schema's folder to a scratch folder and makes the one change.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFix {
    /// The information set whose schema it is.
    pub set: &'static str,
    /// The folder that is copied (relative to the reference folder); the responder schema
    /// lies below it.
    pub folder: &'static str,
    /// The file changed, relative to `folder`.
    pub file: &'static str,
    /// The text replaced (exactly once), and its replacement.
    pub from: &'static str,
    pub to: &'static str,
    /// Why.
    pub why: &'static str,
}

/// The corrections [`check_message`] applies ([`check_message_as_published`] applies
/// none).
pub const SCHEMA_FIXES: &[SchemaFix] = &[SchemaFix {
    set: "scheduling",
    folder: "riv-ta/scheduling-schemas/TD_SCHEDULING_1_1_0_R",
    file: "core_components/crm_scheduling_1.1.xsd",
    from: "<xs:pattern value=\"^[0-9]{8}[0-9pPtTfF][0-9]{3}$\"/>",
    to: "<xs:pattern value=\"[0-9]{8}[0-9pPtTfF][0-9]{3}\"/>",
    why: "SubjectOfCareIdType's pattern is written with ^ and $, which are not anchors in \
          XML Schema regular expressions (Part 2, appendix F: every pattern is implicitly \
          anchored) but literal characters, so no resident id matches it (xmllint refuses \
          even the platform's own sample, vp-requests/Rivta21Request.xml); JAXB-based \
          producers do not validate and never notice. Without them it is the engagement \
          index's resident id pattern, as intended.",
}];

/// Validate the whole SOAP message `xml` (a request or response of `set`) with xmllint
/// against the set's official schema, with the reference folder at `reference`, after
/// the [`SCHEMA_FIXES`] of its schema.
pub fn check_message(
    set: &dyn InformationSet,
    reference: &Path,
    xml: &[u8],
) -> Result<(), SchemaCheckError> {
    check(set, reference, xml, true)
}

/// [`check_message`] against the schema exactly as published (no [`SCHEMA_FIXES`]).
pub fn check_message_as_published(
    set: &dyn InformationSet,
    reference: &Path,
    xml: &[u8],
) -> Result<(), SchemaCheckError> {
    check(set, reference, xml, false)
}

fn check(
    set: &dyn InformationSet,
    reference: &Path,
    xml: &[u8],
    fixed: bool,
) -> Result<(), SchemaCheckError> {
    let responder = responder_schema(set).ok_or_else(|| {
        SchemaCheckError::NoSchema(format!(
            "no published schema for {}",
            set.descriptor().contract_namespace
        ))
    })?;
    let mut responder = reference.join(responder);
    let headers = reference.join(HEADERS_SCHEMA);
    for f in [&responder, &headers] {
        if !f.is_file() {
            return Err(SchemaCheckError::NoSchema(format!(
                "{} is missing",
                f.display()
            )));
        }
    }
    let dir = scratch_dir()?;
    let fix = SCHEMA_FIXES
        .iter()
        .find(|f| fixed && f.set == set.descriptor().name);
    if let Some(fix) = fix {
        let copy = dir.join("fixed");
        let result = apply_fix(reference, fix, &copy);
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let below = responder
            .strip_prefix(reference.join(fix.folder))
            .map_err(|_| {
                SchemaCheckError::NoSchema(format!(
                    "{} is not below {}",
                    responder.display(),
                    fix.folder
                ))
            })?
            .to_path_buf();
        responder = copy.join(below);
    }
    let wrapper = dir.join("soap11-wrapper.xsd");
    let message = dir.join("message.xml");
    let write = |p: &PathBuf, bytes: &[u8]| {
        std::fs::write(p, bytes)
            .map_err(|e| SchemaCheckError::NoSchema(format!("cannot write {}: {e}", p.display())))
    };
    write(
        &wrapper,
        soap_wrapper_xsd(set.descriptor().contract_namespace, &responder, &headers).as_bytes(),
    )?;
    write(&message, xml)?;
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&wrapper)
        .arg(&message)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.map_err(|e| {
        SchemaCheckError::NoXmllint(format!("{e} (apt-get install -y libxml2-utils)"))
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SchemaCheckError::Invalid(
            String::from_utf8_lossy(&out.stderr)
                .replace(&message.display().to_string(), "message")
                .trim()
                .to_string(),
        ))
    }
}

/// Copies `fix.folder` to `to` and makes the fix's change.
fn apply_fix(reference: &Path, fix: &SchemaFix, to: &Path) -> Result<(), SchemaCheckError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        SchemaCheckError::NoSchema(format!("cannot {what} {}: {e}", p.display()))
    };
    fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy_tree(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), &target)?;
            }
        }
        Ok(())
    }
    let from = reference.join(fix.folder);
    copy_tree(&from, to).map_err(|e| io("copy", &from, e))?;
    let file = to.join(fix.file);
    let text = std::fs::read_to_string(&file).map_err(|e| io("read", &file, e))?;
    if text.matches(fix.from).count() != 1 {
        return Err(SchemaCheckError::NoSchema(format!(
            "the published {} changed: the fix for {} no longer applies ({})",
            fix.file, fix.set, fix.why
        )));
    }
    std::fs::write(&file, text.replace(fix.from, fix.to)).map_err(|e| io("write", &file, e))
}

/// A fresh folder for one check (tests run in parallel).
fn scratch_dir() -> Result<PathBuf, SchemaCheckError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vaxel-schema-check-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| SchemaCheckError::NoSchema(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}
