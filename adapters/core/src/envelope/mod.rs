//! Streaming envelope sniffer.
//!
//! The gateway routes a RIV-TA call on three facts: the RIV-TA profile, the logical
//! address (RIV-TA 2.1 `LogicalAddress` / RIV-TA 2.0 `wsa:To` header) and the service
//! contract (the namespace of the first child of the SOAP `Body`). [`sniff`] reads a
//! prefix of the message with quick-xml's pull parser just far enough to learn them and
//! stops at the start tag of the first Body child, so the cost of routing does not
//! depend on the size of the body (DESIGN.md, performance model). quick-xml finds the
//! markup; start tags (attributes and namespace declarations) are checked and resolved
//! by hand in [`start_tag`], borrowing from the input, because that is where quick-xml's
//! namespace reader spent most of the time to a routing decision.
//! Before quick-xml, a hand-written fast path (`fast_path`) reads the markup a
//! routable message consists of and hands each routing fact to the same handlers; on
//! anything outside its subset the message is read again with quick-xml.
//!
//! Names are matched on namespace URI + local name, never on prefixes: the national
//! platform's own test messages use `soap:`, `soapenv:`, `ns5:`, `urn:` and default
//! namespaces for the same elements.
//!
//! The sniffer is built to be called again on a growing prefix: it never returns an
//! error for bytes that merely have not arrived yet ([`SniffOutcome::NeedMore`]), but
//! reports ill-formed content in the bytes it has at once ([`SniffError::Malformed`]).
use std::borrow::Cow;
use std::ops::Range;

use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

mod fast_path;
mod start_tag;

use crate::xml_syntax::{
    self, is_white_space as is_xml_whitespace, quote, Place, XmlSyntaxError, UTF8_BOM,
};
use start_tag::{Bindings, StartTag};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// RIV-TA 2.1 logical address header namespace.
pub const RIVTA21_ADDRESS_NS: &str = "urn:riv:itintegration:registry:1";
/// RIV-TA 2.0 WS-Addressing namespace (`wsa:To`).
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

/// The RIV-TA basic profile a message is written in, told by its address header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RivProfile {
    /// RIV-TA BP 2.0: `wsa:To` header.
    Rivta20,
    /// RIV-TA BP 2.1: `LogicalAddress` header.
    Rivta21,
}

/// The address header as found in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressHeader {
    pub profile: RivProfile,
    /// Trimmed, unescaped text content. May be empty (the gateway answers VP010).
    pub value: String,
    /// Byte range of the whole header element (start of `<` .. end of `>` of the end tag)
    /// in the sniffed input, so a header rewrite can splice without re-serialising.
    pub span: Range<usize>,
}

/// What the sniffer learnt about an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `None` when the header has no RIV-TA address element (VP003).
    pub address: Option<AddressHeader>,
    /// Namespace URI of the first child of `Body`: the service contract.
    pub contract_namespace: String,
    /// Local name of the first child of `Body` (e.g. `GetCareDocumentation`).
    pub body_element: String,
    /// Number of input bytes consumed up to and including the first Body child's start tag.
    pub consumed: usize,
}

/// Limits the sniffer enforces while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniffLimits {
    /// Maximum element nesting depth before the first Body child.
    pub max_depth: usize,
    /// Maximum bytes read before a routing decision (the envelope header must fit).
    pub max_prefix_bytes: usize,
}

impl Default for SniffLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_prefix_bytes: 256 * 1024,
        }
    }
}

/// Result of sniffing a (possibly incomplete) prefix of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniffOutcome {
    /// The routing facts are known; the rest of the body need not be read.
    Complete(Envelope),
    /// The prefix ends before the first Body child: feed more bytes.
    NeedMore,
}

