//! Keeping leases alive, hearing of cancellations, and rescuing expired leases.
use super::Engine;
use crate::tasks::{claim, rescue};

impl Engine {
    /// Renews the leases of the items in hand and signals cancelled ones (the run loop
    /// does this every `heartbeat_every`; tests step it).
    pub async fn heartbeat(&self) {
        let now = self.now();
        let held: Vec<i64> = self.in_flight().keys().copied().collect();
        if let Err(err) = claim::heartbeat(
            &self.db,
            &self.config.worker_id,
            &held,
            self.config.lease,
            now,
        )
        .await
        {
            tracing::warn!(error = %err, "heartbeat failed");
        }
        match claim::cancelled_in_flight(&self.db, &self.config.worker_id).await {
            Ok(ids) if !ids.is_empty() => {
                let in_flight = self.in_flight();
                for id in ids {
                    if let Some((_, token)) = in_flight.get(&id) {
                        token.cancel();
                    }
                }
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not check for cancellations"),
        }
    }

    pub async fn rescue_once(&self) -> anyhow::Result<usize> {
        let touched = rescue::rescue_expired(&self.db, self.now()).await?;
        for task_id in &touched {
            self.publish_id(*task_id).await;
        }
        if !touched.is_empty() {
            crate::telemetry::rescued(touched.len());
            self.wake.notify_one();
        }
        Ok(touched.len())
    }
}
