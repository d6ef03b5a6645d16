//! The OASIS Exchange Header Envelope (XHE) 1.0 as DIGG profiles it for SDK
//! (`CustomizationID urn:fdc:digg.se:edelivery:xhe:1`).
//!
//! Sources: `xhe-schema/XHE-1.0.xsd` (OASIS XHE v1.0 OS), the DIGG examples
//! `xhe-examples/XHE-tm-base*.xml` and `message-v3/xhe_unencrypted_payload.xml`
//! (diggsweden/sdk-docs). The envelope names sender and recipient organisation
//! (`FromParty`/`ToParty`), the business scope (document type, process, federation)
//! and carries one payload: the `messagePayload` element, or after encryption an
//! `xenc:EncryptedData` in its place; an enveloped `ds:Signature` is the last child of
//! the root.
//!
//! [`build`] writes an envelope; [`parse`] reads one and reports the payload's byte
//! range, so that signature verification and decryption can work on the exact bytes;
//! [`check_business`] checks that envelope and message agree.

use std::ops::Range;

use crate::message::{escape_text_into, timestamp_now, Message};
use crate::xml::{self, Element};

/// Namespace of the root element `XHE`.
pub const XHE_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/ExchangeHeaderEnvelope";
/// Namespace of the basic (leaf) components.
pub const XHB_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/BasicComponents";
/// Namespace of the aggregate components.
pub const XHA_NS: &str = "http://docs.oasis-open.org/bdxr/ns/XHE/1/AggregateComponents";
/// XML-DSig namespace (`ds:Signature`).
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML-Enc namespace (`xenc:EncryptedData`).
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";

/// `XHEVersionID`.
pub const XHE_VERSION: &str = "1.0";
/// `CustomizationID` of DIGG's XHE profile.
pub const CUSTOMIZATION_ID: &str = "urn:fdc:digg.se:edelivery:xhe:1";
/// `DOCUMENTID` business scope of an SDK message, signed and encrypted
/// (transport profile `tm-base-ext-sigenc`).
pub const DOCUMENT_ID: &str =
    "urn:riv:infrastructure:messaging:MessageWithAttachments:3::messagePayload##3.0::tm-base-ext-sigenc";
/// Every SDK `DOCUMENTID` starts with this (the transport profile follows).
pub const DOCUMENT_ID_PREFIX: &str =
    "urn:riv:infrastructure:messaging:MessageWithAttachments:3::messagePayload##3.0::";
/// `DOCUMENTID_SCHEME`.
pub const DOCUMENT_ID_SCHEME: &str = "busdox-docid-qns";
/// `PROCESSID`.
pub const PROCESS_ID: &str = "bdx:noprocess";
/// `PROCESSID_SCHEME`.
pub const PROCESS_ID_SCHEME: &str = "urn:fdc:digg.se:edelivery:process";
/// `schemeID` of `FromParty`/`ToParty` identifiers.
pub const PARTY_SCHEME: &str = "iso6523-actorid-upis";
/// `DocumentTypeCode` of the payload: the qualified name of `messagePayload`.
pub const DOCUMENT_TYPE_CODE: &str =
    "Q{urn:riv:infrastructure:messaging:MessageWithAttachments:3}messagePayload";
/// `ContentTypeCode` of the payload.
pub const CONTENT_TYPE_CODE: &str = "application/xml";

/// The envelope fields that vary per message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XheHeader {
    /// `Header/ID`: the message's `messageId`.
    pub id: String,
    /// `Header/CreationDateTime`: when the envelope was made.
    pub creation_date_time: String,
    /// `FromParty/PartyIdentification/ID`, e.g. `0203:region.example`.
    pub from_party: String,
    /// `ToParty/PartyIdentification/ID`.
    pub to_party: String,
    /// `Payload/HandlingServiceID`: the recipient's functional address.
    pub handling_service_id: String,
    /// `FEDERATIONID` business scope, e.g. `urn:fdc:digg.se:edelivery:federation:sdk`.
    pub federation_id: String,
    /// `Payload/InstanceEncryptionIndicator`.
    pub encrypted: bool,
}

