//! A live event stream that reads nothing (a stalled tab, a proxy holding the
//! connection), of a seller whose hundreds of small tasks send thousands of events, beside
//! 1,000 streams of another seller that read as they should while that seller's own tasks
//! run. Nobody else's delivery slows: every normal stream gets every event, within moments
//! of the others, and none of them ever has to skip ahead. The server's memory stays
//! bounded: the stalled stream is not buffered past the socket; when it reads again, it
//! gets a fresh snapshot instead of what it missed.

use crate::chaos::check;
use crate::chaos::support::{sandbox, Server, Session, Spec};
use backend::tasks::create::{self, NewTask};
use backend::tasks::noop::Noop;
use backend::tasks::Registry;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NORMAL: usize = 1_000;
/// The busy seller's tasks: each sends a few events and a notification, more in all than
/// the stalled socket and its channel hold.
const BUSY_TASKS: usize = 4_000;
const TOKEN: &str = "chaos-metrics-token";

/// What one normal stream saw: each task event `(task, seq)` and when, and how often it
/// was sent a snapshot after its first.
#[derive(Default)]
struct Seen {
    arrivals: HashMap<(i64, i64), Instant>,
    ended: Vec<i64>,
    resyncs: usize,
}

async fn gauge(base: &str, name: &str) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A stream that sends its request and then reads nothing, with a small receive buffer.
async fn stalled_stream(base: &str, cookie: &str) -> tokio::net::TcpStream {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

fn tasks_over(seller: i64, count: usize, items: u64, sleep_ms: u64) -> Vec<NewTask> {
    (0..count)
        .map(|_| NewTask {
            seller_id: seller,
            kind: "noop".into(),
            params: serde_json::json!({ "items": items, "sleep_ms": sleep_ms }),
            idempotency_key: None,
        })
        .collect()
}

// The thousand readers must not be what is slow: they get the test's threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos: run by `make chaos`"]
async fn a_stalled_event_stream_beside_a_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = crate::chaos::support::sqlite_in(dir.path()).await;
    let marketplace = sandbox();
    let (seller, _) = backend::testing::seller_with_items(&db, "watch@example.com", 0).await;
    let (busy, _) = backend::testing::seller_with_items(&db, "busy@example.com", 0).await;
    let spec = Spec::new(&url, &marketplace.url)
        .workers(16)
        .env("STOCKROOM_TEST_KINDS", "1")
        .env("STOCKROOM_METRICS_TOKEN", TOKEN);
    let server = Server::start(&spec, dir.path(), "server").await;
    let session = Session::login(&server.base, "watch@example.com").await;

    let busy_session = Session::login(&server.base, "busy@example.com").await;
    let mut stalled = stalled_stream(&server.base, &busy_session.cookie()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut clients = Vec::with_capacity(NORMAL);
    for _ in 0..NORMAL {
        let session = session.clone();
        let mut stopped = stopped.clone();
        clients.push(tokio::spawn(async move {
            let mut events = session.events().await;
            let mut seen = Seen::default();
            let mut first = true;
            loop {
                tokio::select! {
                    event = events.next() => {
                        let Some((name, data)) = event else { break };
                        if name == "snapshot" {
                            seen.resyncs += usize::from(!first);
                            first = false;
                        } else if name == "task" {
                            let key = (data["id"].as_i64().unwrap(), data["seq"].as_i64().unwrap());
                            seen.arrivals.entry(key).or_insert_with(Instant::now);
                            if data["status"] == "succeeded" {
                                seen.ended.push(key.0);
                            }
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
            seen
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while gauge(&server.base, "stockroom_event_streams_open").await < (NORMAL + 1) as f64 {
        assert!(Instant::now() < deadline, "the streams did not all open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let baseline = server.process.rss_kib();

    // The watched seller's work, and the busy seller's many small tasks.
    let registry = Registry::new().register(Noop::new());
    let mut watched = Vec::new();
    let mut all = Vec::new();
    let now = chrono::Utc::now();
    let new_tasks = tasks_over(seller, 3, 300, 40)
        .into_iter()
        .map(|task| (true, task))
        .chain(
            tasks_over(busy, BUSY_TASKS, 1, 0)
                .into_iter()
                .map(|task| (false, task)),
        );
    for (mine, task) in new_tasks {
        let id = create::create(&db, &registry, task, now)
            .await
            .unwrap()
            .task()
            .id;
        all.push(id);
        if mine {
            watched.push(id);
        }
    }
    eprintln!("{} tasks created", all.len());
    let mut peak = baseline;
    for &id in &all {
        loop {
            peak = peak.max(server.process.rss_kib());
            let task = backend::tasks::load(&db, id).await.unwrap();
            if task.status.is_terminal() {
                break;
            }
            assert!(
                Instant::now() < deadline + Duration::from_secs(120),
                "task {id} did not end"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(true).unwrap();
    let mut seen = Vec::with_capacity(NORMAL);
    for client in clients {
        seen.push(client.await.unwrap());
    }

    // Every normal stream saw every watched task end, and never had to skip ahead.
    for (n, client) in seen.iter().enumerate() {
        for id in &watched {
            assert!(
                client.ended.contains(id),
                "stream {n} missed the end of task {id}"
            );
        }
        assert_eq!(client.resyncs, 0, "stream {n} fell behind");
    }
    // Each event reached every stream within moments of the first.
    let mut spreads: Vec<Duration> = Vec::new();
    for key in seen[0].arrivals.keys() {
        let times: Vec<Instant> = seen
            .iter()
            .filter_map(|s| s.arrivals.get(key).copied())
            .collect();
        if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) {
            spreads.push(*last - *first);
        }
    }
    spreads.sort();
    let p95 = spreads[spreads.len() * 95 / 100];
    let worst = *spreads.last().unwrap();
    eprintln!(
        "{} events to {NORMAL} streams: spread p95 {p95:?}, worst {worst:?}; memory {} MiB, peak {} MiB",
        spreads.len(),
        baseline / 1024,
        peak / 1024
    );
    assert!(
        p95 < Duration::from_secs(1),
        "delivery slowed: p95 spread {p95:?}"
    );
    assert!(
        peak < baseline + 96 * 1024,
        "memory grew from {baseline} KiB to {peak} KiB"
    );

    // The stalled stream, read at last: a snapshot to catch up, not a backlog.
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let read_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < read_until {
        match tokio::time::timeout(Duration::from_millis(500), stalled.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&received);
    let snapshots = text.matches("event: snapshot").count();
    eprintln!(
        "the stalled stream held {} KiB and {snapshots} snapshots",
        received.len() / 1024
    );
    assert!(
        snapshots >= 2,
        "the stalled stream skipped ahead with a fresh snapshot"
    );
    // The operators' view of the same: the streams' lag was measured.
    let lag = gauge(&server.base, "stockroom_event_lag_seconds_count").await;
    assert!(lag > 0.0, "the event lag was recorded");
    drop(session);
    check::whole(&db, None).await;
}
