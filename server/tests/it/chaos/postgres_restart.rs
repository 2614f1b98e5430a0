//! PostgreSQL restarted in the middle of a publish. Two servers share the database: one
//! runs the workers, the other only serves the seller, whose event stream hears the
//! workers' progress through `NOTIFY`. The database goes away for a few seconds (every
//! connection cut, open transactions rolled back) and comes back: the workers reconnect
//! and finish the task; the other server's listener reconnects, ends the stream it had
//! open (events sent meanwhile are lost), and the seller's new stream hears the end from
//! the workers; each listing exists once.

use crate::chaos::check;
use crate::chaos::postgres::Cluster;
use crate::chaos::support::{sandbox, wait_task, Server, Session, Spec};
use std::time::Duration;

const ITEMS: usize = 400;

#[tokio::test]
#[ignore = "chaos: run by `make chaos`"]
async fn postgres_restarted_mid_task() {
    let Some((cluster, url, db)) = Cluster::with_database().await else {
        return;
    };
    let marketplace = sandbox();
    let (_, ids) = backend::testing::seller_with_items(&db, "restart@example.com", ITEMS).await;
    backend::testing::make_all_listable(&db).await;

    let logs = tempfile::tempdir().unwrap();
    let spec = Spec::new(&url, &marketplace.url);
    let worker = Server::start(&spec, logs.path(), "worker").await;
    let front = Server::start(
        &Spec::new(&url, &marketplace.url).workers(0),
        logs.path(),
        "front",
    )
    .await;
    let session = Session::login(&front.base, "restart@example.com").await;
    let mut stream = session.events().await;
    let (name, _) = stream.next().await.expect("a first event");
    assert_eq!(name, "snapshot");

    let task_id = session.publish(&ids).await;

    wait_task(
        &db,
        task_id,
        Duration::from_secs(120),
        "a quarter published",
        |t| t.counts.succeeded >= (ITEMS / 4) as i64,
    )
    .await;
    cluster.down();
    tokio::time::sleep(Duration::from_secs(4)).await;
    cluster.up();
    let at_restart = backend::tasks::load(&db, task_id).await.unwrap();
    assert!(
        at_restart.counts.succeeded < ITEMS as i64,
        "restarted mid-task: {:?}",
        at_restart.counts
    );

    // Events sent while the database was away are lost to the front server, so the stream
    // it had open ends: the browser starts over from a snapshot.
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while stream.next().await.is_some() {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the stream open across the restart was ended"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        if let Some(stream) = session.try_events().await {
            break stream;
        }
        assert!(std::time::Instant::now() < deadline, "no new stream");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (name, snapshot) = stream.next().await.expect("a snapshot");
    assert_eq!(name, "snapshot");
    let running = snapshot["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["id"] == task_id))
        .is_some_and(|task| task["status"] == "running");
    // Still running: its end can reach this server only through the reconnected LISTEN.
    assert!(
        running,
        "the task is still under way after the restart: {snapshot}"
    );
    let ended = stream.until_ended(task_id, Duration::from_secs(180)).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["counts"]["succeeded"], ITEMS, "{ended}");
    let done = backend::tasks::load(&db, task_id).await.unwrap();
    assert_eq!(done.counts.succeeded, ITEMS as i64, "{:?}", done.counts);

    let stats = crate::common::processes::stats(&marketplace.url).await;
    let whole = check::whole(&db, Some(&stats)).await;
    assert_eq!(whole.listings, ITEMS as i64, "{stats}");
    // Both servers are still up and ready.
    for server in [&worker, &front] {
        let ready = reqwest::get(format!("{}/readyz", server.base))
            .await
            .unwrap();
        assert!(
            ready.status().is_success(),
            "{} not ready after the restart; its log:\n{}",
            server.base,
            server.log_text()
        );
    }
}
