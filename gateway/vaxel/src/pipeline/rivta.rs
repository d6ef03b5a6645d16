//! RIV-TA 2.0 ↔ 2.1 conversion for producers that speak the other basic profile:
//! the address header is rewritten in place (RIV-TA 2.0 `wsa:To` ↔ RIV-TA 2.1
//! `LogicalAddress`), nothing else of the message is touched or re-serialised.

use std::ops::Range;

use vaxel_adapter::RivProfile;

use vaxel_model::xml::xml_escape;

/// Replace the address element at `span` in `head` with the element of profile `to`
/// carrying `value`. Fails (VP012) when the element holds markup other than text,
/// CDATA or comments, which a rewrite would lose.
pub fn convert_address(
    head: &[u8],
    span: Range<usize>,
    value: &str,
    to: RivProfile,
) -> Result<Vec<u8>, String> {
    let element = head
        .get(span.clone())
        .ok_or_else(|| "the address header lies outside the bytes read".to_string())?;
    if let Some(inner) = inner_content(element) {
        let mut rest = inner;
        while let Some(i) = rest.iter().position(|b| *b == b'<') {
            let tail = &rest[i..];
            if tail.starts_with(b"<![CDATA[") || tail.starts_with(b"<!--") {
                rest = &tail[1..];
                continue;
            }
            return Err(
                "the address header contains child elements, which a RIV-TA 2.0/2.1 conversion cannot keep: send plain text in the address header"
                    .to_string(),
            );
        }
    }
    let replacement = match to {
        RivProfile::Rivta20 => format!(
            "<wsa:To xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">{}</wsa:To>",
            xml_escape(value)
        ),
        RivProfile::Rivta21 => format!(
            "<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{}</LogicalAddress>",
            xml_escape(value)
        ),
    };
    let mut out = Vec::with_capacity(head.len() + replacement.len());
    out.extend_from_slice(&head[..span.start]);
    out.extend_from_slice(replacement.as_bytes());
    out.extend_from_slice(&head[span.end..]);
    Ok(out)
}

/// Bytes between the end of the start tag and the start of the end tag (None for an
/// empty-element tag).
fn inner_content(element: &[u8]) -> Option<&[u8]> {
    if element.ends_with(b"/>") && !element[..element.len() - 2].contains(&b'>') {
        return None;
    }
    let start = element.iter().position(|b| *b == b'>')? + 1;
    let end = element.iter().rposition(|b| *b == b'<')?;
    element.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rivta21_to_20_rewrites_only_the_header() {
        let msg = b"<e><h><a:LogicalAddress xmlns:a=\"urn:riv:itintegration:registry:1\">SE1</a:LogicalAddress></h><b/></e>";
        let s = 6;
        let e = msg.len() - "</h><b/></e>".len();
        let out = convert_address(msg, s..e, "SE1", RivProfile::Rivta20).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<e><h><wsa:To xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">SE1</wsa:To></h><b/></e>"
        );
    }

    #[test]
    fn child_elements_are_a_transform_error() {
        let msg = b"<To><x/>SE1</To>";
        let err = convert_address(msg, 0..msg.len(), "SE1", RivProfile::Rivta21).unwrap_err();
        assert!(err.contains("child elements"));
    }

    #[test]
    fn cdata_and_comments_are_fine() {
        let msg = b"<To><!-- c --><![CDATA[SE1]]></To>";
        let out = convert_address(msg, 0..msg.len(), "SE1", RivProfile::Rivta21).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(">SE1</LogicalAddress>"));
    }
}
