//! The task engine on SQLite and PostgreSQL: creation, claims, outcomes and backoff,
//! leases and rescue, controls, fairness, cancellation and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;
use backend::domain::{Email, Password};
use backend::entities::task_item;
use backend::tasks::claim;
use backend::tasks::clock::{ManualClock, NoJitter};
use backend::tasks::complete::{self, Completion};
use backend::tasks::control::Selection;
use backend::tasks::create::{Created, NewTask};
use backend::tasks::events::EventBus;
use backend::tasks::query;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::{self, ItemStatus, Outcome, Registry, RetryPolicy, TaskError, TaskStatus};
use backend::testing::assert_counters_match;
use backend::testing::scripted::{params, params_each, Scripted};
use backend::DatabaseConnection;
use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::seconds(10),
        max_delay: Duration::minutes(10),
        jitter_ratio: 0.5,
    }
}

struct Harness {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    kind: Scripted,
    engine: Arc<Engine>,
}

impl Harness {
    fn new(db: &DatabaseConnection, slots: usize) -> Self {
        let clock = Arc::new(ManualClock::new(t0()));
        let kind = Scripted::new(policy());
        let engine = Arc::new(
            Engine::new(
                db.clone(),
                Registry::new().register(kind.clone()),
                EventBus::new("test", std::time::Duration::ZERO),
                EngineConfig::new(slots),
            )
            .with_time(clock.clone(), Arc::new(NoJitter)),
        );
        Self {
            db: db.clone(),
            clock,
            kind,
            engine,
        }
    }

    async fn task(&self, seller_id: i64, params: Value) -> tasks::Task {
        let new = NewTask {
            seller_id,
            kind: "scripted".into(),
            params,
            idempotency_key: None,
        };
        self.engine.create_task(new).await.unwrap().task().clone()
    }

    async fn reload(&self, task_id: i64) -> tasks::Task {
        tasks::load(&self.db, task_id).await.unwrap()
    }

    async fn items(&self, task_id: i64) -> Vec<task_item::Model> {
        task_item::Entity::find()
            .filter(task_item::Column::TaskId.eq(task_id))
            .order_by_asc(task_item::Column::Position)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Another worker claims `n` items now, with a 10 s lease.
    async fn claim_as(&self, worker: &str, n: usize) -> claim::ClaimBatch {
        claim::claim(
            &self.db,
            self.engine.registry(),
            worker,
            n,
            Duration::seconds(10),
            self.clock.now_for_test(),
        )
        .await
        .unwrap()
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }
}

async fn seller(db: &DatabaseConnection, email: &str) -> i64 {
    backend::accounts::create_seller(
        db,
        &Email::parse(email).unwrap(),
        None,
        &Password::parse("correct horse battery").unwrap(),
    )
    .await
    .unwrap()
    .id
}

db_test!(
    creating_a_task_stores_all_items_atomically_and_idempotently,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let new = |key: &str| NewTask {
            seller_id: ana,
            kind: "scripted".into(),
            params: params(10_000, &["ok"]),
            idempotency_key: Some(key.into()),
        };

        let first = h.engine.create_task(new("import-1")).await.unwrap();
        let Created::New(task) = first else {
            panic!("expected a new task")
        };
        assert_eq!(
            (task.status, task.counts.total, task.counts.pending),
            (TaskStatus::Queued, 10_000, 10_000)
        );
        assert_eq!(task.label, "Run 10000 items");
        assert_counters_match(db, task.id).await;

        let again = h.engine.create_task(new("import-1")).await.unwrap();
        assert_eq!(again, Created::Existing(task.clone()));
        let other = h.engine.create_task(new("import-2")).await.unwrap();
        assert_ne!(other.task().id, task.id);

        // The same key from another seller is another task.
        let bob = seller(db, "bob@example.com").await;
        let bobs = h
            .engine
            .create_task(NewTask {
                seller_id: bob,
                ..new("import-1")
            })
            .await
            .unwrap();
        assert!(matches!(bobs, Created::New(_)));
    }
);

