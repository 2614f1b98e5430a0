//! `POST /api/v1/tasks/preview` through the Router, on SQLite and PostgreSQL: what a task
//! would do to a selection, by listing state, with its estimate, and nothing started.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use backend::domain::ListingState;
use common::*;
use http::StatusCode;
use serde_json::json;

db_test!(a_preview_breaks_a_selection_down_and_starts_nothing, |db| {
    let s = two_sellers(db).await;
    let ana = s.ana;
    // Of ana's first ten items, three are live already and seven are drafts.
    let ten = &s.ana_items[..10];
    for (at, id) in ten.iter().enumerate() {
        let state = if at < 3 {
            ListingState::Published
        } else {
            ListingState::Draft
        };
        backend::catalog::set_listing(db, ana, *id, None, state, None, None, chrono::Utc::now())
            .await
            .unwrap();
    }

    let preview = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": ten }),
        )
        .await;
    assert_eq!(
        preview.status,
        StatusCode::OK,
        "{}",
        preview.error_message()
    );
    let body = preview.json();
    assert_eq!(body["count"], 10);
    assert_eq!(body["breakdown"], json!({ "draft": 7, "published": 3 }));
    assert_eq!(
        body["said"],
        "7 items not yet live will be published · 3 items already live will be updated"
    );
    assert_eq!(body["estimate"]["items"], 10);
    assert_eq!(body["estimate"]["calls"], 10);

    // The same body by filter; an unpublish says it in its own words.
    let by_filter = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "unpublish", "filter": { "state": "published" } }),
        )
        .await
        .json();
    let live = backend::catalog::count(
        db,
        ana,
        &backend::catalog::ItemFilter {
            state: Some(ListingState::Published),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_filter["count"], live);
    assert_eq!(
        by_filter["said"],
        format!("{live} items live will be taken off the marketplace")
    );

    // Leaving the live ones out: the preview and the task cover the seven drafts only.
    let without_live = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": ten, "leave_live": true }),
        )
        .await
        .json();
    assert_eq!(without_live["count"], 7);
    assert_eq!(without_live["breakdown"], json!({ "draft": 7 }));

    // Nothing was started.
    let tasks = s.app.get("/api/v1/tasks", Some(&s.ana_cookie)).await.json();
    assert_eq!(tasks["total"], 0);

    // Another seller's items are not previewed, and a bad kind is named.
    let other = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.bob_cookie),
            json!({ "kind": "publish", "item_ids": ten }),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.error_code(), "items_not_found");
    let bad = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            Some(&s.ana_cookie),
            json!({ "kind": "import", "item_ids": ten }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let said = bad.json().to_string();
    assert!(said.contains("kind must be one of"), "{said}");
    let started = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": ten, "leave_live": true }),
        )
        .await;
    assert_eq!(
        started.status,
        StatusCode::ACCEPTED,
        "{}",
        started.error_message()
    );
    assert_eq!(started.json()["counts"]["total"], 7);
    let anonymous = s
        .app
        .post_json(
            "/api/v1/tasks/preview",
            None,
            json!({ "kind": "publish", "item_ids": ten }),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
});
