//! Random operation sequences with random crash points against the engine. After every
//! step: counters equal the items' aggregates, attempts never exceed the maximum, and a
//! finished task has nothing pending or running. In the end every item reaches exactly
//! one terminal state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::domain::{Email, Password};
use backend::entities::task_item;
use backend::tasks::claim::{self, Claimed};
use backend::tasks::clock::NoJitter;
use backend::tasks::complete;
use backend::tasks::control::{self, Selection};
use backend::tasks::create::{self, NewTask};
use backend::tasks::{self, rescue, Outcome, Registry, RetryPolicy, TaskStatus};
use backend::testing::scripted::{params, Scripted};
use backend::testing::{assert_counters_match, Engine as DbEngine, TestDb};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Op {
    Claim {
        worker: usize,
        n: usize,
    },
    Finish {
        worker: usize,
        pick: usize,
        outcome: u8,
    },
    Heartbeat {
        worker: usize,
    },
    /// The worker dies: it forgets what it held, the leases stay until they expire.
    Crash {
        worker: usize,
    },
    Advance {
        secs: i64,
    },
    Rescue,
    Pause,
    Resume,
    Cancel,
    RetryAll,
    SkipAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..4usize).prop_map(|(worker, n)| Op::Claim { worker, n }),
        6 => (0..3usize, 0..4usize, 0..4u8).prop_map(|(worker, pick, outcome)| Op::Finish { worker, pick, outcome }),
        1 => (0..3usize).prop_map(|worker| Op::Heartbeat { worker }),
        1 => (0..3usize).prop_map(|worker| Op::Crash { worker }),
        2 => (1..25i64).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Rescue),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Cancel),
        1 => Just(Op::RetryAll),
        1 => Just(Op::SkipAll),
    ]
}

const MAX_ATTEMPTS: i32 = 3;
const LEASE: i64 = 10;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_ATTEMPTS as u32,
        base_delay: Duration::seconds(2),
        max_delay: Duration::seconds(30),
        jitter_ratio: 0.0,
    }
}

async fn check(db: &backend::DatabaseConnection, task_id: i64) {
    assert_counters_match(db, task_id).await;
    let task = tasks::load(db, task_id).await.unwrap();
    let items = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task_id))
        .all(db)
        .await
        .unwrap();
    for item in &items {
        assert!(
            item.attempts <= MAX_ATTEMPTS,
            "item {} made {} attempts",
            item.id,
            item.attempts
        );
        assert_eq!(
            item.status == "running",
            item.lease_owner.is_some(),
            "lease iff running"
        );
    }
    if task.status.is_terminal() {
        assert_eq!(
            (task.counts.pending, task.counts.running),
            (0, 0),
            "finished task {:?} still has work",
            task.status
        );
        assert!(task.finished_at.is_some());
    }
}

async fn scenario(ops: Vec<Op>) {
    let test_db = TestDb::new(DbEngine::Sqlite).await.unwrap();
    let db = &test_db.db;
    let seller = backend::accounts::create_seller(
        db,
        &Email::parse("p@example.com").unwrap(),
        None,
        &Password::parse("property-test-pw").unwrap(),
    )
    .await
    .unwrap()
    .id;
    let registry = Registry::new().register(Scripted::new(policy()));
    let mut now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let task_id = create::create(
        db,
        &registry,
        NewTask {
            seller_id: seller,
            kind: "scripted".into(),
            params: params(6, &["ok"]),
            idempotency_key: None,
        },
        now,
    )
    .await
    .unwrap()
    .task()
    .id;
    let mut held: HashMap<usize, Vec<Claimed>> = HashMap::new();
    let lease = Duration::seconds(LEASE);

    for op in ops {
        match op {
            Op::Claim { worker, n } => {
                let batch = claim::claim(db, &registry, &format!("w{worker}"), n, lease, now)
                    .await
                    .unwrap();
                assert!(batch.items.len() <= n);
                held.entry(worker).or_default().extend(batch.items);
            }
            Op::Finish {
                worker,
                pick,
                outcome,
            } => {
                let items = held.entry(worker).or_default();
                if !items.is_empty() {
                    let item = items.remove(pick % items.len());
                    let outcome = match outcome {
                        0 => Outcome::Succeeded(serde_json::Value::Null),
                        1 => Outcome::retry("timeout", "transient"),
                        2 => Outcome::failed("invalid", "permanent"),
                        _ => Outcome::Cancelled,
                    };
                    // A lost lease is a legal answer; anything else must apply.
                    complete::complete(
                        db,
                        &format!("w{worker}"),
                        item.task_id,
                        item.item_id,
                        item.attempt,
                        outcome,
                        &policy(),
                        &NoJitter,
                        now,
                    )
                    .await
                    .unwrap();
                }
            }
            Op::Heartbeat { worker } => {
                let ids: Vec<i64> = held
                    .get(&worker)
                    .map(|items| items.iter().map(|i| i.item_id).collect())
                    .unwrap_or_default();
                claim::heartbeat(db, &format!("w{worker}"), &ids, lease, now)
                    .await
                    .unwrap();
            }
            Op::Crash { worker } => {
                held.remove(&worker);
            }
            Op::Advance { secs } => now += Duration::seconds(secs),
            Op::Rescue => {
                rescue::rescue_expired(db, now).await.unwrap();
            }
            Op::Pause => {
                let _ = control::pause(db, seller, task_id, now).await;
            }
            Op::Resume => {
                let _ = control::resume(db, seller, task_id, now).await;
            }
            Op::Cancel => {
                let _ = control::cancel(db, seller, task_id, now).await;
            }
            Op::RetryAll => {
                let _ = control::retry(db, seller, task_id, Selection::AllFailed, now).await;
            }
            Op::SkipAll => {
                let _ = control::skip(db, seller, task_id, Selection::AllFailed, now).await;
            }
        }
        check(db, task_id).await;
    }

    // Recovery: every worker crashed; a fresh one runs whatever is left to the end.
    let _ = control::resume(db, seller, task_id, now).await;
    for _ in 0..20 {
        now += Duration::seconds(120);
        rescue::rescue_expired(db, now).await.unwrap();
        let batch = claim::claim(db, &registry, "survivor", 100, lease, now)
            .await
            .unwrap();
        for item in batch.items {
            complete::complete(
                db,
                "survivor",
                item.task_id,
                item.item_id,
                item.attempt,
                Outcome::Succeeded(serde_json::Value::Null),
                &policy(),
                &NoJitter,
                now,
            )
            .await
            .unwrap();
        }
        check(db, task_id).await;
    }
    let task = tasks::load(db, task_id).await.unwrap();
    assert!(
        task.status.is_terminal(),
        "task ended as {:?} with {:?}",
        task.status,
        task.counts
    );
    let items = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task_id))
        .all(db)
        .await
        .unwrap();
    assert!(items
        .iter()
        .all(|i| ["succeeded", "failed", "skipped", "cancelled"].contains(&i.status.as_str())));
    assert!(task.status != TaskStatus::Cancelling);
    test_db.finish().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_and_crashes_keep_the_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(scenario(ops));
    }
}
