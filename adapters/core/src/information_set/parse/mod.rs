//! Streaming readers for a consumer's request and a producer's response.
//!
//! One pass with quick-xml's `NsReader` over the whole envelope; no DOM. Elements of the
//! envelope, the request/response element and the record element are matched by
//! namespace URI and local name (never by prefix); the header fields below a record are
//! matched by local-name paths, as the descriptor says.
//!
//! Records are later copied byte-for-byte into the merged response, so this reader is
//! deliberately stricter than quick-xml alone: it checks what a conforming XML parser
//! would reject (name syntax, characters, entity references, attribute values, unbound
//! prefixes, duplicate attributes, stray text, a second root). A document type
//! declaration is refused outright: no DTD, no entity expansion.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::NsReader;

use super::{
    AdapterError, InformationSetDescriptor, ProducerResponse, QueryRequest, Record, RecordInterval,
};
use crate::xml_syntax::{self, quote, Place, XmlSyntaxError};
use record::{interval_of, RecordFields};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Deeper nesting than this is refused (RIV-TA payloads are a few dozen levels deep).
const MAX_DEPTH: usize = 256;

/// The `xml` prefix is bound by definition (XML Namespaces §3) and never declared.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// One open element.
struct Frame {
    local: String,
    namespace: String,
    /// Length of `Walker::declarations` before this element's own declarations.
    declarations_before: usize,
}

/// What the walker reports to a reader of a particular message kind. Text borrows the
/// input where it holds no entity references (the common case: no allocation).
enum Step<'t> {
    /// An element opened; `start` is the offset of its `<`. Its frame is the last on the
    /// stack. `empty` elements are followed by an `End` at once.
    Start { start: usize },
    /// Character data of the innermost open element (already unescaped).
    Text(Cow<'t, str>),
    /// The innermost element closes (its frame is still on the stack); `end` is the
    /// offset just after its end tag.
    End { end: usize },
}

struct Walker<'i> {
    reader: NsReader<&'i [u8]>,
    /// Bytes skipped before the reader's input (a UTF-8 byte order mark).
    base: usize,
    /// Frames of the open elements are `frames[..depth]`; the ones above are kept to
    /// reuse their strings' buffers (one allocation per nesting level, not per element).
    frames: Vec<Frame>,
    depth: usize,
    /// Namespace declarations of the open elements, outermost first: (prefix or "", URI).
    declarations: Vec<(String, String)>,
    seen_root: bool,
    root_closed: bool,
}

fn malformed(offset: usize, reason: impl Into<String>) -> AdapterError {
    AdapterError::Malformed {
        offset: offset as u64,
        reason: reason.into(),
    }
}

/// A declaration, name or character problem (`xml_syntax`, worded as the envelope
/// sniffer words it) in bytes that start at `start` in the input.
fn syntax(start: usize, e: XmlSyntaxError) -> AdapterError {
    malformed(start + e.offset(), e.to_string())
}

impl<'i> Walker<'i> {
    fn new(input: &'i [u8]) -> Self {
        // quick-xml skips one UTF-8 byte order mark without counting it in its positions
        // (as in the sniffer); a second one is text before the root element.
        let base = xml_syntax::byte_order_mark_len(input);
        let mut reader = NsReader::from_reader(input);
        // End tags must match start tags (the default, stated because we rely on it).
        reader.config_mut().check_end_names = true;
        Walker {
            reader,
            base,
            frames: Vec::new(),
            depth: 0,
            declarations: Vec::new(),
            seen_root: false,
            root_closed: false,
        }
    }

    /// The open elements, outermost first.
    fn stack(&self) -> &[Frame] {
        &self.frames[..self.depth]
    }

    /// Number of open elements.
    fn depth(&self) -> usize {
        self.depth
    }

    /// The innermost open element.
    fn top(&self) -> Option<&Frame> {
        self.stack().last()
    }

    fn position(&self) -> usize {
        self.base + self.reader.buffer_position() as usize
    }

    /// Namespace declarations in scope at the innermost open element that were made on
    /// its ancestors and are not redeclared on the element itself (innermost wins).
    fn inherited_declarations(&self) -> Vec<(String, String)> {
        let Some(frame) = self.top() else {
            return Vec::new();
        };
        let own = &self.declarations[frame.declarations_before..];
        let mut inherited: Vec<(String, String)> = Vec::new();
        for (prefix, uri) in self.declarations[..frame.declarations_before].iter().rev() {
            if own.iter().any(|(p, _)| p == prefix) || inherited.iter().any(|(p, _)| p == prefix) {
                continue;
            }
            inherited.push((prefix.clone(), uri.clone()));
        }
        inherited.reverse();
        inherited
    }

