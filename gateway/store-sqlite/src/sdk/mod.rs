//! [`SdkStore`] for [`SqliteStore`]: SDK outgoing messages with their status, and the
//! inbox.
//!
//! Own migration track (`sdk_schema_version`), like the consent tables. Times are UTC
//! milliseconds (INTEGER). Envelopes (and inbox receipts) are BLOBs in tables of their
//! own, written once: SQLite rewrites a whole row when it changes size, so with the
//! envelope in the status row every claim, receipt and acknowledgement would write the
//! envelope to the WAL (and fsync it) again.
//!
//! How the cluster rules of `vaxel_store::sdk` hold on one file:
//!
//! - claims: one IMMEDIATE transaction on the writer selects the due rows and sets their
//!   lease, so no other claim (this process's or another's on the same file) sees them
//!   due until the lease ends;
//! - duplicates: `INSERT .. ON CONFLICT (message_id) DO NOTHING` on a UNIQUE column
//!   decides; the stored copy is read afterwards, in the same transaction;
//! - final states: every state change is `.. WHERE state IN ('queued', 'sending')`.
//!
//! "Due" is one indexed column, `due_ms`: the next attempt while Queued, the lease end
//! while Sending, NULL once final (a CHECK keeps that). Claims and the delivery loop's
//! next-wake query are then one range of one partial index, oldest due first, with no
//! sort, however long the history of delivered messages grows. Counts per state are kept
//! by triggers in `sdk_count`, so status pages do not count the whole history either.

use std::time::SystemTime;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use vaxel_store::sdk::{
    InboxEntry, InboxInsert, IncomingMessage, NewIncoming, NewOutgoing, OutgoingCounts,
    OutgoingItem, OutgoingState, OutgoingStatus, SdkStore, SubmitOutcome,
};
use vaxel_store::Result;

use crate::{backend, from_millis, millis, write_transaction, Connections, SqliteStore};

/// SDK schema migrations, applied in order. Never edit a released step: add one.
const SDK_MIGRATIONS: &[&str] = &[
    // 1: outgoing messages, the inbox, and their counters.
    "CREATE TABLE sdk_outgoing (
        seq INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        ref_to_message_id TEXT,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('queued', 'sending', 'delivered', 'rejected', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        -- Queued: next attempt; Sending: lease end; final: NULL.
        due_ms INTEGER,
        last_error TEXT,
        receipt_code TEXT,
        receipt BLOB,
        CHECK ((state IN ('queued', 'sending')) = (due_ms IS NOT NULL))
    );
    -- Written once: a state change rewrites the message's row, never its envelope.
    CREATE TABLE sdk_outgoing_envelope (
        seq INTEGER PRIMARY KEY REFERENCES sdk_outgoing (seq) ON DELETE CASCADE,
        envelope BLOB NOT NULL
    );
    CREATE INDEX sdk_outgoing_due ON sdk_outgoing (due_ms, seq) WHERE due_ms IS NOT NULL;
    CREATE INDEX sdk_outgoing_submitter ON sdk_outgoing (submitted_by, created_ms, seq);
    CREATE INDEX sdk_outgoing_created ON sdk_outgoing (created_ms, seq);

    CREATE TABLE sdk_inbox (
        seq INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        delivered_by TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        acknowledged_ms INTEGER
    );
    -- Written once: an acknowledgement rewrites the message's row, never its content.
    CREATE TABLE sdk_inbox_content (
        seq INTEGER PRIMARY KEY REFERENCES sdk_inbox (seq) ON DELETE CASCADE,
        receipt BLOB NOT NULL,
        envelope BLOB NOT NULL
    );
    CREATE INDEX sdk_inbox_pending ON sdk_inbox (recipient, received_ms, seq)
        WHERE acknowledged_ms IS NULL;

    CREATE TABLE sdk_count (name TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO sdk_count (name, n) VALUES
        ('outgoing:queued', 0), ('outgoing:sending', 0), ('outgoing:delivered', 0),
        ('outgoing:rejected', 0), ('outgoing:failed', 0),
        ('inbox:pending', 0), ('inbox:acknowledged', 0);
    CREATE TRIGGER sdk_outgoing_insert_count AFTER INSERT ON sdk_outgoing BEGIN
        UPDATE sdk_count SET n = n + 1 WHERE name = 'outgoing:' || NEW.state;
    END;
    CREATE TRIGGER sdk_outgoing_state_count AFTER UPDATE OF state ON sdk_outgoing
        WHEN OLD.state <> NEW.state BEGIN
        UPDATE sdk_count SET n = n + (CASE WHEN name = 'outgoing:' || NEW.state THEN 1 ELSE -1 END)
            WHERE name IN ('outgoing:' || OLD.state, 'outgoing:' || NEW.state);
    END;
    CREATE TRIGGER sdk_outgoing_delete_count AFTER DELETE ON sdk_outgoing BEGIN
        UPDATE sdk_count SET n = n - 1 WHERE name = 'outgoing:' || OLD.state;
    END;
    CREATE TRIGGER sdk_inbox_insert_count AFTER INSERT ON sdk_inbox BEGIN
        UPDATE sdk_count SET n = n + 1 WHERE name =
            (CASE WHEN NEW.acknowledged_ms IS NULL THEN 'inbox:pending' ELSE 'inbox:acknowledged' END);
    END;
    CREATE TRIGGER sdk_inbox_ack_count AFTER UPDATE OF acknowledged_ms ON sdk_inbox
        WHEN (OLD.acknowledged_ms IS NULL) <> (NEW.acknowledged_ms IS NULL) BEGIN
        UPDATE sdk_count SET n = n
            + (CASE WHEN name = 'inbox:acknowledged' THEN 1 ELSE -1 END)
            * (CASE WHEN NEW.acknowledged_ms IS NULL THEN -1 ELSE 1 END)
            WHERE name IN ('inbox:pending', 'inbox:acknowledged');
    END;
    CREATE TRIGGER sdk_inbox_delete_count AFTER DELETE ON sdk_inbox BEGIN
        UPDATE sdk_count SET n = n - 1 WHERE name =
            (CASE WHEN OLD.acknowledged_ms IS NULL THEN 'inbox:pending' ELSE 'inbox:acknowledged' END);
    END;",
];

/// Create or migrate the SDK tables (idempotent).
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    crate::run_migrations(conn, "sdk_schema_version", "sdk", SDK_MIGRATIONS)
}

