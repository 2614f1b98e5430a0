//! Imports at scale: `make bench` (release). On SQLite and, when `TEST_POSTGRES_URL` is
//! set, PostgreSQL:
//! - a CSV of 100,000 new items (image checks off), from the file's bytes to the task's
//!   end, through one engine with 64 slots (target ≤ 15 s);
//! - a file of 50,000 rows of which 10,000 are bad: the task page's reads of it (its
//!   failures grouped by reason, a page of its failed rows, a search among its rows)
//!   and its error report, each 10 times (median and worst).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::domain::{Email, Password};
use backend::imports::{self, ImportLimits};
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::query::ItemFilter;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::{ItemStatus, Registry, TaskStatus};
use backend::testing::{Engine as DbEngine, TestDb};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    for (name, engine) in [
        ("sqlite", DbEngine::Sqlite),
        ("postgres", DbEngine::Postgres),
    ] {
        let Some(test_db) = TestDb::new(engine).await else {
            continue;
        };
        let db = test_db.db.clone();
        let seller = backend::accounts::create_seller(
            &db,
            &Email::parse("bench@example.com").unwrap(),
            None,
            &Password::parse("benchmark-password").unwrap(),
        )
        .await
        .unwrap()
        .id;
        let registry = Registry::new().register(imports::Import::new(
            db.clone(),
            backend::testing::fast_connector("http://127.0.0.1:9"),
        ));
        let config = EngineConfig::new(64);
        let bus = EventBus::new(config.worker_id.clone(), Duration::from_millis(250));
        let engine = Arc::new(Engine::new(db.clone(), registry, bus, config));
        let shutdown = CancellationToken::new();
        let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));

        let file = csv(100_000, 0, "NEW");
        let started = Instant::now();
        let task = import(&engine, seller, &file).await;
        wait_ended(&db, seller, task).await;
        let took = started.elapsed();
        let done = backend::tasks::get(&db, seller, task).await.unwrap();
        assert_eq!(done.status, TaskStatus::Succeeded);
        println!(
            "{name:8} import 100 000 new items ({:.1} MB, image checks off): {:.1} s  ({:.0} rows/s; target ≤ 15 s)",
            file.len() as f64 / 1e6,
            took.as_secs_f64(),
            100_000.0 / took.as_secs_f64()
        );

        let file = csv(50_000, 10_000, "MIX");
        let task = import(&engine, seller, &file).await;
        wait_ended(&db, seller, task).await;
        let done = backend::tasks::get(&db, seller, task).await.unwrap();
        assert_eq!(done.counts.failed, 10_000);
        report(
            name,
            "failures grouped by reason",
            measure(|| async {
                backend::tasks::query::failure_groups(&db, seller, task)
                    .await
                    .unwrap()
            })
            .await,
        );
        let failed = ItemFilter {
            status: Some(ItemStatus::Failed),
            ..ItemFilter::default()
        };
        report(
            name,
            "page 100 of the failed rows",
            measure(|| async {
                backend::tasks::query::items(&db, seller, task, &failed, 100, 50)
                    .await
                    .unwrap()
            })
            .await,
        );
        let search = ItemFilter {
            q: Some("MIX-004242".into()),
            ..ItemFilter::default()
        };
        report(
            name,
            "a search among its rows",
            measure(|| async {
                backend::tasks::query::items(&db, seller, task, &search, 1, 50)
                    .await
                    .unwrap()
            })
            .await,
        );
        report(
            name,
            "the error report (10 000 rows)",
            measure(|| async {
                backend::reports::error_report(&db, seller, task)
                    .await
                    .unwrap()
            })
            .await,
        );
        shutdown.cancel();
        runner.await.unwrap();
        test_db.finish().await;
    }
}

/// `rows` rows with SKUs `<prefix>-000000`…; every fifth row among the first `bad × 5`
/// has a price the file cannot mean.
fn csv(rows: usize, bad: usize, prefix: &str) -> Vec<u8> {
    let mut out =
        String::from("sku,title,description,price,currency,quantity,image_url,category\n");
    for i in 0..rows {
        let price = if i % 5 == 0 && i / 5 < bad {
            "twelve"
        } else {
            "12.50"
        };
        writeln!(
            out,
            "{prefix}-{i:06},Imported mug {i},\"A mug, row {i}\",{price},EUR,{},,Kitchen",
            i % 50
        )
        .unwrap();
    }
    out.into_bytes()
}

async fn import(engine: &Engine, seller: i64, file: &[u8]) -> i64 {
    let limits = ImportLimits {
        max_bytes: 64 * 1024 * 1024,
        max_rows: 200_000,
    };
    let parsed = imports::parse(file, &limits).unwrap();
    let params = imports::params("bench.csv", &parsed, false, 0);
    engine
        .create_task_from(
            NewTask {
                seller_id: seller,
                kind: "import".into(),
                params,
                idempotency_key: None,
            },
            Some(imports::subjects(&parsed)),
        )
        .await
        .unwrap()
        .task()
        .id
}

async fn wait_ended(db: &backend::DatabaseConnection, seller: i64, task_id: i64) {
    loop {
        let task = backend::tasks::get(db, seller, task_id).await.unwrap();
        if task.status.is_terminal() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn measure<F, Fut, T>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut timings = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        std::hint::black_box(f().await);
        timings.push(started.elapsed());
    }
    timings.sort();
    timings
}

fn report(engine: &str, label: &str, timings: Vec<Duration>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{engine:8} {label:32} median {:>8.2} ms   worst {:>8.2} ms",
        ms(timings[timings.len() / 2]),
        ms(timings[timings.len() - 1])
    );
}
