//! The receipt (kvittens) a receiving gateway answers an SDK message with: a UBL 2.1
//! `ApplicationResponse` (schema `Response-2.1.xsd`) in the shape of the published
//! examples `Kvittens_AP-Accepterat.xml` and `Kvittens_RE-*.xml`.
//!
//! On the wire a receipt says `ACCEPTED` or `REJECTED` in
//! `DocumentResponse/Response/ResponseCode`; a rejection carries one
//! `LineResponse` whose `ResponseCode` gives the kind of error and whose
//! `Status/StatusReason` the gateway's reason:
//!
//! | [`ReceiptCode`]     | example file             | line `ResponseCode` | [`Receipt::code_str`] |
//! |---------------------|--------------------------|---------------------|-----------------------|
//! | `Accepted`          | Kvittens_AP-Accepterat   | (no line)           | `AP`                  |
//! | `SchemaError`       | Kvittens_RE-XSDFel       | `SV`                | `XSD`                 |
//! | `BusinessRuleError` | Kvittens_RE-SCHFel       | `BV`                | `SCH`                 |
//! | `SignatureError`    | Kvittens_RE-SIG          | `SIG`               | `SIG`                 |
//! | `OtherError`        | Kvittens_RE-AnnatFel     | `BV` + `StatusReasonCode` `ANNAT` | `ANNAT` |
//!
//! The published SCH and AnnatFel examples are identical on the wire (both `BV`,
//! both with a rule id as `StatusReasonCode`): a reader cannot tell them apart, and
//! this module reads both as [`ReceiptCode::BusinessRuleError`]. When we write an
//! "other" rejection we mark it with the status reason code `ANNAT` (a code of our
//! own, documented in specs/) so that our own receipts round-trip.
//!
//! Rejection reasons are texts the gateway writes ("Signatur ej korrekt", a schema
//! error location); never message content.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use std::fmt::Write as _;

const NS_RESPONSE: &str = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2";
const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
/// `cbc:CustomizationID` of an SDK receipt.
pub const CUSTOMIZATION_ID: &str = "urn:fdc:digg.se:edelivery:messagetype:response:1";
/// `cbc:ProfileID` of an SDK receipt.
pub const PROFILE_ID: &str = "bdx:noprocess";
/// `schemeID` of the party endpoint ids (ISO 6523 participant identifiers).
pub const PARTY_SCHEME: &str = "iso6523-actorid-upis";
/// `StatusReasonCode` that marks an "other error" rejection (see module docs).
pub const OTHER_ERROR_REASON_CODE: &str = "ANNAT";

/// What the receipt says about the message it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptCode {
    /// Accepted, no errors found (`AP`).
    Accepted,
    /// The message is not valid against its XSD (`XSD`, line code `SV`).
    SchemaError,
    /// A business rule (Schematron) is broken (`SCH`, line code `BV`).
    BusinessRuleError,
    /// The signature is not correct (`SIG`).
    SignatureError,
    /// Another rule of the specification is not followed (`ANNAT`, line code `BV`).
    OtherError,
}

impl ReceiptCode {
    /// The short name used in the example file names: `AP`, `XSD`, `SCH`, `SIG`,
    /// `ANNAT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptCode::Accepted => "AP",
            ReceiptCode::SchemaError => "XSD",
            ReceiptCode::BusinessRuleError => "SCH",
            ReceiptCode::SignatureError => "SIG",
            ReceiptCode::OtherError => "ANNAT",
        }
    }

    /// `DocumentResponse/Response/ResponseCode`: `ACCEPTED` or `REJECTED`.
    pub fn document_response_code(self) -> &'static str {
        match self {
            ReceiptCode::Accepted => "ACCEPTED",
            _ => "REJECTED",
        }
    }

    /// `LineResponse/Response/ResponseCode` of a rejection: `SV`, `BV` or `SIG`.
    pub fn line_response_code(self) -> Option<&'static str> {
        match self {
            ReceiptCode::Accepted => None,
            ReceiptCode::SchemaError => Some("SV"),
            ReceiptCode::BusinessRuleError | ReceiptCode::OtherError => Some("BV"),
            ReceiptCode::SignatureError => Some("SIG"),
        }
    }
}

