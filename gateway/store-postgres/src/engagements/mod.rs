//! Engagements and the general outbox on PostgreSQL: SQLite's tables, column meanings
//! and rules, made safe for several nodes on one database.
//!
//! - **Apply**: one READ COMMITTED transaction locks every row the batch touches (its
//!   keys and the superseded own-owner keys) with ONE `SELECT ... ORDER BY id FOR
//!   UPDATE`: locks are always taken in id order, so nodes applying overlapping batches
//!   queue instead of deadlocking. The batch is applied in memory, in order (SQLite's
//!   sequential rules), and its net effect written by one batched statement (`DELETE`,
//!   `UPDATE ... FROM unnest`, `INSERT ... ORDER BY id ON CONFLICT DO NOTHING`). A row
//!   another node created after our lock (an absent row cannot be locked) shows as an
//!   insert conflict; that attempt, like one hitting a deadlock (40P01) or serialization
//!   failure (40001), is rolled back and retried. Only then is the planner called (once)
//!   and its items written in the same transaction: an acknowledged update is durable
//!   together with its notifications.
//! - **Claims**: a transaction-scoped advisory lock on the queue makes claims of one
//!   queue (on any node) take turns, each seeing the leases of the one before; then one
//!   statement leases the due items (`ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED`,
//!   `next_attempt_ms = now + lease`). A destination with ANY item whose next attempt
//!   lies ahead is held back: SQLite's rule (an older such item) plus a cluster case:
//!   ids come from a sequence, so an older item can commit after a newer one of its
//!   destination was claimed, and must then wait too.
//! - Times: `EiTime`s as `yyyyMMddHHmmss` text, outbox times as BIGINT milliseconds. Text
//!   columns use the "C" collation (byte order, as SQLite), whatever the locale.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{IsolationLevel, Row};
use vaxel_store::engagement::{
    ApplyOutcome, ApplyRequest, ChangeKind, EiTime, Engagement, EngagementChange, EngagementId,
    EngagementStore, FindQuery, NotificationPlanner, ResidentId, UpdatesPage,
};
use vaxel_store::outbox::{DestinationBacklog, NewOutboxItem, Outbox, OutboxItem};
use vaxel_store::{Result, StoreError};

use crate::{db, from_millis, millis, sql_limit, PgStore};

/// Migrations, applied in order; never edit a released step.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: engagements and the general outbox (queue + destination), as SQLite's schema 2.
    r#"CREATE TABLE engagement (
        id TEXT COLLATE "C" PRIMARY KEY,
        registered_resident_id TEXT COLLATE "C" NOT NULL,
        service_domain TEXT COLLATE "C" NOT NULL,
        categorization TEXT COLLATE "C" NOT NULL,
        logical_address TEXT COLLATE "C" NOT NULL,
        business_object_instance_id TEXT COLLATE "C" NOT NULL,
        clinical_process_interest_id TEXT COLLATE "C" NOT NULL,
        most_recent_content TEXT COLLATE "C",
        source_system TEXT COLLATE "C" NOT NULL,
        creation_time TEXT COLLATE "C" NOT NULL,
        update_time TEXT COLLATE "C",
        data_controller TEXT COLLATE "C" NOT NULL,
        owner TEXT COLLATE "C" NOT NULL,
        changed_at TEXT COLLATE "C" NOT NULL
    );
    -- FindContent: resident + service domain (+ categorization), as skltp/ei's index.
    CREATE INDEX engagement_find
        ON engagement (registered_resident_id, service_domain, categorization);
    -- GetUpdates: service domain + changed since (with the residents, index-only).
    CREATE INDEX engagement_updates
        ON engagement (service_domain, changed_at) INCLUDE (registered_resident_id);
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue TEXT COLLATE "C" NOT NULL,
        destination TEXT COLLATE "C" NOT NULL,
        payload BYTEA NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        last_error TEXT,
        created_ms BIGINT NOT NULL
    );
    -- Lengths and backlogs per queue.
    CREATE INDEX outbox_queue ON outbox (queue, id);
    -- Claims: due items, held-back destinations, the earliest next attempt.
    CREATE INDEX outbox_next_attempt ON outbox (queue, next_attempt_ms);"#,
];

