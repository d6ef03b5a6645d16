//! Inputs the `sdk_message` fuzz target (fuzz/fuzz_targets/sdk_message.rs) found, kept
//! as tests so that they stay fixed.

use vaxel_sdk_message::receipt::{Receipt, ReceiptError};

/// A receipt whose text held control characters (`&#1;`, a raw U+0000) parsed, and its
/// document reference did not survive `to_xml` (which drops what XML cannot carry). A
/// conforming XML parser refuses such a document; so does ours now.
#[test]
fn a_receipt_with_characters_xml_does_not_allow_is_refused() {
    let good = String::from_utf8(Receipt::accepted("0203:a.se", "0203:b.se", "ID-1").to_xml())
        .expect("UTF-8");
    assert!(Receipt::parse(good.as_bytes()).is_ok());
    for bad in ["ID-&#1;1", "ID-\u{0}1", "ID-\u{1}1"] {
        let text = good.replace("<cbc:ID>ID-1</cbc:ID>", &format!("<cbc:ID>{bad}</cbc:ID>"));
        assert_ne!(text, good, "the reference is in the receipt");
        match Receipt::parse(text.as_bytes()) {
            Err(ReceiptError::Malformed(m)) => assert!(m.contains("not allowed"), "{m}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // CR LF is legal XML and reads as LF, so a reference survives a round trip.
    let text = good.replace("<cbc:ID>ID-1</cbc:ID>", "<cbc:ID>ID-1\r\nx</cbc:ID>");
    let r = Receipt::parse(text.as_bytes()).expect("CR LF is legal");
    let again = Receipt::parse(&r.to_xml()).expect("round trip");
    assert_eq!(again.document_reference, r.document_reference);
}

/// A message whose XML declaration was malformed (`encodiXHEng="UTF-8"`) validated,
/// though no conforming parser reads it. The SDK reader now applies the same XML rules
/// as the RIV-TA readers (`vaxel_adapter::xml_syntax`): declaration, names, characters,
/// references, comments, processing instructions.
#[test]
fn malformed_xml_around_a_valid_message_is_refused() {
    use vaxel_sdk_message::message::Message;
    use vaxel_sdk_message::validate::validate;
    let mut m = Message::new("0203:a.se", "0203:b.se", "sdk.0203:b.se", "Rubrik");
    m.add_text_document("d", "D", "Text");
    let good = String::from_utf8(m.to_document()).expect("UTF-8");
    assert!(
        validate(good.as_bytes()).is_ok(),
        "the message itself is valid"
    );
    let bad = [
        good.replacen("encoding=", "encodiXHEng=", 1),
        good.replacen("version=\"1.0\"", "version=\"2.0\"", 1),
        good.replacen("Text<", "Te&#1;xt<", 1),
        good.replacen("Text<", "Te\u{1}xt<", 1),
        good.replacen("Text<", "Te&bogus;xt<", 1),
        good.replacen("Text<", "Te]]>xt<", 1),
        format!("{good}<!-- a -- b -->"),
        format!("{good}trailing text"),
        format!(" {good}"),
    ];
    for (i, text) in bad.iter().enumerate() {
        assert_ne!(text, &good, "case {i} changed the message");
        let r = validate(text.as_bytes());
        assert!(r.is_err(), "case {i} must be refused: {text}");
        if !super_xmllint_refuses(text) {
            panic!("case {i}: xmllint accepts it, so the test is wrong: {text}");
        }
    }
}

/// `xmllint --noout` refuses `text` as XML (true when xmllint is not installed).
fn super_xmllint_refuses(text: &str) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("m.xml");
    std::fs::write(&f, text).expect("write");
    match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg(&f)
        .output()
    {
        Ok(out) => !out.status.success(),
        Err(_) => true,
    }
}
