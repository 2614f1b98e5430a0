//! The seller's controls. Each is idempotent (doing it twice is the same as once) and
//! answers [`TaskError::Conflict`] when it makes no sense in the task's state.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use super::complete::settle;
use super::{shift_counters, stmt, write_txn, Control, ItemStatus, Task, TaskError, TaskStatus};

/// What a control changed, for events.
#[derive(Debug, Clone, PartialEq)]
pub struct Controlled {
    pub task: Task,
    /// Items the control moved (cancelled, retried, skipped).
    pub items: u64,
    pub changed: bool,
}

/// The task, locked against other controls, if `control` applies to its status.
async fn locked(
    txn: &DatabaseTransaction,
    seller_id: i64,
    task_id: i64,
    control: Control,
) -> Result<Task, TaskError> {
    // Controls on one task run one at a time.
    super::lock(txn, task_id).await?;
    let task = super::get(txn, seller_id, task_id).await?;
    if !control.applies_to(task.status) {
        return Err(TaskError::Conflict {
            control,
            status: task.status,
        });
    }
    Ok(task)
}

async fn set_status(
    txn: &DatabaseTransaction,
    task: &Task,
    to: TaskStatus,
    now: DateTime<Utc>,
) -> Result<(), TaskError> {
    let finished = if to.is_terminal() {
        "COALESCE(finished_at, $1)"
    } else {
        "NULL"
    };
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        &format!("UPDATE tasks SET status = $2, finished_at = {finished}, version = version + 1, updated_at = $1 WHERE id = $3 AND status = $4"),
        vec![now.into(), to.as_str().into(), task.id.into(), task.status.as_str().into()],
    ))
    .await?;
    Ok(())
}

async fn finish<C: ConnectionTrait>(
    txn: DatabaseTransaction,
    db: &C,
    seller_id: i64,
    task_id: i64,
    items: u64,
    changed: bool,
) -> Result<Controlled, TaskError> {
    txn.commit().await?;
    Ok(Controlled {
        task: super::get(db, seller_id, task_id).await?,
        items,
        changed,
    })
}

/// No new claims; items in flight finish.
pub async fn pause<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    let txn = write_txn(db).await?;
    let task = locked(&txn, seller_id, task_id, Control::Pause).await?;
    match task.status {
        TaskStatus::Paused => finish(txn, db, seller_id, task_id, 0, false).await,
        TaskStatus::Queued | TaskStatus::Running => {
            set_status(&txn, &task, TaskStatus::Paused, now).await?;
            finish(txn, db, seller_id, task_id, 0, true).await
        }
        status => Err(TaskError::Conflict {
            control: Control::Pause,
            status,
        }),
    }
}

pub async fn resume<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    let txn = write_txn(db).await?;
    let task = locked(&txn, seller_id, task_id, Control::Resume).await?;
    match task.status {
        TaskStatus::Queued | TaskStatus::Running => {
            finish(txn, db, seller_id, task_id, 0, false).await
        }
        TaskStatus::Paused => {
            let to = if task.started_at.is_some() {
                TaskStatus::Running
            } else {
                TaskStatus::Queued
            };
            set_status(&txn, &task, to, now).await?;
            // Everything may have finished while paused.
            settle(&txn, task_id, now).await?;
            finish(txn, db, seller_id, task_id, 0, true).await
        }
        status => Err(TaskError::Conflict {
            control: Control::Resume,
            status,
        }),
    }
}

/// Pending items are cancelled at once; items in flight get the signal (through the
/// workers' heartbeat) and the task is `cancelled` when the last one stops.
pub async fn cancel<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    let txn = write_txn(db).await?;
    let task = locked(&txn, seller_id, task_id, Control::Cancel).await?;
    match task.status {
        TaskStatus::Cancelling | TaskStatus::Cancelled => {
            finish(txn, db, seller_id, task_id, 0, false).await
        }
        TaskStatus::Scheduled | TaskStatus::Queued | TaskStatus::Running | TaskStatus::Paused => {
            // The steps after it in a chain are cancelled with it, when it ends.
            let cancelled = super::chain::cancel_in(&txn, &task, now).await?;
            finish(txn, db, seller_id, task_id, cancelled, true).await
        }
        status => Err(TaskError::Conflict {
            control: Control::Cancel,
            status,
        }),
    }
}

