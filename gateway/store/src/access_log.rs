//! The PDL access log's records and store (specs/access-log.md): the entry, its
//! canonical encoding and the chain hash ("Canonical encoding", "Hash chain"), and
//! [`AccessLogStore`], the append-only chained table every backend implements.
//!
//! The chain is computed by the backend inside its append transaction (it must read
//! the head and write the next entries atomically), so the encoding and the hash live
//! here, beside the trait, for every backend to use the same way.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use async_trait::async_trait;

use crate::Result;

/// Version number written as `"v"` in a canonical entry without a user role: the 13
/// members of specs/access-log.md section 1. A later format MUST use a new number so that
/// old entries keep verifying byte for byte.
pub const CANONICAL_VERSION: u32 = 1;

/// Version number of a canonical entry with a user role: version 1's members, then
/// `user_role`. An entry without a role is still written as version 1, so entries (and
/// chain hashes) of writers that never set a role are the same bytes as before.
pub const CANONICAL_VERSION_USER_ROLE: u32 = 2;

/// `prev_hash` of the first entry (seq 1): 32 zero bytes.
pub const GENESIS_PREV_HASH: [u8; 32] = [0; 32];

/// The outcome of the consent check for the records of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Decision {
    Allowed,
    Denied,
    /// Allowed because the user declared emergency access (nödåtkomst); PDL requires
    /// these to be reviewable separately.
    Emergency,
}

impl Decision {
    /// Every decision (metric label values).
    pub const ALL: [Decision; 3] = [Decision::Allowed, Decision::Denied, Decision::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Emergency => "emergency",
        }
    }
}

/// Why the decision was taken (DESIGN.md decision table). The strings are stable: they
/// are part of the hashed canonical entry and of the review API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DecisionReason {
    /// The record belongs to the user's own care giver.
    SameCareGiver,
    /// Another care giver's record; the patient consented and there is a care relation.
    Consent,
    /// Another care giver's record, no consent; the user declared emergency access.
    Emergency,
    /// The patient blocked (spärr) the care giver or unit; emergency does not lift it.
    Blocked,
    /// Another care giver's record without consent or emergency.
    NoConsent,
    /// A consent registered in an emergency for the user's care giver.
    EmergencyConsent,
    /// The patient blocked the record's care unit (or a unit block exists and the record
    /// does not name its unit).
    BlockedCareUnit,
    /// A consent is in force, but not for this information set.
    ConsentOutOfScope,
    /// The record does not name its care giver, so no rule can allow it.
    UnknownRecordCareGiver,
    /// The patient id is not a personal or coordination number.
    InvalidPatientId,
    /// A citizen read their own records (PDL 8:1 self-service, `vaxel_pdl::citizen`).
    OwnRecords,
    /// A guardian (vårdnadshavare) read their child's records.
    Guardian,
}

impl DecisionReason {
    /// Every reason (metric label values).
    pub const ALL: [DecisionReason; 12] = [
        DecisionReason::SameCareGiver,
        DecisionReason::Consent,
        DecisionReason::Emergency,
        DecisionReason::Blocked,
        DecisionReason::NoConsent,
        DecisionReason::EmergencyConsent,
        DecisionReason::BlockedCareUnit,
        DecisionReason::ConsentOutOfScope,
        DecisionReason::UnknownRecordCareGiver,
        DecisionReason::InvalidPatientId,
        DecisionReason::OwnRecords,
        DecisionReason::Guardian,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionReason::SameCareGiver => "same-care-giver",
            DecisionReason::Consent => "consent",
            DecisionReason::Emergency => "emergency",
            DecisionReason::Blocked => "blocked",
            DecisionReason::NoConsent => "no-consent",
            DecisionReason::EmergencyConsent => "emergency-consent",
            DecisionReason::BlockedCareUnit => "blocked-care-unit",
            DecisionReason::ConsentOutOfScope => "consent-out-of-scope",
            DecisionReason::UnknownRecordCareGiver => "unknown-record-care-giver",
            DecisionReason::InvalidPatientId => "invalid-patient-id",
            DecisionReason::OwnRecords => "own-records",
            DecisionReason::Guardian => "guardian",
        }
    }
}

