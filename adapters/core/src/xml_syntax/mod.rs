//! The XML rules for the declaration, names, characters and the byte order mark, in one
//! place for both readers of untrusted XML in this crate: the envelope sniffer
//! ([`crate::envelope`], consumers' requests, on the routing hot path) and the record
//! reader (`information_set::parse`, producers' answers). Both apply every check here to
//! what they read and word a refusal with [`XmlSyntaxError`], so a message is refused by
//! both or by neither, for the same reason. The sniffer stops at the start tag of the
//! first Body child: it applies the rules to everything before, to nothing after.
//! `tests/xml_agreement.rs` and the `xml_agree` fuzz target hold the two to this.
//!
//! Public so that every other reader of untrusted XML in vaxel (the SDK message reader in
//! `vaxel-sdk-message`) applies the same rules rather than a weaker copy.
//!
//! Productions are from XML 1.0 (Fifth Edition) and Namespaces in XML 1.0 (Third Edition).
//!
//! 1. **Byte order mark** (§4.3.3, Appendix F.1): one UTF-8 BOM (`EF BB BF`) may open the
//!    message; it is skipped, and offsets still count it. Around the root element only
//!    white space, comments and processing instructions may stand ([1] `document`, [27]
//!    `Misc`): a second BOM, a UTF-16 BOM or any other text there is refused.
//! 2. **XML declaration**, [23] `XMLDecl ::= '<?xml' VersionInfo EncodingDecl? SDDecl? S? '?>'`:
//!    only at the very start, after the BOM if any ([22] `prolog`); `version`, then
//!    optionally `encoding`, then optionally `standalone`, in this order, each after
//!    white space as `name Eq value` ([25] `Eq ::= S? '=' S?`) with the value in a
//!    matching pair of `"` or `'`; nothing else.
//!    * [26] `VersionNum ::= '1.' [0-9]+`.
//!    * [80] `EncodingDecl`, [81] `EncName ::= [A-Za-z] ([A-Za-z0-9._] | '-')*`. Both
//!      readers read UTF-8 only. §4.3.3 matches encoding names without regard to case,
//!      so `UTF-8` is accepted in any case, and so is `UTF8`: consumers send it (the
//!      sniffer has always routed it), Java, libxml2 and the WHATWG Encoding Standard
//!      take it for UTF-8, and the bytes are read as UTF-8 either way (the merged answer
//!      declares its own `UTF-8`). Any other name is refused: send UTF-8.
//!    * [32] `SDDecl`: `standalone` is `yes` or `no`.
//! 3. **Names**, [4] `NameStartChar`, [4a] `NameChar`, [5] `Name`; Namespaces [4] `NCName`,
//!    [7] `QName`: element and attribute names are QNames (at most one `:`, with an NCName
//!    on each side); processing instruction targets are NCNames (Namespaces §7) other
//!    than `xml` in any case ([17] `PITarget`). ASCII names take a byte-class fast path
//!    ([`is_ascii_name_start`], [`is_ascii_name_char`], also behind the sniffer's
//!    start tag scan); others are checked character by character.
//! 4. **Characters**, [2] `Char`: every character of text, CDATA sections, attribute
//!    values, comments and processing instructions, written or referenced ([66]
//!    `CharRef`, WFC: Legal Character), is a `Char`, and the bytes are UTF-8. Character
//!    data never holds `]]>` ([14] `CharData`); an attribute value never holds `<` ([10]
//!    `AttValue`). Only the predefined entities are known: there is no DTD.
//! 5. **Comments**, [15] `Comment`: no `--` inside, no `-` just before the closing `-->`.
use std::borrow::Cow;

/// The UTF-8 byte order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest excerpt of input quoted in an error message: errors end up in logs and SOAP
/// faults, and a hostile name may be as long as the whole message.
pub const MAX_QUOTED: usize = 120;

