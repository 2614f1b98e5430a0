//! Task engine benchmark: `make bench` (release). On SQLite and, when `TEST_POSTGRES_URL`
//! is set, PostgreSQL:
//! - throughput: no-op items per second through the full engine (claim, run, complete,
//!   counters, events), 64 slots;
//! - pickup latency: from `create_task` returning to the handler starting, idle engine;
//! - reclaim: from a worker's death (its leases abandoned, as after SIGKILL) to its items
//!   running elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::domain::{Email, Password};
use backend::tasks::claim;
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::noop::Noop;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::{
    InvalidParams, ItemContext, Outcome, Presentation, Registry, TaskKind, TaskStatus,
};
use backend::testing::{Engine as DbEngine, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ITEMS: u64 = 20_000;
/// The catalog of the million-item task (`ENGINE_CATALOG_ITEMS` sets it).
const CATALOG: u64 = 1_000_000;

static PROBE: Presentation = Presentation {
    name: "probe",
    title: "Probe",
    doing: "Probing",
    done: "done",
    unit: ("item", "items"),
    mark: "PRB",
    subject: task_model::Subject::Counter,
    in_bulk_bar: false,
    listed: false,
    on_save: "Save anyway?",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

static HOLD: Presentation = Presentation {
    name: "hold",
    title: "Hold",
    doing: "Holding",
    done: "held",
    unit: ("item", "items"),
    mark: "HLD",
    subject: task_model::Subject::CatalogItem,
    in_bulk_bar: false,
    listed: false,
    on_save: "Save anyway?",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

/// Over catalog items: reports when an item starts, then holds it until cancelled, so
/// the million-item task stays put while it is measured.
struct Hold(mpsc::UnboundedSender<Instant>);

#[derive(serde::Deserialize, serde::Serialize)]
struct HoldParams {
    item_ids: Vec<i64>,
}

#[async_trait::async_trait]
impl TaskKind for Hold {
    type Params = HoldParams;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &HOLD
    }
    fn expand(&self, params: &HoldParams) -> Result<Vec<i64>, InvalidParams> {
        Ok(params.item_ids.clone())
    }
    async fn process(&self, ctx: ItemContext<HoldParams, i64>) -> Outcome {
        let _ = self.0.send(Instant::now());
        ctx.cancel.cancelled().await;
        Outcome::Cancelled
    }
}

/// Reports when its handler starts, for pickup latency.
struct Probe(mpsc::UnboundedSender<Instant>);

#[async_trait::async_trait]
impl TaskKind for Probe {
    type Params = Value;
    type Subject = Value;

    fn presentation(&self) -> &'static Presentation {
        &PROBE
    }
    fn expand(&self, _: &Value) -> Result<Vec<Value>, InvalidParams> {
        Ok(vec![json!(0)])
    }
    async fn process(&self, _: ItemContext) -> Outcome {
        let _ = self.0.send(Instant::now());
        Outcome::Succeeded(Value::Null)
    }
}

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
        throughput(name, &db, seller, "").await;
        pickup(name, &db, seller).await;
        reclaim(name, &db, seller).await;
        million(name, &db, seller).await;
        throughput(name, &db, seller, ", 1 000 000 rows beside").await;
        test_db.finish().await;
    }
}

fn engine(db: &backend::DatabaseConnection, registry: Registry, slots: usize) -> Arc<Engine> {
    let config = EngineConfig::new(slots);
    let bus = EventBus::new(config.worker_id.clone(), Duration::from_millis(250));
    Arc::new(Engine::new(db.clone(), registry, bus, config))
}

async fn wait_done(db: &backend::DatabaseConnection, engine: &Engine, seller: i64, task_id: i64) {
    let mut events = engine.bus().subscribe();
    loop {
        let task = backend::tasks::get(db, seller, task_id).await.unwrap();
        if task.status.is_terminal() {
            assert_eq!(task.status, TaskStatus::Succeeded);
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), events.recv()).await;
    }
}

