//! What the engine and the connectors count for the operators' metrics, through the
//! `metrics` facade (the server renders it at `/metrics`; without a recorder installed
//! these cost next to nothing). Labels stay few: a connection's pace key
//! (`seller-4`, `connection-7`), an outcome code, a kind.

use std::time::Duration;

/// One marketplace call: its outcome (`ok`, `refused`, or the passing failure's code such
/// as `rate_limited` or `marketplace_timeout`), whether it was a hedge, and its latency.
pub fn marketplace_call(connection: &str, outcome: &str, hedge: bool, took: Duration) {
    metrics::counter!(
        "stockroom_marketplace_calls_total",
        "connection" => connection.to_owned(),
        "outcome" => outcome.to_owned(),
    )
    .increment(1);
    if hedge {
        metrics::counter!("stockroom_marketplace_hedges_total", "connection" => connection.to_owned())
            .increment(1);
    }
    metrics::histogram!("stockroom_marketplace_call_duration_seconds").record(took.as_secs_f64());
}

/// A passing failure tried again at once.
pub fn quick_retry(connection: &str) {
    metrics::counter!("stockroom_marketplace_retries_total", "connection" => connection.to_owned())
        .increment(1);
}

/// The marketplace said 429: the connection is held off.
pub fn rate_limited(connection: &str) {
    metrics::counter!("stockroom_marketplace_rate_limited_total", "connection" => connection.to_owned())
        .increment(1);
}

/// Tasks whose expired leases a rescue pass took back.
pub fn rescued(tasks: usize) {
    metrics::counter!("stockroom_lease_rescues_total").increment(tasks as u64);
}
