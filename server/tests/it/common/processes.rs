//! Real processes for the crash drills: the sandbox marketplace and `stockroom serve`,
//! killed (SIGKILL) when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the process when dropped, so a failing assertion leaves nothing running.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The sandbox at its default pace, with latency and a few transient errors.
pub fn sandbox_process(port: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_stockroom"))
            .args(["sandbox", "--addr", &format!("127.0.0.1:{port}")])
            .env("SANDBOX_RATE_LIMIT", "100")
            .env("SANDBOX_BURST", "10")
            .env("SANDBOX_LATENCY_MS", "20-80")
            .env("SANDBOX_TRANSIENT_ERROR_RATE", "0.02")
            .env("SANDBOX_SEED", "11")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox"),
    )
}

/// A server on `database_url`; with `log`, its log (the engine's flow steps included)
/// goes to that file.
pub fn server_process(database_url: &str, marketplace: &str, log: Option<&Path>) -> Process {
    // The log is written to standard output.
    let (filter, stdout) = match log {
        Some(path) => (
            "warn,backend::tasks::schedule=info,backend::tasks::chain=info",
            Stdio::from(std::fs::File::create(path).expect("a log file")),
        ),
        None => ("warn", Stdio::null()),
    };
    Process(
        Command::new(env!("CARGO_BIN_EXE_stockroom"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("STOCKROOM_WORKERS", "4")
            .env("MARKETPLACE_URL", marketplace)
            .env("MARKETPLACE_RATE_LIMIT", "90")
            // Opens the test sellers' connections (`common::test_secret_key`).
            .env("STOCKROOM_SECRET_KEY", "5a".repeat(32))
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("start stockroom"),
    )
}

/// The sandbox's `_stats`, once it answers.
pub async fn stats(marketplace: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match reqwest::get(format!("{marketplace}/_stats")).await {
            Ok(reply) if reply.status().is_success() => return reply.json().await.unwrap(),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("the sandbox did not answer: {other:?}"),
        }
    }
}

/// A log's lines without terminal colours.
pub fn plain_lines(path: &Path) -> Vec<String> {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.lines().map(str::to_owned).collect()
}
