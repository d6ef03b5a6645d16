//! [`ConsentStore`] for [`PgStore`]: the consent and block register on PostgreSQL, with
//! the same semantics as the SQLite backend (`gateway/store-sqlite/src/consents.rs`).
//!
//! - Two tables, `consent` and `consent_block`, in this store's migration track
//!   (`consents` in `vaxel_schema_version`). Rows are never deleted: revoking and
//!   lifting are recorded, so that PDL access decisions stay explainable afterwards.
//! - Times are UTC milliseconds since the epoch (`BIGINT`), as on SQLite, so SQL
//!   compares them correctly and a value reads back exactly as it was returned.
//! - Ids are random UUIDs (v4, text), made by the node; registration order is an
//!   identity column `seq` (1, 2, 3, … as SQLite's `MAX(seq) + 1`, though a rolled-back
//!   insert may leave a gap). Several nodes register at once without coordinating: the
//!   identity sequence hands out distinct numbers. Lists are in `seq` order.
//! - Revoke and lift are one conditional `UPDATE … WHERE ended IS NULL RETURNING`: of two
//!   nodes ending the same row at once exactly one records it (the other's `UPDATE`
//!   waits for the row lock, re-checks the condition and changes nothing), so the first
//!   end is the one that stays.
//! - Every insert or update of either table is published to the other nodes by a
//!   trigger in the same transaction: `NOTIFY vaxel_changes, '<schema> consent
//!   <patient>'` ([`crate::cluster`]), so a write by any node, or by a tool run against
//!   the database, reaches every node's consent index when it commits.
//! - [`ConsentStore::for_each_rule`] streams the rows (`query_raw`, in `seq` order along
//!   the unique `seq` index, so the first rows arrive before the last are read), inside
//!   one read-only `REPEATABLE READ` transaction: consents and blocks as of one moment.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{IsolationLevel, Row};
use vaxel_model::ResidentId;
use vaxel_store::consent::{
    Block, Consent, ConsentKind, ConsentScope, ConsentStore, EndOutcome, LiftRequestOutcome,
    NewBlock, NewConsent, Rule, RuleVisitor,
};
use vaxel_store::{Result, StoreError};

use crate::{db, PgStore};

/// Migrations of the consent track, applied in order; never edit a released step.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: consents and blocks, and the trigger that tells the other nodes about changes.
    "CREATE TABLE consent (
        id TEXT NOT NULL PRIMARY KEY,
        patient TEXT NOT NULL,
        care_giver TEXT NOT NULL,
        scope TEXT NOT NULL,
        valid_from_ms BIGINT NOT NULL,
        valid_to_ms BIGINT,
        registered_by TEXT NOT NULL,
        registered_at_ms BIGINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('normal', 'emergency')),
        revoked_at_ms BIGINT,
        revoked_by TEXT,
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
    );
    CREATE INDEX consent_patient ON consent (patient, seq);
    CREATE TABLE consent_block (
        id TEXT NOT NULL PRIMARY KEY,
        patient TEXT NOT NULL,
        care_giver TEXT,
        care_unit TEXT,
        valid_from_ms BIGINT NOT NULL,
        valid_to_ms BIGINT,
        registered_by TEXT NOT NULL,
        registered_at_ms BIGINT NOT NULL,
        lifted_at_ms BIGINT,
        lifted_by TEXT,
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        CHECK (care_giver IS NOT NULL OR care_unit IS NOT NULL)
    );
    CREATE INDEX consent_block_patient ON consent_block (patient, seq);
    -- Every node's consent index learns of a change when its transaction commits
    -- (payload `<schema> consent <patient>`, parsed by cluster.rs).
    CREATE FUNCTION consent_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('vaxel_changes', TG_TABLE_SCHEMA || ' consent ' || NEW.patient);
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER consent_changed AFTER INSERT OR UPDATE ON consent
        FOR EACH ROW EXECUTE FUNCTION consent_notify_change();
    CREATE TRIGGER consent_block_changed AFTER INSERT OR UPDATE ON consent_block
        FOR EACH ROW EXECUTE FUNCTION consent_notify_change();",
    // 2: a block's reason, and the patient's request that it be lifted (recorded, never
    // a lift: specs/citizen.md "My consents and blocks"). The row trigger of step 1
    // fires for every UPDATE of the table, so a recorded request is published too.
    "ALTER TABLE consent_block
        ADD COLUMN reason TEXT,
        ADD COLUMN lift_requested_at_ms BIGINT,
        ADD COLUMN lift_requested_by TEXT,
        ADD COLUMN lift_request_reason TEXT;",
];

