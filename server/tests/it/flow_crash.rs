//! The flow crash drill: "import 300 rows, then publish what imported" and an export
//! scheduled a few seconds ahead are stored; a `stockroom` server runs them and is
//! killed with SIGKILL in the middle of the import, before the export's time. New
//! servers start on the same database — two of them on PostgreSQL. The import finishes,
//! the publish starts with exactly the import's items, each once, each listing is made once,
//! and the export starts once, on time, after the restart. On SQLite (a file) and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::tasks::create::{self, Later, NewTask};
use backend::tasks::TaskStatus;
use backend::testing::{Engine, TestDb};
use common::processes::{free_port, plain_lines, sandbox_process, server_process, stats};
use sea_orm::DatabaseConnection;
use std::time::{Duration, Instant};

const ROWS: usize = 300;

async fn wait_for(
    db: &DatabaseConnection,
    id: i64,
    deadline: Instant,
    done: impl Fn(&backend::tasks::Task) -> bool,
) -> backend::tasks::Task {
    loop {
        let task = backend::tasks::load(db, id).await.unwrap();
        if done(&task) {
            return task;
        }
        assert!(
            Instant::now() < deadline,
            "task {id} did not get there: {:?} {:?}",
            task.status,
            task.counts
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many items a task has, and how many distinct catalog items they name.
async fn step_items(db: &DatabaseConnection, task_id: i64) -> (i64, i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT catalog_item_id) AS d FROM task_items WHERE task_id = $1",
            vec![task_id.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get::<i64>("", "n").unwrap(),
        row.try_get::<i64>("", "d").unwrap(),
    )
}

async fn drill(db: &DatabaseConnection, database_url: &str, servers_after: usize) {
    let port = free_port();
    let _sandbox = sandbox_process(port);
    let marketplace = format!("http://127.0.0.1:{port}/sandbox/marketplace");
    assert_eq!(stats(&marketplace).await["listings"], 0);
    let (seller, _) = backend::testing::seller_with_items(db, "flow@example.com", 20).await;
    let registry = server::workers::kinds(db, backend::testing::fast_connector(&marketplace));

    // Step 1 checks every row's image with the marketplace: slow enough to be killed in.
    let csv: String = std::iter::once("sku,title,price,quantity,image_url".to_owned())
        .chain((1..=ROWS).map(|n| {
            format!(
                "FLOW-{n:04},Flow item {n},{n}.50,3,/media/demo/{}.svg",
                n % 40 + 1
            )
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let parsed = backend::imports::parse(csv.as_bytes(), &Default::default()).unwrap();
    let now = chrono::Utc::now();
    let import = create::create_flow(
        db,
        &registry,
        NewTask {
            seller_id: seller,
            kind: "import".into(),
            params: backend::imports::params("flow.csv", &parsed, true, 0),
            idempotency_key: None,
        },
        Some(backend::imports::subjects(&parsed)),
        Later {
            start_at: None,
            then: Some("publish".into()),
        },
        now,
    )
    .await
    .unwrap()
    .task()
    .clone();
    let publish_id = import.chain.and_then(|c| c.next).unwrap();
    let ids = backend::catalog::matching_ids(db, seller, &Default::default())
        .await
        .unwrap();
    let export = create::create_flow(
        db,
        &registry,
        backend::testing::task_over(seller, "export", &ids),
        None,
        Later {
            start_at: Some(now + chrono::Duration::seconds(12)),
            then: None,
        },
        now,
    )
    .await
    .unwrap()
    .task()
    .clone();
    assert_eq!(export.status, TaskStatus::Scheduled);

    let logs = tempfile::tempdir().unwrap();
    let first = server_process(database_url, &marketplace, Some(&logs.path().join("0.log")));
    let deadline = Instant::now() + Duration::from_secs(150);
    wait_for(db, import.id, deadline, |t| t.counts.succeeded >= 60).await;
    drop(first); // SIGKILL, mid-import
    let at_kill = backend::tasks::load(db, import.id).await.unwrap();
    assert!(
        !at_kill.status.is_terminal(),
        "killed mid-import: {:?}",
        at_kill.counts
    );
    assert_eq!(
        backend::tasks::load(db, publish_id).await.unwrap().status,
        TaskStatus::Scheduled,
        "the publish waits"
    );
    assert_eq!(
        backend::tasks::load(db, export.id).await.unwrap().status,
        TaskStatus::Scheduled,
        "killed before the export's time"
    );

    let _after: Vec<_> = (1..=servers_after)
        .map(|n| {
            server_process(
                database_url,
                &marketplace,
                Some(&logs.path().join(format!("{n}.log"))),
            )
        })
        .collect();
    let imported = wait_for(db, import.id, deadline, |t| t.status.is_terminal()).await;
    assert_eq!(
        imported.status,
        TaskStatus::Succeeded,
        "{:?}",
        imported.counts
    );
    let published = wait_for(db, publish_id, deadline, |t| t.status.is_terminal()).await;
    assert_eq!(
        published.status,
        TaskStatus::Succeeded,
        "{:?}",
        published.counts
    );
    assert_eq!(
        published.counts.total, ROWS as i64,
        "exactly the import's items"
    );
    // One item per imported catalog item, each once.
    assert_eq!(step_items(db, publish_id).await, (ROWS as i64, ROWS as i64));
    let exported = wait_for(db, export.id, deadline, |t| t.status.is_terminal()).await;
    assert_eq!(exported.status, TaskStatus::Succeeded);
    assert!(
        exported.started_at.unwrap() >= now + chrono::Duration::seconds(12),
        "not before its time"
    );

    let stats = stats(&marketplace).await;
    let account = &stats["accounts"][format!("seller-{seller}")];
    assert_eq!(
        account["listings"], ROWS,
        "one listing per imported item: {stats}"
    );
    assert_eq!(
        account["create_requests"], ROWS,
        "no duplicate creates: {stats}"
    );

    // Across every server that ran: the scheduled start, once (logged after its commit).
    let lines: Vec<String> = (0..=servers_after)
        .flat_map(|n| plain_lines(&logs.path().join(format!("{n}.log"))))
        .collect();
    let count = |what: &str, field: String| {
        lines
            .iter()
            .filter(|l| l.contains(what) && format!("{l} ").contains(&field))
            .count()
    };
    assert_eq!(
        count("scheduled task started", format!(" task_id={} ", export.id)),
        1,
        "{lines:#?}"
    );
    eprintln!(
        "flow crash drill: killed at {} of {ROWS} imported; publish of {} started once; export started once with {servers_after} server(s) after",
        at_kill.counts.succeeded, published.counts.total
    );
}

#[tokio::test]
async fn a_chain_and_a_schedule_survive_a_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/flow.db?mode=rwc", dir.path().display());
    let db = backend::db::connect(&url).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    drill(&db, &url, 1).await;
}

#[tokio::test]
async fn a_chain_and_a_schedule_survive_a_sigkill_with_two_servers_on_postgres() {
    let test_db = TestDb::required(Engine::Postgres).await;
    let url = test_db.url().expect("a PostgreSQL URL");
    drill(&test_db.db, &url, 2).await;
    test_db.finish().await;
}
