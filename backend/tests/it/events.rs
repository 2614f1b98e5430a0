//! Task events cross PostgreSQL instances through NOTIFY.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::tasks::events::{EventBus, TaskEvent};
use backend::tasks::{TaskCounts, TaskStatus};
use backend::testing::{Engine, TestDb};
use std::time::Duration;

fn event(status: TaskStatus) -> TaskEvent {
    TaskEvent {
        task_id: 42,
        seq: 1,
        seller_id: 7,
        kind: "noop".into(),
        label: "No-op run of 3 items".into(),
        status,
        counts: TaskCounts {
            total: 3,
            succeeded: 3,
            ..TaskCounts::default()
        },
        throughput: Some(12.5),
        waiting_until: None,
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
        estimate: Some(task_model::Estimate {
            seconds: 3,
            low: 2,
            high: 5,
            basis: task_model::Basis::Local,
            shared_with: 0,
            items: 3,
            calls: 0,
        }),
        estimated_at: Some(chrono::Utc::now()),
        start_at: None,
        chain: None,
        hold: None,
        emitted_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn an_event_published_on_one_instance_is_heard_on_another() {
    let test_db = TestDb::required(Engine::Postgres).await;
    let url = test_db.url().unwrap();
    let here = EventBus::new("instance-a", Duration::ZERO);
    let there = EventBus::new("instance-b", Duration::ZERO);
    here.connect_postgres(test_db.db.clone(), &url)
        .await
        .unwrap();
    there
        .connect_postgres(test_db.db.clone(), &url)
        .await
        .unwrap();
    let mut heard_there = there.subscribe();
    let mut heard_here = here.subscribe();

    let sent = event(TaskStatus::Succeeded);
    here.publish(sent.clone());

    let received = tokio::time::timeout(Duration::from_secs(5), heard_there.recv())
        .await
        .expect("within 5 s")
        .unwrap();
    assert_eq!(received, sent);
    // The sender hears its own event once (locally), not a second time through NOTIFY.
    assert_eq!(heard_here.recv().await.unwrap(), sent);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), heard_here.recv())
            .await
            .is_err()
    );
    test_db.finish().await;
}