/// The consent columns in the order [`consent_from_row`] reads them.
macro_rules! consent_columns {
    () => {
        "id, patient, care_giver, scope, valid_from_ms, valid_to_ms, registered_by, \
         registered_at_ms, kind, revoked_at_ms, revoked_by"
    };
}

/// The block columns in the order [`block_from_row`] reads them.
macro_rules! block_columns {
    () => {
        "id, patient, care_giver, care_unit, valid_from_ms, valid_to_ms, registered_by, \
         registered_at_ms, lifted_at_ms, lifted_by, reason, lift_requested_at_ms, \
         lift_requested_by, lift_request_reason"
    };
}

const INSERT_CONSENT: &str = concat!(
    "INSERT INTO consent (",
    consent_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)"
);
const CONSENTS_OF_PATIENT: &str = concat!(
    "SELECT ",
    consent_columns!(),
    " FROM consent WHERE patient = $1 ORDER BY seq"
);
const REVOKE_CONSENT: &str = concat!(
    "UPDATE consent SET revoked_at_ms = $2, revoked_by = $3 \
     WHERE id = $1 AND revoked_at_ms IS NULL RETURNING ",
    consent_columns!()
);
const CONSENT_BY_ID: &str = concat!("SELECT ", consent_columns!(), " FROM consent WHERE id = $1");
const ALL_CONSENTS: &str = concat!("SELECT ", consent_columns!(), " FROM consent ORDER BY seq");

const INSERT_BLOCK: &str = concat!(
    "INSERT INTO consent_block (",
    block_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9, NULL, NULL, NULL)"
);
const BLOCKS_OF_PATIENT: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM consent_block WHERE patient = $1 ORDER BY seq"
);
const LIFT_BLOCK: &str = concat!(
    "UPDATE consent_block SET lifted_at_ms = $2, lifted_by = $3 \
     WHERE id = $1 AND lifted_at_ms IS NULL RETURNING ",
    block_columns!()
);
/// Only the first request is kept, and a lifted block is left alone; the patient is
/// part of the condition (another patient's block is not found).
const REQUEST_BLOCK_LIFT: &str = concat!(
    "UPDATE consent_block SET lift_requested_at_ms = $3, lift_requested_by = $4, \
     lift_request_reason = $5 WHERE id = $1 AND patient = $2 AND lifted_at_ms IS NULL \
     AND lift_requested_at_ms IS NULL RETURNING ",
    block_columns!()
);
const PATIENT_BLOCK_BY_ID: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM consent_block WHERE id = $1 AND patient = $2"
);
const BLOCK_BY_ID: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM consent_block WHERE id = $1"
);
const ALL_BLOCKS: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM consent_block ORDER BY seq"
);

/// A time as stored: UTC milliseconds since the epoch.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored value that does not decode (a row changed outside vaxel).
fn invalid(table: &str, column: &str) -> StoreError {
    StoreError::Backend(format!("a stored {table}.{column} is invalid"))
}

/// Column `idx` of `row`, as an error (never a panic) when its type does not fit.
fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(db)
}

/// A stored time (milliseconds) that is out of chrono's range.
fn invalid_time(row: &Row, idx: usize, table: &str) -> StoreError {
    invalid(table, row.columns().get(idx).map_or("time", |c| c.name()))
}

fn time_at(row: &Row, idx: usize, table: &str) -> Result<DateTime<Utc>> {
    let v: i64 = col(row, idx)?;
    DateTime::from_timestamp_millis(v).ok_or_else(|| invalid_time(row, idx, table))
}

fn opt_time_at(row: &Row, idx: usize, table: &str) -> Result<Option<DateTime<Utc>>> {
    let v: Option<i64> = col(row, idx)?;
    v.map(|v| DateTime::from_timestamp_millis(v).ok_or_else(|| invalid_time(row, idx, table)))
        .transpose()
}