impl XheHeader {
    /// The header for sending `m`: ID = messageId, parties = the message's sender and
    /// recipient organisations, HandlingServiceID = the recipient's functional address,
    /// CreationDateTime = now. A sender builds with `encrypted: true` and then lets the
    /// crypto step replace the payload with `xenc:EncryptedData`.
    pub fn for_message(m: &Message, federation_id: &str, encrypted: bool) -> XheHeader {
        XheHeader {
            id: m.header.message_id.clone(),
            creation_date_time: timestamp_now(),
            from_party: m.sender_org().to_owned(),
            to_party: m.recipient_org().to_owned(),
            handling_service_id: m.functional_address().unwrap_or_default().to_owned(),
            federation_id: federation_id.to_owned(),
            encrypted,
        }
    }
}

/// Writes an XHE envelope around `payload_element_xml` (one element, e.g. from
/// [`Message::to_xml`]); a leading BOM or XML declaration on the payload is dropped.
/// The payload bytes are copied verbatim as the only child of `PayloadContent`.
/// All XHE elements carry prefixes (`xhe:`, `xha:`, `xhb:`), so no default namespace
/// leaks into the payload.
pub fn build(header: &XheHeader, payload_element_xml: &[u8]) -> Vec<u8> {
    let payload = strip_prolog(payload_element_xml);
    let mut out = Vec::with_capacity(payload.len() + 4096);
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.extend_from_slice(
        format!("<xhe:XHE xmlns:xhe=\"{XHE_NS}\" xmlns:xha=\"{XHA_NS}\" xmlns:xhb=\"{XHB_NS}\">\n")
            .as_bytes(),
    );
    let leaf = |out: &mut Vec<u8>, indent: &str, name: &str, value: &str| {
        out.extend_from_slice(format!("{indent}<xhb:{name}>").as_bytes());
        escape_text_into(out, value);
        out.extend_from_slice(format!("</xhb:{name}>\n").as_bytes());
    };
    leaf(&mut out, "  ", "XHEVersionID", XHE_VERSION);
    leaf(&mut out, "  ", "CustomizationID", CUSTOMIZATION_ID);
    out.extend_from_slice(b"  <xha:Header>\n");
    leaf(&mut out, "    ", "ID", &header.id);
    leaf(
        &mut out,
        "    ",
        "CreationDateTime",
        &header.creation_date_time,
    );
    out.extend_from_slice(b"    <xha:BusinessScope>\n");
    for (code, value) in [
        ("DOCUMENTID", DOCUMENT_ID),
        ("DOCUMENTID_SCHEME", DOCUMENT_ID_SCHEME),
        ("PROCESSID", PROCESS_ID),
        ("PROCESSID_SCHEME", PROCESS_ID_SCHEME),
        ("FEDERATIONID", header.federation_id.as_str()),
    ] {
        out.extend_from_slice(b"      <xha:BusinessScopeCriterion>\n");
        leaf(&mut out, "        ", "BusinessScopeCriterionTypeCode", code);
        leaf(&mut out, "        ", "BusinessScopeCriterionValue", value);
        out.extend_from_slice(b"      </xha:BusinessScopeCriterion>\n");
    }
    out.extend_from_slice(b"    </xha:BusinessScope>\n");
    for (party, id) in [
        ("FromParty", &header.from_party),
        ("ToParty", &header.to_party),
    ] {
        out.extend_from_slice(
            format!(
                "    <xha:{party}>\n      <xha:PartyIdentification>\n        <xhb:ID schemeID=\"{PARTY_SCHEME}\">"
            )
            .as_bytes(),
        );
        escape_text_into(&mut out, id);
        out.extend_from_slice(
            format!("</xhb:ID>\n      </xha:PartyIdentification>\n    </xha:{party}>\n").as_bytes(),
        );
    }
    out.extend_from_slice(b"  </xha:Header>\n  <xha:Payloads>\n    <xha:Payload>\n");
    leaf(&mut out, "      ", "DocumentTypeCode", DOCUMENT_TYPE_CODE);
    leaf(&mut out, "      ", "ContentTypeCode", CONTENT_TYPE_CODE);
    leaf(
        &mut out,
        "      ",
        "HandlingServiceID",
        &header.handling_service_id,
    );
    leaf(
        &mut out,
        "      ",
        "InstanceEncryptionIndicator",
        if header.encrypted { "true" } else { "false" },
    );
    out.extend_from_slice(b"      <xha:PayloadContent>");
    out.extend_from_slice(payload);
    out.extend_from_slice(
        b"</xha:PayloadContent>\n    </xha:Payload>\n  </xha:Payloads>\n</xhe:XHE>\n",
    );
    out
}