db_test!(
    bad_task_requests_are_refused_before_anything_is_stored,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let unknown = h
            .engine
            .create_task(NewTask {
                seller_id: ana,
                kind: "teleport".into(),
                params: params(1, &["ok"]),
                idempotency_key: None,
            })
            .await;
        assert!(matches!(unknown, Err(TaskError::UnknownKind(kind)) if kind == "teleport"));
        let invalid = h
            .engine
            .create_task(NewTask {
                seller_id: ana,
                kind: "scripted".into(),
                params: serde_json::json!({}),
                idempotency_key: None,
            })
            .await;
        assert!(
            matches!(invalid, Err(TaskError::InvalidParams(p)) if p.field == "params.items" && p.message == "missing field `items`")
        );
        let empty = h
            .engine
            .create_task(NewTask {
                seller_id: ana,
                kind: "scripted".into(),
                params: params(0, &["ok"]),
                idempotency_key: None,
            })
            .await;
        assert!(matches!(empty, Err(TaskError::Empty)));
        assert_eq!(
            backend::entities::task::Entity::find()
                .all(db)
                .await
                .unwrap()
                .len(),
            0
        );
    }
);

db_test!(creation_joins_the_callers_transaction, |db| {
    use sea_orm::TransactionTrait;
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let txn = db.begin().await.unwrap();
    let new = NewTask {
        seller_id: ana,
        kind: "scripted".into(),
        params: params(3, &["ok"]),
        idempotency_key: None,
    };
    backend::tasks::create::create(&txn, h.engine.registry(), new, t0())
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert!(
        backend::entities::task::Entity::find()
            .all(db)
            .await
            .unwrap()
            .is_empty(),
        "rolled back with the caller"
    );
    assert!(task_item::Entity::find().all(db).await.unwrap().is_empty());
});

db_test!(
    items_succeed_and_the_task_settles_with_a_notification,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(10, &["ok"])).await;
        let mut events = h.engine.bus().subscribe();

        assert_eq!(
            h.engine.run_once().await.unwrap(),
            4,
            "never more than the free slots"
        );
        assert_counters_match(db, task.id).await;
        h.engine.drain().await.unwrap();

        let done = h.reload(task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert_eq!(done.counts.succeeded, 10);
        assert_eq!(done.started_at, Some(t0()));
        assert_eq!(done.finished_at, Some(t0()));
        assert!(done.throughput.is_some());
        assert_counters_match(db, task.id).await;
        assert!(h
            .items(task.id)
            .await
            .iter()
            .all(|i| i.attempts == 1 && i.result.is_some() && i.lease_owner.is_none()));

        // One notification per task: its ending replaced its start, and is unread.
        let notes = backend::notifications::recent(db, ana, 10).await.unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            (notes[0].level.as_str(), notes[0].task_id),
            ("success", Some(task.id))
        );
        // In the kind's words, the same the toast uses, the task named by its number.
        assert_eq!(
            (notes[0].title.as_str(), notes[0].body.as_str()),
            (
                format!("#{} Run 10 items done", task.id).as_str(),
                "All 10 items done."
            )
        );
        assert!(notes[0].read_at.is_none());
        assert_eq!(
            backend::notifications::unread_count(db, ana).await.unwrap(),
            1
        );

        let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert_eq!(seen.first().map(|e| e.status), Some(TaskStatus::Running));
        assert_eq!(
            seen.last().map(|e| (e.status, e.counts.succeeded)),
            Some((TaskStatus::Succeeded, 10))
        );
    }
);

db_test!(
    transient_errors_back_off_exponentially_at_exact_times,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(1, &["retry", "retry", "ok"])).await;

        h.engine.run_once().await.unwrap();
        let item = &h.items(task.id).await[0];
        assert_eq!((item.status.as_str(), item.attempts), ("pending", 1));
        assert_eq!(item.next_attempt_at, t0() + Duration::seconds(10));
        assert_eq!(item.error_code.as_deref(), Some("upstream_timeout"));

        h.advance(9);
        assert_eq!(
            h.engine.run_once().await.unwrap(),
            0,
            "not due before its time"
        );
        h.advance(1);
        assert_eq!(h.engine.run_once().await.unwrap(), 1);
        let item = &h.items(task.id).await[0];
        assert_eq!(
            item.next_attempt_at,
            t0() + Duration::seconds(10 + 20),
            "doubled"
        );

        h.advance(20);
        h.engine.run_once().await.unwrap();
        let item = &h.items(task.id).await[0];
        assert_eq!((item.status.as_str(), item.attempts), ("succeeded", 3));
        assert_eq!(item.error_code, None);
        assert_eq!(h.reload(task.id).await.status, TaskStatus::Succeeded);
    }
);

db_test!(retry_after_from_the_handler_is_obeyed, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(1, &["retry_after:45", "ok"])).await;
    h.engine.run_once().await.unwrap();
    assert_eq!(
        h.items(task.id).await[0].next_attempt_at,
        t0() + Duration::seconds(45)
    );
});

