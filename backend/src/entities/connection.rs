use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub seller_id: i64,
    /// `sandbox`, `amazon` or `ebay`.
    pub marketplace: String,
    pub name: String,
    /// The seller's id at the marketplace (Amazon's seller id, eBay's user).
    pub account: String,
    /// Amazon's marketplace id (`ATVPDKIKX0DER`) or eBay's (`EBAY_US`).
    pub marketplace_id: String,
    pub base_url: String,
    /// The credentials, sealed with the server key (`crate::secrets`).
    pub credentials: Option<String>,
    /// A JSON list of the names of the credentials set.
    pub credential_names: String,
    pub key_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub tested_at: Option<DateTimeUtc>,
    pub test_ok: Option<bool>,
    pub test_message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
