//! [`ConsentStore`] for [`SqliteStore`]: the consent and block tables.
//!
//! The consent tables have their own migration track (`consent_schema_version`), apart
//! from the engagement schema's `schema_version`, so the two registers can add steps
//! without coordinating step numbers. Times are stored as UTC milliseconds since the
//! epoch (INTEGER), so SQL compares them correctly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use vaxel_model::ResidentId;
use vaxel_store::consent::{
    Block, Consent, ConsentKind, ConsentScope, ConsentStore, EndOutcome, LiftRequestOutcome,
    NewBlock, NewConsent, Rule, RuleVisitor,
};
use vaxel_store::Result;

use crate::{backend, write_transaction, Connections, SqliteStore};

/// Consent schema migrations, applied in order. Never edit a released step: add one.
const CONSENT_MIGRATIONS: &[&str] = &[
    // 1: consents and blocks. Rows are never deleted (PDL: decisions stay explainable).
    "CREATE TABLE consent (
        id TEXT NOT NULL PRIMARY KEY,
        patient TEXT NOT NULL,
        care_giver TEXT NOT NULL,
        scope TEXT NOT NULL,
        valid_from_ms INTEGER NOT NULL,
        valid_to_ms INTEGER,
        registered_by TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('normal', 'emergency')),
        revoked_at_ms INTEGER,
        revoked_by TEXT,
        seq INTEGER NOT NULL
    );
    CREATE INDEX consent_patient ON consent (patient, seq);
    CREATE TABLE consent_block (
        id TEXT NOT NULL PRIMARY KEY,
        patient TEXT NOT NULL,
        care_giver TEXT,
        care_unit TEXT,
        valid_from_ms INTEGER NOT NULL,
        valid_to_ms INTEGER,
        registered_by TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        lifted_at_ms INTEGER,
        lifted_by TEXT,
        seq INTEGER NOT NULL,
        CHECK (care_giver IS NOT NULL OR care_unit IS NOT NULL)
    );
    CREATE INDEX consent_block_patient ON consent_block (patient, seq);",
    // 2: a block's reason, and the patient's request that it be lifted (recorded, never
    // a lift: specs/citizen.md "My consents and blocks").
    "ALTER TABLE consent_block ADD COLUMN reason TEXT;
    ALTER TABLE consent_block ADD COLUMN lift_requested_at_ms INTEGER;
    ALTER TABLE consent_block ADD COLUMN lift_requested_by TEXT;
    ALTER TABLE consent_block ADD COLUMN lift_request_reason TEXT;",
];

const CONSENT_COLUMNS: &str = "id, patient, care_giver, scope, valid_from_ms, valid_to_ms, \
    registered_by, registered_at_ms, kind, revoked_at_ms, revoked_by";
const BLOCK_COLUMNS: &str = "id, patient, care_giver, care_unit, valid_from_ms, valid_to_ms, \
    registered_by, registered_at_ms, lifted_at_ms, lifted_by, reason, lift_requested_at_ms, \
    lift_requested_by, lift_request_reason";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn conversion(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        format!("stored {what} is invalid").into(),
    )
}

fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let v: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(v).ok_or_else(|| conversion(idx, "time"))
}

fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| DateTime::from_timestamp_millis(v).ok_or_else(|| conversion(idx, "time")))
        .transpose()
}

fn patient_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<ResidentId> {
    let s: String = row.get(idx)?;
    ResidentId::parse(&s).ok_or_else(|| conversion(idx, "personal id"))
}

fn consent_from_row(row: &Row<'_>) -> rusqlite::Result<Consent> {
    let scope: String = row.get(3)?;
    let kind: String = row.get(8)?;
    Ok(Consent {
        id: row.get(0)?,
        patient: patient_at(row, 1)?,
        care_giver: row.get(2)?,
        scope: ConsentScope::from_stored(&scope).ok_or_else(|| conversion(3, "scope"))?,
        valid_from: time_at(row, 4)?,
        valid_to: opt_time_at(row, 5)?,
        registered_by: row.get(6)?,
        registered_at: time_at(row, 7)?,
        kind: ConsentKind::parse(&kind).ok_or_else(|| conversion(8, "kind"))?,
        revoked_at: opt_time_at(row, 9)?,
        revoked_by: row.get(10)?,
    })
}

fn block_from_row(row: &Row<'_>) -> rusqlite::Result<Block> {
    Ok(Block {
        id: row.get(0)?,
        patient: patient_at(row, 1)?,
        care_giver: row.get(2)?,
        care_unit: row.get(3)?,
        valid_from: time_at(row, 4)?,
        valid_to: opt_time_at(row, 5)?,
        registered_by: row.get(6)?,
        registered_at: time_at(row, 7)?,
        lifted_at: opt_time_at(row, 8)?,
        lifted_by: row.get(9)?,
        reason: row.get(10)?,
        lift_requested_at: opt_time_at(row, 11)?,
        lift_requested_by: row.get(12)?,
        lift_request_reason: row.get(13)?,
    })
}

