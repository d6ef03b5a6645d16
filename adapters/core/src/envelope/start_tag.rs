//! Start tags on the sniffer's hot path: the element name, the attributes and the
//! namespace declarations, checked and resolved in one pass over the tag.
//!
//! Hand-written on purpose (CONVENTIONS.md: a hot path a library would make slower).
//! quick-xml's `NsReader` walks every attribute of every start tag once to bind
//! namespaces and its checked attribute iterator walks them again, with owned copies
//! of every namespace URI; together they were about half of the time to a routing
//! decision. Here one pass checks exactly what the sniffer checked before with
//! quick-xml (attribute syntax as quick-xml's iterator with duplicate checks, names,
//! values, the reserved `xml`/`xmlns` bindings of quick-xml's `NamespaceResolver`) and
//! keeps the namespace declarations as slices of the input.
//!
//! [`scan`] only says "valid" or "not valid": for an invalid tag the caller derives
//! the error with quick-xml's own iterators in the order the sniffer always used
//! (`start_tag_error` in the parent module), so the answer, its position and its
//! wording stay what they were.
use quick_xml::name::NamespaceError;

use crate::xml_syntax;

/// `xml` is bound to this namespace, and only `xml` may be (Namespaces in XML 1.0 §3).
pub(super) const XML_NS: &[u8] = b"http://www.w3.org/XML/1998/namespace";
/// No prefix may be bound to this namespace (Namespaces in XML 1.0 §3).
const XMLNS_NS: &[u8] = b"http://www.w3.org/2000/xmlns/";

/// A namespace declaration in scope, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Binding<'i> {
    /// Empty for the default namespace (`xmlns="..."`).
    pub prefix: &'i [u8],
    /// The attribute value as written (references not expanded); empty undeclares.
    pub uri: &'i [u8],
    /// Whether `uri` holds a `&` (an entity or character reference).
    pub has_reference: bool,
    /// Depth of the element that declares it.
    pub level: usize,
}

impl Binding<'_> {
    const UNUSED: Binding<'static> = Binding {
        prefix: &[],
        uri: &[],
        has_reference: false,
        level: 0,
    };
}

/// How many declarations [`Bindings`] holds before it moves them to the heap; the
/// reference request has six in scope at the decision.
const INLINE_BINDINGS: usize = 8;

/// The namespace declarations of the open elements, innermost last. Kept in a fixed
/// array, so a routing decision needs no allocation for them; more than
/// [`INLINE_BINDINGS`] at once move to a `Vec`.
#[derive(Debug)]
pub(super) struct Bindings<'i> {
    inline: [Binding<'i>; INLINE_BINDINGS],
    len: usize,
    /// Every declaration once `inline` overflowed (`len` is then unused).
    heap: Option<Vec<Binding<'i>>>,
}

impl<'i> Bindings<'i> {
    pub(super) fn new() -> Self {
        Self {
            inline: [Binding::UNUSED; INLINE_BINDINGS],
            len: 0,
            heap: None,
        }
    }

    pub(super) fn as_slice(&self) -> &[Binding<'i>] {
        match &self.heap {
            None => &self.inline[..self.len],
            Some(heap) => heap,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(super) fn push(&mut self, binding: Binding<'i>) {
        match &mut self.heap {
            None if self.len < INLINE_BINDINGS => {
                self.inline[self.len] = binding;
                self.len += 1;
            }
            None => {
                let mut heap = Vec::with_capacity(2 * INLINE_BINDINGS);
                heap.extend_from_slice(&self.inline);
                heap.push(binding);
                self.heap = Some(heap);
            }
            Some(heap) => heap.push(binding),
        }
    }

    pub(super) fn truncate(&mut self, len: usize) {
        match &mut self.heap {
            None => self.len = self.len.min(len),
            Some(heap) => heap.truncate(len),
        }
    }

    /// The innermost declaration of `prefix` (empty: the default namespace).
    pub(super) fn find(&self, prefix: &[u8]) -> Option<&Binding<'i>> {
        self.as_slice()
            .iter()
            .rev()
            .find(|b| same(b.prefix, prefix))
    }
}

/// What an attribute name declares, as quick-xml's `QName::as_namespace_binding`.
enum Declaration<'a> {
    Default,
    Prefix(&'a [u8]),
}

fn declaration(key: &[u8]) -> Option<Declaration<'_>> {
    match key.strip_prefix(b"xmlns")? {
        [] => Some(Declaration::Default),
        [b':', prefix @ ..] => Some(Declaration::Prefix(prefix)),
        _ => None,
    }
}