/// Drops a UTF-8 BOM, an XML declaration and whitespace in front of an element.
fn strip_prolog(mut xml: &[u8]) -> &[u8] {
    if let Some(rest) = xml.strip_prefix(b"\xEF\xBB\xBF") {
        xml = rest;
    }
    if xml.starts_with(b"<?xml") {
        if let Some(end) = xml.windows(2).position(|w| w == b"?>") {
            xml = &xml[end + 2..];
        }
    }
    let start = xml
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(xml.len());
    let end = xml
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &xml[start..end.max(start)]
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xhe {
    pub header: XheHeader,
    /// Byte range in the input of the payload: the `PayloadContent`'s child element
    /// (start tag to end tag), or for a non-XML payload its text, trimmed.
    pub payload: Range<usize>,
    /// The payload is an `xenc:EncryptedData` element.
    pub payload_is_encrypted_data: bool,
    /// The payload is text (e.g. base64 of a non-XML document), not an element.
    pub payload_is_text: bool,
    /// The root has a `ds:Signature` child.
    pub has_signature: bool,
    /// `XHEVersionID`.
    pub version_id: String,
    /// `CustomizationID`, if present.
    pub customization_id: Option<String>,
    /// `DOCUMENTID` business scope.
    pub document_id: Option<String>,
    /// `PROCESSID` business scope.
    pub process_id: Option<String>,
    /// `Payload/DocumentTypeCode`.
    pub document_type_code: Option<String>,
    /// `Payload/ContentTypeCode`.
    pub content_type_code: Option<String>,
    /// Namespace declarations (prefix, URI; prefix "" = default) in scope at the
    /// payload element but made on its ancestors. DIGG's envelopes declare the message
    /// prefix on the XHE root, so the payload bytes alone are not a stand-alone
    /// document: use [`Xhe::payload_document`].
    pub inherited_namespaces: Vec<(String, String)>,
}

impl Xhe {
    /// The payload as a stand-alone document: the bytes of [`Xhe::payload`] with the
    /// inherited namespace declarations added to the payload's start tag (what
    /// inclusive C14N does too). For a text payload, the text itself.
    pub fn payload_document(&self, input: &[u8]) -> Vec<u8> {
        let payload = input.get(self.payload.clone()).unwrap_or_default();
        if self.payload_is_text || self.inherited_namespaces.is_empty() {
            return payload.to_vec();
        }
        let name_end = payload
            .iter()
            .skip(1)
            .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
            .map_or(payload.len(), |p| p + 1);
        let mut out = Vec::with_capacity(payload.len() + 256);
        out.extend_from_slice(&payload[..name_end]);
        for (prefix, uri) in &self.inherited_namespaces {
            if prefix.is_empty() {
                out.extend_from_slice(b" xmlns=\"");
            } else {
                out.extend_from_slice(format!(" xmlns:{prefix}=\"").as_bytes());
            }
            for c in uri.bytes() {
                match c {
                    b'&' => out.extend_from_slice(b"&amp;"),
                    b'<' => out.extend_from_slice(b"&lt;"),
                    b'"' => out.extend_from_slice(b"&quot;"),
                    c => out.push(c),
                }
            }
            out.push(b'"');
        }
        out.extend_from_slice(&payload[name_end..]);
        out
    }
}

/// Why an envelope could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XheError {
    /// Not well-formed XML (or XML we refuse: DTD, non-UTF-8).
    #[error("the XHE envelope is not well-formed: {0}")]
    Xml(String),
    /// Well-formed, but not an XHE envelope we can use.
    #[error("line {line}, at {path}: {problem}")]
    Content {
        line: usize,
        path: String,
        problem: String,
    },
}