/// A declaration, name or character problem, worded the same for both readers: what is
/// wrong and what to do. The caller adds where (a byte offset; see [`Self::offset`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlSyntaxError {
    #[error("text outside the root element: only white space, comments and processing instructions may stand before and after it, and a byte order mark only once at the very start (is this an XML message?)")]
    TextOutsideRoot { at: usize },
    #[error("byte 0x{byte:02X} outside the root element is not UTF-8 (a UTF-16 byte order mark?): send the message in UTF-8")]
    NotUtf8OutsideRoot { at: usize, byte: u8 },
    #[error("CDATA section outside the root element: only white space, comments and processing instructions may stand before and after it")]
    CdataOutsideRoot,
    #[error("the XML declaration may only stand at the very start of the message: remove it or move it there")]
    DeclarationNotAtStart,
    #[error("malformed XML declaration: {detail}; write it as <?xml version=\"1.0\" encoding=\"UTF-8\"?>")]
    DeclarationSyntax { detail: String },
    #[error("XML version \"{found}\" is not supported: declare version=\"1.0\"")]
    DeclarationVersion { found: String },
    #[error("declared encoding \"{found}\" is not supported: send the message in UTF-8 and declare encoding=\"UTF-8\" (or no encoding)")]
    DeclarationEncoding { found: String },
    #[error("standalone=\"{found}\" in the XML declaration: it must be \"yes\" or \"no\"")]
    DeclarationStandalone { found: String },
    #[error("invalid element name <{name}>: {problem}")]
    ElementName { name: String, problem: NameProblem },
    #[error("invalid attribute name `{name}` in <{element}>: {problem}")]
    AttributeName {
        element: String,
        name: String,
        problem: NameProblem,
    },
    #[error("invalid attribute in <{element}>: {detail}")]
    AttributeSyntax { element: String, detail: String },
    #[error("invalid value of attribute `{name}` in <{element}>: {problem}")]
    AttributeValue {
        element: String,
        name: String,
        problem: CharProblem,
    },
    #[error("invalid processing instruction target `{target}`: {problem}")]
    ProcessingInstructionTarget {
        target: String,
        problem: NameProblem,
    },
    #[error("invalid {place}: {problem}")]
    Characters {
        place: Place,
        /// Offset of the problem in the checked bytes (0 for a reference).
        at: usize,
        problem: CharProblem,
    },
    #[error("\"]]>\" in character data (XML 1.0 §2.4): write it as \"]]&gt;\"")]
    CdataEndInText { at: usize },
    #[error("malformed comment: \"--\" may not stand inside a comment, nor \"-\" before its closing \"-->\" (XML 1.0 §2.5)")]
    Comment,
}

impl XmlSyntaxError {
    /// Where the problem is, relative to the start of the bytes that were checked.
    pub fn offset(&self) -> usize {
        match self {
            Self::Characters { at, .. }
            | Self::CdataEndInText { at }
            | Self::TextOutsideRoot { at }
            | Self::NotUtf8OutsideRoot { at, .. } => *at,
            _ => 0,
        }
    }
}

/// Where characters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Text,
    Cdata,
    Comment,
    ProcessingInstruction,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Place::Text => "character data",
            Place::Cdata => "CDATA section",
            Place::Comment => "comment",
            Place::ProcessingInstruction => "processing instruction",
        })
    }
}

/// Why a name is not a QName (or an NCName where no `:` is allowed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameProblem {
    #[error("a name, its prefix and its local part may not be empty")]
    Empty,
    #[error("the name is not valid UTF-8")]
    NotUtf8,
    #[error("a name may not start with {0}: start it with a letter or `_`")]
    Start(Described),
    #[error("{0} may not stand in a name: use letters, digits, `_`, `-`, `.` (and one `:` after a prefix)")]
    Char(Described),
    #[error("a name may hold only one `:`, between prefix and local name")]
    Colons,
    #[error("a processing instruction target may not hold `:`")]
    ColonInTarget,
    #[error("the target `xml` is reserved (XML 1.0 §2.6): an XML declaration may only stand at the very start, in lower case")]
    ReservedTarget,
}

