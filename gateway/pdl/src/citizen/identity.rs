//! The citizen's login: a JWT from a trusted e-identification issuer, verified with the
//! same rules as the care staff's user context (specs/user-context.md "Verification",
//! [`crate::jws`]), then read as a citizen (specs/user-context.md "The citizen's token"):
//!
//! - `sub` is the citizen's personal identity number or coordination number, normalised
//!   to 12 digits; anything else is refused (`invalid-subject`): a care staff member's
//!   token (an HSA id) never opens the citizen's side;
//! - the level of assurance (tillitsnivå) MUST reach `[citizen] minimum_loa`;
//! - a guardian (vårdnadshavare) names ONE child in the guardian claim and reads that
//!   child's records while the child is younger than `[citizen] guardian_age_limit`.
//!
//! The token is the issuer's word that the citizen is who `sub` says and, with a guardian
//! claim, has custody of the child; vaxel checks the child's age itself, from the birth
//! date in the child's number, because the limit is this service's rule.
//!
//! Errors name the failed check and never contain the token or its claim values.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::config::CitizenConfig;
use crate::access_log::DecisionReason;
use crate::consent::jwt::{JwtError, KeyLoadError};
use crate::jws::{bearer_token, IssuerSet};

/// How the citizen reads: as the patient, or as a guardian for a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActingAs {
    /// The citizen reads their own records.
    Patient,
    /// The citizen is the guardian (vårdnadshavare) of the patient, a child.
    Guardian,
}

impl ActingAs {
    /// The role written to the access log (`user_role`) and shown in extracts.
    pub fn user_role(self) -> &'static str {
        match self {
            ActingAs::Patient => "citizen",
            ActingAs::Guardian => "guardian",
        }
    }

    /// The access log reason of the citizen's reads.
    pub fn log_reason(self) -> DecisionReason {
        match self {
            ActingAs::Patient => DecisionReason::OwnRecords,
            ActingAs::Guardian => DecisionReason::Guardian,
        }
    }
}

/// A verified citizen. Its `Debug` masks the personal numbers (a `{:?}` in a log must not
/// leak them).
#[derive(Clone, PartialEq, Eq)]
pub struct CitizenContext {
    /// The person logged in: personal identity or coordination number, 12 digits.
    pub citizen: String,
    /// Whose records are read: `citizen` itself, or the guardian's child (12 digits).
    pub patient: String,
    pub acting_as: ActingAs,
    /// The login's level of assurance (tillitsnivå), 1–4.
    pub loa: u8,
    /// The issuer the token was verified against (`iss`).
    pub issuer: String,
}

impl fmt::Debug for CitizenContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = |s: &str| format!("{}********", s.get(..4).unwrap_or(""));
        f.debug_struct("CitizenContext")
            .field("citizen", &mask(&self.citizen))
            .field("patient", &mask(&self.patient))
            .field("acting_as", &self.acting_as)
            .field("loa", &self.loa)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Why a citizen's token was refused. [`CitizenError::check`] is the stable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CitizenError {
    /// The token itself: missing, malformed, signature, algorithm, key id, issuer,
    /// audience, expiry (the user-context checks, same names).
    #[error("login token refused ({check}): {text}", check = .0.check(), text = token_text(.0))]
    Token(JwtError),
    #[error("the login token lacks the claim `{0}`")]
    MissingClaim(String),
    #[error("the login token claim `{0}` has the wrong type or is empty")]
    InvalidClaim(String),
    #[error("the login token's subject (sub) is not a Swedish personal identity number or coordination number (12 digits, YYYYMMDDNNNN or YYYYMMDD-NNNN)")]
    InvalidSubject,
    #[error("the login's level of assurance is too low: log in again with an e-identification of level {minimum} or higher (tillitsnivå {minimum})")]
    InsufficientAssurance { minimum: u8 },
    #[error("this service does not offer access as a guardian: log in without choosing a child")]
    GuardianNotAllowed,
    #[error("the child chosen for guardian access is not named by a personal identity number or coordination number: the identity provider must name the child by one")]
    InvalidChildId,
    #[error("a guardian reads a child's records only until the child turns {limit}: the child has reached that age")]
    ChildOverAgeLimit { limit: u8 },
}

/// The token check's text in the citizen's words: the shared checks speak of the care
/// staff's "user context"; here it is the citizen's login token.
fn token_text(e: &JwtError) -> String {
    e.to_string()
        .replace("the user context's", "the token's")
        .replace("the user context", "the token")
        .replace("no user context: send the end user's JWT in the user-context header or as Authorization: Bearer", "no login token: send the citizen's JWT as Authorization: Bearer")
}