/// Advisory lock class of outbox claims (the key within it: `hashtext(queue)`).
const CLAIM_LOCK_CLASS: i32 = 0x7678_6f62; // "vxob"

/// Attempts of an apply whose transaction hit a deadlock, a serialization failure or a
/// row created meanwhile by another node.
const MAX_ATTEMPTS: u32 = 8;

/// The 12 columns [`engagement_from_row`] reads.
macro_rules! engagement_columns {
    () => {
        "registered_resident_id, service_domain, categorization, logical_address, \
         business_object_instance_id, clinical_process_interest_id, most_recent_content, \
         source_system, creation_time, update_time, data_controller, owner"
    };
}

/// Locks the batch's rows, in id order, and reads their changeable part.
const LOCK_ENGAGEMENTS: &str = "SELECT id, most_recent_content, creation_time, update_time \
     FROM engagement WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE";

/// A batch's net effect: `$1` the rows to delete, `r` the rows to write (`existing`:
/// update, else insert). The sets are disjoint; deleted and updated rows are locked. An
/// insert conflict means another node created the row meanwhile (the caller retries).
const WRITE_ENGAGEMENTS: &str = r#"WITH r AS (
        SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::text[], $15::text[], $16::bool[])
            AS u(id, rri, sd, cat, la, boi, cpi, mrc, src, created, updated, dc, owner, existing)
    ), del AS (
        DELETE FROM engagement WHERE id = ANY($1::text[]) RETURNING 1
    ), upd AS (
        UPDATE engagement e SET most_recent_content = r.mrc, creation_time = r.created,
            update_time = r.updated, changed_at = $2
        FROM r WHERE r.existing AND e.id = r.id
        RETURNING 1
    ), ins AS (
        INSERT INTO engagement (id, registered_resident_id, service_domain, categorization,
            logical_address, business_object_instance_id, clinical_process_interest_id,
            most_recent_content, source_system, creation_time, update_time, data_controller,
            owner, changed_at)
        SELECT id, rri, sd, cat, la, boi, cpi, mrc, src, created, updated, dc, owner, $2
        FROM r WHERE NOT r.existing ORDER BY id COLLATE "C"
        ON CONFLICT (id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM del) + (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)"#;

/// Outbox items, ids in the given order; due at once.
const INSERT_OUTBOX: &str = "INSERT INTO outbox \
     (queue, destination, payload, attempts, next_attempt_ms, created_ms) \
     SELECT u.q, u.d, u.p, 0, $4, $4 \
     FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS u(q, d, p, n) \
     ORDER BY u.n";

/// Due items of a queue, leased. Runs under the queue's claim lock; returns the next
/// attempt the items had (as SQLite does).
const CLAIM_OUTBOX: &str = "WITH held AS ( \
         SELECT DISTINCT destination FROM outbox WHERE queue = $1 AND next_attempt_ms > $2 \
     ), due AS ( \
         SELECT c.id, c.next_attempt_ms FROM outbox c \
         WHERE c.queue = $1 AND c.next_attempt_ms <= $2 \
           AND c.destination NOT IN (SELECT destination FROM held) \
         ORDER BY c.id LIMIT $3 \
         FOR UPDATE OF c SKIP LOCKED \
     ) \
     UPDATE outbox o SET next_attempt_ms = $4 FROM due WHERE o.id = due.id \
     RETURNING o.id, o.destination, o.payload, o.attempts, due.next_attempt_ms, o.last_error";

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A READ COMMITTED transaction, whatever the server's default: each statement sees
/// what was committed before it started.
async fn begin(client: &mut deadpool_postgres::Object) -> Result<Transaction<'_>> {
    let tx = client.build_transaction();
    tx.isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(db)
}

/// One statement's rows on a pooled connection (prepared once per connection).
async fn query(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
    let client = store.client().await?;
    let stmt = client.prepare_cached(sql).await.map_err(db)?;
    client.query(&stmt, params).await.map_err(db)
}

