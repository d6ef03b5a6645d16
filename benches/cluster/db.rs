//! One configuration's fresh database (a SQLite file or a PostgreSQL schema) and the
//! nodes opened on it, each with its own `Stores` and `EngagementIndex`.

use std::path::PathBuf;

use vaxel_engagement_index::config::EngagementIndexConfig;
use vaxel_engagement_index::EngagementIndex;
use vaxel_store::{PostgresConfig, Stores};
use vaxel_store_postgres::test_support::TestDatabase;

use crate::cpu::fs_type;
use crate::{Backend, Knobs};

/// One configuration's fresh database.
pub enum Database {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        /// Dropping it drops the schema.
        _db: Box<TestDatabase>,
        /// The test database's configuration with our pool size and an application
        /// name that finds our backends in `pg_stat_activity`.
        config: PostgresConfig,
    },
}

impl Database {
    pub async fn create(backend: Backend, knobs: &Knobs) -> Option<Database> {
        match backend {
            Backend::Sqlite => {
                let dir = match &knobs.dir {
                    Some(d) => {
                        std::fs::create_dir_all(d).expect("VAXEL_CLUSTER_BENCH_DIR");
                        tempfile::tempdir_in(d)
                    }
                    None => tempfile::tempdir(),
                }
                .expect("temporary folder");
                let path = dir.path().join("vaxel.db");
                Some(Database::Sqlite { _dir: dir, path })
            }
            Backend::Postgres => {
                let db = TestDatabase::create("vx_clbench").await?;
                let mut config = db.config.clone();
                config.pool_size = knobs.pool_size;
                let sep = if config.url.contains('?') { '&' } else { '?' };
                config.url = format!("{}{sep}application_name={}", config.url, db.schema());
                Some(Database::Postgres {
                    _db: Box::new(db),
                    config,
                })
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => format!("{} ({})", path.display(), fs_type(path)),
            Database::Postgres { config, .. } => format!(
                "{} schema {}, pool {} per node",
                config.display_url(),
                config.schema,
                config.pool_size
            ),
        }
    }

    /// The application name of this configuration's connections (PostgreSQL).
    pub fn app(&self) -> Option<&str> {
        match self {
            Database::Sqlite { .. } => None,
            Database::Postgres { config, .. } => Some(&config.schema),
        }
    }

    /// Open one node's stores (a second call opens a second, independent node).
    async fn open(&self) -> Stores {
        match self {
            Database::Sqlite { path, .. } => vaxel_store_sqlite::open(path).expect("open SQLite"),
            Database::Postgres { config, .. } => vaxel_store_postgres::open(config)
                .await
                .expect("open PostgreSQL"),
        }
    }
}

/// One gateway node's view of the database.
pub struct Node {
    pub stores: Stores,
    pub ei: EngagementIndex,
}

pub async fn open_nodes(db: &Database, n: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        let stores = db.open().await;
        let ei = EngagementIndex::new(
            stores.engagements.clone(),
            stores.outbox.clone(),
            EngagementIndexConfig::default(),
        );
        nodes.push(Node { stores, ei });
    }
    // Warm each node: a few concurrent reads open pooled connections (and the SQLite
    // files' pages) before anything is timed.
    for node in &nodes {
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let sdk = node.stores.sdk.clone();
            reads.spawn(async move { sdk.sdk_counts().await });
        }
        while let Some(r) = reads.join_next().await {
            r.expect("warm-up task").expect("warm-up read");
        }
    }
    nodes
}
