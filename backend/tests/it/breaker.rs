//! The circuit breaker per marketplace account, on SQLite and PostgreSQL, with a manual
//! clock: an outage spends no attempt and fails nothing, the work resumes at once when a
//! probe finds the marketplace back, two instances share one breaker, refusals never
//! open it, and a task held past the limit ends and can be taken up again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;
use backend::domain::{Email, Password};
use backend::entities::task_item;
use backend::tasks::breaker::{self, BreakerPolicy, Change, State};
use backend::tasks::clock::{ManualClock, NoJitter};
use backend::tasks::control::Selection;
use backend::tasks::create::NewTask;
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::{self, Registry, RetryPolicy, TaskStatus, UNAVAILABLE};
use backend::testing::assert_counters_match;
use backend::testing::outage::{params, Outage};
use backend::DatabaseConnection;
use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use std::sync::Arc;
use task_model::HoldReason;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 14, 0, 0).unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::seconds(2),
        max_delay: Duration::minutes(1),
        jitter_ratio: 0.0,
    }
}

struct Harness {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    kind: Outage,
    engine: Arc<Engine>,
}

impl Harness {
    fn new(db: &DatabaseConnection, slots: usize, hold_limit: Duration) -> Self {
        let clock = Arc::new(ManualClock::new(t0()));
        Self::sharing(db, slots, hold_limit, clock, Outage::new(policy()))
    }

