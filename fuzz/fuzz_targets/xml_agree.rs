//! Fuzz target: the envelope sniffer (`vaxel_adapter::sniff`) and the record reader
//! (`InformationSet::parse_response`) apply the same XML declaration, name, character
//! and byte order mark rules (`adapters/core/src/xml_syntax/mod.rs`).
//!
//! The input is cut at every 0x1E byte into slots, and each slot is put into a fixed
//! GetCareDocumentation response where the fuzzer can only change what these rules
//! judge: the bytes before the root (BOM, white space), the XML declaration's content,
//! a prolog comment and processing instruction, a header element's name, attribute
//! name and value, text and CDATA, the address text, the Body child's attribute and
//! the text before it, and (after the sniffer's decision point) a record's text.
//! Slots lose the bytes that would change the markup around them (`<` everywhere;
//! white space, `=`, quotes, `/`, `>` in names; `"` in attribute values), and every
//! prefix a name uses is declared: namespace rules are not what this target is about.
//!
//! Properties checked on every input, besides "never panics":
//! * With a valid record, the sniffer and the reader give the same answer: both accept,
//!   or both refuse as `Malformed` at the same byte with the same reason.
//! * With the fuzzed record, the reader refuses only what the sniffer refuses, or at a
//!   byte the sniffer never reads (at or after `consumed`).
//! * What both accept, roxmltree (a conforming parser) accepts too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxel_adapter::{
    sniff, AdapterError, InformationSet, ProducerResponse, SniffError, SniffLimits, SniffOutcome,
};

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const REGISTRY: &str = "urn:riv:itintegration:registry:1";

/// The slots, in the order they are cut from the input.
#[derive(Default)]
struct Slots<'a> {
    before_root: &'a [u8],
    declaration: &'a [u8],
    comment: &'a [u8],
    processing_instruction: &'a [u8],
    element_name: &'a [u8],
    attribute_name: &'a [u8],
    attribute_value: &'a [u8],
    element_text: &'a [u8],
    cdata: &'a [u8],
    address: &'a [u8],
    child_attribute_name: &'a [u8],
    child_attribute_value: &'a [u8],
    body_text: &'a [u8],
    record_text: &'a [u8],
}

impl<'a> Slots<'a> {
    fn cut(data: &'a [u8]) -> Self {
        let mut parts = data.split(|b| *b == 0x1E);
        let mut next = || parts.next().unwrap_or_default();
        Slots {
            before_root: next(),
            declaration: next(),
            comment: next(),
            processing_instruction: next(),
            element_name: next(),
            attribute_name: next(),
            attribute_value: next(),
            element_text: next(),
            cdata: next(),
            address: next(),
            child_attribute_name: next(),
            child_attribute_value: next(),
            body_text: next(),
            record_text: next(),
        }
    }
}

/// Bytes without `<`: markup stays the template's.
fn no_markup(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().filter(|b| *b != b'<').collect()
}

/// A name: no byte that ends a name in a tag; never empty; never a namespace
/// declaration (`xmlns...`).
fn name(bytes: &[u8], default: &str) -> Vec<u8> {
    let mut name: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| {
            !matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b'=' | b'"' | b'\'' | b'/' | b'>' | b'<'
            )
        })
        .collect();
    if name.is_empty() {
        name = default.as_bytes().to_vec();
    }
    // `<!` and `<?` would start other markup; `xmlns` a namespace declaration.
    if name.starts_with(b"xmlns") || name.starts_with(b"!") || name.starts_with(b"?") {
        name.insert(0, b'x');
    }
    name
}

/// The prefix a name would be resolved with, if it should be declared: not `xml` or
/// `xmlns` (reserved bindings are a namespace rule).
fn prefix(name: &[u8]) -> Option<&[u8]> {
    let colon = name.iter().position(|b| *b == b':')?;
    let prefix = &name[..colon];
    (prefix != b"xml" && prefix != b"xmlns").then_some(prefix)
}

/// ` xmlns:p="urn:fuzz:n"` for the prefixes of the element's and the attribute's names
/// (each once, and not those in `declared`), then the attribute.
fn attributes<'n>(
    out: &mut Vec<u8>,
    mut declared: Vec<&'n [u8]>,
    element: &'n [u8],
    attribute: Option<(&'n [u8], &[u8])>,
) {
    for name in std::iter::once(element).chain(attribute.map(|(n, _)| n)) {
        if let Some(p) = prefix(name) {
            if !declared.contains(&p) {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(p);
                out.extend_from_slice(format!("=\"urn:fuzz:{}\"", declared.len()).as_bytes());
                declared.push(p);
            }
        }
    }
    if let Some((name, value)) = attribute {
        out.push(b' ');
        out.extend_from_slice(name);
        out.extend_from_slice(b"=\"");
        out.extend(value.iter().copied().filter(|b| *b != b'"'));
        out.push(b'"');
    }
}

