//! Live-update benchmark: `make bench` (release).
//! - latency from an event's publication on the bus (the engine publishes right after it
//!   commits) to its arrival at SSE clients over real HTTP, p50/p95/p99, with 1 and with
//!   1 000 connected clients;
//! - memory held per idle stream with 5 000 streams open (the process's resident memory
//!   before and after, divided by 5 000; the minimal clients live in the same process, so
//!   this is an upper bound for the server's share).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::tasks::events::{EventBus, TaskEvent};
use backend::tasks::worker::{Engine, EngineConfig};
use backend::testing::{Engine as DbEngine, TestDb};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const IDLE: usize = 5_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A minimal SSE client: sends the request, then reports the arrival time of every
/// `task` event whose data carries `"seq":N`, as (N, when).
async fn client(
    addr: std::net::SocketAddr,
    cookie: String,
    arrivals: Option<mpsc::UnboundedSender<(i64, Instant)>>,
) -> tokio::task::JoinHandle<()> {
    connect(addr, "/api/v1/events", cookie, arrivals).await
}

async fn connect(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: String,
    arrivals: Option<mpsc::UnboundedSender<(i64, Instant)>>,
) -> tokio::task::JoinHandle<()> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let Some(arrivals) = arrivals else {
        // Idle: read the headers and the snapshot, then just hold the connection.
        let mut buffer = vec![0u8; 4096];
        let _ = stream.read(&mut buffer).await;
        return tokio::spawn(async move {
            let mut byte = [0u8; 1];
            // Holds the connection until aborted (keep-alives are read and dropped).
            while matches!(stream.read(&mut byte).await, Ok(n) if n > 0) {}
        });
    };
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        let mut text = String::new();
        loop {
            let n = match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let now = Instant::now();
            text.push_str(&String::from_utf8_lossy(&buffer[..n]));
            while let Some(at) = text.find("\"seq\":") {
                let rest = &text[at + 6..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(seq) = digits.parse::<i64>() {
                    let _ = arrivals.send((seq, now));
                }
                text.drain(..at + 6);
            }
        }
    })
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} deliveries)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len()
    )
}

#[tokio::main]
async fn main() {
    let test_db = TestDb::new(DbEngine::Sqlite).await.unwrap();
    let db = test_db.db.clone();
    let (seller, ids) = backend::testing::seller_with_items(&db, "bench@example.com", 1).await;
    let bus = EventBus::new("bench", Duration::ZERO);
    let registry =
        server::workers::kinds(&db, backend::testing::fast_connector("http://127.0.0.1:9"));
    let engine = Arc::new(Engine::new(
        db.clone(),
        registry,
        bus.clone(),
        EngineConfig::new(0),
    ));
    let options = leptos::config::LeptosOptions::builder()
        .output_name("stockroom")
        .build();
    let app = server::app(
        server::state(
            options,
            db.clone(),
            Arc::clone(&engine),
            Arc::new(backend::connectors::Marketplaces::new(None, "http://127.0.0.1:9").unwrap()),
        ),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A real task row to publish events about.
    let task = backend::testing::start_task(&engine, seller, "publish", &ids).await;
    let mut event = TaskEvent::from(&task);

    let cookie = {
        let token = backend::sessions::start(&db, seller, Default::default(), chrono::Utc::now())
            .await
            .unwrap();
        format!("stockroom_session={}", token.as_str())
    };
    let mut seq = 1_000;
    let child = std::env::args().nth(1).is_some();
    for clients in [1_usize, 1_000].into_iter().filter(|_| !child) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut holders = Vec::new();
        for _ in 0..clients {
            holders.push(client(addr, cookie.clone(), Some(tx.clone())).await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await; // every snapshot delivered
        while rx.try_recv().is_ok() {}
        let rounds = if clients == 1 { 500 } else { 100 };
        let mut sent = std::collections::HashMap::new();
        let mut samples = Vec::with_capacity(rounds * clients);
        for _ in 0..rounds {
            seq += 1;
            event.seq = seq;
            sent.insert(seq, Instant::now());
            bus.publish(event.clone());
            // Collect this round's deliveries before the next, as a live UI would see them.
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut got = 0;
            while got < clients && Instant::now() < deadline {
                if let Ok(Some((n, when))) =
                    tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
                {
                    if let Some(at) = sent.get(&n) {
                        samples.push(when.duration_since(*at));
                        got += 1;
                    }
                }
            }
        }
        println!(
            "event latency, {clients} client(s): {}",
            percentiles(samples)
        );
        holders.iter().for_each(|h| h.abort());
    }

    match std::env::args().nth(1).as_deref() {
        // One memory phase per process, so neither inherits the other's heap.
        Some(phase @ ("streams" | "plain")) => {
            let path = if phase == "streams" {
                "/api/v1/events"
            } else {
                "/healthz"
            };
            let before = rss_kib();
            let mut idle = Vec::with_capacity(IDLE);
            for _ in 0..IDLE {
                idle.push(connect(addr, path, cookie.clone(), None).await);
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            println!("{}", rss_kib().saturating_sub(before));
            idle.iter().for_each(|h| h.abort());
        }
        _ => {
            let run = |phase: &str| -> f64 {
                let out = std::process::Command::new(std::env::current_exe().unwrap())
                    .arg(phase)
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<f64>()
                    .unwrap_or(0.0)
            };
            let streams = run("streams");
            let plain = run("plain");
            println!(
                "{IDLE} idle connections: {:.1} KiB each as event streams, {:.1} KiB each as plain keep-alive connections; {:.1} KiB per stream for the stream itself (resident memory, both ends in one process)",
                streams / IDLE as f64,
                plain / IDLE as f64,
                (streams - plain) / IDLE as f64
            );
        }
    }
    test_db.finish().await;
}