fn patient_at(row: &Row, idx: usize, table: &str) -> Result<ResidentId> {
    let s: &str = col(row, idx)?;
    ResidentId::parse(s).ok_or_else(|| invalid(table, "patient"))
}

/// A consent from a row of [`consent_columns!`].
fn consent_from_row(row: &Row) -> Result<Consent> {
    let scope: &str = col(row, 3)?;
    let kind: &str = col(row, 8)?;
    Ok(Consent {
        id: col(row, 0)?,
        patient: patient_at(row, 1, "consent")?,
        care_giver: col(row, 2)?,
        scope: ConsentScope::from_stored(scope).ok_or_else(|| invalid("consent", "scope"))?,
        valid_from: time_at(row, 4, "consent")?,
        valid_to: opt_time_at(row, 5, "consent")?,
        registered_by: col(row, 6)?,
        registered_at: time_at(row, 7, "consent")?,
        kind: ConsentKind::parse(kind).ok_or_else(|| invalid("consent", "kind"))?,
        revoked_at: opt_time_at(row, 9, "consent")?,
        revoked_by: col(row, 10)?,
    })
}

/// A block from a row of [`block_columns!`].
fn block_from_row(row: &Row) -> Result<Block> {
    Ok(Block {
        id: col(row, 0)?,
        patient: patient_at(row, 1, "consent_block")?,
        care_giver: col(row, 2)?,
        care_unit: col(row, 3)?,
        valid_from: time_at(row, 4, "consent_block")?,
        valid_to: opt_time_at(row, 5, "consent_block")?,
        registered_by: col(row, 6)?,
        registered_at: time_at(row, 7, "consent_block")?,
        lifted_at: opt_time_at(row, 8, "consent_block")?,
        lifted_by: col(row, 9)?,
        reason: col(row, 10)?,
        lift_requested_at: opt_time_at(row, 11, "consent_block")?,
        lift_requested_by: col(row, 12)?,
        lift_request_reason: col(row, 13)?,
    })
}

/// The outcome of a conditional end (`ended`: the row the `UPDATE` returned; `current`:
/// the row as stored, read when the `UPDATE` changed nothing).
fn end_outcome<T>(ended: Option<T>, current: Option<T>) -> EndOutcome<T> {
    match (ended, current) {
        (Some(row), _) => EndOutcome::Ended(row),
        (None, Some(row)) => EndOutcome::AlreadyEnded(row),
        (None, None) => EndOutcome::NotFound,
    }
}

impl PgStore {
    /// End a consent or block: the conditional `UPDATE` (`end_sql`), then, when it changed
    /// nothing, the row as stored (`read_sql`). No transaction is needed: rows are never
    /// deleted and an end is never undone, so the row read afterwards is the one that
    /// made the `UPDATE` a no-op.
    async fn end_row<T>(
        &self,
        end_sql: &str,
        read_sql: &str,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
        decode: fn(&Row) -> Result<T>,
    ) -> Result<EndOutcome<T>> {
        let client = self.client().await?;
        let end = client.prepare_cached(end_sql).await.map_err(db)?;
        let ended = client
            .query_opt(&end, &[&id, &ms(now), &by])
            .await
            .map_err(db)?;
        if let Some(row) = ended {
            return Ok(end_outcome(Some(decode(&row)?), None));
        }
        let read = client.prepare_cached(read_sql).await.map_err(db)?;
        let current = client.query_opt(&read, &[&id]).await.map_err(db)?;
        Ok(end_outcome(None, current.as_ref().map(decode).transpose()?))
    }
}

