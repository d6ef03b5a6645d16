//! Text that the gateway writes into XML it generates itself (faults, engagement index
//! answers, converted address headers).

/// Escape text for XML character data and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_the_five_predefined_entities() {
        assert_eq!(
            super::xml_escape("a<b>&\"c'"),
            "a&lt;b&gt;&amp;&quot;c&apos;"
        );
    }
}
