//! The delivery envelope between gateways (specs/sdk.md §5): a SOAP 1.2 envelope whose
//! header is an ebMS 3 `Messaging/UserMessage` (message id, timestamp, from/to gateway,
//! service and action, `originalSender` / `finalRecipient` properties, a payload
//! reference), modelled on DIGG's `as4_xhe_encrypted.xml`, and whose body carries the
//! signed and encrypted XHE document base64-encoded (so the signed bytes arrive exactly
//! as signed). Not full AS4 (no WS-Security, no MIME packaging, no signal messages):
//! the receipt comes back in the HTTP answer. A later step can put this header into
//! AS4 unchanged.

use base64::Engine;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::addressbook::ParticipantId;

pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const EBMS: &str = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/";
/// vaxel's body element namespace.
pub const VAXEL_TRANSPORT: &str = "urn:vaxel:sdk:transport:1";
/// ebMS party type of an access point (gateway).
pub const PARTY_TYPE_AP: &str = "urn:fdc:digg.se:edelivery:transportprofile:as4:partytype:ap";
pub const SERVICE_TYPE: &str = "urn:fdc:digg.se:edelivery:process";
pub const SERVICE: &str = "bdx:noprocess";
pub const ACTION: &str = "busdox-docid-qns::urn:riv:infrastructure:messaging:MessageWithAttachments:3::messagePayload##3.0::tm-base-ext-sigenc";
const ROLE_INITIATOR: &str =
    "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator";
const ROLE_RESPONDER: &str =
    "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder";
/// The Content-Type of a delivery.
pub const CONTENT_TYPE: &str = "application/soap+xml; charset=UTF-8";

/// A delivery from one gateway to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The ebMS message id (the SDK message id).
    pub message_id: String,
    /// When the sending gateway built it (RFC 3339).
    pub timestamp: String,
    /// The sending gateway's identity.
    pub from_gateway: String,
    /// The receiving gateway's identity.
    pub to_gateway: String,
    pub original_sender: ParticipantId,
    pub final_recipient: ParticipantId,
    /// The signed and encrypted XHE document, byte for byte.
    pub xhe: Vec<u8>,
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

