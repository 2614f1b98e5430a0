//! Applying an attempt's outcome. Only the lease owner can: every transition is guarded by
//! `status = 'running' AND lease_owner = $me`, and zero rows is [`Completion::LeaseLost`].
//! Counters move in the same transaction, and the task settles when its last item ends.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use std::collections::{BTreeMap, BTreeSet};

use super::clock::Jitter;
use super::{
    breaker, load, shift_counters, stmt, write_txn, ItemStatus, Outcome, RetryPolicy, Task,
    TaskStatus, UNAVAILABLE,
};
use crate::notifications;

#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// The outcome was stored. `task` is the task after it (for events); `ended` says
    /// whether this outcome ended the task.
    Applied {
        item: ItemStatus,
        task: Option<Box<Task>>,
        ended: bool,
    },
    /// Someone else holds the item now (the lease expired and it was rescued): the
    /// outcome is discarded, and the new owner's attempt counts.
    LeaseLost,
}

/// What storing a batch of outcomes did: each item's completion, and the marketplace
/// accounts whose breaker opened (their other tasks are held now too).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub completions: Vec<(i64, Completion)>,
    pub transitions: Vec<breaker::Transition>,
}

/// One finished attempt, waiting to be stored.
#[derive(Debug, Clone)]
pub struct Finished {
    pub task_id: i64,
    pub item_id: i64,
    /// The attempt this was (1-based), as claimed.
    pub attempt: u32,
    pub outcome: Outcome,
    pub policy: RetryPolicy,
    /// Another item of the same call already counted the call's failure towards the
    /// breaker: one failed bulk call of 25 items is one failure, not 25.
    pub echo: bool,
}

/// Stores the outcome of attempt `attempt` at `item_id`, made by `worker_id`.
#[allow(clippy::too_many_arguments)]
pub async fn complete<C>(
    db: &C,
    worker_id: &str,
    task_id: i64,
    item_id: i64,
    attempt: u32,
    outcome: Outcome,
    policy: &RetryPolicy,
    jitter: &dyn Jitter,
    now: DateTime<Utc>,
) -> Result<Completion, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let finished = Finished {
        task_id,
        item_id,
        attempt,
        outcome,
        policy: *policy,
        echo: false,
    };
    let mut done = complete_many(db, worker_id, vec![finished], jitter, now).await?;
    Ok(done
        .completions
        .pop()
        .map(|(_, completion)| completion)
        .unwrap_or(Completion::LeaseLost))
}

