//! Publishing to an Amazon connection, on SQLite and PostgreSQL, against the sandbox's
//! Amazon contract: each item is accepted, waits while Amazon processes it ("accepted,
//! waiting for the marketplace", counted on the task), and resolves to listed or to
//! refused with Amazon's late issues mapped to the item's field; an access token that
//! expires mid-task is fetched again; unpublish takes the listings down; with several
//! connections the seller must say which.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};
use server::sandbox::amazon::AmazonTiming;

async fn connect_amazon(s: &TwoSellers, name: &str) -> i64 {
    let reply = s
        .app
        .post_json(
            "/api/v1/connections",
            Some(&s.ana_cookie),
            json!({
                "marketplace": "amazon",
                "name": name,
                "account": "A2EUQ1WTGCTBG2",
                "credentials": {
                    "client_id": "amzn1.application-oa2-client.abc",
                    "client_secret": "secret",
                    "refresh_token": "Atzr|good",
                },
                "base_url": format!("{}/amazon", s.url),
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()["id"].as_i64().unwrap()
}

/// Runs due work until the task ends, on the real clock (Amazon's processing takes
/// real time), for at most 20 s; calls `between` after every round.
async fn run_until_done(s: &TwoSellers, task_id: i64, mut between: impl FnMut(&Value)) -> Value {
    for _ in 0..200 {
        s.app.engine.drain().await.unwrap();
        let task = s
            .app
            .get(&format!("/api/v1/tasks/{task_id}"), Some(&s.ana_cookie))
            .await
            .json();
        between(&task);
        if ["succeeded", "completed_with_errors", "failed", "cancelled"]
            .contains(&task["status"].as_str().unwrap_or_default())
        {
            return task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("task {task_id} did not finish");
}

db_test!(published_items_wait_for_amazon_then_resolve, |db| {
    let s = two_sellers(db).await;
    s.sandbox.amazon().set_timing(AmazonTiming {
        processing_ms: 500,
        token_seconds: 3600,
    });
    let connection = connect_amazon(&s, "Amazon US").await;
    // Three items with an image, and one without (Amazon flags it after processing).
    let mut ids = Vec::new();
    let mut no_image = None;
    for id in &s.ana_items {
        let item = backend::catalog::get(db, s.ana, *id).await.unwrap();
        match (&item.image_url, no_image) {
            (None, None) => no_image = Some(*id),
            (Some(_), _) if ids.len() < 3 => ids.push(*id),
            _ => {}
        }
    }
    let no_image = no_image.expect("a demo item without an image");
    ids.push(no_image);
    let created = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": ids }),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    // The time told counts the submission and at least one check of each item.
    assert_eq!(created.json()["estimate"]["calls"], 8, "{}", created.body);
    let task_id = created.json()["id"].as_i64().unwrap();
    let mut most_waiting = 0;
    let mut expired = false;
    let done = run_until_done(&s, task_id, |task| {
        let waiting = task["counts"]["waiting"].as_i64().unwrap_or(0);
        most_waiting = most_waiting.max(waiting);
        // Amazon's token runs out while items wait: the next check gets a new one.
        if waiting > 0 && !expired {
            s.sandbox.amazon().expire_tokens();
            expired = true;
        }
    })
    .await;
    assert_eq!(most_waiting, 4, "every accepted item waited for Amazon");
    assert_eq!(done["status"], "completed_with_errors", "{done}");
    assert_eq!(done["counts"]["succeeded"], 3);
    assert_eq!(done["counts"]["failed"], 1);
    assert_eq!(done["counts"]["waiting"], 0);
    let stats = s.sandbox.amazon().stats();
    assert_eq!((stats.listings, stats.pending_processing), (4, 0));
    assert!(
        stats.tokens_issued >= 2,
        "the expired token was replaced: {stats:?}"
    );
    // The refusal is Amazon's late issue, under our code and naming the item's field.
    let failures = s
        .app
        .get(
            &format!("/api/v1/tasks/{task_id}/failures"),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    assert_eq!(failures[0]["code"], "image_missing", "{failures}");
    let items = s
        .app
        .get(
            &format!("/api/v1/tasks/{task_id}/items?status=failed"),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    assert_eq!(
        items["items"][0]["error"]["fields"],
        json!(["image_url"]),
        "{items}"
    );
    // The item remembers its listing per connection.
    let rows = backend::connectors::listings::of_item(db, s.ana, ids[0])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].state.as_str(), rows[0].connection_id),
        ("listed", connection)
    );
    assert!(rows[0]
        .reference
        .as_deref()
        .is_some_and(|asin| asin.starts_with("B0")));
    let refused = backend::connectors::listings::of_item(db, s.ana, no_image)
        .await
        .unwrap();
    assert_eq!(refused[0].state, "refused");
    backend::testing::assert_counters_match(db, task_id).await;

    // Unpublish takes them down.
    let down = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "unpublish", "item_ids": &ids[..3], "connection_id": connection }),
        )
        .await;
    assert_eq!(down.status, StatusCode::ACCEPTED, "{}", down.body);
    let done = run_until_done(&s, down.json()["id"].as_i64().unwrap(), |_| {}).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    for id in &ids[..3] {
        assert_eq!(
            backend::connectors::listings::of_item(db, s.ana, *id)
                .await
                .unwrap()[0]
                .state,
            "removed"
        );
    }
    let sku = backend::catalog::get(db, s.ana, ids[0]).await.unwrap().sku;
    assert!(s.sandbox.amazon().listing("A2EUQ1WTGCTBG2", &sku).is_none());
});

db_test!(with_several_connections_the_seller_says_which, |db| {
    let s = two_sellers(db).await;
    let first = connect_amazon(&s, "Amazon US").await;
    connect_amazon(&s, "Amazon CA").await;
    let body = json!({ "kind": "publish", "item_ids": &s.ana_items[..2] });
    let refused = s
        .app
        .post_json("/api/v1/tasks", Some(&s.ana_cookie), body)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let error = refused.json()["error"].clone();
    assert_eq!(error["code"], "connection_required");
    assert!(error["message"].as_str().unwrap().contains("Amazon CA"));
    // Another seller's connection is not one of hers.
    let theirs = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.bob_cookie),
            json!({ "kind": "publish", "item_ids": [1], "connection_id": first }),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
    // Named, it goes.
    let named = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": &s.ana_items[..2], "connection_id": first }),
        )
        .await;
    assert_eq!(named.status, StatusCode::ACCEPTED, "{}", named.body);
    // A connection used by a task that has not ended cannot be removed.
    let removed = s
        .app
        .send(
            http::Request::delete(format!("/api/v1/connections/{first}"))
                .header(http::header::COOKIE, &s.ana_cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(removed.status, StatusCode::CONFLICT, "{}", removed.body);
    assert_eq!(removed.error_code(), "connection_in_use");
});

db_test!(
    an_import_never_asks_where_to_publish_and_its_publish_step_names_one,
    |db| {
        let s = two_sellers(db).await;
        let us = connect_amazon(&s, "Amazon US").await;
        let ca = connect_amazon(&s, "Amazon CA").await;
        let file =
            b"sku,title,price,quantity\nIMP-1,Linen napkins,18.00,12\nIMP-2,Oak board,42.50,3\n";

        // The check answers with several connections: an import publishes nothing. It offers
        // them for "then publish", suggests the first, and estimates a publish through each.
        let check = s
            .app
            .upload_to("/api/v1/imports/check", &s.ana_cookie, "two.csv", file)
            .await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.body);
        let check = check.json();
        assert_eq!(check["ready"], 2);
        let offered: Vec<i64> = check["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(offered, vec![us, ca]);
        assert_eq!(check["connection_id"], us);
        let through: Vec<i64> = check["publish_estimates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["connection_id"].as_i64().unwrap())
            .collect();
        assert_eq!(through, vec![us, ca]);
        assert!(check["publish_estimate"]["seconds"].as_u64().is_some());
        // Asked for the second, the check suggests it; another seller's is not taken.
        let asked = s
            .app
            .upload_to(
                &format!("/api/v1/imports/check?connection_id={ca}"),
                &s.ana_cookie,
                "two.csv",
                file,
            )
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert_eq!(asked.json()["connection_id"], ca);
        assert_eq!(
            asked.json()["publish_estimate"],
            check["publish_estimates"][1]["estimate"],
            "the estimate is the one through the connection asked for"
        );
        // Another seller names hers: not found, for the check and for a chain's publish step.
        let theirs = s
            .app
            .upload_to(
                &format!("/api/v1/imports/check?connection_id={ca}"),
                &s.bob_cookie,
                "two.csv",
                file,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
        assert_eq!(theirs.error_code(), "connection_not_found");
        let bobs = s
            .app
            .upload_to("/api/v1/imports/check", &s.bob_cookie, "two.csv", file)
            .await
            .json();
        assert_eq!(bobs["connection_id"], Value::Null);
        assert_eq!(bobs["connections"], json!([]));
        let hijack = s
            .app
            .upload_to(
                &format!("/api/v1/imports?then=publish&connection_id={ca}"),
                &s.bob_cookie,
                "two.csv",
                file,
            )
            .await;
        assert_eq!(
            hijack.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            hijack.body
        );

        // The import alone starts without a connection.
        let alone = s.app.upload(&s.ana_cookie, "two.csv", file).await;
        assert_eq!(alone.status, StatusCode::ACCEPTED, "{}", alone.body);
        // Then publish: with several connections the seller names one, and the chain's
        // publish step goes through it.
        let unnamed = s
            .app
            .upload_to(
                "/api/v1/imports?then=publish",
                &s.ana_cookie,
                "three.csv",
                b"sku,title,price,quantity\nIMP-3,Enamel mug,9.90,40\n",
            )
            .await;
        assert_eq!(unnamed.status, StatusCode::CONFLICT, "{}", unnamed.body);
        assert_eq!(unnamed.error_code(), "connection_required");
        let named = s
            .app
            .upload_to(
                &format!("/api/v1/imports?then=publish&connection_id={ca}"),
                &s.ana_cookie,
                "three.csv",
                b"sku,title,price,quantity\nIMP-3,Enamel mug,9.90,40\n",
            )
            .await;
        assert_eq!(named.status, StatusCode::ACCEPTED, "{}", named.body);
        let next = named.json()["chain"]["next"].as_i64().unwrap();
        use sea_orm::EntityTrait;
        let step = backend::entities::task::Entity::find_by_id(next)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let params: Value = serde_json::from_str(&step.params).unwrap();
        assert_eq!(params["connection_id"], ca);
        // Without a step that publishes, a connection is refused, not ignored.
        let stray = s
            .app
            .upload_to(
                &format!("/api/v1/imports?connection_id={ca}"),
                &s.ana_cookie,
                "three.csv",
                b"sku,title,price,quantity\nIMP-3,Enamel mug,9.90,40\n",
            )
            .await;
        assert_eq!(
            stray.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            stray.body
        );
    }
);
