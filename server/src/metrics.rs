//! `GET /metrics` in Prometheus' text format, for operators — not for sellers: served only
//! when `STOCKROOM_METRICS_TOKEN` is set, to `Authorization: Bearer <token>`, and a 404
//! (like any unknown path) otherwise.
//!
//! Two sources: what the process counts as it goes (HTTP requests and their latency by
//! route, event streams open), kept by the `metrics` facade's Prometheus recorder; and
//! what the task tables say at the moment of the scrape (tasks by kind and status, items
//! by kind and status, failed items by reason, the due queue and its oldest item), read
//! then and written out directly, so a vanished group never lingers.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use app::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::{header, HeaderMap, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds): a fast page to a slow marketplace call.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's recorder, installed once (one per process, as the facade is): by the
/// app as it is built, so the engine's first counts are kept.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a test binary with two apps): keep ours
        // for rendering; the facade's counts then go to the first.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The token `/metrics` asks for; `None` serves no metrics at all.
#[derive(Clone)]
pub struct MetricsToken(pub Option<Arc<str>>);

/// Counts every request by the route it matched (never the raw path: ids would make a
/// series each), its method and status, with its latency.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    // A made-up method would make a series of its own, for ever: those count as `other`.
    let method = match *request.method() {
        http::Method::GET
        | http::Method::HEAD
        | http::Method::POST
        | http::Method::PUT
        | http::Method::PATCH
        | http::Method::DELETE
        | http::Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    handle();
    metrics::counter!("stockroom_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("stockroom_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A stream took a task event off the bus: how long after the change it was published
/// (progress is coalesced on purpose, so a lag up to that interval is normal).
pub fn event_taken(emitted_at: chrono::DateTime<chrono::Utc>) {
    let lag = (chrono::Utc::now() - emitted_at)
        .num_microseconds()
        .unwrap_or(0)
        .max(0);
    metrics::histogram!("stockroom_event_lag_seconds").record(lag as f64 / 1e6);
}

/// One more event stream open, until dropped.
pub struct StreamOpen;

impl StreamOpen {
    /// Counts a stream as open (a side effect, hence no `Default`).
    pub fn open() -> Self {
        handle();
        metrics::gauge!("stockroom_event_streams_open").increment(1.0);
        Self
    }
}

impl Drop for StreamOpen {
    fn drop(&mut self) {
        metrics::gauge!("stockroom_event_streams_open").decrement(1.0);
    }
}

fn authorised(token: &str, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Compared in full whatever differs first, so the time says nothing of the token.
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Any method: whatever is not a scrape with the token is the 404 of a path that does not
/// exist (not a 405 that would tell it does).
pub async fn serve(
    State(state): State<AppState>,
    Extension(MetricsToken(token)): Extension<MetricsToken>,
    method: http::Method,
    headers: HeaderMap,
) -> Response {
    let Some(token) = token.filter(|_| method == http::Method::GET) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorised(&token, &headers) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let handle = handle();
    handle.run_upkeep();
    let mut body = handle.render();
    match backend::tasks::gauges::read(&state.db, chrono::Utc::now()).await {
        Ok(gauges) => write_gauges(&mut body, &gauges),
        Err(err) => {
            tracing::warn!(error = %err, "metrics: the task tables could not be read");
            body.push_str(
                "# the task tables could not be read\nstockroom_task_tables_readable 0\n",
            );
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// A label value as Prometheus reads it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_gauges(out: &mut String, gauges: &backend::tasks::gauges::Gauges) {
    let mut family = |name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    family("stockroom_tasks", "Tasks by kind and status.");
    for (kind, status, n) in &gauges.tasks {
        let _ = writeln!(
            out,
            "stockroom_tasks{{kind=\"{}\",status=\"{}\"}} {n}",
            label(kind),
            label(status)
        );
    }
    let mut family = |name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    family(
        "stockroom_task_items",
        "Task items by kind and status (from each task's counts).",
    );
    for (kind, status, n) in &gauges.items {
        let _ = writeln!(
            out,
            "stockroom_task_items{{kind=\"{}\",status=\"{status}\"}} {n}",
            label(kind)
        );
    }
    let _ = writeln!(
        out,
        "# HELP stockroom_task_items_failed Failed task items by kind and reason.\n# TYPE stockroom_task_items_failed gauge"
    );
    for (kind, code, n) in &gauges.failed {
        let _ = writeln!(
            out,
            "stockroom_task_items_failed{{kind=\"{}\",error_code=\"{}\"}} {n}",
            label(kind),
            label(code)
        );
    }
    let _ = writeln!(
        out,
        "# HELP stockroom_queue_due Pending items whose time has come.\n# TYPE stockroom_queue_due gauge\nstockroom_queue_due {}",
        gauges.due
    );
    let _ = writeln!(
        out,
        "# HELP stockroom_queue_oldest_due_seconds How long the oldest due item has waited.\n# TYPE stockroom_queue_oldest_due_seconds gauge\nstockroom_queue_oldest_due_seconds {}",
        gauges.oldest_due_seconds
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_opens_the_metrics() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().expect("a header"));
            headers
        };
        assert!(authorised("s3cret", &with("Bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "bearer s3cret",
            "s3cret",
            "Basic s3cret",
        ] {
            assert!(!authorised("s3cret", &with(wrong)), "{wrong}");
        }
        assert!(!authorised("s3cret", &HeaderMap::new()));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
