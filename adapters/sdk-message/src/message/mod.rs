//! The SDK message: `urn:riv:infrastructure:messaging:MessageWithAttachments:3`.
//!
//! Source: `infrastructure_messaging_MessageWithAttachments_3.0.xsd` (diggsweden/sdk-docs).
//! The document is a `messagePayload` holding one `message` with a `messageHeader`
//! (who, when, which conversation) and a `messageBody` (one or more `documents`, each
//! with base64 files and/or Markdown texts).
//!
//! [`Message::parse`] builds the model from XML; it checks what the model needs
//! (required elements present, at most one of each single element, booleans readable)
//! but not the full schema: use [`crate::validate::validate`] for a receipt-grade
//! verdict. Extension elements (`xs:any namespace="##other"`) are skipped; the model
//! does not carry them.
//!
//! [`Message::to_xml`] writes the `messagePayload` element (no XML declaration, so it
//! can go straight into an XHE `PayloadContent`); [`Message::to_document`] adds the
//! declaration for a stand-alone file.

use base64::Engine as _;

use crate::xml;

/// Target namespace of MessageWithAttachments:3.
pub const NS: &str = "urn:riv:infrastructure:messaging:MessageWithAttachments:3";

/// Largest message we accept or produce, in bytes of XML (SDK: 30 MiB per message).
pub const MAX_MESSAGE_BYTES: usize = 30 * 1024 * 1024;

/// `root` of the organisation identifiers in `senderID`/`recipientID` (schematron
/// patterns `senderIdvalue`, `recipientIdvalue`).
pub const ORGANIZATION_ID_ROOT: &str = "iso6523-actorid-upis";

/// `root` of a functional address in `subOrganization/organizationId` (schematron
/// pattern `subOrgRoot`).
pub const FUNCTIONAL_ADDRESS_ROOT: &str = "urn:riv:infrastructure:messaging:functionalAddress";

/// An instance identifier (`IIType`): a code system (`root`) and a value (`extension`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ii {
    pub root: String,
    pub extension: String,
}

impl Ii {
    /// An identifier in code system `root`.
    pub fn new(root: impl Into<String>, extension: impl Into<String>) -> Self {
        Ii {
            root: root.into(),
            extension: extension.into(),
        }
    }
}

/// `AttentionPersonType`: a person the message is for (or from).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttentionPerson {
    pub person_id: Option<Ii>,
    /// At most 256 characters (schema `maxLength`).
    pub label: Option<String>,
}

/// `subOrganizationType`: the functional address inside the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubOrganization {
    /// `root` is [`FUNCTIONAL_ADDRESS_ROOT`], `extension` the functional address.
    pub organization_id: Ii,
    /// At most 256 characters (schema `maxLength`).
    pub label: Option<String>,
}

/// `ReferenceType`: a reference (case number, etc.) at the attention level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reference {
    pub reference_id: Ii,
    /// At most 256 characters (schema `maxLength`).
    pub label: Option<String>,
}

/// `AttentionDataType`: persons (0..n), the functional address (exactly one) and
/// references (0..n), in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attention {
    pub persons: Vec<AttentionPerson>,
    pub sub_organization: SubOrganization,
    pub references: Vec<Reference>,
}

/// `SenderType` / `RecipientType`. The schema requires `attention` for the recipient
/// (it carries the functional address) and makes it optional for the sender.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    /// `senderID`/`recipientID`: root [`ORGANIZATION_ID_ROOT`], extension `0203:<domain>`.
    pub id: Ii,
    /// At most 256 characters (schema `maxLength`).
    pub label: Option<String>,
    pub attention: Option<Attention>,
}

/// `MessageHeaderType`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// `xs:dateTime`; the business rules want `YYYY-MM-DDThh:mm:ss.sssZ` (UTC).
    pub creation_date_time: String,
    /// A UUID.
    pub message_id: String,
    /// A UUID; equal to `message_id` for the first message of a conversation.
    pub conversation_id: String,
    /// The UUID of the message this one answers.
    pub ref_to_message_id: Option<String>,
    /// The subject; at most 256 characters (business rule `subjectlabel`).
    pub label: Option<String>,
    pub confidentiality: bool,
    pub generating_system: Option<Ii>,
    pub recipient: Party,
    pub sender: Party,
}

/// `ContentAsBase64`: an attached file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentFile {
    pub file_name: String,
    /// A MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Base64 (RFC 4648) as it stands in the XML; may contain line breaks.
    pub content_base64: String,
}

impl ContentFile {
    /// The file's bytes. Whitespace in the base64 text (line wrapping) is ignored.
    pub fn decode(&self) -> Result<Vec<u8>, base64::DecodeError> {
        let compact: String = self
            .content_base64
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD.decode(compact)
    }
}

