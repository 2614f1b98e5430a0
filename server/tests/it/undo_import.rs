//! Undoing an import, on SQLite and PostgreSQL: the items it created are deleted, the ones
//! it overwrote get every field back, and an item changed since is left as it is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};

async fn item_by_sku(app: &TestApp, cookie: &str, sku: &str) -> Option<Value> {
    let found = app
        .get(&format!("/api/v1/items?q={sku}"), Some(cookie))
        .await
        .json();
    found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["sku"] == sku)
        .cloned()
}

db_test!(an_import_is_undone_item_by_item, |db| {
    let s = two_sellers(db).await;
    let ana = s.ana;
    let old = item_by_sku(&s.app, &s.ana_cookie, "SR-0001").await.unwrap();
    let old_detail = s
        .app
        .get(&format!("/api/v1/items/{}", old["id"]), Some(&s.ana_cookie))
        .await
        .json();

    let file = "sku,title,price\r\nSR-0001,Renamed mug,15.00\r\nNEW-1,New one,5.00\r\nNEW-2,New two,6.00\r\n";
    let started = s
        .app
        .upload(&s.ana_cookie, "new.csv", file.as_bytes())
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let import_id = started.json()["id"].as_i64().unwrap();
    let imported = drain_until_done(&s.app.engine, db, ana, import_id).await;
    assert_eq!(imported.counts.succeeded, 3);
    let renamed = item_by_sku(&s.app, &s.ana_cookie, "SR-0001").await.unwrap();
    assert_eq!(renamed["title"], "Renamed mug");

    // NEW-2 is changed after the import: the undo leaves it.
    let new_two = item_by_sku(&s.app, &s.ana_cookie, "NEW-2").await.unwrap();
    let edit = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "edit", "item_ids": [new_two["id"]],
                    "params": { "quantity": { "op": "set", "value": 9 } } }),
        )
        .await
        .json();
    drain_until_done(&s.app.engine, db, ana, edit["id"].as_i64().unwrap()).await;

    let undo = s
        .app
        .post_json(
            &format!("/api/v1/tasks/{import_id}/undo"),
            Some(&s.ana_cookie),
            json!({}),
        )
        .await;
    assert_eq!(undo.status, StatusCode::ACCEPTED, "{}", undo.body);
    let undo = undo.json();
    assert_eq!(
        undo["label"],
        format!("Undo #{import_id} Import 3 rows from new.csv")
    );
    let undone = drain_until_done(&s.app.engine, db, ana, undo["id"].as_i64().unwrap()).await;
    assert_eq!(
        (undone.counts.succeeded, undone.counts.skipped),
        (2, 1),
        "{undone:?}"
    );

    // SR-0001 has every field back (the file's row had left description and quantity
    // at their defaults); NEW-1 is gone; NEW-2 keeps its newer values.
    let back = s
        .app
        .get(&format!("/api/v1/items/{}", old["id"]), Some(&s.ana_cookie))
        .await
        .json();
    for field in [
        "title",
        "description",
        "price",
        "currency",
        "quantity",
        "image_url",
        "category",
    ] {
        assert_eq!(back[field], old_detail[field], "{field}");
    }
    assert!(item_by_sku(&s.app, &s.ana_cookie, "NEW-1").await.is_none());
    let kept = item_by_sku(&s.app, &s.ana_cookie, "NEW-2").await.unwrap();
    assert_eq!(kept["quantity"], 9);
    let skipped = s
        .app
        .get(
            &format!("/api/v1/tasks/{}/items?status=skipped", undo["id"]),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    assert_eq!(skipped["items"][0]["error"]["code"], "changed_since");

    // bob cannot undo ana's import.
    let bob = s
        .app
        .post_json(
            &format!("/api/v1/tasks/{import_id}/undo"),
            Some(&s.bob_cookie),
            json!({}),
        )
        .await;
    assert_eq!(bob.status, StatusCode::NOT_FOUND);
});