/// Why characters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CharProblem {
    #[error("not valid UTF-8: send the message in UTF-8")]
    NotUtf8,
    #[error("{0} is not an XML character (XML 1.0 §2.2): remove it (a character reference to it is not allowed either)")]
    NotAChar(Described),
    #[error("unknown entity `&{0};`: only &lt; &gt; &amp; &apos; &quot; and character references are known (there is no DTD); write a literal `&` as `&amp;`")]
    UnknownEntity(String),
    #[error("`&` without a closing `;`: write a literal `&` as `&amp;`")]
    Unterminated,
    #[error("`&#{0};` is not a character reference: write `&#` decimal digits `;` or `&#x` hex digits `;`")]
    MalformedCharRef(String),
    #[error("`&#{0};` refers to no character (XML 1.0 §2.2): remove it")]
    NoChar(String),
    #[error("`<` must be written `&lt;` in an attribute value")]
    LessThan,
}

/// A character as quoted in a message: its code point, and itself when printable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described(pub char);

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.0;
        if c.is_control() || c.is_whitespace() || c == '\u{FEFF}' {
            write!(f, "U+{:04X}", u32::from(c))
        } else {
            write!(f, "`{c}` (U+{:04X})", u32::from(c))
        }
    }
}

/// A printable, bounded excerpt of input for error messages.
pub fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX_QUOTED {
        return text.into_owned();
    }
    let mut cut: String = text.chars().take(MAX_QUOTED).collect();
    cut.push('…');
    cut
}

/// XML 1.0 §2.3 [3] `S`: the white space bytes.
#[inline]
pub const fn is_white_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

// --- 1. Byte order mark and text around the root element -------------------------------

/// Length of the byte order mark `input` starts with: 3 for UTF-8, else 0. Whatever else
/// stands there is text before the root element ([`check_outside_root`]).
#[inline]
pub fn byte_order_mark_len(input: &[u8]) -> usize {
    if input.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    }
}

/// Text before or after the root element: only white space ([27] `Misc`). The answer
/// depends on no byte after the first one that is not white space, so a reader fed a
/// growing prefix may refuse as soon as that byte arrives.
pub fn check_outside_root(text: &[u8]) -> Result<(), XmlSyntaxError> {
    match text.iter().position(|b| !is_white_space(*b)) {
        None => Ok(()),
        // 0xFE and 0xFF are never UTF-8: most likely the byte order mark of UTF-16.
        Some(at) if matches!(text[at], 0xFE | 0xFF) => {
            Err(XmlSyntaxError::NotUtf8OutsideRoot { at, byte: text[at] })
        }
        Some(at) => Err(XmlSyntaxError::TextOutsideRoot { at }),
    }
}

/// How both readers word a markup error quick-xml found (a tag, comment, CDATA section
/// or processing instruction that is not closed or not what it starts as).
pub fn markup_error_reason(kind: quick_xml::errors::SyntaxError) -> String {
    use quick_xml::errors::SyntaxError;
    match kind {
        SyntaxError::InvalidBangMarkup | SyntaxError::UnclosedComment | SyntaxError::UnclosedCData => {
            "invalid markup after `<!`: expected a comment `<!-- -->` or a CDATA section `<![CDATA[ ]]>`".to_owned()
        }
        SyntaxError::UnclosedPIOrXmlDecl => {
            "processing instruction or XML declaration not closed by `?>`".to_owned()
        }
        other => other.to_string(),
    }
}

// --- 2. The XML declaration -----------------------------------------------------------

