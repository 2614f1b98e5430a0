//! Retiring finished work: a task's items and the notifications older than the retention
//! (30 days unless configured) are deleted by a periodic job, in small batches, each its
//! own short transaction, so neither the engine nor a seller's page waits behind it. A
//! task keeps its row and its counts; `retired_at` says its items are gone.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::tasks::{stmt, TaskStatus};

/// What is kept unless configured otherwise.
pub const DEFAULT_DAYS: u32 = 30;
/// Rows per DELETE.
pub const BATCH: u64 = 5_000;
/// DELETEs per run of the job: a run ends after this much, and the next run goes on.
const BATCHES_PER_RUN: usize = 40;

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retired {
    pub task_items: u64,
    pub notifications: u64,
    /// Tasks whose last items went in this run.
    pub tasks: u64,
}

impl Retired {
    pub fn rows(&self) -> u64 {
        self.task_items + self.notifications
    }
}

#[derive(Debug, FromQueryResult)]
struct Due {
    id: i64,
}

/// One run: the items of tasks that ended before `now - keep`, oldest first, then the
/// notifications made before then, at most [`BATCHES_PER_RUN`] batches of [`BATCH`]
/// rows in all. Only ended tasks (succeeded, failed, with errors, cancelled) are touched,
/// checked again by every DELETE: a task re-opened meanwhile (a retry) keeps its items.
pub async fn run_once(
    db: &impl ConnectionTrait,
    keep: Duration,
    batch: u64,
    now: DateTime<Utc>,
) -> Result<Retired, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let cutoff = now - keep;
    let mut retired = Retired::default();
    let mut batches = 0;
    let ended: Vec<String> = [
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::CompletedWithErrors,
        TaskStatus::Cancelled,
    ]
    .iter()
    .map(|status| format!("'{}'", status.as_str()))
    .collect();
    let ended = ended.join(", ");
    while batches < BATCHES_PER_RUN {
        let Some(task) = Due::find_by_statement(stmt(
            backend,
            &format!(
                "SELECT id FROM tasks WHERE retired_at IS NULL AND finished_at < $1 \
                 AND status IN ({ended}) ORDER BY finished_at, id LIMIT 1"
            ),
            vec![cutoff.into()],
        ))
        .one(db)
        .await?
        else {
            break;
        };
        loop {
            batches += 1;
            let deleted = db
                .execute_raw(stmt(
                    backend,
                    &format!(
                        "DELETE FROM task_items WHERE id IN \
                         (SELECT ti.id FROM task_items ti JOIN tasks t ON t.id = ti.task_id \
                          WHERE ti.task_id = $1 AND t.retired_at IS NULL AND t.finished_at < $3 \
                          AND t.status IN ({ended}) ORDER BY ti.id LIMIT $2)"
                    ),
                    vec![task.id.into(), (batch as i64).into(), cutoff.into()],
                ))
                .await?
                .rows_affected();
            retired.task_items += deleted;
            if deleted < batch {
                // The last batch: the task keeps its counts, and says its items are gone
                // (unless it was re-opened meanwhile: then nothing more was deleted).
                db.execute_raw(stmt(
                    backend,
                    &format!(
                        "UPDATE tasks SET retired_at = $1, version = version + 1 WHERE id = $2 \
                         AND finished_at < $3 AND status IN ({ended})"
                    ),
                    vec![now.into(), task.id.into(), cutoff.into()],
                ))
                .await?;
                retired.tasks += 1;
                break;
            }
            if batches >= BATCHES_PER_RUN {
                return Ok(retired);
            }
        }
    }
    while batches < BATCHES_PER_RUN {
        batches += 1;
        let deleted = db
            .execute_raw(stmt(
                backend,
                "DELETE FROM notifications WHERE id IN \
                 (SELECT id FROM notifications WHERE created_at < $1 ORDER BY id LIMIT $2)",
                vec![cutoff.into(), (batch as i64).into()],
            ))
            .await?
            .rows_affected();
        retired.notifications += deleted;
        if deleted < batch {
            break;
        }
    }
    if retired.rows() > 0 {
        tracing::info!(
            task_items = retired.task_items,
            notifications = retired.notifications,
            tasks = retired.tasks,
            "retired finished work"
        );
    }
    Ok(retired)
}
