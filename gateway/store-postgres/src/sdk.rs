//! [`SdkStore`] for [`PgStore`]: SDK outgoing messages with their status, and the inbox,
//! on the database that every gateway node of a cluster shares.
//!
//! Own migration track (`sdk`), as on SQLite. Times are UTC milliseconds (BIGINT),
//! envelopes and receipts BYTEA.
//!
//! Tables:
//!
//! - `sdk_outgoing`: one small row per submitted message with its status. "Due" is one
//!   column, `due_ms`: the next attempt while Queued, the lease end while Sending, NULL
//!   once final (a CHECK keeps that). Claims and the delivery loop's next-wake query are
//!   one range of one partial index (`sdk_outgoing_due`, only the open messages), oldest
//!   due first, however long the history of delivered messages grows.
//! - `sdk_outgoing_envelope`: the envelope (up to ~40 MB), written once at submit and
//!   read by claims. Kept apart from the status row: PostgreSQL writes a new row version
//!   on every update (claim, receipt, reschedule), and while TOAST moves large values
//!   out of line, envelopes below its ~2 kB threshold would be copied on each update,
//!   and a status row that stays a few hundred bytes keeps status pages, lists and
//!   vacuum of the hot table cheap. The outgoing receipt stays in the status row: it is
//!   written with the final state, after which the row never changes again.
//! - `sdk_inbox` and `sdk_inbox_content`: the same split for received messages (the
//!   acknowledgement rewrites the small row, never the content).
//!
//! Large BYTEA columns use `STORAGE EXTERNAL`: out of line but not compressed. They are
//! ciphertext (or signed XML around it), which pglz cannot shrink; trying costs the
//! database CPU on every 40 MB write for nothing.
//!
//! How the cluster rules of `vaxel_store::sdk` hold with several nodes:
//!
//! - claims: one statement selects the due rows `FOR NO KEY UPDATE SKIP LOCKED`, sets
//!   their lease and returns them with their envelopes. A row another node's claim has
//!   locked is skipped, and a row another node claimed and committed since this
//!   statement's snapshot is re-checked on its newest version (`due_ms <= now` then
//!   fails), so no message is returned twice while leased; after the lease it is due
//!   again for any node (a dead node's claims are picked up);
//! - duplicates: `INSERT .. ON CONFLICT (message_id) DO NOTHING` on the UNIQUE key
//!   decides (a concurrent insert of the same id waits for the first one's commit); only
//!   when nothing was inserted is the stored copy read, by a following statement, which
//!   sees the committed winner;
//! - final states: every state change is `.. WHERE state IN ('queued', 'sending')`,
//!   re-checked on the newest row version under its lock;
//! - durability: every write is one autocommitted statement.
//!
//! Round trips: each operation is one statement (submit and inbox insert write both of
//! their tables in one statement with a data-modifying `WITH`; a duplicate costs one
//! more read), prepared once per pooled connection (`prepare_cached`).
//!
//! Counts are counted, not kept: a counter row that every submit, claim and receipt of
//! every node updates would serialise all writers of the cluster on its row lock.
//! `GROUP BY state` over the small `sdk_outgoing_state` index (deduplicated B-tree,
//! index-only scan once vacuumed) costs the status page time proportional to the kept
//! history instead, and every write one more index entry; the inbox counts use the
//! pending partial index and the primary key. Status pages are read rarely, deliveries
//! are the hot path.

use std::time::SystemTime;

use async_trait::async_trait;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;
use vaxel_store::sdk::{
    InboxEntry, InboxInsert, IncomingMessage, NewIncoming, NewOutgoing, OutgoingCounts,
    OutgoingItem, OutgoingState, OutgoingStatus, SdkStore, SubmitOutcome,
};
use vaxel_store::{Result, StoreError};

use crate::{db, from_millis, millis, sql_limit, PgStore};

