//! An item's listing per connection: what was submitted, whether the marketplace is still
//! processing it, and what it finally said.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entities::listing;

/// Where an item's listing on one connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Accepted; the marketplace has not finished processing it.
    Processing,
    Listed,
    Refused,
    Removed,
}

impl State {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Listed => "listed",
            Self::Refused => "refused",
            Self::Removed => "removed",
        }
    }
}

/// What to remember about a listing now.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub seller_id: i64,
    pub item_id: i64,
    pub connection_id: i64,
    pub state: State,
    pub reference: Option<&'a str>,
    pub submission_id: Option<&'a str>,
    /// With a submission: the task item that made it.
    pub task_item_id: Option<i64>,
    pub issues: Option<&'a serde_json::Value>,
}

pub async fn get(
    db: &impl ConnectionTrait,
    item_id: i64,
    connection_id: i64,
) -> Result<Option<listing::Model>, sea_orm::DbErr> {
    listing::Entity::find()
        .filter(listing::Column::ItemId.eq(item_id))
        .filter(listing::Column::ConnectionId.eq(connection_id))
        .one(db)
        .await
}

/// The item's listings on every connection.
pub async fn of_item(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_id: i64,
) -> Result<Vec<listing::Model>, sea_orm::DbErr> {
    listing::Entity::find()
        .filter(listing::Column::SellerId.eq(seller_id))
        .filter(listing::Column::ItemId.eq(item_id))
        .all(db)
        .await
}

/// How many of `item_ids` are listed on the connection now.
pub async fn listed_among(
    db: &impl ConnectionTrait,
    seller_id: i64,
    connection_id: i64,
    item_ids: &[i64],
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let mut listed = 0;
    // Bounded statements, whatever the selection.
    for chunk in item_ids.chunks(500) {
        listed += listing::Entity::find()
            .filter(listing::Column::SellerId.eq(seller_id))
            .filter(listing::Column::ConnectionId.eq(connection_id))
            .filter(listing::Column::State.eq(State::Listed.as_str()))
            .filter(listing::Column::ItemId.is_in(chunk.iter().copied()))
            .count(db)
            .await?;
    }
    Ok(listed)
}

/// How many of the items `matching` covers are listed on the connection now.
pub async fn listed_matching(
    db: &impl ConnectionTrait,
    seller_id: i64,
    connection_id: i64,
    matching: &crate::catalog::Matching,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::{PaginatorTrait, QueryTrait};
    let items = crate::catalog::matching_select(db.get_database_backend(), seller_id, matching)
        .into_query();
    listing::Entity::find()
        .filter(listing::Column::SellerId.eq(seller_id))
        .filter(listing::Column::ConnectionId.eq(connection_id))
        .filter(listing::Column::State.eq(State::Listed.as_str()))
        .filter(listing::Column::ItemId.in_subquery(items))
        .count(db)
        .await
}

/// Writes the listing's state (one row per item and connection). A submission keeps its
/// time; a later state keeps the submission it resolves.
pub async fn record(
    db: &impl ConnectionTrait,
    record: Record<'_>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let again = record.clone();
    let issues = record.issues.map(serde_json::Value::to_string);
    let submitted = record.submission_id.map(|_| now);
    match get(db, record.item_id, record.connection_id).await? {
        Some(row) => {
            let mut active: listing::ActiveModel = row.into();
            active.state = Set(record.state.as_str().to_owned());
            if let Some(reference) = record.reference {
                active.reference = Set(Some(reference.to_owned()));
            }
            if let Some(submission) = record.submission_id {
                active.submission_id = Set(Some(submission.to_owned()));
                active.submitted_at = Set(submitted);
                active.task_item_id = Set(record.task_item_id);
            }
            active.issues = Set(issues);
            active.updated_at = Set(now);
            active.update(db).await?;
        }
        None => {
            let inserted = listing::ActiveModel {
                seller_id: Set(record.seller_id),
                item_id: Set(record.item_id),
                connection_id: Set(record.connection_id),
                state: Set(record.state.as_str().to_owned()),
                reference: Set(record.reference.map(str::to_owned)),
                submission_id: Set(record.submission_id.map(str::to_owned)),
                submitted_at: Set(submitted),
                task_item_id: Set(record.task_item_id),
                issues: Set(issues),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await;
            match inserted {
                Ok(_) => {}
                // Written meanwhile by another attempt: write over it.
                Err(err)
                    if matches!(
                        err.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) =>
                {
                    return Box::pin(self::record(db, again, now)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}
