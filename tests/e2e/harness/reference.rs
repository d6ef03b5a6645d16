//! The national reference messages in `../shared/reference`.

use std::path::{Path, PathBuf};

use super::{workspace, CARE_DOC, DIAGNOSIS, PATIENT};

/// The NPÖ samples routed by [`Table::standard`]: (file, contract namespace).
pub const NPO_SAMPLES: [(&str, &str); 8] = [
    ("GetCareDocumentation2.xml", CARE_DOC),
    ("GetDiagnosis2.xml", DIAGNOSIS),
    (
        "GetAlertInformation2.xml",
        "urn:riv:clinicalprocess:healthcond:description:GetAlertInformationResponder:2",
    ),
    (
        "GetLaboratoryOrderOutcome3.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:3",
    ),
    (
        "GetMedicationHistory2.xml",
        "urn:riv:clinicalprocess:activityprescription:actoutcome:GetMedicationHistoryResponder:2",
    ),
    (
        "GetCareContacts2.xml",
        "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2",
    ),
    (
        "GetReferralOutcome3.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetReferralOutcomeResponder:3",
    ),
    (
        "GetImagingOutcome1.xml",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetImagingOutcomeResponder:1",
    ),
];

/// `<workspace>/../shared/reference`, or `None` (after printing why the test skips).
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace().join("..").join("shared").join("reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: reference folder not found at {}", dir.display());
        None
    }
}

/// Reads a reference file, e.g. `riv-ta/vp-requests/Rivta21Request.xml`.
pub fn reference(dir: &Path, rel: &str) -> Vec<u8> {
    let path = dir.join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read reference file {}: {e}", path.display()))
}

/// An NPÖ request template with `${logicalAddress}` and `${patientId1}` filled in.
pub fn npo_request(dir: &Path, file: &str, logical_address: &str) -> Vec<u8> {
    let raw = reference(dir, &format!("riv-ta/npo-requests/{file}"));
    let text = String::from_utf8(raw).expect("NPÖ samples are UTF-8");
    let text = text
        .replace("${logicalAddress}", logical_address)
        .replace("${patientId1}", PATIENT);
    assert!(
        !text.contains("${"),
        "unsubstituted template variable left in {file}"
    );
    text.into_bytes()
}
