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
        let claimed = self.claim(self.config.slots).await?;
        let count = claimed.len();
        let mut running = JoinSet::new();
        for item in claimed {
            let engine = Arc::clone(self);
            running.spawn(async move { engine.execute(item).await });
        }
        let mut finished = Vec::with_capacity(count);
        while let Some(result) = running.join_next().await {
            finished.extend(result.ok().flatten());
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

    pub(super) async fn claim(&self, limit: usize) -> anyhow::Result<Vec<Claimed>> {
        if limit == 0 || self.stopping.is_cancelled() {
            return Ok(Vec::new());
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
        Ok(batch.items)
    }

    /// Runs one claimed item's handler; the outcome is stored in a batch by [`Engine::store`].
    pub(super) async fn execute(self: Arc<Self>, item: Claimed) -> Option<Ran> {
        let kind = self.registry.get(&item.kind)?;
        let token = CancellationToken::new();
        {
            let mut in_flight = self.in_flight();
            in_flight.insert(item.item_id, (item.task_id, token.clone()));
        }
        let context = ItemContext {
            task_id: item.task_id,
            item_id: item.item_id,
            seller_id: item.seller_id,
            position: item.position,
            attempt: item.attempt,
            subject: item.subject.clone(),
            params: item.params.clone(),
            cancel: token.clone(),
        };
        let handler = {
            let kind = Arc::clone(&kind);
            tokio::spawn(async move { kind.process(context).await })
        };
        let outcome = match handler.await {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => {
                tracing::error!(
                    item_id = item.item_id,
                    task_id = item.task_id,
                    "task handler panicked"
                );
                Outcome::retry(
                    "handler_panicked",
                    "The item's handler crashed; it will be tried again.",
                )
            }
            Err(_) => Outcome::retry(
                "handler_aborted",
                "The item's handler was stopped; it will be tried again.",
            ),
        };
        // The item stays in `in_flight` (its lease renewed) until its outcome is stored.
        Some(Ran {
            item,
            outcome,
            policy: kind.retry_policy(),
        })
    }
}
