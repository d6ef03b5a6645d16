//! Case-insensitive hash-map keys for the routing table.
//!
//! DESIGN.md "Protocol facts": routing keys (service contracts, logical addresses,
//! consumers, HSA ids) are case-insensitive. Keys are lowercased once at load; lookups
//! on the hot path hash the caller's string with ASCII case folding on the fly, so a
//! lookup never allocates. This uses the "borrow as trait object" technique: the owned
//! key [`CiKey`] borrows as `dyn KeyView`, and so does a plain `&str`, with `Hash` and
//! `Eq` defined on the trait object so both sides agree.
//!
//! Folding is ASCII-only: HSA ids and URNs are ASCII; a non-ASCII letter must match
//! exactly (documented in specs/routing-table.md).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A string that can act as a case-insensitive key.
pub(crate) trait KeyView {
    fn key_str(&self) -> &str;
}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ascii_case_folded(self.key_str(), state);
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_str().eq_ignore_ascii_case(other.key_str())
    }
}

impl Eq for dyn KeyView + '_ {}

impl KeyView for &str {
    fn key_str(&self) -> &str {
        self
    }
}

/// An owned key, stored ASCII-lowercased.
#[derive(Debug, Clone)]
pub(crate) struct CiKey(Box<str>);

impl CiKey {
    pub(crate) fn new(text: &str) -> Self {
        CiKey(text.to_ascii_lowercase().into_boxed_str())
    }
}

impl KeyView for CiKey {
    fn key_str(&self) -> &str {
        &self.0
    }
}

// `Borrow` requires that the owned and the borrowed form hash and compare alike: both
// go through `hash_ascii_case_folded` / `eq_ignore_ascii_case`.
impl Hash for CiKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ascii_case_folded(&self.0, state);
    }
}

impl PartialEq for CiKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for CiKey {}

impl<'a> Borrow<dyn KeyView + 'a> for CiKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// A hash map with case-insensitive string keys.
pub(crate) type CiMap<V> = HashMap<CiKey, V>;

/// Allocation-free case-insensitive lookup.
pub(crate) trait CiMapExt<V> {
    fn get_ci(&self, key: &str) -> Option<&V>;
    fn get_mut_ci(&mut self, key: &str) -> Option<&mut V>;
}

impl<V> CiMapExt<V> for CiMap<V> {
    fn get_ci(&self, key: &str) -> Option<&V> {
        self.get(&key as &dyn KeyView)
    }

    fn get_mut_ci(&mut self, key: &str) -> Option<&mut V> {
        self.get_mut(&key as &dyn KeyView)
    }
}

/// Feeds the ASCII-lowercased bytes of `text` to `state` through a small stack buffer
/// (no allocation), then a terminator byte as `str`'s own `Hash` does.
fn hash_ascii_case_folded<H: Hasher>(text: &str, state: &mut H) {
    let mut buf = [0u8; 64];
    for chunk in text.as_bytes().chunks(buf.len()) {
        let folded = &mut buf[..chunk.len()];
        folded.copy_from_slice(chunk);
        folded.make_ascii_lowercase();
        state.write(folded);
    }
    state.write_u8(0xff);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_ascii_case_including_long_keys() {
        let long = "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";
        let mut map = CiMap::new();
        map.insert(CiKey::new("SE2321000016-ABCD"), 1);
        map.insert(CiKey::new(long), 2);
        assert_eq!(map.get_ci("se2321000016-abcd"), Some(&1));
        assert_eq!(map.get_ci("SE2321000016-AbCd"), Some(&1));
        assert_eq!(map.get_ci(&long.to_ascii_uppercase()), Some(&2));
        assert_eq!(map.get_ci("SE2321000016-ABCE"), None);
        assert_eq!(map.get_ci("SE2321000016-ABC"), None);
    }

    #[test]
    fn non_ascii_letters_match_exactly() {
        let mut map = CiMap::new();
        map.insert(CiKey::new("Vårdcentral"), 1);
        assert_eq!(map.get_ci("VÅRDCENTRAL"), None);
        assert_eq!(map.get_ci("VåRDCENTRAL"), Some(&1));
    }
}