/// The first column of a statement's one row.
async fn scalar<T>(store: &PgStore, sql: &str, params: &Params<'_>) -> Result<T>
where
    T: for<'a> FromSql<'a>,
{
    let client = store.client().await?;
    let stmt = client.prepare_cached(sql).await.map_err(db)?;
    let row = client.query_one(&stmt, params).await.map_err(db)?;
    row.try_get(0).map_err(db)
}

fn parse_time(s: &str) -> Result<EiTime> {
    EiTime::parse(s)
        .ok_or_else(|| StoreError::Backend(format!("stored time {s:?} is not yyyyMMddHHmmss")))
}

fn time_column(row: &Row, idx: usize) -> Result<Option<EiTime>> {
    let s: Option<&str> = row.try_get(idx).map_err(db)?;
    s.map(parse_time).transpose()
}

/// Read an engagement from the 12 [`engagement_columns!`].
fn engagement_from_row(row: &Row) -> Result<Engagement> {
    let text = |idx: usize| row.try_get::<_, String>(idx).map_err(db);
    let rri = ResidentId::parse(row.try_get(0).map_err(db)?).ok_or_else(|| {
        StoreError::Backend("stored resident id does not match the pattern".into())
    })?;
    Ok(Engagement {
        registered_resident_identification: rri,
        service_domain: text(1)?,
        categorization: text(2)?,
        logical_address: text(3)?,
        business_object_instance_identifier: text(4)?,
        clinical_process_interest_id: text(5)?,
        most_recent_content: time_column(row, 6)?,
        source_system: text(7)?,
        creation_time: time_column(row, 8)?,
        update_time: time_column(row, 9)?,
        data_controller: text(10)?,
        owner: text(11)?,
    })
}

/// The changeable part of a stored engagement. The rest is its key, which its id
/// hashes, so it equals the key of the batch's engagement with that id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Times {
    most_recent_content: Option<EiTime>,
    creation: EiTime,
    update: Option<EiTime>,
}

impl Times {
    fn on(self, e: &Engagement) -> Engagement {
        let mut stored = e.clone();
        stored.most_recent_content = self.most_recent_content;
        stored.creation_time = Some(self.creation);
        stored.update_time = self.update;
        stored
    }
}

/// The ids a batch touches, computed once for all attempts.
struct BatchKeys {
    /// Per transaction: its engagement's id, and the own-owner id it supersedes
    /// (ProcessNotification-R5).
    ids: Vec<(EngagementId, Option<EngagementId>)>,
    /// Every id above, sorted and distinct: the rows to lock.
    all: Vec<String>,
}

impl BatchKeys {
    fn new(request: &ApplyRequest) -> BatchKeys {
        let own = request.superseded_owner.as_deref();
        let ids: Vec<_> = request
            .transactions
            .iter()
            .map(|t| {
                let e = &t.engagement;
                let superseded = own.filter(|own| !t.delete && e.owner != *own);
                (e.id(), superseded.map(|own| e.id_with_owner(own)))
            })
            .collect();
        let all: BTreeSet<&str> = ids
            .iter()
            .flat_map(|(id, old)| std::iter::once(id).chain(old))
            .map(EngagementId::as_str)
            .collect();
        let all = all.into_iter().map(str::to_string).collect();
        BatchKeys { ids, all }
    }
}

/// What a batch does, worked out on its locked rows.
struct Effect<'a> {
    changes: Vec<EngagementChange>,
    outcome: ApplyOutcome,
    deletes: Vec<&'a str>,
    /// Rows to write, by id: the engagement, its times, whether it is stored already.
    writes: Vec<(&'a str, &'a Engagement, Times, bool)>,
}

