use super::*;

#[test]
fn declarations() {
    for ok in [
        "xml version=\"1.0\"",
        "xml version='1.0' encoding='utf-8'",
        "xml version = \"1.0\" encoding=\"UTF-8\" standalone=\"yes\" ",
        "xml version=\"1.1\"\n\tstandalone='no'",
        "xml version=\"1.0\" encoding=\"UTF8\"",
        "xml version=\"1.0\" encoding=\"uTf8\" standalone='yes'",
        "xml version=\"1.10\"",
    ] {
        assert_eq!(check_declaration(ok.as_bytes()), Ok(()), "{ok}");
    }
    for bad in [
        "xml",
        "xml ",
        "xml encoding=\"UTF-8\"",
        "xml encoding=\"UTF-8\" version=\"1.0\"",
        "xml version=\"2.0\"",
        "xml version=\"1.\"",
        "xml version=\"1.0a\"",
        "xml version=\"1.0",
        "xml version=1.0",
        "xml version=\"1.0'",
        "xml version\"1.0\"",
        "xml version=\"1.0\"encoding=\"UTF-8\"",
        "xml version=\"1.0\" e\u{ff}ncoding=\"UTF-8\"",
        "xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"",
        "xml version=\"1.0\" standalone=\"maybe\"",
        "xml version=\"1.0\" standalone=\"YES\"",
        "xml version=\"1.0\" foo=\"bar\"",
        "xml version=\"1.0\" encoding=\"UTF-16\"",
        "xml version=\"1.0\" encoding=\"utf-8 \"",
        "xml version=\"1.0\" encoding=\"\"",
        "xml version=\"1.0\" version=\"1.0\"",
    ] {
        assert!(check_declaration(bad.as_bytes()).is_err(), "{bad}");
    }
    assert!(check_declaration(b"xml version=\"1.0\" e\xffncoding=\"UTF-8\"").is_err());
}

#[test]
fn usual_declarations_are_valid() {
    for usual in USUAL_DECLARATIONS {
        assert_eq!(walk_declaration(usual), Ok(()), "{usual:?}");
    }
}

#[test]
fn declaration_faults_say_what_to_do() {
    let message = |d: &str| check_declaration(d.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        message("xml version=\"1.0\" encoding=\"ISO-8859-1\""),
        "declared encoding \"ISO-8859-1\" is not supported: send the message in UTF-8 and declare encoding=\"UTF-8\" (or no encoding)"
    );
    assert!(message("xml version=\"2.0\"").contains("declare version=\"1.0\""));
    assert!(message("xml encoding=\"UTF-8\"").contains("`version` must come first"));
    assert!(message("xml version=\"1.0\" standalone=\"maybe\"").contains("\"yes\" or \"no\""));
    assert!(message("xml version=\"1.0\" foo=\"bar\"").contains("in this order"));
}

