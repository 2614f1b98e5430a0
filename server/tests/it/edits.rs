//! Bulk edits and their undo through the HTTP API, on SQLite and PostgreSQL: the server's
//! preview, the edit over a filter with refusals, the values kept per item, an undo that
//! skips an item changed in between, and another seller's tasks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};

/// `(price, quantity, version)` of one item, read through the API.
async fn values(app: &TestApp, cookie: &str, id: i64) -> (String, i64, i64) {
    let item = app
        .get(&format!("/api/v1/items/{id}"), Some(cookie))
        .await
        .json();
    (
        item["price"].as_str().unwrap().to_owned(),
        item["quantity"].as_i64().unwrap(),
        item["version"].as_i64().unwrap(),
    )
}

/// Asks for the undo of task `id` as the seller of `cookie`.
async fn undo_of(app: &TestApp, cookie: &str, id: impl std::fmt::Display) -> Reply {
    app.post_json(&format!("/api/v1/tasks/{id}/undo"), Some(cookie), json!({}))
        .await
}

db_test!(an_edit_is_previewed_applied_and_undone, |db| {
    let s = two_sellers(db).await;
    let ana = s.ana_items.clone();
    let (first, second, third) = (ana[0], ana[1], ana[2]);
    let ten: Vec<i64> = ana[..10].to_vec();
    let price_change = json!({ "price": { "op": "add_percent", "value": "10", "end_99": true } });

    // The preview: every item changes, none refused, the first ones before → after.
    let before = values(&s.app, &s.ana_cookie, first).await;
    let preview = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": ten, "params": price_change }),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let body = preview.json();
    assert_eq!(body["count"], 10);
    assert_eq!(body["changed"], 10);
    assert_eq!(body["refused"], json!([]));
    let shown = &body["changes"][0];
    assert_eq!(shown["item_id"], first);
    assert_eq!(shown["before"]["price"], before.0.as_str());
    assert!(shown["after"]["price"].as_str().unwrap().ends_with(".99"));
    let promised = shown["after"]["price"].clone();

    // A change that would take some prices to zero or below is refused for those items.
    let cut = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": ten,
                    "params": { "price": { "op": "add", "value": "-1000000" } } }),
        )
        .await
        .json();
    assert_eq!(cut["changed"], 0);
    assert_eq!(cut["refused_by_code"], json!({ "price_not_positive": 10 }));
    // A change that says nothing is refused before anything starts.
    let empty = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": ten, "params": {} }),
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    // A misspelt part is refused, not ignored.
    let misspelt = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": ten,
                    "params": { "price": { "op": "add", "value": "1" }, "quantitiy": { "op": "set", "value": 1 } } }),
        )
        .await;
    assert_eq!(
        misspelt.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        misspelt.body
    );

    // The edit: what was previewed is what happens.
    let started = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": ten, "params": price_change }),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let task = started.json();
    assert_eq!(task["label"], "Edit 10 items: price +10 %, ending in .99");
    let id = task["id"].as_i64().unwrap();
    let seller = s.ana;
    let done = drain_until_done(&s.app.engine, db, seller, id).await;
    assert_eq!(done.counts.succeeded, 10);
    let after = values(&s.app, &s.ana_cookie, first).await;
    assert_eq!(Value::from(after.0.clone()), promised);
    assert_eq!(after.2, before.2 + 1);

    // The seller changes one of them meanwhile; the undo leaves that one as it is.
    let changed = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": [second],
                    "params": { "quantity": { "op": "set", "value": 77 } } }),
        )
        .await
        .json();
    drain_until_done(&s.app.engine, db, seller, changed["id"].as_i64().unwrap()).await;
    let third_before_undo = values(&s.app, &s.ana_cookie, third).await;

    let undo = undo_of(&s.app, &s.ana_cookie, id).await;
    assert_eq!(undo.status, StatusCode::ACCEPTED, "{}", undo.body);
    let undo = undo.json();
    assert_eq!(undo["kind"], "undo");
    assert_eq!(
        undo["label"],
        format!("Undo #{id} Edit 10 items: price +10 %, ending in .99")
    );
    let undone = drain_until_done(&s.app.engine, db, seller, undo["id"].as_i64().unwrap()).await;
    assert_eq!((undone.counts.succeeded, undone.counts.skipped), (9, 1));
    assert_eq!(values(&s.app, &s.ana_cookie, first).await.0, before.0);
    assert_ne!(
        third_before_undo.0,
        values(&s.app, &s.ana_cookie, third).await.0
    );
    // The skipped one says why, and kept its newer values.
    let skipped = s
        .app
        .get(
            &format!("/api/v1/tasks/{}/items?status=skipped", undo["id"]),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    assert_eq!(skipped["items"][0]["error"]["code"], "changed_since");
    let kept = values(&s.app, &s.ana_cookie, second).await;
    assert_eq!(kept.1, 77);
    assert!(kept.0.ends_with(".99"));

    // An edit that finds the values already there changes nothing: those items are
    // skipped as "already set", and there is nothing to undo.
    let same = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": [second],
                    "params": { "quantity": { "op": "set", "value": 77 } } }),
        )
        .await
        .json();
    let same_id = same["id"].as_i64().unwrap();
    let done = drain_until_done(&s.app.engine, db, seller, same_id).await;
    assert_eq!((done.counts.succeeded, done.counts.skipped), (0, 1));
    let nothing = undo_of(&s.app, &s.ana_cookie, same_id).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.body);
    assert_eq!(nothing.error_code(), "nothing_to_undo");

    // An undo is not undone, and bob sees none of it.
    let again = undo_of(&s.app, &s.ana_cookie, &undo["id"]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.error_code(), "not_undoable");
    let bob = undo_of(&s.app, &s.bob_cookie, id).await;
    assert_eq!(bob.status, StatusCode::NOT_FOUND);
    let bob_preview = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.bob_cookie),
            json!({ "kind": "edit", "item_ids": ten, "params": price_change }),
        )
        .await;
    assert_eq!(bob_preview.status, StatusCode::NOT_FOUND);
    assert_eq!(bob_preview.error_code(), "items_not_found");
});
