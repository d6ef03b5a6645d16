//! A small namespace-aware element tree over quick-xml, shared by the message parser,
//! the validator and the XHE parser.
//!
//! Why a tree and not callbacks: the SDK message is small apart from its base64
//! attachments, and the schema and business rules are far easier to state (and review)
//! over a tree. Character data is copied exactly once (into [`Element::text`]) and can be
//! moved out of the tree into the model, so a 30 MiB attachment costs one copy.
//!
//! Every element keeps the byte offsets of its tags in the *original* input (a UTF-8
//! BOM included), so the XHE parser can hand out the payload's exact byte range, which
//! the signature and decryption steps need.
//!
//! What is refused here, whatever the caller: everything the shared XML rules of
//! `vaxel_adapter::xml_syntax` refuse (the declaration, names, characters, references,
//! comments and processing instructions, exactly as the RIV-TA readers check them),
//! DTDs (no entity expansion, ever), unbound prefixes, mismatched or missing end tags,
//! more than one root element, text outside the root, and nesting deeper than
//! [`MAX_DEPTH`] (so that no recursive walk over the tree can exhaust the stack).

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use vaxel_adapter::xml_syntax::{self, Place};

/// Nesting limit. The deepest legitimate SDK message path is 7 elements below the root
/// of the message, an XHE envelope with an encrypted payload adds about 10 more.
pub(crate) const MAX_DEPTH: usize = 128;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// An attribute that is not a namespace declaration (its value is checked for
/// well-formedness; no rule needs it).
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ns: Option<String>,
    pub local: String,
}

/// One element with its namespace-resolved name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// Namespace URI; `None` for an element in no namespace.
    pub ns: Option<String>,
    pub local: String,
    pub attrs: Vec<Attr>,
    /// Namespace declarations on this element: (prefix, URI); prefix "" is the default.
    pub ns_decls: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own character data (text and CDATA, not that of its children),
    /// entity references resolved and line ends normalised as XML 1.0 §2.11 requires.
    pub text: String,
    /// Byte offset of the `<` of the start tag in the input.
    pub start: usize,
    /// Byte offset just past the end tag (or past `/>`).
    pub end: usize,
    /// 1-based line of the start tag, for error messages.
    pub line: usize,
}

impl Element {
    /// `true` if the element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    /// The first child `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// `true` if the element's XPath string value contains anything but XML whitespace,
    /// i.e. `normalize-space(.)` is not empty.
    pub fn has_content(&self) -> bool {
        !is_xml_whitespace(&self.text) || self.children.iter().any(Element::has_content)
    }

    /// The XPath string value: all descendant character data in document order
    /// (approximated as own text first, which is exact for leaf elements).
    pub fn string_value(&self) -> Cow<'_, str> {
        if self.children.is_empty() {
            return Cow::Borrowed(&self.text);
        }
        let mut s = self.text.clone();
        for c in &self.children {
            s.push_str(&c.string_value());
        }
        Cow::Owned(s)
    }
}

/// `true` if `s` is empty or only XML whitespace (space, tab, CR, LF).
pub(crate) fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A document that is not well-formed (or uses something we refuse, like a DTD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    pub message: String,
    pub line: usize,
    /// Element path at the error, e.g. `/messagePayload/message`.
    pub path: String,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "line {}, at {}: {}", self.line, self.path, self.message)
        }
    }
}

/// Counts lines incrementally; offsets handed to it only ever grow.
struct LineCounter<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.input.len());
        if offset > self.pos {
            self.line += self.input[self.pos..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.pos = offset;
        }
        self.line
    }
}

fn path_of(stack: &[Element]) -> String {
    let mut p = String::new();
    for e in stack {
        p.push('/');
        p.push_str(&e.local);
    }
    p
}