/// Why a message cannot be routed. Each variant maps to VP015 in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SniffError {
    #[error("message is not well-formed XML at byte {position}: {reason}")]
    Malformed { position: usize, reason: String },
    #[error("document type declarations (DTD) are not allowed in SOAP messages (XXE protection)")]
    DtdNotAllowed,
    #[error("root element is {found}, expected a SOAP 1.1 Envelope ({SOAP11_NS})")]
    NotSoapEnvelope { found: String },
    #[error("SOAP Envelope has no Body element")]
    NoBody,
    #[error("SOAP Body is empty: the first Body child names the service contract")]
    EmptyBody,
    #[error(
        "first Body child <{element}> has no namespace: the service contract is its namespace"
    )]
    BodyChildWithoutNamespace { element: String },
    #[error("element nesting deeper than {limit} before the SOAP Body")]
    TooDeep { limit: usize },
    #[error("no routing decision within the first {limit} bytes: the SOAP header is too large")]
    HeaderTooLarge { limit: usize },
    #[error("message ended before the first SOAP Body child")]
    Truncated,
}

/// Sniff `input`, a prefix of a message. `is_final` says whether `input` is the whole
/// message (no more bytes will come).
///
/// * `Ok(Complete)` as soon as the start tag of the first Body child has been read;
///   nothing after it is looked at.
/// * `Ok(NeedMore)` when `input` ends before that and `is_final` is false.
/// * `Err(Truncated)` when it ends before that and `is_final` is true (or
///   `Err(EmptyBody)` if the message ended inside a Body without element children).
/// * Any other error as soon as the bytes at hand show it, whatever `is_final` says.
///
/// Only the first `limits.max_prefix_bytes` bytes are ever parsed; if the decision is
/// not within them the answer is `Err(HeaderTooLarge)`.
///
/// Each call parses `input` from its first byte; a caller feeding a growing prefix
/// should call again only once a useful amount of new bytes has arrived.
pub fn sniff(
    input: &[u8],
    is_final: bool,
    limits: &SniffLimits,
) -> Result<SniffOutcome, SniffError> {
    let limit = limits.max_prefix_bytes;
    let window = &input[..input.len().min(limit)];
    // The window is the whole message only if no byte past the limit exists or can come.
    let window_is_whole = is_final && input.len() <= limit;
    let window_is_capped = input.len() > limit || (input.len() == limit && !is_final);

    let stop = match Sniffer::new(window, limits.max_depth).run_fast() {
        Some(outcome) => {
            // Tests and fuzzing (debug builds) hold the fast path to quick-xml's answer.
            #[cfg(debug_assertions)]
            match Sniffer::new(window, limits.max_depth).run() {
                Stop::Decided(Ok(checked)) => assert_eq!(checked, outcome, "fast path differs"),
                _ => panic!("fast path decided {outcome:?}, quick-xml path did not"),
            }
            Stop::Decided(Ok(outcome))
        }
        None => Sniffer::new(window, limits.max_depth).run(),
    };
    let in_body = match stop {
        Stop::Decided(result) => return result,
        Stop::RanOut { in_body } => in_body,
        // `run` words the error of every invalid start tag; this is never reached.
        Stop::Invalid => {
            return Err(SniffError::Malformed {
                position: 0,
                reason: "invalid start tag".to_owned(),
            })
        }
    };
    if window_is_capped {
        Err(SniffError::HeaderTooLarge { limit })
    } else if !window_is_whole {
        Ok(SniffOutcome::NeedMore)
    } else if in_body {
        Err(SniffError::EmptyBody)
    } else {
        Err(SniffError::Truncated)
    }
}

/// How the parse of the window ended.
enum Stop {
    /// A routing decision or an error that more bytes cannot change.
    Decided(Result<SniffOutcome, SniffError>),
    /// The window ended before a decision; `in_body` says whether it ended inside a
    /// `Body` that has no element child yet.
    RanOut { in_body: bool },
    /// A start tag is not well-formed; which error to report is the tokenizer's job.
    Invalid,
}

impl From<SniffError> for Stop {
    fn from(e: SniffError) -> Self {
        Stop::Decided(Err(e))
    }
}

/// Where a start tag ends, for [`Sniffer::start_element`].
#[derive(Debug, Clone, Copy)]
enum TagEnd {
    /// quick-xml has delimited the tag: it ends at `end`.
    Known { end: usize, is_empty: bool },
    /// The fast path: the tag's own scan finds its `>`.
    Find,
}

/// The open direct child of `Envelope` (depth 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnvelopeChild {
    None,
    Header,
    Body,
    Other,
}

