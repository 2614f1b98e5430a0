//! A task kind is one type implementing [`TaskKind`]. Adding a kind touches no engine code:
//! register it in a [`Registry`].

use chrono::Duration;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::clock::Jitter;

/// What one attempt at one item came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    /// A transient problem (timeout, 429, 5xx): try again after `delay`, or after the
    /// policy's backoff when `None`. Becomes `Failed` once attempts run out.
    RetryLater {
        delay: Option<Duration>,
        code: String,
        message: String,
    },
    /// Not now, and not the item's fault (a rate limit, `Retry-After`): wait `delay` and
    /// try again without counting the attempt.
    Snooze {
        delay: Duration,
        code: String,
        message: String,
    },
    /// A permanent problem: fail now, with a stable code a seller can group by.
    Failed {
        code: String,
        message: String,
        details: Option<Value>,
    },
    /// The handler saw the cancellation signal and stopped.
    Cancelled,
}

impl Outcome {
    pub fn failed(code: &str, message: impl Into<String>) -> Self {
        Self::Failed {
            code: code.to_owned(),
            message: message.into(),
            details: None,
        }
    }

    pub fn retry(code: &str, message: impl Into<String>) -> Self {
        Self::RetryLater {
            delay: None,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Exponential backoff with jitter: `base · 2^(attempt-1)`, capped at `max_delay`, plus up
/// to `jitter_ratio` of that at random.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub jitter_ratio: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::seconds(2),
            max_delay: Duration::minutes(5),
            jitter_ratio: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt, after `attempt` attempts (1-based) failed.
    pub fn backoff(&self, attempt: u32, jitter: &dyn Jitter) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let factor = 1_i64 << exponent;
        let delay = self
            .base_delay
            .checked_mul(factor as i32)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let spread =
            Duration::milliseconds((delay.num_milliseconds() as f64 * self.jitter_ratio) as i64);
        delay + jitter.jitter(spread)
    }
}

/// What a handler gets for one attempt.
#[derive(Debug, Clone)]
pub struct ItemContext {
    pub task_id: i64,
    pub item_id: i64,
    pub seller_id: i64,
    pub position: i32,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub subject: Value,
    pub params: Value,
    /// Fired when the task is cancelled or the worker shuts down; stop soon and return
    /// `Outcome::Cancelled` (or the real outcome if the work already happened).
    pub cancel: CancellationToken,
}

impl ItemContext {
    /// A key that is the same for every attempt at this item: pass it to external calls
    /// so a retry after a crash never does the work twice.
    pub fn idempotency_key(&self) -> String {
        format!("stockroom-task-{}-item-{}", self.task_id, self.item_id)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct InvalidParams {
    pub code: &'static str,
    pub message: String,
}

#[async_trait::async_trait]
pub trait TaskKind: Send + Sync + 'static {
    /// Stored in `tasks.kind`; never change it once tasks exist.
    fn name(&self) -> &'static str;

    /// A seller-facing label, e.g. "Publish 200 items".
    fn label(&self, params: &Value, items: usize) -> String;

    /// Turns parameters into one subject per item.
    fn expand(&self, params: &Value) -> Result<Vec<Value>, InvalidParams>;

    /// Does one attempt at one item. Never holds a database transaction open.
    async fn process(&self, item: ItemContext) -> Outcome;

    /// At most this many items of one task run at once, across all workers.
    fn concurrency(&self) -> u32 {
        8
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }
}

/// The kinds this process can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn TaskKind>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, kind: impl TaskKind) -> Self {
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn TaskKind>> {
        self.kinds.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.kinds.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::clock::NoJitter;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::seconds(1),
            max_delay: Duration::seconds(10),
            jitter_ratio: 0.5,
        };
        let delays: Vec<i64> = (1..=6)
            .map(|a| policy.backoff(a, &NoJitter).num_seconds())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.backoff(40, &NoJitter), Duration::seconds(10));
    }

    #[test]
    fn jitter_adds_at_most_the_ratio() {
        struct Max;
        impl Jitter for Max {
            fn jitter(&self, max: Duration) -> Duration {
                max
            }
        }
        let policy = RetryPolicy {
            jitter_ratio: 0.2,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1, &Max), Duration::milliseconds(2400));
    }
}
