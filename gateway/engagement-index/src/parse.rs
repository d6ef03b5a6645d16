//! Engagement index requests → typed values, with errors that name the transaction
//! (1-based) and the field. Matching is on namespace + local name, never on prefixes.
//!
//! Unlike the routing sniffer, this reads the whole envelope into a small element tree:
//! an engagement index request is bounded (≤ 1000 transactions, the body limit) and
//! the tree lets every rule report exactly where a message is wrong. What is accepted
//! is specified in `specs/engagement-index.md`.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::EiError;
use crate::xml::{CORE_NS, REGISTRY_NS, SOAP_NS, WSA_NS};
use vaxel_store::engagement::{EiTime, Engagement, EngagementTransaction, FindQuery, ResidentId};

/// Most transactions in one Update or ProcessNotification (service contract).
pub const MAX_TRANSACTIONS: usize = 1000;

/// Deepest element nesting accepted (the deepest legal EI message has 6 levels).
const MAX_DEPTH: usize = 32;

/// One element: namespace, local name, its direct text, and its element children.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub ns: String,
    pub local: String,
    pub text: String,
    pub children: Vec<Node>,
}

/// The parts of a SOAP envelope the engagement index uses.
#[derive(Debug)]
pub(crate) struct Request {
    /// RIV-TA 2.1 `LogicalAddress` or RIV-TA 2.0 `wsa:To`, when present.
    pub logical_address: Option<String>,
    /// The first (only) Body child.
    pub body: Node,
}

fn schema(msg: impl Into<String>) -> EiError {
    EiError::Schema(msg.into())
}

/// Parse a whole SOAP 1.1 envelope. It MUST be well-formed to the end (a truncated
/// message is refused even when its Body child is complete) and MUST NOT have a DTD.
pub(crate) fn envelope(xml: &[u8]) -> Result<Request, EiError> {
    let mut reader = NsReader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| schema(format!("the message is not well-formed XML: {e}")))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(schema("content after the end of the SOAP envelope"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(schema(format!(
                        "elements are nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                let ns = match ns {
                    ResolveResult::Bound(n) => String::from_utf8(n.as_ref().to_vec())
                        .map_err(|_| schema("a namespace name is not UTF-8"))?,
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(p) => {
                        return Err(schema(format!(
                            "undeclared namespace prefix `{}`",
                            String::from_utf8_lossy(&p)
                        )))
                    }
                };
                let local = std::str::from_utf8(start.local_name().as_ref())
                    .map_err(|_| schema("an element name is not UTF-8"))?
                    .to_string();
                stack.push(Node {
                    ns,
                    local,
                    ..Node::default()
                });
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| schema("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| schema(format!("bad text or entity: {e}")))?;
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(schema("text outside the SOAP envelope")),
                }
            }
            Event::CData(c) => {
                let text = std::str::from_utf8(&c).map_err(|_| schema("CDATA is not UTF-8"))?;
                match stack.last_mut() {
                    Some(n) => n.text.push_str(text),
                    None => return Err(schema("CDATA outside the SOAP envelope")),
                }
            }
            // SOAP 1.1 §3: a SOAP message MUST NOT contain a DTD.
            Event::DocType(_) => return Err(schema("a SOAP message must not contain a DTD")),
            Event::Eof => break,
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(schema(
            "the message ends before the SOAP envelope is closed (truncated message)",
        ));
    }
    let root = root.ok_or_else(|| schema("the message is empty"))?;
    if root.ns != SOAP_NS || root.local != "Envelope" {
        return Err(schema(format!(
            "the root element must be a SOAP 1.1 Envelope ({SOAP_NS}), not {{{}}}{}",
            root.ns, root.local
        )));
    }
    let mut logical_address = None;
    let mut body = None;
    for part in root.children {
        match (part.ns.as_str(), part.local.as_str()) {
            (SOAP_NS, "Header") => {
                for h in &part.children {
                    if (h.ns == REGISTRY_NS && h.local == "LogicalAddress")
                        || (h.ns == WSA_NS && h.local == "To")
                    {
                        logical_address = Some(h.text.trim().to_string());
                    }
                }
            }
            (SOAP_NS, "Body") => body = Some(part),
            _ => {}
        }
    }
    let body = body.ok_or_else(|| schema("the SOAP envelope has no Body"))?;
    let mut children = body.children.into_iter();
    let first = children
        .next()
        .ok_or_else(|| schema("the SOAP Body is empty"))?;
    if children.next().is_some() {
        return Err(schema(
            "the SOAP Body must contain exactly one request element",
        ));
    }
    Ok(Request {
        logical_address,
        body: first,
    })
}

/// Where a field is, for messages: `EngagementTransaction #3: field "x"`.
#[derive(Clone, Copy)]
struct At<'a> {
    transaction: Option<usize>,
    context: &'a str,
}

