//! The processes a scenario runs and the seller's side of the wire: `stockroom serve` on a
//! known port with its log kept, the sandbox marketplace at its default pace, a signed-in
//! HTTP session, and a reader of the live event stream.

use crate::common::processes::free_port;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::chaos::postgres::is_root;

/// The test sellers' password (`backend::testing::seller_with_items`).
pub const PASSWORD: &str = "correct horse battery";

/// The `stockroom` binary the scenarios run: `STOCKROOM_BIN` (`make chaos` sets the
/// release build, what operators run), or this test build's own.
pub fn binary() -> String {
    std::env::var("STOCKROOM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stockroom").to_owned())
}

/// A child process, killed (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    name: String,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, `KILL`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the process's status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sandbox marketplace in a process of its own, at `make run`'s pace: latency, a
/// rate limit per account, and a few transient errors.
pub struct Sandbox {
    pub process: Process,
    /// The marketplace's base URL (`…/sandbox/marketplace`).
    pub url: String,
}

pub fn sandbox() -> Sandbox {
    let port = free_port();
    let process = Process {
        child: Command::new(binary())
            .args(["sandbox", "--addr", &format!("127.0.0.1:{port}")])
            .env("SANDBOX_RATE_LIMIT", "100")
            .env("SANDBOX_BURST", "10")
            .env("SANDBOX_LATENCY_MS", "20-80")
            .env("SANDBOX_TRANSIENT_ERROR_RATE", "0.02")
            .env("SANDBOX_SEED", "21")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox"),
        name: "sandbox".into(),
    };
    Sandbox {
        process,
        url: format!("http://127.0.0.1:{port}/sandbox/marketplace"),
    }
}

/// How to start a server.
pub struct Spec {
    pub database_url: String,
    pub marketplace: String,
    pub workers: usize,
    pub env: Vec<(&'static str, String)>,
}

impl Spec {
    pub fn new(database_url: &str, marketplace: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            marketplace: marketplace.to_owned(),
            workers: 4,
            env: Vec::new(),
        }
    }

    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    pub fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }
}

/// `stockroom serve` on a port of its own; its log (warnings and errors) in `log`.
pub struct Server {
    pub process: Process,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts a server and waits until it answers `/healthz`.
    pub async fn start(spec: &Spec, logs: &Path, name: &str) -> Self {
        let port = free_port();
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env("DATABASE_URL", &spec.database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("STOCKROOM_WORKERS", spec.workers.to_string())
            .env("MARKETPLACE_URL", &spec.marketplace)
            .env("MARKETPLACE_RATE_LIMIT", "90")
            .env("STOCKROOM_SECRET_KEY", "5a".repeat(32))
            .env("STOCKROOM_LOGIN_BURST_PER_CLIENT", "1000")
            .env("STOCKROOM_LOGIN_BURST_PER_EMAIL", "1000")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(file.try_clone().expect("the log file")))
            // Panics are written to standard error: into the same log.
            .stderr(Stdio::from(file));
        for (name, value) in &spec.env {
            command.env(name, value);
        }
        let process = Process {
            child: command.spawn().expect("start stockroom"),
            name: name.to_owned(),
        };
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match reqwest::get(format!("{base}/healthz")).await {
                Ok(reply) if reply.status().is_success() => break,
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "{name} did not come up; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Self { process, base, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    /// A failed scenario shows the end of each server's log.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("--- the end of {} ---\n{tail}", self.log.display());
        }
    }
}

/// A seller signed in to one server, as a script (no browser) would be.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    client: reqwest::Client,
    cookie: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }
}

impl Session {
    pub async fn login(base: &str, email: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let reply = client
            .post(format!("{base}/api/v1/login"))
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("log in");
        assert!(reply.status().is_success(), "login: {}", reply.status());
        let cookie = reply
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("stockroom_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        Self {
            base: base.to_owned(),
            client,
            cookie,
        }
    }

    /// The session's cookie (`stockroom_session=…`).
    pub fn cookie(&self) -> String {
        self.cookie.clone()
    }

