//! Test databases (feature `testing`): a fresh SQLite file or a fresh PostgreSQL database
//! per test. PostgreSQL tests run when `TEST_POSTGRES_URL` is set and say so when they skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::DatabaseConnection;
use sea_orm::{ConnectionTrait, Database};
use std::sync::atomic::{AtomicU32, Ordering};

pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub db: DatabaseConnection,
    // Keeps the SQLite file alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A migrated, empty database, or `None` when the engine is not available here.
    pub async fn new(engine: Engine) -> Option<Self> {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                let db = crate::db::connect(&url).await.unwrap();
                crate::db::migrate(&db).await.unwrap();
                Some(Self {
                    db,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Engine::Postgres => {
                let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
                    eprintln!("SKIPPED: PostgreSQL test (set TEST_POSTGRES_URL to run it)");
                    return None;
                };
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "stockroom_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand_suffix()
                );
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_POSTGRES_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&format!("/{name}"));
                let db = crate::db::connect(url.as_str()).await.unwrap();
                crate::db::migrate(&db).await.unwrap();
                Some(Self {
                    db,
                    _dir: None,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL test database; SQLite files go with the temp dir.
    pub async fn finish(self) {
        self.db.close().await.ok();
        if let Some((admin_url, name)) = self.postgres {
            if let Ok(admin) = Database::connect(&admin_url).await {
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok();
            }
        }
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Declares one test per engine: `mod name { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(clippy::unwrap_used, clippy::expect_used)]
            async fn scenario($db: &$crate::DatabaseConnection) $body

            #[tokio::test]
            async fn sqlite() {
                let test_db = $crate::testing::TestDb::new($crate::testing::Engine::Sqlite).await.unwrap();
                scenario(&test_db.db).await;
                test_db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(test_db) = $crate::testing::TestDb::new($crate::testing::Engine::Postgres).await else {
                    return;
                };
                scenario(&test_db.db).await;
                test_db.finish().await;
            }
        }
    };
}
