//! The publish crash drill: the sandbox marketplace runs as its own process; a
//! `stockroom` server publishes 500 items to it and is killed with SIGKILL mid-run; a
//! new server starts on the same database. The task finishes, and the marketplace holds
//! exactly one listing per item and saw exactly one create per item — the calls the
//! dead server had in flight were repeated with the same idempotency keys and answered
//! from them. On SQLite (a file) and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::catalog::{self};
use backend::tasks::create::{self};
use backend::tasks::TaskStatus;
use backend::testing::{Engine, TestDb};
use common::processes::{free_port, sandbox_process, server_process, stats};
use sea_orm::DatabaseConnection;
use std::time::{Duration, Instant};

use crate::common;

const ITEMS: usize = 500;

async fn drill(db: &DatabaseConnection, database_url: &str) {
    let port = free_port();
    let _sandbox = sandbox_process(port);
    let marketplace = format!("http://127.0.0.1:{port}/sandbox/marketplace");
    assert_eq!(stats(&marketplace).await["listings"], 0);

    let (seller, ids) = backend::testing::seller_with_items(db, "crash@example.com", ITEMS).await;
    // Every item valid, so every item must end up listed exactly once.
    backend::testing::make_all_listable(db).await;
    let registry = server::workers::kinds(db, backend::testing::fast_connector(&marketplace));
    let task = create::create(
        db,
        &registry,
        backend::testing::task_over(seller, "publish", &ids),
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .task()
    .clone();

    let first = server_process(database_url, &marketplace, None);
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let now = backend::tasks::load(db, task.id).await.unwrap();
        if now.counts.succeeded >= 150 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {:?}", now.counts);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first); // SIGKILL, mid-run
    let at_kill = backend::tasks::load(db, task.id).await.unwrap();
    assert!(
        at_kill.counts.succeeded < ITEMS as i64,
        "killed mid-run: {:?}",
        at_kill.counts
    );

    let _second = server_process(database_url, &marketplace, None);
    let done = loop {
        let now = backend::tasks::load(db, task.id).await.unwrap();
        if now.status.is_terminal() {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "did not finish: {:?}",
            now.counts
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done.status, TaskStatus::Succeeded, "{:?}", done.counts);
    assert_eq!(done.counts.succeeded, ITEMS as i64);

    let stats = stats(&marketplace).await;
    let account = &stats["accounts"][format!("seller-{seller}")];
    assert_eq!(account["listings"], ITEMS, "one listing per item: {stats}");
    assert_eq!(
        account["create_requests"], ITEMS,
        "no duplicate creates: {stats}"
    );
    eprintln!(
        "publish crash drill: killed at {} of {ITEMS}; {} calls answered from idempotency keys, {} 429s",
        at_kill.counts.succeeded, account["idempotent_replays"], account["rate_limited"]
    );
    for id in ids {
        let item = catalog::get(db, seller, id).await.unwrap();
        assert!(item.listing_id.is_some(), "item {id} has its listing id");
    }
}

#[tokio::test]
async fn a_publish_survives_a_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/crash.db?mode=rwc", dir.path().display());
    let db = backend::db::connect(&url).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    drill(&db, &url).await;
}

#[tokio::test]
async fn a_publish_survives_a_sigkill_on_postgres() {
    let test_db = TestDb::required(Engine::Postgres).await;
    let url = test_db.url().expect("a PostgreSQL URL");
    drill(&test_db.db, &url).await;
    test_db.finish().await;
}