db_test!(a_snooze_waits_as_told_without_spending_an_attempt, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h
        .task(
            ana,
            params(
                1,
                &["snooze:30", "snooze:30", "snooze:30", "snooze:30", "ok"],
            ),
        )
        .await;
    for round in 0..4 {
        assert_eq!(h.engine.run_once().await.unwrap(), 1, "round {round}");
        let item = &h.items(task.id).await[0];
        assert_eq!(
            (
                item.status.as_str(),
                item.attempts,
                item.error_code.as_deref()
            ),
            ("pending", 0, Some("rate_limited"))
        );
        assert_eq!(
            item.next_attempt_at,
            h.clock.now_for_test() + Duration::seconds(30)
        );
        // The task says it waits for quota, and until when.
        assert_eq!(
            h.reload(task.id).await.waiting_until,
            Some(item.next_attempt_at)
        );
        h.advance(30);
    }
    h.engine.run_once().await.unwrap();
    assert_eq!(
        h.reload(task.id).await.waiting_until,
        None,
        "the wait is over"
    );
    let item = &h.items(task.id).await[0];
    assert_eq!(
        (item.status.as_str(), item.attempts),
        ("succeeded", 1),
        "more snoozes than max attempts, yet it succeeded"
    );
});

db_test!(
    an_item_the_marketplace_accepted_waits_is_counted_and_ends_the_task_when_resolved,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h
            .task(
                ana,
                params_each(&[
                    &[
                        "accepted:20",
                        "accepted:20",
                        "accepted:20",
                        "accepted:20",
                        "ok",
                    ],
                    &["ok"],
                ]),
            )
            .await;
        h.engine.run_once().await.unwrap();
        let items = h.items(task.id).await;
        assert_eq!(
            (items[0].status.as_str(), items[0].attempts),
            ("waiting", 0),
            "accepted: waiting, no attempt spent"
        );
        assert_eq!(items[0].next_attempt_at, t0() + Duration::seconds(20));
        assert_eq!(items[0].result.as_deref(), Some(r#"{"submission":1}"#));
        let now = h.reload(task.id).await;
        assert_eq!((now.counts.waiting, now.counts.succeeded), (1, 1));
        assert_eq!(now.status, TaskStatus::Running, "not over while one waits");
        assert_counters_match(db, task.id).await;
        assert_eq!(
            h.engine.run_once().await.unwrap(),
            0,
            "not checked before its time"
        );
        // More checks than attempts allowed: checks are not attempts.
        for _ in 0..4 {
            h.advance(20);
            assert_eq!(h.engine.run_once().await.unwrap(), 1);
            assert_counters_match(db, task.id).await;
        }
        let items = h.items(task.id).await;
        assert_eq!(
            (items[0].status.as_str(), items[0].attempts),
            ("succeeded", 1)
        );
        let done = h.reload(task.id).await;
        assert_eq!(
            (done.status, done.counts.waiting),
            (TaskStatus::Succeeded, 0)
        );
    }
);

db_test!(
    cancelling_stops_following_what_the_marketplace_accepted,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(3, &["accepted:60"])).await;
        h.engine.run_once().await.unwrap();
        assert_eq!(h.reload(task.id).await.counts.waiting, 3);
        h.engine.cancel(ana, task.id).await.unwrap();
        let cancelled = h.reload(task.id).await;
        assert_eq!(
            (
                cancelled.status,
                cancelled.counts.waiting,
                cancelled.counts.cancelled
            ),
            (TaskStatus::Cancelled, 0, 3)
        );
        assert_counters_match(db, task.id).await;
    }
);

db_test!(error_fails_item_after_too_many_attempts, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(1, &["retry"])).await;
    for _ in 0..3 {
        h.engine.run_once().await.unwrap();
        h.advance(600);
    }
    let item = &h.items(task.id).await[0];
    assert_eq!((item.status.as_str(), item.attempts), ("failed", 3));
    assert_eq!(item.error_code.as_deref(), Some("upstream_timeout"));
    let done = h.reload(task.id).await;
    assert_eq!(done.status, TaskStatus::Failed, "every item failed");
    assert_eq!(h.engine.run_once().await.unwrap(), 0);
    let notes = backend::notifications::recent(db, ana, 10).await.unwrap();
    assert_eq!(notes[0].level, "error");
});

