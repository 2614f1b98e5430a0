//! Claiming due items with a lease. Never more than the worker's free slots; fair across
//! sellers; at most a kind's concurrency per task across all workers; nothing of a task
//! whose marketplace account's circuit breaker is open.
//!
//! PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for or double
//! claim an item. SQLite: one IMMEDIATE write transaction, so claims are serialised.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, TransactionTrait};
use std::collections::BTreeMap;

use super::{stmt, write_txn, ItemStatus, Registry};

/// One item a worker now holds the lease on.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub item_id: i64,
    pub task_id: i64,
    pub seller_id: i64,
    pub kind: String,
    pub position: i32,
    /// The attempt this claim starts (1 for the first).
    pub attempt: u32,
    pub subject: serde_json::Value,
    pub params: serde_json::Value,
    /// Items of this task one call carries (the kind's batch size): the executor hands
    /// up to this many claimed items of one task to one call.
    pub batch: usize,
}

#[derive(Debug, FromQueryResult)]
struct ActiveTask {
    id: i64,
    seller_id: i64,
    kind: String,
    status: String,
    running: i64,
    pending: i64,
    waiting: i64,
    params: String,
}

#[derive(Debug, FromQueryResult)]
struct ClaimedRow {
    id: i64,
    position: i32,
    subject: String,
    attempts: i32,
}

/// What a claim did: the items, and the tasks that moved from queued to running.
#[derive(Debug, Default)]
pub struct ClaimBatch {
    pub items: Vec<Claimed>,
    /// The calls (slots) the items fill: one per item, or one per batch of a kind that
    /// sends several items a call.
    pub units: usize,
    pub started_tasks: Vec<i64>,
    pub touched_tasks: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub task_id: i64,
    pub seller_id: i64,
    /// How many more items of this task may run now.
    pub capacity: usize,
}

