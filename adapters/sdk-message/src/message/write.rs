//! Writing a [`Message`] as XML.

use super::{Ii, Message, Party, NS};

impl Message {
    /// The `messagePayload` element as UTF-8 XML, without an XML declaration (ready to
    /// be placed in an XHE `PayloadContent`). Elements use the `tns` prefix. Characters
    /// XML 1.0 cannot carry (control characters other than tab, CR, LF) are written as
    /// U+FFFD; a CR is written as `&#13;` so that it survives parsing.
    pub fn to_xml(&self) -> Vec<u8> {
        let size_hint = 4096
            + self
                .documents
                .iter()
                .flat_map(|d| d.files.iter().map(|f| f.content_base64.len()))
                .sum::<usize>();
        let mut w = Writer {
            out: Vec::with_capacity(size_hint),
            depth: 0,
        };
        w.out
            .extend_from_slice(format!("<tns:messagePayload xmlns:tns=\"{NS}\">").as_bytes());
        w.depth = 1;
        w.open("message");
        self.write_header(&mut w);
        w.open("messageBody");
        for d in &self.documents {
            w.open("documents");
            w.leaf("documentID", &d.document_id);
            w.opt_leaf("documentName", d.document_name.as_deref());
            w.opt_leaf("index", d.index.as_deref());
            for f in &d.files {
                w.open("ContentFiles");
                w.leaf("fileName", &f.file_name);
                w.leaf("contentType", &f.content_type);
                w.leaf("content", &f.content_base64);
                w.close("ContentFiles");
            }
            for t in &d.texts {
                w.open("ContentText");
                w.leaf("characterSequence", t);
                w.close("ContentText");
            }
            w.close("documents");
        }
        w.close("messageBody");
        w.close("message");
        w.out.extend_from_slice(b"\n</tns:messagePayload>");
        w.out
    }

    /// [`Message::to_xml`] with an XML declaration in front: a stand-alone document.
    pub fn to_document(&self) -> Vec<u8> {
        let mut doc = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec();
        doc.extend_from_slice(&self.to_xml());
        doc
    }

    fn write_header(&self, w: &mut Writer) {
        let h = &self.header;
        w.open("messageHeader");
        w.leaf("creationDateTime", &h.creation_date_time);
        w.leaf("messageId", &h.message_id);
        w.leaf("conversationId", &h.conversation_id);
        w.opt_leaf("refToMessageId", h.ref_to_message_id.as_deref());
        w.opt_leaf("label", h.label.as_deref());
        w.leaf(
            "confidentiality",
            if h.confidentiality { "true" } else { "false" },
        );
        if let Some(g) = &h.generating_system {
            w.ii("generatingSystem", g);
        }
        w.party("recipient", "recipientID", &h.recipient);
        w.party("sender", "senderID", &h.sender);
        w.close("messageHeader");
    }
}

struct Writer {
    out: Vec<u8>,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        self.out.push(b'\n');
        for _ in 0..self.depth {
            self.out.extend_from_slice(b"  ");
        }
    }

    fn open(&mut self, name: &str) {
        self.indent();
        self.out.extend_from_slice(b"<tns:");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.extend_from_slice(b"</tns:");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out.extend_from_slice(b"<tns:");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
        escape_text_into(&mut self.out, text);
        self.out.extend_from_slice(b"</tns:");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    fn ii(&mut self, name: &str, ii: &Ii) {
        self.open(name);
        self.leaf("root", &ii.root);
        self.leaf("extension", &ii.extension);
        self.close(name);
    }

    fn party(&mut self, name: &str, id_name: &str, p: &Party) {
        self.open(name);
        self.ii(id_name, &p.id);
        self.opt_leaf("label", p.label.as_deref());
        if let Some(a) = &p.attention {
            self.open("attention");
            for person in &a.persons {
                self.open("person");
                if let Some(id) = &person.person_id {
                    self.ii("personId", id);
                }
                self.opt_leaf("label", person.label.as_deref());
                self.close("person");
            }
            self.open("subOrganization");
            self.ii("organizationId", &a.sub_organization.organization_id);
            self.opt_leaf("label", a.sub_organization.label.as_deref());
            self.close("subOrganization");
            for r in &a.references {
                self.open("reference");
                self.ii("referenceId", &r.reference_id);
                self.opt_leaf("label", r.label.as_deref());
                self.close("reference");
            }
            self.close("attention");
        }
        self.close(name);
    }
}

/// Escapes character data; the common case (base64, plain text) is one copy.
pub(crate) fn escape_text_into(out: &mut Vec<u8>, text: &str) {
    let needs = |c: char| matches!(c, '&' | '<' | '>' | '\r') || is_forbidden_xml_char(c);
    if !text.contains(needs) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\r' => out.extend_from_slice(b"&#13;"),
            c if is_forbidden_xml_char(c) => out.extend_from_slice("\u{FFFD}".as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Characters outside XML 1.0's `Char` production.
fn is_forbidden_xml_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}
