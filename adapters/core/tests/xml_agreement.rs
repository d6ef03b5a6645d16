//! The envelope sniffer and the record reader apply one set of XML rules (the crate's
//! `xml_syntax` module) to the declaration, names, characters and byte order mark: on
//! any message, one refuses such a problem exactly when the other does, at the same
//! byte and with the same words.
//!
//! The property test generates SOAP messages whose every declaration, name, character
//! run, comment, processing instruction and attribute value before the decision point
//! (the start tag of the first Body child) is drawn from valid and invalid pieces, and
//! reads each with `sniff` and with the record reader (`parse_request` or
//! `parse_response`, whichever the Body child is). Both must accept exactly the
//! messages an independent oracle accepts: the XML declaration rule written out here
//! (the encoding rule is ours: UTF-8 or UTF8 in any case) and roxmltree, a conforming
//! parser, for everything else (where roxmltree 0.20 is laxer than XML 1.0, the oracle
//! says so: `Message::where_roxmltree_is_lax`). Every prefix the messages use is
//! declared: namespace rules are not what this test is about.
use proptest::prelude::*;
use vaxel_adapter::{
    sniff, AdapterError, InformationSet, InformationSetDescriptor, RecordPaths, RequestPaths,
    SniffError, SniffLimits, SniffOutcome,
};

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const REGISTRY: &str = "urn:riv:itintegration:registry:1";
const CONTRACT: &str = "urn:example:GetThingsResponder:1";

static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "things",
    contract_namespace: CONTRACT,
    request_element: "GetThings",
    response_element: "GetThingsResponse",
    record_element: "thing",
    ei_service_domain: "example",
    ei_categorization: "thing",
    core_namespace: "urn:example:things:1",
    kind: "thing",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &[],
        period_end: &[],
        care_unit: &[],
        record_id: &[],
        source_system: &[],
        care_contact: &[],
    },
    record: RecordPaths {
        record_id: &["id"],
        source_system: &[],
        care_giver: &[],
        care_unit: &[],
        time: &[],
        patient_id: &[],
        care_contact: &[],
        approved_for_patient: &[],
        title: &[],
        status: &[],
    },
    result: None,
};

#[derive(Debug)]
struct Things;

impl InformationSet for Things {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}

/// A qualified name as (prefix, local name).
type QName = (Option<String>, String);
/// An attribute: its name and its value as written between double quotes.
type Attribute = (QName, Vec<u8>);

/// How the message starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    None,
    Utf8,
    TwoUtf8,
    Utf16Le,
}

/// Where the XML declaration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeclPlace {
    Start,
    AfterSpace,
    AfterComment,
}