const STATUS_COLUMNS: &str = "message_id, conversation_id, ref_to_message_id, sender, \
    recipient, submitted_by, state, attempts, created_ms, updated_ms, due_ms, last_error, \
    receipt_code, receipt";

/// The non-final states, as SQL: every state change is limited to them (final states
/// never change).
const OPEN: &str = "state IN ('queued', 'sending')";

fn status_from_row(row: &Row<'_>) -> rusqlite::Result<OutgoingStatus> {
    let state: String = row.get(6)?;
    let state = OutgoingState::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            format!("stored SDK state {state:?} is unknown").into(),
        )
    })?;
    let due: Option<i64> = row.get(10)?;
    Ok(OutgoingStatus {
        message_id: row.get(0)?,
        conversation_id: row.get(1)?,
        ref_to_message_id: row.get(2)?,
        sender: row.get(3)?,
        recipient: row.get(4)?,
        submitted_by: row.get(5)?,
        state,
        attempts: row.get(7)?,
        created: from_millis(row.get(8)?),
        updated: from_millis(row.get(9)?),
        // While Sending, due_ms is the lease end, not an attempt.
        next_attempt: due
            .filter(|_| state == OutgoingState::Queued)
            .map(from_millis),
        last_error: row.get(11)?,
        receipt_code: row.get(12)?,
        receipt: row.get(13)?,
    })
}

const ENTRY_COLUMNS: &str = "i.message_id, i.conversation_id, i.sender, i.recipient, i.received_ms";

/// Claim: the due range of `sdk_outgoing_due`, oldest due first (no sort), each with
/// its envelope.
const CLAIM_SQL: &str = "SELECT o.seq, o.message_id, o.sender, o.recipient, o.endpoint, \
    o.attempts, o.created_ms, e.envelope \
    FROM sdk_outgoing o JOIN sdk_outgoing_envelope e ON e.seq = o.seq \
    WHERE o.due_ms <= ?1 ORDER BY o.due_ms, o.seq LIMIT ?2";

/// The delivery loop's next wake: the first entry of `sdk_outgoing_due`.
const NEXT_DUE_SQL: &str = "SELECT MIN(due_ms) FROM sdk_outgoing WHERE due_ms IS NOT NULL";

/// Statuses newest first, of one submitter (`?1`, limit `?2`) or of all (limit `?1`).
fn list_sql(by_submitter: bool) -> String {
    let filter = if by_submitter {
        "WHERE submitted_by = ?1 ORDER BY created_ms DESC, seq DESC LIMIT ?2"
    } else {
        "ORDER BY created_ms DESC, seq DESC LIMIT ?1"
    };
    format!("SELECT {STATUS_COLUMNS} FROM sdk_outgoing {filter}")
}

