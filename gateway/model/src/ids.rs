//! Identifiers every concern passes around, parsed once at the edge and trusted inside
//! ("parse, don't validate").

use std::fmt;

/// A Swedish personal identity number, coordination number or reserve number as the
/// national services accept it: pattern `[0-9]{8}[0-9pPtTfF][0-9]{3}` (core schema
/// `RegisteredResidentIdentificationType`). Deliberately no `Display`: a personal id
/// must be written out on purpose ([`ResidentId::as_str`]), never by a stray `{}` in a log.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    /// Parse a resident id; `None` when it does not match the schema pattern.
    pub fn parse(s: &str) -> Option<ResidentId> {
        let b = s.as_bytes();
        let ok = b.len() == 12
            && b[..8].iter().all(u8::is_ascii_digit)
            && (b[8].is_ascii_digit() || b"pPtTfF".contains(&b[8]))
            && b[9..].iter().all(u8::is_ascii_digit);
        ok.then(|| ResidentId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResidentId {
    /// Masked: only the birth year is shown, so a `{:?}` in a log does not leak the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({}********)", &self.0[..4])
    }
}

/// An HSA id (the national directory's id of an organisation, unit, system or person,
/// e.g. `SE2321000016-1234`) as vaxel accepts it in its configuration: 1–64 printable
/// ASCII characters without spaces. HSA ids are compared case-insensitively by the
/// platform (routing keys, subscribers).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HsaId(String);

impl HsaId {
    /// The longest HSA id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parse an HSA id; `None` when it is empty, too long or holds spaces or control or
    /// non-ASCII characters.
    pub fn parse(s: &str) -> Option<HsaId> {
        (!s.is_empty() && s.len() <= Self::MAX_LEN && s.chars().all(|c| c.is_ascii_graphic()))
            .then(|| HsaId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Equal under the platform's case-insensitive comparison.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HsaId({})", self.0)
    }
}

impl AsRef<str> for HsaId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_pattern() {
        assert!(ResidentId::parse("191212121212").is_some());
        assert!(ResidentId::parse("19121212T212").is_some());
        assert!(ResidentId::parse("19121212X212").is_none());
        assert!(ResidentId::parse("1912121212").is_none());
        assert_eq!(
            format!("{:?}", ResidentId::parse("191212121212").unwrap()),
            "ResidentId(1912********)"
        );
    }

    #[test]
    fn hsa_id_rules() {
        assert_eq!(
            HsaId::parse("SE2321000016-A1").unwrap().as_str(),
            "SE2321000016-A1"
        );
        for bad in ["", "has space", "tab\t", "åäö", &"x".repeat(65)] {
            assert!(HsaId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(HsaId::parse("se1").unwrap().eq_ignore_case("SE1"));
    }
}
