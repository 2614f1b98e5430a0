//! Catalog speed with 10 000 items: `make bench` (release build). Prints one line per
//! query with the median and worst of 30 runs, on SQLite and, when `TEST_POSTGRES_URL`
//! is set, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::catalog::{self, ItemFilter, ItemQuery, SortKey};
use backend::domain::{Email, ListingState, Password};
use backend::testing::{Engine, TestDb};
use std::time::{Duration, Instant};

const ITEMS: usize = 10_000;
const RUNS: usize = 30;
/// Items of the catalog in a task that has yet to act on them.
const IN_TASK: usize = 2_000;

#[tokio::main]
async fn main() {
    for (name, engine) in [("sqlite", Engine::Sqlite), ("postgres", Engine::Postgres)] {
        let Some(test_db) = TestDb::new(engine).await else {
            continue;
        };
        run(name, &test_db.db).await;
        test_db.finish().await;
    }
}

async fn run(engine: &str, db: &backend::DatabaseConnection) {
    let seller = backend::accounts::create_seller(
        db,
        &Email::parse("bench@example.com").unwrap(),
        None,
        &Password::parse("benchmark-password").unwrap(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    catalog::insert_many(db, backend::demo::demo_items(seller.id, ITEMS))
        .await
        .unwrap();
    println!(
        "{engine:8} insert {ITEMS} items: {:>8.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let queries: Vec<(&str, ItemQuery)> = vec![
        ("first page, newest first", ItemQuery::default()),
        (
            "page 100, by SKU",
            ItemQuery {
                sort: SortKey::Sku,
                descending: false,
                page: 100,
                ..ItemQuery::default()
            },
        ),
        (
            "page 50, by price",
            ItemQuery {
                sort: SortKey::Price,
                page: 50,
                ..ItemQuery::default()
            },
        ),
        (
            "search \"coffee\"",
            ItemQuery {
                filter: ItemFilter {
                    q: Some("coffee".into()),
                    state: None,
                    in_task: false,
                    changed: false,
                },
                ..ItemQuery::default()
            },
        ),
        (
            "state = published",
            ItemQuery {
                filter: ItemFilter {
                    q: None,
                    state: Some(ListingState::Published),
                    in_task: false,
                    changed: false,
                },
                ..ItemQuery::default()
            },
        ),
    ];
    for (label, query) in queries {
        let timings =
            measure(|| async { catalog::list(db, seller.id, &query).await.unwrap() }).await;
        report(engine, label, &timings);
    }
    let all = ItemFilter::default();
    let timings =
        measure(|| async { catalog::matching_ids(db, seller.id, &all).await.unwrap() }).await;
    report(engine, "all matching ids (10 000)", &timings);

    // A publish of 2 000 items waiting its turn (no worker runs): the catalog's chips and
    // its "In a running task" filter.
    let ids = catalog::matching_ids(db, seller.id, &all).await.unwrap();
    let registry = backend::tasks::Registry::new().register(backend::listings::Publish::new(
        db.clone(),
        backend::testing::fast_connector("http://127.0.0.1:9"),
    ));
    backend::tasks::create::create(
        db,
        &registry,
        backend::tasks::create::NewTask {
            seller_id: seller.id,
            kind: "publish".into(),
            params: serde_json::json!({ "item_ids": ids[..IN_TASK] }),
            idempotency_key: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let in_task = ItemQuery {
        filter: ItemFilter {
            in_task: true,
            changed: false,
            ..ItemFilter::default()
        },
        ..ItemQuery::default()
    };
    let timings = measure(|| async { catalog::list(db, seller.id, &in_task).await.unwrap() }).await;
    report(engine, "in a running task (2 000)", &timings);
    let page: Vec<i64> = catalog::list(db, seller.id, &ItemQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.id)
        .collect();
    let timings = measure(|| async {
        backend::tasks::in_task::ahead(db, seller.id, &page)
            .await
            .unwrap()
    })
    .await;
    report(engine, "a page's tasks (50 rows)", &timings);
}

async fn measure<F, Fut, T>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut timings = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        std::hint::black_box(f().await);
        timings.push(started.elapsed());
    }
    timings.sort();
    timings
}

fn report(engine: &str, label: &str, timings: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{engine:8} {label:28} median {:>7.2} ms   max {:>7.2} ms",
        ms(timings[timings.len() / 2]),
        ms(timings[timings.len() - 1])
    );
}