impl At<'_> {
    fn prefix(&self) -> String {
        match self.transaction {
            Some(i) => format!("EngagementTransaction #{i}"),
            None => self.context.to_string(),
        }
    }
    fn invalid(&self, field: &str, problem: &str) -> EiError {
        EiError::Invalid(format!("{}: field \"{field}\" {problem}", self.prefix()))
    }
    fn schema(&self, problem: String) -> EiError {
        EiError::Schema(format!("{}: {problem}", self.prefix()))
    }
}

/// Collect the children of `parent` in namespace `ns` by local name, refusing unknown
/// names and repeats. Elements in other namespaces are extension points (`xs:any
/// namespace="##other"`) and are skipped. Child order is NOT checked (see spec).
fn fields<'n>(
    parent: &'n Node,
    ns: &str,
    allowed: &[&'static str],
    at: At<'_>,
) -> Result<HashMap<&'static str, &'n Node>, EiError> {
    let mut found = HashMap::new();
    for c in &parent.children {
        if c.ns != ns {
            if c.ns.is_empty() {
                return Err(at.schema(format!(
                    "element `{}` has no namespace; it must be in {ns}",
                    c.local
                )));
            }
            continue;
        }
        let Some(name) = allowed.iter().find(|a| **a == c.local) else {
            return Err(at.schema(format!(
                "unexpected element `{}` in {}",
                c.local, parent.local
            )));
        };
        if found.insert(*name, c).is_some() {
            return Err(at.schema(format!("element `{name}` occurs more than once")));
        }
    }
    Ok(found)
}

/// A mandatory string field: present, not empty, no leading or trailing white space
/// (skltp/ei rule), at most `max` characters, no unsubstituted `${...}` template.
fn required(
    f: &HashMap<&'static str, &Node>,
    name: &'static str,
    max: usize,
    at: At<'_>,
) -> Result<String, EiError> {
    match f.get(name) {
        None => Err(at.invalid(name, "is mandatory but missing")),
        Some(n) => checked_text(&n.text, name, max, at),
    }
}

fn optional(
    f: &HashMap<&'static str, &Node>,
    name: &'static str,
    max: usize,
    at: At<'_>,
) -> Result<Option<String>, EiError> {
    match f.get(name) {
        None => Ok(None),
        Some(n) if n.text.is_empty() => Ok(None),
        Some(n) => checked_text(&n.text, name, max, at).map(Some),
    }
}

fn checked_text(v: &str, name: &'static str, max: usize, at: At<'_>) -> Result<String, EiError> {
    if v.is_empty() {
        return Err(at.invalid(name, "is mandatory but empty"));
    }
    if v.trim() != v {
        return Err(at.invalid(name, "has white space at the beginning or end"));
    }
    if v.chars().count() > max {
        return Err(at.invalid(name, &format!("is longer than {max} characters")));
    }
    if v.contains("${") {
        return Err(at.invalid(
            name,
            "contains an unsubstituted template variable (`${...}`)",
        ));
    }
    Ok(v.to_string())
}

fn resident(
    v: Option<String>,
    name: &'static str,
    at: At<'_>,
) -> Result<Option<ResidentId>, EiError> {
    match v {
        None => Ok(None),
        // The value is not echoed: it is a personal identity number.
        Some(v) => ResidentId::parse(&v).map(Some).ok_or_else(|| {
            at.invalid(
                name,
                "is not a personal identity number of 12 characters matching [0-9]{8}[0-9pPtTfF][0-9]{3} (century included, no hyphen)",
            )
        }),
    }
}

