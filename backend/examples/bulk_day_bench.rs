//! The seller's bulk day at 100 000 items: `make bench` (release build). On SQLite and,
//! when `TEST_POSTGRES_URL` is set, PostgreSQL:
//! - an edit's preview over every item (median and worst of 5; the target is ≤ 1 s);
//! - an export of every item: the task's run (64 slots), then the file streamed page by
//!   page as the download route does, with the process's resident memory sampled every
//!   10 ms through both (its peak above where it started is the export's cost).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::domain::{Email, Password};
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::{Registry, TaskStatus};
use backend::testing::{Engine as DbEngine, TestDb};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use task_model::edit::{EditChange, PriceChange, PriceOp};
use tokio_util::sync::CancellationToken;

const ITEMS: usize = 100_000;
const RUNS: usize = 5;

#[tokio::main]
async fn main() {
    for (name, engine) in [
        ("sqlite", DbEngine::Sqlite),
        ("postgres", DbEngine::Postgres),
    ] {
        let Some(test_db) = TestDb::new(engine).await else {
            continue;
        };
        run(name, &test_db.db).await;
        test_db.finish().await;
    }
}

/// The process's resident memory now, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples resident memory every 10 ms until stopped; the highest seen.
fn sample_peak() -> (Arc<AtomicBool>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_kib()));
    let (stopped, highest) = (Arc::clone(&stop), Arc::clone(&peak));
    std::thread::spawn(move || {
        while !stopped.load(Ordering::Relaxed) {
            highest.fetch_max(rss_kib(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (stop, peak)
}

async fn run(name: &str, db: &backend::DatabaseConnection) {
    let seller = backend::accounts::create_seller(
        db,
        &Email::parse("bench@example.com").unwrap(),
        None,
        &Password::parse("benchmark-password").unwrap(),
    )
    .await
    .unwrap()
    .id;
    backend::catalog::insert_many(db, backend::demo::demo_items(seller, ITEMS))
        .await
        .unwrap();
    let ids = backend::catalog::matching_ids(db, seller, &Default::default())
        .await
        .unwrap();
    assert_eq!(ids.len(), ITEMS);

    // The preview of +10 %, ending in .99, over every item.
    let change = EditChange {
        price: Some(PriceChange {
            op: PriceOp::AddPercent,
            value: "10".into(),
            end_99: true,
        }),
        ..EditChange::default()
    };
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let preview = backend::edits::preview(db, seller, &ids, &change, 20)
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert_eq!(
            preview.changed + preview.unchanged + preview.refused_by_code.values().sum::<u64>(),
            ITEMS as u64
        );
    }
    samples.sort();
    println!(
        "{name:8} edit preview over {ITEMS} items: median {:.0} ms, worst {:.0} ms",
        samples[RUNS / 2].as_secs_f64() * 1e3,
        samples[RUNS - 1].as_secs_f64() * 1e3
    );

    // The export: the task, then the file.
    let before = rss_kib();
    let (stop, peak) = sample_peak();
    let config = EngineConfig::new(64);
    let bus = EventBus::new(config.worker_id.clone(), Duration::from_millis(250));
    let registry = Registry::new().register(backend::exports::Export::new(db.clone()));
    let engine = Arc::new(Engine::new(db.clone(), registry, bus, config));
    let created = Instant::now();
    let task = engine
        .create_task(NewTask {
            seller_id: seller,
            kind: "export".into(),
            params: json!({ "item_ids": ids }),
            idempotency_key: None,
        })
        .await
        .unwrap()
        .task()
        .clone();
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
    let task = loop {
        let now = backend::tasks::get(db, seller, task.id).await.unwrap();
        if now.status.is_terminal() {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ran = created.elapsed();
    shutdown.cancel();
    runner.await.unwrap();
    assert_eq!(task.status, TaskStatus::Succeeded);
    let streamed = Instant::now();
    let mut bytes = backend::exports::header().len();
    let mut lines = 0;
    let mut after = -1;
    loop {
        let (rows, next) = backend::exports::rows(db, &task, after).await.unwrap();
        bytes += rows.len();
        lines += rows.matches("\r\n").count();
        match next {
            Some(at) => after = at,
            None => break,
        }
    }
    let file = streamed.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert!(lines >= ITEMS, "{lines} lines for {ITEMS} items");
    println!(
        "{name:8} export of {ITEMS} items: task {:.1} s ({:.0} items/s), file {:.1} MB streamed in {:.2} s; \
         peak memory {:.0} MB above the {:.0} MB before",
        ran.as_secs_f64(),
        ITEMS as f64 / ran.as_secs_f64(),
        bytes as f64 / 1e6,
        file.as_secs_f64(),
        peak.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0,
        before as f64 / 1024.0,
    );
}