    /// Another instance on the same database, clock and marketplace.
    fn sharing(
        db: &DatabaseConnection,
        slots: usize,
        hold_limit: Duration,
        clock: Arc<ManualClock>,
        kind: Outage,
    ) -> Self {
        let mut config = EngineConfig::new(slots);
        config.breaker = BreakerPolicy {
            hold_limit,
            ..BreakerPolicy::default()
        };
        let engine = Arc::new(
            Engine::new(
                db.clone(),
                Registry::new().register(kind.clone()),
                EventBus::new("test", std::time::Duration::ZERO),
                config,
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
            kind: "outage_test".into(),
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

    async fn breaker(&self, account: &str) -> breaker::Breaker {
        breaker::get(&self.db, &format!("test-{account}"))
            .await
            .unwrap()
            .expect("the account has a breaker")
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }

    /// Runs the engine as its loop would, `secs` seconds at a time, for `total` seconds:
    /// due probes, then whatever is due.
    async fn run_for(&self, total: i64, secs: i64) {
        let mut spent = 0;
        while spent < total {
            self.engine.probe_due_now().await.unwrap();
            self.engine.drain().await.unwrap();
            self.advance(secs);
            spent += secs;
        }
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

/// The seller's notifications that name no task: the breaker's own.
async fn outage_notices(db: &DatabaseConnection, seller_id: i64) -> Vec<String> {
    let mut titles: Vec<String> = backend::notifications::recent(db, seller_id, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.task_id.is_none())
        .map(|n| n.title)
        .collect();
    titles.reverse();
    titles
}

db_test!(
    a_ten_minute_outage_spends_no_attempt_and_fails_nothing,
    |db| {
        let h = Harness::new(db, 4, Duration::hours(6));
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params("a", 40, &[])).await;
        // Four go through; then the marketplace stops answering.
        assert_eq!(h.engine.run_once().await.unwrap(), 4);
        h.kind.set_down(true);
        for _ in 0..3 {
            h.engine.drain().await.unwrap();
            h.advance(2);
        }
        let open = h.breaker("a").await;
        assert_eq!(open.state(), State::Open, "a run of failures opens it");
        let calls_when_open = h.kind.calls();
        let held = h.reload(task.id).await;
        let hold = held.hold.clone().expect("the task shows the hold");
        assert_eq!(hold.reason, HoldReason::MarketplaceUnavailable);
        assert_eq!(hold.marketplace, "the marketplace");
        assert!(hold.since <= h.clock.now_for_test());
        assert_eq!(held.status, TaskStatus::Running);

        // Ten minutes of outage: probes only, with growing spacing.
        h.run_for(600, 5).await;
        assert_eq!(
            h.kind.calls(),
            calls_when_open,
            "nothing is sent while open"
        );
        let probes = h.kind.probes();
        assert!(
            (8..=20).contains(&probes),
            "probes spaced from 5 s to a minute over ten minutes: {probes}"
        );
        let still = h.breaker("a").await;
        assert_eq!(still.every_ms, 60_000, "the spacing grows to a minute");
        let items = h.items(task.id).await;
        assert!(items.iter().all(|i| i.status != "failed"), "nothing failed");
        assert!(
            items.iter().all(|i| i.attempts <= 1),
            "no attempt spent on the outage: {:?}",
            items.iter().map(|i| i.attempts).collect::<Vec<_>>()
        );

        // Back: the next probe closes it, and every held item is due at once.
        h.kind.set_down(false);
        let next = still.next_probe_at.unwrap();
        h.clock.advance(next - h.clock.now_for_test());
        let transitions = h.engine.probe_due_now().await.unwrap();
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].change, Change::Closed);
        assert!(transitions[0].tasks.contains(&task.id));
        h.engine.drain().await.unwrap();
        let done = h.reload(task.id).await;
        assert_eq!(
            done.status,
            TaskStatus::Succeeded,
            "all sent without waiting"
        );
        assert_eq!(done.counts.succeeded, 40);
        assert_eq!(done.hold, None);
        assert!(h.items(task.id).await.iter().all(|i| i.attempts == 1));
        assert_counters_match(db, task.id).await;
        // One notice when it stopped answering, one when it came back.
        assert_eq!(
            outage_notices(db, ana).await,
            [
                "The marketplace is not answering",
                "The marketplace answers again"
            ]
        );
    }
);

db_test!(failures_interrupted_by_an_answer_do_not_open_it, |db| {
    let h = Harness::new(db, 1, Duration::hours(6));
    let ana = seller(db, "ana@example.com").await;
    let task = h.task(ana, params("a", 12, &[])).await;
    for round in 0..2 {
        h.kind.set_down(true);
        for _ in 0..breaker::THRESHOLD - 1 {
            assert_eq!(h.engine.run_once().await.unwrap(), 1);
        }
        h.kind.set_down(false);
        assert_eq!(h.engine.run_once().await.unwrap(), 1, "round {round}");
        assert_eq!(h.breaker("a").await.failures, 0, "an answer ends the run");
    }
    assert_eq!(h.breaker("a").await.state(), State::Closed);
    assert_eq!(h.reload(task.id).await.hold, None);
    // The failures spent their attempts as any passing problem does.
    let spent = h
        .items(task.id)
        .await
        .into_iter()
        .filter(|i| {
            i.status == "pending" && i.attempts == 1 && i.error_code.as_deref() == Some(UNAVAILABLE)
        })
        .count();
    assert_eq!(spent, 2 * (breaker::THRESHOLD as usize - 1));
});

db_test!(permanent_refusals_never_open_it, |db| {
    let h = Harness::new(db, 4, Duration::hours(6));
    let ana = seller(db, "ana@example.com").await;
    let all: Vec<usize> = (0..20).collect();
    let task = h.task(ana, params("a", 20, &all)).await;
    h.engine.drain().await.unwrap();
    let done = h.reload(task.id).await;
    assert_eq!(done.status, TaskStatus::Failed);
    assert_eq!(done.counts.failed, 20);
    assert_eq!(done.hold, None);
    let b = h.breaker("a").await;
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.failures, 0);
    assert!(outage_notices(db, ana).await.is_empty());
});

db_test!(one_account_down_holds_its_tasks_only, |db| {
    let h = Harness::new(db, 4, Duration::hours(6));
    let ana = seller(db, "ana@example.com").await;
    let ben = seller(db, "ben@example.com").await;
    let first = h.task(ana, params("a", 10, &[])).await;
    let second = h.task(ana, params("a", 10, &[])).await;
    h.kind.set_down(true);
    for _ in 0..3 {
        h.engine.drain().await.unwrap();
        h.advance(2);
    }
    assert_eq!(h.breaker("a").await.state(), State::Open);
    // Both of the account's tasks are held, and a task made now is held from the start.
    assert!(h.reload(first.id).await.hold.is_some());
    assert!(h.reload(second.id).await.hold.is_some());
    let later = h.task(ana, params("a", 3, &[])).await;
    assert!(later.hold.is_some(), "made during the outage: held at once");
    // Another account is not held.
    h.kind.set_down(false);
    let other = h.task(ben, params("b", 5, &[])).await;
    h.engine.drain().await.unwrap();
    assert_eq!(h.reload(other.id).await.status, TaskStatus::Succeeded);
    assert_eq!(h.reload(later.id).await.counts.pending, 3);
    // "Try now" asks at once, and the work goes.
    let tried = h.engine.try_now(ana, first.id).await.unwrap();
    assert_eq!(tried.hold, None);
    h.engine.drain().await.unwrap();
    for task in [first.id, second.id, later.id] {
        assert_eq!(h.reload(task).await.status, TaskStatus::Succeeded);
    }
    // Another seller cannot probe Ana's account through her task.
    assert!(h.engine.try_now(ben, first.id).await.is_err());
});

db_test!(two_instances_share_one_breaker, |db| {
    let a = Harness::new(db, 4, Duration::hours(6));
    let b = Harness::sharing(db, 4, Duration::hours(6), a.clock.clone(), a.kind.clone());
    let ana = seller(db, "ana@example.com").await;
    let task = a.task(ana, params("a", 30, &[])).await;
    a.kind.set_down(true);
    for _ in 0..3 {
        a.engine.drain().await.unwrap();
        a.advance(2);
    }
    assert_eq!(a.breaker("a").await.state(), State::Open);
    // The other instance sends nothing either.
    let calls = a.kind.calls();
    assert_eq!(b.engine.run_once().await.unwrap(), 0);
    assert_eq!(a.kind.calls(), calls);
    // One probe per due time, whichever instance asks.
    a.advance(5);
    let probes = a.kind.probes();
    let by_b = b.engine.probe_due_now().await.unwrap();
    let by_a = a.engine.probe_due_now().await.unwrap();
    assert_eq!(by_a.len() + by_b.len(), 1);
    assert_eq!(a.kind.probes(), probes + 1);
    // B's probe closes it for A too.
    a.kind.set_down(false);
    a.advance(10);
    assert_eq!(b.engine.probe_due_now().await.unwrap().len(), 1);
    a.engine.drain().await.unwrap();
    assert_eq!(a.reload(task.id).await.status, TaskStatus::Succeeded);
});

db_test!(
    a_task_held_past_the_limit_ends_failed_and_retry_takes_it_up,
    |db| {
        let h = Harness::new(db, 4, Duration::minutes(30));
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params("a", 12, &[])).await;
        assert_eq!(h.engine.run_once().await.unwrap(), 4);
        h.kind.set_down(true);
        h.run_for(31 * 60, 10).await;
        let ended = h.reload(task.id).await;
        assert_eq!(ended.status, TaskStatus::CompletedWithErrors);
        assert_eq!(ended.counts.succeeded, 4);
        assert_eq!(ended.counts.failed, 8);
        assert_eq!(ended.hold, None, "an ended task shows no hold");
        let failed = h.items(task.id).await;
        let failed: Vec<_> = failed.iter().filter(|i| i.status == "failed").collect();
        assert!(failed
            .iter()
            .all(|i| i.error_code.as_deref() == Some(UNAVAILABLE)));
        assert!(failed[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("did not answer for 30 minutes"));
        assert_counters_match(db, task.id).await;

        // Retry while it is still down: held again, not failed again at once.
        let retried = h
            .engine
            .retry(ana, task.id, Selection::AllFailed)
            .await
            .unwrap();
        assert!(retried.task.hold.is_some());
        h.run_for(60, 10).await;
        assert_eq!(h.reload(task.id).await.counts.pending, 8);
        h.kind.set_down(false);
        h.run_for(120, 10).await;
        let done = h.reload(task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert_eq!(done.counts.succeeded, 12);
    }
);

db_test!(
    an_item_answered_during_a_probe_leaves_the_probe_alone,
    |db| {
        let h = Harness::new(db, 4, Duration::hours(6));
        let ana = seller(db, "ana@example.com").await;
        let task = h.task(ana, params("a", 12, &[])).await;
        // Another worker holds one item, its call still out.
        let out = backend::tasks::claim::claim(
            db,
            h.engine.registry(),
            "slow-worker",
            1,
            Duration::seconds(60),
            h.clock.now_for_test(),
        )
        .await
        .unwrap();
        assert_eq!(out.items.len(), 1);
        h.kind.set_down(true);
        for _ in 0..3 {
            h.engine.drain().await.unwrap();
            h.advance(2);
        }
        assert_eq!(h.breaker("a").await.state(), State::Open);
        h.advance(5);
        let now = h.clock.now_for_test();
        let taken = breaker::take_due(db, "prober", None, Duration::seconds(30), now)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        // The slow call comes back: the marketplace did not answer it either.
        let item = &out.items[0];
        backend::tasks::complete::complete(
            db,
            "slow-worker",
            item.task_id,
            item.item_id,
            item.attempt,
            backend::tasks::Outcome::Unavailable {
                delay: None,
                message: "timed out".into(),
            },
            &policy(),
            &backend::tasks::clock::NoJitter,
            now,
        )
        .await
        .unwrap();
        let probing = h.breaker("a").await;
        assert_eq!(probing.state(), State::Probing);
        assert_eq!(probing.probe_owner.as_deref(), Some("prober"));
        // The probe's answer still counts, and the work goes on.
        h.kind.set_down(false);
        let closed = breaker::probed(
            db,
            "prober",
            "test-a",
            Ok(()),
            &BreakerPolicy::default(),
            now,
        )
        .await
        .unwrap();
        assert_eq!(closed.unwrap().0.change, Change::Closed);
        h.engine.drain().await.unwrap();
        let done = h.reload(task.id).await;
        assert_eq!(done.status, TaskStatus::Succeeded);
        let attempts: Vec<i32> = h.items(task.id).await.iter().map(|i| i.attempts).collect();
        assert!(attempts.iter().all(|a| *a == 1), "{attempts:?}");
    }
);