/// A recipient's unacknowledged messages, oldest first: a range of `sdk_inbox_pending`.
fn pending_sql() -> String {
    format!(
        "SELECT {ENTRY_COLUMNS} FROM sdk_inbox i \
         WHERE i.recipient = ?1 AND i.acknowledged_ms IS NULL \
         ORDER BY i.received_ms, i.seq LIMIT ?2"
    )
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<InboxEntry> {
    Ok(InboxEntry {
        message_id: row.get(0)?,
        conversation_id: row.get(1)?,
        sender: row.get(2)?,
        recipient: row.get(3)?,
        received: from_millis(row.get(4)?),
    })
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn status_in(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<OutgoingStatus>> {
    conn.prepare_cached(&format!(
        "SELECT {STATUS_COLUMNS} FROM sdk_outgoing WHERE message_id = ?1"
    ))?
    .query_row([message_id], status_from_row)
    .optional()
}

impl Connections {
    fn sdk_submit(&self, m: &NewOutgoing) -> Result<SubmitOutcome> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let created = millis(m.created);
        let inserted = tx
            .prepare_cached(
                "INSERT INTO sdk_outgoing (message_id, conversation_id, ref_to_message_id, \
                 sender, recipient, submitted_by, endpoint, state, attempts, created_ms, \
                 updated_ms, due_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?8, ?8) \
                 ON CONFLICT (message_id) DO NOTHING",
            )
            .and_then(|mut st| {
                st.execute(params![
                    m.message_id,
                    m.conversation_id,
                    m.ref_to_message_id,
                    m.sender,
                    m.recipient,
                    m.submitted_by,
                    m.endpoint,
                    created
                ])
            })
            .map_err(backend)?;
        let outcome = if inserted == 1 {
            tx.prepare_cached("INSERT INTO sdk_outgoing_envelope (seq, envelope) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![tx.last_insert_rowid(), m.envelope]))
                .map_err(backend)?;
            SubmitOutcome::Queued
        } else {
            // The UNIQUE key refused it: the stored one's status, read in the same
            // transaction (nothing can change it in between).
            let stored = status_in(&tx, &m.message_id)
                .map_err(backend)?
                .ok_or_else(|| {
                    vaxel_store::StoreError::Backend(format!(
                        "SDK message {} neither inserted nor found",
                        m.message_id
                    ))
                })?;
            SubmitOutcome::Duplicate(stored)
        };
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn sdk_claim_due(
        &self,
        now: SystemTime,
        lease_until: SystemTime,
        limit: usize,
    ) -> Result<Vec<OutgoingItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let claimed = {
            let mut select = tx.prepare_cached(CLAIM_SQL).map_err(backend)?;
            let rows = select
                .query_map(params![millis(now), sql_limit(limit)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        OutgoingItem {
                            message_id: r.get(1)?,
                            sender: r.get(2)?,
                            recipient: r.get(3)?,
                            endpoint: r.get(4)?,
                            attempts: r.get(5)?,
                            created: from_millis(r.get(6)?),
                            envelope: r.get(7)?,
                        },
                    ))
                })
                .map_err(backend)?;
            let claimed = rows
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let mut lease = tx
                .prepare_cached(
                    "UPDATE sdk_outgoing SET state = 'sending', due_ms = ?2, updated_ms = ?3 \
                     WHERE seq = ?1",
                )
                .map_err(backend)?;
            for (seq, _) in &claimed {
                lease
                    .execute(params![seq, millis(lease_until), millis(now)])
                    .map_err(backend)?;
            }
            claimed
        };
        tx.commit().map_err(backend)?;
        Ok(claimed.into_iter().map(|(_, item)| item).collect())
    }

    /// One state change of an open (non-final) message, in its own write transaction.
    fn sdk_change(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        tx.prepare_cached(sql)
            .and_then(|mut st| st.execute(params))
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn sdk_record_receipt(
        &self,
        message_id: &str,
        accepted: bool,
        code: &str,
        receipt: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let state = if accepted {
            OutgoingState::Delivered
        } else {
            OutgoingState::Rejected
        };
        self.sdk_change(
            &format!(
                "UPDATE sdk_outgoing SET state = ?2, receipt_code = ?3, receipt = ?4, \
                 due_ms = NULL, updated_ms = ?5 WHERE message_id = ?1 AND {OPEN}"
            ),
            params![message_id, state.as_str(), code, receipt, millis(now)],
        )
    }

    fn sdk_reschedule(
        &self,
        message_id: &str,
        attempts: u32,
        next_attempt: SystemTime,
        error: &str,
        now: SystemTime,
    ) -> Result<()> {
        self.sdk_change(
            &format!(
                "UPDATE sdk_outgoing SET state = 'queued', attempts = ?2, due_ms = ?3, \
                 last_error = ?4, updated_ms = ?5 WHERE message_id = ?1 AND {OPEN}"
            ),
            params![
                message_id,
                attempts,
                millis(next_attempt),
                error,
                millis(now)
            ],
        )
    }

    fn sdk_fail(&self, message_id: &str, error: &str, now: SystemTime) -> Result<()> {
        self.sdk_change(
            &format!(
                "UPDATE sdk_outgoing SET state = 'failed', last_error = ?2, due_ms = NULL, \
                 updated_ms = ?3 WHERE message_id = ?1 AND {OPEN}"
            ),
            params![message_id, error, millis(now)],
        )
    }

    fn sdk_status(&self, message_id: &str) -> Result<Option<OutgoingStatus>> {
        let conn = self.reader()?;
        status_in(&conn, message_id).map_err(backend)
    }

    fn sdk_list(&self, submitted_by: Option<&str>, limit: usize) -> Result<Vec<OutgoingStatus>> {
        let conn = self.reader()?;
        let rows = match submitted_by {
            Some(by) => conn.prepare_cached(&list_sql(true)).and_then(|mut st| {
                st.query_map(params![by, sql_limit(limit)], status_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            }),
            None => conn.prepare_cached(&list_sql(false)).and_then(|mut st| {
                st.query_map([sql_limit(limit)], status_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            }),
        };
        rows.map_err(backend)
    }

    fn sdk_next_due(&self) -> Result<Option<SystemTime>> {
        let conn = self.reader()?;
        let ms: Option<i64> = conn
            .prepare_cached(NEXT_DUE_SQL)
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(backend)?;
        Ok(ms.map(from_millis))
    }

    /// The `sdk_count` counters whose name starts with `prefix`, without it.
    fn sdk_counters(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let conn = self.reader()?;
        let mut st = conn
            .prepare_cached("SELECT name, n FROM sdk_count")
            .map_err(backend)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (name, n) = row.map_err(backend)?;
            if let Some(rest) = name.strip_prefix(prefix) {
                out.push((rest.to_string(), u64::try_from(n).unwrap_or(0)));
            }
        }
        Ok(out)
    }

    fn sdk_counts(&self) -> Result<OutgoingCounts> {
        let mut counts = OutgoingCounts::default();
        for (state, n) in self.sdk_counters("outgoing:")? {
            match OutgoingState::parse(&state) {
                Some(OutgoingState::Queued) => counts.queued = n,
                Some(OutgoingState::Sending) => counts.sending = n,
                Some(OutgoingState::Delivered) => counts.delivered = n,
                Some(OutgoingState::Rejected) => counts.rejected = n,
                Some(OutgoingState::Failed) => counts.failed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    fn sdk_inbox_insert(&self, m: &NewIncoming) -> Result<InboxInsert> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO sdk_inbox (message_id, conversation_id, sender, recipient, \
                 delivered_by, received_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (message_id) DO NOTHING",
            )
            .and_then(|mut st| {
                st.execute(params![
                    m.message_id,
                    m.conversation_id,
                    m.sender,
                    m.recipient,
                    m.delivered_by,
                    millis(m.received)
                ])
            })
            .map_err(backend)?;
        let outcome = if inserted == 1 {
            tx.prepare_cached(
                "INSERT INTO sdk_inbox_content (seq, receipt, envelope) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![tx.last_insert_rowid(), m.receipt, m.envelope]))
            .map_err(backend)?;
            InboxInsert::Inserted
        } else {
            // The UNIQUE key refused it: the first copy's receipt.
            let receipt: Vec<u8> = tx
                .prepare_cached(
                    "SELECT c.receipt FROM sdk_inbox i JOIN sdk_inbox_content c ON c.seq = i.seq \
                     WHERE i.message_id = ?1",
                )
                .and_then(|mut st| st.query_row([&m.message_id], |r| r.get(0)))
                .map_err(backend)?;
            InboxInsert::Duplicate { receipt }
        };
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn sdk_inbox_pending(&self, recipient: &str, limit: usize) -> Result<Vec<InboxEntry>> {
        let conn = self.reader()?;
        conn.prepare_cached(&pending_sql())
            .and_then(|mut st| {
                st.query_map(params![recipient, sql_limit(limit)], entry_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(backend)
    }

    fn sdk_inbox_get(&self, message_id: &str) -> Result<Option<IncomingMessage>> {
        let conn = self.reader()?;
        conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS}, acknowledged_ms, c.receipt, c.envelope \
             FROM sdk_inbox i JOIN sdk_inbox_content c ON c.seq = i.seq WHERE i.message_id = ?1"
        ))
        .and_then(|mut st| {
            st.query_row([message_id], |r| {
                Ok(IncomingMessage {
                    entry: entry_from_row(r)?,
                    acknowledged: r.get::<_, Option<i64>>(5)?.map(from_millis),
                    receipt: r.get(6)?,
                    envelope: r.get(7)?,
                })
            })
            .optional()
        })
        .map_err(backend)
    }

    fn sdk_inbox_ack(&self, message_id: &str, now: SystemTime) -> Result<bool> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let changed = tx
            .prepare_cached(
                "UPDATE sdk_inbox SET acknowledged_ms = ?2 \
                 WHERE message_id = ?1 AND acknowledged_ms IS NULL",
            )
            .and_then(|mut st| st.execute(params![message_id, millis(now)]))
            .map_err(backend)?;
        let known = changed == 1
            || tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM sdk_inbox WHERE message_id = ?1)")
                .and_then(|mut st| st.query_row([message_id], |r| r.get::<_, bool>(0)))
                .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(known)
    }

    fn sdk_inbox_counts(&self) -> Result<(u64, u64)> {
        let mut counts = (0, 0);
        for (name, n) in self.sdk_counters("inbox:")? {
            match name.as_str() {
                "pending" => counts.0 = n,
                "acknowledged" => counts.1 = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl SdkStore for SqliteStore {
    async fn sdk_submit(&self, m: NewOutgoing) -> Result<SubmitOutcome> {
        self.run(move |s| s.sdk_submit(&m)).await
    }

    async fn sdk_claim_due(
        &self,
        now: SystemTime,
        lease_until: SystemTime,
        limit: usize,
    ) -> Result<Vec<OutgoingItem>> {
        self.run(move |s| s.sdk_claim_due(now, lease_until, limit))
            .await
    }

    async fn sdk_record_receipt(
        &self,
        message_id: &str,
        accepted: bool,
        code: &str,
        receipt: Vec<u8>,
        now: SystemTime,
    ) -> Result<()> {
        let (id, code) = (message_id.to_string(), code.to_string());
        self.run(move |s| s.sdk_record_receipt(&id, accepted, &code, &receipt, now))
            .await
    }

    async fn sdk_reschedule(
        &self,
        message_id: &str,
        attempts: u32,
        next_attempt: SystemTime,
        error: &str,
        now: SystemTime,
    ) -> Result<()> {
        let (id, error) = (message_id.to_string(), error.to_string());
        self.run(move |s| s.sdk_reschedule(&id, attempts, next_attempt, &error, now))
            .await
    }

    async fn sdk_fail(&self, message_id: &str, error: &str, now: SystemTime) -> Result<()> {
        let (id, error) = (message_id.to_string(), error.to_string());
        self.run(move |s| s.sdk_fail(&id, &error, now)).await
    }

    async fn sdk_status(&self, message_id: &str) -> Result<Option<OutgoingStatus>> {
        let id = message_id.to_string();
        self.run(move |s| s.sdk_status(&id)).await
    }

    async fn sdk_list(
        &self,
        submitted_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutgoingStatus>> {
        let by = submitted_by.map(str::to_string);
        self.run(move |s| s.sdk_list(by.as_deref(), limit)).await
    }

    async fn sdk_next_due(&self) -> Result<Option<SystemTime>> {
        self.run(|s| s.sdk_next_due()).await
    }

    async fn sdk_counts(&self) -> Result<OutgoingCounts> {
        self.run(|s| s.sdk_counts()).await
    }

    async fn sdk_inbox_insert(&self, m: NewIncoming) -> Result<InboxInsert> {
        self.run(move |s| s.sdk_inbox_insert(&m)).await
    }

    async fn sdk_inbox_pending(&self, recipient: &str, limit: usize) -> Result<Vec<InboxEntry>> {
        let recipient = recipient.to_string();
        self.run(move |s| s.sdk_inbox_pending(&recipient, limit))
            .await
    }

    async fn sdk_inbox_get(&self, message_id: &str) -> Result<Option<IncomingMessage>> {
        let id = message_id.to_string();
        self.run(move |s| s.sdk_inbox_get(&id)).await
    }

    async fn sdk_inbox_ack(&self, message_id: &str, now: SystemTime) -> Result<bool> {
        let id = message_id.to_string();
        self.run(move |s| s.sdk_inbox_ack(&id, now)).await
    }

    async fn sdk_inbox_counts(&self) -> Result<(u64, u64)> {
        self.run(|s| s.sdk_inbox_counts()).await
    }
}

#[cfg(test)]
mod tests;