/// An address header element whose end tag has not been read yet.
struct AddressInProgress {
    profile: RivProfile,
    start: usize,
    text: String,
}

struct Sniffer<'i> {
    reader: Reader<&'i [u8]>,
    /// The bytes handed to the reader (the window, BOM included).
    window: &'i [u8],
    /// quick-xml strips a leading UTF-8 BOM without counting it in its positions;
    /// this is added back so that every reported offset indexes the caller's input.
    base: usize,
    max_depth: usize,
    /// Number of open elements.
    depth: usize,
    seen_event: bool,
    envelope_child: EnvelopeChild,
    address: Option<AddressHeader>,
    address_in_progress: Option<AddressInProgress>,
    /// Namespace declarations of the open elements, innermost last.
    bindings: Bindings<'i>,
}

impl<'i> Sniffer<'i> {
    fn new(window: &'i [u8], max_depth: usize) -> Self {
        let mut reader = Reader::from_reader(window);
        let config = reader.config_mut();
        // Comments are checked with the record reader's rules (`xml_syntax::check_comment`).
        config.check_comments = false;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        let base = xml_syntax::byte_order_mark_len(window);
        Self {
            reader,
            window,
            base,
            max_depth,
            depth: 0,
            seen_event: false,
            envelope_child: EnvelopeChild::None,
            address: None,
            address_in_progress: None,
            bindings: Bindings::new(),
        }
    }

    fn run(mut self) -> Stop {
        // A prefix of the BOM is not text: it may still grow into a BOM.
        if !self.window.is_empty()
            && self.window.len() < UTF8_BOM.len()
            && UTF8_BOM.starts_with(self.window)
        {
            return self.ran_out();
        }
        loop {
            match self.step() {
                Ok(()) => {}
                Err(stop) => return stop,
            }
        }
    }

