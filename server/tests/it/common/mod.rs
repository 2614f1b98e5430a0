//! What the HTTP tests share: the app behind its Router (no socket), a seller with
//! items, and the sandbox marketplace on a local port.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use axum::body::Body;
use axum::Router;
use backend::domain::{Email, Password};
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub mod processes;

pub struct TestApp {
    pub router: Router,
    pub engine: std::sync::Arc<backend::tasks::worker::Engine>,
}

/// An engine with the seller-facing kinds, talking to the marketplace at `marketplace_url`.
pub fn engine(
    db: &backend::DatabaseConnection,
    marketplace_url: &str,
) -> std::sync::Arc<backend::tasks::worker::Engine> {
    let bus = backend::tasks::events::EventBus::new("test", std::time::Duration::ZERO);
    engine_on(db, marketplace_url, bus)
}

/// A marketplace nobody answers at.
const UNUSED: &str = "http://127.0.0.1:9/unused";

/// The server key of the test apps (its credentials are sealed with it).
pub fn test_secret_key() -> backend::secrets::SecretKey {
    backend::secrets::SecretKey::parse(&"5a".repeat(32)).unwrap()
}

/// The same, on a given event bus (another "instance").
pub fn engine_on(
    db: &backend::DatabaseConnection,
    marketplace_url: &str,
    bus: backend::tasks::events::EventBus,
) -> std::sync::Arc<backend::tasks::worker::Engine> {
    use std::sync::Arc;
    let marketplaces =
        backend::connectors::Marketplaces::new(Some(test_secret_key()), marketplace_url).unwrap();
    let registry = server::workers::kinds_with(
        db,
        backend::testing::fast_connector(marketplace_url),
        Arc::new(marketplaces),
    );
    Arc::new(backend::tasks::worker::Engine::new(
        db.clone(),
        registry,
        bus,
        backend::tasks::worker::EngineConfig::new(8),
    ))
}

/// A built site in a temporary directory: `pkg/` holds whatever a test writes there.
pub struct TestSite {
    dir: tempfile::TempDir,
}

impl Default for TestSite {
    fn default() -> Self {
        Self::new()
    }
}

impl TestSite {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        Self { dir }
    }

    /// Writes `pkg/<name>`.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.dir.path().join("pkg").join(name), bytes).unwrap();
    }

    pub fn options(&self) -> leptos::config::LeptosOptions {
        leptos::config::LeptosOptions::builder()
            .output_name("stockroom")
            .site_root(self.dir.path().to_string_lossy().into_owned())
            .build()
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `stockroom_session=<token>` from the Set-Cookie header.
    pub fn session_cookie(&self) -> String {
        let set_cookie = self
            .headers
            .get(header::SET_COOKIE)
            .expect("a Set-Cookie header")
            .to_str()
            .unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }
}

impl TestApp {
    pub async fn new(db: &backend::DatabaseConnection) -> Self {
        Self::with_marketplace(db, "http://127.0.0.1:9/unused", None)
    }

    pub fn with_marketplace(
        db: &backend::DatabaseConnection,
        marketplace_url: &str,
        sandbox: Option<server::sandbox::Sandbox>,
    ) -> Self {
        Self::with_imports(db, marketplace_url, sandbox, Default::default())
    }

    pub fn with_imports(
        db: &backend::DatabaseConnection,
        marketplace_url: &str,
        sandbox: Option<server::sandbox::Sandbox>,
        imports: app::state::ImportSettings,
    ) -> Self {
        let options = leptos::config::LeptosOptions::builder()
            .output_name("stockroom")
            .build();
        let engine = engine(db, marketplace_url);
        Self::with_options(db, engine, sandbox, imports, options, marketplace_url)
    }

    pub fn with_engine(
        db: &backend::DatabaseConnection,
        engine: std::sync::Arc<backend::tasks::worker::Engine>,
        sandbox: Option<server::sandbox::Sandbox>,
        imports: app::state::ImportSettings,
    ) -> Self {
        let options = leptos::config::LeptosOptions::builder()
            .output_name("stockroom")
            .build();
        Self::with_options(db, engine, sandbox, imports, options, UNUSED)
    }

