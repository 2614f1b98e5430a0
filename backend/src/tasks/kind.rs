//! A task kind is one type implementing [`TaskKind`]. Adding a kind touches no engine code:
//! register it in a [`Registry`].

use chrono::Duration;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
pub use task_model::Presentation;
use tokio_util::sync::CancellationToken;

use super::clock::Jitter;
use crate::estimate::{CallModel, Estimate, Workload};

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
    /// The marketplace accepted the work and is processing it: look again after
    /// `check_after` (the item is `waiting`, its attempt not counted). `note` is kept as
    /// the item's result meanwhile (the submission, and what the seller reads).
    Waiting {
        check_after: Duration,
        note: Value,
    },
    /// The marketplace did not answer (a 5xx, a timeout, a refused connection): a
    /// transient problem like `RetryLater`, which also counts towards the circuit breaker
    /// of the task's endpoint. A run of them opens it; while it is open, nothing of any
    /// task on that endpoint is sent and no attempt is spent. Stored with the code
    /// [`UNAVAILABLE`], whatever the cause, so the seller's failures group as one reason.
    /// `delay` as in `RetryLater` (a batch's items keep one delay, to go again together).
    Unavailable {
        delay: Option<Duration>,
        message: String,
    },
    /// A permanent problem: fail now, with a stable code a seller can group by.
    Failed {
        code: String,
        message: String,
        details: Option<Value>,
    },
    /// Left out on purpose, with why (an undo finds the item changed since): not a
    /// failure, nothing to retry.
    Skipped {
        code: String,
        message: String,
    },
    /// The handler saw the cancellation signal and stopped.
    Cancelled,
}

/// The code of an item the marketplace did not answer for.
pub const UNAVAILABLE: &str = "marketplace_unavailable";

/// The marketplace account a task's items call: every task on it shares one circuit
/// breaker (see [`super::breaker`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Unique across sellers: `connection-3`, `seller-7`.
    pub key: String,
    /// What the seller reads: "eBay US", "the marketplace".
    pub label: String,
}

impl Outcome {
    /// Whether the marketplace answered at all (what closes a breaker's run of failures):
    /// a success, a refusal, a quota wait or an accepted submission.
    pub fn answered(&self) -> bool {
        matches!(
            self,
            Self::Succeeded(_) | Self::Failed { .. } | Self::Snooze { .. } | Self::Waiting { .. }
        )
    }

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

/// What a handler gets for one attempt: the task's parameters and the item's subject,
/// in the kind's own types (`Value` on the engine's side of the registry).
#[derive(Debug, Clone)]
pub struct ItemContext<P = Value, S = Value> {
    pub task_id: i64,
    pub item_id: i64,
    pub seller_id: i64,
    pub position: i32,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub subject: S,
    pub params: P,
    /// Fired when the task is cancelled or the worker shuts down; stop soon and return
    /// `Outcome::Cancelled` (or the real outcome if the work already happened).
    pub cancel: CancellationToken,
}

impl<P, S> ItemContext<P, S> {
    /// A key that is the same for every attempt at this item: pass it to external calls
    /// so a retry after a crash never does the work twice.
    pub fn idempotency_key(&self) -> String {
        format!("stockroom-task-{}-item-{}", self.task_id, self.item_id)
    }

    fn with<P2, S2>(self, params: P2, subject: S2) -> ItemContext<P2, S2> {
        ItemContext {
            task_id: self.task_id,
            item_id: self.item_id,
            seller_id: self.seller_id,
            position: self.position,
            attempt: self.attempt,
            subject,
            params,
            cancel: self.cancel,
        }
    }
}

/// Parameters that do not make a task: which field, what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct InvalidParams {
    pub code: &'static str,
    /// Where in the parameters: `params`, `params.item_ids`, `params.item_ids[2]`.
    pub field: String,
    pub message: String,
}

impl InvalidParams {
    /// A problem with one field of the parameters (`field` without the `params.` prefix).
    pub fn field(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: format!("params.{field}"),
            message: message.into(),
        }
    }
}

