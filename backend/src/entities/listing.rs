use sea_orm::entity::prelude::*;

/// An item's listing on one connection.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub seller_id: i64,
    pub item_id: i64,
    pub connection_id: i64,
    /// `processing` (accepted, not final), `listed`, `refused`, `removed`.
    pub state: String,
    /// The marketplace's name for it: Amazon's ASIN, eBay's listing id.
    pub reference: Option<String>,
    pub submission_id: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    /// The task item whose submission is being processed: only it checks on it.
    pub task_item_id: Option<i64>,
    /// The marketplace's issues (JSON), when it refused or flagged the listing.
    pub issues: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