/// Stores many outcomes in one transaction (the worker's completer batches them): one
/// guarded UPDATE per kind of outcome (`UPDATE … FROM (VALUES …)`), one counter UPDATE
/// and one settle per task.
#[tracing::instrument(skip_all, err, fields(worker_id, items = finished.len()))]
pub async fn complete_many<C>(
    db: &C,
    worker_id: &str,
    finished: Vec<Finished>,
    jitter: &dyn Jitter,
    now: DateTime<Utc>,
) -> Result<Stored, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    if finished.is_empty() {
        return Ok(Stored {
            completions: Vec::new(),
            transitions: Vec::new(),
        });
    }
    let txn = write_txn(db).await?;
    let mut applied: Vec<(i64, i64, ItemStatus)> = Vec::with_capacity(finished.len());
    let mut lost = Vec::new();
    let mut moves: BTreeMap<i64, BTreeMap<ItemStatus, i64>> = BTreeMap::new();
    // Per task: until when an item waits for marketplace quota (a snooze), or `None`
    // when an item got through (the wait is over).
    let mut waits: BTreeMap<i64, Option<DateTime<Utc>>> = BTreeMap::new();
    // The circuit breakers of the tasks' marketplace accounts.
    let task_ids: Vec<i64> = finished
        .iter()
        .map(|f| f.task_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (endpoints, mut breakers) = breaker::for_tasks(&txn, &task_ids).await?;
    // Locked (PostgreSQL) only where this batch may change them: a batch of successes
    // on a quiet account does not wait for other instances' batches.
    let to_lock: BTreeSet<String> = finished
        .iter()
        .filter_map(|item| {
            let key = endpoints.get(&item.task_id)?;
            let failures = breakers.get(key).map_or(0, |b| b.failures);
            (matches!(item.outcome, Outcome::Unavailable { .. }) || failures > 0)
                .then(|| key.clone())
        })
        .collect();
    breaker::lock(&txn, &mut breakers, &to_lock).await?;
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut opened: Vec<String> = Vec::new();
    let mut planned: Vec<Planned> = Vec::with_capacity(finished.len());
    // Per SET clause, the rows it applies to: the item's id, then its values.
    let mut updates: BTreeMap<String, Vec<Vec<sea_orm::Value>>> = BTreeMap::new();
    // The items whose outcome was written (still this worker's when it was).
    let mut stored: BTreeSet<i64> = BTreeSet::new();
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    for mut item in finished {
        // The same item twice in one batch (claimed again after its lease ran out): the
        // first outcome is stored, the other is a lost lease.
        if !seen.insert(item.item_id) {
            lost.push(item.item_id);
            continue;
        }
        let breaker = endpoints
            .get(&item.task_id)
            .and_then(|key| breakers.get_mut(key));
        let mut held = false;
        if let Some(breaker) = breaker {
            if let Outcome::Unavailable { message, .. } = &item.outcome {
                held = if breaker.state() != breaker::State::Closed {
                    true
                } else if item.echo {
                    false
                } else {
                    // Only a closed breaker's run changes here: an open or probing one
                    // is the probe's to change. Opening it forgives the run's items
                    // already stored as failed attempts: the outcomes before this one
                    // are written first.
                    touched.insert(breaker.key.clone());
                    flush(&txn, worker_id, &mut updates, &mut stored).await?;
                    breaker::on_unavailable(&txn, breaker, &mut opened, now).await?
                };
                if held {
                    // Waits behind the breaker: no attempt spent, due when it closes.
                    item.outcome = Outcome::Snooze {
                        delay: chrono::Duration::zero(),
                        code: breaker::HELD.to_owned(),
                        message: message.clone(),
                    };
                }
            } else if item.outcome.answered()
                && breaker.state() == breaker::State::Closed
                && breaker.failures > 0
            {
                // The marketplace answered: the run of failures is over.
                breaker.failures = 0;
                touched.insert(breaker.key.clone());
            }
        }
        let wait = match &item.outcome {
            _ if held => None,
            Outcome::Snooze { delay, .. } => {
                Some(Some(now + (*delay).max(chrono::Duration::zero())))
            }
            _ => Some(None),
        };
        let (new_status, set, extra) =
            outcome_sql(item.outcome, item.attempt, &item.policy, jitter, now);
        planned.push(Planned {
            task_id: item.task_id,
            item_id: item.item_id,
            status: new_status,
            wait,
        });
        let mut values: Vec<sea_orm::Value> = vec![item.item_id.into()];
        values.extend(extra);
        updates.entry(set).or_default().push(values);
    }
    flush(&txn, worker_id, &mut updates, &mut stored).await?;
    for item in planned {
        if !stored.contains(&item.item_id) {
            tracing::warn!(
                item_id = item.item_id,
                worker_id,
                "lease lost: outcome discarded"
            );
            lost.push(item.item_id);
            continue;
        }
        // A held item says nothing of the quota.
        if let Some(wait) = item.wait {
            let slot = waits.entry(item.task_id).or_insert(wait);
            *slot = match (*slot, wait) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (_, other) => other,
            };
        }
        let task_moves = moves.entry(item.task_id).or_default();
        *task_moves.entry(ItemStatus::Running).or_default() -= 1;
        *task_moves.entry(item.status).or_default() += 1;
        applied.push((item.task_id, item.item_id, item.status));
    }
    let touched: Vec<String> = touched.into_iter().collect();
    let transitions = breaker::save_outcomes(&txn, &breakers, &touched, &opened, now).await?;
    let mut settled: BTreeMap<i64, (Option<Task>, bool)> = BTreeMap::new();
    for (task_id, task_moves) in &moves {
        let list: Vec<(ItemStatus, i64)> = task_moves.iter().map(|(k, v)| (*k, *v)).collect();
        match waits.get(task_id) {
            // An item got through: the wait ends with the counters, in one statement.
            Some(None) => {
                super::shift_counters_ending_wait(&txn, *task_id, &list, true, now).await?;
            }
            Some(wait) => {
                shift_counters(&txn, *task_id, &list, now).await?;
                mark_wait(&txn, *task_id, *wait, now).await?;
            }
            None => shift_counters(&txn, *task_id, &list, now).await?,
        }
        settled.insert(*task_id, settle(&txn, *task_id, now).await?);
    }
    txn.commit().await?;
    let mut result: Vec<(i64, Completion)> = lost
        .into_iter()
        .map(|id| (id, Completion::LeaseLost))
        .collect();
    for (task_id, item_id, status) in applied {
        let (task, ended) = settled.get(&task_id).cloned().unwrap_or((None, false));
        result.push((
            item_id,
            Completion::Applied {
                item: status,
                task: task.map(Box::new),
                ended,
            },
        ));
    }
    Ok(Stored {
        completions: result,
        transitions,
    })
}