/// A receipt (UBL 2.1 ApplicationResponse) for one SDK message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The receipt's own id (`cbc:ID`).
    pub id: String,
    /// `cbc:IssueDate`, `YYYY-MM-DD`.
    pub issue_date: String,
    /// `cbc:IssueTime`, `hh:mm:ssZ`.
    pub issue_time: String,
    /// Who issues the receipt: the organisation that received the message, e.g.
    /// `0203:habo.se`.
    pub sender_party: String,
    /// Who gets the receipt: the organisation that sent the message.
    pub receiver_party: String,
    /// The id of the XHE/message the receipt answers (`DocumentReference/cbc:ID`).
    pub document_reference: String,
    /// Accepted, or the kind of rejection.
    pub code: ReceiptCode,
    /// The rejection reason written by the gateway (`Status/StatusReason`); when a
    /// parsed receipt has several lines, their reasons joined with `"; "`.
    pub reason: Option<String>,
}

/// Why a receipt could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Not well-formed XML, or not an ApplicationResponse.
    #[error("not a receipt: {0}")]
    Malformed(String),
    /// A required element is missing or empty.
    #[error("receipt lacks {0}")]
    Missing(&'static str),
    /// A response code outside the receipt profile.
    #[error(
        "receipt has unknown response code {0:?} (expected ACCEPTED/REJECTED, line SV/BV/SIG)"
    )]
    UnknownCode(String),
}

impl Receipt {
    /// An acceptance issued now by `issuer` (the receiving organisation) to `to`
    /// for message `message_id`.
    pub fn accepted(issuer: &str, to: &str, message_id: &str) -> Self {
        Self::new(issuer, to, message_id, ReceiptCode::Accepted, None)
    }

    /// A rejection issued now. `reason` is the gateway's own text, never message
    /// content. A `code` of [`ReceiptCode::Accepted`] makes an acceptance.
    pub fn rejected(
        issuer: &str,
        to: &str,
        message_id: &str,
        code: ReceiptCode,
        reason: &str,
    ) -> Self {
        // Characters XML 1.0 cannot carry are dropped (and CR, which readers turn
        // into LF); surrounding whitespace is not kept by readers, so it is not
        // written either.
        let reason: String = reason.trim().chars().filter(|&c| xml_char(c)).collect();
        let reason = (code != ReceiptCode::Accepted && !reason.is_empty()).then_some(reason);
        Self::new(issuer, to, message_id, code, reason)
    }