/// An XML declaration, valid or not; each part says whether it is valid.
#[derive(Debug, Clone)]
struct Decl {
    version: (&'static str, bool),
    encoding: Option<(&'static str, bool)>,
    standalone: Option<(&'static str, bool)>,
    quote: char,
    mismatched_quote: bool,
    eq: &'static str,
    standalone_first: bool,
    extra: bool,
    place: DeclPlace,
}

impl Decl {
    /// The declaration rule written out independently of the crate: XML 1.0 [23]-[26],
    /// [32], [80], [81], and our encoding rule.
    fn is_valid(&self) -> bool {
        self.version.1
            && self.encoding.is_none_or(|e| e.1)
            && self.standalone.is_none_or(|s| s.1)
            && !self.mismatched_quote
            && !(self.standalone_first && self.encoding.is_some() && self.standalone.is_some())
            && !self.extra
            && self.place == DeclPlace::Start
    }

    fn render(&self) -> String {
        let q = self.quote;
        let close = if self.mismatched_quote {
            if q == '"' {
                '\''
            } else {
                '"'
            }
        } else {
            q
        };
        let eq = self.eq;
        let mut pairs = vec![format!("version{eq}{q}{}{close}", self.version.0)];
        let encoding = self.encoding.map(|(e, _)| format!("encoding{eq}{q}{e}{q}"));
        let standalone = self
            .standalone
            .map(|(s, _)| format!("standalone{eq}{q}{s}{q}"));
        if self.standalone_first {
            pairs.extend(standalone);
            pairs.extend(encoding);
        } else {
            pairs.extend(encoding);
            pairs.extend(standalone);
        }
        if self.extra {
            pairs.push(format!("foo{eq}{q}bar{q}"));
        }
        let decl = format!("<?xml {}?>", pairs.join(" "));
        match self.place {
            DeclPlace::Start => decl,
            DeclPlace::AfterSpace => format!("\n{decl}"),
            DeclPlace::AfterComment => format!("<!-- c -->{decl}"),
        }
    }
}

/// A pseudo-attribute value of the declaration: mostly valid, now and then not.
fn decl_value(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> impl Strategy<Value = (&'static str, bool)> {
    prop_oneof![
        5 => prop::sample::select(valid).prop_map(|v| (v, true)),
        1 => prop::sample::select(invalid).prop_map(|v| (v, false)),
    ]
}

fn decl() -> impl Strategy<Value = Decl> {
    let version = decl_value(
        &["1.0", "1.1", "1.10"],
        &["2.0", "1.", "1.0a", "", " 1.0", "1,0"],
    );
    let encoding = prop::option::of(decl_value(
        &["UTF-8", "utf-8", "Utf-8", "UTF8", "utf8"],
        &[
            "ISO-8859-1",
            "UTF-16",
            "utf-8 ",
            "UTF_8",
            "",
            "latin1",
            "unicode-1-1-utf-8",
        ],
    ));
    let standalone = prop::option::of(decl_value(&["yes", "no"], &["maybe", "YES", ""]));
    let place = prop_oneof![
        8 => Just(DeclPlace::Start),
        1 => Just(DeclPlace::AfterSpace),
        1 => Just(DeclPlace::AfterComment),
    ];
    (
        (version, encoding, standalone),
        (
            prop::sample::select(vec!['"', '\'']),
            prop::bool::weighted(0.05),
            prop::sample::select(vec!["=", " = ", "\n=\t"]),
        ),
        (prop::bool::weighted(0.1), prop::bool::weighted(0.05), place),
    )
        .prop_map(
            |(
                (version, encoding, standalone),
                (quote, mismatched_quote, eq),
                (standalone_first, extra, place),
            )| Decl {
                version,
                encoding,
                standalone,
                quote,
                mismatched_quote,
                eq,
                standalone_first,
                extra,
                place,
            },
        )
}

/// Pieces of character data that are valid on their own (the oracle decides about
/// what they make together). No `<`, so the markup around stays what it is.
const CHAR_PIECES: &[&[u8]] = &[
    b"a",
    b"Z",
    b"0",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"\r",
    b"]",
    b">",
    b"-",
    b"?",
    b"'",
    b"&amp;",
    b"&lt;",
    b"&#65;",
    b"&#x41;",
    b"&#x9;",
    b"&#x10FFFF;",
    "å".as_bytes(),
    "€".as_bytes(),
    "\u{7F}".as_bytes(),
    "\u{85}".as_bytes(),
    "\u{FFFD}".as_bytes(),
    "\u{D7FF}".as_bytes(),
    "\u{E000}".as_bytes(),
    "\u{10000}".as_bytes(),
    "\u{10FFFF}".as_bytes(),
    "\u{FEFF}".as_bytes(),
];

/// Pieces of character data that are invalid in text (some are fine in comments or
/// CDATA sections, where references are not references).
const BAD_CHAR_PIECES: &[&[u8]] = &[
    b"]]>",
    b"&#1;",
    b"&#x1F;",
    b"&#xFFFE;",
    b"&#0;",
    b"&#xD800;",
    b"&#x110000;",
    b"&nbsp;",
    b"&",
    b"&#;",
    b"--",
    "\u{1}".as_bytes(),
    "\u{B}".as_bytes(),
    "\u{1F}".as_bytes(),
    "\u{FFFE}".as_bytes(),
    "\u{FFFF}".as_bytes(),
    b"\xFF",
    b"\xC3",
    b"\xED\xA0\x80",
    b"\xC0\x80",
    b"\xEF\xBF",
];

/// Pieces of names that are name characters (some not at the start of a name). No
/// white space, `=`, `/`, `>` or quotes, which would change the markup.
const NAME_PIECES: &[&str] = &[
    "a",
    "Z",
    "_",
    "x",
    "k",
    "0",
    "1",
    "-",
    ".",
    "\u{B7}",
    "é",
    "À",
    "ä",
    "\u{300}",
    "\u{37F}",
    "\u{2070}",
    "\u{218F}",
    "\u{200C}",
    "\u{203F}",
    "\u{3001}",
    "\u{FFFD}",
    "\u{10000}",
    "\u{EFFFF}",
];

/// Pieces of names that are not name characters. (`:` only comes in as the separator
/// of prefix and local name, so that every prefix is declared: namespace errors are
/// not what this test is about.)
const BAD_NAME_PIECES: &[&str] = &[
    "\u{D7}",
    "\u{F7}",
    "\u{BF}",
    "\u{37E}",
    "\u{2190}",
    "\u{3000}",
    "\u{FDD0}",
    "\u{F0000}",
    "\u{1}",
    "&",
    ";",
    "\u{FF}",
    "\u{FEFF}",
];

/// Up to `max` pieces of character data, now and then an invalid one.
fn chars(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        20 => prop::sample::select(CHAR_PIECES),
        1 => prop::sample::select(BAD_CHAR_PIECES),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|p| p.concat())
}

fn text() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec![&b""[..], b"SE2321000016-1234", b"\n  "]).prop_map(<[u8]>::to_vec),
        1 => chars(6),
    ]
    .boxed()
}