    /// The app serving the browser code in `site` (as a release build would).
    pub fn with_site(db: &backend::DatabaseConnection, site: &TestSite) -> Self {
        let engine = engine(db, "http://127.0.0.1:9/unused");
        Self::with_options(db, engine, None, Default::default(), site.options(), UNUSED)
    }

    fn with_options(
        db: &backend::DatabaseConnection,
        engine: std::sync::Arc<backend::tasks::worker::Engine>,
        sandbox: Option<server::sandbox::Sandbox>,
        imports: app::state::ImportSettings,
        options: leptos::config::LeptosOptions,
        marketplace_url: &str,
    ) -> Self {
        let marketplaces =
            backend::connectors::Marketplaces::new(Some(test_secret_key()), marketplace_url)
                .unwrap();
        let mut state = server::state(
            options,
            db.clone(),
            std::sync::Arc::clone(&engine),
            std::sync::Arc::new(marketplaces),
        );
        state.imports = imports;
        Self {
            router: server::app(state, sandbox),
            engine,
        }
    }

    /// Uploads `bytes` as the multipart field `file` named `file_name`.
    pub async fn upload(&self, cookie: &str, file_name: &str, bytes: &[u8]) -> Reply {
        self.upload_to("/api/v1/imports", cookie, file_name, bytes)
            .await
    }

    /// A file sent as multipart (field `file`) to `path`.
    pub async fn upload_to(
        &self,
        path: &str,
        cookie: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Reply {
        let boundary = "stockroom-test-boundary-7d1f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn post_json(&self, path: &str, cookie: Option<&str>, body: Value) -> Reply {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/api/v1/login",
            None,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn logged_in(&self, email: &str) -> String {
        let reply = self.login(email, "correct horse battery").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.session_cookie()
    }
}

pub async fn seller(db: &backend::DatabaseConnection, email: &str) -> i64 {
    let seller = backend::accounts::create_seller(
        db,
        &Email::parse(email).unwrap(),
        None,
        &Password::parse("correct horse battery").unwrap(),
    )
    .await
    .unwrap();
    backend::catalog::insert_many(db, backend::demo::demo_items(seller.id, 120))
        .await
        .unwrap();
    seller.id
}

pub async fn first_item_id(db: &backend::DatabaseConnection, seller_id: i64) -> i64 {
    backend::catalog::matching_ids(db, seller_id, &Default::default())
        .await
        .unwrap()[0]
}

/// Two sellers with demo catalogs, ana and bob, both logged in to an app that talks to a
/// sandbox marketplace on a local port.
pub struct TwoSellers {
    pub app: TestApp,
    pub sandbox: server::sandbox::Sandbox,
    /// The sandbox marketplace's base URL.
    pub url: String,
    /// ana's id, session cookie and item ids.
    pub ana: i64,
    pub ana_cookie: String,
    pub ana_items: Vec<i64>,
    pub bob_cookie: String,
}

pub async fn two_sellers(db: &backend::DatabaseConnection) -> TwoSellers {
    let ana = seller(db, "ana@example.com").await;
    seller(db, "bob@example.com").await;
    let (sandbox, url) = sandbox_on_a_port().await;
    let app = TestApp::with_marketplace(db, &url, None);
    let ana_cookie = app.logged_in("ana@example.com").await;
    let bob_cookie = app.logged_in("bob@example.com").await;
    let ana_items = backend::catalog::matching_ids(db, ana, &Default::default())
        .await
        .unwrap();
    TwoSellers {
        app,
        sandbox,
        url,
        ana,
        ana_cookie,
        ana_items,
        bob_cookie,
    }
}

/// The sandbox on a local port, as a separate service would be.
pub async fn sandbox_on_a_port() -> (server::sandbox::Sandbox, String) {
    server::sandbox::Sandbox::serve_local(server::sandbox::SandboxSettings::calm())
        .await
        .unwrap()
}

/// Runs the engine's due work until the task is over (2 s at most).
pub async fn drain_until_done(
    engine: &std::sync::Arc<backend::tasks::worker::Engine>,
    db: &backend::DatabaseConnection,
    seller: i64,
    task_id: i64,
) -> backend::tasks::Task {
    for _ in 0..100 {
        engine.drain().await.unwrap();
        let task = backend::tasks::get(db, seller, task_id).await.unwrap();
        if task.status.is_terminal() {
            return task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("task {task_id} did not finish");
}