/// Which failed items a retry or skip applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    AllFailed,
    Items(Vec<i64>),
    /// Every failed item with this error code: one failure group.
    Code(String),
}

impl Selection {
    /// Listed task items win over a failure group; neither means every failed item.
    pub fn from_parts(item_ids: Option<Vec<i64>>, error_code: Option<String>) -> Self {
        match (item_ids, error_code) {
            (Some(ids), _) => Self::Items(ids),
            (None, Some(code)) => Self::Code(code),
            (None, None) => Self::AllFailed,
        }
    }

    /// The extra condition, and its bind value (as `$3`) when it has one.
    fn clause(&self) -> (String, Option<sea_orm::Value>) {
        match self {
            Self::AllFailed => (String::new(), None),
            // Ids are integers: safe to inline, and no bound on list length.
            Self::Items(ids) if ids.is_empty() => (" AND 1 = 0".to_owned(), None),
            Self::Items(ids) => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                (format!(" AND id IN ({})", list.join(", ")), None)
            }
            Self::Code(code) => (" AND error_code = $3".to_owned(), Some(code.clone().into())),
        }
    }
}

/// Where failed items go, for [`retry`] and [`skip`].
#[derive(Clone, Copy)]
enum FailedTo {
    Pending,
    Skipped,
}

/// Moves the selected failed items (both controls share everything but the target).
async fn move_failed<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    which: Selection,
    to: FailedTo,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    let (control, set, counter) = match to {
        FailedTo::Pending => (
            Control::Retry,
            "status = @pending, attempts = 0, next_attempt_at = $1, error_code = NULL, error_message = NULL, \
             error_details = NULL, finished_at = NULL",
            ItemStatus::Pending,
        ),
        FailedTo::Skipped => (Control::Skip, "status = @skipped", ItemStatus::Skipped),
    };
    let txn = write_txn(db).await?;
    let task = locked(&txn, seller_id, task_id, control).await?;
    let (clause, bound) = which.clause();
    let sql = format!(
        "UPDATE task_items SET {set}, updated_at = $1 WHERE task_id = $2 AND status = @failed{clause}"
    );
    let mut values = vec![now.into(), task_id.into()];
    values.extend(bound);
    let moved = txn
        .execute_raw(stmt(txn.get_database_backend(), &sql, values))
        .await?
        .rows_affected();
    if moved == 0 {
        return finish(txn, db, seller_id, task_id, 0, false).await;
    }
    shift_counters(
        &txn,
        task_id,
        &[
            (ItemStatus::Failed, -(moved as i64)),
            (counter, moved as i64),
        ],
        now,
    )
    .await?;
    match to {
        // A finished task re-opens.
        FailedTo::Pending if task.status.is_terminal() => {
            set_status(&txn, &task, TaskStatus::Running, now).await?
        }
        FailedTo::Pending => {}
        // A finished task's end state is re-evaluated.
        FailedTo::Skipped => {
            settle(&txn, task_id, now).await?;
        }
    }
    finish(txn, db, seller_id, task_id, moved, true).await
}

/// Failed items go back to `pending` with a fresh set of attempts; a finished task
/// re-opens (`running`).
pub async fn retry<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    which: Selection,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    move_failed(db, seller_id, task_id, which, FailedTo::Pending, now).await
}

/// Failed items become `skipped`: accepted as not done. A finished task's status is
/// re-evaluated (skipping every failure makes it `succeeded`).
pub async fn skip<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    seller_id: i64,
    task_id: i64,
    which: Selection,
    now: DateTime<Utc>,
) -> Result<Controlled, TaskError> {
    move_failed(db, seller_id, task_id, which, FailedTo::Skipped, now).await
}
