//! Engagements and the general outbox (one transaction writes both: an acknowledged
//! Update is durable together with its notifications).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use vaxel_store::engagement::{
    ApplyOutcome, ApplyRequest, ChangeKind, EiTime, Engagement, EngagementChange, EngagementId,
    EngagementStore, FindQuery, NotificationPlanner, ResidentId, UpdatesPage,
};
use vaxel_store::outbox::{DestinationBacklog, NewOutboxItem, Outbox, OutboxItem};
use vaxel_store::{Result, StoreError};

use crate::{backend, from_millis, millis, write_transaction, Connections, SqliteStore};

/// Schema migrations, applied in order; `schema_version` records how many ran.
/// Never edit a released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: engagements and the notification outbox.
    "CREATE TABLE engagement (
        id TEXT NOT NULL PRIMARY KEY,
        registered_resident_id TEXT NOT NULL,
        service_domain TEXT NOT NULL,
        categorization TEXT NOT NULL,
        logical_address TEXT NOT NULL,
        business_object_instance_id TEXT NOT NULL,
        clinical_process_interest_id TEXT NOT NULL,
        most_recent_content TEXT,
        source_system TEXT NOT NULL,
        creation_time TEXT NOT NULL,
        update_time TEXT,
        data_controller TEXT NOT NULL,
        owner TEXT NOT NULL,
        changed_at TEXT NOT NULL
    ) WITHOUT ROWID;
    -- FindContent: resident + service domain (+ categorization), as skltp/ei's search index.
    CREATE INDEX engagement_find
        ON engagement (registered_resident_id, service_domain, categorization);
    -- GetUpdates: service domain + changed since.
    CREATE INDEX engagement_updates ON engagement (service_domain, changed_at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscriber TEXT NOT NULL,
        payload BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX outbox_subscriber ON outbox (subscriber, id);
    CREATE INDEX outbox_next_attempt ON outbox (next_attempt_ms);",
    // 2: one general outbox: every item belongs to a queue (its concern) and goes to a
    // destination; the engagement notifications written so far are that queue's.
    "ALTER TABLE outbox ADD COLUMN queue TEXT NOT NULL DEFAULT 'engagement-notification';
    ALTER TABLE outbox RENAME COLUMN subscriber TO destination;
    DROP INDEX outbox_subscriber;
    DROP INDEX outbox_next_attempt;
    CREATE INDEX outbox_destination ON outbox (queue, destination, id);
    CREATE INDEX outbox_next_attempt ON outbox (queue, next_attempt_ms);",
    // 3: claims lease an item (until `leased_until_ms`) without touching its next
    // attempt, so that a restart can tell leases from retry times and release them.
    "ALTER TABLE outbox ADD COLUMN leased_until_ms INTEGER;",
];

const ENGAGEMENT_COLUMNS: &str = "registered_resident_id, service_domain, categorization, \
    logical_address, business_object_instance_id, clinical_process_interest_id, \
    most_recent_content, source_system, creation_time, update_time, data_controller, owner";

pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    crate::run_migrations(conn, "schema_version", "store", MIGRATIONS)
}

fn time_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<EiTime>> {
    let s: Option<String> = row.get(idx)?;
    match s {
        None => Ok(None),
        Some(s) => EiTime::parse(&s).map(Some).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                rusqlite::types::Type::Text,
                "stored time is not yyyyMMddHHmmss".into(),
            )
        }),
    }
}

/// Read an engagement from the 12 [`ENGAGEMENT_COLUMNS`] starting at `at`.
fn engagement_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Engagement> {
    let rri: String = row.get(at)?;
    let rri = ResidentId::parse(&rri).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Text,
            "stored resident id does not match the pattern".into(),
        )
    })?;
    Ok(Engagement {
        registered_resident_identification: rri,
        service_domain: row.get(at + 1)?,
        categorization: row.get(at + 2)?,
        logical_address: row.get(at + 3)?,
        business_object_instance_identifier: row.get(at + 4)?,
        clinical_process_interest_id: row.get(at + 5)?,
        most_recent_content: time_column(row, at + 6)?,
        source_system: row.get(at + 7)?,
        creation_time: time_column(row, at + 8)?,
        update_time: time_column(row, at + 9)?,
        data_controller: row.get(at + 10)?,
        owner: row.get(at + 11)?,
    })
}