db_test!(
    permanent_failures_fail_at_once_and_mixed_results_complete_with_errors,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h
            .task(ana, params_each(&[&["ok"], &["fail"], &["ok"]]))
            .await;
        h.engine.drain().await.unwrap();
        let items = h.items(task.id).await;
        assert_eq!((items[1].status.as_str(), items[1].attempts), ("failed", 1));
        assert_eq!(items[1].error_code.as_deref(), Some("invalid_price"));
        assert_eq!(
            items[1].error_message.as_deref(),
            Some("Price must be positive.")
        );
        let done = h.reload(task.id).await;
        assert_eq!(done.status, TaskStatus::CompletedWithErrors);
        assert_eq!((done.counts.succeeded, done.counts.failed), (2, 1));
        assert_counters_match(db, task.id).await;
    }
);

db_test!(a_panicking_handler_fails_the_attempt_not_the_worker, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params_each(&[&["panic", "ok"], &["ok"]])).await;
    h.engine.run_once().await.unwrap();
    let items = h.items(task.id).await;
    assert_eq!(
        (items[0].status.as_str(), items[0].error_code.as_deref()),
        ("pending", Some("handler_panicked"))
    );
    assert_eq!(items[1].status, "succeeded");
    h.advance(10);
    h.engine.drain().await.unwrap();
    assert_eq!(h.reload(task.id).await.status, TaskStatus::Succeeded);
});

db_test!(
    expired_leases_are_rescued_and_a_zombie_cannot_overwrite_the_new_owner,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(1, &["ok"])).await;

        // A worker claims the item, then freezes past its lease.
        let zombie = h.claim_as("zombie", 1).await;
        let claimed = zombie.items[0].clone();
        assert_eq!(claimed.attempt, 1);
        h.advance(5);
        assert_eq!(
            h.engine.rescue_once().await.unwrap(),
            0,
            "lease still valid"
        );
        h.advance(6);
        assert_eq!(h.engine.rescue_once().await.unwrap(), 1);
        let item = &h.items(task.id).await[0];
        assert_eq!(
            (
                item.status.as_str(),
                item.attempts,
                item.lease_owner.as_deref()
            ),
            ("pending", 1, None)
        );
        assert_counters_match(db, task.id).await;

        // Another worker takes it over and finishes it.
        h.engine.run_once().await.unwrap();
        assert_eq!(
            h.kind.executions(claimed.item_id),
            1,
            "the zombie never ran it here"
        );
        let item = &h.items(task.id).await[0];
        assert_eq!((item.status.as_str(), item.attempts), ("succeeded", 2));
        let winner = item.result.clone();

        // The zombie wakes up and reports: nothing changes.
        let late = complete::complete(
            db,
            "zombie",
            task.id,
            claimed.item_id,
            1,
            Outcome::failed("late", "too late"),
            &policy(),
            &NoJitter,
            h.clock.now_for_test(),
        )
        .await
        .unwrap();
        assert_eq!(late, Completion::LeaseLost);
        let item = &h.items(task.id).await[0];
        assert_eq!(
            (item.status.as_str(), item.result.clone()),
            ("succeeded", winner)
        );
        assert_eq!(h.reload(task.id).await.status, TaskStatus::Succeeded);
        assert_counters_match(db, task.id).await;
    }
);

db_test!(an_item_out_of_attempts_fails_when_its_lease_expires, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(1, &["ok"])).await;
    for round in 1..=3 {
        h.claim_as(&format!("crashy-{round}"), 1).await;
        h.advance(11);
        h.engine.rescue_once().await.unwrap();
    }
    let item = &h.items(task.id).await[0];
    assert_eq!(
        (
            item.status.as_str(),
            item.attempts,
            item.error_code.as_deref()
        ),
        ("failed", 3, Some("lease_expired"))
    );
    assert_eq!(h.reload(task.id).await.status, TaskStatus::Failed);
});

db_test!(heartbeat_keeps_a_lease_alive, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(2, &["ok"])).await;
    let held: Vec<i64> = h
        .claim_as("steady", 2)
        .await
        .items
        .iter()
        .map(|i| i.item_id)
        .collect();
    for _ in 0..5 {
        h.advance(8);
        assert_eq!(
            claim::heartbeat(
                db,
                "steady",
                &held,
                Duration::seconds(10),
                h.clock.now_for_test()
            )
            .await
            .unwrap(),
            2
        );
        assert_eq!(h.engine.rescue_once().await.unwrap(), 0);
    }
    assert!(h.items(task.id).await.iter().all(|i| i.status == "running"));
});

