//! Tasks made from a filter ("select all 1,000,000 matching"): the task is made at once
//! with its count and the filter (`task_selections`), and the engine turns the matching
//! catalog items into task items a chunk at a time, in id order, each chunk one short
//! transaction. Items run while later chunks are still being added, so the first starts
//! within a second and no list of a million ids is ever sent, held or bound.
//!
//! The task covers the items that matched when it was made: only items up to the
//! highest id then (`upto_id`), so items added later are never in it. An item changed
//! meanwhile so that it no longer matches (in the seconds before its chunk) is left out,
//! and one changed so that it now matches is taken in: the task's total follows what was
//! added, and says so once the last chunk is in.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, QueryFilter,
    QuerySelect, QueryTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{load, shift_counters, stmt, write_txn, ItemStatus, Task, TaskStatus};
use crate::catalog::{ItemFilter, Matching};
use crate::entities::item;

/// Items added by the first chunk: small, so the task starts at once.
const FIRST_CHUNK: u64 = 1_000;
/// Items added by each later chunk.
const CHUNK: u64 = 10_000;

/// The filter a task was made from, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default)]
    pub q: Option<String>,
    /// A listing state's name.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub in_task: bool,
    #[serde(default)]
    pub changed: bool,
    /// Items the seller unticked after "select all".
    #[serde(default)]
    pub excluded: Vec<i64>,
    /// Leave out the items already live (a publish of only the new ones).
    #[serde(default)]
    pub leave_live: bool,
}

impl Selection {
    /// The filter as stored: a blank search is none.
    pub fn of(filter: &ItemFilter, excluded: Vec<i64>, leave_live: bool) -> Self {
        Self {
            q: filter
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            state: filter.state.map(|state| state.as_str().to_owned()),
            in_task: filter.in_task,
            changed: filter.changed,
            excluded,
            leave_live,
        }
    }

    pub fn matching(&self) -> Matching {
        Matching {
            filter: ItemFilter {
                q: self.q.clone(),
                state: self
                    .state
                    .as_deref()
                    .and_then(|state| crate::domain::ListingState::parse(state).ok()),
                in_task: self.in_task,
                changed: self.changed,
            },
            excluded: self.excluded.clone(),
            leave_live: self.leave_live,
        }
    }
}

#[derive(Debug, FromQueryResult)]
struct Pending {
    task_id: i64,
    seller_id: i64,
    selection: String,
    upto_id: i64,
    after_id: i64,
    expected: i64,
    added: i64,
}

/// What one step did, for the engine to tell the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    pub task: Option<Task>,
    /// Items added by this step.
    pub added: u64,
    /// The last chunk is in: the task has all its items.
    pub complete: bool,
}

/// Records that `task_id` is to get the seller's items matching `selection` up to
/// `upto_id`, `expected` of them by the count made with the task. In the task's
/// creating transaction.
pub(crate) async fn enroll(
    txn: &DatabaseTransaction,
    task_id: i64,
    seller_id: i64,
    selection: &Selection,
    upto_id: i64,
    expected: u64,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let stored = serde_json::to_string(selection)
        .map_err(|err| sea_orm::DbErr::Custom(format!("a selection does not serialise: {err}")))?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "INSERT INTO task_selections (task_id, seller_id, selection, upto_id, after_id, expected, added, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5, 0, $6)",
        vec![
            task_id.into(),
            seller_id.into(),
            stored.into(),
            upto_id.into(),
            (expected as i64).into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Whether the task is made from a filter whose items are still being added.
pub(crate) async fn waiting_for_items(
    txn: &DatabaseTransaction,
    task_id: i64,
) -> Result<bool, sea_orm::DbErr> {
    Ok(txn
        .query_one_raw(stmt(
            txn.get_database_backend(),
            "SELECT task_id FROM task_selections WHERE task_id = $1",
            vec![task_id.into()],
        ))
        .await?
        .is_some())
}

/// Whether any task still waits for items (the engine's expander sleeps otherwise).
pub async fn any<C: ConnectionTrait>(db: &C) -> Result<bool, sea_orm::DbErr> {
    Ok(db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT task_id FROM task_selections LIMIT 1",
            vec![],
        ))
        .await?
        .is_some())
}

