//! The task engine: bulk work stored as a task with one item per unit of work, executed
//! by workers inside the server process, observable at every moment.
//!
//! One module per role, as in River: `create` (a task and its items in one transaction),
//! `claim` (leases, fairness), `complete` (an attempt's outcome, counters, settling the
//! task), `rescue` (expired leases), `control` (pause, resume, cancel, retry, skip),
//! `events` (the bus), `worker` (the runtime).

pub mod claim;
pub mod clock;
pub mod complete;
pub mod control;
pub mod create;
pub mod events;
pub mod kind;
pub mod noop;
pub mod query;
pub mod rescue;
pub mod state;
pub mod worker;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Statement, TransactionOptions,
    TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};

use crate::entities::task;
pub use kind::{InvalidParams, ItemContext, Outcome, Registry, RetryPolicy, TaskKind};
pub use state::{ItemStatus, TaskStatus};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    pub total: i64,
    pub pending: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub cancelled: i64,
}

impl TaskCounts {
    /// Items that reached an end (for progress bars and throughput).
    pub fn done(&self) -> i64 {
        self.succeeded + self.failed + self.skipped + self.cancelled
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: i64,
    pub seller_id: i64,
    pub kind: String,
    pub label: String,
    pub status: TaskStatus,
    pub params: serde_json::Value,
    pub idempotency_key: Option<String>,
    pub max_attempts: i32,
    pub counts: TaskCounts,
    pub throughput: Option<f64>,
    pub waiting_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change of the row.
    pub version: i64,
}

impl From<task::Model> for Task {
    fn from(row: task::Model) -> Self {
        Self {
            id: row.id,
            seller_id: row.seller_id,
            kind: row.kind,
            label: row.label,
            // A CHECK constraint keeps unknown statuses out of the table.
            status: TaskStatus::parse(&row.status).unwrap_or(TaskStatus::Failed),
            params: serde_json::from_str(&row.params).unwrap_or(serde_json::Value::Null),
            idempotency_key: row.idempotency_key,
            max_attempts: row.max_attempts,
            counts: TaskCounts {
                total: row.total,
                pending: row.pending,
                running: row.running,
                succeeded: row.succeeded,
                failed: row.failed,
                skipped: row.skipped,
                cancelled: row.cancelled,
            },
            throughput: row.throughput,
            waiting_until: row.waiting_until,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("task not found")]
    NotFound,
    #[error("no task kind named {0}")]
    UnknownKind(String),
    #[error(transparent)]
    InvalidParams(#[from] InvalidParams),
    #[error("a task needs at least one item")]
    Empty,
    /// The control does not apply in the task's current state.
    #[error("cannot {action} a task that is {}", status.as_str())]
    Conflict {
        action: &'static str,
        status: TaskStatus,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for TaskError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Unexpected(err.into())
    }
}

/// One task, if it is the seller's.
pub async fn get(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
) -> Result<Task, TaskError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    task::Entity::find_by_id(task_id)
        .filter(task::Column::SellerId.eq(seller_id))
        .one(db)
        .await?
        .map(Task::from)
        .ok_or(TaskError::NotFound)
}

/// One task whoever owns it (engine and tests; not for request handlers).
pub async fn load(db: &impl ConnectionTrait, task_id: i64) -> Result<Task, TaskError> {
    task::Entity::find_by_id(task_id)
        .one(db)
        .await?
        .map(Task::from)
        .ok_or(TaskError::NotFound)
}

/// A write transaction. On SQLite it takes the write lock at `BEGIN` (IMMEDIATE), so a
/// transaction that reads first never fails to upgrade with `SQLITE_BUSY`; the busy
/// timeout then covers every wait.
pub(crate) async fn write_txn<C>(db: &C) -> Result<DatabaseTransaction, sea_orm::DbErr>
where
    C: TransactionTrait<Transaction = DatabaseTransaction>,
{
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A raw statement with `$1`-style placeholders on either engine.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// Adds `delta` to each named counter of a task, in the caller's transaction.
pub(crate) async fn shift_counters(
    txn: &DatabaseTransaction,
    task_id: i64,
    moves: &[(&str, i64)],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if moves.iter().all(|(_, delta)| *delta == 0) {
        return Ok(());
    }
    let sets: Vec<String> = moves
        .iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|(counter, delta)| format!("{counter} = {counter} + ({delta})"))
        .collect();
    // Counter names come from `ItemStatus::counter`, never from input.
    let sql = format!(
        "UPDATE tasks SET {}, version = version + 1, updated_at = $1 WHERE id = $2",
        sets.join(", ")
    );
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        &sql,
        vec![now.into(), task_id.into()],
    ))
    .await?;
    Ok(())
}