/// Checks an XML declaration, given what stands between `<?` and `?>` (starting with
/// `xml`). Where it stands (only at the very start) is the caller's check, worded
/// [`XmlSyntaxError::DeclarationNotAtStart`].
pub fn check_declaration(content: &[u8]) -> Result<(), XmlSyntaxError> {
    // One comparison instead of the walk, on the sniffer's hot path (the walk was
    // 4 % of a routing decision's instructions).
    if USUAL_DECLARATIONS.contains(&content) {
        return Ok(());
    }
    walk_declaration(content)
}

/// The declarations consumers and producers send, as they stand between `<?` and `?>`;
/// `walk_declaration` accepts each (tested).
const USUAL_DECLARATIONS: [&[u8]; 4] = [
    b"xml version=\"1.0\" encoding=\"UTF-8\"",
    b"xml version='1.0' encoding='UTF-8'",
    b"xml version=\"1.0\" encoding=\"utf-8\"",
    b"xml version=\"1.0\"",
];

/// [`check_declaration`], pseudo-attribute by pseudo-attribute.
fn walk_declaration(content: &[u8]) -> Result<(), XmlSyntaxError> {
    /// The pseudo-attributes in their order; only `version` is required.
    const NAMES: [&str; 3] = ["version", "encoding", "standalone"];
    let syntax = |detail: String| XmlSyntaxError::DeclarationSyntax { detail };
    let Some(mut rest) = content.strip_prefix(b"xml") else {
        return Err(syntax("it must start with `<?xml`".to_owned()));
    };
    let mut last = "xml";
    for (index, name) in NAMES.into_iter().enumerate() {
        let after = skip_space(rest);
        if !after.starts_with(name.as_bytes()) {
            if index > 0 {
                continue;
            }
            return Err(syntax(if after.is_empty() {
                "`version` is missing".to_owned()
            } else {
                format!("`version` must come first, found `{}`", quote(after))
            }));
        }
        if after.len() == rest.len() {
            return Err(syntax(format!("white space is needed before `{name}`")));
        }
        let after = skip_space(&after[name.len()..]);
        let after = after
            .strip_prefix(b"=")
            .ok_or_else(|| syntax(format!("`=` is needed after `{name}`")))?;
        let after = skip_space(after);
        let (&quote_char, after) = after
            .split_first()
            .filter(|(q, _)| matches!(q, b'"' | b'\''))
            .ok_or_else(|| syntax(format!("the value of `{name}` must be quoted")))?;
        // Values are a few bytes: a plain search beats `memchr`'s set-up.
        let end = after
            .iter()
            .position(|b| *b == quote_char)
            .ok_or_else(|| syntax(format!("the value of `{name}` is not closed by its quote")))?;
        let value = &after[..end];
        rest = &after[end + 1..];
        let valid = match index {
            0 => matches!(value, [b'1', b'.', digits @ ..]
                    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)),
            1 => is_utf8_encoding_name(value),
            _ => value == b"yes" || value == b"no",
        };
        if !valid {
            let found = quote(value);
            return Err(match index {
                0 => XmlSyntaxError::DeclarationVersion { found },
                1 => XmlSyntaxError::DeclarationEncoding { found },
                _ => XmlSyntaxError::DeclarationStandalone { found },
            });
        }
        last = name;
    }
    let extra = skip_space(rest);
    if extra.is_empty() {
        Ok(())
    } else {
        Err(syntax(format!(
            "unexpected `{}` after `{last}`: only version, encoding and standalone may follow `<?xml`, in this order",
            quote(extra)
        )))
    }
}

/// `bytes` after their leading white space.
#[inline]
fn skip_space(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|b| is_white_space(**b)).count();
    &bytes[n..]
}

/// The encoding names read as UTF-8 (module doc, rule 2): `UTF-8` and `UTF8`, in any case.
pub fn is_utf8_encoding_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"UTF-8") || name.eq_ignore_ascii_case(b"UTF8")
}

// --- 3. Names -------------------------------------------------------------------------