/// The response with the slots in place; with `record_text` false the record's text is
/// a plain valid one.
fn response(slots: &Slots<'_>, contract: &str, record_text: bool) -> Vec<u8> {
    let mut out = no_markup(slots.before_root);
    if !slots.declaration.is_empty() {
        out.extend_from_slice(b"<?xml");
        out.extend_from_slice(&no_markup(slots.declaration));
        out.extend_from_slice(b"?>");
    }
    if !slots.comment.is_empty() {
        out.extend_from_slice(b"<!--");
        out.extend_from_slice(&no_markup(slots.comment));
        out.extend_from_slice(b"-->");
    }
    if !slots.processing_instruction.is_empty() {
        out.extend_from_slice(b"<?");
        out.extend_from_slice(&no_markup(slots.processing_instruction));
        out.extend_from_slice(b"?>");
    }
    out.extend_from_slice(format!("\n<s:Envelope xmlns:s=\"{SOAP}\"><s:Header>").as_bytes());
    let element = name(slots.element_name, "h");
    let attribute = name(slots.attribute_name, "a");
    out.push(b'<');
    out.extend_from_slice(&element);
    attributes(
        &mut out,
        Vec::new(),
        &element,
        Some((&attribute, slots.attribute_value)),
    );
    out.push(b'>');
    out.extend_from_slice(&no_markup(slots.element_text));
    if !slots.cdata.is_empty() {
        out.extend_from_slice(b"<![CDATA[");
        out.extend_from_slice(&no_markup(slots.cdata));
        out.extend_from_slice(b"]]>");
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(&element);
    out.push(b'>');
    out.extend_from_slice(format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\">").as_bytes());
    out.extend_from_slice(&no_markup(slots.address));
    out.extend_from_slice(b"</a:LogicalAddress></s:Header><s:Body>");
    out.extend_from_slice(&no_markup(slots.body_text));
    out.extend_from_slice(
        format!("<r:GetCareDocumentationResponse xmlns:r=\"{contract}\"").as_bytes(),
    );
    let child_attribute = name(slots.child_attribute_name, "id");
    let child_attribute = (!slots.child_attribute_name.is_empty()
        || !slots.child_attribute_value.is_empty())
    .then_some((&child_attribute[..], slots.child_attribute_value));
    // `r` is declared already, as the contract.
    attributes(&mut out, vec![b"r"], b"", child_attribute);
    out.extend_from_slice(b"><r:careDocumentation><r:text>");
    if record_text {
        out.extend_from_slice(&no_markup(slots.record_text));
    } else {
        out.extend_from_slice(b"T&amp;1");
    }
    out.extend_from_slice(
        b"</r:text></r:careDocumentation></r:GetCareDocumentationResponse></s:Body></s:Envelope>\n",
    );
    out
}

type Answer = Result<Option<usize>, (usize, String)>;

/// The sniffer's answer: `Ok(consumed)` or `Malformed` (anything else is a bug of the
/// template, which always routes).
fn sniffed(doc: &[u8]) -> Answer {
    match sniff(doc, true, &SniffLimits::default()) {
        Ok(SniffOutcome::Complete(envelope)) => Ok(Some(envelope.consumed)),
        Err(SniffError::Malformed { position, reason }) => Err((position, reason)),
        other => panic!("sniffer: {other:?}\n{}", String::from_utf8_lossy(doc)),
    }
}

/// The reader's answer, in the same terms.
fn read(set: &dyn InformationSet, doc: &[u8]) -> Answer {
    match set.parse_response(doc) {
        Ok(ProducerResponse::Records(records)) => {
            assert_eq!(records.len(), 1, "{}", String::from_utf8_lossy(doc));
            Ok(None)
        }
        Err(AdapterError::Malformed { offset, reason }) => Err((offset as usize, reason)),
        other => panic!("reader: {other:?}\n{}", String::from_utf8_lossy(doc)),
    }
}

fuzz_target!(|data: &[u8]| {
    let set = vaxel_adapters::by_name("care-documentation").expect("adapter");
    let contract = set.descriptor().contract_namespace;
    let slots = Slots::cut(data);

    let doc = response(&slots, contract, false);
    let shown = || String::from_utf8_lossy(&doc).into_owned();
    let sniffer = sniffed(&doc);
    let reader = read(set, &doc);
    match (&sniffer, &reader) {
        // roxmltree 0.20 refuses the `xml` prefix on an element, which Namespaces in
        // XML §3 binds by definition: it is no oracle for such names.
        (Ok(_), Ok(_)) if name(slots.element_name, "h").starts_with(b"xml:") => {}
        (Ok(_), Ok(_)) => {
            let text = std::str::from_utf8(&doc).expect("accepted input is UTF-8");
            if let Err(e) =
                roxmltree::Document::parse(text.strip_prefix('\u{feff}').unwrap_or(text))
            {
                panic!("both accept what roxmltree refuses ({e}):\n{}", shown());
            }
        }
        (Err(s), Err(r)) => assert_eq!(s, r, "sniffer and reader refuse differently:\n{}", shown()),
        _ => panic!("sniffer {sniffer:?}, reader {reader:?}:\n{}", shown()),
    }

    let doc = response(&slots, contract, true);
    let shown = String::from_utf8_lossy(&doc);
    match (sniffed(&doc), read(set, &doc)) {
        (Ok(_), Ok(_)) | (Err(_), Err(_)) => {}
        (Ok(Some(consumed)), Err((offset, reason))) => assert!(
            offset >= consumed,
            "reader refuses at {offset} ({reason}) inside what the sniffer read (to {consumed}):\n{shown}"
        ),
        (sniffer, reader) => panic!("sniffer {sniffer:?}, reader {reader:?}:\n{shown}"),
    }
});
