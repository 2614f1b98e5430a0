//! The marketplace stops answering for 30 s in the middle of a publish: its process is
//! stopped (SIGSTOP), so connections hang rather than fail fast, and calls already sent
//! get no answer. The seller is told the task waits for the marketplace; no item fails
//! for it; when the process continues, the task finishes, and every call the server
//! repeated with its idempotency key made no second listing.

use crate::chaos::check;
use crate::chaos::support::{sandbox, wait_task, Server, Session, Spec};
use std::time::{Duration, Instant};

const ITEMS: usize = 300;
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test]
#[ignore = "chaos: run by `make chaos`"]
async fn marketplace_unreachable_for_30_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = crate::chaos::support::sqlite_in(dir.path()).await;
    let marketplace = sandbox();
    let (_, ids) = backend::testing::seller_with_items(&db, "outage@example.com", ITEMS).await;
    backend::testing::make_all_listable(&db).await;

    let server = Server::start(&Spec::new(&url, &marketplace.url), dir.path(), "server").await;
    let session = Session::login(&server.base, "outage@example.com").await;
    let task_id = session.publish(&ids).await;
    wait_task(
        &db,
        task_id,
        Duration::from_secs(120),
        "a fifth published",
        |t| t.counts.succeeded >= (ITEMS / 5) as i64,
    )
    .await;

    marketplace.process.signal("STOP");
    let stopped = Instant::now();
    let mut held = None;
    while stopped.elapsed() < OUTAGE {
        let task = session.get(&format!("/api/v1/tasks/{task_id}")).await;
        assert_eq!(task.status, 200, "the seller's pages answer: {}", task.body);
        let task = task.json();
        if held.is_none() && !task["hold"].is_null() {
            held = Some((stopped.elapsed(), task["hold"].clone()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = backend::tasks::load(&db, task_id).await.unwrap();
    marketplace.process.signal("CONT");
    let (after, hold) = held.expect("the task showed it waits for the marketplace");
    eprintln!("held after {after:?}: {hold}");
    assert_eq!(
        during.counts.failed, 0,
        "no item failed for the outage: {:?}",
        during.counts
    );
    assert!(
        during.counts.succeeded < ITEMS as i64,
        "the outage came mid-task: {:?}",
        during.counts
    );

    let done = wait_task(&db, task_id, Duration::from_secs(180), "the end", |t| {
        t.status.is_terminal()
    })
    .await;
    assert_eq!(done.counts.succeeded, ITEMS as i64, "{:?}", done.counts);
    let task = session
        .get(&format!("/api/v1/tasks/{task_id}"))
        .await
        .json();
    assert!(task["hold"].is_null(), "the hold is gone: {task}");

    let stats = crate::common::processes::stats(&marketplace.url).await;
    let whole = check::whole(&db, Some(&stats)).await;
    assert_eq!(whole.listings, ITEMS as i64, "{stats}");
}
