//! The validator against the published reference messages and against xmllint.
//!
//! What this proves: for the DIGG example, the SDK test files and a table of mutations
//! of the example, our schema verdict is the verdict of an independent XSD processor
//! (libxml2), and business-rule mutations (schema-valid by xmllint) are rejected as
//! `BusinessRule`, i.e. with receipt code `SCH` rather than `XSD`.

mod common;

use vaxel_sdk_message::message::{Message, MAX_MESSAGE_BYTES};
use vaxel_sdk_message::validate::{validate, RejectionKind};

const MESSAGE_XSD: &str = "message-v3/infrastructure_messaging_MessageWithAttachments_3.0.xsd";
const EXAMPLE: &str = "message-v3/messageWithAttachments3.xml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Schema,
    Business,
}

fn ours(xml: &[u8]) -> Verdict {
    match validate(xml) {
        Ok(_) => Verdict::Valid,
        Err(r) if r.kind == RejectionKind::Schema => Verdict::Schema,
        Err(_) => Verdict::Business,
    }
}

#[test]
fn reference_files_get_the_documented_verdict() {
    let Some(sdk) = common::sdk_reference() else {
        return;
    };
    let example = validate(&common::read(&sdk, EXAMPLE)).expect("the DIGG example is valid");
    assert_eq!(
        example.header.message_id,
        "7bc5576a-3f87-4cf5-a0c5-277da06fcacb"
    );
    assert_eq!(example.sender_org(), "0203:testb.testbed.inera.se");
    assert_eq!(example.recipient_org(), "0203:testa.testbed.inera.se");
    assert_eq!(
        example.functional_address(),
        Some("sdk.testbed.0203:testa.testbed.inera.se")
    );
    assert_eq!(example.documents[0].texts, ["Anslut till SDK!"]);

    let min = validate(&common::read(&sdk, "testdata/min.xml")).expect("min.xml is valid");
    assert_eq!(min.functional_address(), Some("test.function"));
    assert!(min.header.confidentiality);

    // TF2.4.1: invalid creationDateTime ("3 Sept. 2019") -> schema error, receipt XSD.
    let r = validate(&common::read(&sdk, "testdata/TF2.4.1.xml")).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Schema);
    assert_eq!(r.kind.receipt_code(), "XSD");
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("/messageHeader/creationDateTime") && p.contains("3 Sept. 2019")),
        "{r}"
    );

    // TF2.4.2: schema-valid (xmllint agrees, below), but the sender's id root is
    // "icke-godkänt-kodverk": business rule senderIdvalue, receipt SCH.
    let r = validate(&common::read(&sdk, "testdata/TF2.4.2.xml")).unwrap_err();
    assert_eq!(r.kind, RejectionKind::BusinessRule);
    assert_eq!(r.kind.receipt_code(), "SCH");
    assert_eq!(r.problems.len(), 1, "{r}");
    assert!(
        r.problems[0].contains("senderIdvalue") && r.problems[0].contains("/sender/senderID/root"),
        "{r}"
    );

    if common::have_xmllint() {
        let xsd = sdk.join(MESSAGE_XSD);
        for (file, valid) in [
            (EXAMPLE, true),
            ("testdata/min.xml", true),
            ("testdata/TF2.4.2.xml", true),
            ("testdata/TF2.4.1.xml", false),
        ] {
            let verdict = common::xmllint_validates(&xsd, &common::read(&sdk, file));
            assert_eq!(verdict.is_ok(), valid, "xmllint on {file}: {verdict:?}");
        }
    }
}

