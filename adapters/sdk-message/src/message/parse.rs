//! Reading a [`Message`] from XML: the element tree of [`crate::xml`] into the model,
//! with errors that name the element path and line.

use super::*;
use crate::xml::{self, Element};

impl Message {
    /// Reads a `messagePayload` document. Namespace-aware: any prefix (or the default
    /// namespace) may be used. Errors name the element path and line.
    pub fn parse(xml: &[u8]) -> Result<Message, MessageError> {
        if xml.len() > MAX_MESSAGE_BYTES {
            return Err(MessageError::TooLarge { size: xml.len() });
        }
        let root = xml::parse(xml)?;
        Message::from_element(root)
    }

    /// Builds the model from a parsed `messagePayload` element (moves its text).
    pub(crate) fn from_element(root: Element) -> Result<Message, MessageError> {
        if !root.is(NS, "messagePayload") {
            return Err(MessageError::Content {
                line: root.line,
                path: format!("/{}", root.local),
                problem: format!(
                    "the root element is {}, expected {{{NS}}}messagePayload",
                    qname(&root)
                ),
            });
        }
        let mut payload = Fields::new(root, "")?;
        let message = payload.one("message")?;
        let mut m = Fields::new(message, &payload.path)?;
        payload.finish()?;
        let header = m.one("messageHeader")?;
        let body = m.one("messageBody")?;
        let header = parse_header(Fields::new(header, &m.path)?)?;
        let mut b = Fields::new(body, &m.path)?;
        let mut documents = Vec::new();
        for d in b.all("documents") {
            documents.push(parse_document(Fields::new(d, &b.path)?)?);
        }
        if documents.is_empty() {
            return Err(b.missing("documents"));
        }
        b.finish()?;
        m.finish()?;
        Ok(Message { header, documents })
    }
}

fn qname(e: &Element) -> String {
    match &e.ns {
        Some(ns) => format!("{{{ns}}}{}", e.local),
        None => e.local.clone(),
    }
}

fn parse_header(mut h: Fields) -> Result<MessageHeader, MessageError> {
    let creation_date_time = h.text("creationDateTime")?;
    let message_id = h.text("messageId")?;
    let conversation_id = h.text("conversationId")?;
    let ref_to_message_id = h.opt_text("refToMessageId")?;
    let label = h.opt_text("label")?;
    let confidentiality = h.boolean("confidentiality")?;
    let generating_system = match h.opt("generatingSystem")? {
        Some(g) => Some(parse_ii(Fields::new(g, &h.path)?)?),
        None => None,
    };
    let recipient = h.one("recipient")?;
    let recipient = parse_party(Fields::new(recipient, &h.path)?, "recipientID")?;
    let sender = h.one("sender")?;
    let sender = parse_party(Fields::new(sender, &h.path)?, "senderID")?;
    h.finish()?;
    Ok(MessageHeader {
        creation_date_time,
        message_id,
        conversation_id,
        ref_to_message_id,
        label,
        confidentiality,
        generating_system,
        recipient,
        sender,
    })
}

fn parse_ii(mut f: Fields) -> Result<Ii, MessageError> {
    let root = f.text("root")?;
    let extension = f.text("extension")?;
    f.finish()?;
    Ok(Ii { root, extension })
}

fn parse_party(mut p: Fields, id_name: &str) -> Result<Party, MessageError> {
    let id = p.one(id_name)?;
    let id = parse_ii(Fields::new(id, &p.path)?)?;
    let label = p.opt_text("label")?;
    let attention = match p.opt("attention")? {
        Some(a) => Some(parse_attention(Fields::new(a, &p.path)?)?),
        None => None,
    };
    p.finish()?;
    Ok(Party {
        id,
        label,
        attention,
    })
}

fn parse_attention(mut a: Fields) -> Result<Attention, MessageError> {
    let mut persons = Vec::new();
    for person in a.all("person") {
        let mut pf = Fields::new(person, &a.path)?;
        let person_id = match pf.opt("personId")? {
            Some(id) => Some(parse_ii(Fields::new(id, &pf.path)?)?),
            None => None,
        };
        let label = pf.opt_text("label")?;
        pf.finish()?;
        persons.push(AttentionPerson { person_id, label });
    }
    let sub = a.one("subOrganization")?;
    let mut sf = Fields::new(sub, &a.path)?;
    let organization_id = sf.one("organizationId")?;
    let organization_id = parse_ii(Fields::new(organization_id, &sf.path)?)?;
    let label = sf.opt_text("label")?;
    sf.finish()?;
    let mut references = Vec::new();
    for r in a.all("reference") {
        let mut rf = Fields::new(r, &a.path)?;
        let id = rf.one("referenceId")?;
        let reference_id = parse_ii(Fields::new(id, &rf.path)?)?;
        let label = rf.opt_text("label")?;
        rf.finish()?;
        references.push(Reference {
            reference_id,
            label,
        });
    }
    a.finish()?;
    Ok(Attention {
        persons,
        sub_organization: SubOrganization {
            organization_id,
            label,
        },
        references,
    })
}