/// An NCName-like part: mostly valid ASCII, sometimes made of [`NAME_PIECES`] and
/// [`BAD_NAME_PIECES`], sometimes empty or with a `:` (so that a QName has none or two).
fn name_part() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(vec!["h", "Other", "n_1", "é.x", "a-b"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "a:b", "x:"]).prop_map(str::to_owned),
        2 => prop::collection::vec(
            prop_oneof![
                8 => prop::sample::select(NAME_PIECES),
                1 => prop::sample::select(BAD_NAME_PIECES),
            ],
            1..4,
        )
        .prop_map(|p| p.concat()),
    ]
    .boxed()
}

/// A QName as (prefix, local name). A `:` inside a part never makes a valid QName: a
/// prefix written there would not be declared, and the readers differ on undeclared
/// attribute prefixes (a namespace rule, not what this test is about).
fn qname() -> impl Strategy<Value = QName> {
    (prop::option::of(name_part()), name_part()).prop_map(|(prefix, local)| {
        if prefix.is_none() && local.contains(':') {
            (prefix, format!(":{local}"))
        } else {
            (prefix, local)
        }
    })
}

fn render_qname((prefix, local): &QName) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.clone(),
    }
}

/// An attribute: its name and value (in double quotes).
fn attribute() -> impl Strategy<Value = Attribute> {
    let value = prop_oneof![
        4 => prop::sample::select(vec![&b"1"[..], b"urn:x", b""]).prop_map(<[u8]>::to_vec),
        1 => chars(5),
        1 => Just(b"a<b".to_vec()),
    ]
    .prop_map(|v: Vec<u8>| v.into_iter().filter(|b| *b != b'"').collect());
    (qname(), value)
}

/// Attributes of a start tag: `xmlns:p` for the prefixes used (so that a valid name
/// always resolves), then `attribute`.
fn render_attributes(element_prefix: Option<&str>, attribute: &Option<Attribute>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(p) = element_prefix {
        out.extend_from_slice(format!(" xmlns:{p}=\"urn:element\"").as_bytes());
    }
    if let Some((name, value)) = attribute {
        if let Some(p) = &name.0 {
            if Some(p.as_str()) != element_prefix {
                out.extend_from_slice(format!(" xmlns:{p}=\"urn:attribute\"").as_bytes());
            }
        }
        out.extend_from_slice(format!(" {}=\"", render_qname(name)).as_bytes());
        out.extend_from_slice(value);
        out.push(b'"');
    }
    out
}

/// Something that may stand in the prolog or in the SOAP Header.
#[derive(Debug, Clone)]
enum Item {
    Space,
    Comment(Vec<u8>),
    Pi(String, Vec<u8>),
    Text(Vec<u8>),
    Element {
        name: QName,
        attribute: Option<Attribute>,
        content: Vec<u8>,
        cdata: bool,
    },
}

