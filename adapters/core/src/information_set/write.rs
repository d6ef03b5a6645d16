//! The merged response: `ProcessingStatus` header, the response element with every kept
//! record byte-for-byte, and the contract's trailing `result` element.
//!
//! The ProcessingStatus structure follows the national aggregating services
//! (urn:riv:interoperability:headers:1); our schema of it is
//! `specs/schemas/interoperability_headers_1.xsd` and the element order written here is
//! the order of that schema.

use quick_xml::events::Event;
use quick_xml::name::PrefixDeclaration;
use quick_xml::Reader;

use super::parse::SOAP11_NAMESPACE;
use super::{
    CausingAgent, InformationSetDescriptor, MergeInput, MergeNotes, Record, SourceOutcome,
    SourceStatus,
};

/// Namespace of the `ProcessingStatus` SOAP header.
pub const PROCESSING_STATUS_NAMESPACE: &str = "urn:riv:interoperability:headers:1";

/// Prefixes of the elements we write around the records. They never capture a record's
/// names: a record gets every declaration it inherited from the producer's envelope
/// added to its start tag, and we declare no default namespace around it.
const RESPONSE_PREFIX: &str = "vxr";
const RESULT_FIELD_PREFIX: &str = "vxf";

/// [`super::InformationSet::write_merged_response`] for any descriptor.
pub(crate) fn write_merged_response(
    descriptor: &InformationSetDescriptor,
    out: &mut Vec<u8>,
    parts: &[MergeInput<'_>],
    sources: &[SourceOutcome],
    notes: &MergeNotes,
) {
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.extend_from_slice(b"<soap:Envelope xmlns:soap=\"");
    out.extend_from_slice(SOAP11_NAMESPACE.as_bytes());
    out.extend_from_slice(b"\"><soap:Header>");
    write_processing_status_noting(out, sources, notes);
    out.extend_from_slice(b"</soap:Header><soap:Body>");
    let name = descriptor.response_element;
    push_all(
        out,
        &[
            "<",
            RESPONSE_PREFIX,
            ":",
            name,
            " xmlns:",
            RESPONSE_PREFIX,
            "=\"",
        ],
    );
    escape_into(out, descriptor.contract_namespace, true);
    out.extend_from_slice(b"\">");
    for part in parts {
        for record in part.records {
            write_record(out, part.body, record);
        }
    }
    if let Some(result) = &descriptor.result {
        // RIV-TA ResultType: resultCode, (errorCode), logId, ... in this order.
        push_all(
            out,
            &[
                "<",
                RESPONSE_PREFIX,
                "r:result xmlns:",
                RESPONSE_PREFIX,
                "r=\"",
            ],
        );
        escape_into(out, result.namespace, true);
        push_all(out, &["\" xmlns:", RESULT_FIELD_PREFIX, "=\""]);
        escape_into(out, result.field_namespace, true);
        push_all(
            out,
            &[
                "\"><",
                RESULT_FIELD_PREFIX,
                ":resultCode>OK</",
                RESULT_FIELD_PREFIX,
                ":resultCode><",
                RESULT_FIELD_PREFIX,
                ":logId>",
            ],
        );
        out.extend_from_slice(uuid::Uuid::new_v4().to_string().as_bytes());
        push_all(
            out,
            &[
                "</",
                RESULT_FIELD_PREFIX,
                ":logId></",
                RESPONSE_PREFIX,
                "r:result>",
            ],
        );
    }
    push_all(out, &["</", RESPONSE_PREFIX, ":", name, ">"]);
    out.extend_from_slice(b"</soap:Body></soap:Envelope>\n");
}

/// Writes the `ProcessingStatus` header element (with its own namespace declaration, so
/// it stands alone): one `ProcessingStatusList` per source, in the order given.
pub fn write_processing_status(out: &mut Vec<u8>, sources: &[SourceOutcome]) {
    write_processing_status_noting(out, sources, &MergeNotes::default())
}

/// Namespace of vaxel's own additions to `ProcessingStatus` (in its `xs:any ##other`
/// extension point): `WithheldRecords` (specs/schemas/vaxel-processing-status-1.xsd).
pub const VAXEL_STATUS_NAMESPACE: &str = "urn:vaxel:processing-status:1";

/// [`write_processing_status`] with vaxel's notes: when records were withheld under
/// SVOD/PDL, their number (never which, nor from where) follows the source list as
/// `<WithheldRecords xmlns="urn:vaxel:processing-status:1"><count>N</count>
/// <reason>...</reason></WithheldRecords>`.
pub fn write_processing_status_noting(
    out: &mut Vec<u8>,
    sources: &[SourceOutcome],
    notes: &MergeNotes,
) {
    out.extend_from_slice(b"<ProcessingStatus xmlns=\"");
    out.extend_from_slice(PROCESSING_STATUS_NAMESPACE.as_bytes());
    out.extend_from_slice(b"\">");
    for source in sources {
        out.extend_from_slice(b"<ProcessingStatusList>");
        element(out, "logicalAddress", &source.logical_address);
        match &source.status {
            SourceStatus::DataFromSource => {
                element(out, "statusCode", "DataFromSource");
                element(out, "isResponseFromCache", "false");
                element(out, "isResponseInSynch", "true");
                element(out, "lastSuccessfulSynch", &source.timestamp);
            }
            SourceStatus::DataFromCache => {
                // Answered from a cache that was refreshed at `timestamp`.
                element(out, "statusCode", "DataFromCache");
                element(out, "isResponseFromCache", "true");
                element(out, "isResponseInSynch", "true");
                element(out, "lastSuccessfulSynch", &source.timestamp);
            }
            SourceStatus::NoDataSynchFailed {
                causing_agent,
                code,
                text,
            } => {
                // No successful call is known: lastSuccessfulSynch is required by the
                // national schema (interoperability_headers_1.0.xsd, xs:string 1..1) and
                // documented as "Empty" for this status, so it is written empty.
                element(out, "statusCode", "NoDataSynchFailed");
                element(out, "isResponseFromCache", "false");
                element(out, "isResponseInSynch", "false");
                element(out, "lastSuccessfulSynch", "");
                element(out, "lastUnsuccessfulSynch", &source.timestamp);
                out.extend_from_slice(b"<lastUnsuccessfulSynchError>");
                element(out, "causingAgent", causing_agent.as_str());
                element(out, "code", code);
                element(out, "text", text);
                out.extend_from_slice(b"</lastUnsuccessfulSynchError>");
            }
        }
        out.extend_from_slice(b"</ProcessingStatusList>");
    }
    if notes.withheld_records > 0 {
        out.extend_from_slice(b"<WithheldRecords xmlns=\"");
        out.extend_from_slice(VAXEL_STATUS_NAMESPACE.as_bytes());
        out.extend_from_slice(b"\">");
        element(out, "count", &notes.withheld_records.to_string());
        element(
            out,
            "reason",
            "information exists that the user may not see (consent, block or care relation under SVOD/PDL)",
        );
        out.extend_from_slice(b"</WithheldRecords>");
    }
    out.extend_from_slice(b"</ProcessingStatus>");
}

impl CausingAgent {
    /// The schema's enumeration value.
    pub fn as_str(self) -> &'static str {
        match self {
            CausingAgent::ServiceProducer => "service_producer",
            CausingAgent::VirtualizationPlatform => "virtualization_platform",
            CausingAgent::EngagementIndex => "engagement_index",
            CausingAgent::Other => "other",
        }
    }
}

