//! Where a catalog item stands in the seller's tasks: the catalog shows a chip on the
//! rows of items a task is about to change, the item page a banner that follows the item
//! through its task, and saving an item asks first when a task is about to send it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

use super::{ItemStatus, TaskError, TaskStatus};
use crate::entities::{task, task_item};

/// A finished item's task is still shown on the item page for this long.
pub const RECENT: Duration = Duration::minutes(15);

/// One catalog item in one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInTask {
    pub catalog_item_id: i64,
    pub task_id: i64,
    pub kind: String,
    pub label: String,
    pub task_status: TaskStatus,
    /// The item's own place in the task.
    pub status: ItemStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ItemInTask {
    /// The task has still to act on the item (queued or in flight).
    pub fn is_ahead(&self) -> bool {
        !self.status.is_done() && !self.task_status.is_terminal()
    }

    fn of(row: task_item::Model, task: &task::Model) -> Option<Self> {
        Some(Self {
            catalog_item_id: row.catalog_item_id?,
            task_id: task.id,
            kind: task.kind.clone(),
            label: task.label.clone(),
            task_status: TaskStatus::try_from(task.status.as_str()).ok()?,
            status: ItemStatus::try_from(row.status.as_str()).ok()?,
            error_code: row.error_code,
            error_message: row.error_message,
            finished_at: row.finished_at,
        })
    }
}

/// For each of the seller's `item_ids` that a task has still to act on, that task (the
/// newest, if several). Items of other sellers are never found.
pub async fn ahead(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_ids: &[i64],
) -> Result<HashMap<i64, ItemInTask>, TaskError> {
    if item_ids.is_empty() {
        return Ok(HashMap::new());
    }
    // Only unfinished tasks hold pending or running items: a cancel or an end settles
    // every item.
    let rows = task_item::Entity::find()
        .filter(task_item::Column::SellerId.eq(seller_id))
        .filter(task_item::Column::CatalogItemId.is_in(item_ids.iter().copied()))
        .filter(task_item::Column::Status.is_in([
            ItemStatus::Pending.as_str(),
            ItemStatus::Waiting.as_str(),
            ItemStatus::Running.as_str(),
        ]))
        .order_by_asc(task_item::Column::TaskId)
        .all(db)
        .await?;
    let tasks = tasks_by_id(db, seller_id, rows.iter().map(|r| r.task_id)).await?;
    let mut found = HashMap::new();
    for row in rows {
        if let Some(item) = tasks.get(&row.task_id).and_then(|t| ItemInTask::of(row, t)) {
            // Ascending task ids: the newest task wins.
            if item.is_ahead() {
                found.insert(item.catalog_item_id, item);
            }
        }
    }
    Ok(found)
}

/// The item's latest task, for the item page: one that has still to act on it, or one
/// that finished with it in the last [`RECENT`] minutes.
pub async fn latest(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<ItemInTask>, TaskError> {
    if let Some(ahead) = ahead(db, seller_id, &[item_id]).await?.remove(&item_id) {
        return Ok(Some(ahead));
    }
    let row = task_item::Entity::find()
        .filter(task_item::Column::SellerId.eq(seller_id))
        .filter(task_item::Column::CatalogItemId.eq(item_id))
        .order_by_desc(task_item::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let recent = row.finished_at.unwrap_or(row.updated_at) >= now - RECENT;
    if !recent {
        return Ok(None);
    }
    let tasks = tasks_by_id(db, seller_id, [row.task_id]).await?;
    Ok(tasks.get(&row.task_id).and_then(|t| ItemInTask::of(row, t)))
}

async fn tasks_by_id(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, task::Model>, TaskError> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(task::Entity::find()
        .filter(task::Column::SellerId.eq(seller_id))
        .filter(task::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

/// The condition "a task has still to act on this catalog item", for the catalog's
/// "in a running task" filter: the item's id among the catalog items of the seller's
/// pending and running task items.
pub fn ahead_subquery(seller_id: i64) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
    Query::select()
        .column(task_item::Column::CatalogItemId)
        .from(task_item::Entity)
        .and_where(Expr::col(task_item::Column::SellerId).eq(seller_id))
        .and_where(Expr::col(task_item::Column::CatalogItemId).is_not_null())
        .and_where(Expr::col(task_item::Column::Status).is_in([
            ItemStatus::Pending.as_str(),
            ItemStatus::Waiting.as_str(),
            ItemStatus::Running.as_str(),
        ]))
        .to_owned()
}
