//! Validation of a received (or outgoing) SDK message: first the XML schema, then the
//! business rules. The outcome decides the receipt: a schema error is answered with
//! code `XSD`, a business-rule error with `SCH` (see `receipt`).
//!
//! # Schema (`infrastructure_messaging_MessageWithAttachments_3.0.xsd`)
//!
//! There is no XSD engine we want in the gateway, so this is a validator for exactly
//! this schema, driven by the table [`MESSAGE_PAYLOAD`] (one entry per complex type,
//! transcribed from the XSD). It checks what the schema says and what an XSD processor
//! reports: the root element, element order and occurrences, required elements, no
//! unknown elements in the message namespace, `xs:any namespace="##other"
//! processContents="lax"` extension elements where the schema allows them (and only
//! there; elements in no namespace are not "other"), no attributes (bar
//! `xsi:schemaLocation`), no text in element-only content, no child elements in simple
//! content, `xs:boolean`, `xs:dateTime` lexical form and values, and `maxLength` 256 on
//! the labels that have it. `tests/validate_agreement.rs` holds the verdict against
//! `xmllint --schema` for a table of mutations.
//!
//! Known difference to libxml2 (xmllint): libxml2 rejects an `xs:dateTime` with
//! *leading* whitespace, although XSD's whitespace facet `collapse` allows it; we
//! follow the XSD. (Such a value still fails the business rule `creationDateTime`.)
//! `xsi:type` is refused rather than interpreted.
//!
//! # Business rules (`MessageConstraints.xml`, ISO Schematron)
//!
//! Checked only on schema-valid messages, each rule in [`business_rules`] with the
//! schematron pattern id it implements. The rules match elements by name anywhere in
//! the document, as schematron contexts do (also inside extension elements).
//! `MessageConstraints.xml` also declares abstract patterns that it never instantiates:
//! `pattern.OrganizationIdentifier` (value starts with `0203:`) is applied here to
//! `senderID/extension` and `recipientID/extension`, because the SDK address scheme
//! requires it; its `@Authority` assertion cannot apply (the schema allows no
//! attributes). `pattern.contentAsTextType` is applied to `ContentText`.
//! `pattern.notAllowed` and `pattern.Equals` have no instantiation and hence no
//! element to apply to.

use crate::message::{
    parse_xs_boolean, Message, FUNCTIONAL_ADDRESS_ROOT, MAX_MESSAGE_BYTES, NS, ORGANIZATION_ID_ROOT,
};
use crate::xml::{self, Element};

/// What kind of rule a message broke; decides the receipt's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// Not well-formed, too large, or not valid against the XML schema: receipt `XSD`.
    Schema,
    /// Schema-valid but breaks a rule in `MessageConstraints.xml`: receipt `SCH`.
    BusinessRule,
}

impl RejectionKind {
    /// The error code of the SDK receipt (kvittens) for this kind of rejection.
    pub fn receipt_code(self) -> &'static str {
        match self {
            RejectionKind::Schema => "XSD",
            RejectionKind::BusinessRule => "SCH",
        }
    }
}

/// A rejected message: every problem found, each naming line, element path and rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the message: {}", kind_name(*.kind), .problems.join("; "))]
pub struct Rejection {
    pub kind: RejectionKind,
    pub problems: Vec<String>,
}

fn kind_name(kind: RejectionKind) -> &'static str {
    match kind {
        RejectionKind::Schema => "schema",
        RejectionKind::BusinessRule => "business rule",
    }
}

/// Validates `xml` (a `messagePayload` document) against the schema and then the
/// business rules, and returns the message if both hold.
pub fn validate(xml: &[u8]) -> Result<Message, Rejection> {
    let schema = |problems: Vec<String>| Rejection {
        kind: RejectionKind::Schema,
        problems,
    };
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(schema(vec![format!(
            "the message is {} bytes; SDK messages are at most {MAX_MESSAGE_BYTES} bytes",
            xml.len()
        )]));
    }
    let root = xml::parse(xml).map_err(|e| schema(vec![e.to_string()]))?;
    let problems = schema_problems(&root);
    if !problems.is_empty() {
        return Err(schema(problems));
    }
    let problems = business_rules(&root);
    if !problems.is_empty() {
        return Err(Rejection {
            kind: RejectionKind::BusinessRule,
            problems,
        });
    }
    // A schema-valid document always fits the model; keep the error path anyway.
    Message::from_element(root).map_err(|e| schema(vec![e.to_string()]))
}