/// Shares `slots` between tasks: sellers take turns (the one with least running first),
/// and within a seller, tasks take turns. A seller's 10 000-item task therefore gets no
/// more than its turn while another seller's 5-item task waits.
pub(crate) fn allocate(
    candidates: &[Candidate],
    seller_running: &BTreeMap<i64, i64>,
    slots: usize,
) -> Vec<(i64, usize)> {
    let mut by_seller: BTreeMap<i64, Vec<Candidate>> = BTreeMap::new();
    for candidate in candidates.iter().filter(|c| c.capacity > 0) {
        by_seller
            .entry(candidate.seller_id)
            .or_default()
            .push(*candidate);
    }
    let mut sellers: Vec<i64> = by_seller.keys().copied().collect();
    sellers.sort_by_key(|seller| (seller_running.get(seller).copied().unwrap_or(0), *seller));
    let mut granted: BTreeMap<i64, usize> = BTreeMap::new();
    let mut next_task: BTreeMap<i64, usize> = BTreeMap::new();
    let mut left = slots;
    while left > 0 {
        let mut progressed = false;
        for seller in &sellers {
            if left == 0 {
                break;
            }
            let tasks = &by_seller[seller];
            let start = next_task.get(seller).copied().unwrap_or(0);
            // The seller's next task (in turn) that still has capacity.
            let pick = (0..tasks.len())
                .map(|offset| (start + offset) % tasks.len())
                .find(|&index| {
                    let task = tasks[index];
                    granted.get(&task.task_id).copied().unwrap_or(0) < task.capacity
                });
            if let Some(index) = pick {
                *granted.entry(tasks[index].task_id).or_default() += 1;
                next_task.insert(*seller, index + 1);
                left -= 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    granted.into_iter().collect()
}

/// Claims due items for up to `limit` calls for `worker_id`, leased until `now + lease`:
/// one item a call, or for a kind that sends several a call (a marketplace's bulk
/// call), up to its batch size of one task's items a call.
#[tracing::instrument(skip_all, err, fields(worker_id, limit))]
pub async fn claim<C>(
    db: &C,
    registry: &Registry,
    worker_id: &str,
    limit: usize,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<ClaimBatch, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let mut batch = ClaimBatch::default();
    if limit == 0 {
        return Ok(batch);
    }
    let backend = db.get_database_backend();
    let txn = write_txn(db).await?;
    let active = ActiveTask::find_by_statement(stmt(
        backend,
        "SELECT id, seller_id, kind, status, running, pending, waiting, params FROM tasks \
         WHERE status IN (@queued, @running) AND (pending > 0 OR waiting > 0) \
         AND (endpoint IS NULL OR endpoint NOT IN (SELECT key FROM breakers WHERE state <> 'closed')) ORDER BY id",
        vec![],
    ))
    .all(&txn)
    .await?;
    if active.is_empty() {
        txn.commit().await?;
        return Ok(batch);
    }
    let mut seller_running: BTreeMap<i64, i64> = BTreeMap::new();
    let mut candidates = Vec::with_capacity(active.len());
    // Per task: its parameters, its batch size, and how many items may run now.
    let mut shapes: BTreeMap<i64, (serde_json::Value, usize, i64)> = BTreeMap::new();
    for task in &active {
        let Some(kind) = registry.get(&task.kind) else {
            continue;
        };
        // Written by `create` as JSON; if a row says otherwise, the kind's reader fails
        // the item, and the reason is logged here.
        let params: serde_json::Value = serde_json::from_str(&task.params).unwrap_or_else(|err| {
            tracing::error!(task_id = task.id, %err, "stored task parameters are not JSON");
            serde_json::Value::Null
        });
        let size = kind.batch_size(&params).max(1);
        *seller_running.entry(task.seller_id).or_default() +=
            (task.running as u64).div_ceil(size as u64) as i64;
        // A kind's concurrency counts calls; a call carries up to `size` items.
        let room = (i64::from(kind.concurrency()) * size as i64 - task.running)
            .clamp(0, task.pending + task.waiting);
        candidates.push(Candidate {
            task_id: task.id,
            seller_id: task.seller_id,
            capacity: (room as usize).div_ceil(size),
        });
        shapes.insert(task.id, (params, size, room));
    }
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // Items whose marketplace check is due come first: a check is one cheap read, and
    // it is what ends a task whose submissions are all in.
    let claim_sql = |from: ItemStatus| {
        format!(
            "UPDATE task_items SET status = @running, attempts = attempts + 1, lease_owner = $1, \
             lease_expires_at = $2, started_at = COALESCE(started_at, $3), updated_at = $3 \
             WHERE id IN (SELECT id FROM task_items WHERE task_id = $4 AND status = @{} \
               AND next_attempt_at <= $3 ORDER BY position LIMIT $5 {lock}) \
             RETURNING id, position, subject, attempts",
            from.as_str()
        )
    };
    for (task_id, units) in allocate(&candidates, &seller_running, limit) {
        let Some(task) = active.iter().find(|t| t.id == task_id) else {
            continue;
        };
        let Some((params, size, room)) = shapes.remove(&task_id) else {
            continue;
        };
        let count = (units * size).min(room.max(0) as usize);
        let mut rows = Vec::new();
        for (from, queued) in [
            (ItemStatus::Waiting, task.waiting),
            (ItemStatus::Pending, task.pending),
        ] {
            let wanted = count.saturating_sub(rows.len()) as i64;
            if queued == 0 || wanted == 0 {
                continue;
            }
            let claimed = ClaimedRow::find_by_statement(stmt(
                backend,
                &claim_sql(from),
                vec![
                    worker_id.into(),
                    (now + lease).into(),
                    now.into(),
                    task_id.into(),
                    wanted.into(),
                ],
            ))
            .all(&txn)
            .await?;
            if claimed.is_empty() {
                continue;
            }
            txn.execute_raw(stmt(
                backend,
                &format!(
                    "UPDATE tasks SET {from} = {from} - $1, running = running + $1, \
                     status = CASE WHEN status = @queued THEN @running ELSE status END, \
                     started_at = COALESCE(started_at, $2), version = version + 1, updated_at = $2 WHERE id = $3",
                    from = from.as_str()
                ),
                vec![(claimed.len() as i64).into(), now.into(), task_id.into()],
            ))
            .await?;
            rows.extend(claimed);
        }
        if rows.is_empty() {
            continue;
        }
        if super::TaskStatus::try_from(task.status.as_str()) == Ok(super::TaskStatus::Queued) {
            batch.started_tasks.push(task_id);
        }
        batch.touched_tasks.push(task_id);
        batch.units += rows.len().div_ceil(size);
        for row in rows {
            batch.items.push(Claimed {
                item_id: row.id,
                task_id,
                seller_id: task.seller_id,
                kind: task.kind.clone(),
                position: row.position,
                attempt: row.attempts.max(1) as u32,
                subject: serde_json::from_str(&row.subject).unwrap_or_else(|err| {
                    tracing::error!(task_item_id = row.id, %err, "stored subject is not JSON");
                    serde_json::Value::Null
                }),
                params: params.clone(),
                batch: size,
            });
        }
    }
    txn.commit().await?;
    batch
        .items
        .sort_by_key(|item| (item.task_id, item.position));
    Ok(batch)
}

/// Extends the leases of the items `worker_id` is running now (`item_ids`); returns how
/// many it still holds. Only the items in hand: an item whose outcome could not be stored
/// stays `running` in the database, and renewing it would hide it from the rescuer forever.
pub async fn heartbeat(
    db: &impl ConnectionTrait,
    worker_id: &str,
    item_ids: &[i64],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let mut renewed = 0;
    // Bounded statements, whatever the number of slots.
    for chunk in item_ids.chunks(500) {
        let placeholders: Vec<String> = (3..3 + chunk.len()).map(|n| format!("${n}")).collect();
        let mut values: Vec<sea_orm::Value> = vec![(now + lease).into(), worker_id.into()];
        values.extend(chunk.iter().map(|id| (*id).into()));
        let result = db
            .execute_raw(stmt(
                db.get_database_backend(),
                &format!(
                    "UPDATE task_items SET lease_expires_at = $1 \
                     WHERE lease_owner = $2 AND status = @running AND id IN ({})",
                    placeholders.join(", ")
                ),
                values,
            ))
            .await?;
        renewed += result.rows_affected();
    }
    Ok(renewed)
}

#[derive(Debug, FromQueryResult)]
struct IdRow {
    id: i64,
}

/// The items `worker_id` holds whose task is being cancelled: their handlers get the signal.
pub async fn cancelled_in_flight(
    db: &impl ConnectionTrait,
    worker_id: &str,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    Ok(IdRow::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT ti.id AS id FROM task_items ti JOIN tasks t ON t.id = ti.task_id \
         WHERE ti.lease_owner = $1 AND ti.status = @running AND t.status = @cancelling",
        vec![worker_id.into()],
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|row| row.id)
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(task_id: i64, seller_id: i64, capacity: usize) -> Candidate {
        Candidate {
            task_id,
            seller_id,
            capacity,
        }
    }

    #[test]
    fn sellers_take_turns_so_a_small_task_is_not_starved() {
        let big = candidate(1, 10, 8);
        let small = candidate(2, 20, 8);
        let grants = allocate(&[big, small], &BTreeMap::from([(10, 8)]), 4);
        assert_eq!(grants, [(1, 2), (2, 2)]);
        // With one slot, the seller running nothing goes first.
        assert_eq!(
            allocate(&[big, small], &BTreeMap::from([(10, 8)]), 1),
            [(2, 1)]
        );
    }

    #[test]
    fn capacity_and_slots_are_never_exceeded() {
        let grants = allocate(
            &[
                candidate(1, 10, 1),
                candidate(2, 10, 2),
                candidate(3, 20, 0),
            ],
            &BTreeMap::new(),
            10,
        );
        assert_eq!(grants, [(1, 1), (2, 2)]);
        let total: usize = allocate(
            &[candidate(1, 10, 100), candidate(2, 20, 100)],
            &BTreeMap::new(),
            7,
        )
        .iter()
        .map(|(_, n)| n)
        .sum();
        assert_eq!(total, 7);
        assert!(allocate(&[], &BTreeMap::new(), 5).is_empty());
    }

    #[test]
    fn tasks_of_one_seller_take_turns() {
        let grants = allocate(
            &[candidate(1, 10, 5), candidate(2, 10, 5)],
            &BTreeMap::new(),
            4,
        );
        assert_eq!(grants, [(1, 2), (2, 2)]);
    }
}
