//! `${NAME}` placeholders in routing-table text (specs/routing-table.md
//! "Placeholders").
//!
//! Substitution runs on the raw text before parsing, so a placeholder may stand for
//! any part of a value (typically a producer base URL such as `${DEMO_PRODUCER}`).
//! Values come from the caller, never from the process environment, so a table means
//! the same thing wherever it is loaded.

use std::borrow::Cow;

/// Why substitution failed; the loader turns it into a `RoutingTableError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaceholderProblem {
    Unknown { name: String, line: usize },
    Malformed { problem: String, line: usize },
}

/// Replaces every `${NAME}` in `text` by its value from `vars`; `$${` stands for a
/// literal `${`. A `$` not followed by `{` is kept as it is.
pub(crate) fn substitute<'t>(
    text: &'t str,
    vars: &[(&str, &str)],
) -> Result<Cow<'t, str>, PlaceholderProblem> {
    if !text.contains("${") {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(inner) = after.strip_prefix('{') {
            let line = line_of(text, text.len() - rest.len() + pos);
            let Some(end) = inner.find('}') else {
                return Err(PlaceholderProblem::Malformed {
                    problem:
                        "`${` without a closing `}`; write `${NAME}`, or `$${` for a literal `${`"
                            .to_owned(),
                    line,
                });
            };
            let name = &inner[..end];
            if !is_placeholder_name(name) {
                return Err(PlaceholderProblem::Malformed {
                    problem: format!(
                        "`${{{name}}}` is not a placeholder name; names are letters, digits and `_`, not starting with a digit"
                    ),
                    line,
                });
            }
            let Some((_, value)) = vars.iter().find(|(n, _)| *n == name) else {
                return Err(PlaceholderProblem::Unknown {
                    name: name.to_owned(),
                    line,
                });
            };
            out.push_str(value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn is_placeholder_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// 1-based line number of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: &[(&str, &str)] = &[("DEMO_PRODUCER", "https://127.0.0.1:20443"), ("P", "x")];

    #[test]
    fn replaces_known_placeholders_and_keeps_other_dollars() {
        let out = substitute("url = \"${DEMO_PRODUCER}/echo\" # $5 ${P}${P}", VARS).unwrap();
        assert_eq!(out, "url = \"https://127.0.0.1:20443/echo\" # $5 xx");
    }

    #[test]
    fn text_without_placeholders_is_borrowed() {
        assert!(matches!(
            substitute("a $ b", VARS).unwrap(),
            Cow::Borrowed("a $ b")
        ));
    }

    #[test]
    fn double_dollar_escapes_a_literal_placeholder() {
        assert_eq!(substitute("$${P} ${P}", VARS).unwrap(), "${P} x");
    }

    #[test]
    fn unknown_placeholder_names_itself_and_its_line() {
        assert_eq!(
            substitute("a\nb\nurl = \"${PRODUCER}\"", VARS),
            Err(PlaceholderProblem::Unknown {
                name: "PRODUCER".to_owned(),
                line: 3
            })
        );
        assert!(matches!(
            substitute("${DEMO_PRODUCER}", &[]),
            Err(PlaceholderProblem::Unknown { line: 1, .. })
        ));
    }

    #[test]
    fn malformed_placeholders_are_rejected() {
        assert!(matches!(
            substitute("x\n${P", VARS),
            Err(PlaceholderProblem::Malformed { line: 2, .. })
        ));
        assert!(matches!(
            substitute("${1P}", VARS),
            Err(PlaceholderProblem::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            substitute("${}", VARS),
            Err(PlaceholderProblem::Malformed { line: 1, .. })
        ));
    }
}