impl Delivery {
    /// The envelope's bytes.
    pub fn to_xml(&self) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.xhe);
        let mut out = String::with_capacity(b64.len() + 2048);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<soap:Envelope xmlns:soap=\"{SOAP12}\" xmlns:eb=\"{EBMS}\"><soap:Header><eb:Messaging><eb:UserMessage>"
        ));
        out.push_str(&format!(
            "<eb:MessageInfo><eb:Timestamp>{}</eb:Timestamp><eb:MessageId>{}</eb:MessageId></eb:MessageInfo>",
            esc(&self.timestamp),
            esc(&self.message_id)
        ));
        out.push_str(&format!(
            "<eb:PartyInfo><eb:From><eb:PartyId type=\"{PARTY_TYPE_AP}\">{}</eb:PartyId><eb:Role>{ROLE_INITIATOR}</eb:Role></eb:From><eb:To><eb:PartyId type=\"{PARTY_TYPE_AP}\">{}</eb:PartyId><eb:Role>{ROLE_RESPONDER}</eb:Role></eb:To></eb:PartyInfo>",
            esc(&self.from_gateway),
            esc(&self.to_gateway)
        ));
        out.push_str(&format!(
            "<eb:CollaborationInfo><eb:Service type=\"{SERVICE_TYPE}\">{SERVICE}</eb:Service><eb:Action>{ACTION}</eb:Action></eb:CollaborationInfo>"
        ));
        out.push_str(&format!(
            "<eb:MessageProperties><eb:Property name=\"originalSender\" type=\"{}\">{}</eb:Property><eb:Property name=\"finalRecipient\" type=\"{}\">{}</eb:Property></eb:MessageProperties>",
            esc(&self.original_sender.scheme),
            esc(&self.original_sender.value),
            esc(&self.final_recipient.scheme),
            esc(&self.final_recipient.value)
        ));
        out.push_str("<eb:PayloadInfo><eb:PartInfo href=\"cid:message\"><eb:PartProperties><eb:Property name=\"MimeType\">application/xml</eb:Property></eb:PartProperties></eb:PartInfo></eb:PayloadInfo>");
        out.push_str("</eb:UserMessage></eb:Messaging></soap:Header><soap:Body>");
        out.push_str(&format!(
            "<vx:payload xmlns:vx=\"{VAXEL_TRANSPORT}\" payloadId=\"cid:message\" contentType=\"application/xml\">"
        ));
        out.push_str(&b64);
        out.push_str("</vx:payload></soap:Body></soap:Envelope>");
        out.into_bytes()
    }

    /// Read an envelope. Errors say what is missing or wrong (never payload content).
    pub fn parse(xml: &[u8]) -> Result<Delivery, String> {
        let mut reader = NsReader::from_reader(xml);
        reader.config_mut().trim_text(false);
        let mut buf = Vec::new();
        let mut path: Vec<(String, String)> = Vec::new();
        let mut text = String::new();
        let mut property: Option<(String, String)> = None; // (name, type)
        let mut party_type_ok = true;
        let (mut message_id, mut timestamp, mut from, mut to) = (None, None, None, None);
        let (mut sender, mut recipient) = (None, None);
        let mut payload: Option<String> = None;
        let mut action = None;
        loop {
            let ev = reader
                .read_resolved_event_into(&mut buf)
                .map_err(|e| format!("the delivery envelope is not well-formed XML: {e}"))?;
            match ev {
                (ns, Event::Start(e)) => {
                    let ns = match ns {
                        ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                        _ => String::new(),
                    };
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.is_empty() && !(ns == SOAP12 && local == "Envelope") {
                        return Err(format!(
                            "the delivery is not a SOAP 1.2 Envelope (found {{{ns}}}{local})"
                        ));
                    }
                    if ns == EBMS && local == "Property" {
                        let mut name = String::new();
                        let mut ty = String::new();
                        for a in e.attributes().flatten() {
                            let v = a
                                .unescape_value()
                                .map(|v| v.into_owned())
                                .unwrap_or_default();
                            match a.key.local_name().as_ref() {
                                b"name" => name = v,
                                b"type" => ty = v,
                                _ => {}
                            }
                        }
                        property = Some((name, ty));
                    }
                    if ns == EBMS && local == "PartyId" {
                        for a in e.attributes().flatten() {
                            if a.key.local_name().as_ref() == b"type" {
                                party_type_ok &= a.value.as_ref() == PARTY_TYPE_AP.as_bytes();
                            }
                        }
                    }
                    text.clear();
                    path.push((ns, local));
                }
                (_, Event::Empty(e)) if path.is_empty() => {
                    return Err(format!(
                        "the delivery is not a SOAP 1.2 Envelope (found an empty {})",
                        String::from_utf8_lossy(e.local_name().as_ref())
                    ));
                }
                (_, Event::Empty(_)) => {}
                (_, Event::Text(t)) => {
                    let t = t.unescape().map_err(|e| {
                        format!("the delivery envelope has a bad character reference: {e}")
                    })?;
                    text.push_str(&t);
                }
                (_, Event::CData(t)) => text.push_str(&String::from_utf8_lossy(&t)),
                (_, Event::End(_)) => {
                    let Some((ns, local)) = path.pop() else {
                        break;
                    };
                    let parent = path.last().map(|(_, l)| l.as_str()).unwrap_or("");
                    let value = std::mem::take(&mut text);
                    if ns == EBMS {
                        match (local.as_str(), parent) {
                            ("MessageId", "MessageInfo") => {
                                message_id = Some(value.trim().to_string())
                            }
                            ("Timestamp", "MessageInfo") => {
                                timestamp = Some(value.trim().to_string())
                            }
                            ("PartyId", "From") => from = Some(value.trim().to_string()),
                            ("PartyId", "To") => to = Some(value.trim().to_string()),
                            ("Action", "CollaborationInfo") => {
                                action = Some(value.trim().to_string())
                            }
                            ("Property", "MessageProperties") => {
                                if let Some((name, ty)) = property.take() {
                                    let id = ParticipantId::from_ii(&ty, value.trim());
                                    match name.as_str() {
                                        "originalSender" => sender = Some(id),
                                        "finalRecipient" => recipient = Some(id),
                                        _ => {}
                                    }
                                }
                            }
                            _ => {}
                        }
                    } else if ns == VAXEL_TRANSPORT && local == "payload" && parent == "Body" {
                        payload = Some(value);
                    }
                    if path.is_empty() {
                        break;
                    }
                }
                (_, Event::Eof) => break,
                _ => {}
            }
            buf.clear();
        }
        let need = |v: Option<String>, what: &str| {
            v.filter(|s| !s.is_empty())
                .ok_or_else(|| format!("the delivery envelope has no {what}"))
        };
        if !party_type_ok {
            return Err(format!("a PartyId's type is not {PARTY_TYPE_AP}"));
        }
        let action = need(action, "CollaborationInfo/Action")?;
        if action != ACTION {
            return Err(format!(
                "action `{action}` is not supported; this gateway takes `{ACTION}`"
            ));
        }
        let b64: String = need(payload, "payload in the Body")?
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let xhe = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("the payload is not base64: {e}"))?;
        let original_sender = sender
            .filter(|p| !p.scheme.is_empty() && !p.value.is_empty())
            .ok_or("the delivery envelope has no originalSender property")?;
        let final_recipient = recipient
            .filter(|p| !p.scheme.is_empty() && !p.value.is_empty())
            .ok_or("the delivery envelope has no finalRecipient property")?;
        Ok(Delivery {
            message_id: need(message_id, "MessageInfo/MessageId")?,
            timestamp: need(timestamp, "MessageInfo/Timestamp")?,
            from_gateway: need(from, "From/PartyId")?,
            to_gateway: need(to, "To/PartyId")?,
            original_sender,
            final_recipient,
            xhe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Delivery {
        Delivery {
            message_id: "7bc5576a-3f87-4cf5-a0c5-277da06fcacb".into(),
            timestamp: "2026-12-06T10:00:00Z".into(),
            from_gateway: "SE0000000000-SDKREGION".into(),
            to_gateway: "SE0000000000-SDK<&>".into(),
            original_sender: ParticipantId::parse("0203:region.demo").unwrap(),
            final_recipient: ParticipantId::parse("0203:kommun.demo").unwrap(),
            xhe: b"<x:XHE xmlns:x=\"urn:x\">\xc3\xa5 & bytes</x:XHE>".to_vec(),
        }
    }

    #[test]
    fn round_trips() {
        let d = sample();
        assert_eq!(Delivery::parse(&d.to_xml()).unwrap(), d);
    }

    #[test]
    fn refuses_what_is_not_a_delivery() {
        let e = Delivery::parse(b"<a/>").unwrap_err();
        assert!(e.contains("not a SOAP 1.2 Envelope"), "{e}");
        let bad = String::from_utf8(sample().to_xml())
            .unwrap()
            .replace("name=\"finalRecipient\"", "name=\"other\"");
        assert!(Delivery::parse(bad.as_bytes())
            .unwrap_err()
            .contains("finalRecipient"));
        let bad = String::from_utf8(sample().to_xml())
            .unwrap()
            .replace("tm-base-ext-sigenc", "tm-base");
        assert!(Delivery::parse(bad.as_bytes())
            .unwrap_err()
            .contains("not supported"));
        assert!(Delivery::parse(
            b"<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><x"
        )
        .is_err());
    }
}
