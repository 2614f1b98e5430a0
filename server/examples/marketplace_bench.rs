//! Marketplace benchmarks: `make bench` (release).
//! - publish 1 000 items to the sandbox at `SANDBOX_RATE_LIMIT=50`, latency 100–300 ms,
//!   paced at 50/s: achieved rate and the 429s we caused (SQLite);
//! - two instances (two engines, each with its own connection pool and pacer) publishing
//!   for the same seller on PostgreSQL against that limit: the pace is shared through the
//!   database, so together they stay under it (needs `TEST_POSTGRES_URL`);
//! - import a 10 000-row CSV, image checks off, from the uploaded bytes to the task's end
//!   (SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::catalog::{self, ItemFilter};
use backend::domain::{Email, Password};
use backend::marketplace::Connector;
use backend::pacing::{Pace, Pacer};
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::testing::{Engine as DbEngine, TestDb};
use backend::DatabaseConnection;
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PUBLISH: usize = 1_000;
const LIMIT: u32 = 50;
const IMPORT_ROWS: usize = 10_000;

async fn sandbox() -> (Sandbox, String) {
    Sandbox::serve_local(SandboxSettings {
        rate_limit: LIMIT,
        burst: LIMIT,
        latency_ms: (100, 300),
        transient_error_rate: 0.0,
        seed: 5,
    })
    .await
    .unwrap()
}

/// One server instance's engine: its own pacer (shared through the database on
/// PostgreSQL), 4 workers × 8 slots as `make run` has.
fn instance(db: &DatabaseConnection, marketplace: &str, name: &str) -> Arc<Engine> {
    instance_with(db, marketplace, name, true)
}

/// `shared = false` paces in memory, as if each instance only knew about itself.
fn instance_with(
    db: &DatabaseConnection,
    marketplace: &str,
    name: &str,
    shared: bool,
) -> Arc<Engine> {
    let pace = Pace {
        per_second: LIMIT,
        burst: 1,
    };
    let pacer = if shared {
        Pacer::shared(pace, db)
    } else {
        Pacer::in_memory(pace)
    };
    let connector =
        Arc::new(Connector::new(marketplace, Arc::new(pacer), Duration::from_secs(15)).unwrap());
    let mut config = EngineConfig::new(32);
    config.worker_id = name.to_owned();
    Arc::new(Engine::new(
        db.clone(),
        server::workers::kinds(db, connector),
        EventBus::new(name, Duration::from_millis(250)),
        config,
    ))
}

/// Publishes with `engines` running side by side; returns the seconds from the first
/// listing to the last and the sandbox's totals.
async fn publish(
    db: &DatabaseConnection,
    engines: &[Arc<Engine>],
    sandbox: &Sandbox,
) -> (f64, f64, u64, u64) {
    let (seller, ids) = backend::testing::seller_with_items(db, "bench@example.com", PUBLISH).await;
    backend::testing::make_all_listable(db).await;
    let task = engines[0]
        .create_task(backend::testing::task_over(seller, "publish", &ids))
        .await
        .unwrap()
        .task()
        .clone();
    let stop = CancellationToken::new();
    let started = Instant::now();
    let runners: Vec<_> = engines
        .iter()
        .map(|engine| tokio::spawn(Arc::clone(engine).run(stop.clone())))
        .collect();
    // The rate after the first second (our pace has no burst, so this is steady state).
    let mut first_second = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listed = sandbox.stats().0.listings;
        if first_second.is_none() && started.elapsed() >= Duration::from_secs(1) {
            first_second = Some((Instant::now(), listed));
        }
        let now = backend::tasks::load(db, task.id).await.unwrap();
        if now.status.is_terminal() {
            assert_eq!(now.counts.succeeded, PUBLISH as i64, "{:?}", now.counts);
            break;
        }
    }
    let total = started.elapsed().as_secs_f64();
    stop.cancel();
    for runner in runners {
        runner.await.unwrap();
    }
    let (stats, _) = sandbox.stats();
    let (t1, listed1) = first_second.unwrap();
    let steady = (stats.listings - listed1) as f64 / t1.elapsed().as_secs_f64();
    (total, steady, stats.rate_limited, stats.create_requests)
}

