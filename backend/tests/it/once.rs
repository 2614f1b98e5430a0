//! Work inside Stockroom's own tables happens once per task item, even when a worker dies
//! between doing it and saying so: on SQLite and PostgreSQL, an edit's item is processed,
//! its outcome never stored (the crash), its lease expires, another worker runs it again,
//! and the price moved once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;
use backend::edits::Edit;
use backend::tasks::claim::{self, Claimed};
use backend::tasks::create::{self, NewTask};
use backend::tasks::rescue::rescue_expired;
use backend::tasks::{ItemContext, Outcome, Registry};
use backend::DatabaseConnection;
use chrono::{Duration, Utc};
use serde_json::json;

fn context(item: &Claimed) -> ItemContext {
    ItemContext {
        task_id: item.task_id,
        item_id: item.item_id,
        seller_id: item.seller_id,
        position: item.position,
        attempt: item.attempt,
        subject: item.subject.clone(),
        params: item.params.clone(),
        cancel: tokio_util::sync::CancellationToken::new(),
    }
}

async fn price_of(db: &DatabaseConnection, seller: i64, id: i64) -> i64 {
    backend::catalog::get(db, seller, id)
        .await
        .unwrap()
        .price_minor
}

/// Claims the one due item as `worker` at `now`.
async fn claim_one(
    db: &DatabaseConnection,
    registry: &Registry,
    worker: &str,
    now: chrono::DateTime<Utc>,
) -> Claimed {
    let mut batch = claim::claim(db, registry, worker, 10, Duration::seconds(30), now)
        .await
        .unwrap();
    assert_eq!(batch.items.len(), 1, "one item due for {worker}");
    batch.items.remove(0)
}

db_test!(an_edit_rerun_after_a_crash_applies_once, |db| {
    let (seller, ids) = backend::testing::seller_with_items(db, "once@example.com", 2).await;
    let registry = Registry::new().register(Edit::new(db.clone()));
    let item = ids[0];
    let start = price_of(db, seller, item).await;
    let now = Utc::now();
    create::create(
        db,
        &registry,
        NewTask {
            seller_id: seller,
            kind: "edit".into(),
            params: json!({ "item_ids": [item], "price": { "op": "add_percent", "value": "10" } }),
            idempotency_key: None,
        },
        now,
    )
    .await
    .unwrap();
    let edit = registry.get("edit").unwrap();

    // The first worker edits the item and dies before its outcome is stored.
    let first = claim_one(db, &registry, "w1", now).await;
    let Outcome::Succeeded(done) = edit.process(context(&first)).await else {
        panic!("the first attempt did not succeed");
    };
    let once = price_of(db, seller, item).await;
    assert_eq!(once, (start * 11 + 5) / 10, "+10 % from {start}");

    // Its lease runs out; the item is rescued and another worker takes it.
    let later = now + Duration::minutes(30);
    rescue_expired(db, later).await.unwrap();
    let second = claim_one(db, &registry, "w2", later + Duration::minutes(30)).await;
    assert_eq!(second.item_id, first.item_id);
    assert_eq!(second.attempt, 2);
    let again = edit.process(context(&second)).await;
    assert_eq!(again, Outcome::Succeeded(done.clone()));
    assert_eq!(price_of(db, seller, item).await, once, "applied twice");
    assert_eq!(done["version"], 2);
});
