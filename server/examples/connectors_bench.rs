//! Real-marketplace benchmarks: `make bench` (release), SQLite, the sandbox in process at
//! its default latency (150–600 ms) and no faults.
//! - 1 000 items to an eBay connection: 25 items a call, three bulk calls a batch — the
//!   calls made (120 at best, against 3 000 one item at a time), items per call, time;
//! - 200 items to an Amazon connection (Amazon's 5 requests a second, burst 5; processing
//!   1 s): the rate of calls achieved against that limit, and the 429s we caused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::connectors::Marketplaces;
use backend::secrets::SecretKey;
use backend::tasks::create::{Later, NewTask};
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::testing::{Engine as DbEngine, TestDb};
use server::sandbox::amazon::AmazonTiming;
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const EBAY_ITEMS: usize = 1_000;
const AMAZON_ITEMS: usize = 200;

fn key() -> SecretKey {
    SecretKey::parse(&"5a".repeat(32)).unwrap()
}

async fn connect(
    db: &backend::DatabaseConnection,
    seller: i64,
    marketplace: &str,
    sandbox: &str,
    base_url: String,
    credentials: &[(&str, &str)],
) -> i64 {
    let new = backend::connections::NewConnection {
        marketplace: marketplace.into(),
        name: marketplace.into(),
        account: "BENCHSELLER01".into(),
        marketplace_id: None,
        credentials: credentials
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        base_url: Some(base_url),
    };
    backend::connections::create(db, Some(&key()), seller, &new, sandbox, chrono::Utc::now())
        .await
        .unwrap()
        .id
}

/// Publishes `ids` through `connection` with a server's engine (4 workers × 8 slots);
/// returns the seconds it took and the task at its end.
async fn publish(
    db: &backend::DatabaseConnection,
    url: &str,
    seller: i64,
    ids: &[i64],
    connection: i64,
) -> (f64, backend::tasks::Task) {
    let marketplaces = Arc::new(Marketplaces::new(Some(key()), url).unwrap());
    let registry =
        server::workers::kinds_with(db, backend::testing::fast_connector(url), marketplaces);
    let engine = Arc::new(Engine::new(
        db.clone(),
        registry,
        EventBus::new("bench", Duration::from_millis(250)),
        EngineConfig::new(32),
    ));
    let stop = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(stop.clone()));
    let started = Instant::now();
    let task = engine
        .create_flow(
            NewTask {
                seller_id: seller,
                kind: "publish".into(),
                params: serde_json::json!({ "item_ids": ids, "connection_id": connection }),
                idempotency_key: None,
            },
            None,
            Later::default(),
        )
        .await
        .unwrap()
        .task()
        .clone();
    let done = loop {
        let now = backend::tasks::load(db, task.id).await.unwrap();
        if now.status.is_terminal() {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let again = backend::entities::task_item::Entity::find()
            .filter(backend::entities::task_item::Column::TaskId.eq(task.id))
            .filter(backend::entities::task_item::Column::Attempts.gt(1))
            .all(db)
            .await
            .unwrap();
        let mut codes: Vec<String> = again
            .iter()
            .filter_map(|item| item.error_code.clone())
            .collect();
        codes.sort();
        codes.dedup();
        println!("  items sent more than once: {} {codes:?}", again.len());
    }
    stop.cancel();
    runner.await.unwrap();
    (seconds, done)
}

#[tokio::main]
async fn main() {
    let test_db = TestDb::new(DbEngine::Sqlite).await.unwrap();
    let db = &test_db.db;
    let (sandbox, url) = Sandbox::serve_local(SandboxSettings {
        transient_error_rate: 0.0,
        ..SandboxSettings::default()
    })
    .await
    .unwrap();
    let (seller, ids) =
        backend::testing::seller_with_items(db, "bench@example.com", EBAY_ITEMS).await;
    backend::testing::make_all_listable(db).await;

    let ebay = connect(
        db,
        seller,
        "ebay",
        &url,
        format!("{url}/ebay"),
        &[
            ("client_id", "Bench-Stockroo-PRD-1a2b3c4d5-6e7f8a9b"),
            ("client_secret", "PRD-bench"),
            ("refresh_token", "v^1.1#i^1#f^0#r^1#bench"),
        ],
    )
    .await;
    let (seconds, done) = publish(db, &url, seller, &ids, ebay).await;
    let stats = sandbox.ebay().stats();
    println!(
        "eBay: {} items in {seconds:.1} s ({:.0} items/s); {} listed; {} bulk calls (one item a call would be {}), {:.1} items a call",
        EBAY_ITEMS,
        EBAY_ITEMS as f64 / seconds,
        done.counts.succeeded,
        stats.bulk_calls,
        EBAY_ITEMS * 3,
        stats.items_in_bulk_calls as f64 / stats.bulk_calls.max(1) as f64,
    );

    sandbox.amazon().set_timing(AmazonTiming {
        processing_ms: 1_000,
        token_seconds: 3_600,
    });
    let amazon = connect(
        db,
        seller,
        "amazon",
        &url,
        format!("{url}/amazon"),
        &[
            ("client_id", "amzn1.application-oa2-client.bench"),
            ("client_secret", "bench"),
            ("refresh_token", "Atzr|bench"),
        ],
    )
    .await;
    let (seconds, done) = publish(db, &url, seller, &ids[..AMAZON_ITEMS], amazon).await;
    let stats = sandbox.amazon().stats();
    let rate = stats.calls as f64 / seconds;
    println!(
        "Amazon: {} items in {seconds:.1} s; {} listed; {} calls at {rate:.2}/s = {:.2} of the 5/s limit; {} answered 429",
        AMAZON_ITEMS,
        done.counts.succeeded,
        stats.calls,
        rate / 5.0,
        stats.rate_limited,
    );
    test_db.finish().await;
}
