//! Chains: a task followed by another over what it did ("import, then publish what
//! imported"). The later step is made with the first, `scheduled` and empty; when the
//! step before it ends, in the same transaction, it is given one item per catalog item
//! that step succeeded on — or cancelled with it. Everything is in the two rows and
//! their items, so a chain survives a restart, and the hand-off happens once: it rides
//! on the status change that ends the step before, which only one transaction makes.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, Set,
};
use std::collections::BTreeSet;

use super::{load, shift_counters, stmt, AnyKind, ItemStatus, Task, TaskError, TaskStatus};
use crate::entities::{task, task_item};

/// Adds the step that follows `first` (a task row just inserted, with `items` items):
/// scheduled, empty, with an estimate made as if every item of `first` passes on. Links
/// both rows. Returns the new step's id.
pub(crate) async fn add_step(
    txn: &DatabaseTransaction,
    registry: &super::Registry,
    then: &dyn AnyKind,
    first: &task::Model,
    items: usize,
    connection: Option<(i64, task_model::Marketplace)>,
    now: DateTime<Utc>,
) -> Result<i64, TaskError> {
    let mut raw = serde_json::json!({ "item_ids": [] });
    if let Some((id, marketplace)) = connection {
        raw["connection_id"] = id.into();
        raw["marketplace"] = marketplace.as_str().into();
    }
    let params = then.parse_params(&raw)?;
    // Until the first step ends, the best guess is that all of it passes on.
    let guess = vec![serde_json::Value::from(0); items];
    // It runs after `first`, not beside it: only the seller's other work shares its pace.
    let sharing = match then.call_model(first.seller_id) {
        Some(_) => super::create::sharing(txn, registry, first.seller_id, Some(first.id)).await?,
        None => Vec::new(),
    };
    let estimate = then.estimate(first.seller_id, &params, &guess, &sharing)?;
    let step = first.chain_step.unwrap_or(1) + 1;
    let of = first.chain_of.unwrap_or(step).max(step);
    // Empty until the step before it ends; labelled for what it expects meanwhile.
    let row = task::ActiveModel {
        status: Set(TaskStatus::Scheduled.as_str().to_owned()),
        label: Set(then.label(&params, items)?.chars().take(200).collect()),
        total: Set(0),
        pending: Set(0),
        waiting: Set(0),
        previous_task_id: Set(Some(first.id)),
        chain_step: Set(Some(step)),
        chain_of: Set(Some(of)),
        ..super::create::fresh_row(first.seller_id, then, &params, 0, &estimate, now)?
    }
    .insert(txn)
    .await?;
    super::breaker::enroll(txn, then, &row, now).await?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "UPDATE tasks SET next_task_id = $1 WHERE id = $2",
        vec![row.id.into(), first.id.into()],
    ))
    .await?;
    Ok(row.id)
}

#[derive(Debug, FromQueryResult)]
struct Done {
    catalog_item_id: Option<i64>,
    result: Option<String>,
}

/// The catalog item a succeeded task item acted on: named on the task item (kinds over
/// catalog items), or in its result (an import's row names the item it wrote).
fn acted_on(done: &Done) -> Option<i64> {
    done.catalog_item_id.or_else(|| {
        let result: serde_json::Value = serde_json::from_str(done.result.as_deref()?).ok()?;
        result["item_id"].as_i64()
    })
}

