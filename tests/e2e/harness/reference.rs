//! The national reference messages and schemas in `../shared/reference` (beside the
//! repository root; that folder's README says what each file is). They are read in
//! place, never copied into the repository. This module is the one place that knows
//! where the folder is: a test names a file relative to it, e.g.
//! `riv-ta/vp-requests/Rivta21Request.xml`, and begins with
//!
//! ```ignore
//! let Some(body) = reference::read("riv-ta/vp-requests/Rivta21Request.xml") else { return };
//! ```
//!
//! Skipping: every helper answers `None` after printing `skipping: ...` when the folder
//! is absent (a checkout without the project's shared folder), so the test ends visibly
//! instead of passing silently. A file missing from a folder that is there is skipped
//! the same way locally, but fails the test when `CI` is set: CI has the shared folder,
//! and a renamed sample must not quietly turn a test into a skip there.
//! Read every file a test needs before it starts gateways or producers.

use std::path::PathBuf;

use super::{workspace, CARE_DOC, DIAGNOSIS, PATIENT};

/// The NPÖ samples routed by `Table::standard`: (file, contract namespace).
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

/// `<workspace>/../shared/reference`, or `None` after printing why the test skips.
pub fn dir() -> Option<PathBuf> {
    let dir = workspace().join("..").join("shared").join("reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: reference folder not found at {}", dir.display());
        None
    }
}

/// The path of a reference file (`rel` to the reference folder), for tools that take
/// a file name (curl `--data-binary @file`, xmllint `--schema`); `None` after printing
/// why the test skips (see the module comment for CI).
pub fn path(rel: &str) -> Option<PathBuf> {
    let dir = dir()?;
    let path = dir.join(rel);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "reference file {rel} not found in {}: the folder is there, so the file was renamed \
         or removed; update the test (tests/README.md, reference folder)",
        dir.display()
    );
    println!(
        "skipping: reference file {rel} not found in {}",
        dir.display()
    );
    None
}

/// The bytes of a reference file, e.g. `riv-ta/vp-requests/Rivta21Request.xml`.
pub fn read(rel: &str) -> Option<Vec<u8>> {
    let path = path(rel)?;
    Some(
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read reference file {}: {e}", path.display())),
    )
}

/// A reference template (the NPÖ and engagement-index load-test samples) with every
/// `${name}` placeholder filled from `vars` (`("logicalAddress", "SE...")`).
pub fn template(rel: &str, vars: &[(&str, &str)]) -> Option<Vec<u8>> {
    let raw = read(rel)?;
    let text = String::from_utf8(raw)
        .unwrap_or_else(|e| panic!("reference template {rel} is not UTF-8: {e}"));
    Some(fill(&text, vars, rel).into_bytes())
}

/// `text` with `${name}` replaced by its value for each `(name, value)`; panics when a
/// placeholder is left (it would reach the gateway as text and test something else).
pub fn fill(text: &str, vars: &[(&str, &str)], what: &str) -> String {
    let mut text = text.to_string();
    for (name, value) in vars {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    assert!(
        !text.contains("${"),
        "unsubstituted template variable left in {what}"
    );
    text
}

/// The NPÖ request `riv-ta/npo-requests/<file>` with `${logicalAddress}` and
/// `${patientId1}` (the test patient) filled in.
pub fn npo_request(file: &str, logical_address: &str) -> Option<Vec<u8>> {
    template(
        &format!("riv-ta/npo-requests/{file}"),
        &[("logicalAddress", logical_address), ("patientId1", PATIENT)],
    )
}