    /// Reads until the next step; `None` at the end of a well-formed document.
    fn next(&mut self, pending_end: &mut Option<usize>) -> Result<Option<Step<'i>>, AdapterError> {
        if let Some(end) = pending_end.take() {
            return Ok(Some(Step::End { end }));
        }
        loop {
            let before = self.position();
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let reason = match e {
                        quick_xml::Error::Syntax(kind) => xml_syntax::markup_error_reason(kind),
                        other => other.to_string(),
                    };
                    let position = self.base + self.reader.error_position() as usize;
                    return Err(malformed(position, reason));
                }
            };
            match event {
                Event::Start(start) => {
                    self.open(&start, before)?;
                    return Ok(Some(Step::Start { start: before }));
                }
                Event::Empty(start) => {
                    self.open(&start, before)?;
                    *pending_end = Some(self.position());
                    return Ok(Some(Step::Start { start: before }));
                }
                Event::End(_) => {
                    // quick-xml checked that the name matches the open element.
                    return Ok(Some(Step::End {
                        end: self.position(),
                    }));
                }
                Event::Text(text) => {
                    // The input is a slice: the text borrows from it.
                    let raw: Cow<'i, [u8]> = text.into_inner();
                    if self.depth == 0 {
                        // Only white space may stand outside the root element.
                        xml_syntax::check_outside_root(&raw).map_err(|e| syntax(before, e))?;
                        continue;
                    }
                    let expanded = match raw {
                        Cow::Borrowed(raw) => {
                            let checked =
                                xml_syntax::check_char_data(raw).map_err(|e| syntax(before, e))?;
                            xml_syntax::expand_references(checked, Place::Text)
                        }
                        Cow::Owned(raw) => {
                            let checked =
                                xml_syntax::check_char_data(&raw).map_err(|e| syntax(before, e))?;
                            xml_syntax::expand_references(checked, Place::Text)
                                .map(|text| Cow::Owned(text.into_owned()))
                        }
                    };
                    return Ok(Some(Step::Text(expanded.map_err(|e| syntax(before, e))?)));
                }
                Event::CData(data) => {
                    if self.depth == 0 {
                        return Err(syntax(before, XmlSyntaxError::CdataOutsideRoot));
                    }
                    // `<![CDATA[` precedes the content.
                    let text = match data.into_inner() {
                        Cow::Borrowed(bytes) => Cow::Borrowed(
                            xml_syntax::check_cdata(bytes).map_err(|e| syntax(before + 9, e))?,
                        ),
                        Cow::Owned(bytes) => Cow::Owned(
                            xml_syntax::check_cdata(&bytes)
                                .map_err(|e| syntax(before + 9, e))?
                                .to_owned(),
                        ),
                    };
                    return Ok(Some(Step::Text(text)));
                }
                Event::Comment(comment) => {
                    xml_syntax::check_comment(&comment).map_err(|e| syntax(before + 4, e))?;
                }
                Event::Decl(decl) => {
                    if before != self.base {
                        return Err(syntax(before, XmlSyntaxError::DeclarationNotAtStart));
                    }
                    xml_syntax::check_declaration(&decl).map_err(|e| syntax(before, e))?;
                }
                Event::PI(pi) => {
                    xml_syntax::check_processing_instruction(&pi)
                        .map_err(|e| syntax(before + 2, e))?;
                }
                Event::DocType(_) => {
                    return Err(malformed(
                        before,
                        "document type declarations are not accepted (no DTD, no entity expansion)",
                    ));
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(malformed(
                            before,
                            format!("unexpected end of input inside <{}>", self.stack_top()),
                        ));
                    }
                    if !self.seen_root {
                        return Err(malformed(before, "no root element"));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn stack_top(&self) -> &str {
        self.top().map(|f| f.local.as_str()).unwrap_or("")
    }

    /// Checks a start tag and pushes its frame.
    fn open(&mut self, start: &BytesStart<'_>, offset: usize) -> Result<(), AdapterError> {
        if self.depth == 0 {
            if self.root_closed || self.seen_root {
                return Err(malformed(offset, "more than one root element"));
            }
            self.seen_root = true;
        }
        if self.depth >= MAX_DEPTH {
            return Err(malformed(
                offset,
                format!("elements nested deeper than {MAX_DEPTH}"),
            ));
        }
        let qname = start.name().into_inner();
        xml_syntax::check_element_name(qname).map_err(|e| syntax(offset, e))?;
        let declarations_before = self.declarations.len();
        let mut attribute_names: Vec<(String, String)> = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| {
                let e = XmlSyntaxError::AttributeSyntax {
                    element: quote(qname),
                    detail: e.to_string(),
                };
                syntax(offset, e)
            })?;
            let key = attribute.key.as_ref();
            xml_syntax::check_attribute_name(qname, key).map_err(|e| syntax(offset, e))?;
            let value = xml_syntax::attribute_value(qname, key, &attribute.value)
                .map_err(|e| syntax(offset, e))?;
            match attribute.key.as_namespace_binding() {
                Some(PrefixDeclaration::Default) => {
                    if value == XML_NAMESPACE || value == "http://www.w3.org/2000/xmlns/" {
                        return Err(malformed(offset, "reserved namespace bound as default"));
                    }
                    self.declarations.push((String::new(), value.into_owned()));
                }
                Some(PrefixDeclaration::Named(prefix)) => {
                    let prefix = std::str::from_utf8(prefix)
                        .map_err(|_| malformed(offset, "prefix is not UTF-8"))?;
                    // XML Namespaces §3: no undeclaring a prefix in 1.0, `xml` only to its
                    // own URI, `xmlns` never.
                    let reserved = prefix == "xmlns"
                        || (prefix == "xml") != (value == XML_NAMESPACE)
                        || value == "http://www.w3.org/2000/xmlns/";
                    if value.is_empty() || reserved {
                        return Err(malformed(
                            offset,
                            format!("invalid declaration of prefix {prefix:?}"),
                        ));
                    }
                    if prefix != "xml" {
                        self.declarations
                            .push((prefix.to_owned(), value.into_owned()));
                    }
                }
                None => {
                    let (resolved, local) = self.reader.resolve_attribute(attribute.key);
                    let namespace = match resolved {
                        ResolveResult::Bound(ns) => {
                            String::from_utf8_lossy(ns.as_ref()).into_owned()
                        }
                        ResolveResult::Unbound => String::new(),
                        ResolveResult::Unknown(prefix) => {
                            return Err(malformed(
                                offset,
                                format!(
                                    "attribute prefix {:?} is not declared",
                                    String::from_utf8_lossy(&prefix)
                                ),
                            ))
                        }
                    };
                    let local = String::from_utf8_lossy(local.as_ref()).into_owned();
                    let expanded = (namespace, local);
                    if attribute_names.contains(&expanded) {
                        return Err(malformed(offset, "duplicate attribute"));
                    }
                    attribute_names.push(expanded);
                }
            }
        }
        if !attributes_separated(start.attributes_raw()) {
            return Err(malformed(
                offset,
                "attributes must be separated by white space",
            ));
        }
        let (resolved, local) = self.reader.resolve_element(start.name());
        let namespace = match resolved {
            ResolveResult::Bound(ns) => std::str::from_utf8(ns.into_inner())
                .map_err(|_| malformed(offset, "namespace is not UTF-8"))?,
            ResolveResult::Unbound => "",
            ResolveResult::Unknown(prefix) => {
                return Err(malformed(
                    offset,
                    format!(
                        "element prefix {:?} is not declared",
                        String::from_utf8_lossy(&prefix)
                    ),
                ))
            }
        };
        // A suffix of the validated qname: UTF-8.
        let local = std::str::from_utf8(local.into_inner())
            .map_err(|_| malformed(offset, "element name is not UTF-8"))?;
        if self.depth == self.frames.len() {
            self.frames.push(Frame {
                local: String::new(),
                namespace: String::new(),
                declarations_before,
            });
        }
        let frame = &mut self.frames[self.depth];
        frame.local.clear();
        frame.local.push_str(local);
        frame.namespace.clear();
        frame.namespace.push_str(namespace);
        frame.declarations_before = declarations_before;
        self.depth += 1;
        Ok(())
    }

    /// Pops the innermost frame after its `End` step was handled.
    fn close(&mut self) {
        if self.depth > 0 {
            self.depth -= 1;
            self.declarations
                .truncate(self.frames[self.depth].declarations_before);
        }
        if self.depth == 0 {
            self.root_closed = true;
        }
    }
}

