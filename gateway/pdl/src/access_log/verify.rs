//! Chain verification (`vaxel pdl-verify`, specs/access-log.md "Verification").

use std::fmt;

use vaxel_store::access_log::{
    chain_hash, to_hex, AccessLogEntry, AccessLogStore, ChainHead, StoredAccessLogRow,
    GENESIS_PREV_HASH,
};

use super::AccessLogError;

/// Rows read per query while verifying.
const PAGE: usize = 2_000;
/// How far from its position a moved entry is looked for (hashes are cheap: this costs
/// about a millisecond, and only once, at the first break).
const REORDER_WINDOW: u64 = 1_024;

/// What is wrong at the first broken entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// The entry's bytes (or its stored hash) changed since it was written.
    HashMismatch,
    /// A seq number is missing: the entry was removed.
    Gap,
    /// The entry is intact but was written at another position.
    Reordered,
    /// The entry's `prev_hash` is not the previous entry's hash: an entry before it was
    /// removed, replaced or inserted.
    BrokenLink,
    /// The bytes hash correctly but are not a canonical entry (written by a foreign tool).
    NotCanonical,
    /// The indexed columns (time, patient, user) disagree with the hashed entry, or the
    /// review index (derived from them) disagrees with the chain: review queries would
    /// return wrong answers.
    IndexMismatch,
    /// The log ends before the externally recorded head: newest entries were removed.
    Truncated,
    /// The entry at the recorded head's seq has another hash than recorded.
    HeadMismatch,
}

impl BreakKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::HashMismatch => "hash mismatch",
            BreakKind::Gap => "gap in sequence",
            BreakKind::Reordered => "reordered",
            BreakKind::BrokenLink => "broken link",
            BreakKind::NotCanonical => "not canonical",
            BreakKind::IndexMismatch => "index mismatch",
            BreakKind::Truncated => "truncated",
            BreakKind::HeadMismatch => "head mismatch",
        }
    }
}

/// The first broken entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: u64,
    pub kind: BreakKind,
    /// For the operator: what exactly differs.
    pub detail: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seq {}: {}: {}",
            self.seq,
            self.kind.as_str(),
            self.detail
        )
    }
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries verified intact (all of them when `first_broken` is `None`).
    pub entries: u64,
    /// The last intact entry (`0:000…0` when none): record it outside the database.
    pub head: ChainHead,
    pub first_broken: Option<Break>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Verify the whole chain (see [`verify_against`]).
pub async fn verify(store: &dyn AccessLogStore) -> Result<VerifyReport, AccessLogError> {
    verify_against(store, None).await
}

/// Verify every entry from seq 1: consecutive seq numbers, each `prev_hash` equal to the
/// previous hash, each hash recomputed from the stored bytes, canonical bytes, index
/// columns equal to the entry. With `expected`, also check that the chain reaches that
/// recorded head with the same hash (detects truncation of the newest entries).
pub async fn verify_against(
    store: &dyn AccessLogStore,
    expected: Option<ChainHead>,
) -> Result<VerifyReport, AccessLogError> {
    let mut head = ChainHead {
        seq: 0,
        hash: GENESIS_PREV_HASH,
    };
    let mut seen_expected = expected.filter(|e| e.seq == 0).map(|_| GENESIS_PREV_HASH);
    loop {
        let rows = store.access_log_rows(head.seq as i64, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if let Some(b) = check_row(store, &head, row).await? {
                return Ok(VerifyReport {
                    entries: head.seq,
                    head,
                    first_broken: Some(b),
                });
            }
            let hash: [u8; 32] = row.hash.as_slice().try_into().unwrap_or_default();
            head = ChainHead {
                seq: head.seq + 1,
                hash,
            };
            if expected.is_some_and(|e| e.seq == head.seq) {
                seen_expected = Some(hash);
            }
        }
    }
    let first_broken = match expected {
        None => None,
        Some(e) => match seen_expected {
            None => Some(Break {
                seq: head.seq + 1,
                kind: BreakKind::Truncated,
                detail: format!(
                    "the log ends at seq {}, but the recorded head is at seq {}: entries {}..={} were removed",
                    head.seq,
                    e.seq,
                    head.seq + 1,
                    e.seq
                ),
            }),
            Some(h) if h != e.hash => Some(Break {
                seq: e.seq,
                kind: BreakKind::HeadMismatch,
                detail: format!(
                    "recorded hash {}, stored hash {}",
                    to_hex(&e.hash),
                    to_hex(&h)
                ),
            }),
            Some(_) => None,
        },
    };
    // The chain is intact: now the review index (derived data, section 4.5), which must
    // agree with the chain or review queries would miss or misattribute entries.
    let first_broken = match first_broken {
        Some(b) => Some(b),
        None => store
            .check_access_log_index()
            .await?
            .map(|(seq, detail)| Break {
                seq,
                kind: BreakKind::IndexMismatch,
                detail,
            }),
    };
    Ok(VerifyReport {
        entries: head.seq,
        head,
        first_broken,
    })
}