    fn new(
        issuer: &str,
        to: &str,
        message_id: &str,
        code: ReceiptCode,
        reason: Option<String>,
    ) -> Self {
        let now = chrono::Utc::now();
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            issue_date: now.format("%Y-%m-%d").to_string(),
            issue_time: now.format("%H:%M:%SZ").to_string(),
            sender_party: issuer.to_owned(),
            receiver_party: to.to_owned(),
            document_reference: message_id.to_owned(),
            code,
            reason,
        }
    }

    /// Whether the message was accepted.
    pub fn is_accepted(&self) -> bool {
        self.code == ReceiptCode::Accepted
    }

    /// `AP`, `XSD`, `SCH`, `SIG` or `ANNAT` (see [`ReceiptCode::as_str`]).
    pub fn code_str(&self) -> &'static str {
        self.code.as_str()
    }

    /// The receipt as XML, in the shape of the published examples.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut x = String::with_capacity(2048);
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = write!(
            x,
            "<ApplicationResponse xmlns=\"{NS_RESPONSE}\"\n\
             \x20                    xmlns:cac=\"{NS_CAC}\"\n\
             \x20                    xmlns:cbc=\"{NS_CBC}\">\n"
        );
        let _ = writeln!(
            x,
            "  <cbc:CustomizationID>{CUSTOMIZATION_ID}</cbc:CustomizationID>"
        );
        let _ = writeln!(x, "  <cbc:ProfileID>{PROFILE_ID}</cbc:ProfileID>");
        let _ = writeln!(x, "  <cbc:ID>{}</cbc:ID>", esc(&self.id));
        let _ = writeln!(
            x,
            "  <cbc:IssueDate>{}</cbc:IssueDate>",
            esc(&self.issue_date)
        );
        let _ = writeln!(
            x,
            "  <cbc:IssueTime>{}</cbc:IssueTime>",
            esc(&self.issue_time)
        );
        for (element, party) in [
            ("SenderParty", &self.sender_party),
            ("ReceiverParty", &self.receiver_party),
        ] {
            let _ = write!(
                x,
                "  <cac:{element}>\n    <cbc:EndpointID schemeID=\"{PARTY_SCHEME}\">{}</cbc:EndpointID>\n  </cac:{element}>\n",
                esc(party)
            );
        }
        x.push_str("  <cac:DocumentResponse>\n");
        let _ = write!(
            x,
            "    <cac:Response>\n      <cbc:ResponseCode>{}</cbc:ResponseCode>\n    </cac:Response>\n",
            self.code.document_response_code()
        );
        let _ = write!(
            x,
            "    <cac:DocumentReference>\n      <cbc:ID>{}</cbc:ID>\n    </cac:DocumentReference>\n",
            esc(&self.document_reference)
        );
        if let Some(line_code) = self.code.line_response_code() {
            x.push_str("    <cac:LineResponse>\n");
            // "NA": the rejection concerns the message as a whole, as in the
            // XSD and SIG examples.
            x.push_str("      <cac:LineReference>\n        <cbc:LineID>NA</cbc:LineID>\n      </cac:LineReference>\n");
            x.push_str("      <cac:Response>\n");
            let _ = writeln!(
                x,
                "        <cbc:ResponseCode>{line_code}</cbc:ResponseCode>"
            );
            let reason_code =
                (self.code == ReceiptCode::OtherError).then_some(OTHER_ERROR_REASON_CODE);
            if reason_code.is_some() || self.reason.is_some() {
                x.push_str("        <cac:Status>\n");
                if let Some(code) = reason_code {
                    let _ = writeln!(
                        x,
                        "          <cbc:StatusReasonCode>{code}</cbc:StatusReasonCode>"
                    );
                }
                if let Some(reason) = &self.reason {
                    let _ = writeln!(
                        x,
                        "          <cbc:StatusReason>{}</cbc:StatusReason>",
                        esc(reason)
                    );
                }
                x.push_str("        </cac:Status>\n");
            }
            x.push_str("      </cac:Response>\n    </cac:LineResponse>\n");
        }
        x.push_str("  </cac:DocumentResponse>\n</ApplicationResponse>\n");
        x.into_bytes()
    }

    /// Read a receipt. Accepts every published example; unknown extra elements
    /// (other UBL optional parts) are ignored.
    pub fn parse(xml: &[u8]) -> Result<Receipt, ReceiptError> {
        let mut reader = NsReader::from_reader(xml);
        reader.config_mut().trim_text(false);
        let mut path: Vec<(Ns, String)> = Vec::new();
        let mut text = String::new();
        let mut fields = Fields::default();

        loop {
            let position = reader.buffer_position();
            let (resolved, event) = reader
                .read_resolved_event()
                .map_err(|e| ReceiptError::Malformed(format!("near byte {position}: {e}")))?;
            match event {
                Event::Start(e) => {
                    let ns = Ns::of(&resolved);
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.is_empty() && (ns != Ns::Response || local != "ApplicationResponse") {
                        return Err(ReceiptError::Malformed(format!(
                            "the document element is {local}, expected ApplicationResponse in {NS_RESPONSE}"
                        )));
                    }
                    path.push((ns, local));
                    text.clear();
                    if fields.at(
                        &path,
                        &[(Ns::Cac, "DocumentResponse"), (Ns::Cac, "LineResponse")],
                    ) {
                        fields.lines.push(Line::default());
                    }
                }
                Event::Empty(_) if path.is_empty() => {
                    return Err(ReceiptError::Malformed("empty document element".into()));
                }
                Event::Text(t) => {
                    let t = t
                        .unescape()
                        .map_err(|e| ReceiptError::Malformed(format!("bad text: {e}")))?;
                    push_text(&mut text, &t, position)?;
                }
                Event::CData(c) => {
                    let raw = c.into_inner();
                    let t = std::str::from_utf8(&raw).map_err(|_| {
                        ReceiptError::Malformed(format!("near byte {position}: CDATA is not UTF-8"))
                    })?;
                    push_text(&mut text, t, position)?;
                }
                Event::End(_) => {
                    fields.take(&path, text.trim());
                    text.clear();
                    path.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        fields.finish()
    }
}

/// Append character data: only characters XML 1.0 allows (a conforming parser refuses
/// the others, also as character references), line ends normalised to LF as XML
/// readers do.
fn push_text(text: &mut String, t: &str, position: u64) -> Result<(), ReceiptError> {
    if let Some(c) = t.chars().find(|&c| !(xml_char(c) || c == '\r')) {
        return Err(ReceiptError::Malformed(format!(
            "near byte {position}: character U+{:04X} is not allowed in XML",
            c as u32
        )));
    }
    if t.contains('\r') {
        text.push_str(&t.replace("\r\n", "\n").replace('\r', "\n"));
    } else {
        text.push_str(t);
    }
    Ok(())
}

/// Characters XML 1.0 can carry in text (CR excluded: readers turn it into LF).
fn xml_char(c: char) -> bool {
    (!c.is_control() || matches!(c, '\t' | '\n')) && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Escaped for text and attribute values; characters XML cannot carry are dropped
/// (fields are public, so `to_xml` cannot rely on the constructors' cleaning).
fn esc(s: &str) -> String {
    if s.chars().all(xml_char) {
        quick_xml::escape::escape(s).into_owned()
    } else {
        let clean: String = s.chars().filter(|&c| xml_char(c)).collect();
        quick_xml::escape::escape(clean.as_str()).into_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Response,
    Cac,
    Cbc,
    Other,
}

impl Ns {
    fn of(resolved: &ResolveResult<'_>) -> Ns {
        match resolved {
            ResolveResult::Bound(ns) => match ns.as_ref() {
                b if b == NS_RESPONSE.as_bytes() => Ns::Response,
                b if b == NS_CAC.as_bytes() => Ns::Cac,
                b if b == NS_CBC.as_bytes() => Ns::Cbc,
                _ => Ns::Other,
            },
            _ => Ns::Other,
        }
    }
}

#[derive(Debug, Default)]
struct Line {
    code: Option<String>,
    reason_code: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Default)]
struct Fields {
    id: Option<String>,
    issue_date: Option<String>,
    issue_time: Option<String>,
    sender: Option<String>,
    receiver: Option<String>,
    reference: Option<String>,
    response_code: Option<String>,
    lines: Vec<Line>,
}

impl Fields {
    /// Whether `path` is the root followed by exactly `rest`.
    fn at(&self, path: &[(Ns, String)], rest: &[(Ns, &str)]) -> bool {
        path.len() == rest.len() + 1
            && path[1..]
                .iter()
                .zip(rest)
                .all(|((ns, local), (want_ns, want))| ns == want_ns && local == want)
    }

    fn take(&mut self, path: &[(Ns, String)], text: &str) {
        use Ns::{Cac, Cbc};
        let value = || Some(text.to_owned());
        if self.at(path, &[(Cbc, "ID")]) {
            self.id = value();
        } else if self.at(path, &[(Cbc, "IssueDate")]) {
            self.issue_date = value();
        } else if self.at(path, &[(Cbc, "IssueTime")]) {
            self.issue_time = value();
        } else if self.at(path, &[(Cac, "SenderParty"), (Cbc, "EndpointID")]) {
            self.sender = value();
        } else if self.at(path, &[(Cac, "ReceiverParty"), (Cbc, "EndpointID")]) {
            self.receiver = value();
        } else if self.at(
            path,
            &[
                (Cac, "DocumentResponse"),
                (Cac, "Response"),
                (Cbc, "ResponseCode"),
            ],
        ) {
            self.response_code = value();
        } else if self.at(
            path,
            &[
                (Cac, "DocumentResponse"),
                (Cac, "DocumentReference"),
                (Cbc, "ID"),
            ],
        ) {
            self.reference = value();
        } else if let Some(line) = self.lines.last_mut() {
            const LINE: [(Ns, &str); 3] = [
                (Cac, "DocumentResponse"),
                (Cac, "LineResponse"),
                (Cac, "Response"),
            ];
            let in_line_response = path.len() >= 5
                && path[1..4]
                    .iter()
                    .zip(LINE)
                    .all(|((ns, local), (want_ns, want))| *ns == want_ns && local == want);
            if !in_line_response {
                return;
            }
            match &path[4..] {
                [(Cbc, code)] if code == "ResponseCode" => line.code = value(),
                [(Cac, status), (Cbc, field)] if status == "Status" => match field.as_str() {
                    "StatusReasonCode" => line.reason_code = value(),
                    "StatusReason" => line.reason = value(),
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn finish(self) -> Result<Receipt, ReceiptError> {
        fn required(v: Option<String>, what: &'static str) -> Result<String, ReceiptError> {
            v.filter(|s| !s.is_empty())
                .ok_or(ReceiptError::Missing(what))
        }
        let response = required(self.response_code, "DocumentResponse/Response/ResponseCode")?;
        let code = match response.as_str() {
            "ACCEPTED" => ReceiptCode::Accepted,
            "REJECTED" => {
                let first = self.lines.iter().find(|l| l.code.is_some());
                match first.and_then(|l| l.code.as_deref()) {
                    Some("SV") => ReceiptCode::SchemaError,
                    Some("SIG") => ReceiptCode::SignatureError,
                    Some("BV") => {
                        let other = first
                            .and_then(|l| l.reason_code.as_deref())
                            .is_some_and(|c| c.eq_ignore_ascii_case(OTHER_ERROR_REASON_CODE));
                        if other {
                            ReceiptCode::OtherError
                        } else {
                            ReceiptCode::BusinessRuleError
                        }
                    }
                    Some(other) => return Err(ReceiptError::UnknownCode(other.to_owned())),
                    // A rejection without a line: nothing says which kind.
                    None => ReceiptCode::OtherError,
                }
            }
            other => return Err(ReceiptError::UnknownCode(other.to_owned())),
        };
        let reasons: Vec<String> = self
            .lines
            .into_iter()
            .filter_map(|l| l.reason)
            .filter(|r| !r.is_empty())
            .collect();
        Ok(Receipt {
            id: required(self.id, "cbc:ID")?,
            issue_date: required(self.issue_date, "cbc:IssueDate")?,
            issue_time: required(self.issue_time, "cbc:IssueTime")?,
            sender_party: required(self.sender, "SenderParty/EndpointID")?,
            receiver_party: required(self.receiver, "ReceiverParty/EndpointID")?,
            document_reference: required(
                self.reference,
                "DocumentResponse/DocumentReference/cbc:ID",
            )?,
            code,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        })
    }
}
