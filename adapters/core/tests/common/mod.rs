//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use vaxel_adapter::{sniff, Envelope, SniffError, SniffLimits, SniffOutcome};

/// The national platform's reference messages live beside the workspace in
/// `shared/reference`; they are read in place and never copied into the repository.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: reference folder not found at {}", dir.display());
        None
    }
}

/// Every `*.xml` file of the RIV-TA request folders, sorted by path.
pub fn reference_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["riv-ta/vp-requests", "riv-ta/npo-requests"] {
        let folder = dir.join(sub);
        let entries = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xml") {
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Whether an independent parser (roxmltree) accepts the bytes as an XML document.
pub fn is_well_formed_xml(bytes: &[u8]) -> bool {
    let text = std::str::from_utf8(bytes).ok();
    let text = text.map(|t| t.strip_prefix('\u{feff}').unwrap_or(t));
    text.is_some_and(|t| roxmltree::Document::parse(t).is_ok())
}

/// The reference requests that are XML documents. A file of the shared folder that is
/// not (one was found replaced by the two bytes "0\n") is left out here with a note,
/// and checked as a negative case by `reference_files_that_are_not_xml_are_refused`.
pub fn reference_requests(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    reference_files(dir)
        .into_iter()
        .filter(|(name, bytes)| {
            let ok = is_well_formed_xml(bytes);
            if !ok {
                println!(
                    "note: reference file {name} is not well-formed XML ({} bytes); used as a negative case only",
                    bytes.len()
                );
            }
            ok
        })
        .collect()
}

pub fn sniff_all(input: &[u8]) -> Result<SniffOutcome, SniffError> {
    sniff(input, true, &SniffLimits::default())
}

/// Sniffs a message that must route; panics with the error otherwise.
pub fn envelope(input: &[u8]) -> Envelope {
    match sniff_all(input) {
        Ok(SniffOutcome::Complete(env)) => env,
        other => panic!(
            "expected a routable envelope, got {other:?} for:\n{}",
            String::from_utf8_lossy(&input[..input.len().min(600)])
        ),
    }
}

pub fn error(input: &[u8]) -> SniffError {
    match sniff_all(input) {
        Err(e) => e,
        Ok(outcome) => panic!(
            "expected an error, got {outcome:?} for:\n{}",
            String::from_utf8_lossy(&input[..input.len().min(600)])
        ),
    }
}

/// Feeds `input` as a growing prefix in `chunk`-byte steps, the way the gateway does
/// while body frames arrive, and returns the first answer that is not `NeedMore`.
pub fn sniff_in_chunks(
    input: &[u8],
    chunk: usize,
    limits: &SniffLimits,
) -> Result<SniffOutcome, SniffError> {
    let mut len = 0;
    loop {
        len = (len + chunk).min(input.len());
        let is_final = len == input.len();
        match sniff(&input[..len], is_final, limits) {
            Ok(SniffOutcome::NeedMore) if !is_final => continue,
            Ok(SniffOutcome::NeedMore) => panic!("NeedMore for a final input"),
            other => return other,
        }
    }
}

/// What a DOM parse (roxmltree) says the sniffer must answer: the independent oracle
/// the sniffer is checked against. `None` when the document is not a routable envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomAnswer {
    pub address: Option<(vaxel_adapter::RivProfile, String, std::ops::Range<usize>)>,
    pub contract_namespace: String,
    pub body_element: String,
}

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

pub fn dom_answer(input: &[u8]) -> Option<DomAnswer> {
    use vaxel_adapter::RivProfile;
    let text = std::str::from_utf8(input).ok()?;
    // roxmltree reports byte ranges of the text after a BOM; add it back.
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (3, rest),
        None => (0, text),
    };
    let doc = roxmltree::Document::parse(text).ok()?;
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(SOAP11) || root.tag_name().name() != "Envelope" {
        return None;
    }
    let is_soap = |n: &roxmltree::Node, name: &str| {
        n.is_element() && n.tag_name().namespace() == Some(SOAP11) && n.tag_name().name() == name
    };
    let address = root
        .children()
        .filter(|n| is_soap(n, "Header"))
        .flat_map(|h| h.children())
        .filter(|n| n.is_element())
        .find_map(|n| {
            let profile = match (n.tag_name().namespace(), n.tag_name().name()) {
                (Some("urn:riv:itintegration:registry:1"), "LogicalAddress") => RivProfile::Rivta21,
                (Some("http://www.w3.org/2005/08/addressing"), "To") => RivProfile::Rivta20,
                _ => return None,
            };
            let content: String = n
                .descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect();
            // XML 1.0 §2.11 turns every CR into LF; roxmltree 0.20 misses a CR that
            // directly precedes an entity reference (`A\r&amp;`). None of the test
            // documents uses `&#13;`, so applying the rule here is exact.
            let content = content.replace("\r\n", "\n").replace('\r', "\n");
            let value = content.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            let range = n.range();
            Some((
                profile,
                value.to_owned(),
                range.start + bom..range.end + bom,
            ))
        });
    let body = root.children().find(|n| is_soap(n, "Body"))?;
    let child = body.children().find(|n| n.is_element())?;
    Some(DomAnswer {
        address,
        contract_namespace: child.tag_name().namespace()?.to_owned(),
        body_element: child.tag_name().name().to_owned(),
    })
}

/// The sniffer's answer in the oracle's shape.
pub fn as_dom_answer(env: &Envelope) -> DomAnswer {
    DomAnswer {
        address: env
            .address
            .as_ref()
            .map(|a| (a.profile, a.value.clone(), a.span.clone())),
        contract_namespace: env.contract_namespace.clone(),
        body_element: env.body_element.clone(),
    }
}