fn next_seq(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}"),
        [],
        |r| r.get(0),
    )
}

/// Create or migrate the consent tables (idempotent).
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    crate::run_migrations(
        conn,
        "consent_schema_version",
        "consent",
        CONSENT_MIGRATIONS,
    )
}

impl Connections {
    fn register_consent(&self, c: &NewConsent, now: DateTime<Utc>) -> Result<Consent> {
        let id = uuid::Uuid::new_v4().to_string();
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let seq = next_seq(&tx, "consent").map_err(backend)?;
        tx.execute(
            &format!("INSERT INTO consent ({CONSENT_COLUMNS}, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, ?10)"),
            params![
                id,
                c.patient.as_str(),
                c.care_giver,
                c.scope.to_stored(),
                ms(c.valid_from),
                c.valid_to.map(ms),
                c.registered_by,
                ms(now),
                c.kind.as_str(),
                seq
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(c.stored(id, now))
    }

    fn consents_for_patient(&self, patient: &ResidentId) -> Result<Vec<Consent>> {
        let conn = self.reader()?;
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {CONSENT_COLUMNS} FROM consent WHERE patient = ?1 ORDER BY seq"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map([patient.as_str()], consent_from_row)
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }

    fn revoke_consent(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Consent>> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let changed = tx
            .execute(
                "UPDATE consent SET revoked_at_ms = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at_ms IS NULL",
                params![id, ms(now), by],
            )
            .map_err(backend)?;
        let row = tx
            .query_row(
                &format!("SELECT {CONSENT_COLUMNS} FROM consent WHERE id = ?1"),
                [id],
                consent_from_row,
            )
            .optional()
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(match (row, changed) {
            (None, _) => EndOutcome::NotFound,
            (Some(c), 0) => EndOutcome::AlreadyEnded(c),
            (Some(c), _) => EndOutcome::Ended(c),
        })
    }

    fn register_block(&self, b: &NewBlock, now: DateTime<Utc>) -> Result<Block> {
        let id = uuid::Uuid::new_v4().to_string();
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let seq = next_seq(&tx, "consent_block").map_err(backend)?;
        tx.execute(
            &format!("INSERT INTO consent_block ({BLOCK_COLUMNS}, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, NULL, NULL, NULL, ?10)"),
            params![
                id,
                b.patient.as_str(),
                b.care_giver,
                b.care_unit,
                ms(b.valid_from),
                b.valid_to.map(ms),
                b.registered_by,
                ms(now),
                b.reason,
                seq
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(b.stored(id, now))
    }

    fn blocks_for_patient(&self, patient: &ResidentId) -> Result<Vec<Block>> {
        let conn = self.reader()?;
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {BLOCK_COLUMNS} FROM consent_block WHERE patient = ?1 ORDER BY seq"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map([patient.as_str()], block_from_row)
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }

    fn lift_block(&self, id: &str, by: &str, now: DateTime<Utc>) -> Result<EndOutcome<Block>> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let changed = tx
            .execute(
                "UPDATE consent_block SET lifted_at_ms = ?2, lifted_by = ?3 WHERE id = ?1 AND lifted_at_ms IS NULL",
                params![id, ms(now), by],
            )
            .map_err(backend)?;
        let row = tx
            .query_row(
                &format!("SELECT {BLOCK_COLUMNS} FROM consent_block WHERE id = ?1"),
                [id],
                block_from_row,
            )
            .optional()
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(match (row, changed) {
            (None, _) => EndOutcome::NotFound,
            (Some(b), 0) => EndOutcome::AlreadyEnded(b),
            (Some(b), _) => EndOutcome::Ended(b),
        })
    }

    fn request_block_lift(
        &self,
        id: &str,
        patient: &ResidentId,
        by: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LiftRequestOutcome> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let changed = tx
            .execute(
                "UPDATE consent_block SET lift_requested_at_ms = ?3, lift_requested_by = ?4, lift_request_reason = ?5 \
                 WHERE id = ?1 AND patient = ?2 AND lifted_at_ms IS NULL AND lift_requested_at_ms IS NULL",
                params![id, patient.as_str(), ms(now), by, reason],
            )
            .map_err(backend)?;
        let row = tx
            .query_row(
                &format!(
                    "SELECT {BLOCK_COLUMNS} FROM consent_block WHERE id = ?1 AND patient = ?2"
                ),
                params![id, patient.as_str()],
                block_from_row,
            )
            .optional()
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(match (row, changed) {
            (None, _) => LiftRequestOutcome::NotFound,
            (Some(b), 0) if b.lifted_at.is_some() => LiftRequestOutcome::AlreadyLifted(b),
            (Some(b), 0) => LiftRequestOutcome::AlreadyRequested(b),
            (Some(b), _) => LiftRequestOutcome::Recorded(b),
        })
    }

    fn for_each_rule(&self, mut visit: RuleVisitor) -> Result<()> {
        let conn = self.reader()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {CONSENT_COLUMNS} FROM consent ORDER BY seq"
            ))
            .map_err(backend)?;
        let mut rows = st.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            visit(Rule::Consent(consent_from_row(r).map_err(backend)?));
        }
        let mut st = conn
            .prepare(&format!(
                "SELECT {BLOCK_COLUMNS} FROM consent_block ORDER BY seq"
            ))
            .map_err(backend)?;
        let mut rows = st.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            visit(Rule::Block(block_from_row(r).map_err(backend)?));
        }
        Ok(())
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn register_consent(&self, consent: &NewConsent, now: DateTime<Utc>) -> Result<Consent> {
        let consent = consent.clone();
        self.run(move |s| s.register_consent(&consent, now)).await
    }