impl CitizenError {
    /// A stable name of the failed check (logs, metrics, the API's error body).
    pub fn check(&self) -> &'static str {
        match self {
            CitizenError::Token(e) => e.check(),
            CitizenError::MissingClaim(_) => "missing-claim",
            CitizenError::InvalidClaim(_) => "invalid-claim",
            CitizenError::InvalidSubject => "invalid-subject",
            CitizenError::InsufficientAssurance { .. } => "insufficient-assurance",
            CitizenError::GuardianNotAllowed => "guardian-not-allowed",
            CitizenError::InvalidChildId => "invalid-child-id",
            CitizenError::ChildOverAgeLimit { .. } => "child-over-age-limit",
        }
    }

    /// The HTTP status to answer: 401 when logging in again (or more strongly) can help,
    /// 403 when this citizen may not act for this child whatever the login.
    pub fn status(&self) -> StatusCode {
        match self {
            CitizenError::GuardianNotAllowed
            | CitizenError::InvalidChildId
            | CitizenError::ChildOverAgeLimit { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750 §3; too low an assurance is the
    /// step-up challenge of RFC 9470, so the page can ask the identity provider for a
    /// stronger login). `None` for a 403.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            CitizenError::Token(JwtError::Missing) => Some("Bearer".into()),
            CitizenError::InsufficientAssurance { .. } => Some(format!(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"{}\"",
                self.check()
            )),
            _ if self.status() == StatusCode::UNAUTHORIZED => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                self.check()
            )),
            _ => None,
        }
    }
}

impl From<JwtError> for CitizenError {
    fn from(e: JwtError) -> Self {
        CitizenError::Token(e)
    }
}

/// Verifies citizens' login tokens. Immutable: reload by building a new one.
#[derive(Debug)]
pub struct CitizenVerifier {
    issuers: IssuerSet,
    loa_claim: String,
    minimum_loa: u8,
    guardian_claim: String,
    guardian_age_limit: u8,
}

impl CitizenVerifier {
    /// Read every `[[citizen.issuers]]` key file.
    pub fn from_config(config: &CitizenConfig) -> Result<CitizenVerifier, KeyLoadError> {
        Ok(CitizenVerifier {
            issuers: IssuerSet::load("citizen", &config.issuers)?,
            loa_claim: config.loa_claim.clone(),
            minimum_loa: config.minimum_loa,
            guardian_claim: config.guardian_claim.clone(),
            guardian_age_limit: config.guardian_age_limit,
        })
    }

    /// Verify `Authorization: Bearer <JWT>` at `now` (Unix seconds), ages against today's
    /// local date.
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<CitizenContext, CitizenError> {
        self.verify(bearer_token(headers)?, now)
    }

    /// Verify a token at `now` (Unix seconds), ages against today's local date
    /// ([`vaxel_model::clock::today`]).
    pub fn verify(&self, token: &str, now: i64) -> Result<CitizenContext, CitizenError> {
        self.verify_on(token, now, vaxel_model::clock::today())
    }

    /// [`CitizenVerifier::verify`] with the date ages are computed on.
    pub fn verify_on(
        &self,
        token: &str,
        now: i64,
        today: NaiveDate,
    ) -> Result<CitizenContext, CitizenError> {
        let verified = self.issuers.verify(token, now)?;
        let c = &verified.claims;
        let citizen = match c.get("sub") {
            None | Some(Value::Null) => return Err(CitizenError::MissingClaim("sub".into())),
            Some(Value::String(s)) => PersonNumber::parse(s).ok_or(CitizenError::InvalidSubject)?,
            Some(_) => return Err(CitizenError::InvalidSubject),
        };
        let loa = match c.get(&self.loa_claim) {
            None | Some(Value::Null) => {
                return Err(CitizenError::MissingClaim(self.loa_claim.clone()))
            }
            Some(v) => {
                parse_loa(v).ok_or_else(|| CitizenError::InvalidClaim(self.loa_claim.clone()))?
            }
        };
        if loa < self.minimum_loa {
            return Err(CitizenError::InsufficientAssurance {
                minimum: self.minimum_loa,
            });
        }
        let (patient, acting_as) = match self.child(c, &citizen, today)? {
            None => (citizen.as_str().to_string(), ActingAs::Patient),
            Some(child) => (child.as_str().to_string(), ActingAs::Guardian),
        };
        Ok(CitizenContext {
            citizen: citizen.as_str().to_string(),
            patient,
            acting_as,
            loa,
            issuer: verified.issuer,
        })
    }