/// Reads an XHE envelope. Namespace-aware (any prefixes), tolerates a UTF-8 BOM, and
/// accepts signed envelopes and encrypted or non-XML payloads. Requires what the
/// DIGG profile needs for routing: `Header/ID`, `CreationDateTime`, `FromParty`,
/// exactly one `ToParty` and one `Payload` with `HandlingServiceID`,
/// `InstanceEncryptionIndicator` and content, and the `FEDERATIONID` criterion.
pub fn parse(input: &[u8]) -> Result<Xhe, XheError> {
    let root = xml::parse(input).map_err(|e| XheError::Xml(e.to_string()))?;
    let err = |el: &Element, path: &str, problem: String| XheError::Content {
        line: el.line,
        path: path.to_owned(),
        problem,
    };
    if !root.is(XHE_NS, "XHE") {
        return Err(err(
            &root,
            &format!("/{}", root.local),
            format!("the root element is not {{{XHE_NS}}}XHE"),
        ));
    }
    let text_of =
        |parent: &Element, ns: &str, name: &str, path: &str| -> Result<String, XheError> {
            let el = parent.child(ns, name).ok_or_else(|| {
                err(
                    parent,
                    path,
                    format!("required element <{name}> is missing"),
                )
            })?;
            Ok(trim(&el.text).to_owned())
        };
    let opt_text = |parent: &Element, ns: &str, name: &str| -> Option<String> {
        parent.child(ns, name).map(|e| trim(&e.text).to_owned())
    };
    let version_id = text_of(&root, XHB_NS, "XHEVersionID", "/XHE")?;
    let customization_id = opt_text(&root, XHB_NS, "CustomizationID");
    let header = root
        .child(XHA_NS, "Header")
        .ok_or_else(|| err(&root, "/XHE", "required element <Header> is missing".into()))?;
    let hp = "/XHE/Header";
    let id = text_of(header, XHB_NS, "ID", hp)?;
    let creation_date_time = text_of(header, XHB_NS, "CreationDateTime", hp)?;

    let mut criteria: Vec<(String, String)> = Vec::new();
    if let Some(scope) = header.child(XHA_NS, "BusinessScope") {
        for c in scope
            .children
            .iter()
            .filter(|c| c.is(XHA_NS, "BusinessScopeCriterion"))
        {
            if let (Some(code), Some(value)) = (
                opt_text(c, XHB_NS, "BusinessScopeCriterionTypeCode"),
                opt_text(c, XHB_NS, "BusinessScopeCriterionValue"),
            ) {
                criteria.push((code, value));
            }
        }
    }
    let criterion = |code: &str| {
        criteria
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, v)| v.clone())
    };
    let federation_id = criterion("FEDERATIONID").ok_or_else(|| {
        err(
            header,
            &format!("{hp}/BusinessScope"),
            "the FEDERATIONID business scope criterion is missing".into(),
        )
    })?;

    let party = |name: &str| -> Result<String, XheError> {
        let parties: Vec<&Element> = header
            .children
            .iter()
            .filter(|c| c.is(XHA_NS, name))
            .collect();
        let [party] = parties.as_slice() else {
            return Err(err(
                header,
                hp,
                format!("exactly one <{name}> is needed, found {}", parties.len()),
            ));
        };
        let path = format!("{hp}/{name}");
        let ident = party
            .child(XHA_NS, "PartyIdentification")
            .ok_or_else(|| err(party, &path, "<PartyIdentification> is missing".into()))?;
        text_of(ident, XHB_NS, "ID", &format!("{path}/PartyIdentification"))
    };
    let from_party = party("FromParty")?;
    let to_party = party("ToParty")?;

    let payloads = root.child(XHA_NS, "Payloads").ok_or_else(|| {
        err(
            &root,
            "/XHE",
            "required element <Payloads> is missing".into(),
        )
    })?;
    let all: Vec<&Element> = payloads
        .children
        .iter()
        .filter(|c| c.is(XHA_NS, "Payload"))
        .collect();
    let [payload] = all.as_slice() else {
        return Err(err(
            payloads,
            "/XHE/Payloads",
            format!("exactly one <Payload> is needed, found {}", all.len()),
        ));
    };
    let pp = "/XHE/Payloads/Payload";
    let handling_service_id = text_of(payload, XHB_NS, "HandlingServiceID", pp)?;
    let indicator = text_of(payload, XHB_NS, "InstanceEncryptionIndicator", pp)?;
    let encrypted = crate::message::parse_xs_boolean(&indicator).ok_or_else(|| {
        err(
            payload,
            &format!("{pp}/InstanceEncryptionIndicator"),
            format!("'{indicator}' is not a boolean"),
        )
    })?;
    let content = payload.child(XHA_NS, "PayloadContent").ok_or_else(|| {
        err(
            payload,
            pp,
            "required element <PayloadContent> is missing".into(),
        )
    })?;
    let cp = format!("{pp}/PayloadContent");
    // In-scope declarations at the payload: root, Payloads, Payload, PayloadContent.
    let mut in_scope: Vec<(String, String)> = Vec::new();
    for el in [&root, payloads, *payload, content] {
        for (prefix, uri) in &el.ns_decls {
            in_scope.retain(|(p, _)| p != prefix);
            in_scope.push((prefix.clone(), uri.clone()));
        }
    }
    if let [only] = content.children.as_slice() {
        in_scope.retain(|(p, _)| !only.ns_decls.iter().any(|(q, _)| q == p));
    }
    let (range, is_encrypted, is_text) = match content.children.as_slice() {
        [only] if xml::is_xml_whitespace(&content.text) => (
            only.start..only.end,
            only.is(XENC_NS, "EncryptedData"),
            false,
        ),
        [] if !xml::is_xml_whitespace(&content.text) => (text_range(input, content), false, true),
        [] => return Err(err(content, &cp, "the payload is empty".into())),
        _ => {
            return Err(err(
                content,
                &cp,
                "PayloadContent must hold exactly one element (or only text)".into(),
            ))
        }
    };
    Ok(Xhe {
        header: XheHeader {
            id,
            creation_date_time,
            from_party,
            to_party,
            handling_service_id,
            federation_id,
            encrypted,
        },
        payload: range,
        payload_is_encrypted_data: is_encrypted,
        payload_is_text: is_text,
        has_signature: root.children.iter().any(|c| c.is(DS_NS, "Signature")),
        version_id,
        customization_id,
        document_id: criterion("DOCUMENTID"),
        process_id: criterion("PROCESSID"),
        document_type_code: opt_text(payload, XHB_NS, "DocumentTypeCode"),
        content_type_code: opt_text(payload, XHB_NS, "ContentTypeCode"),
        inherited_namespaces: in_scope,
    })
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// The trimmed character data between the start and end tag of a leaf element.
fn text_range(input: &[u8], el: &Element) -> Range<usize> {
    let bytes = input.get(el.start..el.end).unwrap_or_default();
    // End of the start tag: the first '>' outside a quoted attribute value.
    let mut quote = None;
    let mut open_end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => {
                open_end = i + 1;
                break;
            }
            _ => {}
        }
    }
    let close_start = bytes
        .iter()
        .rposition(|&b| b == b'<')
        .unwrap_or(bytes.len());
    let inner = bytes.get(open_end..close_start).unwrap_or_default();
    let first = inner
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(inner.len());
    let last = inner
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(first, |l| l + 1);
    el.start + open_end + first..el.start + open_end + last.max(first)
}

