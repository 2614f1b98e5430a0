//! Deleting items through the HTTP API, on SQLite and PostgreSQL: live items are taken off
//! the marketplace first, an item the marketplace cannot take off is kept with the reason,
//! and nobody deletes another seller's items.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use backend::entities::task_item;
use common::*;
use http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

db_test!(
    a_delete_takes_live_items_off_first_and_keeps_what_it_cannot,
    |db| {
        let s = two_sellers(db).await;
        backend::testing::make_all_listable(db).await;
        let ana = s.ana;
        let account = backend::listings::account(ana);
        let items = s.ana_items[..5].to_vec();
        let mut skus = Vec::new();
        for id in &items {
            let item = s
                .app
                .get(&format!("/api/v1/items/{id}"), Some(&s.ana_cookie))
                .await;
            skus.push(item.json()["sku"].as_str().unwrap().to_owned());
        }

        // Three of the five are live.
        let publish = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "publish", "item_ids": items[..3] }),
            )
            .await
            .json();
        let published =
            drain_until_done(&s.app.engine, db, ana, publish["id"].as_i64().unwrap()).await;
        assert_eq!(published.counts.succeeded, 3);
        assert!(s.sandbox.listing(&account, &skus[0]).is_some());

        // bob cannot delete ana's items.
        let bob = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.bob_cookie),
                json!({ "kind": "delete", "item_ids": items }),
            )
            .await;
        assert!(bob.status.is_client_error(), "{} {}", bob.status, bob.body);
        for id in &items {
            let still = s
                .app
                .get(&format!("/api/v1/items/{id}"), Some(&s.ana_cookie))
                .await;
            assert_eq!(still.status, StatusCode::OK);
        }

        // While the marketplace is down, a live item is not deleted: it waits, with why.
        s.sandbox.set_outage(true);
        let stuck = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "delete", "item_ids": [items[0]] }),
            )
            .await
            .json();
        let stuck_id = stuck["id"].as_i64().unwrap();
        s.app.engine.drain().await.unwrap();
        let attempt = task_item::Entity::find()
            .filter(task_item::Column::TaskId.eq(stuck_id))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert!(attempt.attempts >= 1);
        assert!(attempt.error_code.is_some(), "{attempt:?}");
        let kept = s
            .app
            .get(&format!("/api/v1/items/{}", items[0]), Some(&s.ana_cookie))
            .await;
        assert_eq!(kept.status, StatusCode::OK);
        assert!(s.sandbox.listing(&account, &skus[0]).is_some());
        let cancelled = s
            .app
            .post_json(
                &format!("/api/v1/tasks/{stuck_id}/cancel"),
                Some(&s.ana_cookie),
                json!({}),
            )
            .await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
        drain_until_done(&s.app.engine, db, ana, stuck_id).await;
        s.sandbox.set_outage(false);

        // Once it is back: the live ones come off the marketplace, and all five are gone.
        let started = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "delete", "item_ids": items }),
            )
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
        let task = started.json();
        assert_eq!(task["label"], "Delete 5 items");
        let done = drain_until_done(&s.app.engine, db, ana, task["id"].as_i64().unwrap()).await;
        assert_eq!(done.counts.succeeded, 5, "{done:?}");
        for (id, sku) in items.iter().zip(&skus) {
            let gone = s
                .app
                .get(&format!("/api/v1/items/{id}"), Some(&s.ana_cookie))
                .await;
            assert_eq!(gone.status, StatusCode::NOT_FOUND);
            assert!(s.sandbox.listing(&account, sku).is_none(), "{sku}");
        }
        let left = s.app.get("/api/v1/items", Some(&s.ana_cookie)).await.json();
        assert_eq!(left["total"], 120 - 5);
    }
);