async fn check_row(
    store: &dyn AccessLogStore,
    prev: &ChainHead,
    row: &StoredAccessLogRow,
) -> Result<Option<Break>, AccessLogError> {
    let seq = prev.seq + 1;
    let broken = |kind, detail: String| Ok(Some(Break { seq, kind, detail }));
    if row.seq != seq as i64 {
        return broken(
            BreakKind::Gap,
            format!(
                "entry {seq} is missing (the next stored entry is seq {})",
                row.seq
            ),
        );
    }
    let computed = chain_hash(&prev.hash, seq, &row.entry);
    if row.prev_hash != prev.hash {
        if let Some(written_at) = moved_from(store, seq, row).await? {
            return broken(
                BreakKind::Reordered,
                format!("the entry stored at seq {seq} was written as seq {written_at}"),
            );
        }
        return broken(
            BreakKind::BrokenLink,
            format!(
                "prev_hash {} is not the hash of entry {} ({}): an entry was removed, replaced or inserted",
                to_hex(&row.prev_hash),
                prev.seq,
                to_hex(&prev.hash)
            ),
        );
    }
    if row.hash != computed {
        return broken(
            BreakKind::HashMismatch,
            format!(
                "stored hash {}, recomputed {}: the entry was changed after it was written",
                to_hex(&row.hash),
                to_hex(&computed)
            ),
        );
    }
    let entry = match AccessLogEntry::from_canonical(&row.entry) {
        Ok(e) => e,
        Err(e) => return broken(BreakKind::NotCanonical, e.0),
    };
    if entry.time_ms() != row.time_ms
        || entry.patient_id != row.patient_id
        || entry.user_hsa_id != row.user_hsa_id
    {
        // Patient and user ids are not printed: the report may end up in a ticket.
        return broken(
            BreakKind::IndexMismatch,
            "the time, patient_id or user_hsa_id column differs from the hashed entry".into(),
        );
    }
    Ok(None)
}

/// Whether the row is an intact entry that was written at another seq: its stored hash
/// equals the hash of its bytes chained to its own `prev_hash` at some other seq.
async fn moved_from(
    store: &dyn AccessLogStore,
    seq: u64,
    row: &StoredAccessLogRow,
) -> Result<Option<u64>, AccessLogError> {
    let Ok(prev) = <[u8; 32]>::try_from(row.prev_hash.as_slice()) else {
        return Ok(None);
    };
    let matches = |m: u64| m != seq && m > 0 && chain_hash(&prev, m, &row.entry)[..] == row.hash;
    // Where the predecessor's hash is stored now (if it did not move too): right after it.
    let mut candidates = Vec::new();
    if prev == GENESIS_PREV_HASH {
        candidates.push(1);
    } else if let Some(k) = store.access_log_seq_of_hash(&prev).await? {
        candidates.push(u64::try_from(k).unwrap_or(0).saturating_add(1));
    }
    candidates
        .extend((1..=REORDER_WINDOW).flat_map(|d| [seq.saturating_add(d), seq.saturating_sub(d)]));
    Ok(candidates.into_iter().find(|&m| matches(m)))
}