/// The error quick-xml's `NamespaceResolver::push` raises for a declaration, if any.
/// Values are compared as written, as quick-xml does.
pub(super) fn binding_error(key: &[u8], value: &[u8]) -> Option<NamespaceError> {
    match declaration(key)? {
        Declaration::Default => None,
        Declaration::Prefix(b"xml") if value != XML_NS => {
            Some(NamespaceError::InvalidXmlPrefixBind(value.to_vec()))
        }
        Declaration::Prefix(b"xml") => None,
        Declaration::Prefix(b"xmlns") => {
            Some(NamespaceError::InvalidXmlnsPrefixBind(value.to_vec()))
        }
        Declaration::Prefix(prefix) if value == XML_NS => {
            Some(NamespaceError::InvalidPrefixForXml(prefix.to_vec()))
        }
        Declaration::Prefix(prefix) if value == XMLNS_NS => {
            Some(NamespaceError::InvalidPrefixForXmlns(prefix.to_vec()))
        }
        Declaration::Prefix(_) => None,
    }
}

/// The white space quick-xml splits names and attributes on.
#[inline]
const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The length of the element name at the start of a tag's content: up to the first
/// white space, as quick-xml's `name_len`.
#[inline]
pub(super) fn name_len(tag: &[u8]) -> usize {
    tag.iter().position(|b| is_space(*b)).unwrap_or(tag.len())
}

/// Byte classes for the one-pass scan: ASCII name characters (Namespaces in XML 1.0
/// NCName, restricted to ASCII, as `xml_syntax` defines them; anything else takes the
/// exact `xml_syntax::check_qname` path) and white space.
const NAME_START: u8 = 1;
const NAME: u8 = 2;
const SPACE: u8 = 4;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut class = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if xml_syntax::is_ascii_name_start(c) {
            class[b] |= NAME_START;
        }
        if xml_syntax::is_ascii_name_char(c) {
            class[b] |= NAME;
        }
        if is_space(c) {
            class[b] |= SPACE;
        }
        b += 1;
    }
    class
}

#[inline]
fn has(b: u8, class: u8) -> bool {
    CLASS[usize::from(b)] & class != 0
}

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// Per byte of `x` (every byte below 0x80): high bit set iff the byte is `>= lo`.
/// Exact per byte: no byte sum exceeds 0xFF, so nothing carries into the next byte.
#[inline(always)]
const fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * (0x80 - lo as u64)) & HIGH
}

/// Per byte of `x` (every byte below 0x80): high bit set iff the byte is not `c`.
#[inline(always)]
const fn differs(x: u64, c: u8) -> u64 {
    at_least(x ^ (ONES * c as u64), 1)
}

/// Per byte of `w`: high bit set iff the byte is an ASCII NCName character
/// (`[A-Za-z0-9_.-]`, the [`NAME`] class), eight bytes at a time.
#[inline(always)]
const fn name_bytes(w: u64) -> u64 {
    let x = w & !HIGH;
    // Letters: with bit 5 set, `A-Z` and `a-z` are both 0x61..=0x7A, and nothing else is.
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, 0x61) & !at_least(lower, 0x7B);
    // `-` `.` `/` `0-9` are 0x2D..=0x39; `/` is not a name character.
    let digit_like = at_least(x, 0x2D) & !at_least(x, 0x3A) & differs(x, b'/');
    let underscore = HIGH & !differs(x, b'_');
    (letter | digit_like | underscore) & !w
}