fn parse_document(mut d: Fields) -> Result<Document, MessageError> {
    let document_id = d.text("documentID")?;
    let document_name = d.opt_text("documentName")?;
    let index = d.opt_text("index")?;
    let mut files = Vec::new();
    for f in d.all("ContentFiles") {
        let mut ff = Fields::new(f, &d.path)?;
        let file_name = ff.text("fileName")?;
        let content_type = ff.text("contentType")?;
        let content_base64 = ff.text("content")?;
        ff.finish()?;
        files.push(ContentFile {
            file_name,
            content_type,
            content_base64,
        });
    }
    let mut texts = Vec::new();
    for t in d.all("ContentText") {
        let mut tf = Fields::new(t, &d.path)?;
        texts.push(tf.text("characterSequence")?);
        tf.finish()?;
    }
    d.finish()?;
    Ok(Document {
        document_id,
        document_name,
        index,
        files,
        texts,
    })
}

/// The message-namespace children of one element, taken out by name.
struct Fields {
    /// Path of the element whose children these are.
    path: String,
    line: usize,
    children: Vec<Option<Element>>,
}

impl Fields {
    fn new(el: Element, parent_path: &str) -> Result<Fields, MessageError> {
        let path = format!("{parent_path}/{}", el.local);
        if !xml::is_xml_whitespace(&el.text) {
            return Err(MessageError::Content {
                line: el.line,
                path,
                problem: "text is not allowed here, only child elements".into(),
            });
        }
        let children = el
            .children
            .into_iter()
            // Extension elements in other namespaces are allowed and not modelled.
            .filter(|c| c.ns.as_deref() == Some(NS))
            .map(Some)
            .collect();
        Ok(Fields {
            path,
            line: el.line,
            children,
        })
    }

    fn missing(&self, name: &str) -> MessageError {
        MessageError::Content {
            line: self.line,
            path: self.path.clone(),
            problem: format!("required element <{name}> is missing"),
        }
    }

    fn all(&mut self, name: &str) -> Vec<Element> {
        self.children
            .iter_mut()
            .filter(|c| c.as_ref().is_some_and(|c| c.local == name))
            .filter_map(Option::take)
            .collect()
    }

    fn opt(&mut self, name: &str) -> Result<Option<Element>, MessageError> {
        let mut found = self.all(name);
        if found.len() > 1 {
            let second = &found[1];
            return Err(MessageError::Content {
                line: second.line,
                path: format!("{}/{name}", self.path),
                problem: format!("<{name}> may occur only once here"),
            });
        }
        Ok(found.pop())
    }

    fn one(&mut self, name: &str) -> Result<Element, MessageError> {
        self.opt(name)?.ok_or_else(|| self.missing(name))
    }

    fn leaf_text(&self, el: Element) -> Result<String, MessageError> {
        if let Some(child) = el.children.first() {
            return Err(MessageError::Content {
                line: child.line,
                path: format!("{}/{}", self.path, el.local),
                problem: format!("<{}> holds text only, not <{}>", el.local, child.local),
            });
        }
        Ok(el.text)
    }

    fn text(&mut self, name: &str) -> Result<String, MessageError> {
        let el = self.one(name)?;
        self.leaf_text(el)
    }

    fn opt_text(&mut self, name: &str) -> Result<Option<String>, MessageError> {
        match self.opt(name)? {
            Some(el) => self.leaf_text(el).map(Some),
            None => Ok(None),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<bool, MessageError> {
        let el = self.one(name)?;
        let line = el.line;
        let text = self.leaf_text(el)?;
        parse_xs_boolean(&text).ok_or_else(|| MessageError::Content {
            line,
            path: format!("{}/{name}", self.path),
            problem: format!("'{text}' is not an xs:boolean (true, false, 1 or 0)"),
        })
    }

    /// Anything left over is a message-namespace element the schema does not allow here.
    fn finish(self) -> Result<(), MessageError> {
        match self.children.into_iter().flatten().next() {
            Some(extra) => Err(MessageError::Content {
                line: extra.line,
                path: format!("{}/{}", self.path, extra.local),
                problem: format!("<{}> is not allowed here", extra.local),
            }),
            None => Ok(()),
        }
    }
}

/// `xs:boolean` after whitespace collapsing.
pub(crate) fn parse_xs_boolean(text: &str) -> Option<bool> {
    match text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