    /// The child of a guardian claim, checked; `None` without one (or when it names the
    /// citizen: reading one's own records needs no guardianship).
    fn child(
        &self,
        c: &Map<String, Value>,
        citizen: &PersonNumber,
        today: NaiveDate,
    ) -> Result<Option<PersonNumber>, CitizenError> {
        let raw = match c.get(&self.guardian_claim) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
            Some(_) => return Err(CitizenError::InvalidClaim(self.guardian_claim.clone())),
        };
        let child = PersonNumber::parse(raw);
        if child.as_ref() == Some(citizen) {
            return Ok(None);
        }
        if self.guardian_age_limit == 0 {
            return Err(CitizenError::GuardianNotAllowed);
        }
        let child = child.ok_or(CitizenError::InvalidChildId)?;
        if child.age_on(today) >= i32::from(self.guardian_age_limit) {
            return Err(CitizenError::ChildOverAgeLimit {
                limit: self.guardian_age_limit,
            });
        }
        Ok(Some(child))
    }
}

/// The level of assurance in a claim value: an integer 1–4, the same as a string
/// (`"3"`), `loa3`, the Swedish e-ID trust framework's URI
/// `http://id.elegnamnden.se/loa/1.0/loa3`, or that framework's eIDAS URIs
/// (`.../eidas-low` 2, `.../eidas-sub` 3, `.../eidas-high` 4, and the `eidas-nf-*`
/// forms of notified schemes alike). Anything else (e.g. `uncertified-loa3`) is `None`.
pub fn parse_loa(v: &Value) -> Option<u8> {
    let level = |n: u64| (1..=4).contains(&n).then_some(n as u8);
    match v {
        Value::Number(n) => n.as_u64().and_then(level),
        Value::String(s) => {
            let s = s.trim();
            let name = s
                .strip_prefix("http://id.elegnamnden.se/loa/1.0/")
                .unwrap_or(s)
                .to_ascii_lowercase();
            match name.as_str() {
                "eidas-low" | "eidas-nf-low" => Some(2),
                "eidas-sub" | "eidas-nf-sub" => Some(3),
                "eidas-high" | "eidas-nf-high" => Some(4),
                other => {
                    let digits = other.strip_prefix("loa").unwrap_or(other);
                    if digits.len() == 1 {
                        digits.parse().ok().and_then(level)
                    } else {
                        None
                    }
                }
            }
        }
        _ => None,
    }
}

/// A Swedish personal identity number (personnummer) or coordination number
/// (samordningsnummer): 12 digits `YYYYMMDDNNNC`, the day plus 60 in a coordination
/// number, `C` the Luhn check digit over the last ten. Reserve numbers (reservnummer)
/// are not: they carry letters, or no date of birth, or no check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonNumber {
    digits: String,
    birth_date: NaiveDate,
    coordination: bool,
}

impl PersonNumber {
    /// Parse `YYYYMMDDNNNC` or `YYYYMMDD-NNNC` (white space around is ignored).
    pub fn parse(s: &str) -> Option<PersonNumber> {
        let s = s.trim();
        let digits: String = match s.len() {
            12 => s.to_string(),
            13 if s.as_bytes()[8] == b'-' => format!("{}{}", &s[..8], &s[9..]),
            _ => return None,
        };
        let b = digits.as_bytes();
        if !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u32>().ok();
        let (year, month, mut day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let coordination = day > 60;
        if coordination {
            day -= 60;
        }
        let birth_date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        luhn_ok(&b[2..]).then_some(PersonNumber {
            digits,
            birth_date,
            coordination,
        })
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    pub fn is_coordination_number(&self) -> bool {
        self.coordination
    }

    /// Age in whole years on `day` (negative before birth). Born on 29 February: in a
    /// common year the birthday counts as 28 February, so an age limit is reached a day
    /// early rather than a day late (guardian access ends fail-closed).
    pub fn age_on(&self, day: NaiveDate) -> i32 {
        let born = self.birth_date;
        let birthday_day = if born.month() == 2 && born.day() == 29 && !is_leap(day.year()) {
            28
        } else {
            born.day()
        };
        let before_birthday = (day.month(), day.day()) < (born.month(), birthday_day);
        day.year() - born.year() - i32::from(before_birthday)
    }
}

impl fmt::Debug for PersonNumber {
    /// Masked: only the birth year is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonNumber({}********)", &self.digits[..4])
    }
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

/// The Luhn check (mod 10) over the ten digits `YYMMDDNNNC`.
fn luhn_ok(ten: &[u8]) -> bool {
    let sum: u32 = ten
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    sum.is_multiple_of(10)
}