/// Normalises line ends (XML 1.0 §2.11) in raw, still escaped character data.
fn normalize_eol(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\r') {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Parses `input` into its root element.
pub(crate) fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let base = if input.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let body = &input[base..];
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;

    let mut lines = LineCounter {
        input,
        pos: 0,
        line: 1,
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    let mut first_event = true;
    loop {
        let before = base + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (owned_namespace(resolved), event),
            Err(e) => {
                return Err(XmlError {
                    message: format!("not well-formed XML: {e}"),
                    line: lines.line_at(before),
                    path: path_of(&stack),
                })
            }
        };
        let after = base + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let fail = |message: String, lines: &mut LineCounter<'_>, stack: &[Element]| XmlError {
            message,
            line: lines.line_at(before),
            path: path_of(stack),
        };
        let was_first = std::mem::replace(&mut first_event, false);
        let syntax = |e: xml_syntax::XmlSyntaxError,
                      lines: &mut LineCounter<'_>,
                      stack: &[Element]| { fail(e.to_string(), lines, stack) };
        match event {
            Event::Start(tag) => {
                xml_syntax::check_element_name(tag.name().as_ref())
                    .map_err(|e| syntax(e, &mut lines, &stack))?;
                if root.is_some() {
                    return Err(fail(
                        "a second root element; an XML document has exactly one".into(),
                        &mut lines,
                        &stack,
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(
                        format!("elements nested deeper than {MAX_DEPTH} levels"),
                        &mut lines,
                        &stack,
                    ));
                }
                let ns = resolved.map_err(|m| fail(m, &mut lines, &stack))?;
                let local = utf8(tag.local_name().as_ref(), "element name")
                    .map_err(|m| fail(m, &mut lines, &stack))?;
                let mut attrs = Vec::new();
                let mut ns_decls = Vec::new();
                for attr in tag.attributes() {
                    let attr = attr.map_err(|e| {
                        fail(
                            format!("bad attribute on <{local}>: {e}"),
                            &mut lines,
                            &stack,
                        )
                    })?;
                    xml_syntax::check_attribute_name(tag.name().as_ref(), attr.key.as_ref())
                        .map_err(|e| syntax(e, &mut lines, &stack))?;
                    let value = xml_syntax::attribute_value(
                        tag.name().as_ref(),
                        attr.key.as_ref(),
                        &attr.value,
                    )
                    .map_err(|e| syntax(e, &mut lines, &stack))?;
                    if let Some(binding) = attr.key.as_namespace_binding() {
                        let prefix = match binding {
                            quick_xml::name::PrefixDeclaration::Default => String::new(),
                            quick_xml::name::PrefixDeclaration::Named(p) => {
                                String::from_utf8_lossy(p).into_owned()
                            }
                        };
                        ns_decls.push((prefix, value.into_owned()));
                        continue;
                    }
                    let (ans, alocal) = reader.resolve_attribute(attr.key);
                    let ans = match ans {
                        ResolveResult::Bound(ns) => Some(
                            utf8(ns.as_ref(), "namespace URI")
                                .map_err(|m| fail(m, &mut lines, &stack))?,
                        ),
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(prefix) => {
                            return Err(fail(
                                format!(
                                    "attribute prefix '{}' is not bound to a namespace",
                                    String::from_utf8_lossy(&prefix)
                                ),
                                &mut lines,
                                &stack,
                            ))
                        }
                    };
                    let alocal = utf8(alocal.as_ref(), "attribute name")
                        .map_err(|m| fail(m, &mut lines, &stack))?;
                    attrs.push(Attr {
                        ns: ans,
                        local: alocal,
                    });
                }
                let line = lines.line_at(before);
                stack.push(Element {
                    ns,
                    local,
                    attrs,
                    ns_decls,
                    start: before,
                    line,
                    ..Element::default()
                });
            }
            Event::End(_) => {
                let Some(mut done) = stack.pop() else {
                    return Err(fail(
                        "an end tag without a start tag".into(),
                        &mut lines,
                        &stack,
                    ));
                };
                done.end = after;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                if stack.is_empty() {
                    xml_syntax::check_outside_root(&text)
                        .map_err(|e| syntax(e, &mut lines, &stack))?;
                    continue;
                }
                let raw = xml_syntax::check_char_data(&text)
                    .map_err(|e| syntax(e, &mut lines, &stack))?;
                let raw = normalize_eol(raw);
                let value = xml_syntax::expand_references(&raw, Place::Text)
                    .map_err(|e| syntax(e, &mut lines, &stack))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&value);
                }
            }
            Event::CData(cdata) => {
                let raw =
                    xml_syntax::check_cdata(&cdata).map_err(|e| syntax(e, &mut lines, &stack))?;
                let value = normalize_eol(raw);
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&value),
                    None => {
                        return Err(fail(
                            "CDATA outside the root element".into(),
                            &mut lines,
                            &stack,
                        ))
                    }
                }
            }
            Event::Decl(decl) => {
                if !was_first {
                    return Err(syntax(
                        xml_syntax::XmlSyntaxError::DeclarationNotAtStart,
                        &mut lines,
                        &stack,
                    ));
                }
                xml_syntax::check_declaration(&decl).map_err(|e| syntax(e, &mut lines, &stack))?;
            }
            Event::DocType(_) => {
                return Err(fail(
                    "a DOCTYPE is not accepted (no DTDs or entity declarations in SDK messages)"
                        .into(),
                    &mut lines,
                    &stack,
                ))
            }
            Event::Comment(c) => {
                xml_syntax::check_comment(&c).map_err(|e| syntax(e, &mut lines, &stack))?;
            }
            Event::PI(pi) => {
                xml_syntax::check_processing_instruction(&pi)
                    .map_err(|e| syntax(e, &mut lines, &stack))?;
            }
            Event::Empty(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError {
            message: format!("the document ends inside <{}>", open.local),
            line: lines.line_at(input.len()),
            path: path_of(&stack),
        });
    }
    root.ok_or_else(|| XmlError {
        message: "no root element".into(),
        line: 1,
        path: String::new(),
    })
}

/// The element namespace as an owned string, so that the reader can be used again.
fn owned_namespace(resolved: ResolveResult<'_>) -> Result<Option<String>, String> {
    match resolved {
        ResolveResult::Bound(ns) => utf8(ns.as_ref(), "namespace URI").map(Some),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(format!(
            "element prefix '{}' is not bound to a namespace",
            String::from_utf8_lossy(&prefix)
        )),
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, String> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| format!("{what} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_cover_the_tags_and_survive_a_bom() {
        let doc = b"\xEF\xBB\xBF<a xmlns='urn:a'>\n  <b x='1'>t&amp;u</b><c/></a>";
        let root = parse(doc).unwrap();
        assert_eq!(root.local, "a");
        let b = &root.children[0];
        assert_eq!(&doc[b.start..b.end], b"<b x='1'>t&amp;u</b>");
        assert_eq!(b.text, "t&u");
        assert_eq!(b.line, 2);
        let c = &root.children[1];
        assert_eq!(&doc[c.start..c.end], b"<c/>");
        assert_eq!(c.ns.as_deref(), Some("urn:a"));
    }

    #[test]
    fn refuses_what_is_not_well_formed_or_not_wanted() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"<a/><b/>",
            b"x<a/>",
            b"<p:a/>",
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            b"<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
            b"",
            b"</a>",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut doc = "<a>".repeat(MAX_DEPTH + 1);
        doc.push_str(&"</a>".repeat(MAX_DEPTH + 1));
        let err = parse(doc.as_bytes()).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err}");
    }

    #[test]
    fn line_ends_are_normalised() {
        let root = parse(b"<a>x\r\ny\rz</a>").unwrap();
        assert_eq!(root.text, "x\ny\nz");
    }
}
