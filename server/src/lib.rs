//! The stockroom server: configuration, the HTTP router, and start-up wiring.

pub mod api;
mod api_connections;
mod api_error;
mod api_exports;
mod api_flows;
mod api_imports;
mod api_live;
mod api_tasks;
pub mod config;
mod extract;
pub mod housekeeping;
pub mod media;
pub mod metrics;
pub mod openapi;
pub mod sandbox;
pub mod security;
pub mod serve;
pub mod workers;

use app::state::{AppState, LoginLimiter};
use app::{shell, App};
use axum::routing::get;
use axum::{middleware, Json, Router};
use backend::sessions::SessionPolicy;
use backend::tasks::worker::Engine;
use backend::DatabaseConnection;
use http::{header, HeaderValue};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower::Layer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub fn state(
    leptos_options: LeptosOptions,
    db: DatabaseConnection,
    engine: Arc<Engine>,
    marketplaces: Arc<backend::connectors::Marketplaces>,
) -> AppState {
    let build = site_build(&leptos_options).into();
    AppState {
        build,
        leptos_options,
        db,
        engine,
        marketplaces,
        imports: Default::default(),
        sessions: SessionPolicy::default(),
        login_limiter: Arc::new(LoginLimiter::standard()),
    }
}

/// A short digest of the site's main wasm module: the same on every instance that serves
/// the same build, different after a deploy. Empty when the site has not been built.
pub fn site_build(options: &LeptosOptions) -> String {
    use sha2::{Digest, Sha256};
    let wasm = std::path::Path::new(&*options.site_root)
        .join(&*options.site_pkg_dir)
        .join(format!("{}.wasm", options.output_name));
    match std::fs::read(&wasm) {
        Ok(bytes) => hex::encode(&Sha256::digest(&bytes)[..8]),
        Err(_) => String::new(),
    }
}

/// The whole HTTP application, without a socket, so tests can call it directly. With a
/// sandbox, the stand-in marketplace is mounted at [`sandbox::MOUNT`].
pub fn app(state: AppState, sandbox: Option<sandbox::Sandbox>) -> Router {
    app_with_metrics(state, sandbox, metrics::MetricsToken(None))
}

/// [`app`], serving `/metrics` to requests that bring `token` (see [`metrics`]).
pub fn app_with_metrics(
    state: AppState,
    sandbox: Option<sandbox::Sandbox>,
    token: metrics::MetricsToken,
) -> Router {
    metrics::handle();
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let (api, _doc) = openapi::router(state.imports.limits, state.marketplaces.sandbox_url());
    let app = Router::<AppState>::new()
        .route("/media/demo/{file}", get(media::demo_image))
        .route(
            "/metrics",
            axum::routing::any(metrics::serve).layer(axum::Extension(token)),
        )
        .merge(api)
        // The site's files, with conditional requests (304) and cargo-leptos' precompressed
        // copies when present; Leptos' fallback handler would drop If-Modified-Since.
        // They keep their names from one build to the next, and the split wasm modules of
        // one build only fit each other: a browser must not reuse a stale one on a guess
        // from Last-Modified. `no-cache` makes it ask first (a 304 when unchanged).
        .route_service(
            &leptos_axum::site_pkg_dir_service_route_path(&state.leptos_options),
            SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            )
            .layer(leptos_axum::site_pkg_dir_service(&state.leptos_options)),
        )
        .leptos_routes(&state, routes, move || shell(leptos_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::sessions,
        ))
        .layer(middleware::from_fn(security::same_origin_writes))
        .layer(middleware::from_fn(metrics::track))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CompressionLayer::new().compress_when(compressible))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    match sandbox {
        // The stand-in marketplace is another service that happens to share the port: it
        // has no sessions, and the failures it simulates are not our errors (logged at
        // debug, not error).
        Some(sandbox) => Router::new()
            .nest_service(
                sandbox::MOUNT,
                sandbox
                    .router()
                    .layer(TraceLayer::new_for_http().on_failure(
                        tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                    )),
            )
            .merge(app),
        None => app,
    }
}

/// The browser's code and styles, and API answers, are compressed (gzip or brotli, as the
/// browser asks). Pages are not: their HTML streams out as it renders, and a compressor
/// would hold it back; nor is the event stream.
fn compressible(
    _status: http::StatusCode,
    _version: http::Version,
    headers: &http::HeaderMap,
    _extensions: &http::Extensions,
) -> bool {
    let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length < 1024);
    !small
        && [
            "application/wasm",
            "text/javascript",
            "application/javascript",
            "text/css",
            "application/json",
        ]
        .iter()
        .any(|compressible| kind.starts_with(compressible))
}

/// What `/readyz` found.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// Migrations of this build the database has not had (null when it cannot be asked).
    pending_migrations: Option<usize>,
    /// `running`, `none` (a web-only instance) or `stalled`.
    workers: &'static str,
    /// How long the task loop has not gone round, when stalled.
    #[serde(skip_serializing_if = "Option::is_none")]
    stalled_seconds: Option<i64>,
}

/// The task loop turns at least every few seconds; this long without a turn is a stall.
const LOOP_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether this instance should be sent traffic: its database answers and has every
/// migration this build knows, and its task loop (where it runs one) is going round.
/// `/healthz` says only whether the process is up and reaches its database.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: the fields say what is not", body = Readiness),
    ))]
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (http::StatusCode, Json<Readiness>) {
    use backend::tasks::worker::Runner;
    let database_ok = state.db.ping().await.is_ok();
    let pending = if database_ok {
        backend::migration::pending(&state.db).await.ok()
    } else {
        None
    };
    let runner = state.engine.runner(LOOP_STALE_AFTER);
    let (workers, stalled_seconds) = match runner {
        Runner::Running => ("running", None),
        Runner::None => ("none", None),
        Runner::Stalled { seconds } => ("stalled", Some(seconds)),
    };
    let ready = database_ok && pending == Some(0) && !matches!(runner, Runner::Stalled { .. });
    if !ready {
        tracing::warn!(database_ok, ?pending, ?runner, "not ready");
    }
    let status = if ready {
        http::StatusCode::OK
    } else {
        http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            database: if database_ok { "ok" } else { "unreachable" },
            pending_migrations: pending,
            workers,
            stalled_seconds,
        }),
    )
}

/// Whether this instance can reach its database.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "Serving"),
        (status = 503, description = "The database is unreachable"),
    ))]
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (http::StatusCode, Json<serde_json::Value>) {
    match state.db.ping().await {
        Ok(()) => (
            http::StatusCode::OK,
            Json(serde_json::json!({ "status": "ok" })),
        ),
        Err(err) => {
            tracing::error!(error = %err, "health check: database unreachable");
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "database_unreachable" })),
            )
        }
    }
}