// ---------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------

/// Type of an element declaration.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Complex(&'static ComplexType),
    /// `xs:string`
    Str,
    /// `xs:string` restricted by `maxLength value="256"`
    Str256,
    /// `xs:dateTime`
    DateTime,
    /// `xs:boolean`
    Boolean,
}

/// One `xs:element` of a sequence.
#[derive(Debug)]
struct Particle {
    name: &'static str,
    ty: Ty,
    min: u32,
    /// `None`: `maxOccurs="unbounded"`.
    max: Option<u32>,
}

/// A complex type: a sequence of particles, optionally followed by
/// `<xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>`.
#[derive(Debug)]
struct ComplexType {
    name: &'static str,
    particles: &'static [Particle],
    any_other: bool,
}

const fn p(name: &'static str, ty: Ty, min: u32, max: Option<u32>) -> Particle {
    Particle { name, ty, min, max }
}
const ONE: Option<u32> = Some(1);
const MANY: Option<u32> = None;

static II_TYPE: ComplexType = ComplexType {
    name: "IIType",
    particles: &[p("root", Ty::Str, 1, ONE), p("extension", Ty::Str, 1, ONE)],
    any_other: false,
};
static ATTENTION_PERSON_TYPE: ComplexType = ComplexType {
    name: "AttentionPersonType",
    particles: &[
        p("personId", Ty::Complex(&II_TYPE), 0, ONE),
        p("label", Ty::Str256, 0, ONE),
    ],
    any_other: true,
};
static SUB_ORGANIZATION_TYPE: ComplexType = ComplexType {
    name: "subOrganizationType",
    particles: &[
        p("organizationId", Ty::Complex(&II_TYPE), 1, ONE),
        p("label", Ty::Str256, 0, ONE),
    ],
    any_other: true,
};
static REFERENCE_TYPE: ComplexType = ComplexType {
    name: "ReferenceType",
    particles: &[
        p("referenceId", Ty::Complex(&II_TYPE), 1, ONE),
        p("label", Ty::Str256, 0, ONE),
    ],
    any_other: true,
};
static ATTENTION_DATA_TYPE: ComplexType = ComplexType {
    name: "AttentionDataType",
    particles: &[
        p("person", Ty::Complex(&ATTENTION_PERSON_TYPE), 0, MANY),
        p(
            "subOrganization",
            Ty::Complex(&SUB_ORGANIZATION_TYPE),
            1,
            ONE,
        ),
        p("reference", Ty::Complex(&REFERENCE_TYPE), 0, MANY),
    ],
    any_other: true,
};
static RECIPIENT_TYPE: ComplexType = ComplexType {
    name: "RecipientType",
    particles: &[
        p("recipientID", Ty::Complex(&II_TYPE), 1, ONE),
        p("label", Ty::Str256, 0, ONE),
        p("attention", Ty::Complex(&ATTENTION_DATA_TYPE), 1, ONE),
    ],
    any_other: true,
};
static SENDER_TYPE: ComplexType = ComplexType {
    name: "SenderType",
    particles: &[
        p("senderID", Ty::Complex(&II_TYPE), 1, ONE),
        p("label", Ty::Str256, 0, ONE),
        p("attention", Ty::Complex(&ATTENTION_DATA_TYPE), 0, ONE),
    ],
    any_other: true,
};
static MESSAGE_HEADER_TYPE: ComplexType = ComplexType {
    name: "MessageHeaderType",
    particles: &[
        p("creationDateTime", Ty::DateTime, 1, ONE),
        p("messageId", Ty::Str, 1, ONE),
        p("conversationId", Ty::Str, 1, ONE),
        p("refToMessageId", Ty::Str, 0, ONE),
        p("label", Ty::Str, 0, ONE),
        p("confidentiality", Ty::Boolean, 1, ONE),
        p("generatingSystem", Ty::Complex(&II_TYPE), 0, ONE),
        p("recipient", Ty::Complex(&RECIPIENT_TYPE), 1, ONE),
        p("sender", Ty::Complex(&SENDER_TYPE), 1, ONE),
    ],
    any_other: true,
};
static CONTENT_AS_BASE64: ComplexType = ComplexType {
    name: "ContentAsBase64",
    particles: &[
        p("fileName", Ty::Str, 1, ONE),
        p("contentType", Ty::Str, 1, ONE),
        p("content", Ty::Str, 1, ONE),
    ],
    any_other: true,
};
static CONTENT_AS_TEXT: ComplexType = ComplexType {
    name: "contentAsText",
    particles: &[p("characterSequence", Ty::Str, 1, ONE)],
    any_other: true,
};
static DIGITAL_DOCUMENT_TYPE: ComplexType = ComplexType {
    name: "DigitalDocumentType",
    particles: &[
        p("documentID", Ty::Str, 1, ONE),
        p("documentName", Ty::Str, 0, ONE),
        p("index", Ty::Str, 0, ONE),
        p("ContentFiles", Ty::Complex(&CONTENT_AS_BASE64), 0, MANY),
        p("ContentText", Ty::Complex(&CONTENT_AS_TEXT), 0, MANY),
    ],
    any_other: true,
};
static MESSAGE_BODY_TYPE: ComplexType = ComplexType {
    name: "MessageBodyType",
    particles: &[p("documents", Ty::Complex(&DIGITAL_DOCUMENT_TYPE), 1, MANY)],
    any_other: true,
};
static MESSAGE_TYPE: ComplexType = ComplexType {
    name: "MessageType",
    particles: &[
        p("messageHeader", Ty::Complex(&MESSAGE_HEADER_TYPE), 1, ONE),
        p("messageBody", Ty::Complex(&MESSAGE_BODY_TYPE), 1, ONE),
    ],
    any_other: true,
};
/// `MessagePayloadType`, the type of the only global element `messagePayload`.
static MESSAGE_PAYLOAD: ComplexType = ComplexType {
    name: "MessagePayloadType",
    particles: &[p("message", Ty::Complex(&MESSAGE_TYPE), 1, ONE)],
    any_other: false,
};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