/// End of the run of [`NAME`] bytes from `i`, eight bytes at a time.
#[inline]
fn name_run_end(tag: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = tag.get(i..i + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let other = !name_bytes(u64::from_le_bytes(word)) & HIGH;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < tag.len() && has(tag[i], NAME) {
        i += 1;
    }
    i
}

/// End of an ASCII NCName starting at `i`, or `None` if the bytes there do not start one.
#[inline]
fn ascii_ncname_end(tag: &[u8], i: usize) -> Option<usize> {
    if !tag.get(i).is_some_and(|b| has(*b, NAME_START)) {
        return None;
    }
    Some(name_run_end(tag, i + 1))
}

/// End of an ASCII QName starting at `i` (`NCName (':' NCName)?`) and the index of its
/// `:`, or `None` if the bytes there do not start one.
#[inline]
fn ascii_qname_end(tag: &[u8], i: usize) -> Option<(usize, Option<usize>)> {
    let end = ascii_ncname_end(tag, i)?;
    if tag.get(end) != Some(&b':') {
        return Some((end, None));
    }
    Some((ascii_ncname_end(tag, end + 1)?, Some(end)))
}

/// Byte-string equality for the short names compared here (prefixes, attribute
/// names): the names that differ (`ns2`, `ns3`, ...) mostly differ in their last byte,
/// which is compared before the call to `memcmp`.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.last() == b.last() && a == b
}

/// White space from `i` on is skipped: the index of the next other byte (or `n`).
#[inline]
fn skip_space(tag: &[u8], mut i: usize) -> usize {
    while i < tag.len() && has(tag[i], SPACE) {
        i += 1;
    }
    i
}

/// Keys seen so far in one start tag, for the duplicate check. Start tags in RIV-TA
/// messages carry a handful of attributes; more than fit inline spill to the heap.
struct SeenKeys<'t> {
    inline: [&'t [u8]; 12],
    len: usize,
    spill: Vec<&'t [u8]>,
}