/// Drives the walker over the whole document, calling `visit` for every step. The
/// document must be well-formed to the end, even when the visitor has what it needs.
fn walk(
    input: &[u8],
    mut visit: impl FnMut(&Walker<'_>, Step<'_>) -> Result<(), AdapterError>,
) -> Result<(), AdapterError> {
    let mut walker = Walker::new(input);
    let mut pending_end = None;
    while let Some(step) = walker.next(&mut pending_end)? {
        let is_end = matches!(step, Step::End { .. });
        visit(&walker, step)?;
        if is_end {
            walker.close();
        }
    }
    Ok(())
}

/// Where we are in the SOAP envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Envelope {
    /// Before or inside the root; `body_seen` tells whether a Body opened.
    Outside,
    /// Inside Body, before its first child element.
    InBody,
    /// Inside the first child of Body (depth of that child = 3).
    InPayload,
    /// After the first child of Body.
    AfterPayload,
}

/// Tracks Envelope/Body and reports the first Body child.
struct EnvelopeTracker {
    state: Envelope,
    body_seen: bool,
}

impl EnvelopeTracker {
    fn new() -> Self {
        EnvelopeTracker {
            state: Envelope::Outside,
            body_seen: false,
        }
    }

    /// Call on every Start: checks the envelope structure; returns true when this
    /// element is the first child of Body.
    fn on_start(&mut self, walker: &Walker<'_>, start: usize) -> Result<bool, AdapterError> {
        let depth = walker.depth();
        let frame = walker.top().expect("a start step has a frame");
        match depth {
            1 if frame.local != "Envelope" || frame.namespace != SOAP11_NAMESPACE => {
                return Err(malformed(
                    start,
                    format!(
                        "the root element is {{{}}}{}, not a SOAP 1.1 Envelope",
                        frame.namespace, frame.local
                    ),
                ));
            }
            2 if frame.namespace == SOAP11_NAMESPACE && frame.local == "Body" => {
                if self.body_seen {
                    return Err(malformed(start, "more than one SOAP Body"));
                }
                self.body_seen = true;
                self.state = Envelope::InBody;
            }
            3 if self.state == Envelope::InBody => {
                self.state = Envelope::InPayload;
                return Ok(true);
            }
            _ => {}
        }
        Ok(false)
    }