// A worker that lost an outcome (the database refused to store it) no longer has the
// item in hand: its heartbeat must not keep the item's lease alive, or the item would
// stay `running` for as long as the worker lives.
db_test!(heartbeat_renews_only_the_items_in_hand, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(2, &["ok"])).await;
    let claimed = h.claim_as("steady", 2).await.items;
    let (kept, lost) = (claimed[0].item_id, claimed[1].item_id);
    h.advance(8);
    let renewed = claim::heartbeat(
        db,
        "steady",
        &[kept],
        Duration::seconds(10),
        h.clock.now_for_test(),
    )
    .await
    .unwrap();
    assert_eq!(renewed, 1);
    assert_eq!(
        claim::heartbeat(
            db,
            "steady",
            &[],
            Duration::seconds(10),
            h.clock.now_for_test()
        )
        .await
        .unwrap(),
        0,
        "nothing in hand, nothing renewed"
    );
    h.advance(3);
    h.engine.rescue_once().await.unwrap();
    let items = h.items(task.id).await;
    let status = |id: i64| {
        items
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.status.clone())
            .unwrap()
    };
    assert_eq!(
        (status(kept), status(lost)),
        ("running".into(), "pending".into())
    );
    assert_counters_match(db, task.id).await;
});

// The database refuses to store finished items (a trigger stands in for a locked file or
// a lost connection): the engine tries again, gives up, and stops renewing the items'
// leases, so the rescuer gives them back and they run again. Before, the heartbeat kept
// them `running` for as long as the worker lived.
db_test!(outcomes_the_database_refused_are_run_again, |db| {
    use sea_orm::{ConnectionTrait, DbBackend};
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(2, &["ok"])).await;
    let (refuse, allow): (&[&str], &[&str]) = match db.get_database_backend() {
        DbBackend::Postgres => (
            &[
                "CREATE FUNCTION refuse_success() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'refused for the test'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_success BEFORE UPDATE ON task_items FOR EACH ROW \
                 WHEN (NEW.status = 'succeeded') EXECUTE FUNCTION refuse_success()",
            ],
            &["DROP TRIGGER refuse_success ON task_items"],
        ),
        _ => (
            &["CREATE TRIGGER refuse_success BEFORE UPDATE ON task_items \
               WHEN NEW.status = 'succeeded' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"],
            &["DROP TRIGGER refuse_success"],
        ),
    };
    for sql in refuse {
        db.execute_unprepared(sql).await.unwrap();
    }
    assert_eq!(h.engine.run_once().await.unwrap(), 2);
    assert!(
        h.items(task.id).await.iter().all(|i| i.status == "running"),
        "nothing was stored"
    );
    for sql in allow {
        db.execute_unprepared(sql).await.unwrap();
    }

    h.advance(8);
    h.engine.heartbeat().await;
    h.advance(3);
    assert_eq!(h.engine.rescue_once().await.unwrap(), 1, "one task touched");
    assert!(h.items(task.id).await.iter().all(|i| i.status == "pending"));
    h.advance(60);
    h.engine.drain().await.unwrap();
    assert_eq!(h.reload(task.id).await.status, TaskStatus::Succeeded);
    assert_counters_match(db, task.id).await;
});

db_test!(pause_stops_new_claims_and_resume_continues, |db| {
    let h = Harness::new(db, 2);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(6, &["ok"])).await;
    let held = h.claim_as("w1", 2).await;

    let paused = h.engine.pause(ana, task.id).await.unwrap();
    assert_eq!(
        (paused.task.status, paused.changed),
        (TaskStatus::Paused, true)
    );
    assert!(
        !h.engine.pause(ana, task.id).await.unwrap().changed,
        "idempotent"
    );
    assert_eq!(
        h.engine.run_once().await.unwrap(),
        0,
        "no claims while paused"
    );

    // In-flight items still finish.
    for item in held.items {
        complete::complete(
            db,
            "w1",
            task.id,
            item.item_id,
            1,
            Outcome::Succeeded(Value::Null),
            &policy(),
            &NoJitter,
            t0(),
        )
        .await
        .unwrap();
    }
    let still = h.reload(task.id).await;
    assert_eq!(
        (still.status, still.counts.succeeded, still.counts.pending),
        (TaskStatus::Paused, 2, 4)
    );

    let resumed = h.engine.resume(ana, task.id).await.unwrap();
    assert_eq!(resumed.task.status, TaskStatus::Running);
    assert!(!h.engine.resume(ana, task.id).await.unwrap().changed);
    h.engine.drain().await.unwrap();
    assert_eq!(h.reload(task.id).await.status, TaskStatus::Succeeded);
    assert!(matches!(
        h.engine.pause(ana, task.id).await,
        Err(TaskError::Conflict {
            control: backend::tasks::Control::Pause,
            status: TaskStatus::Succeeded
        })
    ));
});