/// Copies one record, adding the namespace declarations it inherited from the
/// producer's envelope that its start tag does not make itself. A span outside the body
/// or not starting with `<` is skipped (records come from `parse_response` on the same
/// body; anything else is a caller bug that must not corrupt the answer).
fn write_record(out: &mut Vec<u8>, body: &[u8], record: &Record) {
    let Some(bytes) = body.get(record.span.clone()) else {
        return;
    };
    if bytes.first() != Some(&b'<') {
        return;
    }
    let name_end = bytes
        .iter()
        .position(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
        .unwrap_or(bytes.len());
    let own = own_declarations(bytes);
    out.extend_from_slice(&bytes[..name_end]);
    for (prefix, uri) in &record.inherited_namespaces {
        if own.iter().any(|p| p == prefix) || prefix == "xml" || prefix == "xmlns" {
            continue;
        }
        if prefix.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_into(out, uri, true);
        out.push(b'"');
    }
    out.extend_from_slice(&bytes[name_end..]);
}

/// Prefixes (`""` for the default namespace) declared on the record's own start tag.
fn own_declarations(bytes: &[u8]) -> Vec<String> {
    let mut reader = Reader::from_reader(bytes);
    let start = match reader.read_event() {
        Ok(Event::Start(start) | Event::Empty(start)) => start,
        _ => return Vec::new(),
    };
    let mut prefixes = Vec::new();
    for attribute in start.attributes().flatten() {
        match attribute.key.as_namespace_binding() {
            Some(PrefixDeclaration::Default) => prefixes.push(String::new()),
            Some(PrefixDeclaration::Named(prefix)) => {
                prefixes.push(String::from_utf8_lossy(prefix).into_owned())
            }
            None => {}
        }
    }
    prefixes
}

fn element(out: &mut Vec<u8>, name: &str, text: &str) {
    push_all(out, &["<", name, ">"]);
    escape_into(out, text, false);
    push_all(out, &["</", name, ">"]);
}

fn push_all(out: &mut Vec<u8>, pieces: &[&str]) {
    for piece in pieces {
        out.extend_from_slice(piece.as_bytes());
    }
}

/// XML-escapes text (and quotes in attribute values). Characters XML 1.0 cannot carry
/// at all (most C0 controls) are replaced by U+FFFD so that the answer stays
/// well-formed whatever a producer or the gateway put into a status text.
pub(crate) fn escape_into(out: &mut Vec<u8>, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' if attribute => out.extend_from_slice(b"&quot;"),
            '\'' if attribute => out.extend_from_slice(b"&apos;"),
            // Keep line breaks and tabs in attribute values from being normalised away.
            '\t' if attribute => out.extend_from_slice(b"&#9;"),
            '\n' if attribute => out.extend_from_slice(b"&#10;"),
            '\r' => out.extend_from_slice(b"&#13;"),
            '\t' | '\n' => out.push(c as u8),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {
                out.extend_from_slice("\u{FFFD}".as_bytes())
            }
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withheld_records_are_counted_only_when_there_are_any() {
        let mut none = Vec::new();
        write_processing_status_noting(&mut none, &[], &MergeNotes::default());
        let none = String::from_utf8(none).unwrap();
        assert!(!none.contains("WithheldRecords"), "{none}");
        let mut some = Vec::new();
        write_processing_status_noting(
            &mut some,
            &[],
            &MergeNotes {
                withheld_records: 3,
            },
        );
        let some = String::from_utf8(some).unwrap();
        assert!(
            some.contains(
                "<WithheldRecords xmlns=\"urn:vaxel:processing-status:1\"><count>3</count>"
            ),
            "{some}"
        );
        assert!(
            some.ends_with("</WithheldRecords></ProcessingStatus>"),
            "{some}"
        );
    }

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        escape_into(&mut out, "a<b>&\"c'\u{1}", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}"
        );
    }

    #[test]
    fn inherited_declarations_are_added_once() {
        let body = br#"<r:x xmlns:r="urn:r"><a/></r:x>"#;
        let record = Record {
            span: 0..body.len(),
            inherited_namespaces: vec![
                ("r".into(), "urn:other".into()),
                ("".into(), "urn:d".into()),
            ],
            header: Default::default(),
            interval: None,
            times: vec![],
        };
        let mut out = Vec::new();
        write_record(&mut out, body, &record);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<r:x xmlns="urn:d" xmlns:r="urn:r"><a/></r:x>"#
        );
    }
}
