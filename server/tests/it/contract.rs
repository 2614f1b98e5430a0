//! The API keeps its document's word, through the Router: what the document allows is
//! taken (`null` for an optional body, `2.0` for an integer), what it refuses is refused
//! with a field error (a number beyond int64, an array for an object, an unknown form
//! field), ranges are refused and never clamped, and the document itself carries the
//! security scheme, the shared answers and the links. (The contract suite in `contract/`
//! drives every operation with generated requests; these pin the cases it found.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use backend::db_test;
use common::*;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};

/// A JSON body sent as written (serde_json would round what it cannot hold).
async fn post_raw(app: &TestApp, path: &str, cookie: &str, body: &'static str) -> Reply {
    app.send(
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The status and the first field error, when it is a refusal of the body.
fn refused(reply: &Reply) -> (StatusCode, String) {
    (reply.status, field(reply).0)
}

fn field(reply: &Reply) -> (String, String) {
    let json = reply.json();
    let first = &json["error"]["fields"][0];
    (
        first["field"].as_str().unwrap_or_default().to_owned(),
        first["code"].as_str().unwrap_or_default().to_owned(),
    )
}

db_test!(bodies_are_taken_and_refused_as_the_document_says, |db| {
    let s = two_sellers(db).await;
    let (app, cookie) = (&s.app, s.ana_cookie.as_str());
    let started = app
        .post_json(
            "/api/v1/tasks",
            Some(cookie),
            json!({ "kind": "publish", "item_ids": [s.ana_items[0] as f64] }),
        )
        .await;
    assert_eq!(
        started.status,
        StatusCode::ACCEPTED,
        "2.0 is an integer: {}",
        started.body
    );
    let id = started.json()["id"].as_i64().unwrap();
    drain_until_done(&app.engine, db, s.ana, id).await;

    // An optional body may be null; an array is not the object it stands for.
    let retried = post_raw(app, &format!("/api/v1/tasks/{id}/retry"), cookie, "null").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    let array = post_raw(
        app,
        &format!("/api/v1/tasks/{id}/skip"),
        cookie,
        "[null, null]",
    )
    .await;
    assert_eq!(
        refused(&array),
        (StatusCode::UNPROCESSABLE_ENTITY, "body".into())
    );

    // Beyond int64 is refused, never clamped or ignored (it used to mark everything read).
    let body = r#"{"ids": [-9223372036854775809]}"#;
    let read = post_raw(app, "/api/v1/notifications/read", cookie, body).await;
    assert_eq!(
        refused(&read),
        (StatusCode::UNPROCESSABLE_ENTITY, "ids[0]".into())
    );

    // A oneOf is explained by the variant the body meant.
    let edit = app
        .post_json(
            "/api/v1/tasks/preview",
            Some(cookie),
            json!({ "kind": "edit", "filter": {}, "params": { "price": { "op": "set", "value": "-1" } } }),
        )
        .await;
    assert_eq!(
        edit.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        edit.body
    );
    assert!(field(&edit).0.starts_with("params.price"), "{}", edit.body);
    let unknown = app
        .post_json(
            "/api/v1/tasks",
            Some(cookie),
            json!({ "kind": "publish", "filter": {}, "colour": "red" }),
        )
        .await;
    assert_eq!(
        field(&unknown),
        ("colour".into(), "unknown".into()),
        "{}",
        unknown.body
    );

    // Referenced things that are not the seller's are not found; a selection of nothing
    // is the state of things.
    let theirs = app
        .post_json(
            "/api/v1/tasks",
            Some(&s.bob_cookie),
            json!({ "kind": "publish", "item_ids": [s.ana_items[0]] }),
        )
        .await;
    assert_eq!(
        (theirs.status, theirs.error_code().as_str()),
        (StatusCode::NOT_FOUND, "items_not_found")
    );
    let nothing = app
        .post_json(
            "/api/v1/tasks",
            Some(cookie),
            json!({ "kind": "publish", "filter": { "q": "no such item anywhere" } }),
        )
        .await;
    assert_eq!(
        (nothing.status, nothing.error_code().as_str()),
        (StatusCode::CONFLICT, "nothing_to_do")
    );
});

db_test!(queries_ids_and_forms_are_held_to_their_ranges, |db| {
    let s = two_sellers(db).await;
    let (app, cookie) = (&s.app, Some(s.ana_cookie.as_str()));
    for (path, status) in [
        ("/api/v1/items?page=2.0&per_page=10", StatusCode::OK),
        ("/api/v1/items?per_page=0", StatusCode::BAD_REQUEST),
        ("/api/v1/items?per_page=201", StatusCode::BAD_REQUEST),
        ("/api/v1/items?page=0", StatusCode::BAD_REQUEST),
        ("/api/v1/items?page=1000001", StatusCode::BAD_REQUEST),
        ("/api/v1/items?sort=", StatusCode::BAD_REQUEST),
        ("/api/v1/items?in_task=1", StatusCode::BAD_REQUEST),
        (
            "/api/v1/tasks?per_page=9223372036854775808",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/tasks?per_page=101", StatusCode::BAD_REQUEST),
        ("/api/v1/tasks?kind=teleport", StatusCode::BAD_REQUEST),
        ("/api/v1/tasks?status=ok", StatusCode::BAD_REQUEST),
        (
            "/api/v1/tasks?kind=publish&status=succeeded",
            StatusCode::OK,
        ),
        ("/api/v1/tasks/9223372036854775808", StatusCode::BAD_REQUEST),
        ("/api/v1/tasks/0", StatusCode::BAD_REQUEST),
        ("/api/v1/tasks/77.0", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(app.get(path, cookie).await.status, status, "{path}");
    }

    // The upload form has one field, `file`.
    let boundary = "contract-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nsku,title,price\r\n--{boundary}--\r\n"
    );
    let extra = app
        .send(
            Request::post("/api/v1/imports/check")
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .header(header::COOKIE, s.ana_cookie.as_str())
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(
        extra.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        extra.body
    );
    assert_eq!(field(&extra), ("note".into(), "unknown".into()));
});

db_test!(
    the_document_carries_security_shared_answers_and_links,
    |db| {
        let app = TestApp::new(db).await;
        let doc: Value = app.get("/api/v1/openapi.json", None).await.json();
        assert_eq!(
            doc["components"]["securitySchemes"]["session"]["in"],
            "cookie"
        );
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let responses = &operation["responses"];
                let public = operation["security"] == json!([]);
                assert_eq!(
                    public,
                    ["/api/v1/login", "/healthz", "/readyz"].contains(&path.as_str()),
                    "{method} {path}"
                );
                if !public {
                    assert!(responses.get("401").is_some(), "{method} {path}");
                }
                if method != "get" {
                    assert!(responses.get("403").is_some(), "{method} {path}");
                }
                if operation["requestBody"]["content"]
                    .get("application/json")
                    .is_some()
                {
                    assert!(responses.get("422").is_some(), "{method} {path}");
                }
                let id = operation["operationId"].as_str().unwrap();
                let tag = operation["tags"][0].as_str().unwrap();
                assert!(id.starts_with(&format!("{tag}_")), "{id}");
            }
        }
        assert!(operations >= 34);
        let create = &doc["paths"]["/api/v1/tasks"]["post"]["responses"]["202"]["links"];
        for target in [
            "tasks_show",
            "tasks_items",
            "tasks_failures",
            "tasks_retry",
            "tasks_skip",
        ] {
            assert_eq!(
                create[target]["parameters"]["id"], "$response.body#/id",
                "{target}"
            );
        }
        let kinds: Vec<&str> = doc["components"]["schemas"]["CreateBody"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|variant| variant["title"].as_str())
            .collect();
        assert!(
            kinds.contains(&"publish") && kinds.contains(&"edit"),
            "{kinds:?}"
        );
    }
);

db_test!(readiness_says_what_is_not_ready, |db| {
    // A migrated database, and no task loop in this process: ready, with no workers.
    let app = TestApp::new(db).await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(
        ready.json(),
        json!({ "status": "ready", "database": "ok", "pending_migrations": 0, "workers": "none" })
    );
    // The loop running: its turns are seen.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let loop_ = tokio::spawn(std::sync::Arc::clone(&app.engine).run(shutdown.clone()));
    let mut workers = Value::Null;
    for _ in 0..50 {
        workers = app.get("/readyz", None).await.json()["workers"].clone();
        if workers == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(workers, "running");
    shutdown.cancel();
    loop_.await.unwrap();
    assert_eq!(app.get("/readyz", None).await.json()["workers"], "none");

    // A database without this build's migrations: not ready, and says how many.
    let bare = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let behind = TestApp::new(&bare).await.get("/readyz", None).await;
    assert_eq!(behind.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(behind.json()["status"], "not_ready");
    assert!(
        behind.json()["pending_migrations"].as_u64().unwrap() > 0,
        "{}",
        behind.body
    );
});

db_test!(metrics_are_for_the_operator_with_the_token_only, |db| {
    let s = two_sellers(db).await;
    let started = s
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": &s.ana_items[..3] }),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    // Without a token configured there are no metrics at all.
    assert_eq!(
        s.app.get("/metrics", None).await.status,
        StatusCode::NOT_FOUND
    );

    let options = leptos::config::LeptosOptions::builder()
        .output_name("stockroom")
        .build();
    let marketplaces =
        backend::connectors::Marketplaces::new(Some(test_secret_key()), &s.url).unwrap();
    let state = server::state(
        options,
        db.clone(),
        std::sync::Arc::clone(&s.app.engine),
        std::sync::Arc::new(marketplaces),
    );
    let router = server::app_with_metrics(
        state,
        None,
        server::metrics::MetricsToken(Some("s3cret".into())),
    );
    let scrape = |auth: Option<&'static str>| {
        let router = router.clone();
        async move {
            let mut request = Request::get("/metrics");
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = tower::ServiceExt::oneshot(router, request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    assert_eq!(scrape(None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(scrape(Some("Bearer wrong")).await.0, StatusCode::NOT_FOUND);
    let (status, body) = scrape(Some("Bearer s3cret")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("stockroom_tasks{kind=\"publish\",status=\"queued\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("stockroom_task_items{kind=\"publish\",status=\"total\"} 3"),
        "{body}"
    );
    assert!(body.contains("stockroom_queue_due 3"), "{body}");
    assert!(
        body.contains("stockroom_queue_oldest_due_seconds"),
        "{body}"
    );
});
