//! Publishing and unpublishing through the engine against the sandbox marketplace over
//! real HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::catalog::{self, ItemFilter};
use backend::db_test;
use backend::domain::ListingState;
use backend::tasks::claim;
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::TaskStatus;
use common::{drain_until_done as wait, engine};
use sea_orm::EntityTrait;
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;
use std::time::Duration;

async fn sandbox(settings: SandboxSettings) -> (Sandbox, String) {
    Sandbox::serve_local(settings).await.unwrap()
}

async fn seller_with_items(db: &backend::DatabaseConnection, n: usize) -> (i64, Vec<i64>) {
    backend::testing::seller_with_items(db, "shop@example.com", n).await
}

db_test!(
    publishing_lists_valid_items_once_and_fails_the_rest_with_marketplace_codes,
    |db| {
        let (sandbox, url) = sandbox(SandboxSettings::calm()).await;
        let engine = engine(db, &url);
        let (seller, ids) = seller_with_items(db, 100).await;
        let task = engine
            .create_task(NewTask {
                seller_id: seller,
                kind: "publish".into(),
                params: serde_json::json!({ "item_ids": ids }),
                idempotency_key: Some("publish-1".into()),
            })
            .await
            .unwrap()
            .task()
            .clone();
        assert_eq!(task.label, "Publish 100 items");
        let done = wait(&engine, db, seller, task.id).await;
        assert_eq!(done.status, TaskStatus::CompletedWithErrors);

        // The demo data has items without a picture (every 23rd) and with a zero price (97th).
        let failed: Vec<_> = ids
            .iter()
            .filter(|id| **id % 23 == 0 || **id % 97 == 0)
            .collect();
        assert_eq!(
            done.counts.failed as usize,
            failed.len(),
            "{:?}",
            done.counts
        );
        assert_eq!(done.counts.succeeded as usize, 100 - failed.len());
        let (stats, _) = sandbox.stats();
        assert_eq!(
            (stats.listings, stats.create_requests),
            (done.counts.succeeded as u64, 100)
        );

        // Item 23 was live (the demo says so): a refused update leaves its listing up, so
        // it stays published, with the reason. Item 97 was a draft: its publish failed.
        let missing_image = catalog::get(db, seller, 23).await.unwrap();
        assert_eq!(missing_image.listing_state, ListingState::Published);
        assert!(missing_image
            .last_listing_error
            .unwrap()
            .starts_with("image_missing"));
        let zero_price = catalog::get(db, seller, 97).await.unwrap();
        assert_eq!(zero_price.listing_state, ListingState::Failed);
        let published = catalog::get(db, seller, 1).await.unwrap();
        assert_eq!(
            (published.listing_state, published.listing_id.as_deref()),
            (
                ListingState::Published,
                Some(format!("MKT-seller-{seller}-SR-0001").as_str())
            )
        );

        // Unpublish what was published.
        let listed = catalog::matching_ids(
            db,
            seller,
            &ItemFilter {
                q: None,
                state: Some(ListingState::Published),
                in_task: false,
                changed: false,
            },
        )
        .await
        .unwrap();
        let task = backend::testing::start_task(&engine, seller, "unpublish", &listed).await;
        let done = wait(&engine, db, seller, task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert_eq!(sandbox.stats().0.listings, 0);
        assert_eq!(
            catalog::get(db, seller, 1).await.unwrap().listing_state,
            ListingState::Unpublished
        );
    }
);

db_test!(a_retry_after_a_crash_never_lists_twice, |db| {
    let (sandbox, url) = sandbox(SandboxSettings::calm()).await;
    let engine = engine(db, &url);
    let (seller, ids) = seller_with_items(db, 5).await;
    let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
    // A worker claims everything, calls the marketplace, and dies before storing anything.
    // (Its lease is already over: it is as good as dead from the start.)
    let doomed = claim::claim(
        db,
        engine.registry(),
        "doomed",
        5,
        chrono::Duration::seconds(-1),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let kind = engine.registry().get("publish").unwrap();
    for item in &doomed.items {
        let context = backend::tasks::ItemContext {
            task_id: item.task_id,
            item_id: item.item_id,
            seller_id: item.seller_id,
            position: item.position,
            attempt: item.attempt,
            subject: item.subject.clone(),
            params: item.params.clone(),
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        kind.process(context).await;
    }
    assert_eq!(sandbox.stats().0.listings, 5);
    // Its leases expire; the rescuer hands the items to a live worker, which redoes them.
    assert_eq!(
        backend::tasks::rescue::rescue_expired(db, chrono::Utc::now())
            .await
            .unwrap()
            .len(),
        1
    );
    let done = wait(&engine, db, seller, task.id).await;
    assert_eq!(done.status, TaskStatus::Succeeded);
    let (stats, _) = sandbox.stats();
    assert_eq!(
        (
            stats.listings,
            stats.create_requests,
            stats.idempotent_replays
        ),
        (5, 5, 5),
        "the second attempts were answered from the idempotency keys"
    );
});

db_test!(rate_limits_and_outages_are_retried_until_done, |db| {
    let (sandbox, url) = sandbox(SandboxSettings {
        rate_limit: 20,
        burst: 2,
        transient_error_rate: 0.2,
        seed: 7,
        ..SandboxSettings::calm()
    })
    .await;
    let engine = engine(db, &url);
    let (seller, ids) = seller_with_items(db, 12).await;
    let valid: Vec<i64> = ids
        .into_iter()
        .filter(|id| id % 23 != 0 && id % 97 != 0)
        .collect();
    let task = backend::testing::start_task(&engine, seller, "publish", &valid).await;
    let done = wait_retrying(&engine, db, seller, task.id).await;
    if done.status != TaskStatus::Succeeded {
        let items = backend::entities::task_item::Entity::find()
            .all(db)
            .await
            .unwrap();
        let failed: Vec<_> = items
            .iter()
            .filter(|i| i.status == "failed")
            .map(|i| (i.attempts, i.error_code.clone(), i.error_message.clone()))
            .collect();
        panic!("{:?}: {failed:?}", done.counts);
    }
    let (stats, _) = sandbox.stats();
    assert_eq!(stats.listings, 12);
    assert!(
        stats.rate_limited > 0,
        "the burst of 2 was exceeded and answered with 429"
    );
});

/// Runs the engine's own loop, so backoffs come due in real time.
async fn wait_retrying(
    engine: &Arc<Engine>,
    db: &backend::DatabaseConnection,
    seller: i64,
    task_id: i64,
) -> backend::tasks::Task {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(engine).run(shutdown.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let task = loop {
        let task = backend::tasks::get(db, seller, task_id).await.unwrap();
        if task.status.is_terminal() {
            break task;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not done: {:?}",
            task.counts
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shutdown.cancel();
    runner.await.unwrap();
    task
}

/// The sandbox behind a front that lets the first `drops` listing calls through to the
/// marketplace and then breaks the connection while answering: the listing exists, but
/// we never hear so.
async fn sandbox_dropping_answers(drops: usize) -> (Sandbox, String) {
    use axum::body::Body;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let inner = axum::Router::new().nest(server::sandbox::MOUNT, sandbox.router());
    let dropped = Arc::new(AtomicUsize::new(0));
    let front = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let inner = inner.clone();
        let dropped = Arc::clone(&dropped);
        async move {
            let is_put = request.method() == http::Method::PUT;
            let response = inner.oneshot(request).await.unwrap();
            if is_put && dropped.fetch_add(1, Ordering::SeqCst) < drops {
                let broken = futures::stream::once(async {
                    Err::<axum::body::Bytes, _>(std::io::Error::other("connection dropped"))
                });
                return axum::response::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Body::from_stream(broken))
                    .unwrap();
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, front).await.unwrap() });
    (sandbox, format!("http://{addr}{}", server::sandbox::MOUNT))
}

db_test!(
    an_answer_lost_after_the_listing_was_made_is_retried_without_a_duplicate,
    |db| {
        let (sandbox, url) = sandbox_dropping_answers(3).await;
        let engine = engine(db, &url);
        let (seller, ids) = seller_with_items(db, 3).await;
        let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
        let done = wait_retrying(&engine, db, seller, task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded, "{:?}", done.counts);
        let (stats, _) = sandbox.stats();
        assert_eq!(
            (
                stats.listings,
                stats.create_requests,
                stats.idempotent_replays
            ),
            (3, 3, 3),
            "each item listed once; the retries were answered from the keys"
        );
        for id in ids {
            let item = catalog::get(db, seller, id).await.unwrap();
            assert_eq!(item.listing_state, ListingState::Published);
            assert!(item.listing_id.is_some());
        }
    }
);

db_test!(
    an_item_fixed_after_a_refusal_is_published_by_a_retry,
    |db| {
        let (sandbox, url) = sandbox(SandboxSettings::calm()).await;
        let engine = engine(db, &url);
        let (seller, _) = seller_with_items(db, 30).await;
        // The demo's 23rd item has no picture: the marketplace refuses it.
        let task = backend::testing::start_task(&engine, seller, "publish", &[23]).await;
        let done = wait(&engine, db, seller, task.id).await;
        assert_eq!((done.status, done.counts.failed), (TaskStatus::Failed, 1));

        // The seller adds a picture and retries: the request is new, so it is not answered
        // with the replay of the refusal.
        let item = catalog::get(db, seller, 23).await.unwrap();
        let raw = backend::catalog::RawItem {
            sku: item.sku.clone(),
            title: item.title.clone(),
            description: item.description.clone(),
            price: item.price_decimal(),
            currency: item.currency.clone(),
            quantity: item.quantity.to_string(),
            image_url: "/media/demo/1.svg".into(),
            category: item.category.clone().unwrap_or_default(),
        };
        let fields = backend::catalog::ItemFields::parse(&raw).unwrap();
        catalog::update(db, seller, 23, item.version, fields, chrono::Utc::now())
            .await
            .unwrap();
        engine
            .retry(
                seller,
                task.id,
                backend::tasks::control::Selection::AllFailed,
            )
            .await
            .unwrap();
        let done = wait(&engine, db, seller, task.id).await;
        assert_eq!(
            (done.status, done.counts.succeeded),
            (TaskStatus::Succeeded, 1)
        );
        assert_eq!(sandbox.stats().0.listings, 1);
        assert_eq!(
            catalog::get(db, seller, 23).await.unwrap().listing_state,
            ListingState::Published
        );
    }
);

db_test!(calls_that_hang_are_hedged_and_the_pace_holds, |db| {
    // One call in twenty hangs (the sandbox holds it for a minute, before or after acting
    // on it) and one in twenty answers 503. Without hedging, each hang would hold its
    // item for the client's 30 s timeout; with it, the task ends close to its ideal time
    // of 100 ÷ 25/s = 4 s.
    let (sandbox, url) = sandbox(SandboxSettings {
        rate_limit: 25,
        burst: 25,
        latency_ms: (20, 60),
        transient_error_rate: 0.1,
        seed: 11,
    })
    .await;
    let pacer = backend::pacing::Pacer::in_memory(backend::pacing::Pace {
        per_second: 25,
        burst: 1,
    });
    let connector = Arc::new(
        backend::marketplace::Connector::new(&url, Arc::new(pacer), Duration::from_secs(30))
            .unwrap(),
    );
    let engine = Arc::new(Engine::new(
        db.clone(),
        server::workers::kinds(db, Arc::clone(&connector)),
        EventBus::new("test", Duration::ZERO),
        EngineConfig::new(32),
    ));
    let (seller, ids) = seller_with_items(db, 100).await;
    backend::testing::make_all_listable(db).await;
    let started = std::time::Instant::now();
    let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
    let estimate = task.estimate.expect("an estimate made at creation");
    assert_eq!((estimate.items, estimate.calls), (100, 100));
    let done = wait_retrying(&engine, db, seller, task.id).await;
    let took = started.elapsed();
    assert_eq!(done.status, TaskStatus::Succeeded, "{:?}", done.counts);
    assert!(
        took < Duration::from_secs(15),
        "hung calls held the task for {took:?}"
    );
    let (stats, _) = sandbox.stats();
    // Exactly once (a try acted on before it hung is answered to its hedge from the
    // key), and our pace kept the marketplace from refusing any call.
    assert_eq!(stats.listings, 100);
    assert_eq!(stats.create_requests, 100, "{stats:?}");
    assert_eq!(stats.rate_limited, 0);
    assert!(connector.stats().hedged() >= 1, "no call was hedged");
    // The slow calls were seen as such.
    let observed = connector
        .stats()
        .observed(&backend::listings::account(seller))
        .unwrap();
    assert!(observed.failure_rate > 0.0, "{observed:?}");
    assert!(observed.p95 < 0.2, "{observed:?}");
    // The finished task says how long it took beside what it was told.
    let took_stored = done.duration_seconds().unwrap();
    assert!(took_stored > 0.0 && took_stored < 15.0, "{took_stored}");
});