/// Migrations, applied in order; never edit a released step: add one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: outgoing messages and the inbox.
    "CREATE TABLE sdk_outgoing (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        ref_to_message_id TEXT,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('queued', 'sending', 'delivered', 'rejected', 'failed')),
        attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 4294967295),
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        -- Queued: next attempt; Sending: lease end; final: NULL.
        due_ms BIGINT,
        last_error TEXT,
        receipt_code TEXT,
        receipt BYTEA,
        CHECK ((state IN ('queued', 'sending')) = (due_ms IS NOT NULL))
    );
    ALTER TABLE sdk_outgoing ALTER COLUMN receipt SET STORAGE EXTERNAL;
    -- Written once: a state change writes a new status row, never the envelope again.
    CREATE TABLE sdk_outgoing_envelope (
        seq BIGINT PRIMARY KEY REFERENCES sdk_outgoing (seq) ON DELETE CASCADE,
        envelope BYTEA NOT NULL
    );
    ALTER TABLE sdk_outgoing_envelope ALTER COLUMN envelope SET STORAGE EXTERNAL;
    CREATE INDEX sdk_outgoing_due ON sdk_outgoing (due_ms, seq) WHERE due_ms IS NOT NULL;
    CREATE INDEX sdk_outgoing_submitter ON sdk_outgoing (submitted_by, created_ms, seq);
    CREATE INDEX sdk_outgoing_created ON sdk_outgoing (created_ms, seq);
    CREATE INDEX sdk_outgoing_state ON sdk_outgoing (state);

    CREATE TABLE sdk_inbox (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        delivered_by TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        acknowledged_ms BIGINT
    );
    -- Written once: an acknowledgement writes a new inbox row, never the content again.
    CREATE TABLE sdk_inbox_content (
        seq BIGINT PRIMARY KEY REFERENCES sdk_inbox (seq) ON DELETE CASCADE,
        receipt BYTEA NOT NULL,
        envelope BYTEA NOT NULL
    );
    ALTER TABLE sdk_inbox_content
        ALTER COLUMN receipt SET STORAGE EXTERNAL,
        ALTER COLUMN envelope SET STORAGE EXTERNAL;
    CREATE INDEX sdk_inbox_pending ON sdk_inbox (recipient, received_ms, seq)
        WHERE acknowledged_ms IS NULL;",
];

/// The columns [`status_from_row`] reads, in its order.
macro_rules! status_columns {
    () => {
        "message_id, conversation_id, ref_to_message_id, sender, recipient, submitted_by, \
         state, attempts, created_ms, updated_ms, due_ms, last_error, receipt_code, receipt"
    };
}

/// The columns [`entry_from_row`] reads, in its order (inbox alias `i`).
macro_rules! entry_columns {
    () => {
        "i.message_id, i.conversation_id, i.sender, i.recipient, i.received_ms"
    };
}

/// Store a new message and its envelope in one statement; one row affected when stored,
/// none when the message id is taken.
const SUBMIT_SQL: &str = "WITH ins AS (
        INSERT INTO sdk_outgoing (message_id, conversation_id, ref_to_message_id, sender,
            recipient, submitted_by, endpoint, state, attempts, created_ms, updated_ms, due_ms)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8, $8)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING seq)
    INSERT INTO sdk_outgoing_envelope (seq, envelope) SELECT seq, $9::bytea FROM ins";

const STATUS_SQL: &str = concat!(
    "SELECT ",
    status_columns!(),
    " FROM sdk_outgoing WHERE message_id = $1"
);

/// Claim (`$1` now, `$2` lease end, `$3` limit): lock up to `$3` due rows of
/// `sdk_outgoing_due`, oldest due first, skipping those another claim holds; lease them;
/// return them with their envelopes, in due order.
const CLAIM_SQL: &str = "WITH due AS MATERIALIZED (
        SELECT seq, due_ms FROM sdk_outgoing
        WHERE due_ms <= $1
        ORDER BY due_ms, seq
        LIMIT $3
        FOR NO KEY UPDATE SKIP LOCKED),
    claimed AS (
        UPDATE sdk_outgoing o SET state = 'sending', due_ms = $2, updated_ms = $1
        FROM due d WHERE o.seq = d.seq
        RETURNING o.seq, d.due_ms AS was_due, o.message_id, o.sender, o.recipient,
            o.endpoint, o.attempts, o.created_ms)
    SELECT c.message_id, c.sender, c.recipient, c.endpoint, c.attempts, c.created_ms,
        e.envelope
    FROM claimed c JOIN sdk_outgoing_envelope e ON e.seq = c.seq
    ORDER BY c.was_due, c.seq";