fn time(v: Option<String>, name: &'static str, at: At<'_>) -> Result<Option<EiTime>, EiError> {
    match v {
        None => Ok(None),
        Some(v) => EiTime::parse(&v).map(Some).ok_or_else(|| {
            at.invalid(
                name,
                &format!("`{v}` is not a time yyyyMMddHHmmss that exists in the calendar"),
            )
        }),
    }
}

/// `xs:boolean` (whitespace collapsed): true, false, 1, 0.
fn boolean(n: &Node, name: &str, at: At<'_>) -> Result<bool, EiError> {
    match n.text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(at.schema(format!(
            "field \"{name}\" must be true or false, not `{other}`"
        ))),
    }
}

const ENGAGEMENT_FIELDS: &[&str] = &[
    "registeredResidentIdentification",
    "serviceDomain",
    "categorization",
    "logicalAddress",
    "businessObjectInstanceIdentifier",
    "clinicalProcessInterestId",
    "mostRecentContent",
    "sourceSystem",
    "creationTime",
    "updateTime",
    "dataController",
    "owner",
];

/// How the owner of incoming engagements is decided.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OwnerRule<'a> {
    /// Update-R6: the index sets itself as owner, whatever the message says.
    SetTo(&'a str),
    /// ProcessNotification: the notifying index's owner is mandatory and kept.
    Required,
}

/// Update or ProcessNotification: 1–1000 `engagementTransaction`s, each validated;
/// duplicate keys (Update-R1) are refused. `creationTime` and `updateTime` are checked
/// but not used: the index sets them.
pub(crate) fn transactions(
    body: &Node,
    contract_ns: &str,
    owner: OwnerRule<'_>,
) -> Result<Vec<EngagementTransaction>, EiError> {
    let at = At {
        transaction: None,
        context: &body.local,
    };
    let mut items = Vec::new();
    for c in &body.children {
        if c.ns == contract_ns && c.local == "engagementTransaction" {
            items.push(c);
        } else if c.ns == contract_ns || c.ns.is_empty() {
            return Err(at.schema(format!(
                "unexpected element `{}`; only engagementTransaction elements are allowed",
                c.local
            )));
        }
        if items.len() > MAX_TRANSACTIONS {
            return Err(EiError::Limit(format!(
                "The request contains more than {MAX_TRANSACTIONS} engagementTransaction elements. At most {MAX_TRANSACTIONS} are allowed per request: split it"
            )));
        }
    }
    if items.is_empty() {
        return Err(EiError::Limit(
            "The request contains no engagementTransaction. At least 1 is required".into(),
        ));
    }
    let mut seen = HashMap::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len());
    for (i, t) in items.into_iter().enumerate() {
        let index = i + 1;
        let at = At {
            transaction: Some(index),
            context: "",
        };
        let tf = fields(t, CORE_NS, &["deleteFlag", "engagement"], at)?;
        let delete = match tf.get("deleteFlag") {
            Some(n) => boolean(n, "deleteFlag", at)?,
            None => return Err(at.invalid("deleteFlag", "is mandatory but missing")),
        };
        let Some(e) = tf.get("engagement") else {
            return Err(at.invalid("engagement", "is mandatory but missing"));
        };
        let f = fields(e, CORE_NS, ENGAGEMENT_FIELDS, at)?;
        // Field lengths: skltp/ei's column sizes.
        let rri = required(&f, "registeredResidentIdentification", 32, at)?;
        let rri = resident(Some(rri), "registeredResidentIdentification", at)?
            .ok_or_else(|| at.invalid("registeredResidentIdentification", "is missing"))?;
        let service_domain = required(&f, "serviceDomain", 255, at)?;
        let categorization = required(&f, "categorization", 255, at)?;
        let logical_address = required(&f, "logicalAddress", 64, at)?;
        let boii = required(&f, "businessObjectInstanceIdentifier", 128, at)?;
        let cpiid = required(&f, "clinicalProcessInterestId", 128, at)?;
        let source_system = required(&f, "sourceSystem", 64, at)?;
        let data_controller = required(&f, "dataController", 64, at)?;
        let most_recent_content = time(
            optional(&f, "mostRecentContent", 14, at)?,
            "mostRecentContent",
            at,
        )?;
        time(optional(&f, "creationTime", 14, at)?, "creationTime", at)?;
        time(optional(&f, "updateTime", 14, at)?, "updateTime", at)?;
        let owner = match owner {
            OwnerRule::SetTo(o) => o.to_string(),
            OwnerRule::Required => required(&f, "owner", 64, at)?,
        };
        let engagement = Engagement {
            registered_resident_identification: rri,
            service_domain,
            categorization,
            logical_address,
            business_object_instance_identifier: boii,
            clinical_process_interest_id: cpiid,
            most_recent_content,
            source_system,
            creation_time: None,
            update_time: None,
            data_controller,
            owner,
        };
        if let Some(first) = seen.insert(engagement.id(), index) {
            return Err(EiError::Duplicate {
                first,
                second: index,
            });
        }
        out.push(EngagementTransaction { delete, engagement });
    }
    Ok(out)
}

