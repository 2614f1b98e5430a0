//! A task kind whose marketplace can be switched off, for the circuit breaker's tests.
//! Every task calls the account named in its parameters; while the switch is off, every
//! call and every probe finds the marketplace silent. An item whose subject is
//! `"invalid"` is refused (a permanent failure: the marketplace answered).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::tasks::{
    Endpoint, InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind,
};

#[derive(Clone, Default)]
pub struct Outage {
    down: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    probes: Arc<AtomicUsize>,
    policy: RetryPolicy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutageParams {
    pub account: String,
    pub items: Vec<Value>,
}

pub static OUTAGE: Presentation = Presentation {
    name: "outage_test",
    title: "Send",
    doing: "Sending",
    done: "sent",
    unit: ("item", "items"),
    mark: "TST",
    subject: task_model::Subject::Counter,
    in_bulk_bar: false,
    listed: false,
    on_save: "Save anyway?",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

impl Outage {
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Switches the marketplace off (`true`) or on again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Calls that reached the handler (items sent).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn probes(&self) -> usize {
        self.probes.load(Ordering::SeqCst)
    }
}

/// Params for `n` items on `account`; the items at `invalid` are refused.
pub fn params(account: &str, n: usize, invalid: &[usize]) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            if invalid.contains(&i) {
                json!("invalid")
            } else {
                json!(i)
            }
        })
        .collect();
    json!({ "account": account, "items": items })
}

#[async_trait::async_trait]
impl TaskKind for Outage {
    type Params = OutageParams;
    type Subject = Value;

    fn presentation(&self) -> &'static Presentation {
        &OUTAGE
    }

    fn expand(&self, params: &OutageParams) -> Result<Vec<Value>, InvalidParams> {
        Ok(params.items.clone())
    }

    fn kept(&self, params: OutageParams) -> OutageParams {
        OutageParams {
            items: Vec::new(),
            ..params
        }
    }

    async fn process(&self, item: ItemContext<OutageParams, Value>) -> Outcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Outcome::Unavailable {
                delay: None,
                message: "The marketplace answered 503 Service Unavailable.".into(),
            };
        }
        if item.subject == json!("invalid") {
            return Outcome::failed("title_missing", "The marketplace needs a title.");
        }
        Outcome::Succeeded(json!({ "sent": item.subject }))
    }

    fn concurrency(&self) -> u32 {
        4
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    fn endpoint(&self, _seller_id: i64, params: &OutageParams) -> Option<Endpoint> {
        Some(Endpoint {
            key: format!("test-{}", params.account),
            label: "the marketplace".into(),
        })
    }

    async fn probe(&self, _seller_id: i64, _params: OutageParams) -> Result<(), String> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err("503 Service Unavailable".into())
        } else {
            Ok(())
        }
    }
}
