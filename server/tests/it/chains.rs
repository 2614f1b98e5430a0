//! Flows through the HTTP API, on SQLite and PostgreSQL: "import, then publish what
//! imported" and "edit, then update listings" as chains whose second step covers exactly
//! the first one's successes; cancelling the first cancels the second; tasks scheduled
//! for later start on time (an injected clock), at once when their time is past, or when
//! the seller says so — and once, when two instances look at the same moment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use backend::tasks::clock::{ManualClock, NoJitter};
use backend::tasks::TaskStatus;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Four good rows and one without a price: the import succeeds on four.
const FILE: &str = "sku,title,price,quantity,image_url\n\
CHAIN-1,Chain mug,12.50,3,/media/demo/1.svg\n\
CHAIN-2,Chain plate,9.00,1,/media/demo/2.svg\n\
CHAIN-3,Chain bowl,,4,/media/demo/3.svg\n\
CHAIN-4,Chain cup,4.20,8,/media/demo/4.svg\n\
CHAIN-5,Chain jug,22.00,2,/media/demo/5.svg\n";

async fn task(s: &TwoSellers, id: i64) -> Value {
    s.app
        .get(&format!("/api/v1/tasks/{id}"), Some(&s.ana_cookie))
        .await
        .json()
}

/// The SKUs of a task's items, in order.
async fn skus(s: &TwoSellers, id: i64) -> Vec<String> {
    let page = s
        .app
        .get(
            &format!("/api/v1/tasks/{id}/items?per_page=100"),
            Some(&s.ana_cookie),
        )
        .await
        .json();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["sku"].as_str().unwrap_or_default().to_owned())
        .collect()
}

db_test!(import_then_publish_publishes_exactly_what_imported, |db| {
    let s = two_sellers(db).await;
    let first = chain_of(&s, FILE).await;
    let next = first["chain"]["next"].as_i64().expect("a second step");
    assert_eq!(
        first["chain"],
        json!({"step": 1, "of": 2, "next": next, "previous": null})
    );
    // Step 2 exists from the start, waiting, with nothing to do yet.
    let waiting = task(&s, next).await;
    assert_eq!(waiting["status"], "scheduled");
    assert_eq!(waiting["kind"], "publish");
    assert_eq!(waiting["counts"]["total"], 0);
    // Estimated as if all of step 1 passes on, and as running after it, not beside it.
    assert_eq!(waiting["estimate"]["calls"], 5, "{waiting}");
    assert_eq!(waiting["estimate"]["shared_with"], 0, "{waiting}");
    assert_eq!(waiting["chain"]["previous"], first["id"]);
    assert_eq!(waiting["chain"]["step"], 2);
    // It starts when the first ends, not on request.
    let refused = control(&s, next, "start-now").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    let id = first["id"].as_i64().unwrap();
    let imported = drain_until_done(&s.app.engine, db, s.ana, id).await;
    assert_eq!(imported.status, TaskStatus::CompletedWithErrors);
    assert_eq!((imported.counts.succeeded, imported.counts.failed), (4, 1));
    let published = drain_until_done(&s.app.engine, db, s.ana, next).await;
    assert_eq!(
        published.status,
        TaskStatus::Succeeded,
        "{:?}",
        published.counts
    );
    assert_eq!(published.counts.total, 4);
    assert_eq!(published.label, "Publish 4 items");
    assert_eq!(
        skus(&s, next).await,
        ["CHAIN-1", "CHAIN-2", "CHAIN-4", "CHAIN-5"]
    );
    let (_, accounts) = s.sandbox.stats();
    let account = &accounts[&format!("seller-{}", s.ana)];
    assert_eq!(account.create_requests, 4, "one listing per imported item");
    // Its estimate was made again for the four it really had.
    let step2 = task(&s, next).await;
    assert_eq!(step2["estimate"]["calls"], 4, "{step2}");

    // Another seller sees neither step.
    let other = s
        .app
        .get(&format!("/api/v1/tasks/{next}"), Some(&s.bob_cookie))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
});

