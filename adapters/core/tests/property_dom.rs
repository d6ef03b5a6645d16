//! Property: for any valid SOAP 1.1 envelope — whatever its prefixes, default
//! namespaces, where the namespaces are declared, comments, CDATA, white space, BOM or
//! RIV-TA profile — the sniffer answers exactly what a full DOM parse (roxmltree) says,
//! one-shot and fed in pieces.
mod common;

use common::{as_dom_answer, dom_answer, sniff_in_chunks};
use proptest::prelude::*;
use vaxel_adapter::{sniff, SniffLimits, SniffOutcome};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const REGISTRY: &str = "urn:riv:itintegration:registry:1";
const WSA: &str = "http://www.w3.org/2005/08/addressing";

/// Where a namespace is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeclaredOn {
    Envelope,
    /// Header for the address, Body for the Body child.
    Parent,
    Element,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    CData(String),
    Comment(String),
}

#[derive(Debug, Clone)]
struct Address {
    rivta21: bool,
    prefix: Option<&'static str>,
    declared_on: DeclaredOn,
    pieces: Vec<Piece>,
    self_closing: bool,
    with_attribute: bool,
}

#[derive(Debug, Clone)]
struct Header {
    address: Option<Address>,
    others_before: usize,
    decoy_before: bool,
    other_after: bool,
}

#[derive(Debug, Clone)]
struct Message {
    bom: bool,
    xml_decl: bool,
    leading_comment: bool,
    soap_prefix: Option<&'static str>,
    header: Option<Header>,
    body_prefix: Option<&'static str>,
    body_declared_on: DeclaredOn,
    body_comment: bool,
    contract: String,
    body_local: String,
    /// White space used between elements.
    ws: &'static str,
}

fn declared_on() -> impl Strategy<Value = DeclaredOn> {
    prop_oneof![
        Just(DeclaredOn::Envelope),
        Just(DeclaredOn::Parent),
        Just(DeclaredOn::Element)
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => "[ \t\r\nA-Za-z0-9åäöÅÄÖ.:_&<>'\"-]{0,10}".prop_map(Piece::Text),
        1 => "[ A-Za-z0-9<>&'\"-]{0,8}".prop_map(Piece::CData),
        1 => "[ a-z]{0,8}".prop_map(Piece::Comment),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    (
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["ns5", "wsa", "add", "urn", "lr"])),
        declared_on(),
        prop::collection::vec(piece(), 0..4),
        prop::bool::weighted(0.15),
        any::<bool>(),
    )
        .prop_map(
            |(rivta21, prefix, declared_on, pieces, self_closing, with_attribute)| Address {
                rivta21,
                prefix,
                declared_on,
                pieces,
                self_closing,
                with_attribute,
            },
        )
}

