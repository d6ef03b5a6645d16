//! A fresh schema on the test database server, for this crate's tests, the gateway's
//! end-to-end tests and the benchmarks (not for production use).
//!
//! The server is `VAXEL_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test` (the server on the development and CI
//! machines, trust authentication). Where none is reachable, [`TestDatabase::create`]
//! prints why and gives `None` (the caller skips), except under CI (`CI=true`), where a
//! missing server is a failure: CI never passes by skipping.

use vaxel_store::config::PostgresConfig;

/// The default test server.
pub const DEFAULT_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own on the test server, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    pub config: PostgresConfig,
}

/// The test server's URL.
pub fn test_url() -> String {
    std::env::var("VAXEL_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_URL.to_string())
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl TestDatabase {
    /// A new, empty schema named `<prefix>_<random>`; `None` when no server answers
    /// (printed; a panic under CI).
    pub async fn create(prefix: &str) -> Option<TestDatabase> {
        let url = test_url();
        let schema = format!(
            "{}_{}",
            prefix,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        match connect(&url).await {
            Ok(client) => {
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test schema {schema}: {e}"));
                Some(TestDatabase {
                    config: PostgresConfig::new(&url, &schema),
                })
            }
            Err(e) if under_ci() => panic!(
                "CI=true and no PostgreSQL at {url}: {e}. CI must not skip the PostgreSQL tests; start the server or set VAXEL_TEST_POSTGRES_URL"
            ),
            Err(e) => {
                eprintln!(
                    "SKIPPED: no PostgreSQL at {url} ({e}); set VAXEL_TEST_POSTGRES_URL or start the server (under CI=true this is a failure)"
                );
                None
            }
        }
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.config.schema
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code (or during a panic): a thread with its own
        // runtime removes the schema.
        let url = test_url();
        let schema = self.config.schema.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = connect(&url).await.ok()?;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .ok()
            })
        });
        let _ = done.join();
    }
}