fn schema_problems(root: &Element) -> Vec<String> {
    let mut problems = Vec::new();
    if root.is(NS, "messagePayload") {
        check_complex(root, &MESSAGE_PAYLOAD, "/messagePayload", &mut problems);
    } else {
        problems.push(format!(
            "line {}: the root element {} is not declared; expected {{{NS}}}messagePayload",
            root.line,
            qname(root)
        ));
    }
    problems
}

fn qname(e: &Element) -> String {
    match &e.ns {
        Some(ns) => format!("{{{ns}}}{}", e.local),
        None => format!("'{}' (no namespace)", e.local),
    }
}

fn check_attributes(el: &Element, path: &str, problems: &mut Vec<String>) {
    for a in &el.attrs {
        let xsi = a.ns.as_deref() == Some(XSI);
        let problem = match a.local.as_str() {
            "schemaLocation" | "noNamespaceSchemaLocation" if xsi => continue,
            "nil" if xsi => "xsi:nil is not allowed: the element is not nillable".to_owned(),
            "type" if xsi => "xsi:type is not accepted in an SDK message".to_owned(),
            _ => match &a.ns {
                Some(ns) => format!("attribute {{{ns}}}{} is not allowed", a.local),
                None => format!("attribute '{}' is not allowed", a.local),
            },
        };
        problems.push(format!("line {}, {path}: {problem}", el.line));
    }
}

fn check_element(el: &Element, ty: Ty, path: &str, problems: &mut Vec<String>) {
    match ty {
        Ty::Complex(ct) => check_complex(el, ct, path, problems),
        simple => check_simple(el, simple, path, problems),
    }
}

