//! What the schema tests of every domain share: the reference folder and the xmllint
//! check against a set's official schema (`vaxel_adapters::schemas`), skipping with a
//! printed reason when the folder or xmllint is missing (never under `CI=true`).
#![allow(dead_code)] // each test file uses its part

use std::path::PathBuf;

use vaxel_adapter::InformationSet;
use vaxel_adapters::schemas::{check_message, SchemaCheckError};

/// `<repo>/../shared/reference`.
pub fn reference() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("reference folder not found at {}", dir.display()));
        None
    }
}

/// Prints why a check cannot run; under CI a missing tool or folder is a failure.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and a schema check cannot run: {why}");
    }
    println!("SKIP: {why}");
}

/// `xml` (a whole SOAP message of `set`) validates against the set's official schema.
/// Returns false when the check could not run (and printed why).
pub fn assert_schema_valid(set: &dyn InformationSet, xml: &str) -> bool {
    let Some(reference) = reference() else {
        return false;
    };
    match check_message(set, &reference, xml.as_bytes()) {
        Ok(()) => true,
        Err(e) if e.is_skip() => {
            skip(&e.to_string());
            false
        }
        Err(SchemaCheckError::Invalid(report)) => panic!(
            "{} message is not valid against its official schema:\n{report}\n{xml}",
            set.descriptor().name
        ),
        Err(e) => panic!("{e}"),
    }
}

/// `xml` does NOT validate (the check is not vacuous).
pub fn assert_schema_invalid(set: &dyn InformationSet, xml: &str) {
    let Some(reference) = reference() else {
        return;
    };
    match check_message(set, &reference, xml.as_bytes()) {
        Err(SchemaCheckError::Invalid(_)) => {}
        Err(e) if e.is_skip() => skip(&e.to_string()),
        other => panic!(
            "{}: expected a schema refusal, got {other:?}",
            set.descriptor().name
        ),
    }
}

/// The header `set`'s adapter must read from record `index` of `source`, as the sample
/// generator wrote it: ids, source, care giver and unit, time, patient, care contact,
/// whether the patient may see it, title and status. A set whose records carry no source
/// system or care giver (GetSubjectOfCareSchedule) reads none.
pub fn expected_header(
    set: &dyn InformationSet,
    source: &vaxel_adapters::samples::SampleSource<'_>,
    index: usize,
) -> vaxel_adapter::RecordHeader {
    use vaxel_adapters::samples as s;
    let paths = &set.descriptor().record;
    let has = |path: &[&str], value: &str| (!path.is_empty()).then(|| value.to_owned());
    vaxel_adapter::RecordHeader {
        record_id: Some(s::record_id(set, source, index)),
        source_system: has(paths.source_system, source.source_system),
        care_giver: has(paths.care_giver, source.care_giver),
        care_unit: Some(source.care_unit.into()),
        time: Some(s::record_time(source, index)),
        patient_id: has(paths.patient_id, source.patient_id),
        care_contact: s::record_care_contact(set, source, index),
        approved_for_patient: s::record_approved_for_patient(set, source, index),
        title: s::record_title(set, source, index),
        status: s::record_status(set, source, index),
    }
}