/// Apply the batch in order to the `stored` state of its rows (SQLite's rules).
fn apply_in_order<'a>(
    request: &'a ApplyRequest,
    keys: &'a BatchKeys,
    stored: &HashMap<&'a str, Times>,
) -> Effect<'a> {
    let mut state: HashMap<&str, Option<Times>> = keys
        .all
        .iter()
        .map(|k| (k.as_str(), stored.get(k.as_str()).copied()))
        .collect();
    let mut by_id: HashMap<&str, &Engagement> = HashMap::new();
    let mut outcome = ApplyOutcome::default();
    let mut changes = Vec::with_capacity(request.transactions.len());
    for (t, (id, superseded)) in request.transactions.iter().zip(&keys.ids) {
        if let Some(old) = superseded {
            state.insert(old.as_str(), None);
        }
        let (e, id) = (&t.engagement, id.as_str());
        by_id.insert(id, e);
        let slot = state.entry(id).or_insert(None);
        let (kind, engagement) = match (t.delete, *slot) {
            (true, Some(old)) => {
                *slot = None;
                outcome.deleted += 1;
                (ChangeKind::Deleted, old.on(e))
            }
            (true, None) => {
                outcome.deleted_missing += 1;
                (ChangeKind::DeletedMissing, e.clone())
            }
            (false, None) => {
                let new = Times {
                    most_recent_content: e.most_recent_content,
                    creation: request.now,
                    update: None,
                };
                *slot = Some(new);
                outcome.created += 1;
                (ChangeKind::Created, new.on(e))
            }
            // None < Some(t): any content time is newer than none.
            (false, Some(mut old)) if e.most_recent_content > old.most_recent_content => {
                old.most_recent_content = e.most_recent_content;
                old.update = Some(request.now);
                *slot = Some(old);
                outcome.updated += 1;
                (ChangeKind::Updated, old.on(e))
            }
            (false, Some(old)) => {
                outcome.unchanged += 1;
                (ChangeKind::Unchanged, old.on(e))
            }
        };
        changes.push(EngagementChange { kind, engagement });
    }
    // The net effect, in id order. A row present at the end was last set by a
    // transaction with its id (a superseded key only ever removes), so `by_id` has it.
    let (mut deletes, mut writes) = (Vec::new(), Vec::new());
    for id in keys.all.iter().map(String::as_str) {
        let before = stored.get(id).copied();
        match state.get(id).copied().flatten() {
            None if before.is_some() => deletes.push(id),
            Some(after) if before != Some(after) => {
                if let Some(e) = by_id.get(id) {
                    writes.push((id, *e, after, before.is_some()));
                }
            }
            _ => {}
        }
    }
    Effect {
        changes,
        outcome,
        deletes,
        writes,
    }
}

/// Why an attempt of an apply stopped: worth another attempt (a deadlock, a
/// serialization failure, a row another node created after our lock), or not.
enum AttemptError {
    Retry(StoreError),
    Fail(StoreError),
}

impl From<tokio_postgres::Error> for AttemptError {
    fn from(e: tokio_postgres::Error) -> Self {
        let retry = e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        });
        if retry {
            AttemptError::Retry(db(e))
        } else {
            AttemptError::Fail(db(e))
        }
    }
}

impl From<StoreError> for AttemptError {
    fn from(e: StoreError) -> Self {
        AttemptError::Fail(e)
    }
}

/// The pause after failed attempt `attempt`: short, growing, with jitter so that two
/// nodes that collided do not collide again in step.
fn retry_pause(attempt: u32) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from(nanos % 1000) * u64::from(attempt);
    Duration::from_micros((500u64 << attempt.min(6)) + jitter)
}