fn check_simple(el: &Element, ty: Ty, path: &str, problems: &mut Vec<String>) {
    check_attributes(el, path, problems);
    if let Some(child) = el.children.first() {
        problems.push(format!(
            "line {}, {path}: element content (<{}>) is not allowed, the type is simple (text only)",
            child.line, child.local
        ));
        return;
    }
    let text = &el.text;
    let bad = match ty {
        Ty::Str | Ty::Complex(_) => None,
        Ty::Str256 => {
            let len = text.chars().count();
            (len > 256).then(|| format!("the value has {len} characters; maxLength is 256"))
        }
        Ty::DateTime => (!is_xs_date_time(text)).then(|| {
            format!("'{text}' is not a valid xs:dateTime (YYYY-MM-DDThh:mm:ss[.s][Z|±hh:mm])")
        }),
        Ty::Boolean => parse_xs_boolean(text)
            .is_none()
            .then(|| format!("'{text}' is not a valid xs:boolean (true, false, 1, 0)")),
    };
    if let Some(bad) = bad {
        problems.push(format!("line {}, {path}: {bad}", el.line));
    }
}

fn check_complex(el: &Element, ct: &ComplexType, path: &str, problems: &mut Vec<String>) {
    check_attributes(el, path, problems);
    if !xml::is_xml_whitespace(&el.text) {
        problems.push(format!(
            "line {}, {path}: text is not allowed in {} (element-only content)",
            el.line, ct.name
        ));
    }
    // Position in the sequence: particle `i` has been matched `count` times;
    // `i == particles.len()` means we are in the trailing `xs:any`.
    let parts = ct.particles;
    let mut i = 0usize;
    let mut count = 0u32;
    for child in &el.children {
        let child_path = format!("{path}/{}", child.local);
        let in_tns = child.ns.as_deref() == Some(NS);
        let satisfied_from = |i: usize, count: u32, to: usize| -> bool {
            (i >= parts.len() || count >= parts[i].min)
                && parts
                    .get(i + 1..to)
                    .is_none_or(|rest| rest.iter().all(|p| p.min == 0))
        };
        let mut matched = None;
        if in_tns {
            if i < parts.len()
                && parts[i].name == child.local
                && parts[i].max.is_none_or(|m| count < m)
            {
                count += 1;
                matched = Some(i);
            } else {
                let next = parts
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .find(|(j, p)| p.name == child.local && satisfied_from(i, count, *j));
                if let Some((j, _)) = next {
                    i = j;
                    count = 1;
                    matched = Some(j);
                }
            }
        } else if child.ns.is_some() && ct.any_other && satisfied_from(i, count, parts.len()) {
            i = parts.len();
            count = 0;
            check_lax(child, &child_path, problems);
            continue;
        }
        match matched {
            Some(j) => check_element(child, parts[j].ty, &child_path, problems),
            None => {
                problems.push(format!(
                    "line {}, {child_path}: element {} is not expected here; expected {}",
                    child.line,
                    qname(child),
                    expected(ct, i, count)
                ));
                // The content model is lost for this parent; further messages would
                // only be consequences of this one.
                return;
            }
        }
    }
    let missing: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(j, p)| {
            if *j < i {
                false
            } else if *j == i {
                count < p.min
            } else {
                p.min > 0
            }
        })
        .map(|(_, p)| p.name)
        .collect();
    if let Some(first) = missing.first() {
        problems.push(format!(
            "line {}, {path}: required element <{first}> is missing (expected {})",
            el.line,
            expected(ct, i, count)
        ));
    }
}

/// What may come next at position (`i`, `count`) — for error messages.
fn expected(ct: &ComplexType, i: usize, count: u32) -> String {
    let mut names = Vec::new();
    let parts = ct.particles;
    let mut all_satisfied = true;
    if i < parts.len() {
        if parts[i].max.is_none_or(|m| count < m) {
            names.push(format!("<{}>", parts[i].name));
        }
        if count < parts[i].min {
            all_satisfied = false;
        }
    }
    if all_satisfied {
        for p in parts.iter().skip(i + 1) {
            names.push(format!("<{}>", p.name));
            if p.min > 0 {
                all_satisfied = false;
                break;
            }
        }
    }
    if all_satisfied {
        if ct.any_other {
            names.push("an extension element in another namespace".into());
        }
        names.push(format!("the end of {}", ct.name));
    }
    format!("one of: {}", names.join(", "))
}