/// (name, replace this, with this, our expected verdict). Only the first occurrence is
/// replaced. Business-rule cases must be schema-valid for xmllint.
fn mutations() -> Vec<(&'static str, String, String, Verdict)> {
    use Verdict::*;
    let header_end = "</ns6:sender>\n    </ns6:messageHeader>";
    let with_at_header_end = |x: &str| format!("</ns6:sender>{x}\n    </ns6:messageHeader>");
    let label_256 = "ö".repeat(256);
    let label_257 = "ö".repeat(257);
    let m = |name: &'static str, from: &str, to: &str, v: Verdict| {
        (name, from.to_owned(), to.to_owned(), v)
    };
    vec![
        m("unchanged", "", "", Valid),
        m("drop required messageId", "<ns6:messageId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb</ns6:messageId>", "", Schema),
        m("drop required confidentiality", "<ns6:confidentiality>false</ns6:confidentiality>", "", Schema),
        m(
            "reorder messageId after conversationId",
            "<ns6:messageId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb</ns6:messageId>\n      <ns6:conversationId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb</ns6:conversationId>",
            "<ns6:conversationId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb</ns6:conversationId>\n      <ns6:messageId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb</ns6:messageId>",
            Schema,
        ),
        m("boolean 'yes'", ">false<", ">yes<", Schema),
        m("boolean 'TRUE'", ">false<", ">TRUE<", Schema),
        m("boolean ' 1 ' (collapsed)", ">false<", "> 1 <", Valid),
        m("dateTime month 13", "2022-10-13T18:10:39.843Z", "2022-13-13T18:10:39.843Z", Schema),
        m("dateTime 30 February", "2022-10-13T18:10:39.843Z", "2022-02-30T18:10:39.843Z", Schema),
        m("dateTime free text (TF2.4.1)", "2022-10-13T18:10:39.843Z", "3 Sept. 2019", Schema),
        m("dateTime +01:00 (schema-valid, not UTC Z)", "2022-10-13T18:10:39.843Z", "2022-10-13T18:10:39.843+01:00", Business),
        m("dateTime without fraction", "2022-10-13T18:10:39.843Z", "2022-10-13T18:10:39Z", Business),
        m(
            "recipient label of 256 characters",
            "</ns6:recipientID>",
            &format!("</ns6:recipientID>\n        <ns6:label>{label_256}</ns6:label>"),
            Valid,
        ),
        m(
            "recipient label of 257 characters",
            "</ns6:recipientID>",
            &format!("</ns6:recipientID>\n        <ns6:label>{label_257}</ns6:label>"),
            Schema,
        ),
        m("subject label of 257 characters", "En rubrik", &label_257, Business),
        m("unknown tns element in header", header_end, &with_at_header_end("<ns6:priority>1</ns6:priority>"), Schema),
        m("extension element at header end", header_end, &with_at_header_end("<x:prio xmlns:x=\"urn:example:x\">1</x:prio>"), Valid),
        m("empty extension element", header_end, &with_at_header_end("<x:prio xmlns:x=\"urn:example:x\"/>"), Business),
        m("no-namespace element is not ##other", header_end, &with_at_header_end("<prio>1</prio>"), Schema),
        m(
            "extension element before confidentiality",
            "<ns6:confidentiality>",
            "<x:prio xmlns:x=\"urn:example:x\">1</x:prio><ns6:confidentiality>",
            Schema,
        ),
        m(
            "extension element inside IIType (no xs:any)",
            "<ns6:extension>SDK Test MessageService</ns6:extension>",
            "<ns6:extension>SDK Test MessageService</ns6:extension><x:y xmlns:x=\"urn:example:x\">1</x:y>",
            Schema,
        ),
        m(
            "extension element at message end",
            "</ns6:messageBody>",
            "</ns6:messageBody><x:y xmlns:x=\"urn:example:x\">1</x:y>",
            Valid,
        ),
        m(
            "element after messagePayload's message",
            "</ns6:message>\n",
            "</ns6:message><x:y xmlns:x=\"urn:example:x\">1</x:y>\n",
            Schema,
        ),
        m(
            "invalid messagePayload inside an extension element",
            "</ns6:messageBody>",
            "</ns6:messageBody><x:y xmlns:x=\"urn:example:x\"><ns6:messagePayload>x</ns6:messagePayload></x:y>",
            Schema,
        ),
        m(
            "drop recipient attention",
            "<ns6:attention>\n          <ns6:subOrganization>\n            <ns6:organizationId>\n              <ns6:root>urn:riv:infrastructure:messaging:functionalAddress</ns6:root>\n              <ns6:extension>sdk.testbed.0203:testa.testbed.inera.se</ns6:extension>\n            </ns6:organizationId>\n          </ns6:subOrganization>\n        </ns6:attention>",
            "",
            Schema,
        ),
        m("two subject labels", "<ns6:label>En rubrik</ns6:label>", "<ns6:label>En rubrik</ns6:label><ns6:label>Till</ns6:label>", Schema),
        m("attribute on message", "<ns6:message>", "<ns6:message id=\"1\">", Schema),
        m(
            "xsi:schemaLocation is allowed",
            "<ns6:message>",
            "<ns6:message xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"urn:a b.xsd\">",
            Valid,
        ),
        m("text in element-only content", "<ns6:messageHeader>", "<ns6:messageHeader>hej", Schema),
        m("child element in a string", "<ns6:documentID>SDK-Meddelande", "<ns6:documentID><ns6:b>SDK-Meddelande</ns6:b>", Schema),
        m(
            "wrong namespace (version 2)",
            "urn:riv:infrastructure:messaging:MessageWithAttachments:3",
            "urn:riv:infrastructure:messaging:MessageWithAttachments:2",
            Schema,
        ),
        m(
            "ContentFiles after ContentText",
            "</ns6:ContentText>",
            "</ns6:ContentText><ns6:ContentFiles><ns6:fileName>a.txt</ns6:fileName><ns6:contentType>text/plain</ns6:contentType><ns6:content>QUJD</ns6:content></ns6:ContentFiles>",
            Schema,
        ),
        m(
            "ContentFiles before ContentText",
            "<ns6:ContentText>",
            "<ns6:ContentFiles><ns6:fileName>a.txt</ns6:fileName><ns6:contentType>text/plain</ns6:contentType><ns6:content>QUJD</ns6:content></ns6:ContentFiles><ns6:ContentText>",
            Valid,
        ),
        m(
            "content that is not base64",
            "<ns6:ContentText>",
            "<ns6:ContentFiles><ns6:fileName>a.txt</ns6:fileName><ns6:contentType>text/plain</ns6:contentType><ns6:content>!!!</ns6:content></ns6:ContentFiles><ns6:ContentText>",
            Business,
        ),
        m("empty documentName", "<ns6:documentName>SDK-Meddelande</ns6:documentName>", "<ns6:documentName/>", Business),
        m("whitespace-only index", "<ns6:index>1</ns6:index>", "<ns6:index>  </ns6:index>", Business),
        m("messageId not a UUID", "<ns6:messageId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb", "<ns6:messageId>msg-1", Business),
        m(
            "conversationId with trailing Ö (TF2.4.1)",
            "<ns6:conversationId>7bc5576a-3f87-4cf5-a0c5-277da06fcacb",
            "<ns6:conversationId>7bc5576a-3f87-4cf5-a0c5-277da06fcacbÖ",
            Business,
        ),
        m("refToMessageId not a UUID", "<ns6:label>En rubrik", "<ns6:refToMessageId>abc</ns6:refToMessageId><ns6:label>En rubrik", Business),
        m("recipientID root", "<ns6:root>iso6523-actorid-upis</ns6:root>", "<ns6:root>0203</ns6:root>", Business),
        m("recipient id without 0203:", "<ns6:extension>0203:testa.testbed.inera.se</ns6:extension>", "<ns6:extension>testa.testbed.inera.se</ns6:extension>", Business),
        m(
            "functional address root",
            "<ns6:root>urn:riv:infrastructure:messaging:functionalAddress</ns6:root>",
            "<ns6:root>urn:example:address</ns6:root>",
            Business,
        ),
        m(
            "default namespace instead of a prefix",
            "<ns6:messagePayload xmlns:ns6=\"urn:riv:infrastructure:messaging:MessageWithAttachments:3\">",
            "<messagePayload xmlns=\"urn:riv:infrastructure:messaging:MessageWithAttachments:3\" xmlns:ns6=\"urn:riv:infrastructure:messaging:MessageWithAttachments:3\">",
            Schema, // the end tag still says ns6:messagePayload: not well-formed
        ),
        m("CDATA label", "<ns6:label>En rubrik</ns6:label>", "<ns6:label><![CDATA[En <rubrik>]]></ns6:label>", Valid),
    ]
}