/// [4] `NameStartChar` for an ASCII byte, without `:` (Namespaces: `:` separates prefix
/// and local name).
#[inline]
pub const fn is_ascii_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// [4a] `NameChar` for an ASCII byte, without `:`.
#[inline]
pub const fn is_ascii_name_char(b: u8) -> bool {
    is_ascii_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

/// [4] `NameStartChar` without `:`.
pub fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// [4a] `NameChar` without `:`.
pub fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Namespaces in XML [4] `NCName`: a [5] `Name` without `:`.
#[inline]
pub fn check_ncname(name: &[u8]) -> Result<(), NameProblem> {
    // Names are almost always ASCII: one pass over the bytes.
    if let [first, rest @ ..] = name {
        if is_ascii_name_start(*first) && rest.iter().all(|b| is_ascii_name_char(*b)) {
            return Ok(());
        }
    }
    check_ncname_chars(name)
}

#[cold]
fn check_ncname_chars(name: &[u8]) -> Result<(), NameProblem> {
    let name = std::str::from_utf8(name).map_err(|_| NameProblem::NotUtf8)?;
    let mut chars = name.chars();
    let first = chars.next().ok_or(NameProblem::Empty)?;
    if first == ':' {
        return Err(NameProblem::Colons);
    }
    if !is_name_start_char(first) {
        return Err(NameProblem::Start(Described(first)));
    }
    match chars.find(|c| !is_name_char(*c)) {
        None => Ok(()),
        Some(':') => Err(NameProblem::Colons),
        Some(c) => Err(NameProblem::Char(Described(c))),
    }
}

/// Namespaces in XML [7] `QName`: `NCName` or `NCName ':' NCName`.
#[inline]
pub fn check_qname(name: &[u8]) -> Result<(), NameProblem> {
    match memchr::memchr(b':', name) {
        None => check_ncname(name),
        Some(colon) => {
            check_ncname(&name[..colon])?;
            check_ncname(&name[colon + 1..])
        }
    }
}

/// An element name (a QName), worded for both readers.
pub fn check_element_name(name: &[u8]) -> Result<(), XmlSyntaxError> {
    check_qname(name).map_err(|problem| XmlSyntaxError::ElementName {
        name: quote(name),
        problem,
    })
}

/// An attribute name (a QName) of the element `element`, worded for both readers.
pub fn check_attribute_name(element: &[u8], name: &[u8]) -> Result<(), XmlSyntaxError> {
    check_qname(name).map_err(|problem| XmlSyntaxError::AttributeName {
        element: quote(element),
        name: quote(name),
        problem,
    })
}

// --- 4. Characters --------------------------------------------------------------------

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// Whether every byte is an ASCII `Char`: `0x20..=0x7F`, tab, LF or CR. Eight bytes at a
/// time; the common case for attribute values and text.
#[inline]
pub fn is_ascii_char_data(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        if w & HIGH != 0 {
            return false;
        }
        // High bit set per byte below 0x20 (exact: no byte of `w` is above 0x7F).
        let control = !w.wrapping_add(ONES * (0x80 - 0x20)) & HIGH;
        if control != 0 && !chunk.iter().all(|b| is_ascii_char(*b)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|b| is_ascii_char(*b))
}

#[inline]
const fn is_ascii_char(b: u8) -> bool {
    (b >= 0x20 && b < 0x80) || matches!(b, b'\t' | b'\n' | b'\r')
}

/// [2] `Char` for one character.
#[inline]
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that is not a [2] `Char`, with its byte offset.
#[inline]
pub fn first_non_char(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    if is_ascii_char_data(bytes) {
        return None;
    }
    // In UTF-8 the characters `Char` leaves out are the C0 controls but tab, LF and CR
    // (one byte each) and U+FFFE, U+FFFF (`EF BF BE`, `EF BF BF`); a `str` holds no
    // surrogates. So only text with one of these bytes needs decoding.
    let suspect = bytes.iter().any(|b| *b < 0x20 && !is_ascii_char(*b))
        || memchr::memchr(0xEF, bytes).is_some();
    if !suspect {
        return None;
    }
    text.char_indices().find(|(_, c)| !is_xml_char(*c))
}

/// Character data as written between markup: UTF-8, only `Char`s and no `]]>` (XML 1.0
/// §2.4 [14] `CharData`). References are left as written; see [`expand_references`].
#[inline]
pub fn check_char_data(raw: &[u8]) -> Result<&str, XmlSyntaxError> {
    let text = utf8(raw, Place::Text)?;
    check_chars(text, Place::Text)?;
    if let Some(at) = find_cdata_end(raw) {
        return Err(XmlSyntaxError::CdataEndInText { at });
    }
    Ok(text)
}

/// Offset of the first `]]>`. Text rarely holds a `]`, and is mostly short (an address,
/// a header field): one pass of the standard library's byte search, no searcher to
/// build as `memmem` would.
#[inline]
fn find_cdata_end(raw: &[u8]) -> Option<usize> {
    if !raw.contains(&b']') {
        return None;
    }
    let mut from = 0;
    while let Some(i) = raw[from..].iter().position(|b| *b == b']') {
        let at = from + i;
        if raw[at..].starts_with(b"]]>") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `text` with its references expanded (XML 1.0 §4.1: [67] `Reference`), each to a
/// `Char` (WFC: Legal Character). Only the predefined entities are known (§4.6): there
/// is no DTD.
#[inline]
pub fn expand_references(text: &str, place: Place) -> Result<Cow<'_, str>, XmlSyntaxError> {
    expand(text).map_err(|(at, problem)| XmlSyntaxError::Characters { place, at, problem })
}

/// [`expand_references`]; on refusal, the offset of the reference's `&`.
fn expand(text: &str) -> Result<Cow<'_, str>, (usize, CharProblem)> {
    let bytes = text.as_bytes();
    let Some(mut at) = memchr::memchr(b'&', bytes) else {
        return Ok(Cow::Borrowed(text));
    };
    let mut expanded = String::with_capacity(text.len());
    let mut copied = 0;
    loop {
        expanded.push_str(&text[copied..at]);
        // A reference is a name or number up to `;`: a `&` or white space first means
        // the `&` was meant literally.
        let name_len = bytes[at + 1..]
            .iter()
            .position(|b| matches!(b, b';' | b'&') || is_white_space(*b))
            .filter(|len| bytes[at + 1 + len] == b';')
            .ok_or((at, CharProblem::Unterminated))?;
        let name = &text[at + 1..at + 1 + name_len];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => match name.strip_prefix('#') {
                Some(number) => char_reference(number).map_err(|problem| (at, problem))?,
                None => {
                    return Err((at, CharProblem::UnknownEntity(quote(name.as_bytes()))));
                }
            },
        };
        expanded.push(c);
        copied = at + 1 + name_len + 1;
        match memchr::memchr(b'&', &bytes[copied..]) {
            Some(next) => at = copied + next,
            None => break,
        }
    }
    expanded.push_str(&text[copied..]);
    Ok(Cow::Owned(expanded))
}

