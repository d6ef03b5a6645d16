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

/// Validate the whole SOAP message `xml` (a request or response of `set`) with xmllint
/// against the set's official schema, with the reference folder at `reference`.
pub fn check_message(
    set: &dyn InformationSet,
    reference: &Path,
    xml: &[u8],
) -> Result<(), SchemaCheckError> {
    let responder = responder_schema(set).ok_or_else(|| {
        SchemaCheckError::NoSchema(format!(
            "no published schema for {}",
            set.descriptor().contract_namespace
        ))
    })?;
    let responder = reference.join(responder);
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