/// One kind of bulk work. The kind declares its parameter and subject types once; the
/// registry turns stored JSON into them, so no kind reads JSON by hand.
#[async_trait::async_trait]
pub trait TaskKind: Send + Sync + 'static {
    /// What the seller asks for: read from the request when the task is created (a
    /// field that does not fit is refused, naming the field), stored with the task.
    type Params: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What one task item stands for (an item id, a CSV row).
    type Subject: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The kind's name and words (`task-model`): its name is stored in `tasks.kind`.
    fn presentation(&self) -> &'static Presentation;

    /// A seller-facing label, e.g. "Publish 200 items".
    fn label(&self, _params: &Self::Params, items: usize) -> String {
        self.presentation().label(items as i64)
    }

    /// Turns parameters into one subject per item.
    fn expand(&self, params: &Self::Params) -> Result<Vec<Self::Subject>, InvalidParams>;

    /// What of the parameters is stored with the task once its items are made, and given
    /// to every attempt: by default all of it. A kind whose parameters list its subjects
    /// (item ids) keeps only the rest, or each attempt would read the whole list — at
    /// 100 000 items, the engine's slowest part.
    fn kept(&self, params: Self::Params) -> Self::Params {
        params
    }

    /// Does one attempt at one item. Never holds a database transaction open.
    async fn process(&self, item: ItemContext<Self::Params, Self::Subject>) -> Outcome;

    /// How many of one task's items one call can carry (a marketplace's bulk call): the
    /// engine claims up to this many due items of the task at once and hands them to
    /// [`TaskKind::process_batch`]. 1 (the default): one item at a time.
    fn batch_size(&self, _params: &Self::Params) -> usize {
        1
    }

    /// Does one attempt at each of `items` (all of one task, at most `batch_size`),
    /// answering one outcome per item, in order. The default runs them one by one.
    async fn process_batch(
        &self,
        items: Vec<ItemContext<Self::Params, Self::Subject>>,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            outcomes.push(self.process(item).await);
        }
        outcomes
    }

    /// At most this many items of one task run at once, across all workers.
    fn concurrency(&self) -> u32 {
        8
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// What a task over `subjects` asks of the marketplace and of Stockroom: by default
    /// local work, one unit per subject.
    fn workload(&self, _params: &Self::Params, subjects: &[Self::Subject]) -> Workload {
        Workload {
            calls: 0,
            items: subjects.len() as u64,
        }
    }

    /// How this seller's marketplace calls go, for a kind that makes them.
    fn call_model(&self, _seller_id: i64) -> Option<CallModel> {
        None
    }

    /// The marketplace account a task's items call, for a kind that calls one: its
    /// circuit breaker holds the task while the marketplace does not answer.
    fn endpoint(&self, _seller_id: i64, _params: &Self::Params) -> Option<Endpoint> {
        None
    }

    /// The endpoint's cheapest read, made while its breaker is open: `Ok` when the
    /// marketplace answers again, else what went wrong.
    async fn probe(&self, _seller_id: i64, _params: Self::Params) -> Result<(), String> {
        Ok(())
    }
}

/// A kind with its types erased: the one seam where stored JSON becomes typed.
#[async_trait::async_trait]
pub trait AnyKind: Send + Sync {
    fn presentation(&self) -> &'static Presentation;
    fn name(&self) -> &'static str {
        self.presentation().name
    }
    /// The parameters as the kind reads them, written back as JSON (unknown fields kept
    /// out), or what is wrong with them.
    fn parse_params(&self, params: &Value) -> Result<Value, InvalidParams>;
    fn label(&self, params: &Value, items: usize) -> Result<String, InvalidParams>;
    fn expand(&self, params: &Value) -> Result<Vec<Value>, InvalidParams>;
    /// The parameters as stored with the task (see [`TaskKind::kept`]).
    fn kept(&self, params: &Value) -> Result<Value, InvalidParams>;
    async fn process(&self, item: ItemContext) -> Outcome;
    /// Items of a task with these (stored) parameters one call carries.
    fn batch_size(&self, params: &Value) -> usize;
    /// One attempt at each item of a batch (see [`TaskKind::process_batch`]).
    async fn process_batch(&self, items: Vec<ItemContext>) -> Vec<Outcome>;
    fn concurrency(&self) -> u32;
    fn retry_policy(&self) -> RetryPolicy;
    /// How long a task over `subjects` likely takes, sharing the marketplace's pace with
    /// the seller's other tasks (the calls each still has to make).
    fn estimate(
        &self,
        seller_id: i64,
        params: &Value,
        subjects: &[Value],
        sharing: &[u64],
    ) -> Result<Estimate, InvalidParams>;
    /// How the seller's marketplace calls go, if its items make them (and so share the
    /// seller's pace).
    fn call_model(&self, seller_id: i64) -> Option<CallModel>;
    /// The account a task with these parameters calls (see [`TaskKind::endpoint`]).
    fn endpoint(&self, seller_id: i64, params: &Value) -> Option<Endpoint>;
    /// The endpoint's cheapest read (see [`TaskKind::probe`]).
    async fn probe(&self, seller_id: i64, params: &Value) -> Result<(), String>;
}

