//! Reading the XHE envelope: parsing (no DTDs), locating the one payload, and the
//! namespace context a payload element inherits. Positions are byte ranges in the
//! original text so that everything we do not touch stays byte-for-byte.

use super::XmlSecError;
use bergshamra::xml::uppsala::{self, Document, NodeId, NodeKind, XmlError};
use std::ops::Range;

pub(crate) const XHE_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/ExchangeHeaderEnvelope";
pub(crate) const XHA_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/AggregateComponents";
pub(crate) const XHB_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/BasicComponents";
pub(crate) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub(crate) const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";

/// A (prefix, namespace URI) declaration; the empty prefix is the default namespace.
pub(crate) type NsDecl = (String, String);

/// The input as text: UTF-8, a leading byte-order mark removed (the published
/// signed sample starts with one).
pub(crate) fn as_text(xml: &[u8]) -> Result<&str, XmlSecError> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    std::str::from_utf8(xml).map_err(|e| {
        XmlSecError::Malformed(format!(
            "not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Parse with DTDs forbidden: an XHE never has one, and entity declarations are
/// the classic way to make a verifier and an application see different documents.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, XmlSecError> {
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .parse(text)
        .map_err(|e| XmlSecError::Malformed(describe_xml_error(&e)))
}

/// Where and what kind of XML error, without echoing document text.
pub(crate) fn describe_xml_error(e: &XmlError) -> String {
    match e {
        XmlError::WellFormedness(w) => format!(
            "not well-formed XML at line {}, column {}",
            w.line, w.column
        ),
        XmlError::Namespace(n) => {
            format!("namespace error at line {}, column {}", n.line, n.column)
        }
        XmlError::Parse(p) => format!(
            "XML parse error at line {}, column {} (a DOCTYPE is not allowed)",
            p.line, p.column
        ),
        XmlError::UnexpectedEof => "XML ends unexpectedly".into(),
        _ => "XML could not be parsed".into(),
    }
}

pub(crate) fn is_element(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| {
        &*e.name.local_name == local && e.name.namespace_uri.as_deref().unwrap_or("") == ns
    })
}

/// `{namespace}local` of an element, for error messages.
pub(crate) fn element_name(doc: &Document<'_>, id: NodeId) -> String {
    doc.element(id)
        .map(|e| {
            format!(
                "{{{}}}{}",
                e.name.namespace_uri.as_deref().unwrap_or(""),
                e.name.local_name
            )
        })
        .unwrap_or_else(|| "(not an element)".into())
}

pub(crate) fn child_elements(doc: &Document<'_>, id: NodeId) -> Vec<NodeId> {
    doc.children(id)
        .into_iter()
        .filter(|&c| doc.element(c).is_some())
        .collect()
}

pub(crate) fn children_named(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> Vec<NodeId> {
    doc.children(id)
        .into_iter()
        .filter(|&c| is_element(doc, c, ns, local))
        .collect()
}

pub(crate) fn child_named(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> Option<NodeId> {
    children_named(doc, id, ns, local).into_iter().next()
}

/// Every element `{ns}local` in the document, in document order.
pub(crate) fn descendants_named(doc: &Document<'_>, ns: &str, local: &str) -> Vec<NodeId> {
    doc.descendants(doc.root())
        .into_iter()
        .filter(|&id| is_element(doc, id, ns, local))
        .collect()
}

/// The text of an element with whitespace removed (base64 values are wrapped).
pub(crate) fn compact_text(doc: &Document<'_>, id: NodeId) -> String {
    doc.text_content_deep(id)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The document element, which must be `{XHE}XHE`.
pub(crate) fn xhe_root(doc: &Document<'_>) -> Result<NodeId, XmlSecError> {
    let root = doc
        .document_element()
        .ok_or_else(|| XmlSecError::Malformed("no document element".into()))?;
    if !is_element(doc, root, XHE_NS, "XHE") {
        return Err(XmlSecError::Malformed(format!(
            "the document element is {}, expected {{{XHE_NS}}}XHE",
            element_name(doc, root)
        )));
    }
    Ok(root)
}

/// The one `PayloadContent`, at `XHE/Payloads/Payload/PayloadContent`. More than
/// one anywhere in the document is refused: with several, the one that is signed
/// and the one that is consumed could differ.
pub(crate) fn payload_content(doc: &Document<'_>, root: NodeId) -> Result<NodeId, XmlSecError> {
    let all = descendants_named(doc, XHA_NS, "PayloadContent");
    let [content] = all[..] else {
        return Err(XmlSecError::Malformed(format!(
            "expected exactly one xha:PayloadContent, found {}",
            all.len()
        )));
    };
    let payload = doc.parent(content);
    let payloads = payload.and_then(|p| doc.parent(p));
    let top = payloads.and_then(|p| doc.parent(p));
    let in_place = payload.is_some_and(|p| is_element(doc, p, XHA_NS, "Payload"))
        && payloads.is_some_and(|p| is_element(doc, p, XHA_NS, "Payloads"))
        && top == Some(root);
    if !in_place {
        return Err(XmlSecError::Malformed(
            "xha:PayloadContent is not at XHE/Payloads/Payload/PayloadContent".into(),
        ));
    }
    Ok(content)
}

/// The single element child of `parent`; anything else but whitespace and comments
/// next to it is refused.
pub(crate) fn single_element_child(
    doc: &Document<'_>,
    parent: NodeId,
    what: &str,
) -> Result<NodeId, XmlSecError> {
    let mut found = None;
    for child in doc.children(parent) {
        match doc.node_kind(child) {
            Some(NodeKind::Element(_)) => {
                if found.replace(child).is_some() {
                    return Err(XmlSecError::Malformed(format!(
                        "{what} holds more than one element"
                    )));
                }
            }
            Some(NodeKind::Text(t)) if t.trim().is_empty() => {}
            Some(NodeKind::Comment(_)) => {}
            _ => {
                return Err(XmlSecError::Malformed(format!(
                    "{what} holds text or other content next to its element"
                )))
            }
        }
    }
    found.ok_or_else(|| XmlSecError::Malformed(format!("{what} is empty")))
}

/// The namespace declarations in scope at `id` (its own and its ancestors'; the
/// nearest declaration of a prefix wins), without the built-in `xml` prefix.
pub(crate) fn in_scope_namespaces(doc: &Document<'_>, id: NodeId) -> Vec<NsDecl> {
    let mut chain = vec![id];
    chain.extend(doc.ancestors(id));
    let mut seen: Vec<NsDecl> = Vec::new();
    for node in chain {
        if let Some(e) = doc.element(node) {
            for (prefix, uri) in &e.namespace_declarations {
                if prefix == "xml" || seen.iter().any(|(p, _)| p == prefix.as_ref()) {
                    continue;
                }
                seen.push((prefix.to_string(), uri.to_string()));
            }
        }
    }
    // An undeclared default namespace (xmlns="") needs no declaration.
    seen.retain(|(p, u)| !(p.is_empty() && u.is_empty()));
    seen
}

/// The declarations made on the element itself.
pub(crate) fn own_namespaces(doc: &Document<'_>, id: NodeId) -> Vec<NsDecl> {
    doc.element(id)
        .map(|e| {
            e.namespace_declarations
                .iter()
                .map(|(p, u)| (p.to_string(), u.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// `element_source` (the exact text of one element) with the declarations of
/// `context` that it does not make itself added to its start tag, so that it means
/// the same when read on its own. Inclusive C14N does the same for a subtree.
pub(crate) fn self_contained(element_source: &str, own: &[NsDecl], context: &[NsDecl]) -> String {
    let name_end = element_source
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c.is_whitespace() || c == '/' || c == '>')
        .map(|(i, _)| i)
        .unwrap_or(element_source.len());
    let mut out = String::with_capacity(element_source.len() + 256);
    out.push_str(&element_source[..name_end]);
    for (prefix, uri) in context {
        if own.iter().any(|(p, _)| p == prefix) {
            continue;
        }
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        out.push_str(&escape_attr(uri));
        out.push('"');
    }
    out.push_str(&element_source[name_end..]);
    out
}

pub(crate) fn escape_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The byte range of a parsed node in the text it was parsed from.
pub(crate) fn range(doc: &Document<'_>, id: NodeId) -> Result<Range<usize>, XmlSecError> {
    doc.node_range(id)
        .ok_or_else(|| XmlSecError::Malformed("element has no source position".into()))
}

/// Replace non-overlapping byte ranges of `text`.
pub(crate) fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let extra: usize = edits.iter().map(|(_, s)| s.len()).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut at = 0;
    for (r, replacement) in edits {
        out.push_str(&text[at..r.start]);
        out.push_str(&replacement);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}