#[test]
fn names() {
    for ok in [
        &b"a"[..],
        b"soap:Envelope",
        b"_x.y-z",
        b"ns5:LogicalAddress",
        "å:ö".as_bytes(),
        "a\u{B7}b".as_bytes(),
        "\u{10000}".as_bytes(),
    ] {
        assert_eq!(check_qname(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
    }
    for (bad, problem) in [
        (&b""[..], NameProblem::Empty),
        (b":a", NameProblem::Empty),
        (b"a:", NameProblem::Empty),
        (b"a:b:c", NameProblem::Colons),
        (b"1a", NameProblem::Start(Described('1'))),
        (b"-a", NameProblem::Start(Described('-'))),
        (b"a b", NameProblem::Char(Described(' '))),
        (b"a\"", NameProblem::Char(Described('"'))),
        (
            "a\u{D7}b".as_bytes(),
            NameProblem::Char(Described('\u{D7}')),
        ),
        (
            "\u{B7}a".as_bytes(),
            NameProblem::Start(Described('\u{B7}')),
        ),
        (
            "\u{3000}".as_bytes(),
            NameProblem::Start(Described('\u{3000}')),
        ),
        (b"\xff", NameProblem::NotUtf8),
    ] {
        assert_eq!(
            check_qname(bad),
            Err(problem),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn ascii_name_bytes_are_the_name_productions() {
    for b in 0..0x80u8 {
        let c = char::from(b);
        assert_eq!(is_ascii_name_start(b), is_name_start_char(c), "{b:#x}");
        assert_eq!(is_ascii_name_char(b), is_name_char(c), "{b:#x}");
    }
}

#[test]
fn characters() {
    assert_eq!(first_non_char("Vårdcentralen\t\n\r ~\u{7F}"), None);
    assert_eq!(first_non_char("0123456789abcdef\u{1}"), Some((16, '\u{1}')));
    assert_eq!(first_non_char("åäö\u{FFFE}"), Some((6, '\u{FFFE}')));
    assert_eq!(first_non_char("\u{FFFF}"), Some((0, '\u{FFFF}')));
    assert_eq!(first_non_char("\u{EFBF}\u{FFFD}\u{10FFFF}"), None);
    for b in 0..=0xFFu8 {
        let alone = [b; 9];
        assert_eq!(is_ascii_char_data(&alone), is_ascii_char(b), "{b:#x}");
        assert_eq!(is_ascii_char_data(&alone[..3]), is_ascii_char(b), "{b:#x}");
    }
}

#[test]
fn character_data() {
    assert_eq!(check_char_data(b"a ] b ]] c"), Ok("a ] b ]] c"));
    assert_eq!(
        check_char_data(b"a ]]> b"),
        Err(XmlSyntaxError::CdataEndInText { at: 2 })
    );
    assert!(matches!(
        check_char_data(b"ab\xff"),
        Err(XmlSyntaxError::Characters {
            at: 2,
            problem: CharProblem::NotUtf8,
            ..
        })
    ));
    assert_eq!(
        expand_references("a &amp; &#x41;", Place::Text).unwrap(),
        "a & A"
    );
    assert_eq!(
        expand_references("&lt;&gt;&amp;&apos;&quot;&#65;&#x10000;x", Place::Text).unwrap(),
        "<>&'\"A\u{10000}x"
    );
    for (bad, at) in [
        ("&#1;", 0),
        ("ab &#xFFFE;", 3),
        ("&#0;", 0),
        ("&amp;&nbsp;", 5),
        ("&#xD800;", 0),
        ("&#x110000;", 0),
        ("&amp", 0),
        ("a & b;", 2),
        ("&#X41;", 0),
        ("&#-1;", 0),
        ("&#;", 0),
        ("&#x;", 0),
        ("&#12a;", 0),
        ("&#99999999999999999999;", 0),
    ] {
        let e = expand_references(bad, Place::Text).unwrap_err();
        assert_eq!(e.offset(), at, "{bad}: {e}");
    }
    assert!(attribute_value(b"a", b"b", b"x&#9;y").is_ok());
    assert_eq!(attribute_value_problem(b"x<y"), Err(CharProblem::LessThan));
    assert_eq!(
        attribute_value_problem(b"x\x01"),
        Err(CharProblem::NotAChar(Described('\u{1}')))
    );
}

#[test]
fn comments_and_processing_instructions() {
    assert_eq!(check_comment(b" a - b "), Ok(()));
    for bad in [&b" a -- b "[..], b" a -", b"\x01", b"\xff"] {
        assert!(check_comment(bad).is_err(), "{bad:?}");
    }
    for ok in [&b"pi"[..], b"pi x y", b"xml-stylesheet href='a'", b"p \t?"] {
        assert_eq!(check_processing_instruction(ok), Ok(()), "{ok:?}");
    }
    for bad in [
        &b""[..],
        b"xml",
        b"XmL x",
        b"a:b",
        b"1x",
        b"pi \x01",
        b"pi \xff",
    ] {
        assert!(check_processing_instruction(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn text_around_the_root() {
    assert_eq!(check_outside_root(b" \r\n\t"), Ok(()));
    assert_eq!(
        check_outside_root(b" x"),
        Err(XmlSyntaxError::TextOutsideRoot { at: 1 })
    );
    assert_eq!(
        check_outside_root(b"\xFF\xFE<"),
        Err(XmlSyntaxError::NotUtf8OutsideRoot { at: 0, byte: 0xFF })
    );
    assert!(check_outside_root(UTF8_BOM)
        .unwrap_err()
        .to_string()
        .contains("byte order mark"));
}

#[test]
fn long_names_are_cut_in_messages() {
    let long = "x".repeat(1000);
    let quoted = quote(long.as_bytes());
    assert_eq!(quoted.chars().count(), MAX_QUOTED + 1);
    assert!(quoted.ends_with('…'));
}