db_test!(
    cancel_ends_pending_items_at_once_and_in_flight_ones_when_they_stop,
    |db| {
        let h = Harness::new(db, 2);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(5, &["ok"])).await;
        let held = h.claim_as("w1", 1).await;

        let cancelling = h.engine.cancel(ana, task.id).await.unwrap();
        assert_eq!(
            (cancelling.task.status, cancelling.items),
            (TaskStatus::Cancelling, 4)
        );
        assert_eq!(
            claim::cancelled_in_flight(db, "w1").await.unwrap(),
            vec![held.items[0].item_id],
            "the owner hears of it"
        );
        assert!(
            !h.engine.cancel(ana, task.id).await.unwrap().changed,
            "idempotent"
        );
        assert_counters_match(db, task.id).await;

        complete::complete(
            db,
            "w1",
            task.id,
            held.items[0].item_id,
            1,
            Outcome::Cancelled,
            &policy(),
            &NoJitter,
            t0(),
        )
        .await
        .unwrap();
        let done = h.reload(task.id).await;
        assert_eq!(
            (done.status, done.counts.cancelled),
            (TaskStatus::Cancelled, 5)
        );
        assert!(done.finished_at.is_some());
        assert_counters_match(db, task.id).await;
        let notes = backend::notifications::recent(db, ana, 10).await.unwrap();
        assert_eq!(
            notes[0].title,
            format!("#{} Run 5 items cancelled", task.id)
        );

        for (action, result) in [
            ("resume", h.engine.resume(ana, task.id).await),
            (
                "retry",
                h.engine.retry(ana, task.id, Selection::AllFailed).await,
            ),
            (
                "skip",
                h.engine.skip(ana, task.id, Selection::AllFailed).await,
            ),
        ] {
            assert!(
                matches!(
                    result,
                    Err(TaskError::Conflict {
                        status: TaskStatus::Cancelled,
                        ..
                    })
                ),
                "{action}"
            );
        }
    }
);

db_test!(
    an_item_that_comes_back_after_cancel_is_cancelled_too,
    |db| {
        // Found by the property test: a transient error while the task is cancelling must
        // not leave a pending item in a cancelled task.
        let h = Harness::new(db, 2);
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params(2, &["ok"])).await;
        let held = h.claim_as("w1", 1).await;
        h.engine.cancel(ana, task.id).await.unwrap();
        complete::complete(
            db,
            "w1",
            task.id,
            held.items[0].item_id,
            1,
            Outcome::retry("timeout", "slow"),
            &policy(),
            &NoJitter,
            t0(),
        )
        .await
        .unwrap();
        let done = h.reload(task.id).await;
        assert_eq!(
            (done.status, done.counts.pending, done.counts.cancelled),
            (TaskStatus::Cancelled, 0, 2)
        );
        assert_counters_match(db, task.id).await;
    }
);

db_test!(cancelling_a_queued_task_ends_it_immediately, |db| {
    let h = Harness::new(db, 2);
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params(3, &["ok"])).await;
    let done = h.engine.cancel(ana, task.id).await.unwrap();
    assert_eq!(done.task.status, TaskStatus::Cancelled);
    assert_eq!(done.task.counts.cancelled, 3);
});