db_test!(cancelling_the_first_step_cancels_the_next, |db| {
    let s = two_sellers(db).await;
    let (id, next) = ids(&chain_of(&s, FILE).await);
    let cancelled = control(&s, id, "cancel").await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    let second = task(&s, next).await;
    assert_eq!(second["status"], "cancelled", "{second}");
    assert_eq!(second["counts"]["total"], 0);
    s.app.engine.drain().await.unwrap();
    assert_eq!(s.sandbox.stats().0.listings, 0, "nothing was published");
});

db_test!(
    edit_then_update_listings_updates_what_the_edit_changed,
    |db| {
        let s = two_sellers(db).await;
        backend::testing::make_all_listable(db).await;
        let live: Vec<i64> = s.ana_items.iter().copied().take(3).collect();
        let publish = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "publish", "item_ids": live }),
            )
            .await;
        let publish_id = publish.json()["id"].as_i64().unwrap();
        drain_until_done(&s.app.engine, db, s.ana, publish_id).await;
        // Three live items and one draft.
        let draft = s.ana_items[5];
        let edit = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({
                    "kind": "edit",
                    "item_ids": [live[0], live[1], live[2], draft],
                    "params": { "quantity": { "op": "set", "value": 77 } },
                    "then": "update_listings",
                }),
            )
            .await;
        assert_eq!(edit.status, StatusCode::ACCEPTED, "{}", edit.body);
        let edit = edit.json();
        let next = edit["chain"]["next"].as_i64().unwrap();
        let edited = drain_until_done(&s.app.engine, db, s.ana, edit["id"].as_i64().unwrap()).await;
        assert_eq!(edited.counts.succeeded, 4);
        let updated = drain_until_done(&s.app.engine, db, s.ana, next).await;
        // The step covers the edit's four; the draft is not live, so it is left out.
        assert_eq!(updated.counts.total, 4);
        assert_eq!(
            (updated.counts.succeeded, updated.counts.skipped),
            (3, 1),
            "{:?}",
            updated.counts
        );
        let changed = s
            .app
            .get("/api/v1/items?changed=true", Some(&s.ana_cookie))
            .await
            .json();
        assert_eq!(
            changed["total"], 0,
            "every live item is up to date: {changed}"
        );

        // A kind that cannot follow is refused, naming the field.
        let refused = s
            .app
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "publish", "item_ids": [draft], "then": "delete" }),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("then"), "{}", refused.body);
    }
);

