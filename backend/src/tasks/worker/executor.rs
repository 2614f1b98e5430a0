//! Claiming into free slots and running each item's handler in its own task.
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Engine, Ran};
use crate::tasks::claim::{self, Claimed};
use crate::tasks::{ItemContext, Outcome};

impl Engine {
    /// Claims up to the free slots and runs every claimed item to its outcome.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        // Tasks made from a filter get a chunk of their items first, as the run loop's
        // expander would give them.
        if let Some(done) = super::super::expand::step(&self.db, &self.registry, self.now()).await?
        {
            if let (true, Some(task)) = (done.complete, &done.task) {
                self.publish(task);
            }
        }
        let (claimed, _) = self.claim(self.config.slots).await?;
        let count = claimed.len();
        let mut running = JoinSet::new();
        for group in batches(claimed) {
            let engine = Arc::clone(self);
            running.spawn(async move { engine.execute(group).await });
        }
        let mut finished = Vec::with_capacity(count);
        while let Some(result) = running.join_next().await {
            finished.extend(result.ok().into_iter().flatten());
        }
        self.store(finished).await;
        Ok(count)
    }

    /// Runs until nothing is due now.
    pub async fn drain(self: &Arc<Self>) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Claims items for up to `limit` calls: the items, and the calls they fill.
    pub(super) async fn claim(&self, limit: usize) -> anyhow::Result<(Vec<Claimed>, usize)> {
        if limit == 0 || self.stopping.is_cancelled() {
            return Ok((Vec::new(), 0));
        }
        let batch = claim::claim(
            &self.db,
            &self.registry,
            &self.config.worker_id,
            limit,
            self.config.lease,
            self.now(),
        )
        .await?;
        for task_id in &batch.touched_tasks {
            if batch.started_tasks.contains(task_id) {
                self.publish_id(*task_id).await;
            }
        }
        Ok((batch.items, batch.units))
    }

    /// Runs one call's worth of claimed items (one item, or a batch of one task's items
    /// for a kind that sends several a call); the outcomes are stored in a batch by
    /// [`Engine::store`].
    pub(super) async fn execute(self: Arc<Self>, items: Vec<Claimed>) -> Vec<Ran> {
        let Some(kind) = items.first().and_then(|item| self.registry.get(&item.kind)) else {
            return Vec::new();
        };
        // One signal for the whole call: the items are of one task, cancelled together.
        let token = CancellationToken::new();
        {
            let mut in_flight = self.in_flight();
            for item in &items {
                in_flight.insert(item.item_id, (item.task_id, token.clone()));
            }
        }
        let contexts: Vec<ItemContext> = items
            .iter()
            .map(|item| ItemContext {
                task_id: item.task_id,
                item_id: item.item_id,
                seller_id: item.seller_id,
                position: item.position,
                attempt: item.attempt,
                subject: item.subject.clone(),
                params: item.params.clone(),
                cancel: token.clone(),
            })
            .collect();
        let single = items.len() == 1 && items[0].batch <= 1;
        let handler = {
            let kind = Arc::clone(&kind);
            tokio::spawn(async move {
                if single {
                    let mut contexts = contexts;
                    match contexts.pop() {
                        Some(context) => vec![kind.process(context).await],
                        None => Vec::new(),
                    }
                } else {
                    kind.process_batch(contexts).await
                }
            })
        };
        let mut outcomes = match handler.await {
            Ok(outcomes) => outcomes.into_iter(),
            Err(err) => {
                let outcome = if err.is_panic() {
                    tracing::error!(
                        task_id = items[0].task_id,
                        items = items.len(),
                        "task handler panicked"
                    );
                    Outcome::retry(
                        "handler_panicked",
                        "The item's handler crashed; it will be tried again.",
                    )
                } else {
                    Outcome::retry(
                        "handler_aborted",
                        "The item's handler was stopped; it will be tried again.",
                    )
                };
                vec![outcome; items.len()].into_iter()
            }
        };
        let policy = kind.retry_policy();
        // One call that found the marketplace silent is one failure for its breaker.
        let mut counted = false;
        // The items stay in `in_flight` (their leases renewed) until their outcomes are stored.
        items
            .into_iter()
            .map(|item| {
                let outcome = outcomes.next().unwrap_or_else(|| {
                    Outcome::retry(
                        "batch_incomplete",
                        "The batch gave no answer for this item; it will be tried again.",
                    )
                });
                let unavailable = matches!(outcome, Outcome::Unavailable { .. });
                let echo = unavailable && counted;
                counted |= unavailable;
                Ran {
                    item,
                    outcome,
                    policy,
                    echo,
                }
            })
            .collect()
    }
}

/// Claimed items (sorted by task) in calls: consecutive items of one task, up to its
/// batch size each.
pub(super) fn batches(items: Vec<Claimed>) -> Vec<Vec<Claimed>> {
    let mut groups: Vec<Vec<Claimed>> = Vec::new();
    for item in items {
        match groups.last_mut() {
            Some(group) if group[0].task_id == item.task_id && group.len() < item.batch.max(1) => {
                group.push(item)
            }
            _ => groups.push(vec![item]),
        }
    }
    groups
}
