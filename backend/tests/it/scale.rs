//! A million items per seller, in the small: keyset pages agree with offset pages, the
//! kept counts agree with counting, a task made from a filter covers exactly what
//! matched when it was made, and retention deletes only finished work past its age.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::catalog::{self, Cursor, ItemFilter, ItemQuery, Keyset, SortKey};
use backend::db_test;
use backend::domain::ListingState;
use backend::tasks::create::{self, Later, NewTask};
use backend::tasks::expand::{self, Selection};
use backend::tasks::{ItemStatus, Registry, TaskStatus};
use backend::testing::generate;
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

async fn seller(db: &backend::DatabaseConnection, email: &str) -> i64 {
    backend::accounts::create_seller(
        db,
        &backend::domain::Email::parse(email).unwrap(),
        None,
        &backend::domain::Password::parse("correct horse battery").unwrap(),
    )
    .await
    .unwrap()
    .id
}

fn query(sort: SortKey, descending: bool, page: u64, filter: &ItemFilter) -> ItemQuery {
    ItemQuery {
        filter: filter.clone(),
        sort,
        descending,
        page,
        per_page: 7,
        keyset: None,
    }
}

db_test!(keyset_pages_agree_with_offset_pages, |db| {
    let ana = seller(db, "ana@example.com").await;
    let bob = seller(db, "bob@example.com").await;
    generate::items(db, ana, 0, 60, Utc::now()).await.unwrap();
    generate::items(db, bob, 60, 10, Utc::now()).await.unwrap();
    // Ties in every sort (states, prices and quantities repeat; two items share a time).
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE items SET updated_at = (SELECT updated_at FROM items WHERE sku = 'GEN-0000002') \
         WHERE sku = 'GEN-0000003'",
    ))
    .await
    .unwrap();
    for filter in [
        ItemFilter::default(),
        ItemFilter {
            q: Some("mug".into()),
            ..ItemFilter::default()
        },
        ItemFilter {
            state: Some(ListingState::Draft),
            ..ItemFilter::default()
        },
    ] {
        for name in SortKey::NAMES {
            let sort = SortKey::parse(name).unwrap();
            for descending in [false, true] {
                let first = catalog::list(db, ana, &query(sort, descending, 1, &filter))
                    .await
                    .unwrap();
                let pages = first.total.div_ceil(7).max(1);
                let mut offset = Vec::new();
                for page in 1..=pages {
                    offset.push(
                        catalog::list(db, ana, &query(sort, descending, page, &filter))
                            .await
                            .unwrap()
                            .items,
                    );
                }
                // Forwards from page 1, each page after the last row of the one before.
                let mut forwards = vec![offset[0].clone()];
                for page in 2..=pages {
                    let last = forwards.last().unwrap().last().unwrap();
                    let keyset = Keyset::After(Cursor::of(last, sort));
                    forwards.push(
                        catalog::list(
                            db,
                            ana,
                            &ItemQuery {
                                keyset: Some(keyset),
                                ..query(sort, descending, page, &filter)
                            },
                        )
                        .await
                        .unwrap()
                        .items,
                    );
                }
                assert_eq!(
                    forwards, offset,
                    "forwards by {name}, descending {descending}"
                );
                // Backwards from the last page, each before the first row of the one after.
                let mut backwards = vec![offset[offset.len() - 1].clone()];
                for page in (1..pages).rev() {
                    let first = backwards.last().unwrap().first().unwrap();
                    let cursor = Cursor::parse(&Cursor::of(first, sort).encode()).unwrap();
                    backwards.push(
                        catalog::list(
                            db,
                            ana,
                            &ItemQuery {
                                keyset: Some(Keyset::Before(cursor)),
                                ..query(sort, descending, page, &filter)
                            },
                        )
                        .await
                        .unwrap()
                        .items,
                    );
                }
                backwards.reverse();
                assert_eq!(
                    backwards, offset,
                    "backwards by {name}, descending {descending}"
                );
                // Only the seller's own items, ever.
                assert!(offset
                    .iter()
                    .flatten()
                    .all(|item| item.sku.as_str() <= "GEN-0000060"));
            }
        }
    }
});

/// Counts by listing state and "changed since published", counted the slow way.
async fn counted(db: &backend::DatabaseConnection, seller: i64) -> (Vec<(ListingState, u64)>, u64) {
    let mut by_state = Vec::new();
    for state in ListingState::ALL {
        let n = catalog::list(
            db,
            seller,
            &ItemQuery {
                filter: ItemFilter {
                    state: Some(state),
                    // A search that matches everything is counted row by row.
                    q: Some("GEN".into()),
                    ..ItemFilter::default()
                },
                ..ItemQuery::default()
            },
        )
        .await
        .unwrap()
        .total;
        by_state.push((state, n));
    }
    let changed = catalog::list(
        db,
        seller,
        &ItemQuery {
            filter: ItemFilter {
                changed: true,
                q: Some("GEN".into()),
                ..ItemFilter::default()
            },
            ..ItemQuery::default()
        },
    )
    .await
    .unwrap()
    .total;
    (by_state, changed)
}