/// One attempt's engagement part: lock, apply in order, write. Nothing is committed.
async fn write_engagements(
    tx: &Transaction<'_>,
    request: &ApplyRequest,
    keys: &BatchKeys,
) -> std::result::Result<(Vec<EngagementChange>, ApplyOutcome), AttemptError> {
    let lock = tx.prepare_cached(LOCK_ENGAGEMENTS).await?;
    let rows = tx.query(&lock, &[&keys.all]).await?;
    let mut stored: HashMap<&str, Times> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: &str = row.try_get(0)?;
        let times = Times {
            most_recent_content: time_column(row, 1)?,
            creation: parse_time(row.try_get(2)?)?,
            update: time_column(row, 3)?,
        };
        // Keyed by the batch's own strings (`all` is sorted by byte, as "C" sorts).
        if let Ok(i) = keys.all.binary_search_by(|k| k.as_str().cmp(id)) {
            stored.insert(keys.all[i].as_str(), times);
        }
    }
    let effect = apply_in_order(request, keys, &stored);
    if effect.deletes.is_empty() && effect.writes.is_empty() {
        return Ok((effect.changes, effect.outcome));
    }
    let w = &effect.writes;
    let text = |f: fn(&Engagement) -> &str| -> Vec<&str> { w.iter().map(|v| f(v.1)).collect() };
    let time = |f: fn(&Times) -> Option<EiTime>| -> Vec<Option<String>> {
        w.iter().map(|v| f(&v.2).map(|t| t.to_string())).collect()
    };
    let ids: Vec<&str> = w.iter().map(|v| v.0).collect();
    let existing: Vec<bool> = w.iter().map(|v| v.3).collect();
    let now = request.now.to_string();
    let write = tx.prepare_cached(WRITE_ENGAGEMENTS).await?;
    let row = tx
        .query_one(
            &write,
            &[
                &effect.deletes,
                &now,
                &ids,
                &text(|e| e.registered_resident_identification.as_str()),
                &text(|e| &e.service_domain),
                &text(|e| &e.categorization),
                &text(|e| &e.logical_address),
                &text(|e| &e.business_object_instance_identifier),
                &text(|e| &e.clinical_process_interest_id),
                &time(|t| t.most_recent_content),
                &text(|e| &e.source_system),
                &time(|t| Some(t.creation)),
                &time(|t| t.update),
                &text(|e| &e.data_controller),
                &text(|e| &e.owner),
                &existing,
            ],
        )
        .await?;
    let written: i64 = row.try_get(0)?;
    if written != sql_limit(effect.deletes.len() + w.len()) {
        let why = "engagements kept changing under concurrent updates; gave up retrying";
        return Err(AttemptError::Retry(StoreError::Backend(why.into())));
    }
    Ok((effect.changes, effect.outcome))
}

/// Write outbox items (in a transaction, or on their own: one statement).
async fn insert_outbox<C: GenericClient>(client: &C, items: &[NewOutboxItem]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let queues: Vec<&str> = items.iter().map(|i| i.queue.as_str()).collect();
    let destinations: Vec<&str> = items.iter().map(|i| i.destination.as_str()).collect();
    let payloads: Vec<&[u8]> = items.iter().map(|i| i.payload.as_slice()).collect();
    let now_ms = millis(SystemTime::now());
    let stmt = client.prepare_cached(INSERT_OUTBOX).await.map_err(db)?;
    let params: &Params<'_> = &[&queues, &destinations, &payloads, &now_ms];
    client.execute(&stmt, params).await.map_err(db)?;
    Ok(())
}

