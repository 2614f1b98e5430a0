//! A marketplace outage during a 200-item publish, over real HTTP against the sandbox's
//! `_outage` switch, on SQLite and PostgreSQL: the task is held (not failed) while the
//! marketplace answers 503 to everything, says so, and finishes by itself once it is
//! back — nothing failed for "unavailable", every success listed once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use backend::entities::task_item;
use backend::tasks::{TaskStatus, UNAVAILABLE};
use common::engine;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};

db_test!(a_publish_rides_out_an_outage_and_finishes_by_itself, |db| {
    let (sandbox, url) = Sandbox::serve_local(SandboxSettings {
        latency_ms: (20, 40),
        ..SandboxSettings::calm()
    })
    .await
    .unwrap();
    let engine = engine(db, &url);
    let (seller, ids) = backend::testing::seller_with_items(db, "shop@example.com", 240).await;
    // The demo catalog's flawed items (no picture, zero price) are left out: every item
    // here can be listed.
    let valid: Vec<i64> = ids
        .into_iter()
        .filter(|id| id % 23 != 0 && id % 97 != 0)
        .take(200)
        .collect();
    assert_eq!(valid.len(), 200);
    let task = backend::testing::start_task(&engine, seller, "publish", &valid).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
    let load = || backend::tasks::get(db, seller, task.id);

    // At 30 %, the marketplace goes down.
    let deadline = Instant::now() + Duration::from_secs(60);
    while load().await.unwrap().counts.succeeded < 60 {
        assert!(Instant::now() < deadline, "the publish did not get going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox.set_outage(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let now = load().await.unwrap();
        if let Some(hold) = now.hold.clone() {
            break hold;
        }
        assert!(Instant::now() < deadline, "no hold: {:?}", now.counts);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(held.reason, task_model::HoldReason::MarketplaceUnavailable);
    assert_eq!(held.marketplace, "the marketplace");
    // Held for a while: nothing fails meanwhile, whatever the attempts allow.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let during = load().await.unwrap();
    assert_eq!(during.status, TaskStatus::Running);
    assert_eq!(during.counts.failed, 0, "{:?}", during.counts);
    assert!(during.hold.is_some());
    let left = during.counts.left();

    // Back: it finishes by itself.
    sandbox.set_outage(false);
    let back = Instant::now();
    let deadline = back + Duration::from_secs(90);
    let done = loop {
        let now = load().await.unwrap();
        if now.status.is_terminal() {
            break now;
        }
        assert!(Instant::now() < deadline, "not done: {:?}", now.counts);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after = back.elapsed();
    shutdown.cancel();
    runner.await.unwrap();
    assert_eq!(done.status, TaskStatus::Succeeded, "{:?}", done.counts);
    assert_eq!(done.counts.succeeded, 200);
    assert_eq!(done.hold, None);
    let unavailable = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task.id))
        .filter(task_item::Column::Status.eq("failed"))
        .filter(task_item::Column::ErrorCode.eq(UNAVAILABLE))
        .all(db)
        .await
        .unwrap();
    assert!(unavailable.is_empty());
    let (stats, _) = sandbox.stats();
    assert_eq!(stats.listings, 200, "every success listed, once");
    // For the record (not a timed assertion): how long the rest took once it was back.
    eprintln!(
        "{left} items left at recovery, done {:.1} s after it (the next probe comes within its spacing)",
        after.as_secs_f64()
    );
});