    /// The same seller on another server (sessions live in the shared database).
    pub fn on(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let reply = request
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("the server answers");
        Reply {
            status: reply.status(),
            body: reply.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// Uploads a CSV as the import form does (multipart, field `file`).
    pub async fn upload(&self, path: &str, name: &str, csv: &str) -> Reply {
        let boundary = "chaos-boundary-7f3a";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        );
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }

    /// Opens the live event stream.
    pub async fn events(&self) -> Events {
        self.try_events().await.expect("the event stream opens")
    }

    /// Opens the live event stream, if the server can now.
    pub async fn try_events(&self) -> Option<Events> {
        let reply = self
            .client
            .get(format!("{}/api/v1/events", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .ok()?;
        reply.status().is_success().then(|| Events {
            reply,
            buffer: String::new(),
        })
    }
}

/// A reader of Server-Sent Events.
pub struct Events {
    reply: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next event's name and data; `None` once the stream ends.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
            match self.reply.chunk().await {
                Ok(Some(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Waits for the `task` event that shows `task_id` ended.
    pub async fn until_ended(&mut self, task_id: i64, within: Duration) -> Value {
        let wait = async {
            while let Some((name, data)) = self.next().await {
                let ended = |task: &Value| {
                    task["id"] == task_id
                        && matches!(
                            task["status"].as_str(),
                            Some("succeeded" | "failed" | "cancelled")
                        )
                };
                if name == "task" && ended(&data) {
                    return data;
                }
                if name == "snapshot" {
                    if let Some(task) = data["tasks"]
                        .as_array()
                        .and_then(|tasks| tasks.iter().find(|task| ended(task)))
                    {
                        return task.clone();
                    }
                }
            }
            panic!("the event stream ended before task {task_id} did");
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or_else(|_| panic!("no event said task {task_id} ended"))
    }
}

/// A SQLite file in `dir`, migrated: its URL (for the servers) and a connection.
pub async fn sqlite_in(dir: &Path) -> (String, backend::DatabaseConnection) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("chaos.db").display());
    (url.clone(), migrated(&url).await)
}

/// A connection to `url`, its schema brought up to date.
pub async fn migrated(url: &str) -> backend::DatabaseConnection {
    let db = backend::db::connect(url).await.expect("connect");
    backend::db::migrate(&db).await.expect("migrate");
    db
}

impl Session {
    /// Asks for a publish of these items, as the catalog's bulk action does: the task's id.
    pub async fn publish(&self, item_ids: &[i64]) -> i64 {
        let created = self
            .post(
                "/api/v1/tasks",
                serde_json::json!({ "kind": "publish", "item_ids": item_ids }),
            )
            .await;
        assert_eq!(created.status, 202, "{}", created.body);
        created.json()["id"].as_i64().expect("a task id")
    }
}

/// Polls the database until `done` holds for the task, or panics after `within`.
pub async fn wait_task(
    db: &backend::DatabaseConnection,
    task_id: i64,
    within: Duration,
    what: &str,
    done: impl Fn(&backend::tasks::Task) -> bool,
) -> backend::tasks::Task {
    let deadline = Instant::now() + within;
    let mut last = None;
    loop {
        // The database may be briefly away (a restart): keep asking.
        if let Ok(task) = backend::tasks::load(db, task_id).await {
            if done(&task) {
                return task;
            }
            last = Some((task.status, task.counts));
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id}: {what} did not happen; last seen {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A CSV of `rows` valid items, SKUs `{prefix}-0001`…, images the marketplace can fetch.
pub fn csv(prefix: &str, rows: usize) -> String {
    let mut out = String::from("sku,title,description,price,currency,quantity,image_url\n");
    for n in 1..=rows {
        out.push_str(&format!(
            "{prefix}-{n:05},{prefix} item {n},Made for the chaos suite,{}.50,EUR,{},/media/demo/{}.svg\n",
            n % 90 + 5,
            n % 7 + 1,
            n % 40 + 1
        ));
    }
    out
}
