use super::*;

#[test]
fn bang_prefixes_wait_for_more_bytes() {
    for tail in [
        &b"<!"[..],
        b"<!-",
        b"<!--",
        b"<!-- abc",
        b"<![CDA",
        b"<![CDATA[x]",
        b"<!DOC",
    ] {
        assert_eq!(
            classify_bang(tail),
            Bang::Incomplete,
            "{:?}",
            String::from_utf8_lossy(tail)
        );
    }
}

#[test]
fn doctype_is_refused_even_unclosed() {
    assert_eq!(classify_bang(b"<!DOCTYPE x [ <!ENTITY"), Bang::Doctype);
    assert_eq!(classify_bang(b"<!doctype"), Bang::Doctype);
}

#[test]
fn bogus_bang_markup_is_invalid() {
    for tail in [
        &b"<!x"[..],
        b"<!-x -->",
        b"<![CDATA]]>",
        b"<!DOCX>",
        b"<!-- a -->",
    ] {
        assert_eq!(
            classify_bang(tail),
            Bang::Invalid,
            "{:?}",
            String::from_utf8_lossy(tail)
        );
    }
}

#[test]
fn trims_only_xml_whitespace() {
    assert_eq!(trimmed(" \t\r\nSE123\n ".to_owned()), "SE123");
    assert_eq!(trimmed("\u{a0}SE123".to_owned()), "\u{a0}SE123");
    assert_eq!(trimmed(" \t\r\nSE 123\n ".to_owned()), "SE 123");
    assert_eq!(trimmed("   ".to_owned()), "");
}
