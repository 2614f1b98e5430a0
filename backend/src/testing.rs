//! Test databases (feature `testing`): a fresh SQLite file or a fresh PostgreSQL database
//! per test. PostgreSQL tests run on `TEST_POSTGRES_URL`; without it they fail, saying
//! SKIPPED (`make rust-test` starts a PostgreSQL of its own when it is unset).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod generate;
pub mod outage;

use crate::DatabaseConnection;
use sea_orm::{ConnectionTrait, Database};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy)]
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
    /// A migrated, empty database for a test: a half that cannot run fails, saying
    /// SKIPPED, so a two-database test never passes on one (`make rust-test` starts a
    /// PostgreSQL cluster of its own when `TEST_POSTGRES_URL` is unset).
    pub async fn required(engine: Engine) -> Self {
        match Self::new(engine).await {
            Some(test_db) => test_db,
            None => panic!(
                "SKIPPED: this {engine:?} half cannot run here: set TEST_POSTGRES_URL to a server \
                 where the user may create databases, or run `make rust-test`"
            ),
        }
    }

    /// A migrated, empty database, or `None` when the engine is not available here
    /// (benchmarks report that and go on; tests use [`TestDb::required`]).
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

    /// The database's URL, for PostgreSQL (other processes can connect to it).
    pub fn url(&self) -> Option<String> {
        let (admin_url, name) = self.postgres.as_ref()?;
        let mut url = url::Url::parse(admin_url).ok()?;
        url.set_path(&format!("/{name}"));
        Some(url.to_string())
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
                let test_db = $crate::testing::TestDb::required($crate::testing::Engine::Sqlite).await;
                scenario(&test_db.db).await;
                test_db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let test_db = $crate::testing::TestDb::required($crate::testing::Engine::Postgres).await;
                scenario(&test_db.db).await;
                test_db.finish().await;
            }
        }
    };
}

/// A task kind whose items follow a script, for engine tests. Each subject is
/// `{"plan": [step, …]}`; execution *n* of an item (counted across retries) runs step *n*
/// (the last step repeats). Steps: `"ok"`, `"retry"`, `"retry_after:<secs>"`, `"fail"`,
/// `"fail:<code>"`, `"panic"`, `"wait"` (until cancelled), `"sleep:<ms>"` (then succeed).
pub mod scripted {
    use crate::tasks::{InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind};
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub struct Scripted {
        pub policy: Option<RetryPolicy>,
        pub concurrency: Option<u32>,
        executions: Arc<Mutex<HashMap<i64, usize>>>,
    }

    impl Scripted {
        pub fn new(policy: RetryPolicy) -> Self {
            Self {
                policy: Some(policy),
                ..Self::default()
            }
        }

        pub fn with_concurrency(mut self, concurrency: u32) -> Self {
            self.concurrency = Some(concurrency);
            self
        }

        /// How many times each item's handler ran.
        pub fn executions(&self, item_id: i64) -> usize {
            self.executions
                .lock()
                .unwrap()
                .get(&item_id)
                .copied()
                .unwrap_or(0)
        }
    }

    /// One subject per item, each with its plan.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct ScriptedParams {
        pub items: Vec<Value>,
    }

    /// A test kind's words: it is not one the product offers.
    pub static SCRIPTED: Presentation = Presentation {
        name: "scripted",
        title: "Run",
        doing: "Running",
        done: "done",
        unit: ("item", "items"),
        mark: "TST",
        subject: task_model::Subject::Counter,
        in_bulk_bar: false,
        listed: false,
        on_save: "Save anyway?",
        by_state: None,
        undoable: false,
        warning: None,
        download: None,
    };

    /// Params for `n` items that all follow `plan`.
    pub fn params(n: usize, plan: &[&str]) -> Value {
        json!({ "items": (0..n).map(|_| json!({ "plan": plan })).collect::<Vec<_>>() })
    }

    /// Params with one plan per item.
    pub fn params_each(plans: &[&[&str]]) -> Value {
        json!({ "items": plans.iter().map(|plan| json!({ "plan": plan })).collect::<Vec<_>>() })
    }

    #[async_trait::async_trait]
    impl TaskKind for Scripted {
        type Params = ScriptedParams;
        type Subject = Value;

        fn presentation(&self) -> &'static Presentation {
            &SCRIPTED
        }

        fn expand(&self, params: &ScriptedParams) -> Result<Vec<Value>, InvalidParams> {
            Ok(params.items.clone())
        }

        async fn process(&self, item: ItemContext<ScriptedParams, Value>) -> Outcome {
            let execution = {
                let mut executions = self.executions.lock().unwrap();
                let count = executions.entry(item.item_id).or_default();
                *count += 1;
                *count
            };
            let plan: Vec<String> =
                serde_json::from_value(item.subject["plan"].clone()).unwrap_or_default();
            let step = plan
                .get(execution - 1)
                .or(plan.last())
                .cloned()
                .unwrap_or_else(|| "ok".into());
            match step.split_once(':') {
                Some(("retry_after", secs)) => Outcome::RetryLater {
                    delay: Some(chrono::Duration::seconds(secs.parse().unwrap_or(1))),
                    code: "rate_limited".into(),
                    message: "Slow down".into(),
                },
                Some(("snooze", secs)) => Outcome::Snooze {
                    delay: chrono::Duration::seconds(secs.parse().unwrap_or(1)),
                    code: "rate_limited".into(),
                    message: "Quota exceeded".into(),
                },
                Some(("accepted", secs)) => Outcome::Waiting {
                    check_after: chrono::Duration::seconds(secs.parse().unwrap_or(1)),
                    note: json!({ "submission": execution }),
                },
                Some(("fail", code)) => Outcome::failed(code, format!("Failed with {code}.")),
                Some(("sleep", ms)) => {
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(10))) => Outcome::Succeeded(json!({ "execution": execution })),
                        () = item.cancel.cancelled() => Outcome::Cancelled,
                    }
                }
                _ => match step.as_str() {
                    "ok" => Outcome::Succeeded(json!({ "execution": execution })),
                    "retry" => Outcome::retry(
                        "upstream_timeout",
                        format!("attempt {} timed out", item.attempt),
                    ),
                    "fail" => Outcome::failed("invalid_price", "Price must be positive."),
                    "panic" => panic!("scripted panic"),
                    "wait" => {
                        item.cancel.cancelled().await;
                        Outcome::Cancelled
                    }
                    other => Outcome::failed("bad_script", format!("unknown step {other}")),
                },
            }
        }

        fn concurrency(&self) -> u32 {
            self.concurrency.unwrap_or(64)
        }

        fn retry_policy(&self) -> RetryPolicy {
            self.policy.unwrap_or_default()
        }
    }
}