/// Rows per batched statement: well under SQLite's bound-parameter limit.
const BATCH_ROWS: usize = 500;

/// An outcome about to be stored.
struct Planned {
    task_id: i64,
    item_id: i64,
    status: ItemStatus,
    /// What it says of the task's wait for marketplace quota (see `mark_wait`); `None`
    /// for an item held behind a breaker, which says nothing.
    wait: Option<Option<DateTime<Utc>>>,
}

/// Writes the outcomes gathered so far: one statement per kind of outcome (a round of
/// successes is one UPDATE), guarded like a single one, so only the lease owner's
/// running items change; adds the ids it changed to `stored`.
async fn flush(
    txn: &DatabaseTransaction,
    worker_id: &str,
    updates: &mut BTreeMap<String, Vec<Vec<sea_orm::Value>>>,
    stored: &mut BTreeSet<i64>,
) -> Result<(), sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    for (set, rows) in std::mem::take(updates) {
        for chunk in rows.chunks(BATCH_ROWS) {
            let statement = batched_update(backend, worker_id, &set, chunk);
            for row in txn.query_all_raw(statement).await? {
                stored.insert(row.try_get::<i64>("", "id")?);
            }
        }
    }
    Ok(())
}

/// `UPDATE task_items SET <set> FROM (VALUES …)`: one statement for many items that
/// take the same SET clause, each with its own values. In `set`, `$2`, `$3`… name a
/// row's values after its id; they become the columns `v.c2`, `v.c3`…. Returns the ids
/// of the items it changed: those still running under `worker_id`'s lease.
fn batched_update(
    backend: sea_orm::DbBackend,
    worker_id: &str,
    set: &str,
    rows: &[Vec<sea_orm::Value>],
) -> sea_orm::Statement {
    let width = rows.first().map_or(1, Vec::len);
    let mut set = set.to_owned();
    // Highest first, so `$1` never matches inside `$12`.
    for n in (2..=width).rev() {
        set = set.replace(&format!("${n}"), &format!("v.c{n}"));
    }
    let columns: Vec<String> = std::iter::once("id".to_owned())
        .chain((2..=width).map(|n| format!("c{n}")))
        .collect();
    let mut values: Vec<sea_orm::Value> = vec![worker_id.into()];
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let start = values.len() + 1;
        let marks: Vec<String> = (start..start + row.len())
            .map(|n| format!("${n}"))
            .collect();
        tuples.push(format!("({})", marks.join(", ")));
        values.extend(row.iter().cloned());
    }
    let sql = format!(
        "WITH v ({}) AS (VALUES {}) UPDATE task_items SET {set} FROM v \
         WHERE task_items.id = v.id AND task_items.status = @running AND task_items.lease_owner = $1 \
         RETURNING task_items.id AS id",
        columns.join(", "),
        tuples.join(", ")
    );
    stmt(backend, &sql, values)
}

