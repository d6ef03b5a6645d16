//! Versioned migrations, one track per store (as on SQLite): `migrations[i]` takes a
//! track from version `i` to `i + 1`, and `vaxel_schema_version` holds the version each
//! track reached. Several nodes starting at once on a fresh database take turns on a
//! session advisory lock, so each step runs once; a database newer than this build is
//! refused before anything is touched.

use vaxel_store::{Result, StoreError};

use crate::db;

/// Advisory lock key space of vaxel's migrations (one lock per schema within it).
const LOCK_CLASS: i32 = 0x7661_786c; // "vaxl"

/// Create `schema` when missing and run every track's pending steps.
pub(crate) async fn run(
    client: &mut deadpool_postgres::Object,
    schema: &str,
    tracks: &[(&str, &[&str])],
) -> Result<()> {
    let lock_key = schema_lock_key(schema);
    client
        .execute("SELECT pg_advisory_lock($1, $2)", &[&LOCK_CLASS, &lock_key])
        .await
        .map_err(db)?;
    let result = run_locked(client, schema, tracks).await;
    // Released explicitly: the pooled connection lives on.
    let unlock = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_CLASS, &lock_key],
        )
        .await
        .map_err(db);
    result.and(unlock.map(|_| ()))
}

async fn run_locked(
    client: &mut deadpool_postgres::Object,
    schema: &str,
    tracks: &[(&str, &[&str])],
) -> Result<()> {
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS vaxel_schema_version (
                 track TEXT PRIMARY KEY,
                 version INTEGER NOT NULL
             );"
        ))
        .await
        .map_err(|e| migration_error("schema", e))?;
    // Refuse a newer database before changing any track.
    for (track, migrations) in tracks {
        let current = version(client, track).await?;
        let supported = migrations.len() as i64;
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
    }
    for (track, migrations) in tracks {
        let current = version(client, track).await?;
        for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
            let step = i as i32 + 1;
            let tx = client
                .transaction()
                .await
                .map_err(|e| migration_error(track, e))?;
            tx.batch_execute(sql)
                .await
                .map_err(|e| migration_error(track, e))?;
            tx.execute(
                "INSERT INTO vaxel_schema_version (track, version) VALUES ($1, $2)
                 ON CONFLICT (track) DO UPDATE SET version = EXCLUDED.version",
                &[track, &step],
            )
            .await
            .map_err(|e| migration_error(track, e))?;
            tx.commit().await.map_err(|e| migration_error(track, e))?;
            tracing::info!(
                track,
                version = step,
                schema,
                "store schema migrated (PostgreSQL)"
            );
        }
    }
    Ok(())
}

async fn version(client: &deadpool_postgres::Object, track: &str) -> Result<i64> {
    let row = client
        .query_opt(
            "SELECT version FROM vaxel_schema_version WHERE track = $1",
            &[&track],
        )
        .await
        .map_err(|e| migration_error(track, e))?;
    Ok(row.map(|r| i64::from(r.get::<_, i32>(0))).unwrap_or(0))
}

fn migration_error(track: &str, e: tokio_postgres::Error) -> StoreError {
    let text = match db(e) {
        StoreError::Backend(text) => text,
        other => other.to_string(),
    };
    StoreError::Backend(format!("{track} schema migration: {text}"))
}

/// A stable 32-bit key for the schema's name (FNV-1a), so that nodes on different
/// schemas of one database do not wait for each other.
fn schema_lock_key(schema: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}
