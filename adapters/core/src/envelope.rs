//! Streaming envelope sniffer.
//!
//! The gateway routes a RIV-TA call on three facts: the RIV-TA profile, the logical
//! address (RIV-TA 2.1 `LogicalAddress` / RIV-TA 2.0 `wsa:To` header) and the service
//! contract (the namespace of the first child of the SOAP `Body`). [`sniff`] reads a
//! prefix of the message with quick-xml's namespace-aware pull parser just far enough
//! to learn them and stops at the start tag of the first Body child, so the cost of
//! routing does not depend on the size of the body (DESIGN.md, performance model).
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
use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

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

    let in_body = match Sniffer::new(window, limits.max_depth).run() {
        Stop::Decided(result) => return result,
        Stop::RanOut { in_body } => in_body,
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

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest excerpt of input quoted in an error message: errors end up in logs and SOAP
/// faults, and a hostile element name may be as long as the whole prefix.
const MAX_QUOTED: usize = 120;

/// How the parse of the window ended.
enum Stop {
    /// A routing decision or an error that more bytes cannot change.
    Decided(Result<SniffOutcome, SniffError>),
    /// The window ended before a decision; `in_body` says whether it ended inside a
    /// `Body` that has no element child yet.
    RanOut { in_body: bool },
}

impl From<SniffError> for Stop {
    fn from(e: SniffError) -> Self {
        Stop::Decided(Err(e))
    }
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
    reader: NsReader<&'i [u8]>,
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
}

impl<'i> Sniffer<'i> {
    fn new(window: &'i [u8], max_depth: usize) -> Self {
        let mut reader = NsReader::from_reader(window);
        let config = reader.config_mut();
        // XML 1.0 §2.5: `--` must not occur inside a comment.
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        let base = if window.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
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
        let (ns, event) = match self.reader.read_resolved_event() {
            // The resolution borrows the reader; own it so the handlers can use `self`.
            Ok((ns, event)) => (ElementNs::from(ns), event),
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
            Event::Start(e) => self.start_element(ns, &e, false),
            Event::Empty(e) => self.start_element(ns, &e, true),
            Event::End(_) => self.end_element(),
            Event::Text(t) => self.text(&t, before),
            Event::CData(c) => {
                if self.depth == 0 {
                    return Err(malformed(
                        markup_start,
                        "CDATA section outside the root element",
                    ));
                }
                if let Some(address) = self.address_in_progress.as_mut() {
                    let text = std::str::from_utf8(&c)
                        .map_err(|_| malformed(markup_start, "CDATA section is not valid UTF-8"))?;
                    address.text.push_str(&normalize_line_ends(text));
                }
                Ok(())
            }
            Event::Decl(d) => {
                // XML 1.0 §2.8: the XML declaration may only stand at the very start.
                if !first_event {
                    return Err(malformed(
                        markup_start,
                        "XML declaration is only allowed at the very start of the message",
                    ));
                }
                if let Err(e) = d.version() {
                    return Err(malformed(
                        markup_start,
                        format!("invalid XML declaration: {e}"),
                    ));
                }
                match d.encoding() {
                    None => Ok(()),
                    Some(Ok(enc)) if is_utf8_label(&enc) => Ok(()),
                    // RIV-TA messages are UTF-8; the sniffer reads names and the address
                    // as UTF-8, so another declared encoding would be misread, not routed.
                    Some(Ok(enc)) => Err(malformed(
                        markup_start,
                        format!(
                            "declared encoding \"{}\" is not supported: send the message in UTF-8",
                            quote(&enc)
                        ),
                    )),
                    Some(Err(e)) => Err(malformed(
                        markup_start,
                        format!("invalid XML declaration: {e}"),
                    )),
                }
            }
            Event::DocType(_) => Err(SniffError::DtdNotAllowed.into()),
            Event::Comment(_) | Event::PI(_) => Ok(()),
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

    fn start_element(
        &mut self,
        ns: ElementNs,
        e: &BytesStart<'_>,
        is_empty: bool,
    ) -> Result<(), Stop> {
        let end = self.pos();
        // `e` holds the bytes between `<` and `>`, minus the `/` of a self-closing tag.
        let tag_len = e.len() + usize::from(is_empty) + 2;
        let start = end.saturating_sub(tag_len);
        let qname = e.name();
        check_qname(qname.as_ref()).map_err(|why| {
            malformed(
                start,
                format!("invalid element name <{}>: {why}", quote(qname.as_ref())),
            )
        })?;
        // Namespaces in XML 1.0 §3: element names must not have the prefix `xmlns`.
        if qname.prefix().is_some_and(|p| p.as_ref() == b"xmlns") {
            return Err(malformed(
                start,
                "element names must not use the prefix `xmlns`",
            ));
        }
        check_attributes(e, start)?;
        let depth = self.depth + 1;
        if depth > self.max_depth {
            return Err(SniffError::TooDeep {
                limit: self.max_depth,
            }
            .into());
        }
        let namespace = element_namespace(ns, qname.as_ref(), start)?;
        // check_qname has proven the name UTF-8.
        let local_name = e.local_name();
        let local = String::from_utf8_lossy(local_name.as_ref());
        let is_soap = |name: &str| namespace.as_deref() == Some(SOAP11_NS) && local == name;

        let mut kind = EnvelopeChild::Other;
        match depth {
            1 => {
                // SOAP 1.1 §4.1.1: the root is `Envelope` in the SOAP 1.1 namespace. A SOAP
                // 1.2 envelope is refused here: RIV-TA mandates SOAP 1.1.
                if !is_soap("Envelope") {
                    let found = match namespace.as_deref() {
                        Some(uri) => {
                            format!("{{{}}}{}", quote(uri.as_bytes()), quote(local.as_bytes()))
                        }
                        None => quote(local.as_bytes()),
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
                    Some(RIVTA21_ADDRESS_NS) if local == "LogicalAddress" => {
                        Some(RivProfile::Rivta21)
                    }
                    Some(WSA_NS) if local == "To" => Some(RivProfile::Rivta20),
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
                        element: quote(qname.as_ref()),
                    }
                    .into());
                };
                return Err(Stop::Decided(Ok(SniffOutcome::Complete(Envelope {
                    address: self.address.take(),
                    contract_namespace: contract,
                    body_element: local.into_owned(),
                    consumed: end,
                }))));
            }
            _ => {}
        }
        if !is_empty {
            self.depth = depth;
            if depth == 2 {
                self.envelope_child = kind;
            }
        }
        Ok(())
    }

    fn end_element(&mut self) -> Result<(), Stop> {
        // quick-xml has checked that this end tag matches the open element.
        let end = self.pos();
        let Some(depth) = self.depth.checked_sub(1) else {
            return Err(malformed(end, "end tag without a start tag"));
        };
        self.depth = depth;
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
                        value: trim_xml_whitespace(&address.text).to_owned(),
                        span: address.start..end,
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn text(&mut self, t: &BytesText<'_>, start: usize) -> Result<(), Stop> {
        if self.depth == 0 {
            // XML 1.0 §2.1: only markup and white space may surround the root element.
            // Non-XML input (JSON, binary) is refused here, on its first byte.
            if let Some(i) = t.iter().position(|b| !is_xml_whitespace(*b)) {
                return Err(malformed(
                    start + i,
                    "text outside the root element: this is not an XML message",
                ));
            }
            return Ok(());
        }
        // Text that runs to the end of the window may stop in the middle of an entity
        // reference or of a UTF-8 sequence: leave it to the next call with more bytes.
        let at_end = self.pos() >= self.window.len() && self.window.last() != Some(&b'<');
        if at_end {
            return Ok(());
        }
        let raw = std::str::from_utf8(t)
            .map_err(|e| malformed(start + e.valid_up_to(), "text is not valid UTF-8"))?;
        // Line ends are normalised before references are expanded, so `&#13;` stays a CR.
        let normalized = normalize_line_ends(raw);
        let text = quick_xml::escape::unescape(&normalized)
            .map_err(|e| malformed(start, format!("invalid text content: {e}")))?;
        if let Some(address) = self.address_in_progress.as_mut() {
            address.text.push_str(&text);
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
                    malformed(position, syntax_reason(kind))
                }
            }
            // `<!DOCTYPE>` without a name is still a DTD.
            XmlError::IllFormed(IllFormedError::MissingDoctypeName) => {
                SniffError::DtdNotAllowed.into()
            }
            // quick-xml does not record a position for namespace errors; the offending
            // start tag ends at the current position.
            XmlError::Namespace(e) => malformed(self.pos(), format!("namespace error: {e}")),
            other => malformed(position, other.to_string()),
        }
    }
}

fn malformed(position: usize, reason: impl Into<String>) -> Stop {
    SniffError::Malformed {
        position,
        reason: reason.into(),
    }
    .into()
}

fn syntax_reason(kind: SyntaxError) -> String {
    match kind {
        SyntaxError::InvalidBangMarkup | SyntaxError::UnclosedComment | SyntaxError::UnclosedCData => {
            "invalid markup after `<!`: expected a comment `<!-- -->` or a CDATA section `<![CDATA[ ]]>`".to_owned()
        }
        SyntaxError::UnclosedPIOrXmlDecl => {
            "processing instruction or XML declaration not closed by `?>`".to_owned()
        }
        other => other.to_string(),
    }
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

/// An element's namespace as resolved by quick-xml, owned.
enum ElementNs {
    Unbound,
    Bound(Vec<u8>),
    Unknown(Vec<u8>),
}

impl From<ResolveResult<'_>> for ElementNs {
    fn from(ns: ResolveResult<'_>) -> Self {
        match ns {
            ResolveResult::Bound(uri) if !uri.as_ref().is_empty() => {
                Self::Bound(uri.as_ref().to_vec())
            }
            ResolveResult::Bound(_) | ResolveResult::Unbound => Self::Unbound,
            ResolveResult::Unknown(prefix) => Self::Unknown(prefix),
        }
    }
}

/// Resolves an element's namespace to its URI; `None` when it has none.
fn element_namespace(ns: ElementNs, qname: &[u8], start: usize) -> Result<Option<String>, Stop> {
    match ns {
        ElementNs::Bound(uri) => {
            let raw = String::from_utf8(uri).map_err(|_| {
                malformed(
                    start,
                    format!("namespace of <{}> is not valid UTF-8", quote(qname)),
                )
            })?;
            if !raw.contains('&') {
                // The common case: the resolved bytes are the URI (no second copy).
                return Ok(Some(raw));
            }
            // quick-xml resolves prefixes to the raw attribute value; a URI written with
            // character references (`&#58;`) must still match the RIV-TA namespaces.
            let uri = quick_xml::escape::unescape(&raw).map_err(|e| {
                malformed(
                    start,
                    format!("invalid namespace of <{}>: {e}", quote(qname)),
                )
            })?;
            Ok(Some(uri.into_owned()))
        }
        ElementNs::Unbound => Ok(None),
        ElementNs::Unknown(prefix) => Err(malformed(
            start,
            format!(
                "namespace prefix `{}` of <{}> is not declared (add xmlns:{}=\"...\")",
                quote(&prefix),
                quote(qname),
                quote(&prefix)
            ),
        )),
    }
}

/// Checks the attributes of a start tag the decision depends on: syntax, duplicates,
/// names, and that values contain only known entity references (no custom entities).
fn check_attributes(e: &BytesStart<'_>, start: usize) -> Result<(), Stop> {
    for attr in e.attributes().with_checks(true) {
        let element = || quote(e.name().as_ref());
        let attr = attr.map_err(|err| {
            malformed(
                start,
                format!("invalid attribute in <{}>: {err}", element()),
            )
        })?;
        check_qname(attr.key.as_ref()).map_err(|why| {
            malformed(
                start,
                format!(
                    "invalid attribute name `{}` in <{}>: {why}",
                    quote(attr.key.as_ref()),
                    element()
                ),
            )
        })?;
        // XML 1.0 §3.1 (AttValue): `<` may not appear literally in an attribute value.
        if attr.value.contains(&b'<') {
            return Err(malformed(
                start,
                format!(
                    "`<` in the value of attribute `{}` in <{}>",
                    quote(attr.key.as_ref()),
                    element()
                ),
            ));
        }
        attr.unescape_value().map_err(|err| {
            malformed(
                start,
                format!(
                    "invalid value of attribute `{}` in <{}>: {err}",
                    quote(attr.key.as_ref()),
                    element()
                ),
            )
        })?;
    }
    Ok(())
}

/// Checks a qualified name against Namespaces in XML 1.0 (QName = NCName [':' NCName]).
/// Non-ASCII name characters are accepted as long as the name is UTF-8.
fn check_qname(name: &[u8]) -> Result<(), &'static str> {
    // Names are almost always ASCII: validate UTF-8 only when a byte says otherwise.
    if !name.is_ascii() && std::str::from_utf8(name).is_err() {
        return Err("name is not valid UTF-8");
    }
    let mut parts = name.splitn(2, |b| *b == b':');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    for part in std::iter::once(first).chain(second) {
        let Some((head, rest)) = part.split_first() else {
            return Err("empty name or prefix");
        };
        let start_ok = head.is_ascii_alphabetic() || *head == b'_' || *head >= 0x80;
        if !start_ok {
            return Err("a name must start with a letter or `_`");
        }
        if !rest
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || *b >= 0x80)
        {
            return Err("a name may contain only letters, digits, `_`, `-`, `.` and one `:`");
        }
    }
    Ok(())
}