/// Checks that a task's counters equal the aggregates of its items.
pub async fn assert_counters_match(db: &DatabaseConnection, task_id: i64) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let task = crate::tasks::load(db, task_id).await.unwrap();
    let items = crate::entities::task_item::Entity::find()
        .filter(crate::entities::task_item::Column::TaskId.eq(task_id))
        .all(db)
        .await
        .unwrap();
    let count = |status: &str| items.iter().filter(|i| i.status == status).count() as i64;
    let aggregates = crate::tasks::TaskCounts {
        total: items.len() as i64,
        pending: count("pending"),
        waiting: count("waiting"),
        running: count("running"),
        succeeded: count("succeeded"),
        failed: count("failed"),
        skipped: count("skipped"),
        cancelled: count("cancelled"),
    };
    assert_eq!(
        task.counts, aggregates,
        "counters of task {task_id} drifted from its items"
    );
}

/// A connector to a test marketplace with a pace high enough never to slow a test down.
pub fn fast_connector(base_url: &str) -> std::sync::Arc<crate::marketplace::Connector> {
    use crate::pacing::{Pace, Pacer};
    let pacer = Pacer::in_memory(Pace {
        per_second: 1_000,
        burst: 1_000,
    });
    std::sync::Arc::new(
        crate::marketplace::Connector::new(
            base_url,
            std::sync::Arc::new(pacer),
            std::time::Duration::from_secs(2),
        )
        .expect("an HTTP client"),
    )
}

/// A seller (password "correct horse battery") with `n` demo items; returns the seller's
/// id and the items' ids.
pub async fn seller_with_items(db: &DatabaseConnection, email: &str, n: usize) -> (i64, Vec<i64>) {
    let seller = crate::accounts::create_seller(
        db,
        &crate::domain::Email::parse(email).expect("a test e-mail"),
        None,
        &crate::domain::Password::parse("correct horse battery").expect("a test password"),
    )
    .await
    .expect("a test seller")
    .id;
    crate::catalog::insert_many(db, crate::demo::demo_items(seller, n))
        .await
        .expect("demo items");
    let ids = crate::catalog::matching_ids(db, seller, &Default::default())
        .await
        .expect("the items' ids");
    (seller, ids)
}

/// Gives every item a positive price and an image, so the marketplace accepts them all.
pub async fn make_all_listable(db: &DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    db.execute_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "UPDATE items SET price_minor = 1500, image_url = '/media/demo/1.svg'",
    ))
    .await
    .expect("listable items");
}

/// A `kind` task ("publish", "unpublish") over these items.
pub fn task_over(seller_id: i64, kind: &str, item_ids: &[i64]) -> crate::tasks::create::NewTask {
    crate::tasks::create::NewTask {
        seller_id,
        kind: kind.to_owned(),
        params: serde_json::json!({ "item_ids": item_ids }),
        idempotency_key: None,
    }
}

/// Starts a `kind` task over these items through the engine and returns it.
pub async fn start_task(
    engine: &crate::tasks::worker::Engine,
    seller_id: i64,
    kind: &str,
    item_ids: &[i64],
) -> crate::tasks::Task {
    engine
        .create_task(task_over(seller_id, kind, item_ids))
        .await
        .expect("a task")
        .task()
        .clone()
}