/// `processContents="lax"`: an element is validated only if the schema declares it
/// globally. The only global declaration is `messagePayload`, so that is checked
/// strictly wherever it turns up inside extension content; the rest is accepted.
fn check_lax(el: &Element, path: &str, problems: &mut Vec<String>) {
    if el.is(NS, "messagePayload") {
        check_complex(el, &MESSAGE_PAYLOAD, path, problems);
        return;
    }
    for c in &el.children {
        check_lax(c, &format!("{path}/{}", c.local), problems);
    }
}

/// `xs:dateTime` lexical space (XSD 1.0 §3.2.7), with the value constraints an XSD
/// processor applies: month 1–12, day within the month (leap years), hour 0–23 or
/// 24:00:00, minute and second 0–59, time zone within ±14:00.
pub(crate) fn is_xs_date_time(text: &str) -> bool {
    let s = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    let b = s.as_bytes();
    let mut pos = 0;
    if b.first() == Some(&b'-') {
        pos = 1;
    }
    let year_start = pos;
    while b.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    let year_digits = &s[year_start..pos];
    if year_digits.len() < 4
        || (year_digits.len() > 4 && year_digits.starts_with('0'))
        || year_digits.bytes().all(|d| d == b'0')
    {
        return false;
    }
    // Years beyond u64 are still lexically fine; only leap-year arithmetic needs a value.
    let year: u64 = year_digits.parse().unwrap_or(1);
    let rest = &b[pos..];
    let two = |at: usize| -> Option<u32> {
        let d = rest.get(at..at + 2)?;
        if d.iter().all(u8::is_ascii_digit) {
            Some(u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
        } else {
            None
        }
    };
    let lit = |at: usize, c: u8| rest.get(at) == Some(&c);
    // -MM-DDThh:mm:ss
    if !(lit(0, b'-') && lit(3, b'-') && lit(6, b'T') && lit(9, b':') && lit(12, b':')) {
        return false;
    }
    let (Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (two(1), two(4), two(7), two(10), two(13))
    else {
        return false;
    };
    let mut at = 15;
    let mut fraction_nonzero = false;
    if lit(at, b'.') {
        at += 1;
        let start = at;
        while rest.get(at).is_some_and(u8::is_ascii_digit) {
            fraction_nonzero |= rest[at] != b'0';
            at += 1;
        }
        if at == start {
            return false;
        }
    }
    match rest.get(at) {
        None => {}
        Some(b'Z') if at + 1 == rest.len() => {}
        Some(b'+' | b'-') if at + 6 == rest.len() && lit(at + 3, b':') => {
            let (Some(th), Some(tm)) = (two(at + 1), two(at + 4)) else {
                return false;
            };
            if th > 14 || tm > 59 || (th == 14 && tm != 0) {
                return false;
            }
        }
        _ => return false,
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    let midnight_24 = hour == 24 && minute == 0 && second == 0 && !fraction_nonzero;
    (1..=days).contains(&day) && (hour < 24 || midnight_24) && minute < 60 && second < 60
}

// ---------------------------------------------------------------------------------
// Business rules
// ---------------------------------------------------------------------------------

/// Every rule of `MessageConstraints.xml`, on a schema-valid document.
fn business_rules(root: &Element) -> Vec<String> {
    let mut problems = Vec::new();
    let path = format!("/{}", root.local);
    for c in &root.children {
        rules_on(c, &[root], &format!("{path}/{}", c.local), &mut problems);
    }
    problems
}

fn rules_on<'a>(el: &'a Element, ancestors: &[&'a Element], path: &str, out: &mut Vec<String>) {
    let mut fail = |rule: &str, what: String| {
        out.push(format!("line {}, {path}: {what} (rule {rule})", el.line));
    };
    let parent = ancestors.last().copied();
    let parent_is = |name: &str| parent.is_some_and(|p| p.is(NS, name));
    let value = el.string_value();

    // verifyNonEmptyElements: context `tns:messagePayload//*`, assert `normalize-space(.)`.
    if !el.has_content() {
        fail(
            "verifyNonEmptyElements",
            format!(
                "element <{}> is included but empty; every element must have a value",
                el.local
            ),
        );
    }
    if el.ns.as_deref() == Some(NS) {
        match el.local.as_str() {
            // conversationIdMustExist: context `tns:messageHeader`, `count(tns:conversationId) eq 1`.
            "messageHeader" => {
                let n = el
                    .children
                    .iter()
                    .filter(|c| c.is(NS, "conversationId"))
                    .count();
                if n != 1 {
                    fail(
                        "conversationIdMustExist",
                        format!("conversationId must be set exactly once (found {n}); a new conversation uses the messageId"),
                    );
                }
            }
            // recipientIdvalue: `tns:recipientID/tns:root` = 'iso6523-actorid-upis'.
            // senderIdvalue: `tns:senderID/tns:root` = 'iso6523-actorid-upis'.
            // subOrgRoot (pattern.addressbookRoot):
            //   `tns:subOrganization/tns:organizationId/tns:root` eq the functional address root.
            "root" => {
                if parent_is("recipientID") || parent_is("senderID") {
                    let rule = if parent_is("recipientID") {
                        "recipientIdvalue"
                    } else {
                        "senderIdvalue"
                    };
                    if value != ORGANIZATION_ID_ROOT {
                        fail(
                            rule,
                            format!("must be '{ORGANIZATION_ID_ROOT}' but was '{value}'"),
                        );
                    }
                }
                let grandparent = ancestors.len().checked_sub(2).map(|i| ancestors[i]);
                if parent_is("organizationId")
                    && grandparent.is_some_and(|g| g.is(NS, "subOrganization"))
                    && value != FUNCTIONAL_ADDRESS_ROOT
                {
                    fail(
                        "subOrgRoot",
                        format!("must be '{FUNCTIONAL_ADDRESS_ROOT}' but was '{value}'"),
                    );
                }
            }
            // pattern.OrganizationIdentifier (abstract in the published file, applied to
            // the organisation ids): `matches(., '^0203:.*')`.
            "extension"
                if (parent_is("recipientID") || parent_is("senderID"))
                    && !value.starts_with("0203:") =>
            {
                fail(
                    "OrganizationIdentifier",
                    format!("an organisation id must look like '0203:domain-example.se' but was '{value}'"),
                );
            }
            // creationDateTime (pattern.Timestamp).
            "creationDateTime" if !matches_timestamp_rule(&value) => {
                fail(
                    "creationDateTime",
                    format!("timestamp must match YYYY-MM-DDThh:mm:ss.sZ (UTC, 1-3 decimals) but was '{value}'"),
                );
            }
            // MessageId, conversationId, refToMessageId (pattern.UUID).
            "messageId" | "conversationId" | "refToMessageId" if !is_uuid(&value) => {
                let rule = if el.local == "messageId" {
                    "MessageId"
                } else {
                    el.local.as_str()
                };
                fail(rule, format!("'{value}' is not a valid UUID"));
            }
            // subjectlabel (pattern.stringMaxLength): `tns:messageHeader/tns:label`, 256.
            "label" if parent_is("messageHeader") && value.chars().count() > 256 => {
                let len = value.chars().count();
                fail(
                    "subjectlabel",
                    format!("string length {len} exceeds maxlength 256"),
                );
            }
            // contentFiles (pattern.basesixtyfour): `tns:ContentFiles/tns:content`.
            // The schematron regex only looks at the first character (its comment says
            // why); the RFC 4648 check is the rule's stated intent.
            "content" if parent_is("ContentFiles") && !is_base64(&value) => {
                fail(
                    "contentFiles",
                    "content must be a valid base64 (RFC 4648) encoded string".into(),
                );
            }
            // pattern.contentAsTextType: a ContentText has a characterSequence.
            "ContentText" if el.child(NS, "characterSequence").is_none() => {
                fail(
                    "contentAsTextType",
                    "ContentText must have a characterSequence".into(),
                );
            }
            _ => {}
        }
    }
    let mut chain = ancestors.to_vec();
    chain.push(el);
    for c in &el.children {
        rules_on(c, &chain, &format!("{path}/{}", c.local), out);
    }
}

/// `matches(., '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}.[0-9]{1,3}Z$')`,
/// on the untrimmed value. The `.` before the fraction is unescaped in the rule, so it
/// matches any character but a line end, as in XPath regular expressions.
pub(crate) fn matches_timestamp_rule(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let shape = "DDDD-DD-DDTDD:DD:DD";
    if chars.len() < shape.len() + 3 {
        return false;
    }
    for (c, s) in chars.iter().zip(shape.chars()) {
        let ok = match s {
            'D' => c.is_ascii_digit(),
            lit => *c == lit,
        };
        if !ok {
            return false;
        }
    }
    let any = chars[shape.len()];
    if any == '\n' || any == '\r' {
        return false;
    }
    let tail = &chars[shape.len() + 1..];
    let Some((&'Z', digits)) = tail.split_last() else {
        return false;
    };
    (1..=3).contains(&digits.len()) && digits.iter().all(char::is_ascii_digit)
}

/// `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
pub(crate) fn is_uuid(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Base64 per RFC 4648 (standard alphabet, padded); XML whitespace between the
/// characters (line wrapping) is allowed, but the value must start with a base64
/// character (the schematron regex `^[a-zA-Z0-9+/]`). Checked without allocating,
/// since attachments can be 30 MiB.
pub(crate) fn is_base64(value: &str) -> bool {
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    if !value.bytes().next().is_some_and(alphabet) {
        return false;
    }
    let mut n = 0usize;
    let mut padding = 0usize;
    for c in value.bytes() {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            b'=' => padding += 1,
            c if alphabet(c) && padding == 0 => {}
            _ => return false,
        }
        n += 1;
    }
    n.is_multiple_of(4) && padding <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_lexical_form_and_values() {
        for ok in [
            "2022-10-13T18:10:39.843Z",
            "2019-01-01T12:00:00",
            "2020-02-29T00:00:00Z",
            "2019-01-01T24:00:00Z",
            "2019-01-01T12:00:00+14:00",
            "-0001-01-01T12:00:00Z",
            "10000-01-01T12:00:00Z",
            "2019-01-01T12:00:00.123456789012Z",
            "2019-01-01T12:00:00Z ",
            " 2019-01-01T12:00:00Z",
        ] {
            assert!(is_xs_date_time(ok), "{ok}");
        }
        for bad in [
            "3 Sept. 2019",
            "2019-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2019-04-31T00:00:00Z",
            "2019-01-01T24:00:01Z",
            "2019-01-01T23:59:60Z",
            "2019-01-01T12:00:00.Z",
            "2019-01-01T12:00:00+14:01",
            "0000-01-01T12:00:00Z",
            "02019-01-01T12:00:00Z",
            "+2019-01-01T12:00:00Z",
            "2019-01-01t12:00:00Z",
            "2019-01-01T12:00:00z",
            "2019-01-01T12:00",
            "2019-13-01T12:00:00Z",
            "2019-01-01T12:00:00+1:00",
            "",
        ] {
            assert!(!is_xs_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn timestamp_rule_is_the_schematron_regex() {
        assert!(matches_timestamp_rule("2022-10-13T18:10:39.843Z"));
        assert!(matches_timestamp_rule("2022-10-13T18:10:39.8Z"));
        assert!(
            matches_timestamp_rule("2022-10-13T18:10:39,8Z"),
            "unescaped '.'"
        );
        assert!(!matches_timestamp_rule("2022-10-13T18:10:39Z"));
        assert!(!matches_timestamp_rule("2022-10-13T18:10:39.8431Z"));
        assert!(!matches_timestamp_rule("2022-10-13T18:10:39.843+01:00"));
        assert!(!matches_timestamp_rule(" 2022-10-13T18:10:39.843Z"));
    }

    #[test]
    fn uuid_and_base64() {
        assert!(is_uuid("7bc5576a-3f87-4cf5-a0c5-277da06fcacb"));
        assert!(!is_uuid("7bc5576a-3f87-4cf5-a0c5-277da06fcacbÖ"));
        assert!(!is_uuid("7bc5576a3f874cf5a0c5277da06fcacb"));
        assert!(is_base64("QUJD"));
        assert!(is_base64("QUI=\n"));
        assert!(is_base64("QU\r\nJD"));
        assert!(!is_base64("\nQUJD"));
        assert!(!is_base64("QUJ"));
        assert!(!is_base64("QU=D"));
        assert!(!is_base64("QUJD!"));
    }

    #[test]
    fn receipt_codes() {
        assert_eq!(RejectionKind::Schema.receipt_code(), "XSD");
        assert_eq!(RejectionKind::BusinessRule.receipt_code(), "SCH");
    }
}
