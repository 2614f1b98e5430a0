//! Listings kept in sync, on SQLite and PostgreSQL: a live item edited after it was
//! published reads as "changed since published" (a filter of the catalog), and
//! `update_listings` sends only those, leaving out the ones up to date and the ones not
//! live.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::json;

db_test!(
    an_item_edited_after_publishing_is_marked_and_its_listing_updated,
    |db| {
        let s = two_sellers(db).await;
        backend::testing::make_all_listable(db).await;
        let ana = s.ana;
        let account = backend::listings::account(ana);
        let drafts = s
            .app
            .get("/api/v1/items?state=draft", Some(&s.ana_cookie))
            .await
            .json();
        let draft = drafts["items"][0]["id"].as_i64().unwrap();
        let live: Vec<i64> = s
            .ana_items
            .iter()
            .copied()
            .filter(|id| *id != draft)
            .take(3)
            .collect();
        let run = |kind: &'static str, ids: Vec<i64>, params: serde_json::Value| {
            let app = &s.app;
            let cookie = s.ana_cookie.clone();
            async move {
                let started = app
                    .post_json(
                        "/api/v1/tasks",
                        Some(&cookie),
                        json!({ "kind": kind, "item_ids": ids, "params": params }),
                    )
                    .await;
                assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
                drain_until_done(&app.engine, db, ana, started.json()["id"].as_i64().unwrap()).await
            }
        };
        let changed = |query: &'static str| {
            let app = &s.app;
            let cookie = s.ana_cookie.clone();
            async move {
                app.get(&format!("/api/v1/items?changed={query}"), Some(&cookie))
                    .await
                    .json()
            }
        };

        // Freshly published: nothing has changed since.
        let published = run("publish", live.clone(), json!(null)).await;
        assert_eq!(published.counts.succeeded, 3);
        assert_eq!(changed("true").await["total"], 0);

        // A bulk edit of one live item and the draft: only the live one is marked.
        let edited = run(
            "edit",
            vec![live[0], draft],
            json!({ "quantity": { "op": "set", "value": 4321 } }),
        )
        .await;
        assert_eq!(edited.counts.succeeded, 2);
        let marked = changed("true").await;
        assert_eq!(marked["total"], 1, "{marked}");
        assert_eq!(marked["items"][0]["id"], live[0]);
        assert_eq!(marked["items"][0]["changed"], true);
        let all = s
            .app
            .get("/api/v1/items?per_page=200", Some(&s.ana_cookie))
            .await
            .json();
        let row = |id: i64| {
            all["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|row| row["id"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(row(live[1])["changed"], false);
        assert_eq!(row(draft)["changed"], false);
        // A filter that is not a yes or no is refused.
        let bad = s
            .app
            .get("/api/v1/items?changed=maybe", Some(&s.ana_cookie))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        // Updating the listings of all four sends the one that changed, and only it.
        let sku = row(live[0])["sku"].as_str().unwrap().to_owned();
        let mut ids = live.clone();
        ids.push(draft);
        let updated = run("update_listings", ids, json!(null)).await;
        assert_eq!(
            (updated.counts.succeeded, updated.counts.skipped),
            (1, 3),
            "{updated:?}"
        );
        assert_eq!(updated.label, "Update 4 listings");
        assert_eq!(
            s.sandbox.listing(&account, &sku).unwrap().listing.quantity,
            4321
        );
        assert_eq!(changed("true").await["total"], 0);
        let skipped = s
            .app
            .get(
                &format!("/api/v1/tasks/{}/items?status=skipped", updated.id),
                Some(&s.ana_cookie),
            )
            .await
            .json();
        let mut codes: Vec<String> = skipped["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["error"]["code"].as_str().unwrap().to_owned())
            .collect();
        codes.sort();
        assert_eq!(codes, ["not_live", "up_to_date", "up_to_date"]);
    }
);
