//! The notification centre's rows: one per finished task (and later, other events).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entities::notification;

/// A notification's level is its message's tone (`info`, `success`, `warning`, `error`).
pub use task_model::Tone as Level;

/// What the notification of a task's end says: the words of the toast the seller sees
/// if the tab is open, of the tray and of the task page; the task named by its number.
pub fn ending(
    task_id: i64,
    kind: &str,
    label: &str,
    end: task_model::TaskStatus,
    counts: &task_model::TaskCounts,
) -> Option<task_model::Finished> {
    let named = task_model::words::numbered(task_id, label);
    task_model::words::finished(task_model::Presentation::of(kind), &named, end, counts)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: Option<i64>,
    level: Level,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<notification::Model, sea_orm::DbErr> {
    notification::ActiveModel {
        seller_id: Set(seller_id),
        task_id: Set(task_id),
        level: Set(level.as_str().to_owned()),
        title: Set(title.chars().take(200).collect()),
        body: Set(body.to_owned()),
        created_at: Set(now),
        read_at: Set(None),
        download: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// A task's one notification: what it says now replaces what it said before (its start,
/// or an earlier end before a retry), so the centre holds one entry per task. The new
/// row takes a new id, so live streams (which follow ids) send it, and it is unread.
pub async fn replace_for_task(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
    level: Level,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<notification::Model, sea_orm::DbErr> {
    notification::Entity::delete_many()
        .filter(notification::Column::SellerId.eq(seller_id))
        .filter(notification::Column::TaskId.eq(task_id))
        .exec(db)
        .await?;
    insert(db, seller_id, Some(task_id), level, title, body, now).await
}

/// Offers the file the task wrote from its notification.
pub async fn offer_download(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
    href: &str,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::Expr;
    notification::Entity::update_many()
        .col_expr(notification::Column::Download, Expr::value(href))
        .filter(notification::Column::SellerId.eq(seller_id))
        .filter(notification::Column::TaskId.eq(task_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The seller's newest notifications first.
pub async fn recent(
    db: &impl ConnectionTrait,
    seller_id: i64,
    limit: u64,
) -> Result<Vec<notification::Model>, sea_orm::DbErr> {
    notification::Entity::find()
        .filter(notification::Column::SellerId.eq(seller_id))
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn unread_count(
    db: &impl ConnectionTrait,
    seller_id: i64,
) -> Result<u64, sea_orm::DbErr> {
    notification::Entity::find()
        .filter(notification::Column::SellerId.eq(seller_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await
}

/// The seller's notifications newer than `after_id`, oldest first (for a live stream).
pub async fn since(
    db: &impl ConnectionTrait,
    seller_id: i64,
    after_id: i64,
) -> Result<Vec<notification::Model>, sea_orm::DbErr> {
    notification::Entity::find()
        .filter(notification::Column::SellerId.eq(seller_id))
        .filter(notification::Column::Id.gt(after_id))
        .order_by_asc(notification::Column::Id)
        .limit(100)
        .all(db)
        .await
}

/// Marks the listed notifications (or all) of the seller as read; returns how many
/// changed. Another seller's ids change nothing.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::sea_query::Expr;
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now))
        .filter(notification::Column::SellerId.eq(seller_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(ids) = ids {
        update = update.filter(notification::Column::Id.is_in(ids.to_vec()));
    }
    Ok(update.exec(db).await?.rows_affected)
}