impl Item {
    fn render(&self, out: &mut Vec<u8>) {
        match self {
            Item::Space => out.extend_from_slice(b"\n  "),
            Item::Comment(c) => {
                out.extend_from_slice(b"<!--");
                out.extend_from_slice(c);
                out.extend_from_slice(b"-->");
            }
            Item::Pi(target, content) => {
                out.extend_from_slice(format!("<?{target}").as_bytes());
                if !content.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(content);
                }
                out.extend_from_slice(b"?>");
            }
            Item::Text(t) => out.extend_from_slice(t),
            Item::Element {
                name,
                attribute,
                content,
                cdata,
            } => {
                let qname = render_qname(name);
                out.extend_from_slice(format!("<{qname}").as_bytes());
                out.extend_from_slice(&render_attributes(name.0.as_deref(), attribute));
                out.push(b'>');
                if *cdata {
                    out.extend_from_slice(b"<![CDATA[");
                    out.extend_from_slice(content);
                    out.extend_from_slice(b"]]>");
                } else {
                    out.extend_from_slice(content);
                }
                out.extend_from_slice(format!("</{qname}>").as_bytes());
            }
        }
    }
}

fn pi_target() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(vec!["pi", "xml-stylesheet", "x1"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["xml", "XML", "Xml", "a:b", "", "1a"]).prop_map(str::to_owned),
        1 => name_part(),
    ]
    .boxed()
}

/// Comments, processing instructions and white space (for the prolog).
fn misc() -> BoxedStrategy<Item> {
    prop_oneof![
        2 => Just(Item::Space),
        1 => chars(5).prop_map(Item::Comment),
        1 => (pi_target(), chars(4)).prop_map(|(t, c)| Item::Pi(t, c)),
    ]
    .boxed()
}