/// Every row of `sql` (no parameters), decoded and passed to `visit` as it arrives.
async fn stream_rules(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    decode: fn(&Row) -> Result<Rule>,
    visit: &mut RuleVisitor,
) -> Result<()> {
    let statement = tx.prepare_cached(sql).await.map_err(db)?;
    let rows = tx
        .query_raw(&statement, std::iter::empty::<&(dyn ToSql + Sync)>())
        .await
        .map_err(db)?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        visit(decode(&row)?);
    }
    Ok(())
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn register_consent(&self, c: &NewConsent, now: DateTime<Utc>) -> Result<Consent> {
        let id = uuid::Uuid::new_v4().to_string();
        let client = self.client().await?;
        let insert = client.prepare_cached(INSERT_CONSENT).await.map_err(db)?;
        client
            .execute(
                &insert,
                &[
                    &id,
                    &c.patient.as_str(),
                    &c.care_giver,
                    &c.scope.to_stored(),
                    &ms(c.valid_from),
                    &c.valid_to.map(ms),
                    &c.registered_by,
                    &ms(now),
                    &c.kind.as_str(),
                ],
            )
            .await
            .map_err(db)?;
        Ok(c.stored(id, now))
    }

    async fn consents_for_patient(&self, patient: &ResidentId) -> Result<Vec<Consent>> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(CONSENTS_OF_PATIENT)
            .await
            .map_err(db)?;
        let rows = client
            .query(&select, &[&patient.as_str()])
            .await
            .map_err(db)?;
        rows.iter().map(consent_from_row).collect()
    }

    async fn revoke_consent(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Consent>> {
        self.end_row(REVOKE_CONSENT, CONSENT_BY_ID, id, by, now, consent_from_row)
            .await
    }

    async fn register_block(&self, b: &NewBlock, now: DateTime<Utc>) -> Result<Block> {
        let id = uuid::Uuid::new_v4().to_string();
        let client = self.client().await?;
        let insert = client.prepare_cached(INSERT_BLOCK).await.map_err(db)?;
        client
            .execute(
                &insert,
                &[
                    &id,
                    &b.patient.as_str(),
                    &b.care_giver,
                    &b.care_unit,
                    &ms(b.valid_from),
                    &b.valid_to.map(ms),
                    &b.registered_by,
                    &ms(now),
                    &b.reason,
                ],
            )
            .await
            .map_err(db)?;
        Ok(b.stored(id, now))
    }

    async fn blocks_for_patient(&self, patient: &ResidentId) -> Result<Vec<Block>> {
        let client = self.client().await?;
        let select = client.prepare_cached(BLOCKS_OF_PATIENT).await.map_err(db)?;
        let rows = client
            .query(&select, &[&patient.as_str()])
            .await
            .map_err(db)?;
        rows.iter().map(block_from_row).collect()
    }

    async fn lift_block(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Block>> {
        self.end_row(LIFT_BLOCK, BLOCK_BY_ID, id, by, now, block_from_row)
            .await
    }

    async fn request_block_lift(
        &self,
        id: &str,
        patient: &ResidentId,
        by: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LiftRequestOutcome> {
        let client = self.client().await?;
        let request = client
            .prepare_cached(REQUEST_BLOCK_LIFT)
            .await
            .map_err(db)?;
        let recorded = client
            .query_opt(&request, &[&id, &patient.as_str(), &ms(now), &by, &reason])
            .await
            .map_err(db)?;
        if let Some(row) = recorded {
            return Ok(LiftRequestOutcome::Recorded(block_from_row(&row)?));
        }
        // As in `end_row`: a request and a lift are never undone, so the row read now is
        // one that made the UPDATE a no-op.
        let read = client
            .prepare_cached(PATIENT_BLOCK_BY_ID)
            .await
            .map_err(db)?;
        let current = client
            .query_opt(&read, &[&id, &patient.as_str()])
            .await
            .map_err(db)?;
        Ok(match current.as_ref().map(block_from_row).transpose()? {
            None => LiftRequestOutcome::NotFound,
            Some(b) if b.lifted_at.is_some() => LiftRequestOutcome::AlreadyLifted(b),
            Some(b) => LiftRequestOutcome::AlreadyRequested(b),
        })
    }

    async fn for_each_rule(&self, mut visit: RuleVisitor) -> Result<()> {
        let mut client = self.client().await?;
        // One snapshot for both tables: the register as of one moment.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        stream_rules(
            &tx,
            ALL_CONSENTS,
            |r| consent_from_row(r).map(Rule::Consent),
            &mut visit,
        )
        .await?;
        stream_rules(
            &tx,
            ALL_BLOCKS,
            |r| block_from_row(r).map(Rule::Block),
            &mut visit,
        )
        .await?;
        tx.commit().await.map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use chrono::TimeZone;
    use vaxel_store::cluster::ClusterEvent;

    use super::*;
    use crate::test_support::TestDatabase;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 2, d, 8, 0, 0).unwrap()
    }

    fn new_consent(patient: &ResidentId) -> NewConsent {
        NewConsent {
            patient: patient.clone(),
            care_giver: "SE2321000016-CG1".into(),
            scope: ConsentScope::All,
            valid_from: t(1),
            valid_to: None,
            registered_by: "SE2321000016-U1".into(),
            kind: ConsentKind::Normal,
        }
    }

    async fn next(events: &mut tokio::sync::broadcast::Receiver<ClusterEvent>) -> ClusterEvent {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("no notification within 5 s")
            .unwrap()
    }

    /// The store crate's consent suite, unchanged, on a fresh schema.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consent_suite() {
        let Some(db) = TestDatabase::create("vx_consent").await else {
            return;
        };
        let store = PgStore::connect(&db.config).await.unwrap();
        store.migrate_all().await.unwrap();
        vaxel_store::testkit::consents::run_all(&store).await;
    }

    /// The migration publishes changes in the format the listener parses.
    #[test]
    fn the_trigger_publishes_the_documented_payload() {
        let notify = crate::cluster::notify_sql("consent", "NEW.patient");
        assert!(MIGRATIONS[0].contains(&notify), "{notify}");
    }

    /// Consent registrations and revocations on one node reach the other node, with the
    /// patient id as `ResidentId::as_str` gives it (a coordination-style letter kept).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consent_writes_reach_the_other_node() {
        let Some(db) = TestDatabase::create("vx_cnotify").await else {
            return;
        };
        let a = crate::open(&db.config).await.unwrap();
        let b = crate::open(&db.config).await.unwrap();
        let mut events = b.cluster.subscribe();
        let patient = ResidentId::parse("19121212T212").unwrap();
        let expected = ClusterEvent::ConsentChanged {
            patient: "19121212T212".into(),
        };
        let c = a
            .consents
            .register_consent(&new_consent(&patient), t(2))
            .await
            .unwrap();
        assert_eq!(next(&mut events).await, expected);
        a.consents.revoke_consent(&c.id, "x", t(3)).await.unwrap();
        assert_eq!(next(&mut events).await, expected);
        // A revoke that changes nothing publishes nothing.
        a.consents.revoke_consent(&c.id, "x", t(4)).await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(300), events.recv())
                .await
                .is_err(),
            "an unchanged row is not published"
        );
    }

    /// A recorded lift request reaches the other node (the row trigger of step 1 fires
    /// for the columns of step 2); a request that changes nothing publishes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lift_request_reaches_the_other_node() {
        let Some(db) = TestDatabase::create("vx_cliftreq").await else {
            return;
        };
        let a = crate::open(&db.config).await.unwrap();
        let b = crate::open(&db.config).await.unwrap();
        let patient = ResidentId::parse("191212121212").unwrap();
        let mut events = b.cluster.subscribe();
        let expected = ClusterEvent::ConsentChanged {
            patient: "191212121212".into(),
        };
        let block = a
            .consents
            .register_block(
                &NewBlock {
                    patient: patient.clone(),
                    care_giver: Some("SE2321000016-CG2".into()),
                    care_unit: None,
                    valid_from: t(1),
                    valid_to: None,
                    registered_by: "191212121212".into(),
                    reason: None,
                },
                t(1),
            )
            .await
            .unwrap();
        // The registration's notification first, so that the next one is the request's.
        assert_eq!(next(&mut events).await, expected);
        let out = a
            .consents
            .request_block_lift(&block.id, &patient, "191212121212", None, t(2))
            .await
            .unwrap();
        assert!(matches!(out, LiftRequestOutcome::Recorded(_)), "{out:?}");
        assert_eq!(next(&mut events).await, expected);
        let again = a
            .consents
            .request_block_lift(&block.id, &patient, "191212121212", None, t(3))
            .await
            .unwrap();
        assert!(matches!(again, LiftRequestOutcome::AlreadyRequested(_)));
        assert!(
            tokio::time::timeout(Duration::from_millis(300), events.recv())
                .await
                .is_err(),
            "an unchanged row is not published"
        );
    }

    /// A database at consent step 1 keeps its blocks through step 2; they read back
    /// without reason or lift request, and a request can then be recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_1_database_migrates_to_lift_requests() {
        let Some(db) = TestDatabase::create("vx_cstep2").await else {
            return;
        };
        let store = PgStore::connect(&db.config).await.unwrap();
        {
            let mut client = store.client().await.unwrap();
            crate::migrate::run(
                &mut client,
                store.schema(),
                &[("consents", &MIGRATIONS[..1])],
            )
            .await
            .unwrap();
            client
                .execute(
                    "INSERT INTO consent_block (id, patient, care_giver, care_unit, valid_from_ms, \
                     valid_to_ms, registered_by, registered_at_ms, lifted_at_ms, lifted_by) \
                     VALUES ('old', '191212121212', 'SE-CG', NULL, 0, NULL, 'SE-U', 0, NULL, NULL)",
                    &[],
                )
                .await
                .unwrap();
        }
        store.migrate_all().await.unwrap();
        let patient = ResidentId::parse("191212121212").unwrap();
        let blocks = store.blocks_for_patient(&patient).await.unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            (blocks[0].reason.as_deref(), blocks[0].lift_requested_at),
            (None, None)
        );
        let out = store
            .request_block_lift("old", &patient, "191212121212", Some("ok"), t(2))
            .await
            .unwrap();
        assert!(
            matches!(out, LiftRequestOutcome::Recorded(ref b) if b.lift_request_reason.as_deref() == Some("ok")),
            "{out:?}"
        );
    }

    /// Many rows stream in registration order, consents before blocks; every row once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn for_each_rule_streams_everything_in_registration_order() {
        let Some(db) = TestDatabase::create("vx_crules").await else {
            return;
        };
        let store = PgStore::connect(&db.config).await.unwrap();
        store.migrate_all().await.unwrap();
        let patient = ResidentId::parse("191212121212").unwrap();
        let mut consent_ids = Vec::new();
        for day in 1..=20 {
            for _ in 0..50 {
                let c = store
                    .register_consent(&new_consent(&patient), t(day))
                    .await
                    .unwrap();
                consent_ids.push(c.id);
            }
        }
        let block = store
            .register_block(
                &NewBlock {
                    patient: patient.clone(),
                    care_giver: None,
                    care_unit: Some("SE2321000016-CU1".into()),
                    valid_from: t(1),
                    valid_to: Some(t(9)),
                    registered_by: "SE2321000016-U1".into(),
                    reason: None,
                },
                t(1),
            )
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        store
            .for_each_rule(Box::new(move |r| sink.lock().unwrap().push(r)))
            .await
            .unwrap();
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(seen.len(), consent_ids.len() + 1);
        let ids: Vec<&str> = seen
            .iter()
            .filter_map(|r| match r {
                Rule::Consent(c) => Some(c.id.as_str()),
                Rule::Block(_) => None,
            })
            .collect();
        assert_eq!(ids, consent_ids, "registration order");
        assert_eq!(seen.last(), Some(&Rule::Block(block)));
    }

    /// Two nodes ending the same consent at once: exactly one records the end, and the
    /// other sees it as already ended with the winner's time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_revokes_end_once() {
        let Some(db) = TestDatabase::create("vx_crace").await else {
            return;
        };
        let a = PgStore::connect(&db.config).await.unwrap();
        a.migrate_all().await.unwrap();
        let b = PgStore::connect(&db.config).await.unwrap();
        let patient = ResidentId::parse("191212121212").unwrap();
        for _ in 0..20 {
            let c = a
                .register_consent(&new_consent(&patient), t(2))
                .await
                .unwrap();
            let (x, y) = tokio::join!(
                a.revoke_consent(&c.id, "SE-A", t(3)),
                b.revoke_consent(&c.id, "SE-B", t(4))
            );
            let outcomes = [x.unwrap(), y.unwrap()];
            let ended: Vec<&Consent> = outcomes
                .iter()
                .filter_map(|o| match o {
                    EndOutcome::Ended(c) => Some(c),
                    _ => None,
                })
                .collect();
            assert_eq!(ended.len(), 1, "{outcomes:?}");
            for o in &outcomes {
                if let EndOutcome::AlreadyEnded(c) = o {
                    assert_eq!(c, ended[0]);
                }
            }
        }
    }
}