impl<'t> SeenKeys<'t> {
    fn new() -> Self {
        Self {
            inline: [&[]; 12],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Records `key`; false if an equal key was seen before.
    fn insert(&mut self, key: &'t [u8]) -> bool {
        let equal = |k: &&[u8]| same(k, key);
        if self.inline[..self.len].iter().any(equal) || self.spill.iter().any(equal) {
            return false;
        }
        if self.len < self.inline.len() {
            self.inline[self.len] = key;
            self.len += 1;
        } else {
            self.spill.push(key);
        }
        true
    }
}

/// Checks an attribute value as the record reader does (`xml_syntax`: no literal `<`,
/// UTF-8, only `Char`s, only the predefined entity and character references).
fn value_is_valid(value: &[u8]) -> bool {
    xml_syntax::attribute_value_problem(value).is_ok()
}

/// Length of the attribute value at the start of `rest`, up to its closing `quote`,
/// and whether it is plain: ASCII `Char`s without `<` and `&`, so valid as it stands.
/// `None` if the quote is not closed. Values (namespace URIs) are most of a SOAP
/// header's bytes: one `memchr3` finds the quote unless a `<` or `&` comes first.
#[inline]
fn value_len(rest: &[u8], quote: u8) -> Option<(usize, bool)> {
    let i = memchr::memchr3(quote, b'<', b'&', rest)?;
    if rest[i] == quote {
        return Some((i, xml_syntax::is_ascii_char_data(&rest[..i])));
    }
    memchr::memchr(quote, &rest[i..]).map(|len| (i + len, false))
}

/// Where a start tag ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagEnd {
    /// `tag` is exactly the content between `<` and `>` (without the `/` of an
    /// empty-element tag), as quick-xml delimited it.
    Known,
    /// `tag` is the input after `<`: the tag ends at the first `>` outside an
    /// attribute value, as quick-xml's element parser ends it.
    Find,
}

/// A checked start tag.
#[derive(Debug)]
pub(super) struct StartTag {
    pub name_len: usize,
    /// Index of the `:` between prefix and local name.
    pub colon: Option<usize>,
    /// With [`TagEnd::Find`]: index of the closing `>`, and whether it is `/>`.
    pub close: usize,
    pub is_empty: bool,
}

/// Checks the start tag in `tag` and pushes its namespace declarations with `level`.
/// `Ok` only when the sniffer's quick-xml based checks accept the tag: a valid QName
/// without the `xmlns` prefix, attributes as quick-xml's checked iterator reads them
/// without duplicates, each name a QName, each value valid, and no declaration
/// `NamespaceResolver::push` refuses. With [`TagEnd::Find`] it is stricter still
/// (anything but `key="value"` pairs, white space, `>` or `/>` after the name is
/// refused, as is a tag cut by the end of the input), so that the `>` it finds is the
/// one quick-xml finds. On `Err` the declarations pushed so far are left for the caller
/// to drop with the tag.
pub(super) fn scan<'i>(
    tag: &'i [u8],
    end: TagEnd,
    level: usize,
    bindings: &mut Bindings<'i>,
) -> Result<StartTag, ()> {
    let n = tag.len();
    let find = end == TagEnd::Find;
    // The name runs to the first white space (quick-xml's `name_len`).
    let (name_len, colon) = match ascii_qname_end(tag, 0) {
        Some((e, colon)) if e == n && !find => (e, colon),
        Some((e, colon))
            if e < n && (has(tag[e], SPACE) || (find && matches!(tag[e], b'>' | b'/'))) =>
        {
            (e, colon)
        }
        _ if find => return Err(()),
        _ => {
            let e = name_len(tag);
            xml_syntax::check_qname(&tag[..e]).map_err(drop)?;
            (e, tag[..e].iter().position(|b| *b == b':'))
        }
    };
    if colon == Some(5) && tag.starts_with(b"xmlns") {
        return Err(());
    }
    // Declarations are checked for duplicates among this tag's bindings; other keys
    // (rare before the decision) in `seen`.
    let scope = bindings.len();
    let mut seen: Option<SeenKeys<'i>> = None;
    let mut i = name_len;
    loop {
        let content_end = i;
        i = skip_space(tag, i);
        if find {
            match tag.get(i) {
                None => return Err(()),
                Some(b'>') => {
                    return Ok(StartTag {
                        name_len,
                        colon,
                        close: i,
                        is_empty: false,
                    })
                }
                // Only `/>` closes; quick-xml keeps the white space before the `/`.
                Some(b'/') if tag.get(i + 1) == Some(&b'>') => {
                    return Ok(StartTag {
                        name_len,
                        colon,
                        close: i + 1,
                        is_empty: true,
                    })
                }
                _ if i == content_end => return Err(()),
                _ => {}
            }
        } else if i == n {
            return Ok(StartTag {
                name_len,
                colon,
                close: n,
                is_empty: false,
            });
        }
        // Key: up to `=` or white space, as quick-xml reads it. Almost every attribute
        // before the decision is a namespace declaration: `xmlns:` is not scanned as a
        // name (an NCName after it makes a QName).
        let key_start = i;
        let ascii_end = if tag[i..].starts_with(b"xmlns:") {
            ascii_ncname_end(tag, i + 6)
        } else {
            ascii_qname_end(tag, i).map(|(e, _)| e)
        };
        i = match ascii_end {
            Some(e) if e < n && (tag[e] == b'=' || has(tag[e], SPACE)) => e,
            _ if find => return Err(()),
            _ => {
                let mut e = i + 1;
                while e < n && tag[e] != b'=' && !has(tag[e], SPACE) {
                    e += 1;
                }
                xml_syntax::check_qname(&tag[key_start..e]).map_err(drop)?;
                e
            }
        };
        let key = &tag[key_start..i];
        if tag.get(i) != Some(&b'=') {
            i = skip_space(tag, i);
            if tag.get(i) != Some(&b'=') {
                return Err(());
            }
        }
        i += 1;
        let quote = match tag.get(i) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => {
                i = skip_space(tag, i);
                match tag.get(i) {
                    Some(q @ (b'"' | b'\'')) => *q,
                    _ => return Err(()),
                }
            }
        };
        let value_start = i + 1;
        let (value_len, plain) = value_len(&tag[value_start..], quote).ok_or(())?;
        let value = &tag[value_start..value_start + value_len];
        i = value_start + value_len + 1;
        let declared = declaration(key);
        let fresh = match declared {
            Some(Declaration::Default) => !bindings.as_slice()[scope..]
                .iter()
                .any(|b| b.prefix.is_empty()),
            Some(Declaration::Prefix(p)) if p != b"xml" => !bindings.as_slice()[scope..]
                .iter()
                .any(|b| same(b.prefix, p)),
            _ => seen.get_or_insert_with(SeenKeys::new).insert(key),
        };
        if !fresh || (!plain && !value_is_valid(value)) {
            return Err(());
        }
        // The declarations `NamespaceResolver::push` refuses (see `binding_error`).
        let prefix: &'i [u8] = match declared {
            None => continue,
            Some(Declaration::Default) => &[],
            // `xml` keeps its fixed binding; quick-xml records nothing for it.
            Some(Declaration::Prefix(b"xml")) if value == XML_NS => continue,
            Some(Declaration::Prefix(b"xml" | b"xmlns")) => return Err(()),
            Some(Declaration::Prefix(_)) if value == XML_NS || value == XMLNS_NS => return Err(()),
            Some(Declaration::Prefix(prefix)) => prefix,
        };
        bindings.push(Binding {
            prefix,
            uri: value,
            has_reference: !plain && value.contains(&b'&'),
            level,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::name::PrefixDeclaration;
    use quick_xml::NsReader;

    type Declarations = Vec<(Vec<u8>, Vec<u8>)>;

    /// What the sniffer accepted before `scan` existed, for the start tag with content
    /// `tag`: quick-xml's `NsReader` binds the namespaces (or refuses a reserved
    /// binding), then the name and attribute checks. `Some(declarations in scope)`
    /// when accepted; `None` when refused; panics if quick-xml would not even read
    /// `tag` as one start tag (the generator avoids that).
    fn quick_xml_answer(tag: &str) -> Option<Declarations> {
        let document = format!("<{tag}>");
        let mut reader = NsReader::from_str(&document);
        match reader.read_resolved_event() {
            Ok((_, Event::Start(e))) => assert_eq!(e.as_ref(), tag.as_bytes()),
            Err(quick_xml::Error::Namespace(_)) => return None,
            other => panic!("{tag:?} is not one start tag: {other:?}"),
        }
        let start = BytesStart::from_content(tag, name_len(tag.as_bytes()));
        let name = start.name();
        if crate::xml_syntax::check_qname(name.as_ref()).is_err()
            || name.prefix().is_some_and(|p| p.as_ref() == b"xmlns")
            || super::super::check_attributes(&start, 0).is_err()
        {
            return None;
        }
        let mut declared: Declarations = reader
            .prefixes()
            .map(|(prefix, uri)| {
                let prefix = match prefix {
                    PrefixDeclaration::Default => Vec::new(),
                    PrefixDeclaration::Named(p) => p.to_vec(),
                };
                (prefix, uri.as_ref().to_vec())
            })
            .collect();
        // `prefixes` leaves out undeclarations (`xmlns:p=""`); `scan` keeps them.
        for (key, value) in start.attributes().flatten().map(|a| (a.key, a.value)) {
            if value.is_empty() {
                if let Some(declaration) = declaration(key.as_ref()) {
                    let prefix = match declaration {
                        Declaration::Default => Vec::new(),
                        Declaration::Prefix(p) => p.to_vec(),
                    };
                    declared.push((prefix, Vec::new()));
                }
            }
        }
        declared.sort();
        Some(declared)
    }

    fn scanned(tag: &[u8], end: TagEnd) -> Result<(StartTag, Declarations), ()> {
        let mut bindings = Bindings::new();
        let checked = scan(tag, end, 1, &mut bindings)?;
        let mut declared: Declarations = bindings
            .as_slice()
            .iter()
            .map(|b| (b.prefix.to_vec(), b.uri.to_vec()))
            .collect();
        declared.sort();
        Ok((checked, declared))
    }

    /// `scan` agrees with quick-xml on `tag` (the content of a start tag) and, searching
    /// the end itself, on `tag` followed by `>`.
    fn agrees(tag: &str) {
        // A trailing `/` makes it an empty-element tag: quick-xml hands on the content
        // without it, so only the search for the end sees one.
        if !tag.ends_with('/') {
            let expected = quick_xml_answer(tag);
            let known = scanned(tag.as_bytes(), TagEnd::Known).ok().map(|(_, d)| d);
            assert_eq!(known, expected, "{tag:?}");
        }
        // Searching the end itself, `scan` may only decide what quick-xml decides.
        let input = format!("{tag}>rest");
        if let Ok((checked, declared)) = scanned(input.as_bytes(), TagEnd::Find) {
            assert_eq!(checked.close, tag.len(), "{tag:?}");
            let content = match checked.is_empty {
                true => &tag[..tag.len() - 1],
                false => tag,
            };
            assert_eq!(Some(declared), quick_xml_answer(content), "{tag:?}");
        }
    }

    #[test]
    fn start_tags_are_judged_as_quick_xml_and_the_old_checks_judge_them() {
        for tag in [
            "a",
            "a ",
            "a/",
            "a /",
            "a b=\"1\"",
            "a b='1' c=\"2\"",
            "a b = \"1\"\n\tc\r\n=\n'x y'",
            "a b=\"1\"c=\"2\"",
            "a b",
            "a b ",
            "a b c=\"1\"",
            "a b=",
            "a b=1",
            "a =\"1\"",
            "a b==\"1\"",
            "a b=\"1\" b=\"2\"",
            "a b=\"'\" c='\"'",
            "a b=\"&amp;&#58;\"",
            "a b=\"&bogus;\"",
            "a b=\"<\"",
            "a:b xmlns:a=\"urn:a\" xmlns=\"\"",
            "a xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
            "a xmlns:xml=\"urn:x\"",
            "a xmlns:xmlns=\"urn:x\"",
            "a xmlns:p=\"http://www.w3.org/2000/xmlns/\"",
            "xmlns:a xmlns:a=\"urn:a\"",
            "a:b:c",
            "é:ö å='1'",
            "1a",
            "",
        ] {
            agrees(tag);
        }
    }

    /// Pieces start tags are made of, valid and not.
    fn tag_piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "x",
            "é",
            "1",
            "_",
            "-",
            ".",
            ":",
            " ",
            "\n",
            "\t",
            "=",
            "\"",
            "'",
            "&",
            "&amp;",
            "&#58;",
            "&#0;",
            "&x;",
            ";",
            "<",
            "/",
            "xml",
            "xmlns",
            "xmlns:",
            "ns5",
            "\"urn:a\"",
            "'urn:b'",
            "\"\"",
            "\"http://www.w3.org/XML/1998/namespace\"",
            "\"http://www.w3.org/2000/xmlns/\"",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            max_global_rejects: 1 << 16,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_start_tag_is_judged_as_quick_xml_judges_it(
            pieces in prop::collection::vec(tag_piece(), 0..16)
        ) {
            let tag: String = pieces.concat();
            // Only what quick-xml reads as one start tag: quotes balanced, no `>`.
            let quotes_balanced = {
                let mut open = None;
                for c in tag.chars() {
                    match (open, c) {
                        (None, '"' | '\'') => open = Some(c),
                        (Some(q), c) if q == c => open = None,
                        _ => {}
                    }
                }
                open.is_none()
            };
            prop_assume!(quotes_balanced && !tag.starts_with(['/', '!', '?']));
            agrees(&tag);
        }
    }
}
