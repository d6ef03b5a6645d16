//! Shared test helpers: the reference material (never copied into the repository) and
//! xmllint as the independent judge of schema validity.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(reason: &str) {
    if in_ci() {
        panic!("CI=true and {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// `/work/shared/reference/sdk`, reached from the crate as `../../../shared/reference/sdk`.
pub fn sdk_reference() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/sdk");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "the SDK reference files are not at {} (see shared/reference/README.md)",
            dir.display()
        ));
        None
    }
}

/// `shared/reference/validation`.
pub fn validation_reference() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/validation");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "the validation schemas are not at {}",
            dir.display()
        ));
        None
    }
}

pub fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub const XMLLINT: &str = "/usr/bin/xmllint";

/// `true` if xmllint is there; otherwise skips (or panics under CI=true).
pub fn have_xmllint() -> bool {
    if Path::new(XMLLINT).exists() {
        true
    } else {
        skip("xmllint is not installed (apt-get install -y libxml2-utils)");
        false
    }
}

/// xmllint's verdict: `Ok(())` if `xml` validates against `xsd`, else its messages.
pub fn xmllint_validates(xsd: &Path, xml: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("doc.xml");
    std::fs::write(&file, xml).expect("write temp file");
    let out = Command::new(XMLLINT)
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(xsd)
        .arg(&file)
        .output()
        .expect("run xmllint");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
