//! Exports through the HTTP API, on SQLite and PostgreSQL: every matching item to a CSV in
//! the import format, the file streamed once the task is over, imported back with nothing
//! changed, gone after its days, and nobody else's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::{header, StatusCode};
use serde_json::{json, Value};

/// Every item of the seller, as the API lists them (one page holds them all).
async fn catalog(app: &TestApp, cookie: &str) -> Value {
    let page = app
        .get("/api/v1/items?per_page=200", Some(cookie))
        .await
        .json();
    assert!(page["total"].as_i64().unwrap() <= 200);
    page["items"].clone()
}

db_test!(
    an_export_downloads_imports_back_unchanged_and_expires,
    |db| {
        let s = two_sellers(db).await;
        let seller = s.app.engine.clone();
        let ana = s.ana;
        let before = catalog(&s.app, &s.ana_cookie).await;
        let count = before.as_array().unwrap().len();

        // Every matching item, asked by filter.
        let started = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "export", "filter": {} }),
            )
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
        let task = started.json();
        assert_eq!(task["label"], format!("Export {count} items"));
        let id = task["id"].as_i64().unwrap();
        let file = format!("/api/v1/tasks/{id}/export.csv");

        // Not before it is over.
        let early = s.app.get(&file, Some(&s.ana_cookie)).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
        assert_eq!(early.error_code(), "export_not_ready");

        let done = drain_until_done(&seller, db, ana, id).await;
        assert_eq!(done.counts.succeeded as usize, count);

        // The file: the import's header, then one row per item, in the catalog's order.
        let got = s.app.get(&file, Some(&s.ana_cookie)).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(got.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            got.headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"stockroom-export-{id}.csv\"")
        );
        let text = got.body.clone();
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next().unwrap(),
            "\u{FEFF}sku,title,description,price,currency,quantity,image_url,category"
        );
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), count);
        let skus: std::collections::BTreeSet<&str> = rows.iter().map(|row| &row[0]).collect();
        for item in before.as_array().unwrap() {
            assert!(skus.contains(item["sku"].as_str().unwrap()), "{item}");
        }

        // Imported back, it changes nothing: not a value, not a version.
        let import = s
            .app
            .upload(&s.ana_cookie, "export.csv", text.as_bytes())
            .await;
        assert_eq!(import.status, StatusCode::ACCEPTED, "{}", import.body);
        let imported =
            drain_until_done(&seller, db, ana, import.json()["id"].as_i64().unwrap()).await;
        assert_eq!(imported.counts.succeeded as usize, count, "{imported:?}");
        assert_eq!(catalog(&s.app, &s.ana_cookie).await, before);

        // Nobody else's: bob gets a 404; an edit has no file.
        let bob = s.app.get(&file, Some(&s.bob_cookie)).await;
        assert_eq!(bob.status, StatusCode::NOT_FOUND);
        assert_eq!(
            s.app.get(&file, None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let not_export = s
            .app
            .get(
                &format!("/api/v1/tasks/{}/export.csv", imported.id),
                Some(&s.ana_cookie),
            )
            .await;
        assert_eq!(not_export.status, StatusCode::CONFLICT);
        assert_eq!(not_export.error_code(), "not_an_export");

        // The finished notification offers the file.
        let notes = s
            .app
            .get("/api/v1/notifications", Some(&s.ana_cookie))
            .await
            .json();
        let note = notes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["task_id"] == id)
            .unwrap();
        assert_eq!(note["download"], file);

        // Seven days after it ended the file is gone, and says so.
        use sea_orm::ConnectionTrait;
        let backend = db.get_database_backend();
        let eight_days_ago = chrono::Utc::now() - chrono::Duration::days(8);
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE tasks SET finished_at = $1 WHERE id = $2",
                _ => "UPDATE tasks SET finished_at = ? WHERE id = ?",
            },
            [eight_days_ago.into(), id.into()],
        ))
        .await
        .unwrap();
        let forgotten = backend::exports::forget_expired(db, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(forgotten as usize, count);
        let gone = s.app.get(&file, Some(&s.ana_cookie)).await;
        assert_eq!(gone.status, StatusCode::GONE, "{}", gone.body);
        assert_eq!(gone.error_code(), "export_expired");
        // A retry that ends the task again does not bring back a file cut short.
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE tasks SET finished_at = $1 WHERE id = $2",
                _ => "UPDATE tasks SET finished_at = ? WHERE id = ?",
            },
            [chrono::Utc::now().into(), id.into()],
        ))
        .await
        .unwrap();
        let still_gone = s.app.get(&file, Some(&s.ana_cookie)).await;
        assert_eq!(still_gone.status, StatusCode::GONE, "{}", still_gone.body);
    }
);