/// The character of a [66] `CharRef` (`number` is what stands between `&#` and `;`).
fn char_reference(number: &str) -> Result<char, CharProblem> {
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_hexdigit())
        && (radix == 16 || digits.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(CharProblem::MalformedCharRef(quote(number.as_bytes())));
    }
    match u32::from_str_radix(digits, radix)
        .ok()
        .and_then(char::from_u32)
    {
        Some(c) if is_xml_char(c) => Ok(c),
        Some(c) => Err(CharProblem::NotAChar(Described(c))),
        None => Err(CharProblem::NoChar(quote(number.as_bytes()))),
    }
}

/// An attribute value as written between its quotes ([10] `AttValue`): no `<`, UTF-8,
/// only `Char`s, references known; the value with references expanded.
pub fn attribute_value<'v>(
    element: &[u8],
    name: &[u8],
    raw: &'v [u8],
) -> Result<Cow<'v, str>, XmlSyntaxError> {
    attribute_value_problem(raw).map_err(|problem| XmlSyntaxError::AttributeValue {
        element: quote(element),
        name: quote(name),
        problem,
    })
}

/// [`attribute_value`] without the words: for the sniffer's start tag scan, which only
/// needs to know whether the value is valid.
#[inline]
pub fn attribute_value_problem(raw: &[u8]) -> Result<Cow<'_, str>, CharProblem> {
    if memchr::memchr(b'<', raw).is_some() {
        return Err(CharProblem::LessThan);
    }
    let text = std::str::from_utf8(raw).map_err(|_| CharProblem::NotUtf8)?;
    if let Some((_, c)) = first_non_char(text) {
        return Err(CharProblem::NotAChar(Described(c)));
    }
    expand(text).map_err(|(_, problem)| problem)
}