async fn throughput(name: &str, db: &backend::DatabaseConnection, seller: i64, beside: &str) {
    let engine = engine(db, Registry::new().register(Noop::new()), 64);
    let created_at = Instant::now();
    let task = engine
        .create_task(NewTask {
            seller_id: seller,
            kind: "noop".into(),
            params: json!({ "items": ITEMS }),
            idempotency_key: None,
        })
        .await
        .unwrap()
        .task()
        .clone();
    let created = created_at.elapsed();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
    wait_done(db, &engine, seller, task.id).await;
    let elapsed = started.elapsed();
    shutdown.cancel();
    runner.await.unwrap();
    println!(
        "{name:8} create task with {ITEMS} items: {:>8.1} ms",
        created.as_secs_f64() * 1e3
    );
    let rate = ITEMS as f64 / elapsed.as_secs_f64();
    let target = if name == "postgres" { 10_000 } else { 8_000 };
    println!(
        "{name:8} throughput (no-op, 64 slots{beside}): {rate:>8.0} items/s  ({ITEMS} items in {:.2} s; target ≥ {target})",
        elapsed.as_secs_f64()
    );
    // The peer queue's run (`bench/peer`) prints the ratio to this figure.
    if name == "postgres" && beside.is_empty() {
        let _ = std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/bench-engine-postgres.txt"
            ),
            format!("{rate:.0}\n"),
        );
    }
}

/// A task over every one of a million catalog items, made from a filter.
async fn million(name: &str, db: &backend::DatabaseConnection, seller: i64) {
    let items = std::env::var("ENGINE_CATALOG_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CATALOG);
    backend::testing::generate::items(db, seller, 0, items, chrono::Utc::now())
        .await
        .unwrap();
    backend::db::analyze(db).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(db, Registry::new().register(Hold(tx)), 64);
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let task = engine
        .create_matching(
            NewTask {
                seller_id: seller,
                kind: "hold".into(),
                params: json!({ "item_ids": [] }),
                idempotency_key: None,
            },
            backend::tasks::expand::Selection::default(),
            Default::default(),
        )
        .await
        .unwrap()
        .task()
        .clone();
    let created = asked.elapsed();
    let first = rx.recv().await.unwrap().duration_since(asked);
    while backend::tasks::expand::any(db).await.unwrap() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expanded = asked.elapsed();
    let counted: i64 = backend::tasks::load(db, task.id)
        .await
        .unwrap()
        .counts
        .total;
    engine.cancel(seller, task.id).await.unwrap();
    wait_ended(db, seller, task.id).await;
    shutdown.cancel();
    runner.await.unwrap();
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "{name:8} task from a filter over {counted} items: made in {:.2} s (target ≤ 10 s), first item started after {:.3} s (target ≤ 1 s), all items added after {:.1} s",
        secs(created),
        secs(first),
        secs(expanded)
    );
}

async fn wait_ended(db: &backend::DatabaseConnection, seller: i64, task_id: i64) {
    loop {
        let task = backend::tasks::get(db, seller, task_id).await.unwrap();
        if task.status.is_terminal() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn pickup(name: &str, db: &backend::DatabaseConnection, seller: i64) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(db, Registry::new().register(Probe(tx)), 4);
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::new();
    for _ in 0..200 {
        let asked = Instant::now();
        engine
            .create_task(NewTask {
                seller_id: seller,
                kind: "probe".into(),
                params: json!({}),
                idempotency_key: None,
            })
            .await
            .unwrap();
        let began = rx.recv().await.unwrap();
        samples.push(began.duration_since(asked));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    runner.await.unwrap();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:8} pickup latency (create → handler start, idle): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 99 / 100]),
        ms(samples[samples.len() - 1])
    );
}

async fn reclaim(name: &str, db: &backend::DatabaseConnection, seller: i64) {
    let registry = Registry::new().register(Noop::new());
    let config = EngineConfig::new(8);
    let lease = config.lease;
    let survivor = engine(db, registry.clone(), 8);
    let task = survivor
        .create_task(NewTask {
            seller_id: seller,
            kind: "noop".into(),
            params: json!({ "items": 50 }),
            idempotency_key: None,
        })
        .await
        .unwrap()
        .task()
        .clone();
    // A worker claims everything and dies on the spot, as under SIGKILL.
    let died = Instant::now();
    claim::claim(
        db,
        &registry,
        "killed-worker",
        50,
        lease,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&survivor).run(shutdown.clone()));
    wait_done(db, &survivor, seller, task.id).await;
    let elapsed = died.elapsed();
    shutdown.cancel();
    runner.await.unwrap();
    println!(
        "{name:8} reclaim after a worker death: {:.1} s (lease {} s, rescue every {} s)",
        elapsed.as_secs_f64(),
        lease.num_seconds(),
        config.rescue_every.as_secs()
    );
}