fn header() -> impl Strategy<Value = Header> {
    (
        prop::option::weighted(0.85, address()),
        0..3usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(address, others_before, decoy_before, other_after)| Header {
                address,
                others_before,
                decoy_before,
                other_after,
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::option::weighted(
            0.8,
            prop::sample::select(vec!["soap", "soapenv", "S", "SOAP-ENV"]),
        ),
        prop::option::weighted(0.9, header()),
        prop::option::of(prop::sample::select(vec!["ns2", "tns", "urn1", "m"])),
        declared_on(),
        any::<bool>(),
        prop_oneof![
            Just(
                "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2"
                    .to_owned()
            ),
            Just("urn:riv:itintegration:monitoring:PingForConfigurationResponder:1".to_owned()),
            "urn:riv:[a-z]{1,8}:[A-Z][a-zA-Z]{0,8}Responder:[1-9]",
            "http://example\\.org/[a-z]{1,6}",
        ],
        "[A-Z][A-Za-z0-9_]{0,12}",
        prop::sample::select(vec!["", " ", "\n", "\r\n  ", "\n\t\t"]),
    )
        .prop_map(
            |(
                (bom, xml_decl, leading_comment),
                soap_prefix,
                header,
                body_prefix,
                body_declared_on,
                body_comment,
                contract,
                body_local,
                ws,
            )| {
                Message {
                    bom,
                    xml_decl,
                    leading_comment,
                    soap_prefix,
                    header,
                    body_prefix,
                    body_declared_on,
                    body_comment,
                    contract,
                    body_local,
                    ws,
                }
            },
        )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}

fn xmlns(prefix: Option<&str>, uri: &str) -> String {
    match prefix {
        Some(p) => format!(" xmlns:{p}=\"{uri}\""),
        None => format!(" xmlns=\"{uri}\""),
    }
}

/// Renders a valid envelope and returns it with the exact start tag of the Body child.
fn render(m: &Message) -> (Vec<u8>, String) {
    let mut m = m.clone();
    let sp = m.soap_prefix;
    // Keep the generated document valid: a default namespace declared on an unprefixed
    // SOAP element, or twice on the Envelope, would change what the test means.
    if let Some(addr) = m.header.as_mut().and_then(|h| h.address.as_mut()) {
        if addr.prefix.is_none() && (sp.is_none() || addr.declared_on == DeclaredOn::Envelope) {
            addr.declared_on = DeclaredOn::Element;
        }
    }
    if m.body_prefix.is_none() && (sp.is_none() || m.body_declared_on == DeclaredOn::Envelope) {
        m.body_declared_on = DeclaredOn::Element;
    }
    let ws = m.ws;

    let mut envelope_decls = xmlns(sp, SOAP11);
    let mut header_decls = String::new();
    let mut header_content = String::new();
    if let Some(h) = &m.header {
        for i in 0..h.others_before {
            header_content.push_str(&format!(
                "{ws}<h:Other{i} xmlns:h=\"urn:other\" id=\"{i}\">text &amp; more<h:Inner/></h:Other{i}>"
            ));
        }
        if h.decoy_before {
            // Address-looking elements that are not direct Header children in the
            // address namespace must not be taken.
            header_content.push_str(&format!(
                "{ws}<h:Wrapper xmlns:h=\"urn:other\"><LogicalAddress xmlns=\"{REGISTRY}\">DECOY</LogicalAddress></h:Wrapper>\
                 {ws}<LogicalAddress xmlns=\"urn:riv:interoperability:headers:1\">DECOY</LogicalAddress>"
            ));
        }
        if let Some(a) = &h.address {
            let (uri, local) = if a.rivta21 {
                (REGISTRY, "LogicalAddress")
            } else {
                (WSA, "To")
            };
            let decl = xmlns(a.prefix, uri);
            let mut own_decl = String::new();
            match a.declared_on {
                DeclaredOn::Envelope => envelope_decls.push_str(&decl),
                DeclaredOn::Parent => header_decls.push_str(&decl),
                DeclaredOn::Element => own_decl = decl,
            }
            if a.with_attribute {
                own_decl.push_str(" Id=\"a&amp;b\"");
            }
            let name = qname(a.prefix, local);
            header_content.push_str(ws);
            if a.self_closing {
                header_content.push_str(&format!("<{name}{own_decl}/>"));
            } else {
                header_content.push_str(&format!("<{name}{own_decl}>"));
                for p in &a.pieces {
                    match p {
                        Piece::Text(t) => header_content.push_str(&escape(t)),
                        Piece::CData(t) => header_content.push_str(&format!("<![CDATA[{t}]]>")),
                        Piece::Comment(t) => header_content.push_str(&format!("<!--{t}-->")),
                    }
                }
                header_content.push_str(&format!("</{name}>"));
            }
        }
        if h.other_after {
            header_content.push_str(&format!(
                "{ws}<wsa:Action xmlns:wsa=\"{WSA}\">urn:action</wsa:Action>"
            ));
        }
        header_content.push_str(ws);
    }

    let mut body_decls = String::new();
    let mut child_decl = String::new();
    let decl = xmlns(m.body_prefix, &m.contract);
    match m.body_declared_on {
        DeclaredOn::Envelope => envelope_decls.push_str(&decl),
        DeclaredOn::Parent => body_decls.push_str(&decl),
        DeclaredOn::Element => child_decl = decl,
    }
    let child = qname(m.body_prefix, &m.body_local);
    let child_start = format!("<{child}{child_decl}>");

    let mut xml = String::new();
    if m.bom {
        xml.push('\u{feff}');
    }
    if m.xml_decl {
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    if m.leading_comment {
        xml.push_str("<!-- generated -->\n");
    }
    let env = qname(sp, "Envelope");
    xml.push_str(&format!("<{env}{envelope_decls}>"));
    if m.header.is_some() {
        let h = qname(sp, "Header");
        xml.push_str(&format!("{ws}<{h}{header_decls}>{header_content}</{h}>"));
    }
    let body = qname(sp, "Body");
    xml.push_str(&format!("{ws}<{body}{body_decls}>{ws}"));
    if m.body_comment {
        xml.push_str("<!-- the service call -->");
    }
    xml.push_str(&format!(
        "{child_start}<data>payload &lt; 1</data></{child}>{ws}</{body}>{ws}</{env}>\n"
    ));
    (xml.into_bytes(), child_start)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sniffer_agrees_with_a_dom_parse(m in message(), split in 0.0..1.0f64, chunk in 1..64usize) {
        let (bytes, child_start) = render(&m);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let dom = dom_answer(&bytes);
        prop_assert!(dom.is_some(), "generator made an unroutable document:\n{}", text);
        let dom = dom.unwrap();

        let limits = SniffLimits::default();
        let env = match sniff(&bytes, true, &limits) {
            Ok(SniffOutcome::Complete(env)) => env,
            other => return Err(TestCaseError::fail(format!("{other:?} for\n{text}"))),
        };
        prop_assert_eq!(as_dom_answer(&env), dom, "{}", text);
        prop_assert!(bytes[..env.consumed].ends_with(child_start.as_bytes()), "consumed {} in\n{}", env.consumed, text);

        // Any prefix: NeedMore before the decision point, the same answer after it.
        let cut = ((bytes.len() as f64) * split) as usize;
        let partial = sniff(&bytes[..cut], false, &limits);
        if cut < env.consumed {
            prop_assert_eq!(partial, Ok(SniffOutcome::NeedMore), "cut at {} in\n{}", cut, text);
        } else {
            prop_assert_eq!(partial, Ok(SniffOutcome::Complete(env.clone())), "cut at {} in\n{}", cut, text);
        }
        prop_assert_eq!(sniff_in_chunks(&bytes, chunk, &limits), Ok(SniffOutcome::Complete(env)), "{}-byte chunks", chunk);
    }
}