    fn on_end(&mut self, walker: &Walker<'_>) {
        let depth = walker.depth();
        match (depth, self.state) {
            (3, Envelope::InPayload) => self.state = Envelope::AfterPayload,
            (2, Envelope::InBody) => self.state = Envelope::Outside,
            _ => {}
        }
    }
}

/// Collects the text of elements found at given local-name paths below an anchor
/// element. Every element occurrence at a path gives one value (trimmed; empty values
/// are dropped). The paths are borrowed, so that a response's records share one list
/// (built once per response, not once per record).
struct FieldCollector<'p> {
    paths: &'p [&'static [&'static str]],
    /// The indices of the paths of each length (`by_length[n]`: the paths of `n`
    /// names), so that an element is compared only with the paths that end at its
    /// depth: a record's paths are many (header, title and status alternatives, time
    /// points), its elements more.
    by_length: Vec<Vec<usize>>,
    /// Depth of the anchor element (its frame index + 1).
    anchor_depth: usize,
    /// Open matches: (depth of the matched element, path index, text so far).
    open: Vec<(usize, usize, String)>,
    values: Vec<Vec<String>>,
}

impl<'p> FieldCollector<'p> {
    fn new(paths: &'p [&'static [&'static str]], anchor_depth: usize) -> Self {
        let longest = paths.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut by_length = vec![Vec::new(); longest + 1];
        for (index, path) in paths.iter().enumerate() {
            if !path.is_empty() {
                by_length[path.len()].push(index);
            }
        }
        FieldCollector {
            paths,
            by_length,
            anchor_depth,
            open: Vec::new(),
            values: vec![Vec::new(); paths.len()],
        }
    }

    /// Ready for the next record: no open matches, no values (the lists keep their
    /// allocation).
    fn reset(&mut self) {
        self.open.clear();
        for values in &mut self.values {
            values.clear();
        }
    }

    fn on_start(&mut self, walker: &Walker<'_>) {
        let depth = walker.depth();
        if depth <= self.anchor_depth {
            return;
        }
        let below = &walker.stack()[self.anchor_depth..depth];
        let Some((element, ancestors)) = below.split_last() else {
            return;
        };
        let Some(candidates) = self.by_length.get(below.len()) else {
            return;
        };
        for &index in candidates {
            // The element's own name first: it rules out nearly every path at once.
            if let Some((last, parents)) = self.paths[index].split_last() {
                if *last == element.local
                    && parents.iter().zip(ancestors).all(|(p, f)| *p == f.local)
                {
                    self.open.push((depth, index, String::new()));
                }
            }
        }
    }

    fn on_text(&mut self, walker: &Walker<'_>, text: &str) {
        let depth = walker.depth();
        for (open_depth, _, buffer) in &mut self.open {
            if *open_depth == depth {
                buffer.push_str(text);
            }
        }
    }

    fn on_end(&mut self, walker: &Walker<'_>) {
        let depth = walker.depth();
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].0 == depth {
                let (_, index, buffer) = self.open.swap_remove(i);
                let value = buffer.trim();
                if !value.is_empty() {
                    self.values[index].push(value.to_owned());
                }
            } else {
                i += 1;
            }
        }
    }

    fn first(&mut self, index: usize) -> Option<String> {
        let values = std::mem::take(&mut self.values[index]);
        values.into_iter().next()
    }
}