/// FindContent: resident and service domain are mandatory; an empty optional element
/// is treated as absent.
pub(crate) fn find_content(body: &Node, contract_ns: &str) -> Result<FindQuery, EiError> {
    let at = At {
        transaction: None,
        context: "FindContent",
    };
    let f = fields(
        body,
        contract_ns,
        &[
            "registeredResidentIdentification",
            "serviceDomain",
            "categorization",
            "logicalAddress",
            "businessObjectInstanceIdentifier",
            "clinicalProcessInterestId",
            "mostRecentContent",
            "sourceSystem",
            "dataController",
            "owner",
        ],
        at,
    )?;
    let rri = required(&f, "registeredResidentIdentification", 32, at)?;
    let rri = resident(Some(rri), "registeredResidentIdentification", at)?
        .ok_or_else(|| at.invalid("registeredResidentIdentification", "is missing"))?;
    let mut q = FindQuery::new(rri, required(&f, "serviceDomain", 255, at)?);
    q.categorization = optional(&f, "categorization", 255, at)?;
    q.logical_address = optional(&f, "logicalAddress", 64, at)?;
    q.business_object_instance_identifier =
        optional(&f, "businessObjectInstanceIdentifier", 128, at)?;
    q.clinical_process_interest_id = optional(&f, "clinicalProcessInterestId", 128, at)?;
    q.most_recent_content = time(
        optional(&f, "mostRecentContent", 14, at)?,
        "mostRecentContent",
        at,
    )?;
    q.source_system = optional(&f, "sourceSystem", 64, at)?;
    q.data_controller = optional(&f, "dataController", 64, at)?;
    q.owner = optional(&f, "owner", 64, at)?;
    Ok(q)
}

/// GetUpdates request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GetUpdatesRequest {
    pub service_domain: String,
    pub since: EiTime,
    pub after_resident: Option<ResidentId>,
}

pub(crate) fn get_updates(body: &Node, contract_ns: &str) -> Result<GetUpdatesRequest, EiError> {
    let at = At {
        transaction: None,
        context: "GetUpdates",
    };
    let f = fields(
        body,
        contract_ns,
        &[
            "serviceDomain",
            "timeStamp",
            "registeredResidentLastFetched",
        ],
        at,
    )?;
    let service_domain = required(&f, "serviceDomain", 255, at)?;
    let since = time(Some(required(&f, "timeStamp", 14, at)?), "timeStamp", at)?
        .ok_or_else(|| at.invalid("timeStamp", "is missing"))?;
    let after_resident = resident(
        optional(&f, "registeredResidentLastFetched", 32, at)?,
        "registeredResidentLastFetched",
        at,
    )?;
    Ok(GetUpdatesRequest {
        service_domain,
        since,
        after_resident,
    })
}
