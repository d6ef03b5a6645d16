//! The sniffer's fast path: the markup a routable SOAP message consists of, read by hand
//! (see [`Sniffer::run_fast`]). Whatever it does not decide is read again with quick-xml
//! by `Sniffer::run`; debug builds also hold each of its decisions to `run`'s answer.

use super::{SniffOutcome, Sniffer, Stop, TagEnd};
use crate::xml_syntax::{self, is_white_space as is_xml_whitespace, UTF8_BOM};

impl<'i> Sniffer<'i> {
    /// The fast path: reads the markup a routable SOAP message consists of by hand,
    /// and hands every routing fact to the same handlers as [`Self::run`] does.
    ///
    /// Hand-written on purpose (CONVENTIONS.md: a hot path a library would make
    /// slower): quick-xml's reader alone costs more than the 2 µs budget for a routing
    /// decision on the reference request. It knows only text, start and end tags,
    /// comments and an XML declaration at the very start, and only a decision:
    /// anything else (a BOM, CDATA, a processing instruction, a DTD, markup cut by the
    /// end of the window, any error, running out of bytes) returns `None` and the
    /// caller reads the message again with [`Self::run`], which answers as before.
    /// Markup is delimited exactly as quick-xml delimits it (quote-aware `>` in start
    /// tags, the first `-->` after at least `<!---->`), so when both decide they
    /// decide the same (checked in debug builds, see [`sniff`](super::sniff)).
    pub(super) fn run_fast(mut self) -> Option<SniffOutcome> {
        let window = self.window;
        if window.starts_with(&UTF8_BOM[..1]) {
            return None;
        }
        // Names of the open elements, for the end tag check (`check_end_names`); a
        // deeper message than fits (none of the reference messages) takes the full path.
        let mut open: [&'i [u8]; 16] = [&[]; 16];
        let mut open_len = 0usize;
        let mut at = 0;
        loop {
            let rest = &window[at..];
            let first_event = !self.seen_event;
            self.seen_event = true;
            if rest.first() != Some(&b'<') {
                // Text runs to the next `<`; text cut by the end of the window is left
                // to the full path. Mostly it is a few bytes of layout white space, which
                // is valid wherever it stands and only kept inside the address.
                let blank = rest.iter().take_while(|b| is_xml_whitespace(**b)).count();
                let len = match rest.get(blank) {
                    Some(b'<') => blank,
                    _ => memchr::memchr(b'<', rest)?,
                };
                if len > blank || self.address_in_progress.is_some() {
                    self.text(&rest[..len], at, false).ok()?;
                }
                at += len;
                continue;
            }
            match rest.get(1)? {
                b'/' => {
                    let close = memchr::memchr(b'>', rest)?;
                    // XML 1.0 §3.1 ETag: white space may follow the name (quick-xml trims
                    // it unless there is nothing else).
                    let content = &rest[2..close];
                    let name = match content.iter().rposition(|b| !is_xml_whitespace(*b)) {
                        Some(last) => &content[..=last],
                        None => content,
                    };
                    open_len = open_len.checked_sub(1)?;
                    if open[open_len] != name {
                        return None;
                    }
                    at += close + 1;
                    self.end_element(at).ok()?;
                }
                b'!' => {
                    if !rest.starts_with(b"<!--") {
                        return None;
                    }
                    let len = comment_len(rest)?;
                    xml_syntax::check_comment(&rest[4..len - 3]).ok()?;
                    at += len;
                }
                b'?' => {
                    // Only the XML declaration, and only as the first thing.
                    if !first_event || !rest.starts_with(b"<?xml") {
                        return None;
                    }
                    // It ends at the first `?>`, as quick-xml ends it (`<?xml` holds none).
                    let mut close = 4;
                    loop {
                        close += 1 + memchr::memchr(b'>', rest.get(close + 1..)?)?;
                        if rest[close - 1] == b'?' {
                            break;
                        }
                    }
                    let content = &rest[2..close - 1];
                    if content.len() > 3 && !is_xml_whitespace(content[3]) {
                        return None;
                    }
                    xml_syntax::check_declaration(content).ok()?;
                    at += close + 1;
                }
                _ => match self.start_element(&rest[1..], at, TagEnd::Find) {
                    Ok(tag) => {
                        if !tag.is_empty {
                            *open.get_mut(open_len)? = &rest[1..1 + tag.name_len];
                            open_len += 1;
                        }
                        at += 1 + tag.close + 1;
                    }
                    Err(Stop::Decided(Ok(outcome))) => return Some(outcome),
                    Err(_) => return None,
                },
            }
        }
    }
}

/// Length of the comment `rest` starts with (`<!--` known), or `None` if it is not
/// closed in the window. Ends where quick-xml ends a comment: the first `-->` whose `>`
/// is at least at `<!---->`'s. Its content is checked by the caller
/// (`xml_syntax::check_comment`).
fn comment_len(rest: &[u8]) -> Option<usize> {
    let mut from = 6;
    loop {
        let close = from + memchr::memchr(b'>', rest.get(from..)?)?;
        if &rest[close - 2..close] == b"--" {
            return Some(close + 1);
        }
        from = close + 1;
    }
}