async fn kept(db: &backend::DatabaseConnection, seller: i64) -> (Vec<(ListingState, u64)>, u64) {
    let counts = catalog::counts(db, seller).await.unwrap();
    (
        ListingState::ALL
            .into_iter()
            .map(|state| (state, counts.of_state(state)))
            .collect(),
        counts.changed,
    )
}

db_test!(kept_counts_follow_every_change, |db| {
    let ana = seller(db, "ana@example.com").await;
    let bob = seller(db, "bob@example.com").await;
    generate::items(db, ana, 0, 200, Utc::now()).await.unwrap();
    generate::items(db, bob, 200, 30, Utc::now()).await.unwrap();
    assert_eq!(kept(db, ana).await, counted(db, ana).await);
    let backend = db.get_database_backend();
    for sql in [
        // A publish, an unpublish, edits of live items, a failed listing, deletes.
        "UPDATE items SET listing_state = 'published', listed_version = version WHERE sku LIKE 'GEN-00000%' AND listing_state = 'draft'",
        "UPDATE items SET listing_state = 'unpublished', listed_version = NULL WHERE sku LIKE 'GEN-000001%'",
        "UPDATE items SET version = version + 1 WHERE sku LIKE 'GEN-00000_3'",
        "UPDATE items SET listed_version = version WHERE sku = 'GEN-0000013'",
        "UPDATE items SET listing_state = 'failed' WHERE sku LIKE 'GEN-000002%'",
        "DELETE FROM items WHERE sku LIKE 'GEN-000003%'",
        "UPDATE items SET title = 'Renamed' WHERE sku LIKE 'GEN-000004%'",
    ] {
        db.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
        assert_eq!(kept(db, ana).await, counted(db, ana).await, "after {sql}");
        assert_eq!(kept(db, bob).await, counted(db, bob).await, "after {sql}");
    }
    catalog::compact_counts(db).await.unwrap();
    assert_eq!(kept(db, ana).await, counted(db, ana).await, "after folding");
    // The page's totals come from them.
    let page = catalog::list(db, ana, &ItemQuery::default()).await.unwrap();
    assert_eq!(
        page.total,
        kept(db, ana).await.0.iter().map(|(_, n)| n).sum::<u64>()
    );
});

fn registry(db: &backend::DatabaseConnection) -> Registry {
    Registry::new().register(backend::listings::Publish::new(
        db.clone(),
        backend::testing::fast_connector("http://127.0.0.1:9"),
    ))
}

async fn task_item_ids(db: &backend::DatabaseConnection, task_id: i64) -> Vec<i64> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT catalog_item_id FROM task_items WHERE task_id = $1 ORDER BY position",
            [task_id.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<i64>("", "catalog_item_id").unwrap())
        .collect()
}

db_test!(
    a_task_from_a_filter_covers_what_matched_when_it_was_made,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        let bob = seller(db, "bob@example.com").await;
        generate::items(db, ana, 0, 2_500, Utc::now())
            .await
            .unwrap();
        generate::items(db, bob, 2_500, 100, Utc::now())
            .await
            .unwrap();
        let registry = registry(db);
        let selection = Selection {
            q: Some("mug".into()),
            state: Some("draft".into()),
            excluded: vec![],
            ..Selection::default()
        };
        let matching = catalog::matching_ids(
            db,
            ana,
            &ItemFilter {
                q: Some("mug".into()),
                state: Some(ListingState::Draft),
                ..ItemFilter::default()
            },
        )
        .await
        .unwrap();
        assert!(matching.len() > 50, "{}", matching.len());
        // Unticked after "select all".
        let excluded = matching[3];
        let expected: Vec<i64> = matching
            .iter()
            .copied()
            .filter(|id| *id != excluded)
            .collect();
        let task = create::create_matching(
            db,
            &registry,
            NewTask {
                seller_id: ana,
                kind: "publish".into(),
                params: json!({ "item_ids": [] }),
                idempotency_key: None,
            },
            Selection {
                excluded: vec![excluded],
                ..selection
            },
            Later::default(),
            Utc::now(),
        )
        .await
        .unwrap()
        .task()
        .clone();
        assert_eq!(task.counts.total, expected.len() as i64);
        assert_eq!(task.counts.pending, expected.len() as i64);
        assert_eq!(task.status, TaskStatus::Queued);
        // Items that match, added after the task was made, are not in it.
        generate::items(db, ana, 5_000, 200, Utc::now())
            .await
            .unwrap();
        // One that did not match, changed so that it does before its chunk: taken in, and
        // the task's total follows.
        let live_mug = catalog::matching_ids(
            db,
            ana,
            &ItemFilter {
                state: Some(ListingState::Published),
                ..ItemFilter::default()
            },
        )
        .await
        .unwrap()[0];
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE items SET listing_state = 'draft', title = 'Renamed mug' WHERE id = $1",
            [live_mug.into()],
        ))
        .await
        .unwrap();
        let mut expected = expected;
        expected.push(live_mug);
        expected.sort_unstable();
        let mut steps = 0;
        while let Some(done) = expand::step(db, &registry, Utc::now()).await.unwrap() {
            steps += 1;
            if done.complete {
                break;
            }
        }
        assert!(steps >= 1);
        assert!(!expand::any(db).await.unwrap());
        assert_eq!(task_item_ids(db, task.id).await, expected);
        let task = backend::tasks::load(db, task.id).await.unwrap();
        assert_eq!(task.counts.total, expected.len() as i64);
        backend::testing::assert_counters_match(db, task.id).await;
    }
);