struct Typed<K>(K);

impl<K: TaskKind> Typed<K> {
    fn params(&self, params: &Value) -> Result<K::Params, InvalidParams> {
        serde_path_to_error::deserialize(params).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            InvalidParams {
                code: "invalid",
                field: field_of(&path, &message),
                message,
            }
        })
    }
}

/// Where a parameter error is: serde's path to the value, and for a missing field, that
/// field (serde names it in the message; the path ends at the object that lacks it).
fn field_of(path: &str, message: &str) -> String {
    let mut field = String::from("params");
    match path {
        "." => {}
        index if index.starts_with('[') => field.push_str(index),
        name => {
            field.push('.');
            field.push_str(name);
        }
    }
    let named = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = named {
        field.push('.');
        field.push_str(name);
    }
    field
}

#[async_trait::async_trait]
impl<K: TaskKind> AnyKind for Typed<K> {
    fn presentation(&self) -> &'static Presentation {
        self.0.presentation()
    }

    fn parse_params(&self, params: &Value) -> Result<Value, InvalidParams> {
        let typed = self.params(params)?;
        serde_json::to_value(typed).map_err(|err| InvalidParams {
            code: "invalid",
            field: "params".into(),
            message: err.to_string(),
        })
    }

    fn label(&self, params: &Value, items: usize) -> Result<String, InvalidParams> {
        Ok(self.0.label(&self.params(params)?, items))
    }

    fn kept(&self, params: &Value) -> Result<Value, InvalidParams> {
        let kept = self.0.kept(self.params(params)?);
        serde_json::to_value(kept).map_err(|err| InvalidParams {
            code: "invalid",
            field: "params".into(),
            message: err.to_string(),
        })
    }

    fn expand(&self, params: &Value) -> Result<Vec<Value>, InvalidParams> {
        let subjects = self.0.expand(&self.params(params)?)?;
        subjects
            .iter()
            .map(|subject| {
                serde_json::to_value(subject).map_err(|err| InvalidParams {
                    code: "invalid",
                    field: "params".into(),
                    message: err.to_string(),
                })
            })
            .collect()
    }

    async fn process(&self, item: ItemContext) -> Outcome {
        match typed::<K>(item) {
            Ok(item) => self.0.process(item).await,
            Err(outcome) => outcome,
        }
    }

    fn batch_size(&self, params: &Value) -> usize {
        serde_json::from_value::<K::Params>(params.clone())
            .map(|params| self.0.batch_size(&params).max(1))
            .unwrap_or(1)
    }

    async fn process_batch(&self, items: Vec<ItemContext>) -> Vec<Outcome> {
        // Items that do not read fail on their own; the rest go in one batch.
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(items.len());
        let mut readable = Vec::with_capacity(items.len());
        for item in items {
            match typed::<K>(item) {
                Ok(item) => {
                    readable.push(item);
                    outcomes.push(None);
                }
                Err(outcome) => outcomes.push(Some(outcome)),
            }
        }
        let sent = readable.len();
        let mut answered = self.0.process_batch(readable).await.into_iter();
        if answered.len() != sent {
            tracing::error!(
                kind = self.name(),
                sent,
                answered = answered.len(),
                "a batch answered a different number of outcomes than it was given"
            );
        }
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    answered.next().unwrap_or_else(|| {
                        Outcome::retry(
                            "batch_incomplete",
                            "The batch gave no answer for this item; it will be tried again.",
                        )
                    })
                })
            })
            .collect()
    }

    fn concurrency(&self) -> u32 {
        self.0.concurrency()
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.0.retry_policy()
    }

    fn estimate(
        &self,
        seller_id: i64,
        params: &Value,
        subjects: &[Value],
        sharing: &[u64],
    ) -> Result<Estimate, InvalidParams> {
        let params = self.params(params)?;
        let subjects = subjects
            .iter()
            .map(|subject| serde_json::from_value::<K::Subject>(subject.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| InvalidParams {
                code: "invalid",
                field: "params".into(),
                message: err.to_string(),
            })?;
        let work = self.0.workload(&params, &subjects);
        let model = self.0.call_model(seller_id);
        Ok(crate::estimate::predict(work, sharing, model.as_ref()))
    }

    fn call_model(&self, seller_id: i64) -> Option<CallModel> {
        self.0.call_model(seller_id)
    }

    fn endpoint(&self, seller_id: i64, params: &Value) -> Option<Endpoint> {
        let params = self.params(params).ok()?;
        self.0.endpoint(seller_id, &params)
    }

    async fn probe(&self, seller_id: i64, params: &Value) -> Result<(), String> {
        let params = self.params(params).map_err(|err| err.to_string())?;
        self.0.probe(seller_id, params).await
    }
}