    async fn consents_for_patient(&self, patient: &ResidentId) -> Result<Vec<Consent>> {
        let patient = patient.clone();
        self.run(move |s| s.consents_for_patient(&patient)).await
    }

    async fn revoke_consent(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Consent>> {
        let (id, by) = (id.to_string(), by.to_string());
        self.run(move |s| s.revoke_consent(&id, &by, now)).await
    }

    async fn register_block(&self, block: &NewBlock, now: DateTime<Utc>) -> Result<Block> {
        let block = block.clone();
        self.run(move |s| s.register_block(&block, now)).await
    }

    async fn blocks_for_patient(&self, patient: &ResidentId) -> Result<Vec<Block>> {
        let patient = patient.clone();
        self.run(move |s| s.blocks_for_patient(&patient)).await
    }

    async fn lift_block(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<EndOutcome<Block>> {
        let (id, by) = (id.to_string(), by.to_string());
        self.run(move |s| s.lift_block(&id, &by, now)).await
    }

    async fn request_block_lift(
        &self,
        id: &str,
        patient: &ResidentId,
        by: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LiftRequestOutcome> {
        let (id, patient, by) = (id.to_string(), patient.clone(), by.to_string());
        let reason = reason.map(str::to_string);
        self.run(move |s| s.request_block_lift(&id, &patient, &by, reason.as_deref(), now))
            .await
    }

    async fn for_each_rule(&self, visit: RuleVisitor) -> Result<()> {
        self.run(move |s| s.for_each_rule(visit)).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[tokio::test]
    async fn consent_migration_is_idempotent_and_keeps_rows_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        let p = ResidentId::parse("191212121212").unwrap();
        {
            let s = SqliteStore::open(&path).unwrap();
            s.register_block(
                &NewBlock {
                    patient: p.clone(),
                    care_giver: Some("SE-CG".into()),
                    care_unit: None,
                    valid_from: now,
                    valid_to: None,
                    registered_by: "SE-U".into(),
                    reason: None,
                },
                now,
            )
            .await
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.blocks_for_patient(&p).await.unwrap().len(), 1);
        // The engagement schema has its own track.
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("SELECT version FROM consent_schema_version", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, CONSENT_MIGRATIONS.len() as i64);
        let e: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert!(e >= 1, "engagement schema version {e}");
    }

    /// A file written before step 2 (no reasons, no lift requests) keeps its blocks; they
    /// read back without either, and a lift request can then be recorded on them.
    #[tokio::test]
    async fn a_version_1_file_migrates_to_lift_requests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        {
            let conn = Connection::open(&path).unwrap();
            crate::run_migrations(
                &conn,
                "consent_schema_version",
                "consent",
                &CONSENT_MIGRATIONS[..1],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO consent_block (id, patient, care_giver, care_unit, valid_from_ms, \
                 valid_to_ms, registered_by, registered_at_ms, lifted_at_ms, lifted_by, seq) \
                 VALUES ('old', '191212121212', 'SE-CG', NULL, 0, NULL, 'SE-U', 0, NULL, NULL, 1)",
                [],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let p = ResidentId::parse("191212121212").unwrap();
        let blocks = s.blocks_for_patient(&p).await.unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].reason, None);
        assert_eq!(blocks[0].lift_requested_at, None);
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            s.request_block_lift("old", &p, "191212121212", None, now)
                .await
                .unwrap(),
            LiftRequestOutcome::Recorded(ref b) if b.lift_requested_at == Some(now)
        ));
    }
}