fn outcome_sql(
    outcome: Outcome,
    attempt: u32,
    policy: &RetryPolicy,
    jitter: &dyn Jitter,
    now: DateTime<Utc>,
) -> (ItemStatus, String, Vec<sea_orm::Value>) {
    // Outside a breaker (an endpoint without one), the marketplace not answering is a
    // passing problem like any other.
    let outcome = match outcome {
        Outcome::Unavailable { delay, message } => Outcome::RetryLater {
            delay,
            code: UNAVAILABLE.to_owned(),
            message,
        },
        other => other,
    };
    match outcome {
        Outcome::Succeeded(result) => (
            ItemStatus::Succeeded,
            "status = @succeeded, result = $2, error_code = NULL, error_message = NULL, error_details = NULL, lease_owner = NULL, lease_expires_at = NULL, finished_at = $3, updated_at = $3".to_owned(),
            vec![result.to_string().into(), now.into()],
        ),
        Outcome::RetryLater { delay, code, message } if attempt < policy.max_attempts => {
            let wait = delay.unwrap_or_else(|| policy.backoff(attempt, jitter)).max(chrono::Duration::zero());
            (
                ItemStatus::Pending,
                "status = @pending, next_attempt_at = $2, error_code = $3, error_message = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5".to_owned(),
                vec![(now + wait).into(), code.into(), message.into(), now.into()],
            )
        }
        Outcome::Waiting { check_after, note } => (
            ItemStatus::Waiting,
            "status = @waiting, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_at = $2, result = $3, error_code = NULL, error_message = NULL, error_details = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4".to_owned(),
            vec![(now + check_after.max(chrono::Duration::zero())).into(), note.to_string().into(), now.into()],
        ),
        Outcome::Snooze { delay, code, message } => (
            ItemStatus::Pending,
            "status = @pending, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_at = $2, error_code = $3, error_message = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5".to_owned(),
            vec![(now + delay.max(chrono::Duration::zero())).into(), code.into(), message.into(), now.into()],
        ),
        Outcome::RetryLater { code, message, .. } => failed_sql(code, message, None, now),
        Outcome::Unavailable { message, .. } => {
            failed_sql(UNAVAILABLE.to_owned(), message, None, now)
        }
        Outcome::Failed { code, message, details } => failed_sql(code, message, details, now),
        Outcome::Skipped { code, message } => (
            ItemStatus::Skipped,
            "status = @skipped, error_code = $2, error_message = $3, lease_owner = NULL, lease_expires_at = NULL, finished_at = $4, updated_at = $4".to_owned(),
            vec![code.into(), message.into(), now.into()],
        ),
        Outcome::Cancelled => (
            ItemStatus::Cancelled,
            "status = @cancelled, lease_owner = NULL, lease_expires_at = NULL, finished_at = $2, updated_at = $2".to_owned(),
            vec![now.into()],
        ),
    }
}

fn failed_sql(
    code: String,
    message: String,
    details: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> (ItemStatus, String, Vec<sea_orm::Value>) {
    (
        ItemStatus::Failed,
        "status = @failed, error_code = $2, error_message = $3, error_details = $4, lease_owner = NULL, lease_expires_at = NULL, finished_at = $5, updated_at = $5".to_owned(),
        vec![code.into(), message.into(), details.map(|d| d.to_string()).into(), now.into()],
    )
}

/// Records until when a task waits for marketplace quota, or clears a wait that is over.
async fn mark_wait(
    txn: &DatabaseTransaction,
    task_id: i64,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    let statement = match until {
        Some(until) => stmt(
            backend,
            "UPDATE tasks SET waiting_until = $2, version = version + 1 WHERE id = $1 AND (waiting_until IS NULL OR waiting_until < $2)",
            vec![task_id.into(), until.into()],
        ),
        None => stmt(
            backend,
            "UPDATE tasks SET waiting_until = NULL, version = version + 1 WHERE id = $1 AND waiting_until <= $2",
            vec![task_id.into(), now.into()],
        ),
    };
    txn.execute_raw(statement).await?;
    Ok(())
}

/// Gives an item back without counting the attempt (graceful shutdown).
pub async fn release<C>(
    db: &C,
    worker_id: &str,
    task_id: i64,
    item_id: i64,
    now: DateTime<Utc>,
) -> Result<Completion, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = write_txn(db).await?;
    let updated = txn
        .execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE task_items SET status = @pending, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 \
             WHERE id = $1 AND status = @running AND lease_owner = $2",
            vec![item_id.into(), worker_id.into(), now.into()],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        txn.rollback().await?;
        return Ok(Completion::LeaseLost);
    }
    shift_counters(
        &txn,
        task_id,
        &[(ItemStatus::Running, -1), (ItemStatus::Pending, 1)],
        now,
    )
    .await?;
    let (task, ended) = settle(&txn, task_id, now).await?;
    txn.commit().await?;
    Ok(Completion::Applied {
        item: ItemStatus::Pending,
        task: task.map(Box::new),
        ended,
    })
}

/// The end state a task reaches when none of its items is pending or running.
pub(crate) fn final_status(task: &Task) -> TaskStatus {
    let c = task.counts;
    if task.status == TaskStatus::Cancelling || task.status == TaskStatus::Cancelled {
        TaskStatus::Cancelled
    } else if c.failed == 0 {
        TaskStatus::Succeeded
    } else if c.succeeded + c.skipped == 0 {
        TaskStatus::Failed
    } else {
        TaskStatus::CompletedWithErrors
    }
}