    /// Reads and handles one event.
    fn step(&mut self) -> Result<(), Stop> {
        let before = self.pos();
        let event = match self.reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(self.xml_error(e)),
        };
        let first_event = !self.seen_event;
        self.seen_event = true;
        // For markup, `before` is at its `<`, or just past it when text came first.
        let markup_start = if self.window.get(before) == Some(&b'<') {
            before
        } else {
            before.saturating_sub(1)
        };
        match event {
            Event::Start(e) => self.read_start_tag(&e, false),
            Event::Empty(e) => self.read_start_tag(&e, true),
            Event::End(_) => self.end_element(self.pos()),
            Event::Text(t) => {
                // Text that runs to the end of the window may stop in the middle of an
                // entity reference or of a UTF-8 sequence: left to the next call.
                let at_end = self.pos() >= self.window.len() && self.window.last() != Some(&b'<');
                self.text(&t, before, at_end)
            }
            Event::CData(c) => {
                if self.depth == 0 {
                    return Err(syntax(markup_start, XmlSyntaxError::CdataOutsideRoot));
                }
                // `<![CDATA[` precedes the content.
                let text = xml_syntax::check_cdata(&c).map_err(|e| syntax(markup_start + 9, e))?;
                if let Some(address) = self.address_in_progress.as_mut() {
                    address.text.push_str(&normalize_line_ends(text));
                }
                Ok(())
            }
            Event::Decl(d) => {
                if !first_event {
                    return Err(syntax(markup_start, XmlSyntaxError::DeclarationNotAtStart));
                }
                xml_syntax::check_declaration(&d).map_err(|e| syntax(markup_start, e))
            }
            Event::DocType(_) => Err(SniffError::DtdNotAllowed.into()),
            Event::Comment(c) => {
                xml_syntax::check_comment(&c).map_err(|e| syntax(markup_start + 4, e))
            }
            Event::PI(pi) => xml_syntax::check_processing_instruction(&pi)
                .map_err(|e| syntax(markup_start + 2, e)),
            Event::Eof => Err(self.ran_out()),
        }
    }

    /// Current reader position as an offset into the caller's input.
    fn pos(&self) -> usize {
        self.base
            .saturating_add(usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX))
    }

    fn ran_out(&self) -> Stop {
        Stop::RanOut {
            in_body: self.depth == 2 && self.envelope_child == EnvelopeChild::Body,
        }
    }

    /// A start tag as quick-xml read it.
    fn read_start_tag(&mut self, e: &BytesStart<'i>, is_empty: bool) -> Result<(), Stop> {
        let end = self.pos();
        // `e` holds the bytes between `<` and `>`, minus the `/` of a self-closing tag.
        let tag_len = e.len() + usize::from(is_empty) + 2;
        let start = end.saturating_sub(tag_len);
        // The same bytes as `e`, borrowed from the input so that namespace declarations
        // can stay in scope without a copy.
        let Some(tag) = self.window.get(start + 1..start + 1 + e.len()) else {
            return Err(start_tag_error(e, start, end));
        };
        match self.start_element(tag, start, TagEnd::Known { end, is_empty }) {
            Ok(_) => Ok(()),
            Err(Stop::Invalid) => Err(start_tag_error(e, start, end)),
            Err(stop) => Err(stop),
        }
    }

    /// A start tag whose `<` is at `start`; `tag` the bytes after the `<`, up to the
    /// `>` (without the `/` of an empty-element tag) when the end is known.
    /// `Err(Stop::Invalid)` when the tag itself is not well-formed (or, with
    /// [`TagEnd::Find`], not in the fast path's subset); the caller words the error.
    fn start_element(
        &mut self,
        tag: &'i [u8],
        start: usize,
        tag_end: TagEnd,
    ) -> Result<StartTag, Stop> {
        let depth = self.depth + 1;
        let scope = self.bindings.len();
        let mode = match tag_end {
            TagEnd::Known { .. } => start_tag::TagEnd::Known,
            TagEnd::Find => start_tag::TagEnd::Find,
        };
        let Ok(checked) = start_tag::scan(tag, mode, depth, &mut self.bindings) else {
            return Err(Stop::Invalid);
        };
        let (end, is_empty) = match tag_end {
            TagEnd::Known { end, is_empty } => (end, is_empty),
            // `start` + `<` + up to and including the `>`.
            TagEnd::Find => (start + 1 + checked.close + 1, checked.is_empty),
        };
        if depth > self.max_depth {
            return Err(SniffError::TooDeep {
                limit: self.max_depth,
            }
            .into());
        }
        let qname = &tag[..checked.name_len];
        let (prefix, local_name) = match checked.colon {
            Some(i) => (Some(&qname[..i]), &qname[i + 1..]),
            None => (None, qname),
        };
        let namespace = self.element_namespace(prefix, qname, start)?;
        // Names and URIs are compared as bytes; `scan` has proven both UTF-8.
        let local = local_name;
        let in_soap = namespace.as_deref() == Some(SOAP11_NS.as_bytes());
        let is_soap = |name: &str| in_soap && local == name.as_bytes();

        let mut kind = EnvelopeChild::Other;
        match depth {
            1 => {
                // SOAP 1.1 §4.1.1: the root is `Envelope` in the SOAP 1.1 namespace. A SOAP
                // 1.2 envelope is refused here: RIV-TA mandates SOAP 1.1.
                if !is_soap("Envelope") {
                    let found = match namespace.as_deref() {
                        Some(uri) => {
                            format!("{{{}}}{}", quote(uri), quote(local))
                        }
                        None => quote(local),
                    };
                    return Err(SniffError::NotSoapEnvelope { found }.into());
                }
                if is_empty {
                    return Err(SniffError::NoBody.into());
                }
            }
            2 => {
                if is_soap("Header") {
                    kind = EnvelopeChild::Header;
                } else if is_soap("Body") {
                    if is_empty {
                        return Err(SniffError::EmptyBody.into());
                    }
                    kind = EnvelopeChild::Body;
                }
            }
            3 if self.envelope_child == EnvelopeChild::Header => {
                // Only direct children of Header are address headers (RIV-TA 2.1
                // LogicalAddress, RIV-TA 2.0 wsa:To). The first one wins; later ones
                // are ignored like any other header block.
                let profile = match namespace.as_deref() {
                    Some(uri)
                        if uri == RIVTA21_ADDRESS_NS.as_bytes() && local == b"LogicalAddress" =>
                    {
                        Some(RivProfile::Rivta21)
                    }
                    Some(uri) if uri == WSA_NS.as_bytes() && local == b"To" => {
                        Some(RivProfile::Rivta20)
                    }
                    _ => None,
                };
                if let Some(profile) = profile {
                    if self.address.is_none() && self.address_in_progress.is_none() {
                        if is_empty {
                            self.address = Some(AddressHeader {
                                profile,
                                value: String::new(),
                                span: start..end,
                            });
                        } else {
                            self.address_in_progress = Some(AddressInProgress {
                                profile,
                                start,
                                text: String::new(),
                            });
                        }
                    }
                }
            }
            3 if self.envelope_child == EnvelopeChild::Body => {
                // RIV-TA: the service contract is the namespace of the first Body child.
                let Some(contract) = namespace else {
                    return Err(SniffError::BodyChildWithoutNamespace {
                        element: quote(qname),
                    }
                    .into());
                };
                return Err(Stop::Decided(Ok(SniffOutcome::Complete(Envelope {
                    address: self.address.take(),
                    contract_namespace: utf8_string(&contract),
                    body_element: utf8_string(local),
                    consumed: end,
                }))));
            }
            _ => {}
        }
        if is_empty {
            // The declarations of an empty element end with it.
            self.bindings.truncate(scope);
        } else {
            self.depth = depth;
            if depth == 2 {
                self.envelope_child = kind;
            }
        }
        Ok(checked)
    }

    /// The namespace URI of an element named `qname` with `prefix`, resolved against
    /// the declarations in scope as quick-xml's `NamespaceResolver` does; `None` when
    /// it has none (no prefix and no default namespace, or `xmlns=""`). Declarations
    /// are attribute values, which `scan` has proven UTF-8.
    fn element_namespace(
        &self,
        prefix: Option<&[u8]>,
        qname: &[u8],
        start: usize,
    ) -> Result<Option<Cow<'i, [u8]>>, Stop> {
        let wanted = prefix.unwrap_or_default();
        let declared = self.bindings.find(wanted);
        let uri: &'i [u8] = match (declared, prefix) {
            (Some(binding), _) if !binding.uri.is_empty() => binding.uri,
            (_, None) => return Ok(None),
            // `xml` is bound without a declaration and cannot be rebound.
            (None, Some(b"xml")) => start_tag::XML_NS,
            (_, Some(prefix)) => {
                return Err(malformed(
                    start,
                    format!(
                        "namespace prefix `{}` of <{}> is not declared (add xmlns:{}=\"...\")",
                        quote(prefix),
                        quote(qname),
                        quote(prefix)
                    ),
                ))
            }
        };
        let has_reference = declared.is_some_and(|b| b.has_reference);
        if !has_reference {
            // The common case: the declaration's bytes are the URI (no copy).
            return Ok(Some(Cow::Borrowed(uri)));
        }
        // Declarations are kept as written; a URI written with character references
        // (`&#58;`) must still match the RIV-TA namespaces.
        let uri = xml_syntax::attribute_value_problem(uri).map_err(|e| {
            malformed(
                start,
                format!("invalid namespace of <{}>: {e}", quote(qname)),
            )
        })?;
        Ok(Some(Cow::Owned(uri.into_owned().into_bytes())))
    }

    /// An end tag ending at `end`, already checked to match the open element.
    fn end_element(&mut self, end: usize) -> Result<(), Stop> {
        let Some(depth) = self.depth.checked_sub(1) else {
            return Err(malformed(end, "end tag without a start tag"));
        };
        self.depth = depth;
        // The declarations of the closed element go out of scope.
        let in_scope = self
            .bindings
            .as_slice()
            .partition_point(|b| b.level <= depth);
        self.bindings.truncate(in_scope);
        match depth {
            0 => Err(SniffError::NoBody.into()),
            1 => {
                if self.envelope_child == EnvelopeChild::Body {
                    return Err(SniffError::EmptyBody.into());
                }
                self.envelope_child = EnvelopeChild::None;
                Ok(())
            }
            2 => {
                if let Some(address) = self.address_in_progress.take() {
                    self.address = Some(AddressHeader {
                        profile: address.profile,
                        value: trimmed(address.text),
                        span: address.start..end,
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Text starting at `start`; `at_end` when it runs to the end of the window.
    fn text(&mut self, t: &[u8], start: usize, at_end: bool) -> Result<(), Stop> {
        // Mostly layout between tags: white space needs no check.
        if t.len() <= 16 && t.iter().all(|b| is_xml_whitespace(*b)) {
            if let Some(address) = self.address_in_progress.as_mut().filter(|_| !at_end) {
                address.text.push_str(&normalize_line_ends(
                    std::str::from_utf8(t).unwrap_or_default(),
                ));
            }
            return Ok(());
        }
        if self.depth == 0 {
            // XML 1.0 §2.1: only markup and white space may surround the root element.
            // Non-XML input (JSON, binary) is refused here, on its first byte.
            return xml_syntax::check_outside_root(t).map_err(|e| syntax(start, e));
        }
        if at_end {
            return Ok(());
        }
        // The record reader's checks, in its order: the characters as written, then the
        // references.
        let raw = xml_syntax::check_char_data(t).map_err(|e| syntax(start, e))?;
        let Some(address) = self.address_in_progress.as_mut() else {
            // Text outside the address is only checked, never kept.
            if raw.contains('&') {
                xml_syntax::expand_references(raw, Place::Text).map_err(|e| syntax(start, e))?;
            }
            return Ok(());
        };
        // The address as it is mostly written: no references, no CR to normalise.
        if memchr::memchr2(b'&', b'\r', t).is_none() {
            address.text.push_str(raw);
            return Ok(());
        }
        let expanded =
            xml_syntax::expand_references(raw, Place::Text).map_err(|e| syntax(start, e))?;
        if raw.contains('\r') {
            // Line ends are normalised before references are expanded, so `&#13;` stays
            // a CR; the references are known to be valid.
            let normalized = normalize_line_ends(raw);
            let text = xml_syntax::expand_references(&normalized, Place::Text)
                .map_err(|e| syntax(start, e))?;
            address.text.push_str(&text);
        } else {
            address.text.push_str(&expanded);
        }
        Ok(())
    }

    /// Turns a quick-xml error into either "need more bytes" or a final error.
    fn xml_error(&self, e: XmlError) -> Stop {
        let rel = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX);
        let position = self.base.saturating_add(rel);
        let tail = self.window.get(position..).unwrap_or_default();
        match e {
            XmlError::Syntax(kind) => {
                let incomplete = match kind {
                    SyntaxError::InvalidBangMarkup
                    | SyntaxError::UnclosedComment
                    | SyntaxError::UnclosedCData
                    | SyntaxError::UnclosedDoctype => match classify_bang(tail) {
                        Bang::Incomplete => true,
                        Bang::Doctype => return SniffError::DtdNotAllowed.into(),
                        Bang::Invalid => false,
                    },
                    SyntaxError::UnclosedPIOrXmlDecl => {
                        !contains(tail.get(1..).unwrap_or_default(), b"?>")
                    }
                    // quick-xml reports an unclosed tag only when it runs out of bytes.
                    SyntaxError::UnclosedTag => self.pos() >= self.window.len(),
                };
                // Each check above looks at everything from the markup's `<` to the end
                // of the window, so "incomplete" means "cut by the end of the input".
                if incomplete {
                    // Cut inside markup: "truncated", never "empty Body", when final.
                    Stop::RanOut { in_body: false }
                } else {
                    malformed(position, xml_syntax::markup_error_reason(kind))
                }
            }
            // `<!DOCTYPE>` without a name is still a DTD.
            XmlError::IllFormed(IllFormedError::MissingDoctypeName) => {
                SniffError::DtdNotAllowed.into()
            }
            other => malformed(position, other.to_string()),
        }
    }
}

/// A declaration, name or character problem (`xml_syntax`) found in bytes that start at
/// `start` in the input.
fn syntax(start: usize, e: XmlSyntaxError) -> Stop {
    malformed(start + e.offset(), e.to_string())
}

fn malformed(position: usize, reason: impl Into<String>) -> Stop {
    SniffError::Malformed {
        position,
        reason: reason.into(),
    }
    .into()
}

/// What a tail of input starting with `<!` is.
#[derive(Debug, PartialEq, Eq)]
enum Bang {
    /// A prefix of a comment, CDATA section or DOCTYPE that is not closed yet.
    Incomplete,
    /// A document type declaration (possibly unclosed): refused whatever follows.
    Doctype,
    /// Neither: ill-formed.
    Invalid,
}

fn classify_bang(tail: &[u8]) -> Bang {
    const DOCTYPE: &[u8] = b"<!DOCTYPE";
    const COMMENT: &[u8] = b"<!--";
    const CDATA: &[u8] = b"<![CDATA[";
    let n = tail.len();
    if n >= DOCTYPE.len() && tail[..DOCTYPE.len()].eq_ignore_ascii_case(DOCTYPE) {
        return Bang::Doctype;
    }
    if n < DOCTYPE.len() && DOCTYPE[..n].eq_ignore_ascii_case(tail) {
        return Bang::Incomplete;
    }
    for (open, close) in [(COMMENT, &b"-->"[..]), (CDATA, &b"]]>"[..])] {
        if n < open.len() && open.starts_with(tail) {
            return Bang::Incomplete;
        }
        if tail.starts_with(open) {
            return if contains(&tail[open.len()..], close) {
                Bang::Invalid
            } else {
                Bang::Incomplete
            };
        }
    }
    Bang::Invalid
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The error for a start tag that [`start_tag::scan`] refused, derived with quick-xml in
/// the order the sniffer has always checked: namespace declarations (as `NsReader`
/// binds them, before anything else), the element name, then the attributes.
fn start_tag_error(e: &BytesStart<'_>, start: usize, end: usize) -> Stop {
    for attr in e.attributes().with_checks(false) {
        let Ok(attr) = attr else { break };
        if let Some(err) = start_tag::binding_error(attr.key.as_ref(), &attr.value) {
            // quick-xml's namespace errors carry no position; the tag ends here.
            return malformed(end, format!("namespace error: {err}"));
        }
    }
    let qname = e.name();
    if let Err(e) = xml_syntax::check_element_name(qname.as_ref()) {
        return syntax(start, e);
    }
    // Namespaces in XML 1.0 §3: element names must not have the prefix `xmlns`.
    if qname.prefix().is_some_and(|p| p.as_ref() == b"xmlns") {
        return malformed(start, "element names must not use the prefix `xmlns`");
    }
    if let Err(stop) = check_attributes(e, start) {
        return stop;
    }
    malformed(
        start,
        format!("invalid start tag <{}>", quote(qname.as_ref())),
    )
}

/// Checks the attributes of a start tag the decision depends on: syntax, duplicates,
/// names and values (`xml_syntax`: no `<`, only `Char`s, only known references).
fn check_attributes(e: &BytesStart<'_>, start: usize) -> Result<(), Stop> {
    let element = e.name();
    for attr in e.attributes().with_checks(true) {
        let attr = attr.map_err(|err| {
            let e = XmlSyntaxError::AttributeSyntax {
                element: quote(element.as_ref()),
                detail: err.to_string(),
            };
            syntax(start, e)
        })?;
        xml_syntax::check_attribute_name(element.as_ref(), attr.key.as_ref())
            .map_err(|e| syntax(start, e))?;
        xml_syntax::attribute_value(element.as_ref(), attr.key.as_ref(), &attr.value)
            .map_err(|e| syntax(start, e))?;
    }
    Ok(())
}

/// Bytes `scan` has proven UTF-8, as a `String`.
fn utf8_string(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map_or_else(
        |_| String::from_utf8_lossy(bytes).into_owned(),
        str::to_owned,
    )
}

/// XML 1.0 §2.11: a parser hands CR LF and a lone CR on as a single LF.
fn normalize_line_ends(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Trims XML white space only, in place: a logical address (an HSA id or organisation
/// number) is compared as a string, and Unicode spaces such as NBSP are part of it,
/// not layout.
fn trimmed(mut text: String) -> String {
    let space = |c| matches!(c, ' ' | '\t' | '\r' | '\n');
    text.truncate(text.trim_end_matches(space).len());
    let start = text.len() - text.trim_start_matches(space).len();
    text.drain(..start);
    text
}

#[cfg(test)]
mod tests;