/// Anything that may stand in an element's content (for the SOAP Header).
fn header_item() -> BoxedStrategy<Item> {
    prop_oneof![
        2 => misc(),
        1 => chars(5).prop_map(Item::Text),
        3 => (qname(), prop::option::of(attribute()), text(), prop::bool::weighted(0.2))
            .prop_map(|(name, attribute, content, cdata)| Item::Element { name, attribute, content, cdata }),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Message {
    bom: Bom,
    decl: Option<Decl>,
    prolog: Vec<Item>,
    header: Vec<Item>,
    address_attribute: Option<Attribute>,
    address: Vec<u8>,
    body_text: Vec<u8>,
    child_attribute: Option<Attribute>,
    request: bool,
}

impl Message {
    /// The message's bytes; `with_prolog_start` false leaves out the BOM and the XML
    /// declaration (for the oracle, which does not judge them as we do).
    fn render(&self, with_prolog_start: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if with_prolog_start {
            match self.bom {
                Bom::None => {}
                Bom::Utf8 => out.extend_from_slice(b"\xEF\xBB\xBF"),
                Bom::TwoUtf8 => out.extend_from_slice(b"\xEF\xBB\xBF\xEF\xBB\xBF"),
                Bom::Utf16Le => out.extend_from_slice(b"\xFF\xFE"),
            }
            if let Some(decl) = &self.decl {
                out.extend_from_slice(decl.render().as_bytes());
            }
        }
        for item in &self.prolog {
            item.render(&mut out);
        }
        out.extend_from_slice(format!("<s:Envelope xmlns:s=\"{SOAP}\"><s:Header>").as_bytes());
        for item in &self.header {
            item.render(&mut out);
        }
        out.extend_from_slice(format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\"").as_bytes());
        out.extend_from_slice(&render_attributes(None, &self.address_attribute));
        out.push(b'>');
        out.extend_from_slice(&self.address);
        out.extend_from_slice(b"</a:LogicalAddress></s:Header><s:Body>");
        out.extend_from_slice(&self.body_text);
        let element = if self.request {
            DESCRIPTOR.request_element
        } else {
            DESCRIPTOR.response_element
        };
        out.extend_from_slice(format!("<r:{element} xmlns:r=\"{CONTRACT}\"").as_bytes());
        out.extend_from_slice(&render_attributes(None, &self.child_attribute));
        out.push(b'>');
        // After the decision point: valid, so that only what the sniffer reads decides.
        if self.request {
            out.extend_from_slice(b"<r:patientId><r:id>191212121212</r:id></r:patientId>");
        } else {
            out.extend_from_slice(b"\n<r:thing><r:id>T&amp;1</r:id></r:thing><r:thing/>");
        }
        out.extend_from_slice(format!("</r:{element}></s:Body></s:Envelope>\n").as_bytes());
        out
    }

    /// Whether a conforming reader with our declaration and BOM rules accepts it.
    fn oracle_accepts(&self) -> bool {
        let prolog_start_ok = matches!(self.bom, Bom::None | Bom::Utf8)
            && self.decl.as_ref().is_none_or(Decl::is_valid);
        let rest = self.render(false);
        prolog_start_ok
            && !self.where_roxmltree_is_lax()
            && std::str::from_utf8(&rest).is_ok_and(|t| roxmltree::Document::parse(t).is_ok())
    }

    /// What roxmltree 0.20 accepts but XML 1.0 does not: an element or attribute name
    /// that is not a QName (`:a`, `a:`, `a:b:c`: Namespaces in XML [7]); a processing instruction
    /// target that is not a name, or that is `xml` in another case ([17] `PITarget`,
    /// and no white space after the target: roxmltree reads `<?a;b?>` as target `a`),
    /// or that holds a `:` (Namespaces in XML §7); and a character reference to a
    /// surrogate or beyond U+10FFFF (WFC: Legal Character; roxmltree reads U+FFFD).
    fn where_roxmltree_is_lax(&self) -> bool {
        let no_char = |bytes: &[u8]| {
            [&b"&#xD800;"[..], b"&#x110000;"]
                .iter()
                .any(|r| bytes.windows(r.len()).any(|w| w == *r))
        };
        let not_qname = |(prefix, local): &QName| {
            let parts = prefix.iter().chain([local]);
            parts.clone().any(|p| p.is_empty() || p.contains(':'))
        };
        let in_attribute = |a: &Option<Attribute>| {
            a.as_ref()
                .is_some_and(|(name, v)| not_qname(name) || no_char(v))
        };
        let in_item = |item: &Item| match item {
            Item::Pi(target, _) => {
                // A target is a name as an element name is: ask roxmltree that way.
                let is_name = roxmltree::Document::parse(&format!("<{target}/>")).is_ok();
                !is_name || target.eq_ignore_ascii_case("xml") || target.contains(':')
            }
            Item::Text(text) => no_char(text),
            Item::Element {
                name,
                attribute,
                content,
                cdata,
            } => not_qname(name) || in_attribute(attribute) || (!cdata && no_char(content)),
            Item::Space | Item::Comment(_) => false,
        };
        self.prolog.iter().chain(&self.header).any(in_item)
            || in_attribute(&self.address_attribute)
            || in_attribute(&self.child_attribute)
            || no_char(&self.address)
            || no_char(&self.body_text)
    }
}

fn message() -> impl Strategy<Value = Message> {
    let bom = prop_oneof![
        10 => Just(Bom::None),
        5 => Just(Bom::Utf8),
        1 => Just(Bom::TwoUtf8),
        1 => Just(Bom::Utf16Le),
    ];
    (
        (
            bom,
            prop::option::weighted(0.6, decl()),
            prop::collection::vec(misc(), 0..3),
        ),
        (
            prop::collection::vec(header_item(), 0..4),
            prop::option::of(attribute()),
            text(),
        ),
        (
            prop_oneof![4 => Just(Vec::new()), 1 => chars(3)],
            prop::option::of(attribute()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (bom, decl, prolog),
                (header, address_attribute, address),
                (body_text, child_attribute, request),
            )| Message {
                bom,
                decl,
                prolog,
                header,
                address_attribute,
                address,
                body_text,
                child_attribute,
                request,
            },
        )
}

/// A reader's answer: accepted, or refused at an offset for a reason.
type Answer = Result<(), (u64, String)>;

/// The record reader's answer.
fn read(message: &Message, bytes: &[u8]) -> Answer {
    let result = if message.request {
        Things.parse_request(bytes).map(drop)
    } else {
        Things.parse_response(bytes).map(drop)
    };
    match result {
        Ok(()) => Ok(()),
        Err(AdapterError::Malformed { offset, reason }) => Err((offset, reason)),
        Err(other) => panic!("reader: {other}"),
    }
}

/// The sniffer's answer, in the same terms.
fn sniffed(bytes: &[u8]) -> Answer {
    match sniff(bytes, true, &SniffLimits::default()) {
        Ok(SniffOutcome::Complete(_)) => Ok(()),
        Err(SniffError::Malformed { position, reason }) => Err((position as u64, reason)),
        other => panic!("sniffer: {other:?}"),
    }
}

/// Both readers give the same answer on `bytes`, the oracle's.
fn assert_agree(message: &Message) {
    let bytes = message.render(true);
    let shown = String::from_utf8_lossy(&bytes);
    let sniffer = sniffed(&bytes);
    let reader = read(message, &bytes);
    assert_eq!(
        sniffer, reader,
        "sniffer and record reader differ on\n{shown}"
    );
    assert_eq!(
        sniffer.is_ok(),
        message.oracle_accepts(),
        "the oracle differs ({sniffer:?}) on\n{shown}"
    );
}

proptest! {
    // PROPTEST_CASES=100000 for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4096),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sniffer_and_record_reader_refuse_the_same_declarations_names_and_characters(
        message in message()
    ) {
        assert_agree(&message);
    }
}

/// The examples from the issue, and one of each kind of problem, as plain cases.
#[test]
fn both_readers_agree_on_the_issue_examples() {
    let base = Message {
        bom: Bom::None,
        decl: None,
        prolog: Vec::new(),
        header: Vec::new(),
        address_attribute: None,
        address: b"SE1".to_vec(),
        body_text: Vec::new(),
        child_attribute: None,
        request: false,
    };
    let with_decl = |encoding: &'static str| Message {
        decl: Some(Decl {
            version: ("1.0", true),
            encoding: Some((encoding, true)),
            standalone: None,
            quote: '"',
            mismatched_quote: false,
            eq: "=",
            standalone_first: false,
            extra: false,
            place: DeclPlace::Start,
        }),
        ..base.clone()
    };
    // encoding="utf8" once routed but was refused in a producer answer.
    for encoding in ["utf8", "UTF8", "utf-8", "UTF-8"] {
        let message = with_decl(encoding);
        assert_eq!(sniffed(&message.render(true)), Ok(()), "{encoding}");
        assert_agree(&message);
    }
    let latin1 = with_decl("ISO-8859-1");
    let bytes = latin1.render(true);
    let (offset, reason) = sniffed(&bytes).unwrap_err();
    assert_eq!(offset, 0);
    assert!(reason.contains("send the message in UTF-8"), "{reason}");
    assert_eq!(read(&latin1, &bytes), Err((offset, reason)));

    // A control character in the address, a name character the sniffer let through,
    // and a character reference to a non-character in an attribute value.
    let cases = [
        Message {
            address: b"SE\x011".to_vec(),
            ..base.clone()
        },
        Message {
            header: vec![Item::Element {
                name: (None, "a\u{D7}b".to_owned()),
                attribute: None,
                content: Vec::new(),
                cdata: false,
            }],
            ..base.clone()
        },
        Message {
            child_attribute: Some(((None, "v".to_owned()), b"&#xFFFE;".to_vec())),
            ..base.clone()
        },
        Message {
            prolog: vec![Item::Pi("XML".to_owned(), Vec::new())],
            ..base.clone()
        },
    ];
    for message in &cases {
        let bytes = message.render(true);
        assert!(
            sniffed(&bytes).is_err(),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_agree(message);
    }
}

/// A response of the test contract with `prolog` before the envelope and `header`
/// inside the SOAP Header: for the fuzz regressions below.
fn response_with(prolog: &str, header: &str) -> Vec<u8> {
    format!(
        "{prolog}<s:Envelope xmlns:s=\"{SOAP}\"><s:Header>{header}</s:Header><s:Body>\
         <r:GetThingsResponse xmlns:r=\"{CONTRACT}\"><r:thing/></r:GetThingsResponse></s:Body></s:Envelope>"
    )
    .into_bytes()
}

/// Both readers' answers to a response, in the same terms.
fn both(bytes: &[u8]) -> (Answer, Answer) {
    let reader = match Things.parse_response(bytes) {
        Ok(_) => Ok(()),
        Err(AdapterError::Malformed { offset, reason }) => Err((offset, reason)),
        Err(other) => panic!("reader: {other}"),
    };
    (sniffed(bytes), reader)
}

/// Found by the xml_agree fuzz target: in `<?>io>?>` the processing instruction ends
/// at its first `>` (after `<?`), so it is not closed by `?>`. Both readers refused it,
/// the sniffer in its words and the record reader in quick-xml's.
#[test]
fn processing_instruction_closed_by_a_lone_gt_is_refused_in_the_same_words() {
    let bytes = response_with("<?>io>?>\n", "");
    let (sniffer, reader) = both(&bytes);
    assert_eq!(
        sniffer,
        Err((
            0,
            "processing instruction or XML declaration not closed by `?>`".to_owned()
        ))
    );
    assert_eq!(reader, sniffer);
}