db_test!(retry_reopens_a_finished_task_and_skip_settles_it, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let task = h
        .task(
            ana,
            params_each(&[&["ok"], &["fail", "ok"], &["fail", "ok"], &["fail"]]),
        )
        .await;
    h.engine.drain().await.unwrap();
    assert_eq!(
        h.reload(task.id).await.status,
        TaskStatus::CompletedWithErrors
    );
    let items = h.items(task.id).await;

    // Retry just one.
    let retried = h
        .engine
        .retry(ana, task.id, Selection::Items(vec![items[1].id]))
        .await
        .unwrap();
    assert_eq!(
        (retried.items, retried.task.status, retried.task.finished_at),
        (1, TaskStatus::Running, None)
    );
    let item = &h.items(task.id).await[1];
    assert_eq!(
        (item.status.as_str(), item.attempts, item.error_code.clone()),
        ("pending", 0, None)
    );
    h.engine.drain().await.unwrap();
    assert_eq!(h.reload(task.id).await.counts.failed, 2);

    // Retry all the rest: one recovers, one fails again.
    assert_eq!(
        h.engine
            .retry(ana, task.id, Selection::AllFailed)
            .await
            .unwrap()
            .items,
        2
    );
    h.engine.drain().await.unwrap();
    let after = h.reload(task.id).await;
    assert_eq!(
        (after.status, after.counts.succeeded, after.counts.failed),
        (TaskStatus::CompletedWithErrors, 3, 1)
    );

    // Another seller cannot touch it.
    let bob = seller(db, "bob@example.com").await;
    assert!(matches!(
        h.engine.skip(bob, task.id, Selection::AllFailed).await,
        Err(TaskError::NotFound)
    ));

    let skipped = h
        .engine
        .skip(ana, task.id, Selection::AllFailed)
        .await
        .unwrap();
    assert_eq!(
        (skipped.items, skipped.task.status),
        (1, TaskStatus::Succeeded)
    );
    assert!(
        !h.engine
            .skip(ana, task.id, Selection::AllFailed)
            .await
            .unwrap()
            .changed,
        "idempotent"
    );
    assert!(
        !h.engine
            .retry(ana, task.id, Selection::AllFailed)
            .await
            .unwrap()
            .changed,
        "nothing left to retry"
    );
    assert_counters_match(db, task.id).await;
});

db_test!(
    failures_group_by_code_and_a_group_retries_or_skips_alone,
    |db| {
        let h = Harness::new(db, 4);
        let ana = seller(db, "ana@example.com").await;
        let task = h
            .task(
                ana,
                params_each(&[
                    &["ok"],
                    &["fail:image_missing"],
                    &["fail:marketplace_unavailable", "ok"],
                    &["fail:image_missing"],
                    &["fail:marketplace_unavailable", "ok"],
                    &["fail:image_missing"],
                    &["fail:marketplace_unavailable", "ok"],
                    &["fail:price_not_positive"],
                ]),
            )
            .await;
        h.engine.drain().await.unwrap();

        let groups = query::failure_groups(db, ana, task.id).await.unwrap();
        let shape: Vec<(&str, u64, usize)> = groups
            .iter()
            .map(|g| (g.code.as_str(), g.count, g.examples.len()))
            .collect();
        // Largest first; ties by code; at most three examples, in task order.
        assert_eq!(
            shape,
            vec![
                ("image_missing", 3, 3),
                ("marketplace_unavailable", 3, 3),
                ("price_not_positive", 1, 1)
            ]
        );
        let positions: Vec<i32> = groups[0].examples.iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![1, 3, 5]);

        // One group's items, as a filter.
        let filter = query::ItemFilter {
            error_code: Some("marketplace_unavailable".into()),
            ..Default::default()
        };
        let (rows, total) = query::items(db, ana, task.id, &filter, 1, 50)
            .await
            .unwrap();
        assert_eq!((rows.len(), total), (3, 3));

        // Retrying the transient group touches only it, and it recovers.
        let retried = h
            .engine
            .retry(
                ana,
                task.id,
                Selection::Code("marketplace_unavailable".into()),
            )
            .await
            .unwrap();
        assert_eq!(retried.items, 3);
        h.engine.drain().await.unwrap();
        let after = h.reload(task.id).await;
        assert_eq!((after.counts.succeeded, after.counts.failed), (4, 4));

        // Skipping a data group leaves the other.
        let skipped = h
            .engine
            .skip(ana, task.id, Selection::Code("image_missing".into()))
            .await
            .unwrap();
        assert_eq!(skipped.items, 3);
        let groups = query::failure_groups(db, ana, task.id).await.unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].code.as_str(), groups[0].count),
            ("price_not_positive", 1)
        );

        // Another seller sees no groups.
        let bob = seller(db, "bob@example.com").await;
        assert!(matches!(
            query::failure_groups(db, bob, task.id).await,
            Err(TaskError::NotFound)
        ));
        assert_counters_match(db, task.id).await;
    }
);