/// One logged access decision: one user, one patient, one information set, one source
/// system, the records concerned. Field order is the canonical order (do not reorder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogEntry {
    /// When the decision was taken (UTC; kept to the millisecond).
    #[serde(with = "millis_time")]
    pub time: DateTime<Utc>,
    /// The request's correlation id (x-skltp-correlation-id or generated).
    pub correlation_id: String,
    /// The end user (HSA id from the JWT).
    pub user_hsa_id: String,
    /// The user's care unit (vårdenhet).
    pub care_unit_hsa_id: String,
    /// The user's care giver (vårdgivare).
    pub care_giver_hsa_id: String,
    /// The patient (personal identity number or coordination number).
    pub patient_id: String,
    /// e.g. `care-documentation`.
    pub information_set: String,
    /// The system that holds the records.
    pub source_system_hsa_id: String,
    /// The records the decision applies to.
    pub record_ids: Vec<String>,
    pub decision: Decision,
    pub reason: DecisionReason,
    /// The user's stated reason, for emergency access.
    pub emergency_reason: Option<String>,
    /// The purpose from the user context (e.g. `care`).
    pub purpose: String,
    /// The user's role as the issuer states it (user-context claim `user_role`, e.g.
    /// `Läkare`; `citizen` or `guardian` for a citizen's own access), shown in the
    /// patient's log extract. Absent: not written at all, and the entry is encoded as
    /// version 1, byte for byte as before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
}

/// The position of the newest entry: what an operator records outside the database to
/// detect truncation. Written `SEQ:HASH` (hash in lower-case hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// A stored entry that is not a canonical version-1 encoding.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EntryDecodeError(pub String);

#[derive(Serialize)]
struct WireRef<'a> {
    v: u32,
    entry: &'a AccessLogEntry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    entry: AccessLogEntry,
}

impl AccessLogEntry {
    /// The canonical bytes (specs/access-log.md): `{"v":1,"entry":{...}}`, compact JSON,
    /// fields in declaration order, `null` for a missing emergency reason; with a user
    /// role `{"v":2,"entry":{...,"user_role":"..."}}`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        out
    }

    /// Append the canonical bytes to `out` (the writer reuses one buffer per batch).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        // Serializing plain strings, enums and a Vec into a Vec<u8> cannot fail.
        serde_json::to_writer(
            &mut *out,
            &WireRef {
                v: self.canonical_version(),
                entry: self,
            },
        )
        .expect("an access log entry always serializes");
    }

    /// Decode canonical bytes. Rejects unknown versions and fields, and bytes that are
    /// valid JSON but not the canonical form (extra spaces, other key order, escapes).
    pub fn from_canonical(bytes: &[u8]) -> std::result::Result<AccessLogEntry, EntryDecodeError> {
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| EntryDecodeError(format!("not a canonical entry: {e}")))?;
        if wire.v != CANONICAL_VERSION && wire.v != CANONICAL_VERSION_USER_ROLE {
            return Err(EntryDecodeError(format!(
                "unknown canonical version {} (this vaxel knows {CANONICAL_VERSION} and {CANONICAL_VERSION_USER_ROLE})",
                wire.v
            )));
        }
        // Also refuses a version 1 entry with a user role, a version 2 entry without one
        // and `"user_role":null`: each has exactly one canonical form.
        if wire.entry.canonical_bytes() != bytes {
            return Err(EntryDecodeError(
                "valid JSON but not the canonical encoding".into(),
            ));
        }
        Ok(wire.entry)
    }

    /// The canonical version this entry is written in: 2 with a user role, else 1.
    pub fn canonical_version(&self) -> u32 {
        if self.user_role.is_some() {
            CANONICAL_VERSION_USER_ROLE
        } else {
            CANONICAL_VERSION
        }
    }

    /// The entry time as Unix milliseconds (the indexed `time_ms` column).
    pub fn time_ms(&self) -> i64 {
        self.time.timestamp_millis()
    }
}

/// hash_n = SHA-256(hash_{n-1} || u64 big-endian seq || canonical entry bytes).
pub fn chain_hash(prev: &[u8; 32], seq: u64, canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(canonical);
    h.finalize().into()
}

/// Lower-case hex (a hash is 32 bytes; not worth a crate).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn from_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, to_hex(&self.hash))
    }
}

/// A text that is not a chain head (`SEQ:HASH`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a chain head: expected SEQ:HASH with HASH as 64 hexadecimal digits")]
pub struct BadChainHead(pub String);

impl FromStr for ChainHead {
    type Err = BadChainHead;

    fn from_str(s: &str) -> std::result::Result<ChainHead, BadChainHead> {
        let bad = || BadChainHead(s.to_string());
        let (seq, hash) = s.trim().split_once(':').ok_or_else(bad)?;
        Ok(ChainHead {
            seq: seq.parse().map_err(|_| bad())?,
            hash: from_hex32(hash).ok_or_else(bad)?,
        })
    }
}

/// `2024-05-01T12:00:00.123Z`: RFC 3339, UTC, exactly three fractional digits.
mod millis_time {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