#[async_trait]
impl EngagementStore for PgStore {
    async fn apply_engagement_transactions(
        &self,
        request: ApplyRequest,
        plan: NotificationPlanner,
    ) -> Result<ApplyOutcome> {
        let keys = BatchKeys::new(&request);
        let mut client = self.client().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = begin(&mut client).await?;
            match write_engagements(&tx, &request, &keys).await {
                Ok((changes, mut outcome)) => {
                    // The planner runs once, on the changes about to be committed.
                    let items = match plan(&changes) {
                        Ok(items) => items,
                        Err(reason) => {
                            let _ = tx.rollback().await;
                            return Err(StoreError::Backend(reason));
                        }
                    };
                    insert_outbox(&tx, &items).await?;
                    tx.commit().await.map_err(db)?;
                    outcome.notifications = items.len();
                    return Ok(outcome);
                }
                Err(AttemptError::Retry(e)) if attempt < MAX_ATTEMPTS => {
                    let _ = tx.rollback().await;
                    tracing::debug!(attempt, error = %e, "engagement batch collided; retrying");
                    tokio::time::sleep(retry_pause(attempt)).await;
                }
                Err(AttemptError::Retry(e) | AttemptError::Fail(e)) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
    }

    async fn find_engagements(&self, q: &FindQuery) -> Result<Vec<Engagement>> {
        const SQL: &str = concat!(
            "SELECT ",
            engagement_columns!(),
            " FROM engagement WHERE registered_resident_id = $1 AND service_domain = $2 \
             AND ($3::text IS NULL OR categorization = $3) \
             AND ($4::text IS NULL OR logical_address = $4) \
             AND ($5::text IS NULL OR business_object_instance_id = $5) \
             AND ($6::text IS NULL OR clinical_process_interest_id = $6) \
             AND ($7::text IS NULL OR source_system = $7) \
             AND ($8::text IS NULL OR data_controller = $8) \
             AND ($9::text IS NULL OR owner = $9) \
             AND ($10::text IS NULL OR most_recent_content >= $10) \
             ORDER BY id"
        );
        let mrc = q.most_recent_content.map(|t| t.to_string());
        let params: &Params<'_> = &[
            &q.registered_resident_identification.as_str(),
            &q.service_domain,
            &q.categorization,
            &q.logical_address,
            &q.business_object_instance_identifier,
            &q.clinical_process_interest_id,
            &q.source_system,
            &q.data_controller,
            &q.owner,
            &mrc,
        ];
        let rows = query(self, SQL, params).await?;
        rows.iter().map(engagement_from_row).collect()
    }

    async fn get_engagement(&self, id: &EngagementId) -> Result<Option<Engagement>> {
        const SQL: &str = concat!(
            "SELECT ",
            engagement_columns!(),
            " FROM engagement WHERE id = $1"
        );
        let rows = query(self, SQL, &[&id.as_str()]).await?;
        rows.first().map(engagement_from_row).transpose()
    }

    async fn engagements_updated_since(
        &self,
        service_domain: &str,
        since: EiTime,
        after_resident: Option<&ResidentId>,
        max_residents: usize,
    ) -> Result<UpdatesPage> {
        // One statement (one snapshot): the first `max + 1` residents and all their
        // engagements in the window; the extra resident only tells that more follow.
        const SQL: &str = concat!(
            "WITH r AS ( \
                 SELECT DISTINCT registered_resident_id FROM engagement \
                 WHERE service_domain = $1 AND changed_at >= $2 AND registered_resident_id > $3 \
                 ORDER BY registered_resident_id LIMIT $4 \
             ) SELECT ",
            engagement_columns!(),
            " FROM engagement \
             WHERE registered_resident_id IN (SELECT registered_resident_id FROM r) \
               AND service_domain = $1 AND changed_at >= $2 \
             ORDER BY registered_resident_id, id"
        );
        let since = since.to_string();
        let after = after_resident.map_or("", ResidentId::as_str);
        let limit = sql_limit(max_residents.saturating_add(1));
        let rows = query(self, SQL, &[&service_domain, &since, &after, &limit]).await?;
        let mut residents: Vec<(ResidentId, Vec<Engagement>)> = Vec::new();
        for row in &rows {
            let e = engagement_from_row(row)?;
            match residents.last_mut() {
                Some((rri, list)) if *rri == e.registered_resident_identification => list.push(e),
                _ => residents.push((e.registered_resident_identification.clone(), vec![e])),
            }
        }
        let complete = residents.len() <= max_residents;
        residents.truncate(max_residents);
        Ok(UpdatesPage {
            residents,
            complete,
        })
    }
}

/// An outbox item from (id, destination, payload, attempts, next_attempt_ms, last_error).
fn outbox_from_row(r: &Row) -> std::result::Result<OutboxItem, tokio_postgres::Error> {
    Ok(OutboxItem {
        id: r.try_get(0)?,
        destination: r.try_get(1)?,
        payload: r.try_get(2)?,
        attempts: u32::try_from(r.try_get::<_, i32>(3)?).unwrap_or(0),
        next_attempt: from_millis(r.try_get(4)?),
        last_error: r.try_get(5)?,
    })
}

