//! The server killed with SIGKILL, three times, each in the middle of a different kind of
//! work, and started again on the same SQLite file each time:
//! - an import of 1,500 rows uploaded over HTTP: every row becomes exactly one item;
//! - an export of those items: the file downloaded afterwards has each item once;
//! - a chain, "import 300 rows, then publish what imported", killed once in each step:
//!   the publish covers exactly the imported items, and each is listed once.

use crate::chaos::check;
use crate::chaos::support::{csv, sandbox, wait_task, Server, Session, Spec};
use std::collections::HashSet;
use std::time::Duration;

const IMPORTED: usize = 1_500;
const CHAINED: usize = 300;
const WITHIN: Duration = Duration::from_secs(180);

#[tokio::test]
#[ignore = "chaos: run by `make chaos`"]
async fn sigkill_during_import_export_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = crate::chaos::support::sqlite_in(dir.path()).await;
    let marketplace = sandbox();
    let (seller, _) = backend::testing::seller_with_items(&db, "kill@example.com", 0).await;
    let spec = Spec::new(&url, &marketplace.url);
    let mut server = Server::start(&spec, dir.path(), "server-1").await;
    let mut session = Session::login(&server.base, "kill@example.com").await;
    let mut restarts = 1;
    // Kills the server while `task` is under way, and starts another on the same file.
    macro_rules! restart {
        ($task:expr, $what:literal) => {{
            server.process.kill();
            let at_kill = backend::tasks::load(&db, $task).await.unwrap();
            assert!(
                !at_kill.status.is_terminal(),
                "killed {}: {:?}",
                $what,
                at_kill.counts
            );
            restarts += 1;
            server = Server::start(&spec, dir.path(), &format!("server-{restarts}")).await;
            session = session.on(&server.base);
        }};
    }

    // 1. An import.
    let upload = session
        .upload("/api/v1/imports", "big.csv", &csv("BIG", IMPORTED))
        .await;
    assert_eq!(upload.status, 202, "{}", upload.body);
    let import = upload.json()["id"].as_i64().unwrap();
    wait_task(&db, import, WITHIN, "a third imported", |t| {
        t.counts.succeeded >= (IMPORTED / 3) as i64
    })
    .await;
    restart!(import, "mid-import");
    let done = wait_task(&db, import, WITHIN, "the import's end", |t| {
        t.status.is_terminal()
    })
    .await;
    assert_eq!(done.counts.succeeded, IMPORTED as i64, "{:?}", done.counts);
    assert_eq!(
        check::catalog(&db, seller).await,
        (IMPORTED as i64, IMPORTED as i64),
        "each row imported once"
    );

    // 2. An export of everything.
    let created = session
        .post(
            "/api/v1/tasks",
            serde_json::json!({ "kind": "export", "filter": {} }),
        )
        .await;
    assert_eq!(created.status, 202, "{}", created.body);
    let export = created.json()["id"].as_i64().unwrap();
    // Exports are quick: killed as soon as the first rows are written.
    wait_task(&db, export, WITHIN, "the first rows exported", |t| {
        t.counts.succeeded >= 1
    })
    .await;
    restart!(export, "mid-export");
    wait_task(&db, export, WITHIN, "the export's end", |t| {
        t.status.is_terminal()
    })
    .await;
    let file = session
        .get(&format!("/api/v1/tasks/{export}/export.csv"))
        .await;
    assert_eq!(file.status, 200, "{}", file.body);
    let mut reader = csv::Reader::from_reader(file.body.trim_start_matches('\u{feff}').as_bytes());
    let skus: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[0].to_owned())
        .collect();
    let distinct: HashSet<&String> = skus.iter().collect();
    assert_eq!(skus.len(), IMPORTED, "one row per item");
    assert_eq!(distinct.len(), IMPORTED, "no row twice");

    // 3. A chain: import, then publish what imported; killed in each step.
    let upload = session
        .upload(
            "/api/v1/imports?then=publish",
            "chain.csv",
            &csv("CHAIN", CHAINED),
        )
        .await;
    assert_eq!(upload.status, 202, "{}", upload.body);
    let first = upload.json()["id"].as_i64().unwrap();
    let step = wait_task(&db, first, WITHIN, "a third of step 1", |t| {
        t.counts.succeeded >= (CHAINED / 3) as i64
    })
    .await;
    let publish = step.chain.and_then(|chain| chain.next).expect("step 2");
    restart!(first, "in step 1");
    wait_task(&db, publish, WITHIN, "a third of step 2", |t| {
        t.counts.succeeded >= (CHAINED / 3) as i64
    })
    .await;
    restart!(publish, "in step 2");
    let done = wait_task(&db, publish, WITHIN, "the chain's end", |t| {
        t.status.is_terminal()
    })
    .await;
    assert_eq!(
        done.counts.total, CHAINED as i64,
        "exactly the import's items"
    );
    assert_eq!(done.counts.succeeded, CHAINED as i64, "{:?}", done.counts);
    let shown = session
        .get(&format!("/api/v1/tasks/{publish}"))
        .await
        .json();
    assert_eq!(shown["status"], "succeeded", "the seller sees it: {shown}");

    let stats = crate::common::processes::stats(&marketplace.url).await;
    let whole = check::whole(&db, Some(&stats)).await;
    assert_eq!(whole.listings, CHAINED as i64, "{stats}");
    assert_eq!(whole.tasks, 4);
    drop(server);
}