/// [`super::InformationSet::parse_request`] for any descriptor.
pub(crate) fn parse_request(
    descriptor: &InformationSetDescriptor,
    input: &[u8],
) -> Result<QueryRequest, AdapterError> {
    let paths = &descriptor.request;
    let request_paths = [
        paths.patient_id,
        paths.period_start,
        paths.period_end,
        paths.care_unit,
        paths.record_id,
        paths.source_system,
        paths.care_contact,
    ];
    let mut tracker = EnvelopeTracker::new();
    let mut fields: Option<FieldCollector<'_>> = None;
    let mut found = false;
    walk(input, |walker, step| {
        match step {
            Step::Start { start } => {
                if tracker.on_start(walker, start)? {
                    let frame = walker.top().expect("frame");
                    if frame.local != descriptor.request_element
                        || frame.namespace != descriptor.contract_namespace
                    {
                        return Err(AdapterError::UnexpectedElement {
                            expected: descriptor.request_element,
                            namespace: descriptor.contract_namespace,
                        });
                    }
                    found = true;
                    fields = Some(FieldCollector::new(&request_paths, walker.depth()));
                } else if tracker.state == Envelope::InPayload {
                    if let Some(fields) = &mut fields {
                        fields.on_start(walker);
                    }
                }
            }
            Step::Text(text) => {
                if tracker.state == Envelope::InPayload {
                    if let Some(fields) = &mut fields {
                        fields.on_text(walker, &text);
                    }
                }
            }
            Step::End { .. } => {
                if tracker.state == Envelope::InPayload {
                    if let Some(fields) = &mut fields {
                        fields.on_end(walker);
                    }
                }
                tracker.on_end(walker);
            }
        }
        Ok(())
    })?;
    if !found {
        return Err(AdapterError::UnexpectedElement {
            expected: descriptor.request_element,
            namespace: descriptor.contract_namespace,
        });
    }
    let mut fields = fields.expect("set when found");
    let patient_id = fields
        .first(0)
        .ok_or(AdapterError::MissingField("patientId"))?;
    Ok(QueryRequest {
        patient_id,
        period_start: fields.first(1),
        period_end: fields.first(2),
        care_units: std::mem::take(&mut fields.values[3]),
        record_ids: std::mem::take(&mut fields.values[4]),
        source_system: fields.first(5),
        care_contacts: std::mem::take(&mut fields.values[6]),
    })
}

/// A record being read.
struct OpenRecord {
    start: usize,
    inherited: Vec<(String, String)>,
}

/// SOAP 1.1 §4.4: `faultstring` is an unqualified child of `Fault`.
const FAULT_PATHS: &[&[&str]] = &[&["faultstring"]];

