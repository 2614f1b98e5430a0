//! Probing the marketplace accounts whose circuit breaker is open: each due probe runs in
//! its own task (a slow marketplace never stalls the run loop), and what it found is
//! stored and told to every task on the account.
use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::tasks::breaker::{self, Breaker, Change, Transition};
use crate::tasks::{Task, TaskError};

/// How long one probe may take before it counts as "not answering".
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

impl Engine {
    /// Takes the probes that are due and runs each in the background.
    pub(super) fn probe_due(self: &Arc<Self>) {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let taken = breaker::take_due(
                &engine.db,
                &engine.config.worker_id,
                None,
                engine.config.breaker.probe_lease,
                engine.now(),
            )
            .await;
            match taken {
                Ok(taken) => {
                    for due in taken {
                        let engine = Arc::clone(&engine);
                        tokio::spawn(async move {
                            engine.probe(due).await;
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not look for due probes"),
            }
        });
    }

    /// Makes one probe this worker holds, stores what it found and tells everyone.
    async fn probe(&self, due: Breaker) -> Option<Transition> {
        let found = match self.registry.get(&due.kind) {
            Some(kind) => {
                let params: serde_json::Value =
                    serde_json::from_str(&due.params).unwrap_or_default();
                match tokio::time::timeout(PROBE_TIMEOUT, kind.probe(due.seller_id, &params)).await
                {
                    Ok(found) => found,
                    Err(_) => Err("The marketplace did not answer the probe in time.".to_owned()),
                }
            }
            // This process cannot make the read: it stays open (another instance that can
            // probes in turn; the hold limit ends the tasks if none can).
            None => Err(format!("This server cannot probe {}.", due.label)),
        };
        let stored = breaker::probed(
            &self.db,
            &self.config.worker_id,
            &due.key,
            found,
            &self.config.breaker,
            self.now(),
        )
        .await;
        match stored {
            Ok(Some((transition, expired))) => {
                for task_id in &transition.tasks {
                    self.publish_id(*task_id).await;
                }
                for ended in expired {
                    if let Ok(task) = crate::tasks::load(&self.db, ended.task_id).await {
                        self.publish(&task);
                        self.follow(&task).await;
                    }
                }
                if transition.change == Change::Closed {
                    self.wake.notify_one();
                }
                Some(transition)
            }
            Ok(None) => None,
            Err(err) => {
                // The probe's lease runs out and another try comes.
                tracing::warn!(key = %due.key, error = %err, "could not store a probe's result");
                None
            }
        }
    }

    /// Probes every account whose breaker is due, and waits for them (tests, with their
    /// own clock).
    pub async fn probe_due_now(&self) -> Result<Vec<Transition>, sea_orm::DbErr> {
        let taken = breaker::take_due(
            &self.db,
            &self.config.worker_id,
            None,
            self.config.breaker.probe_lease,
            self.now(),
        )
        .await?;
        let mut transitions = Vec::new();
        for due in taken {
            transitions.extend(self.probe(due).await);
        }
        Ok(transitions)
    }

    /// "Try now" on a held task: its marketplace is asked at once. Answers the task as
    /// it is afterwards (held still, or on its way again).
    pub async fn try_now(&self, seller_id: i64, task_id: i64) -> Result<Task, TaskError> {
        let task = crate::tasks::get(&self.db, seller_id, task_id).await?;
        let Some(key) = task.endpoint.clone().filter(|_| task.hold.is_some()) else {
            return Ok(task);
        };
        let now = self.now();
        breaker::probe_now(&self.db, &key, now).await?;
        let taken = breaker::take_due(
            &self.db,
            &self.config.worker_id,
            Some(&key),
            self.config.breaker.probe_lease,
            now,
        )
        .await?;
        for due in taken {
            self.probe(due).await;
        }
        crate::tasks::get(&self.db, seller_id, task_id).await
    }
}
