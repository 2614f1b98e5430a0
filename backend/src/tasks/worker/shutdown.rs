//! Stopping well: no new claims, in-flight items finish within the grace period, the rest
//! are asked to stop, and whatever is still held is given back.
use sea_orm::FromQueryResult;
use std::time::Duration;
use tokio::task::JoinSet;

use super::{Engine, Ran};
use crate::tasks::complete::{self, Completion};
use crate::tasks::stmt;

impl Engine {
    pub(super) async fn shut_down(
        &self,
        mut running: JoinSet<Vec<Ran>>,
        mut heartbeat: tokio::time::Interval,
    ) {
        self.stopping.cancel();
        tracing::info!(
            in_flight = running.len(),
            "task worker stopping: no new claims"
        );
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !running.is_empty() {
            tokio::select! {
                Some(done) = running.join_next() => { self.store(done.ok().unwrap_or_default()).await; }
                _ = heartbeat.tick() => { self.heartbeat().await; }
                () = &mut grace => break,
            }
        }
        if !running.is_empty() {
            {
                let in_flight = self.in_flight();
                in_flight.values().for_each(|(_, token)| token.cancel());
            }
            let last_call = tokio::time::sleep(Duration::from_secs(2));
            tokio::pin!(last_call);
            while !running.is_empty() {
                tokio::select! {
                    Some(done) = running.join_next() => { self.store(done.ok().unwrap_or_default()).await; }
                    () = &mut last_call => break,
                }
            }
            running.abort_all();
        }
        match self.release_all().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "gave back unfinished items"),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "could not give back items; the rescuer will")
            }
        }
        tracing::info!("task worker stopped");
    }

    /// Gives back every item this worker still holds.
    pub async fn release_all(&self) -> anyhow::Result<usize> {
        #[derive(FromQueryResult)]
        struct Held {
            id: i64,
            task_id: i64,
        }
        let held = Held::find_by_statement(stmt(
            self.db.get_database_backend(),
            "SELECT id, task_id FROM task_items WHERE lease_owner = $1 AND status = @running",
            vec![self.config.worker_id.clone().into()],
        ))
        .all(&self.db)
        .await?;
        let mut released = 0;
        for item in held {
            if let Completion::Applied { task, .. } = complete::release(
                &self.db,
                &self.config.worker_id,
                item.task_id,
                item.id,
                self.now(),
            )
            .await?
            {
                released += 1;
                if let Some(task) = task {
                    self.publish(&task);
                }
            }
        }
        Ok(released)
    }
}