/// XML 1.0 §2.11: a parser hands CR LF and a lone CR on as a single LF.
fn normalize_line_ends(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(s)
    }
}

fn is_utf8_label(label: &[u8]) -> bool {
    label.eq_ignore_ascii_case(b"utf-8") || label.eq_ignore_ascii_case(b"utf8")
}

/// XML 1.0 §2.3 white space (S).
fn is_xml_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims XML white space only: a logical address (an HSA id or organisation number) is
/// compared as a string, and Unicode spaces such as NBSP are part of it, not layout.
fn trim_xml_whitespace(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// A printable, bounded excerpt of input for error messages.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX_QUOTED {
        return text.into_owned();
    }
    let mut cut: String = text.chars().take(MAX_QUOTED).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bang_prefixes_wait_for_more_bytes() {
        for tail in [
            &b"<!"[..],
            b"<!-",
            b"<!--",
            b"<!-- abc",
            b"<![CDA",
            b"<![CDATA[x]",
            b"<!DOC",
        ] {
            assert_eq!(
                classify_bang(tail),
                Bang::Incomplete,
                "{:?}",
                String::from_utf8_lossy(tail)
            );
        }
    }

    #[test]
    fn doctype_is_refused_even_unclosed() {
        assert_eq!(classify_bang(b"<!DOCTYPE x [ <!ENTITY"), Bang::Doctype);
        assert_eq!(classify_bang(b"<!doctype"), Bang::Doctype);
    }

    #[test]
    fn bogus_bang_markup_is_invalid() {
        for tail in [
            &b"<!x"[..],
            b"<!-x -->",
            b"<![CDATA]]>",
            b"<!DOCX>",
            b"<!-- a -->",
        ] {
            assert_eq!(
                classify_bang(tail),
                Bang::Invalid,
                "{:?}",
                String::from_utf8_lossy(tail)
            );
        }
    }

    #[test]
    fn qnames() {
        for ok in [
            &b"a"[..],
            b"soap:Envelope",
            b"_x.y-z",
            b"ns5:LogicalAddress",
            "å:ö".as_bytes(),
        ] {
            assert_eq!(check_qname(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b":a",
            b"a:",
            b"a:b:c",
            b"1a",
            b"a b",
            b"a\"",
            b"-a",
            b"\xff",
        ] {
            assert!(
                check_qname(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn trims_only_xml_whitespace() {
        assert_eq!(trim_xml_whitespace(" \t\r\nSE123\n "), "SE123");
        assert_eq!(trim_xml_whitespace("\u{a0}SE123"), "\u{a0}SE123");
    }

    #[test]
    fn long_names_are_cut_in_messages() {
        let long = "x".repeat(1000);
        let quoted = quote(long.as_bytes());
        assert_eq!(quoted.chars().count(), MAX_QUOTED + 1);
        assert!(quoted.ends_with('…'));
    }
}