/// [`super::InformationSet::parse_response`] for any descriptor.
pub(crate) fn parse_response(
    descriptor: &InformationSetDescriptor,
    interval: Option<&RecordInterval>,
    times: &'static [&'static [&'static str]],
    input: &[u8],
) -> Result<ProducerResponse, AdapterError> {
    let mut tracker = EnvelopeTracker::new();
    // None until the first Body child is seen; then Some(true) for a Fault.
    let mut is_fault: Option<bool> = None;
    let mut fault_fields: Option<FieldCollector<'_>> = None;
    let mut records: Vec<Record> = Vec::new();
    let layout = RecordFields::new(descriptor, interval, times);
    // One collector for every record of the response (reset between them).
    let mut fields = FieldCollector::new(&layout.paths, 4);
    let mut open: Option<OpenRecord> = None;
    walk(input, |walker, step| {
        match step {
            Step::Start { start } => {
                if tracker.on_start(walker, start)? {
                    let frame = walker.top().expect("frame");
                    if frame.namespace == SOAP11_NAMESPACE && frame.local == "Fault" {
                        is_fault = Some(true);
                        fault_fields = Some(FieldCollector::new(FAULT_PATHS, walker.depth()));
                    } else if frame.local == descriptor.response_element
                        && frame.namespace == descriptor.contract_namespace
                    {
                        is_fault = Some(false);
                    } else {
                        return Err(AdapterError::UnexpectedElement {
                            expected: descriptor.response_element,
                            namespace: descriptor.contract_namespace,
                        });
                    }
                } else if tracker.state == Envelope::InPayload {
                    if let Some(fault) = &mut fault_fields {
                        fault.on_start(walker);
                    } else if open.is_some() {
                        fields.on_start(walker);
                    } else if walker.depth() == 4 {
                        let frame = walker.top().expect("frame");
                        if frame.local == descriptor.record_element
                            && frame.namespace == descriptor.contract_namespace
                        {
                            fields.reset();
                            open = Some(OpenRecord {
                                start,
                                inherited: walker.inherited_declarations(),
                            });
                        }
                    }
                }
            }
            Step::Text(text) => {
                if tracker.state == Envelope::InPayload {
                    if let Some(fault) = &mut fault_fields {
                        fault.on_text(walker, &text);
                    } else if open.is_some() {
                        fields.on_text(walker, &text);
                    }
                }
            }
            Step::End { end } => {
                if tracker.state == Envelope::InPayload {
                    if let Some(fault) = &mut fault_fields {
                        fault.on_end(walker);
                    } else if open.is_some() {
                        if walker.depth() == 4 {
                            let record = open.take().expect("open record");
                            let interval =
                                interval.map(|i| interval_of(&mut fields, i, layout.times));
                            let times = if interval.is_none() && !times.is_empty() {
                                fields.values[layout.times..]
                                    .iter_mut()
                                    .flat_map(std::mem::take)
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            records.push(Record {
                                span: record.start..end,
                                inherited_namespaces: record.inherited,
                                header: layout.header(&mut fields),
                                interval,
                                times,
                            });
                        } else {
                            fields.on_end(walker);
                        }
                    }
                }
                tracker.on_end(walker);
            }
        }
        Ok(())
    })?;
    match is_fault {
        Some(true) => {
            let text = fault_fields
                .and_then(|mut f| f.first(0))
                .unwrap_or_default();
            Ok(ProducerResponse::Fault(text))
        }
        Some(false) => Ok(ProducerResponse::Records(records)),
        None if !tracker.body_seen => Err(malformed(0, "no SOAP Body in the envelope")),
        None => Err(AdapterError::UnexpectedElement {
            expected: descriptor.response_element,
            namespace: descriptor.contract_namespace,
        }),
    }
}

/// XML 1.0 §3.1: every attribute of a start tag follows white space (quick-xml also
/// reads `a="1"b="2"`). `raw` is what follows the element name; its attributes have
/// already been read without error.
fn attributes_separated(raw: &[u8]) -> bool {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let skip_space = |r: &[u8]| -> usize { r.iter().take_while(|b| is_space(b)).count() };
    let mut rest = raw;
    loop {
        let spaces = skip_space(rest);
        rest = &rest[spaces..];
        if rest.is_empty() {
            return true;
        }
        if spaces == 0 {
            return false;
        }
        let key = rest
            .iter()
            .take_while(|b| !is_space(b) && **b != b'=')
            .count();
        rest = &rest[key..];
        rest = &rest[skip_space(rest)..];
        let Some(after_eq) = rest.strip_prefix(b"=") else {
            return false;
        };
        rest = &after_eq[skip_space(after_eq)..];
        let Some((&quote, value)) = rest.split_first() else {
            return false;
        };
        if quote != b'"' && quote != b'\'' {
            return false;
        }
        let Some(end) = value.iter().position(|b| *b == quote) else {
            return false;
        };
        rest = &value[end + 1..];
    }
}

mod record;

#[cfg(test)]
pub(super) mod tests;
