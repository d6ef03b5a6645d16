//! The XHE envelope against DIGG's published envelopes and the XHE schema.

mod common;

use base64::Engine as _;
use vaxel_sdk_message::message::Message;
use vaxel_sdk_message::validate::validate;
use vaxel_sdk_message::xhe::{self, XheHeader};

/// The base64 XHE inside an AS4 `<value>` element of the DIGG AS4 examples.
fn as4_value(doc: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(doc);
    let start = s.find("<value>").expect("<value>") + "<value>".len();
    let end = s[start..].find("</value>").expect("</value>") + start;
    let b64: String = s[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

#[test]
fn every_reference_envelope_parses_with_the_expected_header() {
    let Some(sdk) = common::sdk_reference() else {
        return;
    };
    // (file, id, from, to, handling service, federation, encrypted, payload starts with)
    let base_header = |encrypted| XheHeader {
        id: "862693f7-53d4-4d96-b35c-470055710092".into(),
        creation_date_time: "2022-01-30T17:52:58.1Z".into(),
        from_party: "0203:myndighetA.org".into(),
        to_party: "0203:myndighetB.org".into(),
        handling_service_id: "ABC".into(),
        federation_id: "urn:fdc:digg.se:edelivery:federation:test".into(),
        encrypted,
    };

    let doc = common::read(&sdk, "xhe-examples/XHE-tm-base.xml");
    let x = xhe::parse(&doc).unwrap();
    assert_eq!(x.header, base_header(false));
    assert!(!x.payload_is_encrypted_data && !x.payload_is_text && !x.has_signature);
    assert!(doc[x.payload.clone()].starts_with(b"<tns:Message "));
    assert!(doc[x.payload.clone()].ends_with(b"</tns:Message>"));
    assert_eq!(x.customization_id.as_deref(), Some(xhe::CUSTOMIZATION_ID));

    // Starts with a UTF-8 BOM; signed, payload encrypted.
    let doc = common::read(&sdk, "xhe-examples/XHE-tm-base-ext-sigenc.xml");
    assert!(doc.starts_with(b"\xEF\xBB\xBF"));
    let x = xhe::parse(&doc).unwrap();
    assert_eq!(x.header, base_header(true));
    assert!(x.payload_is_encrypted_data && x.has_signature);
    assert!(doc[x.payload.clone()].starts_with(b"<EncryptedData "));
    assert!(doc[x.payload.clone()].ends_with(b"</EncryptedData>"));
    assert_eq!(x.document_id.as_deref(), Some(xhe::DOCUMENT_ID));

    let doc = common::read(&sdk, "xhe-examples/XHE-NonXML-tm-base.xml");
    let x = xhe::parse(&doc).unwrap();
    assert!(x.payload_is_text && !x.payload_is_encrypted_data);
    let edifact = base64::engine::general_purpose::STANDARD
        .decode(&doc[x.payload.clone()])
        .unwrap();
    assert!(
        edifact.starts_with(b"UNB+UNOA"),
        "{:?}",
        String::from_utf8_lossy(&edifact[..20])
    );

    // DIGG's SDK envelopes around a MessageWithAttachments:3 payload.
    let sdk_header = |encrypted, created: &str| XheHeader {
        id: "7bc5576a-3f87-4cf5-a0c5-277da06fcacb".into(),
        creation_date_time: created.into(),
        from_party: "0203:testb.testbed.inera.se".into(),
        to_party: "0203:testa.testbed.inera.se".into(),
        handling_service_id: "sdk.testbed.0203:testa.testbed.inera.se".into(),
        federation_id: "urn:fdc:digg.se:edelivery:federation:sdk".into(),
        encrypted,
    };
    let doc = common::read(&sdk, "message-v3/xhe_unencrypted_payload.xml");
    let x = xhe::parse(&doc).unwrap();
    assert_eq!(x.header, sdk_header(false, "2022-10-13T18:10:39.844Z"));
    assert!(x.has_signature && !x.payload_is_encrypted_data);
    // The ns6 prefix is declared on the XHE root: the bare range is not a document.
    assert!(validate(&doc[x.payload.clone()]).is_err());
    assert!(x.inherited_namespaces.iter().any(|(p, _)| p == "ns6"));
    let message = validate(&x.payload_document(&doc)).expect("the payload is a valid message");
    assert_eq!(xhe::check_business(&x, &message), Ok(()));

    let from_as4 = as4_value(&common::read(&sdk, "message-v3/xhe_unencrypted.xml"));
    let x = xhe::parse(&from_as4).unwrap();
    assert_eq!(x.header.id, "7bc5576a-3f87-4cf5-a0c5-277da06fcacb");
    assert!(x.has_signature);
    let message = validate(&x.payload_document(&from_as4)).expect("valid payload");
    assert_eq!(xhe::check_business(&x, &message), Ok(()));

    let doc = common::read(&sdk, "message-v3/xhe_encrypted_payload.xml");
    let x = xhe::parse(&doc).unwrap();
    assert!(x.header.encrypted && x.payload_is_encrypted_data && x.has_signature);
    assert_eq!(x.header.to_party, "0203:testa.testbed.inera.se");

    let from_as4 = as4_value(&common::read(&sdk, "message-v3/as4_xhe_encrypted.xml"));
    let x = xhe::parse(&from_as4).unwrap();
    assert_eq!(x.header.id, "70c5ea37-f4a9-4771-b0c7-09becd024bda");
    assert!(x.header.encrypted && x.payload_is_encrypted_data && x.has_signature);
}

#[test]
fn built_envelopes_are_schema_valid_and_round_trip() {
    let mut m = Message::new(
        "0203:region.example",
        "0203:kommun.example",
        "sdk.kommun.example",
        "Kallelse",
    );
    m.add_text_document("kallelse", "Kallelse", "Välkommen **tisdag**.");
    m.add_file("kallelse", "karta.png", "image/png", b"\x89PNG\r\n");
    for encrypted in [false, true] {
        let header =
            XheHeader::for_message(&m, "urn:fdc:digg.se:edelivery:federation:sdk", encrypted);
        let env = xhe::build(&header, &m.to_xml());
        let x = xhe::parse(&env).unwrap();
        assert_eq!(x.header, header);
        assert_eq!(validate(&env[x.payload.clone()]).unwrap(), m);
        assert_eq!(validate(&x.payload_document(&env)).unwrap(), m);
        assert_eq!(xhe::check_business(&x, &m), Ok(()));

        if let (Some(sdk), Some(validation)) =
            (common::sdk_reference(), common::validation_reference())
        {
            if common::have_xmllint() {
                common::xmllint_validates(&validation.join("xhe-with-message-v3.xsd"), &env)
                    .expect("XHE + message schema");
                common::xmllint_validates(&sdk.join("xhe-schema/XHE-1.0.xsd"), &env)
                    .expect("XHE schema");
            }
        }
    }
}

#[test]
fn a_mismatched_envelope_is_reported_field_by_field() {
    let mut m = Message::new("0203:a.example", "0203:b.example", "sdk.b", "x");
    m.add_text_document("d", "", "t");
    let mut header = XheHeader::for_message(&m, "urn:fdc:digg.se:edelivery:federation:sdk", false);
    header.to_party = "0203:evil.example".into();
    header.handling_service_id = "other".into();
    let env = xhe::build(&header, &m.to_xml());
    let x = xhe::parse(&env).unwrap();
    let problems = xhe::check_business(&x, &m).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("ToParty") && problems[1].contains("HandlingServiceID"));
}

#[test]
fn not_an_envelope_is_an_error_not_a_panic() {
    for junk in [
        &b""[..],
        b"<x/>",
        b"\xEF\xBB\xBF",
        b"<XHE xmlns='http://docs.oasis-open.org/bdxr/ns/XHE/1/ExchangeHeaderEnvelope'/>",
    ] {
        assert!(xhe::parse(junk).is_err(), "{junk:?}");
    }
}
