//! What the task tables say right now, across sellers, for an operator's metrics: tasks
//! by kind and status, their items by kind and status (from each task's own counters, so
//! no scan of the items), failed items by kind and reason, and the queue — how many items
//! are due and how long the oldest has waited.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    Statement,
};

use crate::entities::{task, task_item};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// (kind, status, tasks).
    pub tasks: Vec<(String, String, i64)>,
    /// (kind, item status, items), from the tasks' counters.
    pub items: Vec<(String, &'static str, i64)>,
    /// (kind, error code, failed items).
    pub failed: Vec<(String, String, i64)>,
    /// Pending items whose time has come.
    pub due: i64,
    /// How long the oldest of them has been due, in seconds (0 when none is).
    pub oldest_due_seconds: f64,
}

#[derive(FromQueryResult)]
struct TaskRow {
    kind: String,
    status: String,
    tasks: i64,
}

#[derive(FromQueryResult)]
struct ItemRow {
    kind: String,
    total: Option<i64>,
    pending: Option<i64>,
    waiting: Option<i64>,
    running: Option<i64>,
    succeeded: Option<i64>,
    failed: Option<i64>,
    skipped: Option<i64>,
    cancelled: Option<i64>,
}

#[derive(FromQueryResult)]
struct FailedRow {
    kind: String,
    error_code: Option<String>,
    items: i64,
}

#[derive(FromQueryResult)]
struct DueRow {
    due: i64,
    oldest: Option<DateTime<Utc>>,
}

pub async fn read(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Gauges, DbErr> {
    let tasks = task::Entity::find()
        .select_only()
        .column(task::Column::Kind)
        .column(task::Column::Status)
        .column_as(task::Column::Id.count(), "tasks")
        .group_by(task::Column::Kind)
        .group_by(task::Column::Status)
        .into_model::<TaskRow>()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.kind, row.status, row.tasks))
        .collect();
    // PostgreSQL sums bigints into numerics: cast back for one type on both engines.
    let backend = db.get_database_backend();
    let sums = "SELECT kind, \
        CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(pending) AS BIGINT) AS pending, \
        CAST(SUM(waiting) AS BIGINT) AS waiting, CAST(SUM(running) AS BIGINT) AS running, \
        CAST(SUM(succeeded) AS BIGINT) AS succeeded, CAST(SUM(failed) AS BIGINT) AS failed, \
        CAST(SUM(skipped) AS BIGINT) AS skipped, CAST(SUM(cancelled) AS BIGINT) AS cancelled \
        FROM tasks GROUP BY kind";
    let mut items = Vec::new();
    for row in ItemRow::find_by_statement(Statement::from_string(backend, sums))
        .all(db)
        .await?
    {
        for (status, count) in [
            ("total", row.total),
            ("pending", row.pending),
            ("waiting", row.waiting),
            ("running", row.running),
            ("succeeded", row.succeeded),
            ("failed", row.failed),
            ("skipped", row.skipped),
            ("cancelled", row.cancelled),
        ] {
            items.push((row.kind.clone(), status, count.unwrap_or(0)));
        }
    }
    let failed_sql = "SELECT t.kind AS kind, i.error_code AS error_code, COUNT(*) AS items \
        FROM task_items i JOIN tasks t ON t.id = i.task_id \
        WHERE i.status = 'failed' GROUP BY t.kind, i.error_code";
    let failed = FailedRow::find_by_statement(Statement::from_string(backend, failed_sql))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.kind, row.error_code.unwrap_or_default(), row.items))
        .collect();
    let queue = task_item::Entity::find()
        .select_only()
        .column_as(task_item::Column::Id.count(), "due")
        .column_as(task_item::Column::NextAttemptAt.min(), "oldest")
        .filter(task_item::Column::Status.eq("pending"))
        .filter(task_item::Column::NextAttemptAt.lte(now))
        .into_model::<DueRow>()
        .one(db)
        .await?;
    let (due, oldest) = queue.map_or((0, None), |row| (row.due, row.oldest));
    let oldest_due_seconds = oldest
        .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    Ok(Gauges {
        tasks,
        items,
        failed,
        due,
        oldest_due_seconds,
    })
}