fn report(what: &str, (total, steady, limited, creates): (f64, f64, u64, u64)) {
    println!(
        "{what}: {PUBLISH} items in {total:.1} s; steady rate {steady:.1}/s = {:.2} × the limit of {LIMIT}/s; {limited} × 429; {creates} creates",
        steady / f64::from(LIMIT)
    );
}

fn csv(rows: usize) -> Vec<u8> {
    let mut out =
        String::from("sku,title,description,price,currency,quantity,image_url,category\n");
    for n in 0..rows {
        out.push_str(&format!(
            "B-{n:06},\"Bench item {n}, blue\",Made for the benchmark,{}.{:02},EUR,{},/media/demo/{}.svg,Home > Decor\n",
            10 + n % 90,
            n % 100,
            n % 50,
            n % 300
        ));
    }
    out.into_bytes()
}

async fn import(db: &DatabaseConnection) -> f64 {
    let seller = backend::accounts::create_seller(
        db,
        &Email::parse("importer@example.com").unwrap(),
        None,
        &Password::parse("benchmark-password").unwrap(),
    )
    .await
    .unwrap()
    .id;
    let engine = instance(db, "http://127.0.0.1:9/unused", "importer");
    let bytes = csv(IMPORT_ROWS);
    let stop = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(stop.clone()));
    let started = Instant::now();
    let parsed =
        backend::imports::parse(&bytes, &backend::imports::ImportLimits::default()).unwrap();
    let task = engine
        .create_task_from(
            NewTask {
                seller_id: seller,
                kind: "import".into(),
                params: backend::imports::params("bench.csv", &parsed, false, 0),
                idempotency_key: None,
            },
            Some(backend::imports::subjects(&parsed)),
        )
        .await
        .unwrap()
        .task()
        .clone();
    loop {
        let now = backend::tasks::load(db, task.id).await.unwrap();
        if now.status.is_terminal() {
            assert_eq!(now.counts.succeeded, IMPORT_ROWS as i64, "{:?}", now.counts);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    runner.await.unwrap();
    let items = catalog::count(db, seller, &ItemFilter::default())
        .await
        .unwrap();
    assert_eq!(items, IMPORT_ROWS as u64);
    seconds
}

#[tokio::main]
async fn main() {
    let sqlite = TestDb::new(DbEngine::Sqlite).await.unwrap();
    let (sandbox_one, url) = sandbox().await;
    let one = instance(&sqlite.db, &url, "instance-1");
    report(
        "publish, one instance, SQLite",
        publish(&sqlite.db, &[one], &sandbox_one).await,
    );
    let seconds = import(&sqlite.db).await;
    println!(
        "import, SQLite, image checks off: {IMPORT_ROWS} rows in {seconds:.2} s ({:.0} rows/s)",
        IMPORT_ROWS as f64 / seconds
    );
    sqlite.finish().await;

    if let Some(postgres) = TestDb::new(DbEngine::Postgres).await {
        let url_pg = postgres.url().unwrap();
        let (sandbox_two, url) = sandbox().await;
        // Two instances: separate connection pools, separate pacers, one database.
        let other = backend::db::connect(&url_pg).await.unwrap();
        let engines = [
            instance(&postgres.db, &url, "instance-1"),
            instance(&other, &url, "instance-2"),
        ];
        report(
            "publish, two instances sharing the pace, PostgreSQL",
            publish(&postgres.db, &engines, &sandbox_two).await,
        );
        other.close().await.ok();
        postgres.finish().await;

        // The control: the same two instances, each pacing only itself.
        let postgres = TestDb::new(DbEngine::Postgres).await.unwrap();
        let url_pg = postgres.url().unwrap();
        let (sandbox_three, url) = sandbox().await;
        let other = backend::db::connect(&url_pg).await.unwrap();
        let engines = [
            instance_with(&postgres.db, &url, "instance-1", false),
            instance_with(&other, &url, "instance-2", false),
        ];
        report(
            "control: two instances each pacing only itself, PostgreSQL",
            publish(&postgres.db, &engines, &sandbox_three).await,
        );
        other.close().await.ok();
        postgres.finish().await;
    } else {
        println!("two instances on PostgreSQL: SKIPPED (set TEST_POSTGRES_URL)");
    }
}