    pub(super) fn serialize<S: Serializer>(
        t: &DateTime<Utc>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&t.format(FORMAT))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NaiveDateTime::parse_from_str(&s, FORMAT)
            .map(|t| t.and_utc())
            .map_err(|e| serde::de::Error::custom(format!("time `{s}`: {e}")))
    }
}

/// Whose accesses to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Every access to this patient's data ("who has read my data").
    Patient(String),
    /// Every access by this user (HSA id).
    User(String),
    /// Every access in the period.
    Everyone,
}

/// In which order a review query lists entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Chronological: by time, then seq (the auditor's review).
    #[default]
    OldestFirst,
    /// Newest first: by time, then seq, both descending (the patient's extract, paged).
    NewestFirst,
}

/// A review query: `from` inclusive, `to` exclusive (both optional), in `order`, the
/// first `offset` matching entries skipped, then at most `limit` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogQuery {
    pub subject: Subject,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
    /// Matching entries skipped before the first one returned (paging).
    pub offset: usize,
    pub order: Order,
}

impl AccessLogQuery {
    /// Every entry of `subject`, oldest first, at most `limit`.
    pub fn new(subject: Subject, limit: usize) -> AccessLogQuery {
        AccessLogQuery {
            subject,
            from: None,
            to: None,
            limit,
            offset: 0,
            order: Order::OldestFirst,
        }
    }
}

/// One row as stored, unchecked: what `pdl-verify` reads. Hashes are raw column values
/// (a tampered row may hold a hash of the wrong length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccessLogRow {
    pub seq: i64,
    /// Indexed copies of fields of `entry` (verification checks they agree).
    pub time_ms: i64,
    pub patient_id: String,
    pub user_hsa_id: String,
    /// The canonical entry bytes that were hashed.
    pub entry: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Append-only, hash-chained storage of access log entries.
#[async_trait]
pub trait AccessLogStore: Send + Sync + fmt::Debug {
    /// Append `entries` in order, in ONE database transaction, chaining each to the
    /// current head: durable (fsynced) when this returns `Ok`, nothing written on `Err`.
    /// Returns the new head (the old one when `entries` is empty). Appends by several
    /// writers (threads, processes, nodes) on one database MUST serialise, so the log
    /// stays one chain ([`crate::testkit::access_log`] checks it with two writers).
    async fn append_access_log(&self, entries: &[AccessLogEntry]) -> Result<ChainHead>;

    /// The newest entry's seq and hash; `0:000…0` for an empty log.
    async fn access_log_head(&self) -> Result<ChainHead>;

    /// Stored rows with `seq > after_seq` in ascending seq order, at most `limit`.
    async fn access_log_rows(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredAccessLogRow>>;

    /// The seq of a row whose stored hash is `hash`, if any (used to explain a broken
    /// link: was the entry moved?). May scan the table.
    async fn access_log_seq_of_hash(&self, hash: &[u8]) -> Result<Option<i64>>;

    /// Entries matching `query` in its order (time, then seq; both descending for
    /// [`Order::NewestFirst`]), `query.offset` of them skipped, decoded from the hashed
    /// canonical bytes, with their seq.
    async fn query_access_log(&self, query: &AccessLogQuery) -> Result<Vec<(u64, AccessLogEntry)>>;

    /// Fill the review index (derived data, not part of the chain; specs/access-log.md
    /// 4.5) for at most `max_entries` of the oldest un-indexed entries, in ONE transaction
    /// that also moves the persisted high-water mark `indexed_upto`. Not durable on its
    /// own (a crash may lose it; the entries are then indexed again). The default does
    /// nothing: a store without a separate index is always fully indexed.
    async fn index_access_log(&self, max_entries: usize) -> Result<IndexState> {
        let _ = max_entries;
        let head = self.access_log_head().await?.seq;
        Ok(IndexState {
            indexed_upto: head,
            head,
        })
    }

    /// The first problem in the review index, as `(seq, detail)`: an index row that does
    /// not point at a chain row with the same patient/user and time, an entry up to
    /// `indexed_upto` that has no index row, or an `indexed_upto` beyond the head.
    /// Details never name patients or users.
    async fn check_access_log_index(&self) -> Result<Option<(u64, String)>> {
        Ok(None)
    }
}

/// How far the review index has caught up with the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexState {
    /// Every entry with `seq <= indexed_upto` is in the index tables.
    pub indexed_upto: u64,
    /// The chain head's seq.
    pub head: u64,
}