/// `DigitalDocumentType`: one document of the message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    pub document_id: String,
    pub document_name: Option<String>,
    pub index: Option<String>,
    /// `ContentFiles` (written before the texts, as the schema orders them).
    pub files: Vec<ContentFile>,
    /// `ContentText/characterSequence`: Markdown.
    pub texts: Vec<String>,
}

impl Document {
    /// Attaches `bytes` as a base64 file.
    pub fn add_file(&mut self, file_name: &str, content_type: &str, bytes: &[u8]) -> &mut Self {
        self.files.push(ContentFile {
            file_name: file_name.to_owned(),
            content_type: content_type.to_owned(),
            content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
        self
    }

    /// Adds a Markdown text.
    pub fn add_text(&mut self, markdown: &str) -> &mut Self {
        self.texts.push(markdown.to_owned());
        self
    }
}

/// A MessageWithAttachments:3 message (the `message` element inside `messagePayload`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub header: MessageHeader,
    /// At least one (schema `minOccurs="1"`).
    pub documents: Vec<Document>,
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not well-formed XML, or XML we refuse (DTD, non-UTF-8 encoding).
    #[error("line {line}{}: {message}", at(path))]
    Xml {
        line: usize,
        path: String,
        message: String,
    },
    /// Well-formed, but not a message the model can hold.
    #[error("line {line}, at {path}: {problem}")]
    Content {
        line: usize,
        /// Element path, e.g. `/messagePayload/message/messageHeader/confidentiality`.
        path: String,
        problem: String,
    },
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("the message is {size} bytes; SDK messages are at most {MAX_MESSAGE_BYTES} bytes")]
    TooLarge { size: usize },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(", at {path}")
    }
}

impl From<xml::XmlError> for MessageError {
    fn from(e: xml::XmlError) -> Self {
        MessageError::Xml {
            line: e.line,
            path: e.path,
            message: e.message,
        }
    }
}