/// The receiving gateway answered (`$2` delivered or rejected).
const RECEIPT_SQL: &str = "UPDATE sdk_outgoing SET state = $2, receipt_code = $3, \
    receipt = $4, due_ms = NULL, updated_ms = $5 \
    WHERE message_id = $1 AND state IN ('queued', 'sending')";

const RESCHEDULE_SQL: &str = "UPDATE sdk_outgoing SET state = 'queued', attempts = $2, \
    due_ms = $3, last_error = $4, updated_ms = $5 \
    WHERE message_id = $1 AND state IN ('queued', 'sending')";

const FAIL_SQL: &str = "UPDATE sdk_outgoing SET state = 'failed', last_error = $2, \
    due_ms = NULL, updated_ms = $3 \
    WHERE message_id = $1 AND state IN ('queued', 'sending')";

/// Statuses newest first of one submitter (`$1`, limit `$2`): a backward range of
/// `sdk_outgoing_submitter`.
const LIST_BY_SQL: &str = concat!(
    "SELECT ",
    status_columns!(),
    " FROM sdk_outgoing WHERE submitted_by = $1 ORDER BY created_ms DESC, seq DESC LIMIT $2"
);

/// Statuses newest first of everyone (limit `$1`): `sdk_outgoing_created` backwards.
const LIST_ALL_SQL: &str = concat!(
    "SELECT ",
    status_columns!(),
    " FROM sdk_outgoing ORDER BY created_ms DESC, seq DESC LIMIT $1"
);

/// The delivery loop's next wake: the first entry of `sdk_outgoing_due`.
const NEXT_DUE_SQL: &str = "SELECT min(due_ms) FROM sdk_outgoing WHERE due_ms IS NOT NULL";

const COUNTS_SQL: &str = "SELECT state, count(*) FROM sdk_outgoing GROUP BY state";

/// Store a received message and its content in one statement; one row affected when
/// stored, none when the message id is taken.
const INBOX_INSERT_SQL: &str = "WITH ins AS (
        INSERT INTO sdk_inbox (message_id, conversation_id, sender, recipient,
            delivered_by, received_ms)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING seq)
    INSERT INTO sdk_inbox_content (seq, receipt, envelope)
    SELECT seq, $7::bytea, $8::bytea FROM ins";

const INBOX_RECEIPT_SQL: &str = "SELECT c.receipt FROM sdk_inbox i \
    JOIN sdk_inbox_content c ON c.seq = i.seq WHERE i.message_id = $1";

/// A recipient's unacknowledged messages, oldest first: a range of `sdk_inbox_pending`.
const INBOX_PENDING_SQL: &str = concat!(
    "SELECT ",
    entry_columns!(),
    " FROM sdk_inbox i WHERE i.recipient = $1 AND i.acknowledged_ms IS NULL \
     ORDER BY i.received_ms, i.seq LIMIT $2"
);

const INBOX_GET_SQL: &str = concat!(
    "SELECT ",
    entry_columns!(),
    ", i.acknowledged_ms, c.receipt, c.envelope \
     FROM sdk_inbox i JOIN sdk_inbox_content c ON c.seq = i.seq WHERE i.message_id = $1"
);

/// Acknowledge once (a second acknowledgement writes nothing and keeps the first time);
/// whether the message exists, in the same statement.
const INBOX_ACK_SQL: &str = "WITH acked AS (
        UPDATE sdk_inbox SET acknowledged_ms = $2
        WHERE message_id = $1 AND acknowledged_ms IS NULL
        RETURNING seq)
    SELECT EXISTS (SELECT 1 FROM acked)
        OR EXISTS (SELECT 1 FROM sdk_inbox WHERE message_id = $1)";