fn outbox_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: row.get(0)?,
        destination: row.get(1)?,
        payload: row.get(2)?,
        attempts: row.get(3)?,
        next_attempt: from_millis(row.get(4)?),
        last_error: row.get(5)?,
    })
}

impl Connections {
    fn apply_engagement_transactions(
        &self,
        request: ApplyRequest,
        plan: NotificationPlanner,
    ) -> Result<ApplyOutcome> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let now = request.now.to_string();
        let mut outcome = ApplyOutcome::default();
        let mut changes = Vec::with_capacity(request.transactions.len());
        {
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE id = ?1"
                ))
                .map_err(backend)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM engagement WHERE id = ?1")
                .map_err(backend)?;
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO engagement (id, {ENGAGEMENT_COLUMNS}, changed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?10)"
                ))
                .map_err(backend)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE engagement SET most_recent_content = ?2, update_time = ?3, \
                     changed_at = ?3 WHERE id = ?1",
                )
                .map_err(backend)?;
            for t in &request.transactions {
                let e = &t.engagement;
                if let Some(own) = request.superseded_owner.as_deref() {
                    if !t.delete && e.owner != own {
                        delete
                            .execute([e.id_with_owner(own).as_str()])
                            .map_err(backend)?;
                    }
                }
                let id = e.id();
                let stored = select
                    .query_row([id.as_str()], |r| engagement_from_row(r, 0))
                    .optional()
                    .map_err(backend)?;
                let change = match (t.delete, stored) {
                    (true, Some(stored)) => {
                        delete.execute([id.as_str()]).map_err(backend)?;
                        outcome.deleted += 1;
                        EngagementChange {
                            kind: ChangeKind::Deleted,
                            engagement: stored,
                        }
                    }
                    (true, None) => {
                        outcome.deleted_missing += 1;
                        EngagementChange {
                            kind: ChangeKind::DeletedMissing,
                            engagement: e.clone(),
                        }
                    }
                    (false, None) => {
                        insert
                            .execute(params![
                                id.as_str(),
                                e.registered_resident_identification.as_str(),
                                e.service_domain,
                                e.categorization,
                                e.logical_address,
                                e.business_object_instance_identifier,
                                e.clinical_process_interest_id,
                                e.most_recent_content.map(|t| t.to_string()),
                                e.source_system,
                                now,
                                e.data_controller,
                                e.owner,
                            ])
                            .map_err(backend)?;
                        outcome.created += 1;
                        let mut stored = e.clone();
                        stored.creation_time = Some(request.now);
                        stored.update_time = None;
                        EngagementChange {
                            kind: ChangeKind::Created,
                            engagement: stored,
                        }
                    }
                    (false, Some(mut stored)) => {
                        // None < Some(t): any content time is newer than none.
                        if e.most_recent_content > stored.most_recent_content {
                            update
                                .execute(params![
                                    id.as_str(),
                                    e.most_recent_content.map(|t| t.to_string()),
                                    now
                                ])
                                .map_err(backend)?;
                            outcome.updated += 1;
                            stored.most_recent_content = e.most_recent_content;
                            stored.update_time = Some(request.now);
                            EngagementChange {
                                kind: ChangeKind::Updated,
                                engagement: stored,
                            }
                        } else {
                            outcome.unchanged += 1;
                            EngagementChange {
                                kind: ChangeKind::Unchanged,
                                engagement: stored,
                            }
                        }
                    }
                };
                changes.push(change);
            }
        }
        let items = plan(&changes).map_err(StoreError::Backend)?;
        {
            let now_ms = millis(SystemTime::now());
            let mut insert = tx.prepare_cached(INSERT_OUTBOX).map_err(backend)?;
            for item in &items {
                insert
                    .execute(params![item.queue, item.destination, item.payload, now_ms])
                    .map_err(backend)?;
            }
        }
        outcome.notifications = items.len();
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn find_engagements(&self, q: &FindQuery) -> Result<Vec<Engagement>> {
        let mut sql = format!(
            "SELECT {ENGAGEMENT_COLUMNS} FROM engagement \
             WHERE registered_resident_id = ?1 AND service_domain = ?2"
        );
        let mut args: Vec<String> = vec![
            q.registered_resident_identification.as_str().to_string(),
            q.service_domain.clone(),
        ];
        let optional = [
            ("categorization", &q.categorization),
            ("logical_address", &q.logical_address),
            (
                "business_object_instance_id",
                &q.business_object_instance_identifier,
            ),
            (
                "clinical_process_interest_id",
                &q.clinical_process_interest_id,
            ),
            ("source_system", &q.source_system),
            ("data_controller", &q.data_controller),
            ("owner", &q.owner),
        ];
        for (column, value) in optional {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        if let Some(t) = q.most_recent_content {
            args.push(t.to_string());
            sql.push_str(&format!(" AND most_recent_content >= ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                engagement_from_row(r, 0)
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE id = ?1"
            ))
            .map_err(backend)?;
        stmt.query_row([id.as_str()], |r| engagement_from_row(r, 0))
            .optional()
            .map_err(backend)
    }

    fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage> {
        let since = since.to_string();
        let after = after_resident.map(ResidentId::as_str).unwrap_or("");
        let conn = self.reader()?;
        let mut residents_stmt = conn
            .prepare_cached(
                "SELECT DISTINCT registered_resident_id FROM engagement \
                 WHERE service_domain = ?1 AND changed_at >= ?2 AND registered_resident_id > ?3 \
                 ORDER BY registered_resident_id LIMIT ?4",
            )
            .map_err(backend)?;
        let limit = i64::try_from(max_residents.saturating_add(1)).unwrap_or(i64::MAX);
        let mut residents: Vec<String> = residents_stmt
            .query_map(params![service_domain, since, after, limit], |r| r.get(0))
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?;
        let complete = residents.len() <= max_residents;
        residents.truncate(max_residents);
        let mut engagements_stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENGAGEMENT_COLUMNS} FROM engagement \
                 WHERE registered_resident_id = ?1 AND service_domain = ?2 AND changed_at >= ?3 \
                 ORDER BY id"
            ))
            .map_err(backend)?;
        let mut page = UpdatesPage {
            residents: Vec::with_capacity(residents.len()),
            complete,
        };
        for rri in residents {
            let engagements = engagements_stmt
                .query_map(params![rri, service_domain, since], |r| {
                    engagement_from_row(r, 0)
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let id = ResidentId::parse(&rri).ok_or_else(|| {
                StoreError::Backend("stored resident id does not match the pattern".into())
            })?;
            page.residents.push((id, engagements));
        }
        Ok(page)
    }
}

