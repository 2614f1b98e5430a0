//! The task engine: bulk work stored as a task with one item per unit of work, executed
//! by workers inside the server process, observable at every moment.
//!
//! One module per role, as in River: `create` (a task and its items in one transaction),
//! `claim` (leases, fairness), `complete` (an attempt's outcome, counters, settling the
//! task), `rescue` (expired leases), `control` (pause, resume, cancel, retry, skip),
//! `events` (the bus), `worker` (the runtime).

pub mod breaker;
pub mod chain;
pub mod claim;
pub mod clock;
pub mod complete;
pub mod control;
pub mod create;
pub mod events;
pub mod expand;
pub mod gauges;
pub mod in_task;
pub mod kind;
pub mod noop;
pub mod once;
pub mod query;
pub mod rescue;
pub mod schedule;
pub mod state;
pub mod worker;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Statement, TransactionOptions,
    TransactionTrait, Value,
};

use crate::entities::task;
pub use kind::{
    AnyKind, Endpoint, InvalidParams, ItemContext, Outcome, Presentation, Registry, RetryPolicy,
    TaskKind, UNAVAILABLE,
};
pub use state::{ItemStatus, TaskStatus};
pub use task_model::{Control, TaskCounts};

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
    /// What the seller was told it would take, made when it was created (or when a
    /// retry sent items again).
    pub estimate: Option<task_model::Estimate>,
    pub estimated_at: Option<DateTime<Utc>>,
    /// When a scheduled task starts (kept once it started: when it was meant to).
    pub start_at: Option<DateTime<Utc>>,
    /// Its place in a chain of tasks, if it is a step of one.
    pub chain: Option<task_model::Chain>,
    /// The marketplace account its items call, if they call one.
    pub endpoint: Option<String>,
    /// While the marketplace does not answer: the hold (nothing sent, nothing spent).
    pub hold: Option<task_model::Hold>,
    /// When its items were deleted after the retention (its counts stay).
    pub retired_at: Option<DateTime<Utc>>,
}

impl Task {
    /// The kind's words (a kind this build does not know reads as a plain task).
    pub fn presentation(&self) -> &'static Presentation {
        Presentation::of(&self.kind)
    }

    /// How long its last run took, from when it was estimated (its creation, or the
    /// retry that sent items again) to its end; `None` while it runs.
    pub fn duration_seconds(&self) -> Option<f64> {
        // A task that never started (cancelled while scheduled) took no time.
        self.started_at?;
        duration_seconds(
            self.estimated_at.unwrap_or(self.created_at),
            self.finished_at,
        )
    }
}