/// `(pending, all)`, from one snapshot: the pending partial index and the primary key.
const INBOX_COUNTS_SQL: &str = "SELECT \
    (SELECT count(*) FROM sdk_inbox WHERE acknowledged_ms IS NULL), \
    (SELECT count(*) FROM sdk_inbox)";

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Rows of one prepared (cached per connection) statement.
async fn query(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query(&statement, params).await.map_err(db)
}

/// At most one row of one prepared statement.
async fn query_opt(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_opt(&statement, params).await.map_err(db)
}

/// Exactly one row of one prepared statement.
async fn query_one(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<Row> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_one(&statement, params).await.map_err(db)
}

/// Rows affected by one prepared statement.
async fn execute(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<u64> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.execute(&statement, params).await.map_err(db)
}

/// Column `i` of `row`, as a store error (never a panic) when its type does not match.
fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(db)
}

/// A stored (never negative) count or attempt number.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn attempts(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn state_of(name: &str) -> Result<OutgoingState> {
    OutgoingState::parse(name)
        .ok_or_else(|| StoreError::Backend(format!("stored SDK state {name:?} is unknown")))
}

/// A row of [`status_columns`].
fn status_from_row(row: &Row) -> Result<OutgoingStatus> {
    let state = state_of(col(row, 6)?)?;
    let due: Option<i64> = col(row, 10)?;
    Ok(OutgoingStatus {
        message_id: col(row, 0)?,
        conversation_id: col(row, 1)?,
        ref_to_message_id: col(row, 2)?,
        sender: col(row, 3)?,
        recipient: col(row, 4)?,
        submitted_by: col(row, 5)?,
        state,
        attempts: attempts(col(row, 7)?),
        created: from_millis(col(row, 8)?),
        updated: from_millis(col(row, 9)?),
        // While Sending, due_ms is the lease end, not an attempt.
        next_attempt: due
            .filter(|_| state == OutgoingState::Queued)
            .map(from_millis),
        last_error: col(row, 11)?,
        receipt_code: col(row, 12)?,
        receipt: col(row, 13)?,
    })
}

/// A row of [`entry_columns`].
fn entry_from_row(row: &Row) -> Result<InboxEntry> {
    Ok(InboxEntry {
        message_id: col(row, 0)?,
        conversation_id: col(row, 1)?,
        sender: col(row, 2)?,
        recipient: col(row, 3)?,
        received: from_millis(col(row, 4)?),
    })
}

#[async_trait]
impl SdkStore for PgStore {
    async fn sdk_submit(&self, m: NewOutgoing) -> Result<SubmitOutcome> {
        let created = millis(m.created);
        let inserted = execute(
            self,
            SUBMIT_SQL,
            &[
                &m.message_id,
                &m.conversation_id,
                &m.ref_to_message_id,
                &m.sender,
                &m.recipient,
                &m.submitted_by,
                &m.endpoint,
                &created,
                &m.envelope,
            ],
        )
        .await?;
        if inserted == 1 {
            return Ok(SubmitOutcome::Queued);
        }
        // The UNIQUE key refused it (after any concurrent insert of the same id
        // committed): the stored one's status. Messages are never deleted by this store,
        // so it is there.
        match self.sdk_status(&m.message_id).await? {
            Some(stored) => Ok(SubmitOutcome::Duplicate(stored)),
            None => Err(StoreError::Backend(format!(
                "SDK message {} neither inserted nor found",
                m.message_id
            ))),
        }
    }