#[async_trait]
impl Outbox for PgStore {
    async fn outbox_enqueue(&self, items: Vec<NewOutboxItem>) -> Result<()> {
        insert_outbox(&self.client().await?, &items).await
    }

    async fn outbox_claim(
        &self,
        queue: &str,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        // READ COMMITTED: the claim statement, started once the lock is ours, sees the
        // leases the previous claimer committed.
        let tx = begin(&mut client).await?;
        let lock = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
        let lock = tx.prepare_cached(lock).await.map_err(db)?;
        tx.execute(&lock, &[&CLAIM_LOCK_CLASS, &queue])
            .await
            .map_err(db)?;
        let claim = tx.prepare_cached(CLAIM_OUTBOX).await.map_err(db)?;
        let (now_ms, until_ms) = (millis(now), millis(now + lease));
        let params: &Params<'_> = &[&queue, &now_ms, &sql_limit(limit), &until_ms];
        let rows = tx.query(&claim, params).await.map_err(db)?;
        let items = rows
            .iter()
            .map(outbox_from_row)
            .collect::<std::result::Result<Vec<_>, _>>();
        let mut items = items.map_err(db)?;
        tx.commit().await.map_err(db)?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn outbox_release(&self, ids: &[i64], now: SystemTime) -> Result<()> {
        if !ids.is_empty() {
            let sql = "UPDATE outbox SET next_attempt_ms = $2 WHERE id = ANY($1::bigint[])";
            query(self, sql, &[&ids, &millis(now)]).await?;
        }
        Ok(())
    }

    async fn outbox_next_attempt(&self, queue: &str) -> Result<Option<SystemTime>> {
        let sql = "SELECT MIN(next_attempt_ms) FROM outbox WHERE queue = $1";
        let ms: Option<i64> = scalar(self, sql, &[&queue]).await?;
        Ok(ms.map(from_millis))
    }

    async fn outbox_mark_delivered(&self, id: i64) -> Result<()> {
        query(self, "DELETE FROM outbox WHERE id = $1", &[&id]).await?;
        Ok(())
    }

    async fn outbox_reschedule(
        &self,
        id: i64,
        next_attempt: SystemTime,
        attempts: u32,
        last_error: &str,
    ) -> Result<()> {
        let sql = "UPDATE outbox SET next_attempt_ms = $2, attempts = $3, last_error = $4 \
                   WHERE id = $1";
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let params: &Params<'_> = &[&id, &millis(next_attempt), &attempts, &last_error];
        query(self, sql, params).await?;
        Ok(())
    }

    async fn outbox_len(&self, queue: &str) -> Result<u64> {
        let sql = "SELECT COUNT(*) FROM outbox WHERE queue = $1";
        let n: i64 = scalar(self, sql, &[&queue]).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn outbox_backlog(&self, queue: &str) -> Result<Vec<DestinationBacklog>> {
        let sql = "SELECT o.destination, c.n, o.created_ms, o.attempts, o.next_attempt_ms, \
                   o.last_error \
                   FROM (SELECT destination, COUNT(*) AS n, MIN(id) AS head FROM outbox \
                         WHERE queue = $1 GROUP BY destination) c \
                   JOIN outbox o ON o.id = c.head ORDER BY o.destination";
        let rows = query(self, sql, &[&queue]).await?;
        let backlog = |r: &Row| -> std::result::Result<_, tokio_postgres::Error> {
            Ok(DestinationBacklog {
                destination: r.try_get(0)?,
                pending: u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
                oldest: from_millis(r.try_get(2)?),
                head_attempts: u32::try_from(r.try_get::<_, i32>(3)?).unwrap_or(0),
                next_attempt: from_millis(r.try_get(4)?),
                last_error: r.try_get(5)?,
            })
        };
        rows.iter()
            .map(backlog)
            .collect::<std::result::Result<_, _>>()
            .map_err(db)
    }
}

#[cfg(test)]
mod tests;
