use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub seller_id: i64,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub category: Option<String>,
    pub listing_state: String,
    pub listing_id: Option<String>,
    pub last_listing_error: Option<String>,
    /// Bumped by every write; an edit names the version it started from.
    pub version: i32,
    /// The version live on the marketplace (set by a publish, cleared by an unpublish).
    pub listed_version: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