db_test!(
    a_big_selection_is_added_in_chunks_and_a_cancel_stops_it,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        generate::items(db, ana, 0, 12_000, Utc::now())
            .await
            .unwrap();
        let registry = registry(db);
        let task = create::create_matching(
            db,
            &registry,
            NewTask {
                seller_id: ana,
                kind: "publish".into(),
                params: json!({ "item_ids": [] }),
                idempotency_key: None,
            },
            Selection::default(),
            Later::default(),
            Utc::now(),
        )
        .await
        .unwrap()
        .task()
        .clone();
        assert_eq!(task.counts.total, 12_000);
        // The first chunk is small, so the task starts at once.
        let first = expand::step(db, &registry, Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.added, 1_000);
        assert!(!first.complete);
        let second = expand::step(db, &registry, Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.added, 10_000);
        assert_eq!(task_item_ids(db, task.id).await.len(), 11_000);
        // Cancelled before its last chunk: what it was still to get is cancelled with it.
        backend::tasks::control::cancel(db, ana, task.id, Utc::now())
            .await
            .unwrap();
        while expand::step(db, &registry, Utc::now())
            .await
            .unwrap()
            .is_some()
        {}
        let task = backend::tasks::load(db, task.id).await.unwrap();
        assert_eq!(task.status, TaskStatus::Cancelled);
        assert_eq!(task.counts.total, 12_000);
        assert_eq!(task.counts.cancelled, 12_000);
        assert_eq!(task.counts.pending, 0);
        assert_eq!(task_item_ids(db, task.id).await.len(), 11_000);
    }
);

db_test!(retention_deletes_only_finished_work_past_its_age, |db| {
    let ana = seller(db, "ana@example.com").await;
    generate::items(db, ana, 0, 30, Utc::now()).await.unwrap();
    let ids = catalog::matching_ids(db, ana, &ItemFilter::default())
        .await
        .unwrap();
    let registry = registry(db);
    let now = Utc::now();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(10) {
        let task = create::create(
            db,
            &registry,
            backend::testing::task_over(ana, "publish", chunk),
            now,
        )
        .await
        .unwrap()
        .task()
        .clone();
        tasks.push(task.id);
    }
    let backend = db.get_database_backend();
    // The first ended 40 days ago, the second 10 days ago; the third still runs.
    for (task_id, days) in [(tasks[0], 40), (tasks[1], 10)] {
        let ended = now - Duration::days(days);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE task_items SET status = 'succeeded', finished_at = $1 WHERE task_id = $2",
            [ended.into(), task_id.into()],
        ))
        .await
        .unwrap();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE tasks SET status = 'succeeded', pending = 0, succeeded = 10, finished_at = $1 WHERE id = $2",
            [ended.into(), task_id.into()],
        ))
        .await
        .unwrap();
    }
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "UPDATE tasks SET created_at = $1 WHERE id = $2",
        [(now - Duration::days(60)).into(), tasks[2].into()],
    ))
    .await
    .unwrap();
    for (days, title) in [(45, "old"), (5, "recent")] {
        backend::notifications::insert(
            db,
            ana,
            None,
            backend::notifications::Level::Info,
            title,
            "",
            now - Duration::days(days),
        )
        .await
        .unwrap();
    }
    let before: Vec<_> =
        futures::future::join_all(tasks.iter().map(|id| backend::tasks::load(db, *id)))
            .await
            .into_iter()
            .map(|task| task.unwrap().counts)
            .collect();
    // Batches of 3 rows: the old task's 10 items take four.
    let retired = backend::retention::run_once(db, Duration::days(30), 3, now)
        .await
        .unwrap();
    assert_eq!(retired.task_items, 10);
    assert_eq!(retired.tasks, 1);
    assert!(retired.notifications >= 1);
    assert!(task_item_ids(db, tasks[0]).await.is_empty());
    assert_eq!(task_item_ids(db, tasks[1]).await.len(), 10);
    assert_eq!(task_item_ids(db, tasks[2]).await.len(), 10);
    for (id, counts) in tasks.iter().zip(&before) {
        let task = backend::tasks::load(db, *id).await.unwrap();
        assert_eq!(task.counts, *counts, "task {id} keeps its counts");
        assert_eq!(task.retired_at.is_some(), *id == tasks[0]);
    }
    let titles: Vec<String> = backend::notifications::recent(db, ana, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert!(titles.contains(&"recent".to_owned()));
    assert!(!titles.contains(&"old".to_owned()));
    // Nothing more to do: a second run deletes nothing.
    let again = backend::retention::run_once(db, Duration::days(30), 3, now)
        .await
        .unwrap();
    assert_eq!(again.rows(), 0);
    let _ = ItemStatus::Succeeded;
});
