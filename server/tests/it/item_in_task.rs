//! The item knows its task, on SQLite and PostgreSQL: the catalog finds the items a task
//! has still to act on (and only the seller's own), the item page finds the item's task
//! until a while after it ended, and an edit saved while the item's listing is on its way
//! is the one the marketplace ends up with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::catalog::{self, ItemFields, ItemFilter, ItemQuery, RawItem};
use backend::db_test;
use backend::domain::ListingState;
use backend::tasks::in_task;
use backend::tasks::{ItemStatus, TaskStatus};
use chrono::{Duration, Utc};
use common::{drain_until_done, engine, sandbox_on_a_port};
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;

fn in_task_filter() -> ItemFilter {
    ItemFilter {
        in_task: true,
        changed: false,
        ..ItemFilter::default()
    }
}

db_test!(
    the_catalog_and_the_item_page_find_the_items_a_task_has_to_act_on,
    |db| {
        let (_sandbox, url) = sandbox_on_a_port().await;
        let engine = engine(db, &url);
        let (seller, ids) = backend::testing::seller_with_items(db, "ana@example.com", 5).await;
        let (other, other_ids) = backend::testing::seller_with_items(db, "bo@example.com", 2).await;
        let other_task = backend::testing::start_task(&engine, other, "publish", &other_ids).await;
        let task = backend::testing::start_task(&engine, seller, "publish", &ids[..3]).await;

        // Queued, nothing run yet: the three items are ahead of their task.
        let ahead = in_task::ahead(db, seller, &ids).await.unwrap();
        let mut found: Vec<i64> = ahead.keys().copied().collect();
        found.sort_unstable();
        assert_eq!(found, ids[..3]);
        let first = &ahead[&ids[0]];
        assert_eq!(
            (
                first.task_id,
                first.label.as_str(),
                first.status,
                first.task_status
            ),
            (
                task.id,
                "Publish 3 items",
                ItemStatus::Pending,
                TaskStatus::Queued
            )
        );
        assert_eq!(
            catalog::count(db, seller, &in_task_filter()).await.unwrap(),
            3
        );
        let page = catalog::list(
            db,
            seller,
            &ItemQuery {
                filter: in_task_filter(),
                ..ItemQuery::default()
            },
        )
        .await
        .unwrap();
        let mut listed: Vec<i64> = page.items.iter().map(|i| i.id).collect();
        listed.sort_unstable();
        assert_eq!(listed, ids[..3]);

        // Another seller's task and items are never found from this seller's side.
        assert!(in_task::ahead(db, seller, &other_ids)
            .await
            .unwrap()
            .is_empty());
        assert!(in_task::ahead(db, other, &ids).await.unwrap().is_empty());
        assert_eq!(
            catalog::count(db, other, &in_task_filter()).await.unwrap(),
            2
        );
        let theirs = in_task::ahead(db, other, &other_ids).await.unwrap();
        assert_eq!(theirs.len(), 2);
        assert!(theirs.values().all(|t| t.task_id == other_task.id));

        // Once done, nothing is ahead; the item page still shows the task for a while.
        let done = drain_until_done(&engine, db, seller, task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert!(in_task::ahead(db, seller, &ids).await.unwrap().is_empty());
        assert_eq!(
            catalog::count(db, seller, &in_task_filter()).await.unwrap(),
            0
        );
        let now = Utc::now();
        let latest = in_task::latest(db, seller, ids[0], now)
            .await
            .unwrap()
            .expect("the task that just published it");
        assert_eq!(
            (latest.task_id, latest.status, latest.task_status),
            (task.id, ItemStatus::Succeeded, TaskStatus::Succeeded)
        );
        assert!(latest.finished_at.is_some());
        let later = now + in_task::RECENT + Duration::seconds(5);
        assert_eq!(
            in_task::latest(db, seller, ids[0], later).await.unwrap(),
            None
        );
        // An item no task touched has none.
        assert_eq!(
            in_task::latest(db, seller, ids[4], now).await.unwrap(),
            None
        );
    }
);

/// The sandbox behind a front that holds the first listing call until released, so the
/// test can save an edit while that call is on its way.
async fn sandbox_holding_the_first_call() -> (
    Sandbox,
    String,
    Arc<tokio::sync::Notify>,
    Arc<tokio::sync::Notify>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Notify;
    use tower::ServiceExt;
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let inner = axum::Router::new().nest(server::sandbox::MOUNT, sandbox.router());
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let held = Arc::new(AtomicBool::new(false));
    let front = {
        let (arrived, release) = (Arc::clone(&arrived), Arc::clone(&release));
        axum::Router::new().fallback(move |request: axum::extract::Request| {
            let inner = inner.clone();
            let (arrived, release, held) = (
                Arc::clone(&arrived),
                Arc::clone(&release),
                Arc::clone(&held),
            );
            async move {
                let first_put =
                    request.method() == http::Method::PUT && !held.swap(true, Ordering::SeqCst);
                if first_put {
                    arrived.notify_one();
                    release.notified().await;
                }
                inner.oneshot(request).await.unwrap()
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, front).await.unwrap() });
    let url = format!("http://{addr}{}", server::sandbox::MOUNT);
    (sandbox, url, arrived, release)
}

db_test!(
    an_edit_saved_while_the_listing_is_on_its_way_is_the_one_listed,
    |db| {
        let (sandbox, url, arrived, release) = sandbox_holding_the_first_call().await;
        let engine = engine(db, &url);
        let (seller, ids) = backend::testing::seller_with_items(db, "ana@example.com", 1).await;
        let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
        let running = {
            let (engine, db) = (Arc::clone(&engine), db.clone());
            tokio::spawn(async move { drain_until_done(&engine, &db, seller, task.id).await })
        };

        // The old title is on its way; the seller saves a new one meanwhile.
        arrived.notified().await;
        let item = catalog::get(db, seller, ids[0]).await.unwrap();
        let edited = RawItem {
            sku: item.sku.clone(),
            title: "Blue mug, new title".into(),
            description: item.description.clone(),
            price: item.price_decimal(),
            currency: item.currency.clone(),
            quantity: item.quantity.to_string(),
            image_url: item.image_url.clone().unwrap_or_default(),
            category: item.category.clone().unwrap_or_default(),
        };
        let fields = ItemFields::parse(&edited).unwrap();
        let saved = catalog::update(db, seller, item.id, item.version, fields, Utc::now())
            .await
            .unwrap();
        release.notify_one();

        let done = running.await.unwrap();
        assert_eq!(done.status, TaskStatus::Succeeded, "{:?}", done.counts);
        let account = backend::listings::account(seller);
        let listed = sandbox.listing(&account, &item.sku).expect("listed");
        assert_eq!(listed.listing.title, "Blue mug, new title");
        let (stats, _) = sandbox.stats();
        assert_eq!(
            (stats.listings, stats.create_requests),
            (1, 2),
            "sent once with the old title and once with the new"
        );
        // Recording the listing moved neither the seller's version nor their edit.
        let after = catalog::get(db, seller, item.id).await.unwrap();
        assert_eq!(after.listing_state, ListingState::Published);
        assert_eq!(after.version, saved.version);
        assert_eq!(after.title, "Blue mug, new title");
    }
);
