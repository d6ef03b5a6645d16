//! Hand-written envelopes: what a consumer can send and what the gateway must answer.
mod common;

use common::{envelope, error, sniff_in_chunks};
use vaxel_adapter::{sniff, RivProfile, SniffError, SniffLimits, SniffOutcome};

const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
const CONTRACT: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";

/// A RIV-TA 2.1 request with the given header content.
fn request_with_header(header: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header>{header}</soap:Header>
  <soap:Body>
    <GetCareDocumentation xmlns="{CONTRACT}"><patientId>191212121212</patientId></GetCareDocumentation>
  </soap:Body>
</soap:Envelope>"#
    )
}

fn rivta21_request(address_element: &str) -> String {
    request_with_header(address_element)
}

fn address_of(xml: &str) -> (RivProfile, String) {
    let env = envelope(xml.as_bytes());
    let a = env.address.expect("address header");
    (a.profile, a.value)
}

fn malformed_position(xml: &[u8]) -> usize {
    match error(xml) {
        SniffError::Malformed { position, .. } => position,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------- DTD / XXE

#[test]
fn doctype_with_external_entity_is_refused() {
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE soap:Envelope [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>
<LogicalAddress xmlns="urn:riv:itintegration:registry:1">&xxe;</LogicalAddress></soap:Header>
<soap:Body><x:A xmlns:x="urn:a"/></soap:Body></soap:Envelope>"#;
    assert_eq!(error(xxe), SniffError::DtdNotAllowed);
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut lol =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        lol.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    lol.push_str("]>\n<lolz>&lol9;</lolz>");
    assert_eq!(error(lol.as_bytes()), SniffError::DtdNotAllowed);
}

#[test]
fn doctype_is_refused_while_still_arriving() {
    // The gateway must not wait for the end of a DTD to refuse it.
    let partial = b"<?xml version=\"1.0\"?><!DOCTYPE x [ <!ENTITY a \"aaaaaaaa";
    assert_eq!(
        sniff(partial, false, &SniffLimits::default()),
        Err(SniffError::DtdNotAllowed)
    );
    // ... but a prefix that may still become a comment needs more bytes.
    assert_eq!(
        sniff(b"<!DOC", false, &SniffLimits::default()),
        Ok(SniffOutcome::NeedMore)
    );
}

#[test]
fn doctype_inside_the_header_is_refused() {
    let xml = request_with_header("<!DOCTYPE x>");
    assert_eq!(error(xml.as_bytes()), SniffError::DtdNotAllowed);
    assert_eq!(error(b"<!doctype>"), SniffError::DtdNotAllowed);
}

#[test]
fn undefined_entity_in_the_address_is_malformed() {
    let xml = rivta21_request(
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">&xxe;</LogicalAddress>"#,
    );
    assert!(matches!(
        error(xml.as_bytes()),
        SniffError::Malformed { .. }
    ));
    let xml = request_with_header(r#"<h:Other xmlns:h="urn:h">&nbsp;</h:Other>"#);
    assert!(matches!(
        error(xml.as_bytes()),
        SniffError::Malformed { .. }
    ));
}

// ---------------------------------------------------------------- not SOAP at all

#[test]
fn json_is_refused_on_its_first_byte() {
    let json = br#"{"logicalAddress":"SE123","patientId":"191212121212"}"#;
    assert_eq!(malformed_position(json), 0);
    // Also when only a prefix has arrived: no need to wait for more of it.
    assert!(matches!(
        sniff(&json[..5], false, &SniffLimits::default()),
        Err(SniffError::Malformed { position: 0, .. })
    ));
}

#[test]
fn binary_and_text_are_refused() {
    let binary: Vec<u8> = (0u8..=255).rev().collect();
    assert_eq!(malformed_position(&binary), 0);
    assert!(matches!(
        error(b"\x00<soap:Envelope/>"),
        SniffError::Malformed { .. }
    ));
    assert!(matches!(
        error(b"hello, world"),
        SniffError::Malformed { .. }
    ));
    assert!(matches!(error(b"<\x01\x02>"), SniffError::Malformed { .. }));
    assert!(matches!(error(b"<1a/>"), SniffError::Malformed { .. }));
    // A UTF-16 message is not UTF-8: refused, not misread.
    let utf16: Vec<u8> = "\u{feff}<a/>"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert!(matches!(error(&utf16), SniffError::Malformed { .. }));
}

#[test]
fn other_root_elements_are_named_in_the_error() {
    assert_eq!(
        error(b"<html><body>hi</body></html>"),
        SniffError::NotSoapEnvelope {
            found: "html".into()
        }
    );
    assert_eq!(
        error(br#"<m:GetCareDocumentation xmlns:m="urn:x"/>"#),
        SniffError::NotSoapEnvelope {
            found: "{urn:x}GetCareDocumentation".into()
        }
    );
    // Right local name, no namespace.
    assert_eq!(
        error(b"<Envelope><Body/></Envelope>"),
        SniffError::NotSoapEnvelope {
            found: "Envelope".into()
        }
    );
}

#[test]
fn soap12_envelope_is_not_soap11() {
    let xml = format!(
        r#"<env:Envelope xmlns:env="{SOAP12_NS}"><env:Header/><env:Body><m:A xmlns:m="urn:a"/></env:Body></env:Envelope>"#
    );
    let err = error(xml.as_bytes());
    assert_eq!(
        err,
        SniffError::NotSoapEnvelope {
            found: format!("{{{SOAP12_NS}}}Envelope")
        }
    );
    assert!(
        err.to_string()
            .contains("http://schemas.xmlsoap.org/soap/envelope/"),
        "{err}"
    );
}

// ---------------------------------------------------------------- envelope structure

#[test]
fn envelope_without_body_is_refused() {
    let no_body = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/></soap:Envelope>"#;
    assert_eq!(error(no_body), SniffError::NoBody);
    // Decided as soon as the Envelope closes, whatever may follow.
    assert_eq!(
        sniff(no_body, false, &SniffLimits::default()),
        Err(SniffError::NoBody)
    );
    assert_eq!(
        error(br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>"#),
        SniffError::NoBody
    );
    // A SOAP 1.2 Body inside a SOAP 1.1 Envelope is not the Body.
    let mixed = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><b:Body xmlns:b="{SOAP12_NS}"><m:A xmlns:m="urn:a"/></b:Body></s:Envelope>"#
    );
    assert_eq!(error(mixed.as_bytes()), SniffError::NoBody);
}

#[test]
fn empty_body_is_refused() {
    let env = |body: &str| {
        format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">{body}</S:Envelope>"#
        )
    };
    for body in [
        "<S:Body/>",
        "<S:Body></S:Body>",
        "<S:Body>\n  <!-- nothing -->\n  </S:Body>",
        "<S:Body>text only</S:Body>",
    ] {
        assert_eq!(error(env(body).as_bytes()), SniffError::EmptyBody, "{body}");
    }
    // A message that ends inside an empty Body: EmptyBody when final, NeedMore before.
    let open = br#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>  "#;
    assert_eq!(
        sniff(open, true, &SniffLimits::default()),
        Err(SniffError::EmptyBody)
    );
    assert_eq!(
        sniff(open, false, &SniffLimits::default()),
        Ok(SniffOutcome::NeedMore)
    );
}

#[test]
fn body_child_without_namespace_is_refused() {
    let xml = br#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><GetThing/></S:Body></S:Envelope>"#;
    assert_eq!(
        error(xml),
        SniffError::BodyChildWithoutNamespace {
            element: "GetThing".into()
        }
    );
    // xmlns="" takes the default namespace away again.
    let reset = br#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><GetThing xmlns=""/></Body></Envelope>"#;
    assert_eq!(
        error(reset),
        SniffError::BodyChildWithoutNamespace {
            element: "GetThing".into()
        }
    );
}

#[test]
fn missing_header_is_fine_but_has_no_address() {
    let xml = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><GetCareDocumentation xmlns="{CONTRACT}"/></soapenv:Body></soapenv:Envelope>"#
    );
    let env = envelope(xml.as_bytes());
    assert_eq!(env.address, None);
    assert_eq!(env.contract_namespace, CONTRACT);
    assert_eq!(env.body_element, "GetCareDocumentation");
    assert_eq!(env.consumed, xml.find("/>").unwrap() + 2);
}

// ---------------------------------------------------------------- limits

#[test]
fn deep_nesting_is_refused() {
    let deep = format!(
        "{}{}",
        "<h:x xmlns:h=\"urn:h\">".repeat(100),
        "</h:x>".repeat(100)
    );
    let xml = request_with_header(&deep);
    assert_eq!(error(xml.as_bytes()), SniffError::TooDeep { limit: 64 });
    // Refused as soon as the limit is passed, before the rest arrives.
    let cut = &xml.as_bytes()[..xml.len() / 2];
    assert_eq!(
        sniff(cut, false, &SniffLimits::default()),
        Err(SniffError::TooDeep { limit: 64 })
    );

    // Envelope/Body/child is depth 3.
    let plain = rivta21_request("");
    let three = SniffLimits {
        max_depth: 3,
        ..SniffLimits::default()
    };
    assert!(matches!(
        sniff(plain.as_bytes(), true, &three),
        Ok(SniffOutcome::Complete(_))
    ));
    let two = SniffLimits {
        max_depth: 2,
        ..SniffLimits::default()
    };
    assert_eq!(
        sniff(plain.as_bytes(), true, &two),
        Err(SniffError::TooDeep { limit: 2 })
    );
}

#[test]
fn header_larger_than_the_limit_is_refused() {
    let filler = format!(
        "<h:Filler xmlns:h=\"urn:h\">{}</h:Filler>",
        "x".repeat(300 * 1024)
    );
    let xml = request_with_header(&filler);
    let limit = SniffLimits::default().max_prefix_bytes;
    assert_eq!(error(xml.as_bytes()), SniffError::HeaderTooLarge { limit });
    assert_eq!(
        sniff(xml.as_bytes(), false, &SniffLimits::default()),
        Err(SniffError::HeaderTooLarge { limit })
    );
    // A non-final prefix exactly at the limit can never decide within it.
    assert_eq!(
        sniff(&xml.as_bytes()[..limit], false, &SniffLimits::default()),
        Err(SniffError::HeaderTooLarge { limit })
    );
    // One byte less may still get there.
    assert_eq!(
        sniff(&xml.as_bytes()[..limit - 1], false, &SniffLimits::default()),
        Ok(SniffOutcome::NeedMore)
    );
}

#[test]
fn a_large_body_does_not_count_against_the_limit() {
    let xml = rivta21_request(
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">SE1</LogicalAddress>"#,
    )
    .replace("191212121212", &"1".repeat(1024 * 1024));
    let env = envelope(xml.as_bytes());
    assert!(env.consumed < 1024);
}

// ---------------------------------------------------------------- truncation and streaming

#[test]
fn truncated_final_input_is_truncated() {
    let xml = rivta21_request(
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">SE1</LogicalAddress>"#,
    );
    let header_end = xml.find("</soap:Header>").unwrap();
    for cut in [0, 10, 60, header_end, header_end + 5] {
        let prefix = &xml.as_bytes()[..cut];
        assert_eq!(
            sniff(prefix, true, &SniffLimits::default()),
            Err(SniffError::Truncated),
            "cut at {cut}"
        );
        assert_eq!(
            sniff(prefix, false, &SniffLimits::default()),
            Ok(SniffOutcome::NeedMore),
            "cut at {cut}"
        );
    }
    assert_eq!(error(b""), SniffError::Truncated);
}

#[test]
fn cut_inside_markup_needs_more_bytes() {
    let limits = SniffLimits::default();
    for prefix in [
        &b"<"[..],
        b"<soap:Envel",
        b"<soap:Envelope xmlns:soap=\"http://sch",
        b"<!",
        b"<!-",
        b"<!-- a comment",
        b"<?xml version=",
        b"<?xml version=\"1.0\"?",
        b"\xEF",
        b"\xEF\xBB",
        b"<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"><![CDATA[ab",
        b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">SE&am",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">Ö".as_bytes().split_last().unwrap().1,
    ] {
        assert_eq!(sniff(prefix, false, &limits), Ok(SniffOutcome::NeedMore), "{:?}", String::from_utf8_lossy(prefix));
    }
}

#[test]
fn malformed_content_is_refused_without_waiting_for_more() {
    let limits = SniffLimits::default();
    let cases: &[&[u8]] = &[
        // Mismatched end tag.
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header></soap:Body>"#,
        // Undeclared prefix.
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><ns5:LogicalAddress>"#,
        br#"<soap:Envelope><soap:Body>"#,
        // Duplicate and unquoted attributes.
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" a="1" a="2">"#,
        br#"<soap:Envelope xmlns:soap=http://schemas.xmlsoap.org/soap/envelope/>"#,
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" a="&bogus;">"#,
        // `--` inside a comment.
        b"<!-- a -- b --><x/>",
        // XML declaration not at the start.
        b"  <?xml version=\"1.0\"?><x/>",
        b"<?xml encoding=\"UTF-8\"?><x/>",
        // Not UTF-8.
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><x/>",
        // Bogus `<!` markup.
        b"<!x><a/>",
        b"<!-x --><a/>",
        // End tag first, and content after the root is irrelevant: but text before it is not.
        b"</a>",
        b"text<a/>",
        b"<![CDATA[x]]><a/>",
        // Element names with the reserved prefix.
        br#"<xmlns:a xmlns:a="urn:a"/>"#,
    ];
    for case in cases {
        for is_final in [false, true] {
            let got = sniff(case, is_final, &limits);
            assert!(
                matches!(got, Err(SniffError::Malformed { .. })),
                "{:?} (final: {is_final}): {got:?}",
                String::from_utf8_lossy(case)
            );
        }
    }
}

#[test]
fn malformed_error_says_where_and_why() {
    let xml = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:X></soap:Body>"#;
    let err = error(xml);
    let SniffError::Malformed { position, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*position, xml.len() - "<ns2:X></soap:Body>".len());
    let text = err.to_string();
    assert!(
        text.contains(&format!("at byte {position}")) && text.contains("ns2"),
        "{text}"
    );
}

// ---------------------------------------------------------------- the address header

#[test]
fn empty_address_gives_an_empty_value() {
    for element in [
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1"/>"#,
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">  </LogicalAddress>"#,
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">
        </LogicalAddress>"#,
    ] {
        let xml = rivta21_request(element);
        let env = envelope(xml.as_bytes());
        let address = env.address.unwrap();
        assert_eq!(
            (address.profile, address.value.as_str()),
            (RivProfile::Rivta21, ""),
            "{element}"
        );
        assert_eq!(&xml[address.span], element);
    }
    let xml = rivta21_request(r#"<wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing"/>"#);
    assert_eq!(address_of(&xml), (RivProfile::Rivta20, String::new()));
}

#[test]
fn address_span_covers_the_whole_element() {
    let element = r#"<ns5:LogicalAddress xmlns:ns5="urn:riv:itintegration:registry:1"> SE2321000016-F123 </ns5:LogicalAddress >"#;
    let xml = rivta21_request(element);
    let env = envelope(xml.as_bytes());
    let address = env.address.unwrap();
    assert_eq!(address.value, "SE2321000016-F123");
    let sliced = &xml[address.span.clone()];
    assert_eq!(sliced, element);
    assert!(sliced.starts_with('<') && sliced.ends_with('>') && sliced.contains(&address.value));

    // With a BOM the span still indexes the caller's bytes.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(xml.as_bytes());
    let env = envelope(&with_bom);
    let span = env.address.unwrap().span;
    assert_eq!(&with_bom[span], element.as_bytes());
    assert_eq!(&with_bom[env.consumed - 2..env.consumed], b"\">");
}

#[test]
fn address_text_is_unescaped_and_cdata_is_read() {
    let ns = "urn:riv:itintegration:registry:1";
    let cases = [
        (
            format!(
                r#"<LogicalAddress xmlns="{ns}">SE&amp;1&lt;2&gt;&#x41;&#66;</LogicalAddress>"#
            ),
            "SE&1<2>AB",
        ),
        (
            format!(r#"<LogicalAddress xmlns="{ns}"><![CDATA[ SE<1> ]]></LogicalAddress>"#),
            "SE<1>",
        ),
        (
            format!(r#"<LogicalAddress xmlns="{ns}">SE<!-- split -->123</LogicalAddress>"#),
            "SE123",
        ),
        (
            format!(r#"<LogicalAddress xmlns="{ns}">Region Östergötland</LogicalAddress>"#),
            "Region Östergötland",
        ),
    ];
    for (element, expected) in cases {
        assert_eq!(
            address_of(&rivta21_request(&element)).1,
            expected,
            "{element}"
        );
    }
}

#[test]
fn only_direct_header_children_in_the_right_namespace_are_addresses() {
    // Nested one level too deep.
    let nested = r#"<h:Wrapper xmlns:h="urn:h"><LogicalAddress xmlns="urn:riv:itintegration:registry:1">SE1</LogicalAddress></h:Wrapper>"#;
    assert_eq!(envelope(rivta21_request(nested).as_bytes()).address, None);
    // Right local name, wrong namespace (the RIV-TA headers namespace is not the registry).
    let wrong_ns =
        r#"<LogicalAddress xmlns="urn:riv:interoperability:headers:1">SE1</LogicalAddress>"#;
    assert_eq!(envelope(rivta21_request(wrong_ns).as_bytes()).address, None);
    // `To` without WS-Addressing namespace.
    assert_eq!(
        envelope(rivta21_request("<To>SE1</To>").as_bytes()).address,
        None
    );
    // An address-looking element in the Body is not a header.
    let in_body = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><LogicalAddress xmlns="urn:riv:itintegration:registry:1">SE1</LogicalAddress></s:Body></s:Envelope>"#;
    let env = envelope(in_body.as_bytes());
    assert_eq!(env.address, None);
    assert_eq!(env.contract_namespace, "urn:riv:itintegration:registry:1");
}

#[test]
fn first_address_header_wins() {
    let header = r#"<h:Other xmlns:h="urn:h">x</h:Other><wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">FIRST</wsa:To><LogicalAddress xmlns="urn:riv:itintegration:registry:1">SECOND</LogicalAddress>"#;
    assert_eq!(
        address_of(&rivta21_request(header)),
        (RivProfile::Rivta20, "FIRST".into())
    );
}

#[test]
fn namespace_written_with_character_references_still_matches() {
    let element = r#"<a:LogicalAddress xmlns:a="urn:riv:itintegration:registry&#58;1">SE1</a:LogicalAddress>"#;
    assert_eq!(
        address_of(&rivta21_request(element)),
        (RivProfile::Rivta21, "SE1".into())
    );
}

// ---------------------------------------------------------------- prefixes never matter

#[test]
fn prefixes_and_default_namespaces_give_the_same_answer() {
    let soap = "http://schemas.xmlsoap.org/soap/envelope/";
    let reg = "urn:riv:itintegration:registry:1";
    let variants = [
        // Everything prefixed, declared on the Envelope.
        format!(r#"<soap:Envelope xmlns:soap="{soap}" xmlns:ns5="{reg}" xmlns:ns2="{CONTRACT}"><soap:Header><ns5:LogicalAddress>SE1</ns5:LogicalAddress></soap:Header><soap:Body><ns2:GetCareDocumentation/></soap:Body></soap:Envelope>"#),
        // Other prefixes, declared on Header and Body.
        format!(r#"<soapenv:Envelope xmlns:soapenv="{soap}"><soapenv:Header xmlns:urn="{reg}"><urn:LogicalAddress>SE1</urn:LogicalAddress></soapenv:Header><soapenv:Body xmlns:tns="{CONTRACT}"><tns:GetCareDocumentation/></soapenv:Body></soapenv:Envelope>"#),
        // SOAP in the default namespace, the others declared on the elements themselves.
        format!(r#"<Envelope xmlns="{soap}"><Header><a:LogicalAddress xmlns:a="{reg}">SE1</a:LogicalAddress></Header><Body><GetCareDocumentation xmlns="{CONTRACT}"/></Body></Envelope>"#),
        // The same prefix bound to different namespaces in different scopes.
        format!(r#"<x:Envelope xmlns:x="{soap}"><x:Header><x:LogicalAddress xmlns:x="{reg}">SE1</x:LogicalAddress></x:Header><x:Body><x:GetCareDocumentation xmlns:x="{CONTRACT}"/></x:Body></x:Envelope>"#),
        // Default namespace of the Envelope is the contract; the SOAP elements are prefixed.
        format!(r#"<S:Envelope xmlns:S="{soap}" xmlns="{CONTRACT}"><S:Header><LogicalAddress xmlns="{reg}">SE1</LogicalAddress></S:Header><S:Body><GetCareDocumentation/></S:Body></S:Envelope>"#),
        // Comments, PIs and whitespace everywhere.
        format!("<?xml version='1.0'?>\n<!-- c --><?pi x?>\n<S:Envelope\n xmlns:S='{soap}'>\n<!-- c -->\n<S:Header >\n<?pi?><L:LogicalAddress xmlns:L='{reg}'>\n SE1\n</L:LogicalAddress >\n</S:Header>\n<S:Body\n>\n<!-- c --><C:GetCareDocumentation xmlns:C='{CONTRACT}'\n>"),
    ];
    for xml in &variants {
        let env = envelope(xml.as_bytes());
        let address = env.address.as_ref().unwrap();
        assert_eq!(
            (address.profile, address.value.as_str()),
            (RivProfile::Rivta21, "SE1"),
            "{xml}"
        );
        assert_eq!(env.contract_namespace, CONTRACT, "{xml}");
        assert_eq!(env.body_element, "GetCareDocumentation", "{xml}");
        assert!(
            xml[address.span.clone()].contains("LogicalAddress"),
            "{xml}"
        );
        for chunk in [1, 3, 17] {
            assert_eq!(
                sniff_in_chunks(xml.as_bytes(), chunk, &SniffLimits::default()),
                Ok(SniffOutcome::Complete(env.clone()))
            );
        }
    }
}

#[test]
fn bom_is_skipped_but_only_once() {
    let xml = rivta21_request(
        r#"<LogicalAddress xmlns="urn:riv:itintegration:registry:1">SE1</LogicalAddress>"#,
    );
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(xml.as_bytes());
    assert_eq!(envelope(&with_bom).address.unwrap().value, "SE1");
    let mut two_boms = b"\xEF\xBB\xBF".to_vec();
    two_boms.extend_from_slice(&with_bom);
    assert!(matches!(
        error(&two_boms),
        SniffError::Malformed { position: 3, .. }
    ));
    assert!(matches!(
        error(b"\xEF\xBB"),
        SniffError::Malformed { .. } | SniffError::Truncated
    ));
}

#[test]
fn nothing_after_the_first_body_child_is_read() {
    // Garbage after the first Body child's start tag does not matter: it is not read.
    let xml = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:Call xmlns:c="{CONTRACT}">&undefined; </wrong> <!DOCTYPE x>"#
    );
    let env = envelope(xml.as_bytes());
    assert_eq!(env.contract_namespace, CONTRACT);
    assert_eq!(&xml[env.consumed - 1..env.consumed], ">");
    assert!(xml[..env.consumed].ends_with(&format!(r#"<c:Call xmlns:c="{CONTRACT}">"#)));
}