/// Adds the next chunk of one task's items (the task that has been given the fewest so
/// far: a small task is not kept waiting behind a million-item one). `None` when no task
/// waits for items. PostgreSQL: the selection row is locked and skipped by other
/// instances; SQLite: one write transaction at a time.
pub async fn step<C>(
    db: &C,
    registry: &super::Registry,
    now: DateTime<Utc>,
) -> Result<Option<Expanded>, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let backend = db.get_database_backend();
    let txn = write_txn(db).await?;
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let Some(pending) = Pending::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT task_id, seller_id, selection, upto_id, after_id, expected, added \
             FROM task_selections ORDER BY added, task_id LIMIT 1 {lock}"
        ),
        vec![],
    ))
    .one(&txn)
    .await?
    else {
        txn.commit().await?;
        return Ok(None);
    };
    super::lock(&txn, pending.task_id).await?;
    let task = match load(&txn, pending.task_id).await {
        Ok(task) => task,
        Err(super::TaskError::NotFound) => {
            forget(&txn, pending.task_id).await?;
            txn.commit().await?;
            return Ok(None);
        }
        Err(err) => return Err(sea_orm::DbErr::Custom(err.to_string())),
    };
    let selection: Selection = match serde_json::from_str(&pending.selection) {
        Ok(selection) => selection,
        Err(err) => {
            // Written by `enroll`; a row that does not read ends the expansion with
            // what was added, rather than blocking every other task's.
            tracing::error!(task_id = task.id, %err, "a stored selection does not read");
            let done = finish(&txn, registry, &task, &pending, pending.added, now).await?;
            txn.commit().await?;
            return Ok(Some(done));
        }
    };
    // A cancelled task takes no more items; what it was still to be given is cancelled.
    // (So for a task that ended some other way: it cannot take items any more.)
    if matches!(task.status, TaskStatus::Cancelling) || task.status.is_terminal() {
        let left = (pending.expected - pending.added).max(0);
        forget(&txn, task.id).await?;
        shift_counters(
            &txn,
            task.id,
            &[(ItemStatus::Pending, -left), (ItemStatus::Cancelled, left)],
            now,
        )
        .await?;
        let (task, _) = super::complete::settle(&txn, task.id, now).await?;
        txn.commit().await?;
        return Ok(Some(Expanded {
            task,
            added: 0,
            complete: true,
        }));
    }
    let limit = if pending.added == 0 {
        FIRST_CHUNK
    } else {
        CHUNK
    };
    let ids = crate::catalog::matching_select(backend, pending.seller_id, &selection.matching())
        .filter(item::Column::Id.gt(pending.after_id))
        .filter(item::Column::Id.lte(pending.upto_id))
        .limit(limit)
        .build(backend);
    // The task has no other items: positions follow the ids, from 0.
    let first_position = pending.added;
    let (now_mark, values) = {
        let mut values = ids.values.map(|v| v.0).unwrap_or_default();
        values.push(now.into());
        let mark = match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        };
        (mark, values)
    };
    let insert = format!(
        "WITH picked AS ({}) \
         INSERT INTO task_items (task_id, seller_id, position, catalog_item_id, subject, status, attempts, next_attempt_at, updated_at) \
         SELECT {task_id}, {seller_id}, {first_position} + ROW_NUMBER() OVER (ORDER BY id) - 1, id, CAST(id AS TEXT), \
           'pending', 0, t.now, t.now FROM picked, (SELECT {now_mark} AS now) t",
        ids.sql,
        task_id = task.id,
        seller_id = pending.seller_id,
    );
    let inserted = txn
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend, insert, values,
        ))
        .await?
        .rows_affected() as i64;
    let added = pending.added + inserted;
    // More items than counted (some changed so that they now match): the task's counts
    // grow with them in this transaction, so its `pending` never reads less than the
    // items it has still to do, and it cannot end before its last chunk.
    let mut pending = pending;
    if added > pending.expected {
        let excess = added - pending.expected;
        txn.execute_raw(stmt(
            backend,
            "UPDATE tasks SET total = total + $1, pending = pending + $1, version = version + 1, \
             updated_at = $2 WHERE id = $3",
            vec![excess.into(), now.into(), task.id.into()],
        ))
        .await?;
        txn.execute_raw(stmt(
            backend,
            "UPDATE task_selections SET expected = $1 WHERE task_id = $2",
            vec![added.into(), task.id.into()],
        ))
        .await?;
        pending.expected = added;
    }
    let done = if (inserted as u64) < limit {
        finish(&txn, registry, &task, &pending, added, now).await?
    } else {
        let last = txn
            .query_one_raw(stmt(
                backend,
                "SELECT catalog_item_id FROM task_items WHERE task_id = $1 ORDER BY position DESC LIMIT 1",
                vec![task.id.into()],
            ))
            .await?
            .and_then(|row| row.try_get::<Option<i64>>("", "catalog_item_id").ok().flatten())
            .unwrap_or(pending.upto_id);
        txn.execute_raw(stmt(
            backend,
            "UPDATE task_selections SET after_id = $1, added = $2 WHERE task_id = $3",
            vec![last.into(), added.into(), task.id.into()],
        ))
        .await?;
        Expanded {
            task: Some(task),
            added: inserted as u64,
            complete: false,
        }
    };
    txn.commit().await?;
    Ok(Some(Expanded {
        added: inserted as u64,
        ..done
    }))
}

/// The last chunk is in: the task's total becomes what was added (the count made with
/// the task was of the items matching then), and it may end now if its items all did.
async fn finish(
    txn: &DatabaseTransaction,
    registry: &super::Registry,
    task: &Task,
    pending: &Pending,
    added: i64,
    now: DateTime<Utc>,
) -> Result<Expanded, sea_orm::DbErr> {
    forget(txn, task.id).await?;
    let difference = added - pending.expected;
    if difference != 0 {
        let total = task.counts.total + difference;
        // The kind's own words for the new count (an edit says what it changes).
        let items = usize::try_from(total).unwrap_or(0);
        let label = registry
            .get(&task.kind)
            .and_then(|kind| kind.label(&task.params, items).ok())
            .unwrap_or_else(|| task_model::Presentation::of(&task.kind).label(total));
        let label: String = label.chars().take(200).collect();
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE tasks SET total = total + $1, pending = pending + $1, label = $2, \
             version = version + 1, updated_at = $3 WHERE id = $4",
            vec![difference.into(), label.into(), now.into(), task.id.into()],
        ))
        .await?;
        tracing::info!(
            task_id = task.id,
            expected = pending.expected,
            added,
            "a task made from a filter got a different number of items than counted"
        );
    }
    let (task, _) = super::complete::settle(txn, task.id, now).await?;
    Ok(Expanded {
        task,
        added: 0,
        complete: true,
    })
}

async fn forget(txn: &DatabaseTransaction, task_id: i64) -> Result<(), sea_orm::DbErr> {
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "DELETE FROM task_selections WHERE task_id = $1",
        vec![task_id.into()],
    ))
    .await?;
    Ok(())
}
