//! Three `stockroom` processes share one PostgreSQL database and 3 000 no-op items; one
//! is killed with SIGKILL mid-run. The other two finish the task, and every item reaches
//! success exactly once: each item has exactly one recorded execution matching its
//! stored result, live processes never ran an item twice, and only the killed process's
//! unfinished items were executed again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::domain::{Email, Password};
use backend::tasks::create::{self, NewTask};
use backend::tasks::noop::Noop;
use backend::tasks::{Registry, TaskStatus};
use backend::testing::{Engine, TestDb};
use sea_orm::{FromQueryResult, Statement};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ITEMS: u64 = 3_000;

fn start(database_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stockroom"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("STOCKROOM_WORKERS", "8")
        .env("STOCKROOM_TEST_KINDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stockroom")
}

#[derive(Debug, FromQueryResult)]
struct Execution {
    task_item_id: i64,
    attempt: i32,
    pid: i32,
}

#[derive(Debug, FromQueryResult)]
struct Outcome {
    id: i64,
    status: String,
    result: Option<String>,
}

#[tokio::test]
async fn three_processes_share_the_work_and_survive_a_sigkill() {
    let test_db = TestDb::required(Engine::Postgres).await;
    let db = test_db.db.clone();
    let url = test_db.url().expect("a PostgreSQL URL");
    let noop = Noop::recording(db.clone()).await.unwrap();
    let seller = backend::accounts::create_seller(
        &db,
        &Email::parse("crash@example.com").unwrap(),
        None,
        &Password::parse("crash-drill-password").unwrap(),
    )
    .await
    .unwrap()
    .id;

    let mut processes: Vec<Child> = (0..3).map(|_| start(&url)).collect();
    let registry = Registry::new().register(noop);
    let params = serde_json::json!({ "items": ITEMS, "sleep_ms": 20 });
    let task = create::create(
        &db,
        &registry,
        NewTask {
            seller_id: seller,
            kind: "noop".into(),
            params,
            idempotency_key: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .task()
    .clone();

    // Kill one process once the work is well under way.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = backend::tasks::load(&db, task.id).await.unwrap();
        if now.counts.succeeded >= (ITEMS / 4) as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {:?}", now.counts);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed_pid = processes[0].id() as i32;
    processes[0].kill().unwrap();
    processes[0].wait().unwrap();
    let at_kill = backend::tasks::load(&db, task.id).await.unwrap();
    assert!(
        at_kill.counts.succeeded < ITEMS as i64,
        "killed mid-run, not after"
    );

    // The survivors finish, reclaiming the dead process's leases.
    let finished = loop {
        let now = backend::tasks::load(&db, task.id).await.unwrap();
        if now.status.is_terminal() {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "did not finish: {:?}",
            now.counts
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished.status, TaskStatus::Succeeded);
    assert_eq!(finished.counts.succeeded, ITEMS as i64);

    let backend = db.get_database_backend();
    let executions = Execution::find_by_statement(Statement::from_string(
        backend,
        "SELECT task_item_id, attempt, pid FROM noop_executions",
    ))
    .all(&db)
    .await
    .unwrap();
    let outcomes = Outcome::find_by_statement(Statement::from_sql_and_values(
        backend,
        "SELECT id, status, result FROM task_items WHERE task_id = $1",
        vec![task.id.into()],
    ))
    .all(&db)
    .await
    .unwrap();
    assert_eq!(outcomes.len() as u64, ITEMS);

    let mut by_item: HashMap<i64, Vec<&Execution>> = HashMap::new();
    for execution in &executions {
        by_item
            .entry(execution.task_item_id)
            .or_default()
            .push(execution);
    }
    let mut reexecuted = 0;
    for outcome in &outcomes {
        assert_eq!(outcome.status, "succeeded");
        let result: serde_json::Value =
            serde_json::from_str(outcome.result.as_deref().unwrap()).unwrap();
        let (pid, attempt) = (
            result["pid"].as_i64().unwrap() as i32,
            result["attempt"].as_i64().unwrap() as i32,
        );
        let runs = by_item.get(&outcome.id).cloned().unwrap_or_default();
        let matching = runs
            .iter()
            .filter(|e| e.pid == pid && e.attempt == attempt)
            .count();
        assert_eq!(
            matching, 1,
            "item {} must have exactly one execution behind its success: {runs:?}",
            outcome.id
        );
        let live_runs = runs.iter().filter(|e| e.pid != killed_pid).count();
        assert!(
            live_runs <= 1,
            "a live process ran item {} twice: {runs:?}",
            outcome.id
        );
        if runs.len() > 1 {
            reexecuted += 1;
            assert!(runs
                .iter()
                .filter(|e| !(e.pid == pid && e.attempt == attempt))
                .all(|e| e.pid == killed_pid));
        }
    }
    let pids: std::collections::BTreeSet<i32> = executions.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), 3, "all three processes took part");
    eprintln!("multi-process drill: {} executions for {ITEMS} items, {reexecuted} re-run after the SIGKILL", executions.len());

    // The survivors stop gracefully on SIGTERM.
    for child in processes.iter_mut().skip(1) {
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "graceful exit, got {status:?}");
    }
    test_db.finish().await;
}
