//! Publishing to an eBay connection, on SQLite and PostgreSQL, against the sandbox's
//! eBay Inventory contract: items go 25 a call in three bulk calls (inventory items,
//! offers, publication), each item's own answer decides it (partial success), eBay's
//! errors are mapped to our codes and the item's field, a token eBay calls invalid
//! mid-task is fetched again, an update brings the offer's price up to date, a repeated
//! batch (as after a crash) makes no second listing, unpublish withdraws the offers, and
//! a used-up daily quota waits for its reset instead of failing items.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};
use server::sandbox::ebay::EbayLimits;

/// The eBay user the sandbox knows the connection's refresh token as.
const REFRESH: &str = "v^1.1#i^1#f^0#r^1#stockroom-test";

async fn connect_ebay(s: &TwoSellers) -> i64 {
    let reply = s
        .app
        .post_json(
            "/api/v1/connections",
            Some(&s.ana_cookie),
            json!({
                "marketplace": "ebay",
                "name": "eBay US",
                "account": "ana-sells",
                "credentials": {
                    "client_id": "AnaShop-Stockroo-PRD-1a2b3c4d5-6e7f8a9b",
                    "client_secret": "PRD-1a2b3c4d5e6f-7a8b-9c0d",
                    "refresh_token": REFRESH,
                },
                "base_url": format!("{}/ebay", s.url),
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()["id"].as_i64().unwrap()
}

async fn task(s: &TwoSellers, task_id: i64) -> Value {
    s.app
        .get(&format!("/api/v1/tasks/{task_id}"), Some(&s.ana_cookie))
        .await
        .json()
}

async fn publish(s: &TwoSellers, ids: &[i64], kind: &str) -> Value {
    let created = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": kind, "item_ids": ids }),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    created.json()
}

/// Runs due work until the task ends (retries come due after a few seconds).
async fn run(s: &TwoSellers, task_id: i64) -> Value {
    for _ in 0..500 {
        s.app.engine.drain().await.unwrap();
        let task = task(s, task_id).await;
        if ["succeeded", "completed_with_errors", "failed", "cancelled"]
            .contains(&task["status"].as_str().unwrap_or_default())
        {
            return task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("task {task_id} did not finish");
}

db_test!(items_go_to_ebay_in_batches_and_each_answer_counts, |db| {
    let s = two_sellers(db).await;
    let connection = connect_ebay(&s).await;
    // "Test connection" signs in; then eBay stops honouring that token mid-task.
    let tested = s
        .app
        .post_json(
            &format!("/api/v1/connections/{connection}/test"),
            Some(&s.ana_cookie),
            json!({}),
        )
        .await;
    assert_eq!(tested.json()["last_test"]["ok"], true, "{}", tested.body);
    s.sandbox.ebay().expire_tokens();

    let ids = &s.ana_items[..100];
    let created = publish(&s, ids, "publish").await;
    // 100 items are 4 batches of three calls.
    assert_eq!(created["estimate"]["calls"], 12, "{created}");
    let task_id = created["id"].as_i64().unwrap();
    let done = run(&s, task_id).await;
    let counts = &done["counts"];
    let succeeded = counts["succeeded"].as_i64().unwrap();
    let failed = counts["failed"].as_i64().unwrap();
    assert_eq!(succeeded + failed, 100, "{done}");
    assert!(succeeded > 0 && failed > 0, "partial success: {done}");
    let stats = s.sandbox.ebay().stats();
    // Every item went in the inventory call; only those eBay took went on.
    let offered = count_ready(&s, db, ids).await;
    assert!(
        stats.items_in_bulk_calls >= 100 + offered + succeeded as u64,
        "{stats:?}"
    );
    assert!(stats.items_in_bulk_calls <= 300, "{stats:?}");
    assert!(
        (8..=12).contains(&stats.bulk_calls),
        "three calls a batch at most: {stats:?}"
    );
    assert_eq!(stats.listings, succeeded as u64, "{stats:?}");
    assert!(
        stats.tokens_issued >= 2,
        "the refused token was replaced: {stats:?}"
    );

    // Failures are grouped under our codes, naming the item's field.
    let failures = s
        .app
        .get(
            &format!("/api/v1/tasks/{task_id}/failures"),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    let codes: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|group| group["code"].as_str())
        .collect();
    assert!(codes.contains(&"image_missing"), "{failures}");
    let items = s
        .app
        .get(
            &format!("/api/v1/tasks/{task_id}/items?status=failed&error_code=image_missing"),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    assert_eq!(
        items["items"][0]["error"]["fields"],
        json!(["image_url"]),
        "{items}"
    );
    backend::testing::assert_counters_match(db, task_id).await;

    // Each listed item remembers its offer and listing on this connection.
    let listed = first_listed(&s, db, ids, connection).await;
    let sku = backend::catalog::get(db, s.ana, listed).await.unwrap().sku;
    let offer = s.sandbox.ebay().offer(REFRESH, &sku).unwrap();
    let row = backend::connectors::listings::of_item(db, s.ana, listed)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.state, "listed");
    assert_eq!(row.reference, offer.listing_id);

    // An update: the new price reaches the existing offer; no second listing.
    let item = backend::catalog::get(db, s.ana, listed).await.unwrap();
    let raw = backend::catalog::RawItem {
        sku: item.sku.clone(),
        title: item.title.clone(),
        description: item.description.clone(),
        price: "43.21".into(),
        currency: item.currency.clone(),
        quantity: item.quantity.to_string(),
        image_url: item.image_url.clone().unwrap_or_default(),
        category: item.category.clone().unwrap_or_default(),
    };
    let fields = backend::catalog::ItemFields::parse(&raw).unwrap();
    backend::catalog::update(db, s.ana, listed, item.version, fields, chrono::Utc::now())
        .await
        .unwrap();
    let again = publish(&s, &[listed], "publish").await;
    let done = run(&s, again["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let updated = s.sandbox.ebay().offer(REFRESH, &sku).unwrap();
    assert_eq!(updated.price["value"], "43.21");
    assert_eq!(updated.listing_id, offer.listing_id);
    assert_eq!(s.sandbox.ebay().stats().listings, stats.listings);

    // Unpublish withdraws the offer.
    let down = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "unpublish", "item_ids": [listed] }),
        )
        .await;
    assert_eq!(down.status, StatusCode::ACCEPTED, "{}", down.body);
    let done = run(&s, down.json()["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        s.sandbox.ebay().offer(REFRESH, &sku).unwrap().listing_id,
        None
    );
    let row = backend::connectors::listings::of_item(db, s.ana, listed)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.state, "removed");
});

/// How many of `ids` reached eBay's publish step (listed or refused there).
async fn count_ready(s: &TwoSellers, db: &backend::DatabaseConnection, ids: &[i64]) -> u64 {
    let mut ready = 0;
    for id in ids {
        let sku = backend::catalog::get(db, s.ana, *id).await.unwrap().sku;
        if s.sandbox.ebay().offer(REFRESH, &sku).is_some() {
            ready += 1;
        }
    }
    ready
}

async fn first_listed(
    s: &TwoSellers,
    db: &backend::DatabaseConnection,
    ids: &[i64],
    connection: i64,
) -> i64 {
    for id in ids {
        let rows = backend::connectors::listings::of_item(db, s.ana, *id)
            .await
            .unwrap();
        if rows
            .iter()
            .any(|row| row.state == "listed" && row.connection_id == connection)
        {
            return *id;
        }
    }
    panic!("nothing was listed");
}

db_test!(
    a_batch_repeated_after_its_offers_were_made_lists_once,
    |db| {
        let s = two_sellers(db).await;
        connect_ebay(&s).await;
        let ids = &s.ana_items[..25];
        // eBay fails between making the offers and publishing them: Stockroom never
        // learnt the offers' ids, and sends the whole batch again.
        s.sandbox.ebay().fail_next_publishes(1);
        let first = publish(&s, ids, "publish").await;
        let task_id = first["id"].as_i64().unwrap();
        s.app.engine.drain().await.unwrap();
        let after_failure = task(&s, task_id).await;
        let counts = &after_failure["counts"];
        let pending = counts["pending"].as_i64().unwrap();
        // Refused at the inventory or offer step, or waiting to be sent again.
        assert_eq!(
            pending + counts["failed"].as_i64().unwrap(),
            25,
            "{after_failure}"
        );
        assert!(pending > 0, "{after_failure}");
        let before_retry = s.sandbox.ebay().stats();
        assert_eq!(before_retry.bulk_calls, 3, "{before_retry:?}");
        assert_eq!(before_retry.listings, 0);
        let done = run(&s, task_id).await;
        let listed = done["counts"]["succeeded"].as_u64().unwrap();
        assert!(listed > 0, "{done}");
        let stats = s.sandbox.ebay().stats();
        assert_eq!(stats.listings, listed, "each listing made once: {stats:?}");
        // Repeated as one batch: inventory, offers (eBay names the ones made), their
        // price and quantity, publication.
        assert_eq!(stats.bulk_calls, 3 + 4, "{stats:?}");
        for id in ids {
            let sku = backend::catalog::get(db, s.ana, *id).await.unwrap().sku;
            if let Some(offer) = s.sandbox.ebay().offer(REFRESH, &sku) {
                assert!(offer.published <= 1, "published once: {offer:?}");
            }
        }
        // Each listed item knows its offer now: publishing again reuses it.
        let again = publish(&s, ids, "publish").await;
        run(&s, again["id"].as_i64().unwrap()).await;
        assert_eq!(s.sandbox.ebay().stats().listings, listed);
    }
);

db_test!(a_used_up_daily_quota_waits_for_its_reset, |db| {
    let s = two_sellers(db).await;
    connect_ebay(&s).await;
    s.sandbox.ebay().set_limits(EbayLimits {
        daily_calls: 1,
        token_seconds: 7200,
    });
    let created = publish(&s, &s.ana_items[..5], "publish").await;
    let task_id = created["id"].as_i64().unwrap();
    for _ in 0..3 {
        s.app.engine.drain().await.unwrap();
    }
    let task = task(&s, task_id).await;
    // Nothing failed: the items wait for eBay's quota, which resets at midnight Pacific.
    assert_eq!(task["counts"]["failed"], 0, "{task}");
    assert_eq!(task["counts"]["pending"], 5, "{task}");
    assert!(s.sandbox.ebay().stats().rate_limited >= 1);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let items = backend::entities::task_item::Entity::find()
        .filter(backend::entities::task_item::Column::TaskId.eq(task_id))
        .all(db)
        .await
        .unwrap();
    let item = &items[0];
    assert_eq!(item.error_code.as_deref(), Some("rate_limited"), "{item:?}");
    // The next try waits for the reset (at midnight Pacific, a minute away at the least).
    let reset_soon = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%H:%M")
        .to_string()
        .as_str()
        >= "23:58";
    assert!(
        reset_soon || item.next_attempt_at > chrono::Utc::now() + chrono::Duration::minutes(1),
        "{item:?}"
    );
});
