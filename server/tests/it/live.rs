//! The live event stream through the Router: the snapshot on connect, task events in
//! order with their seq, the notification at the end, isolation between sellers, a
//! lagging client resynchronised with a snapshot, and (PostgreSQL) events from a worker
//! on another instance. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use backend::db_test;
use common::*;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

/// An open event stream, read frame by frame.
struct Stream {
    body: Body,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, cookie: &str) -> Self {
        let request = Request::get("/api/v1/events")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        let response = app.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        Self {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next `(event, data)`, or `None` if nothing comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            let frame = tokio::time::timeout(wait, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    async fn expect(&mut self, name: &str) -> Value {
        let (got, data) = self
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no {name} event"));
        assert_eq!(got, name, "{data}");
        data
    }
}

async fn publish_task(app: &TestApp, seller: i64, n: usize) -> i64 {
    let ids: Vec<i64> = backend::catalog::matching_ids(&app_db(app), seller, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .take(n)
        .collect();
    backend::testing::start_task(&app.engine, seller, "publish", &ids)
        .await
        .id
}

fn app_db(app: &TestApp) -> backend::DatabaseConnection {
    app.engine.db().clone()
}

db_test!(
    a_stream_starts_with_a_snapshot_then_follows_the_task_to_its_notification,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        let bob = seller(db, "bob@example.com").await;
        let (_sandbox, url) = sandbox_on_a_port().await;
        let app = TestApp::with_marketplace(db, &url, None);
        let ana_cookie = app.logged_in("ana@example.com").await;
        let bob_cookie = app.logged_in("bob@example.com").await;
        let waiting = publish_task(&app, ana, 3).await;
        publish_task(&app, bob, 2).await;

        let mut stream = Stream::open(&app, &ana_cookie).await;
        let mut bobs = Stream::open(&app, &bob_cookie).await;
        let snapshot = stream.expect("snapshot").await;
        let tasks = snapshot["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 1, "only Ana's task: {snapshot}");
        assert_eq!(tasks[0]["id"], waiting);
        assert_eq!(tasks[0]["status"], "queued");
        assert_eq!(snapshot["unread"], 0);
        bobs.expect("snapshot").await;

        app.engine.drain().await.unwrap();
        let mut last_seq = tasks[0]["seq"].as_i64().unwrap();
        let mut statuses = Vec::new();
        loop {
            let (name, data) = stream.next(Duration::from_secs(10)).await.expect("events");
            if name == "notification" {
                assert_eq!(data["notification"]["task_id"], waiting);
                assert_eq!(data["notification"]["level"], "success");
                assert_eq!(data["unread"], 1);
                break;
            }
            assert_eq!(name, "task");
            assert_eq!(data["id"], waiting);
            let seq = data["seq"].as_i64().unwrap();
            assert!(seq > last_seq, "seq grows: {seq} after {last_seq}");
            last_seq = seq;
            statuses.push(data["status"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            statuses.last().map(String::as_str),
            Some("succeeded"),
            "{statuses:?}"
        );

        // Bob hears about his own task only.
        loop {
            let Some((name, data)) = bobs.next(Duration::from_millis(500)).await else {
                break;
            };
            if name == "task" {
                assert_ne!(data["id"], waiting, "Bob must not see Ana's task");
            }
            if name == "notification" {
                assert_ne!(data["notification"]["task_id"], waiting);
            }
        }

        // The notification centre: listed, then read.
        let list = app
            .get("/api/v1/notifications", Some(&ana_cookie))
            .await
            .json();
        // One per task: its ending (unread) replaced its start, the task named by number.
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["level"], "success");
        assert_eq!(list[0]["task_id"], waiting);
        assert_eq!(list[0]["title"], format!("#{waiting} Publish 3 items done"));
        assert!(list[0]["read_at"].is_null());
        let read = app
            .post_json(
                "/api/v1/notifications/read",
                Some(&ana_cookie),
                serde_json::json!({}),
            )
            .await
            .json();
        assert_eq!(read["unread"], 0);
        let none = app
            .get("/api/v1/notifications", Some(&bob_cookie))
            .await
            .json();
        assert!(none
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["task_id"] != waiting));
    }
);

db_test!(a_client_that_falls_behind_gets_a_fresh_snapshot, |db| {
    let ana = seller(db, "ana@example.com").await;
    let app = TestApp::new(db).await;
    let cookie = app.logged_in("ana@example.com").await;
    let task = publish_task(&app, ana, 2).await;
    let mut stream = Stream::open(&app, &cookie).await;
    stream.expect("snapshot").await;
    // Far more events than the bus holds, none read meanwhile.
    let loaded = backend::tasks::load(db, task).await.unwrap();
    for n in 0..1_500 {
        let mut event = backend::tasks::events::TaskEvent::from(&loaded);
        event.task_id = 1_000_000 + n;
        event.seller_id = ana;
        app.engine.bus().publish(event);
    }
    let (name, data) = stream.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        name, "snapshot",
        "resynchronised instead of replaying: {data}"
    );
    assert_eq!(data["tasks"][0]["id"], task);
});

db_test!(a_worker_on_another_instance_is_seen_live, |db| {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        // One process on SQLite: the in-process bus is the whole story (tests above).
        return;
    }
    let database_url = backend_url(db).await;
    let (_sandbox, marketplace) = sandbox_on_a_port().await;
    let ana = seller(db, "ana@example.com").await;
    // Instance A only works; instance B only serves the stream. Each has its own bus,
    // joined through NOTIFY.
    let bus_a = backend::tasks::events::EventBus::new("instance-a", Duration::ZERO);
    let bus_b = backend::tasks::events::EventBus::new("instance-b", Duration::ZERO);
    bus_a
        .connect_postgres(db.clone(), &database_url)
        .await
        .unwrap();
    bus_b
        .connect_postgres(db.clone(), &database_url)
        .await
        .unwrap();
    let worker = TestApp::with_engine(
        db,
        engine_on(db, &marketplace, bus_a),
        None,
        Default::default(),
    );
    let web = TestApp::with_engine(
        db,
        engine_on(db, &marketplace, bus_b),
        None,
        Default::default(),
    );
    let cookie = web.logged_in("ana@example.com").await;
    let mut stream = Stream::open(&web, &cookie).await;
    stream.expect("snapshot").await;
    let task = publish_task(&worker, ana, 2).await;
    worker.engine.drain().await.unwrap();
    let mut seen_end = false;
    while let Some((name, data)) = stream.next(Duration::from_secs(10)).await {
        if name == "task" && data["id"] == task && data["status"] == "succeeded" {
            seen_end = true;
        }
        if name == "notification" {
            break;
        }
    }
    assert!(seen_end, "instance B streamed instance A's work to the end");
});

/// The URL of this test's PostgreSQL database, as other connections would use it.
async fn backend_url(db: &backend::DatabaseConnection) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_database() AS name",
        ))
        .await
        .unwrap()
        .unwrap();
    let name: String = row.try_get("", "name").unwrap();
    let mut url = url::Url::parse(&std::env::var("TEST_POSTGRES_URL").unwrap()).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

db_test!(
    every_snapshot_names_the_build_of_the_browser_code_the_server_serves,
    |db| {
        let site = TestSite::new();
        let options = site.options();
        assert_eq!(server::site_build(&options), "", "no site built yet");
        site.write("stockroom.wasm", b"\0asm build one");
        let one = server::site_build(&options);
        assert_eq!(one.len(), 16, "{one}");
        site.write("stockroom.wasm", b"\0asm build two");
        assert_ne!(
            server::site_build(&options),
            one,
            "another build, another name"
        );
        site.write("stockroom.wasm", b"\0asm build one");
        assert_eq!(server::site_build(&options), one, "same bytes, same name");

        seller(db, "ana@example.com").await;
        let app = TestApp::with_site(db, &site);
        let cookie = app.logged_in("ana@example.com").await;
        let mut stream = Stream::open(&app, &cookie).await;
        let snapshot = stream.expect("snapshot").await;
        assert_eq!(snapshot["build"], one.as_str());
    }
);