/// Ends the task if nothing is pending or running (or re-evaluates a finished task after
/// a skip); writes the notification in the same transaction. Returns the task as it is
/// now, and whether it just ended.
pub(crate) async fn settle(
    txn: &DatabaseTransaction,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<(Option<Task>, bool), sea_orm::DbErr> {
    let mut task = match load(txn, task_id).await {
        Ok(task) => task,
        Err(super::TaskError::NotFound) => return Ok((None, false)),
        // Unreadable (logged where read): the transaction fails rather than settle
        // a task it cannot read.
        Err(err) => return Err(sea_orm::DbErr::Custom(err.to_string())),
    };
    // An item that came back to `pending` (a transient error, a rescued lease, a
    // release) after its task was cancelled is cancelled too: a cancelled task keeps
    // nothing to do.
    // So is one the marketplace accepted and was still processing: the task stops
    // following it (the cancel question says the marketplace may still list it).
    for waiting in [ItemStatus::Pending, ItemStatus::Waiting] {
        if !matches!(task.status, TaskStatus::Cancelling | TaskStatus::Cancelled)
            || task.counts.of(waiting) == 0
        {
            continue;
        }
        let swept = txn
            .execute_raw(stmt(
                txn.get_database_backend(),
                &format!(
                    "UPDATE task_items SET status = @cancelled, finished_at = $1, updated_at = $1 WHERE task_id = $2 AND status = @{}",
                    waiting.as_str()
                ),
                vec![now.into(), task_id.into()],
            ))
            .await?
            .rows_affected() as i64;
        shift_counters(
            txn,
            task_id,
            &[(waiting, -swept), (ItemStatus::Cancelled, swept)],
            now,
        )
        .await?;
        task.counts.shift(waiting, ItemStatus::Cancelled, swept);
    }
    // A scheduled task waits for its time or the step before it, even with no item yet.
    if task.status == TaskStatus::Scheduled {
        return Ok((Some(task), false));
    }
    let c = task.counts;
    let idle = c.running == 0
        && ((c.pending == 0 && c.waiting == 0) || task.status == TaskStatus::Cancelling);
    if !idle
        || task.status == TaskStatus::Cancelled
        || (task.status == TaskStatus::Paused && c.pending + c.waiting > 0)
    {
        return Ok((Some(task), false));
    }
    let end = final_status(&task);
    if task.status == end {
        return Ok((Some(task), false));
    }
    // A task made from a filter whose items are still being added has not ended, even
    // when every item it has so far is done (a cancel is the expander's to finish).
    if end != TaskStatus::Cancelled && super::expand::waiting_for_items(txn, task.id).await? {
        return Ok((Some(task), false));
    }
    let elapsed = task
        .started_at
        .map(|started| (now - started).num_milliseconds().max(1) as f64 / 1000.0);
    let throughput = elapsed.map(|secs| (c.succeeded + c.failed) as f64 / secs);
    let moved = txn.execute_raw(stmt(
        txn.get_database_backend(),
        "UPDATE tasks SET status = $1, finished_at = COALESCE(finished_at, $2), throughput = COALESCE($3, throughput), \
         waiting_until = NULL, hold = NULL, version = version + 1, updated_at = $2 WHERE id = $4 AND status = $5",
        vec![end.as_str().into(), now.into(), throughput.into(), task_id.into(), task.status.as_str().into()],
    ))
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok((Some(task), false));
    }
    if !task.status.is_terminal() {
        if let Some(said) = notifications::ending(task.id, &task.kind, &task.label, end, &c) {
            notifications::replace_for_task(
                txn,
                task.seller_id,
                task.id,
                said.tone,
                &said.title,
                &said.body,
                now,
            )
            .await?;
            let href = task_model::Presentation::of(&task.kind).download_href(task.id);
            if let Some(href) = href.filter(|_| c.succeeded > 0) {
                notifications::offer_download(txn, task.seller_id, task.id, &href).await?;
            }
        }
        // The step after it starts, or is cancelled with it: in this transaction, so
        // once.
        super::chain::hand_off(txn, &task, end, now).await?;
    }
    let ended = !task.status.is_terminal();
    task.status = end;
    task.version += 1;
    task.finished_at = task.finished_at.or(Some(now));
    task.throughput = throughput.or(task.throughput);
    task.hold = None;
    Ok((Some(task), ended))
}