    async fn sdk_claim_due(
        &self,
        now: SystemTime,
        lease_until: SystemTime,
        limit: usize,
    ) -> Result<Vec<OutgoingItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = query(
            self,
            CLAIM_SQL,
            &[&millis(now), &millis(lease_until), &sql_limit(limit)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutgoingItem {
                    message_id: col(r, 0)?,
                    sender: col(r, 1)?,
                    recipient: col(r, 2)?,
                    endpoint: col(r, 3)?,
                    attempts: attempts(col(r, 4)?),
                    created: from_millis(col(r, 5)?),
                    envelope: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn sdk_record_receipt(
        &self,
        message_id: &str,
        accepted: bool,
        code: &str,
        receipt: Vec<u8>,
        now: SystemTime,
    ) -> Result<()> {
        let state = if accepted {
            OutgoingState::Delivered
        } else {
            OutgoingState::Rejected
        };
        execute(
            self,
            RECEIPT_SQL,
            &[&message_id, &state.as_str(), &code, &receipt, &millis(now)],
        )
        .await
        .map(|_| ())
    }

    async fn sdk_reschedule(
        &self,
        message_id: &str,
        attempts: u32,
        next_attempt: SystemTime,
        error: &str,
        now: SystemTime,
    ) -> Result<()> {
        execute(
            self,
            RESCHEDULE_SQL,
            &[
                &message_id,
                &i64::from(attempts),
                &millis(next_attempt),
                &error,
                &millis(now),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn sdk_fail(&self, message_id: &str, error: &str, now: SystemTime) -> Result<()> {
        execute(self, FAIL_SQL, &[&message_id, &error, &millis(now)])
            .await
            .map(|_| ())
    }

    async fn sdk_status(&self, message_id: &str) -> Result<Option<OutgoingStatus>> {
        query_opt(self, STATUS_SQL, &[&message_id])
            .await?
            .as_ref()
            .map(status_from_row)
            .transpose()
    }

    async fn sdk_list(
        &self,
        submitted_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutgoingStatus>> {
        let limit = sql_limit(limit);
        let rows = match submitted_by {
            Some(by) => query(self, LIST_BY_SQL, &[&by, &limit]).await?,
            None => query(self, LIST_ALL_SQL, &[&limit]).await?,
        };
        rows.iter().map(status_from_row).collect()
    }

    async fn sdk_next_due(&self) -> Result<Option<SystemTime>> {
        let row = query_one(self, NEXT_DUE_SQL, &[]).await?;
        Ok(col::<Option<i64>>(&row, 0)?.map(from_millis))
    }

    async fn sdk_counts(&self) -> Result<OutgoingCounts> {
        let mut counts = OutgoingCounts::default();
        for row in query(self, COUNTS_SQL, &[]).await? {
            let n = count(col(&row, 1)?);
            match state_of(col(&row, 0)?)? {
                OutgoingState::Queued => counts.queued = n,
                OutgoingState::Sending => counts.sending = n,
                OutgoingState::Delivered => counts.delivered = n,
                OutgoingState::Rejected => counts.rejected = n,
                OutgoingState::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }

    async fn sdk_inbox_insert(&self, m: NewIncoming) -> Result<InboxInsert> {
        let inserted = execute(
            self,
            INBOX_INSERT_SQL,
            &[
                &m.message_id,
                &m.conversation_id,
                &m.sender,
                &m.recipient,
                &m.delivered_by,
                &millis(m.received),
                &m.receipt,
                &m.envelope,
            ],
        )
        .await?;
        if inserted == 1 {
            return Ok(InboxInsert::Inserted);
        }
        // The UNIQUE key refused it: the first copy's receipt (committed, with its
        // content, by the statement that inserted it).
        match query_opt(self, INBOX_RECEIPT_SQL, &[&m.message_id]).await? {
            Some(row) => Ok(InboxInsert::Duplicate {
                receipt: col(&row, 0)?,
            }),
            None => Err(StoreError::Backend(format!(
                "SDK inbox message {} neither inserted nor found",
                m.message_id
            ))),
        }
    }

    async fn sdk_inbox_pending(&self, recipient: &str, limit: usize) -> Result<Vec<InboxEntry>> {
        query(self, INBOX_PENDING_SQL, &[&recipient, &sql_limit(limit)])
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    async fn sdk_inbox_get(&self, message_id: &str) -> Result<Option<IncomingMessage>> {
        let Some(row) = query_opt(self, INBOX_GET_SQL, &[&message_id]).await? else {
            return Ok(None);
        };
        Ok(Some(IncomingMessage {
            entry: entry_from_row(&row)?,
            acknowledged: col::<Option<i64>>(&row, 5)?.map(from_millis),
            receipt: col(&row, 6)?,
            envelope: col(&row, 7)?,
        }))
    }

    async fn sdk_inbox_ack(&self, message_id: &str, now: SystemTime) -> Result<bool> {
        let row = query_one(self, INBOX_ACK_SQL, &[&message_id, &millis(now)]).await?;
        col(&row, 0)
    }

    async fn sdk_inbox_counts(&self) -> Result<(u64, u64)> {
        let row = query_one(self, INBOX_COUNTS_SQL, &[]).await?;
        let pending = count(col(&row, 0)?);
        let all = count(col(&row, 1)?);
        Ok((pending, all.saturating_sub(pending)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::test_support::TestDatabase;

    async fn store(prefix: &str) -> Option<(TestDatabase, Arc<PgStore>)> {
        let db = TestDatabase::create(prefix).await?;
        let store = Arc::new(PgStore::connect(&db.config).await.unwrap());
        store.migrate_all().await.unwrap();
        Some((db, store))
    }

    fn outgoing(id: &str, created: SystemTime) -> NewOutgoing {
        NewOutgoing {
            message_id: id.into(),
            conversation_id: "conv".into(),
            ref_to_message_id: None,
            sender: "SE-ORG-A".into(),
            recipient: "SE-ORG-B".into(),
            submitted_by: "system-1".into(),
            endpoint: "https://b.example.invalid/sdk".into(),
            envelope: format!("<envelope id='{id}'/>").into_bytes(),
            created,
        }
    }

    fn incoming(id: &str, n: usize) -> NewIncoming {
        NewIncoming {
            message_id: id.into(),
            conversation_id: "conv".into(),
            sender: "SE-ORG-A".into(),
            recipient: "SE-ORG-B".into(),
            delivered_by: format!("gateway-{n}"),
            envelope: vec![0xa5; 512],
            receipt: format!("<receipt n='{n}'/>").into_bytes(),
            received: UNIX_EPOCH + Duration::from_secs(1_000_000),
        }
    }

    /// The store crate's SDK compliance suite, unchanged, twice on one schema (the
    /// second run on a store that is not empty); the counts then match the rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sdk_suite() {
        let Some((_db, store)) = store("vx_sdk").await else {
            return;
        };
        let sdk: Arc<dyn SdkStore> = store.clone();
        vaxel_store::testkit::sdk::run_all(&sdk).await;
        vaxel_store::testkit::sdk::run_all(&sdk).await;
        let counts = store.sdk_counts().await.unwrap();
        assert!(counts.failed > 0 && counts.delivered > 0 && counts.rejected > 0);
        assert_eq!((counts.queued, counts.sending), (0, 0), "{counts:?}");
        let (pending, acked) = store.sdk_inbox_counts().await.unwrap();
        assert_eq!(pending, 0);
        assert!(acked > 0);
    }

    /// Two nodes (two pools) claim the same 500 due messages at once, several claimers
    /// each, in rounds: every message is claimed exactly once while its lease holds, and
    /// once the lease ended (both nodes "died") the other node takes them all again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_never_claim_the_same_sdk_message() {
        const ITEMS: usize = 500;
        let Some((db, a)) = store("vx_sdk_claims").await else {
            return;
        };
        let b = Arc::new(PgStore::connect(&db.config).await.unwrap());
        let nodes: [Arc<dyn SdkStore>; 2] = [a.clone(), b.clone()];
        for round in 0..3u64 {
            let t = UNIX_EPOCH + Duration::from_secs(1_000_000 + round * 10_000);
            let ids: Vec<String> = (0..ITEMS).map(|n| format!("claim-{round}-{n}")).collect();
            for (n, id) in ids.iter().enumerate() {
                let node = &nodes[n % 2];
                let m = outgoing(id, t + Duration::from_millis(n as u64));
                assert_eq!(node.sdk_submit(m).await.unwrap(), SubmitOutcome::Queued);
            }
            let (now, lease) = (t + Duration::from_secs(60), t + Duration::from_secs(120));
            let claimers: Vec<_> = (0..8)
                .map(|c| {
                    let node = nodes[c % 2].clone();
                    tokio::spawn(async move {
                        let mut got = Vec::new();
                        loop {
                            let batch = node.sdk_claim_due(now, lease, 7).await.unwrap();
                            if batch.is_empty() {
                                break got;
                            }
                            got.extend(batch.into_iter().map(|i| i.message_id));
                        }
                    })
                })
                .collect();
            let mut claimed = Vec::new();
            for claimer in claimers {
                claimed.extend(claimer.await.unwrap());
            }
            let unique: HashSet<&String> = claimed.iter().collect();
            assert_eq!(unique.len(), claimed.len(), "a message was claimed twice");
            assert_eq!(unique, ids.iter().collect(), "every message was claimed");
            for node in &nodes {
                let early = lease - Duration::from_millis(1);
                assert!(node
                    .sdk_claim_due(early, lease, 1000)
                    .await
                    .unwrap()
                    .is_empty());
            }
            let counts = a.sdk_counts().await.unwrap();
            assert_eq!((counts.queued, counts.sending), (0, ITEMS as u64));
            // The lease ended: node B takes over every message, oldest due first.
            let again = b
                .sdk_claim_due(lease, lease + Duration::from_secs(60), 10_000)
                .await
                .unwrap();
            let order: Vec<&str> = again.iter().map(|i| i.message_id.as_str()).collect();
            assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
            for id in &ids {
                a.sdk_fail(id, "test: done", lease).await.unwrap();
            }
        }
        assert_eq!(b.sdk_next_due().await.unwrap(), None);
    }

    /// Two nodes store the same inbox message id (and submit the same outgoing id) at
    /// once: exactly one stores it, every other gets the first copy's receipt.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_store_one_copy_of_a_message_id() {
        let Some((db, a)) = store("vx_sdk_dups").await else {
            return;
        };
        let b = Arc::new(PgStore::connect(&db.config).await.unwrap());
        let nodes: [Arc<dyn SdkStore>; 2] = [a.clone(), b.clone()];
        for round in 0..20 {
            let id = format!("in-race-{round}");
            let tasks: Vec<_> = (0..16)
                .map(|n| {
                    let node = nodes[n % 2].clone();
                    let m = incoming(&id, n);
                    tokio::spawn(async move { (m.receipt.clone(), node.sdk_inbox_insert(m).await) })
                })
                .collect();
            let mut winners = Vec::new();
            let mut duplicates = Vec::new();
            for task in tasks {
                match task.await.unwrap() {
                    (receipt, Ok(InboxInsert::Inserted)) => winners.push(receipt),
                    (_, Ok(InboxInsert::Duplicate { receipt })) => duplicates.push(receipt),
                    (_, Err(e)) => panic!("inbox insert failed: {e}"),
                }
            }
            assert_eq!(winners.len(), 1, "exactly one Inserted in round {round}");
            assert!(duplicates.iter().all(|r| *r == winners[0]));
            let stored = b.sdk_inbox_get(&id).await.unwrap().unwrap();
            assert_eq!(stored.receipt, winners[0]);

            let out = format!("out-race-{round}");
            let t = UNIX_EPOCH + Duration::from_secs(2_000_000);
            let tasks: Vec<_> = (0..16)
                .map(|n| {
                    let node = nodes[n % 2].clone();
                    let m = outgoing(&out, t);
                    tokio::spawn(async move { node.sdk_submit(m).await.unwrap() })
                })
                .collect();
            let mut queued = 0;
            for task in tasks {
                match task.await.unwrap() {
                    SubmitOutcome::Queued => queued += 1,
                    SubmitOutcome::Duplicate(st) => assert_eq!(st.message_id, out),
                }
            }
            assert_eq!(queued, 1, "exactly one Queued in round {round}");
        }
        assert_eq!(a.sdk_inbox_counts().await.unwrap(), (20, 0));
        assert_eq!(b.sdk_counts().await.unwrap().queued, 20);
    }

    /// Envelopes and receipts of ~40 MB go in and come back whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forty_megabyte_envelopes_round_trip() {
        let Some((_db, store)) = store("vx_sdk_large").await else {
            return;
        };
        let big: Vec<u8> = (0..40 << 20).map(|n: u32| (n % 251) as u8).collect();
        let t = UNIX_EPOCH + Duration::from_secs(3_000_000);
        let m = NewOutgoing {
            envelope: big.clone(),
            ..outgoing("large", t)
        };
        store.sdk_submit(m).await.unwrap();
        let claimed = store
            .sdk_claim_due(t, t + Duration::from_secs(60), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(claimed[0].envelope == big, "the envelope comes back whole");
        let receipt = big[..1 << 20].to_vec();
        store
            .sdk_record_receipt("large", true, "ok", receipt.clone(), t)
            .await
            .unwrap();
        let st = store.sdk_status("large").await.unwrap().unwrap();
        assert!(st.receipt.as_deref() == Some(&receipt[..]));
        let m = NewIncoming {
            envelope: big.clone(),
            receipt: receipt.clone(),
            ..incoming("large-in", 0)
        };
        assert_eq!(
            store.sdk_inbox_insert(m).await.unwrap(),
            InboxInsert::Inserted
        );
        let got = store.sdk_inbox_get("large-in").await.unwrap().unwrap();
        assert!(got.envelope == big && got.receipt == receipt);
    }

    /// The hot statements, as the pool runs them (prepared, generic plan), use their
    /// index: claims and the next wake stay a range of the due index however long the
    /// history grows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hot_statements_use_their_index() {
        let Some((_db, store)) = store("vx_sdk_plan").await else {
            return;
        };
        let client = store.client().await.unwrap();
        client
            .batch_execute(
                "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;
                 SET enable_bitmapscan = off;",
            )
            .await
            .unwrap();
        for (name, sql, args, index) in [
            ("claim", CLAIM_SQL, "(1, 2, 3)", "sdk_outgoing_due"),
            ("next_due", NEXT_DUE_SQL, "", "sdk_outgoing_due"),
            (
                "list_by",
                LIST_BY_SQL,
                "('x', 10)",
                "sdk_outgoing_submitter",
            ),
            ("list_all", LIST_ALL_SQL, "(10)", "sdk_outgoing_created"),
            (
                "pending",
                INBOX_PENDING_SQL,
                "('x', 10)",
                "sdk_inbox_pending",
            ),
            ("counts", COUNTS_SQL, "", "sdk_outgoing_state"),
        ] {
            client
                .batch_execute(&format!("PREPARE plan_{name} AS {sql}"))
                .await
                .unwrap();
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN EXECUTE plan_{name}{args}"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let plan = plan.join("\n");
            assert!(plan.contains(index), "{name}:\n{plan}");
            assert!(
                !plan.contains("Seq Scan on sdk_outgoing "),
                "{name}:\n{plan}"
            );
        }
    }

    /// Profile (not a test; `--ignored --nocapture`): the cost of one-item claims as
    /// delivered messages accumulate, and the claim's plan at the end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore]
    async fn claim_cost_profile() {
        let Some((_db, store)) = store("vx_sdk_prof").await else {
            return;
        };
        let n = 3000;
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..n {
            let m = outgoing(&format!("prof-{i}"), t0 + Duration::from_millis(i));
            store.sdk_submit(m).await.unwrap();
        }
        let now = t0 + Duration::from_secs(3600);
        let lease = now + Duration::from_secs(60);
        let mut times = Vec::new();
        for _ in 0..n {
            let start = std::time::Instant::now();
            let got = store.sdk_claim_due(now, lease, 1).await.unwrap();
            times.push(start.elapsed());
            let m = &got[0];
            store
                .sdk_record_receipt(&m.message_id, true, "AP", b"<r/>".to_vec(), now)
                .await
                .unwrap();
        }
        let avg = |s: &[Duration]| s.iter().sum::<Duration>() / s.len() as u32;
        println!(
            "claim of one: first 100 avg {:?}, last 100 avg {:?}",
            avg(&times[..100]),
            avg(&times[times.len() - 100..])
        );
        let client = store.client().await.unwrap();
        for row in client
            .query(
                &format!(
                    "EXPLAIN (ANALYZE, BUFFERS) {}",
                    CLAIM_SQL
                        .replace("$1", &millis(now).to_string())
                        .replace("$2", &millis(lease).to_string())
                        .replace("$3", "1")
                ),
                &[],
            )
            .await
            .unwrap()
        {
            let line: String = row.get(0);
            println!("{line}");
        }
    }
}