/// A stored item in the kind's own types, or the outcome of one that does not read.
#[allow(clippy::result_large_err)]
fn typed<K: TaskKind>(item: ItemContext) -> Result<ItemContext<K::Params, K::Subject>, Outcome> {
    let params = serde_json::from_value::<K::Params>(item.params.clone()).map_err(|err| {
        tracing::error!(task_id = item.task_id, %err, "stored task parameters do not read");
        Outcome::failed(
            "task_invalid",
            "The task's stored parameters cannot be read.",
        )
    })?;
    let subject = serde_json::from_value::<K::Subject>(item.subject.clone()).map_err(|err| {
        tracing::error!(item_id = item.item_id, %err, "stored task item does not read");
        Outcome::failed("item_invalid", "The task item cannot be read.")
    })?;
    Ok(item.with(params, subject))
}

/// The kinds this process can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn AnyKind>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, kind: impl TaskKind) -> Self {
        let kind = Typed(kind);
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn AnyKind>> {
        self.kinds.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.kinds.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Every registered kind's words, by name.
    pub fn presentations(&self) -> Vec<&'static Presentation> {
        self.names()
            .into_iter()
            .filter_map(|name| self.kinds.get(name).map(|k| k.presentation()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::clock::NoJitter;
    use serde_json::json;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ids {
        item_ids: Vec<i64>,
    }

    /// A kind over `Ids`, to read parameters through the registry's seam.
    struct OverIds;

    #[async_trait::async_trait]
    impl TaskKind for OverIds {
        type Params = Ids;
        type Subject = i64;
        fn presentation(&self) -> &'static Presentation {
            &task_model::kinds::NOOP
        }
        fn expand(&self, params: &Ids) -> Result<Vec<i64>, InvalidParams> {
            Ok(params.item_ids.clone())
        }
        async fn process(&self, _: ItemContext<Ids, i64>) -> Outcome {
            Outcome::Cancelled
        }
    }

    fn refusal(params: Value) -> InvalidParams {
        match Typed(OverIds).parse_params(&params) {
            Ok(_) => panic!("{params} was accepted"),
            Err(err) => err,
        }
    }

    #[test]
    fn a_bad_parameter_is_named_by_its_field() {
        assert_eq!(refusal(json!({})).field, "params.item_ids");
        assert_eq!(
            refusal(json!({"item_ids": [1, "x"]})).field,
            "params.item_ids[1]"
        );
        assert_eq!(refusal(json!({"item_ids": "all"})).field, "params.item_ids");
        let unknown = refusal(json!({"item_ids": [1], "ids": [2]}));
        assert_eq!(unknown.field, "params.ids");
        assert!(unknown.message.starts_with("unknown field `ids`"));
        assert_eq!(refusal(json!("all")).field, "params");
        assert_eq!(refusal(json!([1])).field, "params[0]");
        let read = Typed(OverIds)
            .parse_params(&json!({"item_ids": [3, 4]}))
            .unwrap();
        assert_eq!(Typed(OverIds).expand(&read).unwrap(), [json!(3), json!(4)]);
    }

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