/// Seconds from `from` to `finished`, to the tenth.
pub fn duration_seconds(from: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> Option<f64> {
    finished.map(|end| ((end - from).num_milliseconds().max(0) as f64 / 100.0).round() / 10.0)
}

/// A stored task that does not read as one: a status or parameters the code does not
/// know. Logged where it is met and answered as an internal error, never guessed at.
#[derive(Debug, thiserror::Error)]
#[error("task {id} cannot be read: {reason}")]
pub struct UnreadableTask {
    pub id: i64,
    pub reason: String,
}

impl TryFrom<task::Model> for Task {
    type Error = UnreadableTask;

    fn try_from(row: task::Model) -> Result<Self, Self::Error> {
        let unreadable = |reason: String| UnreadableTask { id: row.id, reason };
        let status =
            TaskStatus::try_from(row.status.as_str()).map_err(|err| unreadable(err.to_string()))?;
        let params = serde_json::from_str(&row.params)
            .map_err(|err| unreadable(format!("its parameters are not JSON: {err}")))?;
        // An estimate this build cannot read is logged and left out: the task itself is
        // still whole.
        let estimate = row.estimate.as_deref().and_then(|raw| {
            serde_json::from_str(raw)
                .inspect_err(|err| {
                    tracing::warn!(task_id = row.id, %err, "a task's estimate does not read");
                })
                .ok()
        });
        Ok(Self {
            id: row.id,
            seller_id: row.seller_id,
            kind: row.kind,
            label: row.label,
            status,
            params,
            idempotency_key: row.idempotency_key,
            max_attempts: row.max_attempts,
            counts: TaskCounts {
                total: row.total,
                pending: row.pending,
                waiting: row.waiting,
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
            estimate,
            estimated_at: row.estimated_at,
            start_at: row.start_at,
            chain: match (row.chain_step, row.chain_of) {
                (Some(step), Some(of)) => Some(task_model::Chain {
                    step: u32::try_from(step).unwrap_or(1),
                    of: u32::try_from(of).unwrap_or(1),
                    next: row.next_task_id,
                    previous: row.previous_task_id,
                }),
                _ => None,
            },
            endpoint: row.endpoint,
            // Like the estimate: a hold this build cannot read is logged and left out.
            hold: row.hold.as_deref().and_then(|raw| {
                serde_json::from_str(raw)
                    .inspect_err(|err| {
                        tracing::warn!(task_id = row.id, %err, "a task's hold does not read");
                    })
                    .ok()
            }),
            retired_at: row.retired_at,
        })
    }
}

/// Reads a stored task; one that does not read is logged and becomes an error.
pub(crate) fn read(row: task::Model) -> Result<Task, TaskError> {
    Task::try_from(row).map_err(|err| {
        tracing::error!(task_id = err.id, reason = %err.reason, "stored task is unreadable");
        TaskError::Unexpected(err.into())
    })
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
    #[error("{}", control.refusal(*status).unwrap_or_else(|| format!("This task is {}: try again in a moment.", status.words())))]
    Conflict {
        control: Control,
        status: TaskStatus,
    },
    /// A later step of a chain starts when the step before it ends, not on request.
    #[error("This step starts when the task before it (#{previous}) ends: start or cancel that one instead.")]
    Waits { previous: i64 },
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
        .map(read)
        .transpose()?
        .ok_or(TaskError::NotFound)
}

/// One task whoever owns it (engine and tests; not for request handlers).
pub async fn load(db: &impl ConnectionTrait, task_id: i64) -> Result<Task, TaskError> {
    task::Entity::find_by_id(task_id)
        .one(db)
        .await?
        .map(read)
        .transpose()?
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

/// Locks a task's row against other writers until the transaction ends (PostgreSQL;
/// SQLite's IMMEDIATE transactions already run one at a time).
pub(crate) async fn lock(txn: &DatabaseTransaction, task_id: i64) -> Result<(), sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(stmt(
            backend,
            "SELECT id FROM tasks WHERE id = $1 FOR UPDATE",
            vec![task_id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A raw statement with `$1`-style placeholders on either engine. A status is written
/// `@running`, `@cancelled`…, and becomes the enum's stored name as an SQL string: no
/// status is spelled out by hand in SQL.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, with_statuses(sql), values)
}

/// Replaces each `@status` token with `'status'`, the name from [`TaskStatus`] or
/// [`ItemStatus`] (one set of names: a statement may name both tables' statuses). A token
/// that names no status is a programming error.
pub(crate) fn with_statuses(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('@') {
        return std::borrow::Cow::Borrowed(sql);
    }
    let names = TaskStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(ItemStatus::ALL.iter().map(|s| s.as_str()));
    let mut parts = sql.split('@');
    let mut out = String::with_capacity(sql.len() + 16);
    out.push_str(parts.next().unwrap_or_default());
    let known: Vec<&str> = names.collect();
    for part in parts {
        let end = part
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(part.len());
        let (token, rest) = part.split_at(end);
        // A misspelt token fails the tests (debug builds); in production the database
        // refuses the statement instead of the process stopping.
        debug_assert!(
            known.contains(&token),
            "“@{token}” names no status in: {sql}"
        );
        out.push('\'');
        out.push_str(token);
        out.push('\'');
        out.push_str(rest);
    }
    std::borrow::Cow::Owned(out)
}

/// Adds `delta` to the counter of each item status, in the caller's transaction.
pub(crate) async fn shift_counters(
    txn: &DatabaseTransaction,
    task_id: i64,
    moves: &[(ItemStatus, i64)],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    shift_counters_ending_wait(txn, task_id, moves, false, now).await
}

/// [`shift_counters`], and with `end_wait`, in the same statement, the task's wait for
/// marketplace quota ends if its time has come (an item got through).
pub(crate) async fn shift_counters_ending_wait(
    txn: &DatabaseTransaction,
    task_id: i64,
    moves: &[(ItemStatus, i64)],
    end_wait: bool,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter};
    if moves.iter().all(|(_, delta)| *delta == 0) && !end_wait {
        return Ok(());
    }
    let mut update = task::Entity::update_many()
        .col_expr(
            task::Column::Version,
            Expr::col(task::Column::Version).add(1),
        )
        .col_expr(task::Column::UpdatedAt, Expr::value(now))
        .filter(task::Column::Id.eq(task_id));
    for (status, delta) in moves.iter().filter(|(_, delta)| *delta != 0) {
        let column = state::counter_column(*status);
        update = update.col_expr(column, Expr::col(column).add(*delta));
    }
    if end_wait {
        update = update.col_expr(
            task::Column::WaitingUntil,
            Expr::case(
                Expr::col(task::Column::WaitingUntil).lte(now),
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .finally(Expr::col(task::Column::WaitingUntil))
            .into(),
        );
    }
    update.exec(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_in_sql_come_from_the_enums() {
        assert_eq!(
            with_statuses(
                "UPDATE t SET status = @cancelled WHERE status IN (@queued, @running) AND x = $1"
            ),
            "UPDATE t SET status = 'cancelled' WHERE status IN ('queued', 'running') AND x = $1"
        );
        assert_eq!(
            with_statuses("status = @completed_with_errors"),
            "status = 'completed_with_errors'"
        );
        assert!(matches!(
            with_statuses("SELECT 1"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    #[should_panic(expected = "names no status")]
    fn a_misspelt_status_in_sql_is_caught() {
        let _ = with_statuses("status = @finished");
    }
}