/// Current time as the business rule `creationDateTime` wants it.
pub fn timestamp_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Message {
    /// A new message starting a conversation: `creationDateTime` now (UTC, millisecond
    /// precision), a fresh UUID v4 as `messageId` and `conversationId`,
    /// `confidentiality` false, identifiers with the roots the business rules require.
    /// `sender_org`/`recipient_org` are full organisation ids (`0203:region.example`);
    /// an empty `label` is left out (an empty element would break
    /// `verifyNonEmptyElements`). Add documents before sending: a message needs one.
    pub fn new(
        sender_org: &str,
        recipient_org: &str,
        recipient_functional_address: &str,
        label: &str,
    ) -> Message {
        let id = uuid::Uuid::new_v4().to_string();
        Message {
            header: MessageHeader {
                creation_date_time: timestamp_now(),
                message_id: id.clone(),
                conversation_id: id,
                ref_to_message_id: None,
                label: (!label.is_empty()).then(|| label.to_owned()),
                confidentiality: false,
                generating_system: None,
                recipient: Party {
                    id: Ii::new(ORGANIZATION_ID_ROOT, recipient_org),
                    label: None,
                    attention: Some(Attention {
                        persons: Vec::new(),
                        sub_organization: SubOrganization {
                            organization_id: Ii::new(
                                FUNCTIONAL_ADDRESS_ROOT,
                                recipient_functional_address,
                            ),
                            label: None,
                        },
                        references: Vec::new(),
                    }),
                },
                sender: Party {
                    id: Ii::new(ORGANIZATION_ID_ROOT, sender_org),
                    label: None,
                    attention: None,
                },
            },
            documents: Vec::new(),
        }
    }

    /// Makes this message an answer to `original`: `refToMessageId` is its
    /// `messageId` and the conversation continues under its `conversationId`.
    pub fn with_reply_to(mut self, original: &Message) -> Message {
        self.header.ref_to_message_id = Some(original.header.message_id.clone());
        self.header.conversation_id = original.header.conversation_id.clone();
        self
    }

    /// Sets `confidentiality`.
    pub fn with_confidentiality(mut self, confidential: bool) -> Message {
        self.header.confidentiality = confidential;
        self
    }

    /// Sets the sender's functional address (sender `attention/subOrganization`).
    pub fn with_sender_functional_address(mut self, address: &str) -> Message {
        self.header.sender.attention = Some(Attention {
            persons: Vec::new(),
            sub_organization: SubOrganization {
                organization_id: Ii::new(FUNCTIONAL_ADDRESS_ROOT, address),
                label: None,
            },
            references: Vec::new(),
        });
        self
    }

    /// Adds an empty document (its `index` is its 1-based position) and returns it.
    pub fn add_document(&mut self, id: &str, name: Option<&str>) -> &mut Document {
        let index = self.documents.len() + 1;
        self.documents.push(Document {
            document_id: id.to_owned(),
            document_name: name.map(str::to_owned),
            index: Some(index.to_string()),
            files: Vec::new(),
            texts: Vec::new(),
        });
        let last = self.documents.len() - 1;
        &mut self.documents[last]
    }

    /// Adds a document holding one Markdown text.
    pub fn add_text_document(&mut self, id: &str, name: &str, markdown: &str) -> &mut Document {
        let name = (!name.is_empty()).then_some(name);
        let doc = self.add_document(id, name);
        doc.add_text(markdown);
        doc
    }

    /// Attaches a file to the document with id `document_id`, creating that document
    /// if there is none yet.
    pub fn add_file(
        &mut self,
        document_id: &str,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> &mut Document {
        let pos = match self
            .documents
            .iter()
            .position(|d| d.document_id == document_id)
        {
            Some(pos) => pos,
            None => {
                self.add_document(document_id, None);
                self.documents.len() - 1
            }
        };
        let doc = &mut self.documents[pos];
        doc.add_file(file_name, content_type, bytes);
        doc
    }

    /// The sender's organisation id (`senderID/extension`), e.g. `0203:region.example`.
    pub fn sender_org(&self) -> &str {
        &self.header.sender.id.extension
    }

    /// The recipient's organisation id (`recipientID/extension`).
    pub fn recipient_org(&self) -> &str {
        &self.header.recipient.id.extension
    }

    /// The recipient's functional address
    /// (`recipient/attention/subOrganization/organizationId/extension`).
    pub fn functional_address(&self) -> Option<&str> {
        self.header
            .recipient
            .attention
            .as_ref()
            .map(|a| a.sub_organization.organization_id.extension.as_str())
    }
}

mod parse;
mod write;

pub(crate) use parse::parse_xs_boolean;
pub(crate) use write::escape_text_into;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut m = Message::new(
            "0203:region.example",
            "0203:kommun.example",
            "sdk.kommun.example",
            "Kallelse <SIP> & möte",
        );
        m.add_text_document(
            "doc-1",
            "Kallelse",
            "# Rubrik\r\nText med <tecken> & \"citat\"",
        );
        m.add_file(
            "doc-1",
            "bilaga.pdf",
            "application/pdf",
            b"%PDF-1.4 \x00\x01\x02",
        );
        m
    }

    #[test]
    fn new_message_has_the_fields_the_business_rules_want() {
        let m = sample();
        assert_eq!(m.header.message_id, m.header.conversation_id);
        assert!(uuid::Uuid::parse_str(&m.header.message_id).is_ok());
        assert_eq!(
            m.header.creation_date_time.len(),
            "2022-10-13T18:10:39.843Z".len()
        );
        assert!(m.header.creation_date_time.ends_with('Z'));
        assert_eq!(m.sender_org(), "0203:region.example");
        assert_eq!(m.recipient_org(), "0203:kommun.example");
        assert_eq!(m.functional_address(), Some("sdk.kommun.example"));
    }

    #[test]
    fn to_xml_then_parse_gives_the_same_message() {
        let m = sample();
        let back = Message::parse(&m.to_xml()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.documents[0].files[0].decode().unwrap(),
            b"%PDF-1.4 \x00\x01\x02"
        );
        let back = Message::parse(&m.to_document()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn reply_continues_the_conversation() {
        let first = sample();
        let reply = Message::new(
            "0203:kommun.example",
            "0203:region.example",
            "sdk.region",
            "Svar",
        )
        .with_reply_to(&first);
        assert_eq!(
            reply.header.ref_to_message_id.as_deref(),
            Some(first.header.message_id.as_str())
        );
        assert_eq!(reply.header.conversation_id, first.header.conversation_id);
        assert_ne!(reply.header.message_id, first.header.message_id);
    }

    #[test]
    fn errors_name_the_element_path() {
        let xml = String::from_utf8(sample().to_xml()).unwrap();
        let bad = xml.replace("<tns:confidentiality>false<", "<tns:confidentiality>nej<");
        let err = Message::parse(bad.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("/messagePayload/message/messageHeader/confidentiality"),
            "{err}"
        );
        let bad = xml.replace(
            "<tns:messageId>",
            "<tns:messageIdX>x</tns:messageIdX><tns:messageId>",
        );
        let err = Message::parse(bad.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("messageIdX") && err.contains("not allowed"),
            "{err}"
        );
        let err = Message::parse(b"<messagePayload/>")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected {urn:riv"), "{err}");
    }

    #[test]
    fn control_characters_do_not_break_the_xml() {
        let mut m = sample();
        m.header.label = Some("a\u{1}b".into());
        let back = Message::parse(&m.to_xml()).unwrap();
        assert_eq!(back.header.label.as_deref(), Some("a\u{FFFD}b"));
    }
}