/// A CDATA section's content: UTF-8 and only `Char`s ([20] `CData`).
pub fn check_cdata(content: &[u8]) -> Result<&str, XmlSyntaxError> {
    let text = utf8(content, Place::Cdata)?;
    check_chars(text, Place::Cdata)?;
    Ok(text)
}

/// A comment's content, between `<!--` and `-->` ([15] `Comment`).
pub fn check_comment(content: &[u8]) -> Result<(), XmlSyntaxError> {
    let text = utf8(content, Place::Comment)?;
    if text.ends_with('-') || memchr::memmem::find(content, b"--").is_some() {
        return Err(XmlSyntaxError::Comment);
    }
    check_chars(text, Place::Comment)
}

/// A processing instruction, given what stands between `<?` and `?>` ([16] `PI`): the
/// target (up to the first white space) an NCName other than `xml`, the rest `Char`s.
pub fn check_processing_instruction(content: &[u8]) -> Result<(), XmlSyntaxError> {
    let target_len = content
        .iter()
        .position(|b| is_white_space(*b))
        .unwrap_or(content.len());
    let target = &content[..target_len];
    let target_problem = |problem| XmlSyntaxError::ProcessingInstructionTarget {
        target: quote(target),
        problem,
    };
    match check_ncname(target) {
        Ok(()) if target.eq_ignore_ascii_case(b"xml") => {
            return Err(target_problem(NameProblem::ReservedTarget))
        }
        Ok(()) => {}
        Err(NameProblem::Colons) => return Err(target_problem(NameProblem::ColonInTarget)),
        Err(problem) => return Err(target_problem(problem)),
    }
    let rest = &content[target_len..];
    let text = utf8(rest, Place::ProcessingInstruction).map_err(|e| shift(e, target_len))?;
    check_chars(text, Place::ProcessingInstruction).map_err(|e| shift(e, target_len))
}

fn shift(e: XmlSyntaxError, by: usize) -> XmlSyntaxError {
    match e {
        XmlSyntaxError::Characters { place, at, problem } => XmlSyntaxError::Characters {
            place,
            at: at + by,
            problem,
        },
        other => other,
    }
}

fn utf8(bytes: &[u8], place: Place) -> Result<&str, XmlSyntaxError> {
    std::str::from_utf8(bytes).map_err(|e| XmlSyntaxError::Characters {
        place,
        at: e.valid_up_to(),
        problem: CharProblem::NotUtf8,
    })
}

fn check_chars(text: &str, place: Place) -> Result<(), XmlSyntaxError> {
    match first_non_char(text) {
        None => Ok(()),
        Some((at, c)) => Err(XmlSyntaxError::Characters {
            place,
            at,
            problem: CharProblem::NotAChar(Described(c)),
        }),
    }
}

#[cfg(test)]
mod tests;