/// One outbox item, written with its queue; due at once.
const INSERT_OUTBOX: &str = "INSERT INTO outbox \
     (queue, destination, payload, attempts, next_attempt_ms, created_ms) \
     VALUES (?1, ?2, ?3, 0, ?4, ?4)";

impl Connections {
    fn outbox_enqueue(&self, items: &[NewOutboxItem]) -> Result<()> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        {
            let now_ms = millis(SystemTime::now());
            let mut insert = tx.prepare_cached(INSERT_OUTBOX).map_err(backend)?;
            for item in items {
                insert
                    .execute(params![item.queue, item.destination, item.payload, now_ms])
                    .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    /// Due items, leased in the same write transaction (one writer per file: claims of
    /// two handles or processes never overlap).
    fn outbox_claim(
        &self,
        queue: &str,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        let items = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT o.id, o.destination, o.payload, o.attempts, o.next_attempt_ms, o.last_error \
                     FROM outbox o WHERE o.queue = ?3 AND o.next_attempt_ms <= ?1 \
                       AND (o.leased_until_ms IS NULL OR o.leased_until_ms <= ?1) AND NOT EXISTS ( \
                       SELECT 1 FROM outbox p WHERE p.queue = o.queue AND p.destination = o.destination \
                       AND p.id < o.id AND (p.next_attempt_ms > ?1 OR p.leased_until_ms > ?1)) \
                     ORDER BY o.id LIMIT ?2",
                )
                .map_err(backend)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![millis(now), limit, queue], outbox_from_row)
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?
        };
        {
            let mut lease_stmt = tx
                .prepare_cached("UPDATE outbox SET leased_until_ms = ?2 WHERE id = ?1")
                .map_err(backend)?;
            let until = millis(now + lease);
            for item in &items {
                lease_stmt
                    .execute(params![item.id, until])
                    .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(items)
    }

    /// Released items keep their next attempt (it had passed when they were claimed).
    fn outbox_release(&self, ids: &[i64], _now: SystemTime) -> Result<()> {
        let conn = self.writer()?;
        let tx = write_transaction(&conn)?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE outbox SET leased_until_ms = NULL WHERE id = ?1")
                .map_err(backend)?;
            for id in ids {
                stmt.execute(params![id]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    /// One node owns a SQLite store: claims left by its previous run (a crash) are
    /// released at open, so their items go out at once instead of after the lease.
    pub(crate) fn release_all_claims(&self) -> Result<()> {
        let conn = self.writer()?;
        conn.execute(
            "UPDATE outbox SET leased_until_ms = NULL WHERE leased_until_ms IS NOT NULL",
            [],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn outbox_next_attempt(&self, queue: &str) -> Result<Option<SystemTime>> {
        let conn = self.reader()?;
        let ms: Option<i64> = conn
            .query_row(
                "SELECT MIN(MAX(next_attempt_ms, COALESCE(leased_until_ms, 0))) FROM outbox WHERE queue = ?1",
                [queue],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(ms.map(from_millis))
    }

    fn outbox_mark_delivered(&self, id: i64) -> Result<()> {
        let conn = self.writer()?;
        conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(backend)?;
        Ok(())
    }

    fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()> {
        let conn = self.writer()?;
        conn.prepare_cached(
            "UPDATE outbox SET next_attempt_ms = ?2, attempts = ?3, last_error = ?4, \
             leased_until_ms = NULL WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, millis(next_attempt), attempts, last_error]))
        .map_err(backend)?;
        Ok(())
    }

    fn outbox_len(&self, queue: &str) -> Result<u64> {
        let conn = self.reader()?;
        conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE queue = ?1",
            [queue],
            |r| r.get(0),
        )
        .map_err(backend)
    }

    fn outbox_backlog(&self, queue: &str) -> Result<Vec<DestinationBacklog>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT o.destination, c.n, o.created_ms, o.attempts, \
                 MAX(o.next_attempt_ms, COALESCE(o.leased_until_ms, 0)), o.last_error \
                 FROM (SELECT destination, COUNT(*) AS n, MIN(id) AS head FROM outbox \
                       WHERE queue = ?1 GROUP BY destination) c \
                 JOIN outbox o ON o.id = c.head ORDER BY o.destination",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([queue], |r| {
                Ok(DestinationBacklog {
                    destination: r.get(0)?,
                    pending: r.get(1)?,
                    oldest: from_millis(r.get(2)?),
                    head_attempts: r.get(3)?,
                    next_attempt: from_millis(r.get(4)?),
                    last_error: r.get(5)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }
}

#[async_trait]
impl EngagementStore for SqliteStore {
    async fn apply_engagement_transactions(
        &self,
        request: ApplyRequest,
        plan: NotificationPlanner,
    ) -> Result<ApplyOutcome> {
        self.run(move |s| s.apply_engagement_transactions(request, plan))
            .await
    }

    async fn find_engagements(&self, query: &FindQuery) -> Result<Vec<Engagement>> {
        let query = query.clone();
        self.run(move |s| s.find_engagements(&query)).await
    }

    async fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>> {
        let id = id.clone();
        self.run(move |s| s.get_engagement(&id)).await
    }

    async fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage> {
        let domain = service_domain.to_string();
        let after = after_resident.cloned();
        self.run(move |s| {
            s.engagements_updated_since(&domain, since, after.as_ref(), max_residents)
        })
        .await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn outbox_enqueue(&self, items: Vec<NewOutboxItem>) -> Result<()> {
        self.run(move |s| s.outbox_enqueue(&items)).await
    }

    async fn outbox_claim(
        &self,
        queue: &str,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>> {
        let queue = queue.to_string();
        self.run(move |s| s.outbox_claim(&queue, now, limit, lease))
            .await
    }

    async fn outbox_release(&self, ids: &[i64], now: SystemTime) -> Result<()> {
        let ids = ids.to_vec();
        self.run(move |s| s.outbox_release(&ids, now)).await
    }

    async fn outbox_next_attempt(&self, queue: &str) -> Result<Option<SystemTime>> {
        let queue = queue.to_string();
        self.run(move |s| s.outbox_next_attempt(&queue)).await
    }

    async fn outbox_mark_delivered(&self, id: i64) -> Result<()> {
        self.run(move |s| s.outbox_mark_delivered(id)).await
    }

    async fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()> {
        let last_error = last_error.to_string();
        self.run(move |s| s.outbox_reschedule(id, next_attempt, attempts, &last_error))
            .await
    }

    async fn outbox_len(&self, queue: &str) -> Result<u64> {
        let queue = queue.to_string();
        self.run(move |s| s.outbox_len(&queue)).await
    }

    async fn outbox_backlog(&self, queue: &str) -> Result<Vec<DestinationBacklog>> {
        let queue = queue.to_string();
        self.run(move |s| s.outbox_backlog(&queue)).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use vaxel_store::testkit::engagements::{
        apply_one_with_notification, assert_one_with_notification,
    };

    use super::*;

    #[tokio::test]
    async fn reopen_keeps_schema_version_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            apply_one_with_notification(&store, "199001011234", "sub-reopen").await;
        }
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = store.inner.reader().unwrap();
            let v: i64 = conn
                .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, MIGRATIONS.len() as i64);
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(sync, 2, "synchronous must be FULL (2)");
        }
        assert_one_with_notification(&store, &store, "199001011234", "sub-reopen").await;
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
            "{err}"
        );
    }

    /// A file written before the general outbox (schema 1: `subscriber`, no queue) keeps
    /// its undelivered notifications, now in the engagement notification queue.
    #[tokio::test]
    async fn schema_1_outbox_items_move_to_the_notification_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        {
            let conn = connect_plain(&path);
            conn.execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL);
                 INSERT INTO schema_version VALUES (0);",
            )
            .unwrap();
            crate::run_migrations(&conn, "schema_version", "store", &MIGRATIONS[..1]).unwrap();
            conn.execute(
                "INSERT INTO outbox (subscriber, payload, attempts, next_attempt_ms, last_error, created_ms) \
                 VALUES ('SE-SUB', x'3c6e2f3e', 2, 0, 'refused', 0)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let due = store
            .outbox_claim(
                "engagement-notification",
                SystemTime::now(),
                10,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].destination, "SE-SUB");
        assert_eq!(due[0].payload, b"<n/>");
        assert_eq!(due[0].attempts, 2);
        assert_eq!(due[0].last_error.as_deref(), Some("refused"));
    }

    fn connect_plain(path: &Path) -> Connection {
        crate::connect(path).unwrap()
    }

    /// Apply, then leave without closing the connections (no checkpoint, no clean
    /// shutdown: the data lives only in the WAL), reopen: engagements and outbox are there.
    #[tokio::test]
    async fn applied_batch_survives_an_unclean_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let store = SqliteStore::open(&path).unwrap();
        apply_one_with_notification(&store, "199001011234", "sub-crash").await;
        std::mem::forget(store);
        let reopened = SqliteStore::open(&path).unwrap();
        assert_one_with_notification(&reopened, &reopened, "199001011234", "sub-crash").await;
    }

    /// The real thing: a child process applies a batch and aborts (like kill -9)
    /// right after the call returned; the parent reopens the file.
    #[tokio::test]
    async fn applied_batch_survives_process_abort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vaxel.db");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "engagements::tests::crash_child",
                "--include-ignored",
                "--nocapture",
            ])
            .env("VAXEL_CRASH_DB", &path)
            .status()
            .unwrap();
        assert!(!status.success(), "the child must die by abort");
        let store = SqliteStore::open(&path).unwrap();
        assert_one_with_notification(&store, &store, "199001011235", "sub-abort").await;
    }

    /// Helper for `applied_batch_survives_process_abort`; does nothing on its own.
    #[tokio::test]
    #[ignore = "run by applied_batch_survives_process_abort in a child process"]
    async fn crash_child() {
        let Some(path) = std::env::var_os("VAXEL_CRASH_DB") else {
            return;
        };
        let store = SqliteStore::open(Path::new(&path)).unwrap();
        apply_one_with_notification(&store, "199001011235", "sub-abort").await;
        std::process::abort();
    }
}
