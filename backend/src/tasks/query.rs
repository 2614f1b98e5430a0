//! Reading tasks and their items for one seller (lists, pages, ETA).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::{ItemStatus, Task, TaskError, TaskStatus};
use crate::entities::{item, task, task_item};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub kind: Option<String>,
}

/// The seller's tasks, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    seller_id: i64,
    filter: &TaskFilter,
    page: u64,
    per_page: u64,
) -> Result<(Vec<Task>, u64), TaskError> {
    let mut select = task::Entity::find().filter(task::Column::SellerId.eq(seller_id));
    if let Some(status) = filter.status {
        select = select.filter(task::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.kind {
        select = select.filter(task::Column::Kind.eq(kind.as_str()));
    }
    let paginator = select
        .order_by_desc(task::Column::CreatedAt)
        .order_by_desc(task::Column::Id)
        .paginate(db, per_page.max(1));
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page.max(1) - 1).await?;
    Ok((
        rows.into_iter()
            .map(super::read)
            .collect::<Result<_, _>>()?,
        total,
    ))
}

/// Which of a task's items to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    pub status: Option<ItemStatus>,
    /// Only failed items with this error code (one failure group).
    pub error_code: Option<String>,
    /// Part of the SKU, any case. For imports it matches any cell of the row.
    pub q: Option<String>,
}

/// Item ids among the seller's catalog whose SKU contains `q`; bounded, since a search
/// this broad is not a search.
const SEARCH_MATCHES_MAX: u64 = 5_000;

/// One page of a task's items, in order; the task must be the seller's.
pub async fn items(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
    filter: &ItemFilter,
    page: u64,
    per_page: u64,
) -> Result<(Vec<task_item::Model>, u64), TaskError> {
    use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LikeExpr};
    use sea_orm::QuerySelect;
    let task = super::get(db, seller_id, task_id).await?;
    let mut select = task_item::Entity::find().filter(task_item::Column::TaskId.eq(task_id));
    if let Some(status) = filter.status {
        select = select.filter(task_item::Column::Status.eq(status.as_str()));
    }
    if let Some(code) = &filter.error_code {
        select = select.filter(task_item::Column::ErrorCode.eq(code.as_str()));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = LikeExpr::new(crate::catalog::like_pattern(q)).escape('\\');
        if task.presentation().subject == task_model::Subject::CsvRow {
            // The row's cells are the subject, as JSON text.
            select = select.filter(
                Expr::expr(Func::lower(Expr::col((
                    task_item::Entity,
                    task_item::Column::Subject,
                ))))
                .like(pattern),
            );
        } else {
            // The subject is the catalog item's id.
            let ids: Vec<i64> = item::Entity::find()
                .select_only()
                .column(item::Column::Id)
                .filter(item::Column::SellerId.eq(seller_id))
                .filter(
                    Expr::expr(Func::lower(Expr::col((item::Entity, item::Column::Sku))))
                        .like(pattern),
                )
                .limit(SEARCH_MATCHES_MAX)
                .into_tuple()
                .all(db)
                .await?;
            select =
                select.filter(task_item::Column::Subject.is_in(ids.iter().map(i64::to_string)));
        }
    }
    let paginator = select
        .order_by_asc(task_item::Column::Position)
        .paginate(db, std::cmp::max(per_page, 1));
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(std::cmp::max(page, 1) - 1).await?;
    Ok((rows, total))
}

/// The failed items of a task that share one error code.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup {
    pub code: String,
    pub count: u64,
    /// The first few items of the group, in task order.
    pub examples: Vec<task_item::Model>,
}

/// How many examples a failure group carries.
pub const GROUP_EXAMPLES: u64 = 3;

/// A task's failed items grouped by error code, largest group first.
pub async fn failure_groups(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
) -> Result<Vec<FailureGroup>, TaskError> {
    use sea_orm::sea_query::{Expr, ExprTrait as _};
    use sea_orm::QuerySelect;
    super::get(db, seller_id, task_id).await?;
    let failed = || {
        task_item::Entity::find()
            .filter(task_item::Column::TaskId.eq(task_id))
            .filter(task_item::Column::Status.eq(ItemStatus::Failed.as_str()))
    };
    let counts: Vec<(Option<String>, i64)> = failed()
        .select_only()
        .column(task_item::Column::ErrorCode)
        .column_as(Expr::col(task_item::Column::Id).count(), "count")
        .group_by(task_item::Column::ErrorCode)
        .into_tuple()
        .all(db)
        .await?;
    let mut groups = Vec::with_capacity(counts.len());
    for (code, count) in counts {
        let examples = match &code {
            Some(code) => failed().filter(task_item::Column::ErrorCode.eq(code.as_str())),
            None => failed().filter(task_item::Column::ErrorCode.is_null()),
        }
        .order_by_asc(task_item::Column::Position)
        .limit(GROUP_EXAMPLES)
        .all(db)
        .await?;
        groups.push(FailureGroup {
            code: code.unwrap_or_else(|| "unknown".to_owned()),
            count: u64::try_from(count).unwrap_or(0),
            examples,
        });
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(groups)
}

/// Seconds until the task is likely done (see [`crate::estimate::remaining`]); `None`
/// after it ended, and while it is held.
pub fn eta_seconds(task: &Task, now: DateTime<Utc>) -> Option<u64> {
    // Held: nothing honest can be said until the marketplace answers.
    if task.hold.is_some() {
        return None;
    }
    crate::estimate::remaining(
        crate::estimate::Progress {
            status: task.status,
            counts: &task.counts,
            estimate: task.estimate.as_ref(),
            estimated_at: task.estimated_at,
            started_at: task.started_at,
            waiting_until: task.waiting_until,
        },
        now,
    )
}

/// What a live view starts from: the seller's unfinished tasks, then those finished since
/// `finished_since`, newest first, at most `limit` in all.
pub async fn live(
    db: &impl ConnectionTrait,
    seller_id: i64,
    finished_since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Task>, TaskError> {
    use sea_orm::{Condition, QuerySelect};
    let rows = task::Entity::find()
        .filter(task::Column::SellerId.eq(seller_id))
        .filter(
            Condition::any()
                .add(task::Column::FinishedAt.is_null())
                .add(task::Column::FinishedAt.gte(finished_since)),
        )
        .order_by_desc(task::Column::CreatedAt)
        .order_by_desc(task::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(super::read).collect()
}

/// Whether a task of the seller's that has not ended goes through the connection (its
/// parameters name it).
pub async fn uses_connection(
    db: &impl ConnectionTrait,
    seller_id: i64,
    connection_id: i64,
) -> Result<bool, sea_orm::DbErr> {
    let ended: Vec<&str> = TaskStatus::ALL
        .into_iter()
        .filter(|status| status.is_terminal())
        .map(TaskStatus::as_str)
        .collect();
    let open = task::Entity::find()
        .filter(task::Column::SellerId.eq(seller_id))
        .filter(task::Column::Status.is_not_in(ended))
        .all(db)
        .await?;
    Ok(open.iter().any(|row| {
        serde_json::from_str::<serde_json::Value>(&row.params)
            .ok()
            .and_then(|params| params.get("connection_id")?.as_i64())
            == Some(connection_id)
    }))
}