#[test]
fn mutations_agree_with_xmllint() {
    let Some(sdk) = common::sdk_reference() else {
        return;
    };
    let lint = common::have_xmllint();
    let xsd = sdk.join(MESSAGE_XSD);
    let example = String::from_utf8(common::read(&sdk, EXAMPLE)).unwrap();
    let cases = mutations();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (name, from, to, expected) in cases {
        assert!(
            from.is_empty() || example.contains(&from),
            "mutation '{name}' does not apply"
        );
        let doc = if from.is_empty() {
            example.clone()
        } else {
            example.replacen(&from, &to, 1)
        };
        let got = ours(doc.as_bytes());
        if got != expected {
            failures.push(format!(
                "{name}: expected {expected:?}, got {got:?}: {:?}",
                validate(doc.as_bytes()).err()
            ));
        }
        if lint {
            let xmllint_valid = common::xmllint_validates(&xsd, doc.as_bytes());
            let ours_schema_valid = got != Verdict::Schema;
            if xmllint_valid.is_ok() != ours_schema_valid {
                failures.push(format!(
                    "{name}: xmllint says {xmllint_valid:?}, we say {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn built_messages_validate_with_us_and_with_xmllint() {
    let mut m = Message::new(
        "0203:region.example",
        "0203:kommun.example",
        "sdk.kommun.example",
        "Remiss & svar <brådskande>",
    )
    .with_confidentiality(true)
    .with_sender_functional_address("sdk.region.example");
    m.add_text_document("remiss", "Remiss", "# Remiss\n\nPatienten ...");
    m.add_file(
        "remiss",
        "remiss.pdf",
        "application/pdf",
        b"%PDF-1.7 binary \x00\xff",
    );
    let reply = Message::new(
        "0203:kommun.example",
        "0203:region.example",
        "sdk.region.example",
        "Svar",
    )
    .with_reply_to(&m);
    for msg in [&m, &reply] {
        let mut msg = msg.clone();
        if msg.documents.is_empty() {
            msg.add_text_document("svar", "", "Tack");
        }
        let xml = msg.to_document();
        assert_eq!(validate(&xml).expect("our own output is valid"), msg);
        if let Some(sdk) = common::sdk_reference() {
            if common::have_xmllint() {
                common::xmllint_validates(&sdk.join(MESSAGE_XSD), &xml)
                    .expect("xmllint accepts our output");
            }
        }
    }
}

#[test]
fn a_message_without_documents_is_a_schema_error() {
    let m = Message::new("0203:a.example", "0203:b.example", "sdk.b", "x");
    let r = validate(&m.to_xml()).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Schema);
    assert!(r.problems[0].contains("<documents> is missing"), "{r}");
}

#[test]
fn oversized_and_malformed_input_is_a_schema_rejection_not_a_panic() {
    let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
    assert_eq!(validate(&big).unwrap_err().kind, RejectionKind::Schema);
    for junk in [
        &b""[..],
        b"<",
        b"\xff\xfe<a/>",
        b"<a:b/>",
        b"<messagePayload/>",
        b"\xEF\xBB\xBF",
    ] {
        assert_eq!(
            validate(junk).unwrap_err().kind,
            RejectionKind::Schema,
            "{junk:?}"
        );
    }
}

#[test]
fn a_thirty_mib_message_validates_and_parses_in_reasonable_time() {
    let mut m = Message::new("0203:a.example", "0203:b.example", "sdk.b", "Stor bilaga");
    let bytes: Vec<u8> = (0..22 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    m.add_file("bilaga", "stor.bin", "application/octet-stream", &bytes);
    let xml = m.to_xml();
    assert!(
        xml.len() > 29 * 1024 * 1024 && xml.len() <= MAX_MESSAGE_BYTES,
        "{}",
        xml.len()
    );
    let started = std::time::Instant::now();
    let back = validate(&xml).expect("valid");
    let elapsed = started.elapsed();
    eprintln!("validate + parse of {} bytes: {elapsed:?}", xml.len());
    assert_eq!(back.documents[0].files[0].decode().unwrap(), bytes);
    assert!(elapsed.as_secs() < 30, "{elapsed:?}");
}