db_test!(a_small_task_is_not_starved_by_a_big_one, |db| {
    let h = Harness::new(db, 4);
    let ana = seller(db, "ana@example.com").await;
    let bob = seller(db, "bob@example.com").await;
    let big = h.task(ana, params(500, &["ok"])).await;
    h.engine.run_once().await.unwrap();
    let small = h.task(bob, params(5, &["ok"])).await;

    h.engine.run_once().await.unwrap();
    let small_now = h.reload(small.id).await;
    assert!(
        small_now.counts.succeeded >= 2,
        "the small task got its turn at once: {:?}",
        small_now.counts
    );
    for _ in 0..2 {
        h.engine.run_once().await.unwrap();
    }
    assert_eq!(h.reload(small.id).await.status, TaskStatus::Succeeded);
    assert!(h.reload(big.id).await.counts.pending > 400);
});

db_test!(a_kinds_concurrency_caps_one_task_across_workers, |db| {
    let h = Harness::new(db, 4);
    let capped = Scripted::new(policy()).with_concurrency(3);
    let registry = Registry::new().register(capped);
    let ana = seller(db, "ana@example.com").await;
    h.task(ana, params(10, &["ok"])).await;
    let first = claim::claim(db, &registry, "w1", 10, Duration::seconds(10), t0())
        .await
        .unwrap();
    let second = claim::claim(db, &registry, "w2", 10, Duration::seconds(10), t0())
        .await
        .unwrap();
    assert_eq!((first.items.len(), second.items.len()), (3, 0));
});

db_test!(
    the_running_engine_delivers_cancellation_to_in_flight_handlers,
    |db| {
        let kind = Scripted::new(policy());
        let engine = Arc::new(Engine::new(
            db.clone(),
            Registry::new().register(kind.clone()),
            EventBus::new("test", std::time::Duration::ZERO),
            EngineConfig::new(2),
        ));
        let ana = seller(db, "ana@example.com").await;
        let mut events = engine.bus().subscribe();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
        let task = engine
            .create_task(NewTask {
                seller_id: ana,
                kind: "scripted".into(),
                params: params(1, &["wait"]),
                idempotency_key: None,
            })
            .await
            .unwrap()
            .task()
            .clone();
        wait_for(&mut events, |e| {
            e.task_id == task.id && e.counts.running == 1
        })
        .await;
        engine.cancel(ana, task.id).await.unwrap();
        wait_for(&mut events, |e| {
            e.task_id == task.id && e.status == TaskStatus::Cancelled
        })
        .await;
        assert_eq!(tasks::load(db, task.id).await.unwrap().counts.cancelled, 1);
        shutdown.cancel();
        runner.await.unwrap();
    }
);

db_test!(
    graceful_shutdown_finishes_short_items_and_gives_back_long_ones,
    |db| {
        let kind = Scripted::new(policy());
        let mut config = EngineConfig::new(2);
        config.shutdown_grace = std::time::Duration::from_millis(300);
        let engine = Arc::new(Engine::new(
            db.clone(),
            Registry::new().register(kind.clone()),
            EventBus::new("test", std::time::Duration::ZERO),
            config,
        ));
        let ana = seller(db, "ana@example.com").await;
        let mut events = engine.bus().subscribe();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let runner = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));
        let task = engine
            .create_task(NewTask {
                seller_id: ana,
                kind: "scripted".into(),
                params: params_each(&[&["sleep:100"], &["wait"]]),
                idempotency_key: None,
            })
            .await
            .unwrap()
            .task()
            .clone();
        wait_for(&mut events, |e| {
            e.task_id == task.id && e.counts.running == 2
        })
        .await;
        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), runner)
            .await
            .expect("stops within its grace")
            .unwrap();

        let after = tasks::load(db, task.id).await.unwrap();
        assert_eq!(
            (
                after.counts.succeeded,
                after.counts.pending,
                after.counts.running
            ),
            (1, 1, 0)
        );
        let items = task_item::Entity::find()
            .filter(task_item::Column::TaskId.eq(task.id))
            .order_by_asc(task_item::Column::Position)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            (
                items[1].status.as_str(),
                items[1].attempts,
                items[1].lease_owner.clone()
            ),
            ("pending", 0, None),
            "given back, attempt not counted"
        );
        assert_counters_match(db, task.id).await;
    }
);

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<backend::tasks::events::TaskEvent>,
    wanted: impl Fn(&backend::tasks::events::TaskEvent) -> bool,
) {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(err) => panic!("event bus closed: {err}"),
            }
        }
    })
    .await
    .expect("the expected event within 10 s");
}

#[test]
fn item_and_task_statuses_cover_the_schema() {
    assert_eq!(ItemStatus::ALL.len(), 7);
    assert_eq!(TaskStatus::ALL.len(), 9);
}