/// Starts "import `file`, then publish" and returns the first step.
async fn chain_of(s: &TwoSellers, file: &str) -> Value {
    let started = s
        .app
        .upload_to(
            "/api/v1/imports?then=publish",
            &s.ana_cookie,
            "chain.csv",
            file.as_bytes(),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    started.json()
}

/// `POST /api/v1/tasks/{id}/{control}` as ana, with no body to speak of.
async fn control(s: &TwoSellers, id: i64, control: &str) -> Reply {
    s.app
        .post_json(
            &format!("/api/v1/tasks/{id}/{control}"),
            Some(&s.ana_cookie),
            json!({}),
        )
        .await
}

/// A chain's first step's id and its next's.
fn ids(first: &Value) -> (i64, i64) {
    (
        first["id"].as_i64().unwrap(),
        first["chain"]["next"].as_i64().unwrap(),
    )
}

db_test!(
    a_first_step_with_nothing_to_pass_on_cancels_the_next,
    |db| {
        let s = two_sellers(db).await;
        let none = "sku,title,price\nCHAIN-X1,No price,\nCHAIN-X2,No price either,\n";
        let (id, next) = ids(&chain_of(&s, none).await);
        let first = drain_until_done(&s.app.engine, db, s.ana, id).await;
        assert_eq!(first.status, TaskStatus::Failed);
        let second = backend::tasks::get(db, s.ana, next).await.unwrap();
        assert_eq!(second.status, TaskStatus::Cancelled);
        assert_eq!(second.counts.total, 0);
        assert_eq!(second.duration_seconds(), None, "it never ran");
        let said = backend::notifications::recent(db, s.ana, 50).await.unwrap();
        let note = said
            .iter()
            .find(|n| n.task_id == Some(next))
            .expect("a word about it");
        assert!(note.title.ends_with("not started"), "{}", note.title);
        assert!(note.body.starts_with("Nothing to publish"), "{}", note.body);
    }
);

db_test!(a_step_the_seller_cancelled_stays_cancelled, |db| {
    let s = two_sellers(db).await;
    let (id, next) = ids(&chain_of(&s, FILE).await);
    let cancelled = control(&s, next, "cancel").await;
    assert_eq!(cancelled.json()["status"], "cancelled");
    let first = drain_until_done(&s.app.engine, db, s.ana, id).await;
    assert_eq!(first.counts.succeeded, 4);
    s.app.engine.drain().await.unwrap();
    let second = backend::tasks::get(db, s.ana, next).await.unwrap();
    assert_eq!(second.status, TaskStatus::Cancelled);
    assert_eq!(second.counts.total, 0, "nothing was handed to it");
    assert_eq!(s.sandbox.stats().0.listings, 0);
});

db_test!(
    cancelling_a_retry_of_the_first_step_leaves_a_finished_next_step_alone,
    |db| {
        let s = two_sellers(db).await;
        let (id, next) = ids(&chain_of(&s, FILE).await);
        drain_until_done(&s.app.engine, db, s.ana, id).await;
        let published = drain_until_done(&s.app.engine, db, s.ana, next).await;
        assert_eq!(published.status, TaskStatus::Succeeded);
        // The failed row is tried again, and that run cancelled before it is done.
        let retried = control(&s, id, "retry").await;
        assert_eq!(retried.json()["status"], "running", "{}", retried.body);
        let cancelled = control(&s, id, "cancel").await;
        assert_eq!(cancelled.json()["status"], "cancelled");
        let second = backend::tasks::get(db, s.ana, next).await.unwrap();
        assert_eq!(
            second.status,
            TaskStatus::Succeeded,
            "what it did stays done"
        );
        assert_eq!(second.counts.succeeded, 4);
    }
);

/// An app whose engine reads time from `clock`.
fn app_at(db: &backend::DatabaseConnection, url: &str, clock: Arc<ManualClock>) -> TestApp {
    let registry = server::workers::kinds(db, backend::testing::fast_connector(url));
    let engine = Arc::new(
        backend::tasks::worker::Engine::new(
            db.clone(),
            registry,
            backend::tasks::events::EventBus::new("test", std::time::Duration::ZERO),
            backend::tasks::worker::EngineConfig::new(8),
        )
        .with_time(clock, Arc::new(NoJitter)),
    );
    TestApp::with_engine(db, engine, None, Default::default())
}

db_test!(a_scheduled_task_starts_on_time_and_not_before, |db| {
    let s = two_sellers(db).await;
    backend::testing::make_all_listable(db).await;
    // Whole seconds: PostgreSQL keeps microseconds.
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let clock = Arc::new(ManualClock::new(now));
    let app = app_at(db, &s.url, Arc::clone(&clock));
    let at = now + chrono::Duration::hours(1);
    let ids: Vec<i64> = s.ana_items.iter().copied().take(2).collect();
    let reply = app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": ids, "start_at": at.to_rfc3339() }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let scheduled = reply.json();
    let id = scheduled["id"].as_i64().unwrap();
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(
        scheduled["start_at"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(at)
    );
    // Before its time nothing runs, whatever the workers do.
    clock.advance(chrono::Duration::minutes(59));
    assert_eq!(app.engine.start_due().await.unwrap(), 0);
    app.engine.drain().await.unwrap();
    let still = backend::tasks::get(db, s.ana, id).await.unwrap();
    assert_eq!(still.status, TaskStatus::Scheduled);
    assert_eq!(still.counts.pending, 2);
    let listed = app
        .get("/api/v1/tasks?status=scheduled", Some(&s.ana_cookie))
        .await
        .json();
    assert_eq!(listed["total"], 1);
    assert_eq!(started_notes(db, s.ana, id).await, 0, "not started yet");
    // Its time comes: it starts, once.
    clock.advance(chrono::Duration::minutes(1));
    assert_eq!(app.engine.start_due().await.unwrap(), 1);
    assert_eq!(app.engine.start_due().await.unwrap(), 0);
    assert_eq!(started_notes(db, s.ana, id).await, 1);
    let done = drain_until_done(&app.engine, db, s.ana, id).await;
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.start_at, Some(at));

    // A time already past starts at once.
    let past = app
        .post_json(
            "/api/v1/tasks",
            Some(&s.ana_cookie),
            json!({ "kind": "publish", "item_ids": [s.ana_items[3]],
                    "start_at": (now - chrono::Duration::minutes(5)).to_rfc3339() }),
        )
        .await
        .json();
    assert_eq!(past["status"], "queued", "{past}");

    // "Start now" before its time; again changes nothing; cancel works before the time.
    let later = |n: i64| {
        let app = &app;
        let clock = &clock;
        let cookie = s.ana_cookie.clone();
        let item = s.ana_items[n as usize];
        async move {
            app.post_json(
                "/api/v1/tasks",
                Some(&cookie),
                json!({ "kind": "publish", "item_ids": [item],
                        "start_at": (clock.now_for_test() + chrono::Duration::days(1)).to_rfc3339() }),
            )
            .await
            .json()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let soon = later(6).await;
    let started = app
        .post_json(
            &format!("/api/v1/tasks/{soon}/start-now"),
            Some(&s.ana_cookie),
            json!(null),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let started = started.json();
    assert_eq!(started["status"], "queued");
    let again = app
        .post_json(
            &format!("/api/v1/tasks/{soon}/start-now"),
            Some(&s.ana_cookie),
            json!(null),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.json()["seq"],
        started["seq"],
        "a second “start now” changes nothing"
    );
    assert_eq!(started_notes(db, s.ana, soon).await, 1);
    let dropped = later(7).await;
    let cancelled = app
        .post_json(
            &format!("/api/v1/tasks/{dropped}/cancel"),
            Some(&s.ana_cookie),
            json!(null),
        )
        .await
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["counts"]["cancelled"], 1);
    clock.advance(chrono::Duration::days(2));
    assert_eq!(
        app.engine.start_due().await.unwrap(),
        0,
        "a cancelled task never starts"
    );
    // Another seller cannot start it.
    let other = app
        .post_json(
            &format!("/api/v1/tasks/{dropped}/start-now"),
            Some(&s.bob_cookie),
            json!(null),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
});

db_test!(two_instances_start_a_scheduled_task_once, |db| {
    let s = two_sellers(db).await;
    let now = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(now));
    let one = app_at(db, &s.url, Arc::clone(&clock));
    let two = app_at(db, &s.url, Arc::clone(&clock));
    let mut ids = Vec::new();
    for n in 0..5 {
        let reply = one
            .post_json(
                "/api/v1/tasks",
                Some(&s.ana_cookie),
                json!({ "kind": "publish", "item_ids": [s.ana_items[n]],
                        "start_at": (now + chrono::Duration::minutes(10)).to_rfc3339() }),
            )
            .await;
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    clock.advance(chrono::Duration::minutes(10));
    let (a, b) = tokio::join!(one.engine.start_due(), two.engine.start_due());
    assert_eq!(
        a.unwrap() + b.unwrap(),
        5,
        "each started once, by one of them"
    );
    for id in ids {
        assert_eq!(
            started_notes(db, s.ana, id).await,
            1,
            "task {id} said it started once"
        );
    }
});

/// How many "… started" notifications the seller has for this task.
async fn started_notes(db: &backend::DatabaseConnection, seller: i64, id: i64) -> usize {
    backend::notifications::recent(db, seller, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.task_id == Some(id) && n.title.ends_with("started"))
        .count()
}