impl IndexState {
    /// Entries not yet indexed (queries scan them in the chain table).
    pub fn lag(&self) -> u64 {
        self.head.saturating_sub(self.indexed_upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::access_log::entry;

    #[test]
    fn canonical_bytes_are_the_documented_json() {
        let mut e = entry(7, "191212121212", "SE2321000016-U1");
        e.decision = Decision::Emergency;
        e.reason = DecisionReason::Emergency;
        e.emergency_reason = Some("unconscious \"patient\"".into());
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"entry":{"time":"2023-11-14T22:13:20.007Z","correlation_id":"corr-7","user_hsa_id":"SE2321000016-U1","care_unit_hsa_id":"SE2321000016-UNIT1","care_giver_hsa_id":"SE2321000016-CG1","patient_id":"191212121212","information_set":"care-documentation","source_system_hsa_id":"SE2321000016-SRC9","record_ids":["doc-7-1","doc-7-2","doc-7-3"],"decision":"emergency","reason":"emergency","emergency_reason":"unconscious \"patient\"","purpose":"care"}}"#
        );
        assert_eq!(AccessLogEntry::from_canonical(text.as_bytes()).unwrap(), e);
    }

    #[test]
    fn non_canonical_bytes_are_rejected() {
        let e = entry(1, "191212121212", "U");
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        let spaced = text.replacen("\"v\":1", "\"v\": 1", 1);
        assert!(AccessLogEntry::from_canonical(spaced.as_bytes()).is_err());
        let v3 = text.replacen("\"v\":1", "\"v\":3", 1);
        let err = AccessLogEntry::from_canonical(v3.as_bytes()).unwrap_err();
        assert!(err.0.contains("unknown canonical version 3"), "{err}");
        // Version 2 says "with a user role": without one it has another canonical form.
        let v2 = text.replacen("\"v\":1", "\"v\":2", 1);
        assert!(AccessLogEntry::from_canonical(v2.as_bytes()).is_err());
        let escaped = text.replacen("corr-1", "corr\\u002d1", 1);
        assert!(AccessLogEntry::from_canonical(escaped.as_bytes()).is_err());
    }

    #[test]
    fn a_user_role_is_version_2_with_the_role_last_and_nothing_else_changes() {
        let mut e = entry(7, "191212121212", "SE2321000016-U1");
        let v1 = e.canonical_bytes();
        e.user_role = Some("Läkare".into());
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert_eq!(e.canonical_version(), 2);
        // Version 2 is version 1's text with another `v` and one more member at the end.
        let expected = String::from_utf8(v1.clone())
            .unwrap()
            .replacen("{\"v\":1,", "{\"v\":2,", 1)
            .replacen(
                "\"purpose\":\"care\"}}",
                "\"purpose\":\"care\",\"user_role\":\"Läkare\"}}",
                1,
            );
        assert_eq!(text, expected);
        assert_eq!(AccessLogEntry::from_canonical(text.as_bytes()).unwrap(), e);
        // The one canonical form: a role under version 1, or a null role, is refused.
        let under_v1 = text.replacen("\"v\":2", "\"v\":1", 1);
        assert!(AccessLogEntry::from_canonical(under_v1.as_bytes()).is_err());
        let null_role = String::from_utf8(v1.clone()).unwrap().replacen(
            "\"purpose\":\"care\"}}",
            "\"purpose\":\"care\",\"user_role\":null}}",
            1,
        );
        assert!(AccessLogEntry::from_canonical(null_role.as_bytes()).is_err());
        // Without a role the bytes are version 1's, as written before the field existed.
        e.user_role = None;
        assert_eq!(e.canonical_bytes(), v1);
        assert_eq!(e.canonical_version(), 1);
    }

    #[test]
    fn decision_reasons_are_listed_once_with_their_strings() {
        let names: Vec<&str> = DecisionReason::ALL.iter().map(|r| r.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(n), "{n} twice");
            let parsed: DecisionReason = serde_json::from_value(serde_json::json!(n)).unwrap();
            assert_eq!(parsed.as_str(), *n);
        }
        assert!(names.contains(&"own-records") && names.contains(&"guardian"));
    }

    #[test]
    fn chain_hash_is_sha256_of_prev_seq_and_bytes() {
        // Independent re-computation, as an auditor would do it.
        let bytes = br#"{"v":1}"#;
        let mut input = vec![0u8; 32];
        input.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        input.extend_from_slice(bytes);
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(chain_hash(&GENESIS_PREV_HASH, 1, bytes), expected);
    }

    #[test]
    fn head_round_trips_and_rejects_garbage() {
        let head = ChainHead {
            seq: 42,
            hash: [0xab; 32],
        };
        let s = head.to_string();
        assert_eq!(s, format!("42:{}", "ab".repeat(32)));
        assert_eq!(s.parse::<ChainHead>().unwrap(), head);
        for bad in ["42", "x:00", "42:abc", &format!("42:{}", "zz".repeat(32))] {
            assert!(bad.parse::<ChainHead>().is_err(), "{bad}");
        }
    }
}