/// Checks that the envelope agrees with the message it carries (DIGG XHE profile):
/// `Header/ID` = messageId, FromParty = sender organisation, ToParty = recipient
/// organisation, HandlingServiceID = recipient functional address, the DIGG
/// CustomizationID and version, and the SDK document type. Returns every mismatch.
pub fn check_business(x: &Xhe, m: &Message) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, found: &str, wanted: &str| {
        if found != wanted {
            problems.push(format!("{what} is '{found}' but must be '{wanted}'"));
        }
    };
    expect("XHE Header/ID", &x.header.id, &m.header.message_id);
    expect("XHE FromParty", &x.header.from_party, m.sender_org());
    expect("XHE ToParty", &x.header.to_party, m.recipient_org());
    expect(
        "XHE HandlingServiceID",
        &x.header.handling_service_id,
        m.functional_address().unwrap_or_default(),
    );
    expect("XHEVersionID", &x.version_id, XHE_VERSION);
    expect(
        "XHE CustomizationID",
        x.customization_id.as_deref().unwrap_or_default(),
        CUSTOMIZATION_ID,
    );
    expect(
        "XHE DocumentTypeCode",
        x.document_type_code.as_deref().unwrap_or_default(),
        DOCUMENT_TYPE_CODE,
    );
    match x.document_id.as_deref() {
        Some(d) if d.starts_with(DOCUMENT_ID_PREFIX) => {}
        other => problems.push(format!(
            "XHE DOCUMENTID is '{}' but must start with '{DOCUMENT_ID_PREFIX}'",
            other.unwrap_or_default()
        )),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse_round_trips_and_the_range_is_the_payload() {
        let mut m = Message::new("0203:a.example", "0203:b.example", "sdk.b", "Ämne & <x>");
        m.add_text_document("d", "D", "text");
        let payload = m.to_document();
        let h = XheHeader::for_message(&m, "urn:fdc:digg.se:edelivery:federation:sdk", true);
        let env = build(&h, &payload);
        let x = parse(&env).unwrap();
        assert_eq!(x.header, h);
        assert!(!x.payload_is_encrypted_data && !x.payload_is_text && !x.has_signature);
        assert_eq!(&env[x.payload.clone()], &m.to_xml()[..]);
        assert_eq!(Message::parse(&env[x.payload.clone()]).unwrap(), m);
        assert_eq!(check_business(&x, &m), Ok(()));

        let other = Message::new("0203:c.example", "0203:b.example", "sdk.x", "");
        let problems = check_business(&x, &other).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn text_payload_range_is_trimmed() {
        let doc = b"<x:XHE xmlns:x='http://docs.oasis-open.org/bdxr/ns/XHE/1/ExchangeHeaderEnvelope' \
            xmlns:a='http://docs.oasis-open.org/bdxr/ns/XHE/1/AggregateComponents' \
            xmlns='http://docs.oasis-open.org/bdxr/ns/XHE/1/BasicComponents'><XHEVersionID>1.0</XHEVersionID>\
            <a:Header><ID>1</ID><CreationDateTime>2022-01-01T00:00:00Z</CreationDateTime>\
            <a:BusinessScope><a:BusinessScopeCriterion><BusinessScopeCriterionTypeCode>FEDERATIONID</BusinessScopeCriterionTypeCode>\
            <BusinessScopeCriterionValue>f</BusinessScopeCriterionValue></a:BusinessScopeCriterion></a:BusinessScope>\
            <a:FromParty><a:PartyIdentification><ID>s</ID></a:PartyIdentification></a:FromParty>\
            <a:ToParty><a:PartyIdentification><ID>r</ID></a:PartyIdentification></a:ToParty></a:Header>\
            <a:Payloads><a:Payload><HandlingServiceID>h</HandlingServiceID><InstanceEncryptionIndicator>false</InstanceEncryptionIndicator>\
            <a:PayloadContent q='>'>  QUJD \n</a:PayloadContent></a:Payload></a:Payloads></x:XHE>";
        let x = parse(doc).unwrap();
        assert!(x.payload_is_text);
        assert_eq!(&doc[x.payload], b"QUJD");
    }
}
