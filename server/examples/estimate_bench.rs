//! Honest time (`make bench`, release): publishes tasks of 50, 200 and 1 000 items to the
//! sandbox marketplace at several settings through the real engine and connector, and
//! reports per run the estimate made at creation, the time the task took, the estimate's
//! error at the start and once a quarter was done, how the time compares with the ideal
//! (items ÷ rate), and what the marketplace saw: our calls (hedges among them), its 429s
//! and its idempotent replays. The first run of each setting has no measured calls (the estimate rests on
//! the limit alone); the next ones use what the earlier runs measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::marketplace::Connector;
use backend::pacing::{Pace, Pacer};
use backend::tasks::events::EventBus;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::testing::{Engine as DbEngine, TestDb};
use backend::DatabaseConnection;
use server::sandbox::{Sandbox, SandboxSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

struct Setting {
    name: &'static str,
    sandbox: SandboxSettings,
    items: usize,
    runs: usize,
}

fn settings(postgres: bool) -> Vec<Setting> {
    let defaults = SandboxSettings::default();
    let five_percent = SandboxSettings {
        transient_error_rate: 0.05,
        seed: 2,
        ..defaults.clone()
    };
    let fast = SandboxSettings {
        rate_limit: 20,
        burst: 20,
        latency_ms: (100, 300),
        transient_error_rate: 0.03,
        seed: 3,
    };
    if postgres {
        return vec![
            Setting {
                name: "defaults: 5/s, 150–600 ms, 3 % faults",
                sandbox: defaults,
                items: 200,
                runs: 2,
            },
            Setting {
                name: "20/s, 100–300 ms, 3 % faults",
                sandbox: fast,
                items: 1_000,
                runs: 1,
            },
        ];
    }
    vec![
        Setting {
            name: "defaults: 5/s, 150–600 ms, 3 % faults",
            sandbox: defaults.clone(),
            items: 200,
            runs: 5,
        },
        Setting {
            name: "5/s, 150–600 ms, 5 % faults",
            sandbox: five_percent,
            items: 200,
            runs: 5,
        },
        Setting {
            name: "defaults: 5/s, 150–600 ms, 3 % faults",
            sandbox: SandboxSettings {
                seed: 4,
                ..defaults
            },
            items: 50,
            runs: 3,
        },
        Setting {
            name: "20/s, 100–300 ms, 3 % faults",
            sandbox: fast,
            items: 1_000,
            runs: 1,
        },
    ]
}

async fn serve(settings: SandboxSettings) -> (Sandbox, String) {
    Sandbox::serve_local(settings).await.unwrap()
}

struct Run {
    estimate: backend::estimate::Estimate,
    took: f64,
    at_quarter: Option<f64>,
    calls: u64,
    hedges: u64,
    limited: u64,
    replays: u64,
}

/// One setting: one sandbox, one connector (its measurements carry from run to run, as
/// they do in a server), one engine as `make run` has (32 slots, the pace shared through
/// the database on PostgreSQL).
async fn setting(db: &DatabaseConnection, label: &str, setting: &Setting) -> Vec<Run> {
    let (sandbox, url) = serve(setting.sandbox.clone()).await;
    let pace = Pace {
        per_second: setting.sandbox.rate_limit,
        burst: 1,
    };
    let connector = Arc::new(
        Connector::new(
            &url,
            Arc::new(Pacer::shared(pace, db)),
            Duration::from_secs(15),
        )
        .unwrap(),
    );
    let engine = Arc::new(Engine::new(
        db.clone(),
        server::workers::kinds(db, Arc::clone(&connector)),
        EventBus::new(label, Duration::from_millis(250)),
        EngineConfig::new(32),
    ));
    let email = format!(
        "bench-{}-{}@example.com",
        setting.items, setting.sandbox.seed
    );
    let (seller, ids) = backend::testing::seller_with_items(db, &email, setting.items).await;
    backend::testing::make_all_listable(db).await;
    let stop = CancellationToken::new();
    let runner = tokio::spawn(Arc::clone(&engine).run(stop.clone()));
    let mut runs = Vec::new();
    for _ in 0..setting.runs {
        let before = sandbox.stats().0;
        let calls_before = connector.stats().made();
        let hedges_before = connector.stats().hedged();
        let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
        let created = Instant::now();
        let mut at_quarter = None;
        let done = loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = backend::tasks::load(db, task.id).await.unwrap();
            if now.status.is_terminal() {
                break now;
            }
            let finished = now.counts.succeeded + now.counts.failed + now.counts.skipped;
            if at_quarter.is_none() && finished * 4 >= now.counts.total {
                let left = backend::tasks::query::eta_seconds(&now, chrono::Utc::now());
                at_quarter = left.map(|left| created.elapsed().as_secs_f64() + left as f64);
            }
        };
        assert_eq!(
            done.counts.succeeded, setting.items as i64,
            "{:?}",
            done.counts
        );
        let after = sandbox.stats().0;
        // The same items are listed again in each run, under new keys: the marketplace
        // acted once per item, hedges and quick retries notwithstanding.
        assert_eq!(
            after.create_requests - before.create_requests,
            setting.items as u64,
            "acted on once per item"
        );
        runs.push(Run {
            estimate: task.estimate.unwrap(),
            took: done.duration_seconds().unwrap(),
            at_quarter,
            calls: connector.stats().made() - calls_before,
            hedges: connector.stats().hedged() - hedges_before,
            limited: after.rate_limited - before.rate_limited,
            replays: after.idempotent_replays - before.idempotent_replays,
        });
    }
    stop.cancel();
    runner.await.unwrap();
    runs
}

fn error(said: f64, took: f64) -> String {
    format!("{:+.0} %", (said - took) / took * 100.0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn all(db: &DatabaseConnection, database: &str, postgres: bool) {
    println!("\n{database}\n");
    println!("| setting | items | run | estimate (range) | took | × ideal | error at start | error at ¼ | calls | hedges | 429s | replays |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for setting_ in settings(postgres) {
        let runs = setting(db, database, &setting_).await;
        let ideal = setting_.items as f64 / f64::from(setting_.sandbox.rate_limit);
        for (n, run) in runs.iter().enumerate() {
            println!(
                "| {} | {} | {} | {} s ({}–{} s, {:?}) | {:.1} s | {:.2} | {} | {} | {} | {} | {} | {} |",
                setting_.name,
                setting_.items,
                n + 1,
                run.estimate.seconds,
                run.estimate.low,
                run.estimate.high,
                run.estimate.basis,
                run.took,
                run.took / ideal,
                error(run.estimate.seconds as f64, run.took),
                run.at_quarter
                    .map_or("—".to_owned(), |said| error(said, run.took)),
                run.calls,
                run.hedges,
                run.limited,
                run.replays,
            );
        }
        if runs.len() >= 3 {
            let ratio = median(runs.iter().map(|r| r.took / ideal).collect());
            println!(
                "| {} | {} | median of {} | | | **{ratio:.2}** | | | | | | |",
                setting_.name,
                setting_.items,
                runs.len()
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let sqlite = TestDb::new(DbEngine::Sqlite).await.unwrap();
    all(&sqlite.db, "SQLite", false).await;
    sqlite.finish().await;
    match TestDb::new(DbEngine::Postgres).await {
        Some(postgres) => {
            all(&postgres.db, "PostgreSQL", true).await;
            postgres.finish().await;
        }
        None => println!("\nPostgreSQL: SKIPPED (set TEST_POSTGRES_URL)"),
    }
}
