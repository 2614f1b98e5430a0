//! Storing outcomes: a batch in one transaction, tried again when the database refuses
//! for a passing reason, then one event per task.
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

use super::{Engine, Ran};
use crate::tasks::complete::{self, Completion, Finished};
use crate::tasks::{Outcome, Task};

impl Engine {
    /// Stores a batch of outcomes in one transaction and tells the bus; then the items
    /// leave `in_flight`, so the heartbeat stops renewing their leases.
    pub(super) async fn store(&self, ran: Vec<Ran>) {
        if ran.is_empty() {
            return;
        }
        let ids: Vec<i64> = ran.iter().map(|r| r.item.item_id).collect();
        self.store_outcomes(ran).await;
        {
            let mut in_flight = self.in_flight();
            for id in &ids {
                in_flight.remove(id);
            }
        }
    }

    async fn store_outcomes(&self, ran: Vec<Ran>) {
        let now = self.now();
        let mut finished = Vec::with_capacity(ran.len());
        for Ran {
            item,
            outcome,
            policy,
            echo,
        } in ran
        {
            // Stopped by our own shutdown rather than by the seller: give the item back.
            if outcome == Outcome::Cancelled
                && self.stopping.is_cancelled()
                && !self.task_is_cancelling(item.task_id).await
            {
                match complete::release(
                    &self.db,
                    &self.config.worker_id,
                    item.task_id,
                    item.item_id,
                    now,
                )
                .await
                {
                    Ok(Completion::Applied {
                        task: Some(task), ..
                    }) => self.publish(&task),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(error = %err, item_id = item.item_id, "could not give an item back")
                    }
                }
                continue;
            }
            finished.push(Finished {
                task_id: item.task_id,
                item_id: item.item_id,
                attempt: item.attempt,
                outcome,
                policy,
                echo,
            });
        }
        match self.complete_with_retries(finished, now).await {
            Ok(done) => {
                // One event per task: the latest snapshot.
                let mut latest: HashMap<i64, Box<Task>> = HashMap::new();
                for (_, completion) in done.completions {
                    if let Completion::Applied {
                        task: Some(task), ..
                    } = completion
                    {
                        latest.insert(task.id, task);
                    }
                }
                for task in latest.values() {
                    self.publish(task);
                    self.follow(task).await;
                }
                // A breaker opened: the account's other tasks show the hold too.
                for transition in &done.transitions {
                    for task_id in &transition.tasks {
                        if !latest.contains_key(task_id) {
                            self.publish_id(*task_id).await;
                        }
                    }
                }
            }
            // Not renewed any more, the leases run out and the rescuer gives the items
            // back; their handlers run again (the marketplace calls are idempotent).
            Err(err) => {
                tracing::error!(error = %err, "could not store a batch of outcomes; the items will be run again")
            }
        }
    }

    /// `complete::complete_many`, tried again after a short pause when the database
    /// refuses for a passing reason (a busy SQLite file, a dropped connection). The
    /// transaction is all or nothing, so trying again cannot apply an outcome twice.
    async fn complete_with_retries(
        &self,
        finished: Vec<Finished>,
        now: DateTime<Utc>,
    ) -> Result<complete::Stored, sea_orm::DbErr> {
        const PAUSES_MS: [u64; 2] = [200, 1_000];
        let mut attempt = 0;
        loop {
            match complete::complete_many(
                &self.db,
                &self.config.worker_id,
                finished.clone(),
                self.jitter.as_ref(),
                now,
            )
            .await
            {
                Ok(done) => return Ok(done),
                Err(err) if attempt < PAUSES_MS.len() => {
                    tracing::warn!(error = %err, attempt = attempt + 1, "storing outcomes failed; trying again");
                    tokio::time::sleep(Duration::from_millis(PAUSES_MS[attempt])).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn task_is_cancelling(&self, task_id: i64) -> bool {
        crate::tasks::load(&self.db, task_id)
            .await
            .map(|t| t.status == crate::tasks::TaskStatus::Cancelling)
            .unwrap_or(false)
    }
}