/// `task` has just ended as `end`: the step after it, if any, is cancelled with it, or
/// given the catalog items `task` succeeded on that it does not have yet (a retry of the
/// first step passes its new successes on, re-opening a step that had finished). A step
/// that was never given anything and gets nothing is cancelled: it has nothing to do.
pub(crate) async fn hand_off(
    txn: &DatabaseTransaction,
    task: &Task,
    end: TaskStatus,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let Some(next_id) = task.chain.and_then(|chain| chain.next) else {
        return Ok(());
    };
    // Steps are locked in chain order, first before next: never waiting on each other.
    super::lock(txn, next_id).await?;
    let next = match load(txn, next_id).await {
        Ok(next) => next,
        Err(TaskError::NotFound) => return Ok(()),
        Err(err) => return Err(sea_orm::DbErr::Custom(err.to_string())),
    };
    if matches!(next.status, TaskStatus::Cancelling | TaskStatus::Cancelled) {
        return Ok(());
    }
    if end == TaskStatus::Cancelled {
        // A step that already has its items (a retry of the step before was cancelled)
        // keeps them: what it did or does is the earlier run's.
        if next.status == TaskStatus::Scheduled {
            Box::pin(cancel_in(txn, &next, now)).await?;
        }
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let done = Done::find_by_statement(stmt(
        backend,
        "SELECT catalog_item_id, result FROM task_items WHERE task_id = $1 AND status = @succeeded \
         ORDER BY position",
        vec![task.id.into()],
    ))
    .all(txn)
    .await?;
    #[derive(FromQueryResult)]
    struct Has {
        catalog_item_id: Option<i64>,
    }
    let has: BTreeSet<i64> = Has::find_by_statement(stmt(
        backend,
        "SELECT catalog_item_id FROM task_items WHERE task_id = $1",
        vec![next.id.into()],
    ))
    .all(txn)
    .await?
    .into_iter()
    .filter_map(|row| row.catalog_item_id)
    .collect();
    let mut seen = has;
    let fresh: Vec<i64> = done
        .iter()
        .filter_map(acted_on)
        .filter(|id| seen.insert(*id))
        .collect();
    if fresh.is_empty() {
        if next.counts.total == 0 {
            return Box::pin(nothing_to_do(txn, &next, task, now)).await;
        }
        return Ok(());
    }
    let added = fresh.len() as i64;
    let Some(row) = task::Entity::find_by_id(next.id).one(txn).await? else {
        return Ok(());
    };
    let first_position = usize::try_from(next.counts.total).unwrap_or(0);
    for (chunk_index, chunk) in fresh.chunks(1_000).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, item_id)| {
            super::create::pending_item(
                &row,
                first_position + chunk_index * 1_000 + i,
                Some(*item_id),
                item_id.to_string(),
                now,
            )
        });
        task_item::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    let total = next.counts.total + added;
    let label: String = task_model::Presentation::of(&next.kind)
        .label(total)
        .chars()
        .take(200)
        .collect();
    // A step that had not started starts now; one that had finished re-opens.
    let status = match next.status {
        TaskStatus::Scheduled => TaskStatus::Queued,
        status if status.is_terminal() => TaskStatus::Running,
        status => status,
    };
    let starts = next.status == TaskStatus::Scheduled;
    let moved = txn
        .execute_raw(stmt(
            backend,
            "UPDATE tasks SET total = total + $1, pending = pending + $1, label = $2, status = $3, \
             finished_at = NULL, estimated_at = CASE WHEN $4 THEN $5 ELSE estimated_at END, \
             version = version + 1, updated_at = $5 WHERE id = $6 AND status = $7",
            vec![
                added.into(),
                label.into(),
                status.as_str().into(),
                starts.into(),
                now.into(),
                next.id.into(),
                next.status.as_str().into(),
            ],
        ))
        .await?
        .rows_affected();
    if moved == 0 {
        // Locked and read above, so only a bug gets here: nothing half-done is kept.
        return Err(sea_orm::DbErr::Custom(format!(
            "task {} changed while its step was handed its items",
            next.id
        )));
    }
    if starts {
        if let Some(row) = task::Entity::find_by_id(next.id).one(txn).await? {
            super::create::note_started(txn, &row, next.estimate.as_ref(), now).await?;
        }
    }
    tracing::info!(
        task_id = task.id,
        next_task_id = next.id,
        items = added,
        "chain: the next step has its items"
    );
    Ok(())
}

/// The step before ended without passing anything on: this one will not run.
async fn nothing_to_do(
    txn: &DatabaseTransaction,
    next: &Task,
    before: &Task,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let moved = txn
        .execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE tasks SET status = @cancelled, finished_at = $1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND status = @scheduled",
            vec![now.into(), next.id.into()],
        ))
        .await?
        .rows_affected();
    if moved == 0 {
        return Ok(());
    }
    let kind = task_model::Presentation::of(&next.kind);
    crate::notifications::replace_for_task(
        txn,
        next.seller_id,
        next.id,
        crate::notifications::Level::Info,
        &format!(
            "{} not started",
            task_model::words::numbered(next.id, &next.label)
        ),
        &format!(
            "Nothing to {}: {} ended with nothing to pass on.",
            kind.title.to_lowercase(),
            task_model::words::numbered(before.id, &before.label),
        ),
        now,
    )
    .await?;
    // And the steps after it, which wait for it.
    let next = load(txn, next.id)
        .await
        .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    hand_off(txn, &next, TaskStatus::Cancelled, now).await
}

/// Cancels `task` inside the caller's transaction (which holds its row: read after a
/// lock): pending items at once, in-flight ones when they stop (the workers hear it at
/// their next heartbeat). Returns how many items it cancelled at once; a task already
/// over, or changed meanwhile, is left as it is.
pub(crate) async fn cancel_in(
    txn: &DatabaseTransaction,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    let moved = txn
        .execute_raw(stmt(
            backend,
            "UPDATE tasks SET status = @cancelling, finished_at = NULL, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND status = $3 AND status NOT IN (@cancelled, @succeeded, @completed_with_errors, @failed)",
            vec![now.into(), task.id.into(), task.status.as_str().into()],
        ))
        .await?
        .rows_affected();
    if moved == 0 {
        return Ok(0);
    }
    let cancelled = txn
        .execute_raw(stmt(
            backend,
            "UPDATE task_items SET status = @cancelled, finished_at = $1, updated_at = $1 \
             WHERE task_id = $2 AND status = @pending",
            vec![now.into(), task.id.into()],
        ))
        .await?
        .rows_affected() as i64;
    shift_counters(
        txn,
        task.id,
        &[
            (ItemStatus::Pending, -cancelled),
            (ItemStatus::Cancelled, cancelled),
        ],
        now,
    )
    .await?;
    super::complete::settle(txn, task.id, now).await?;
    Ok(cancelled.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_acted_on_is_named_on_the_task_item_or_in_its_result() {
        let named = Done {
            catalog_item_id: Some(4),
            result: None,
        };
        assert_eq!(acted_on(&named), Some(4));
        let imported = Done {
            catalog_item_id: None,
            result: Some(r#"{"item_id": 9, "sku": "A-1", "created": true}"#.into()),
        };
        assert_eq!(acted_on(&imported), Some(9));
        let unreadable = Done {
            catalog_item_id: None,
            result: Some("not json".into()),
        };
        assert_eq!(acted_on(&unreadable), None);
    }
}
