//! An import's write: create the item with this SKU or overwrite it, and say which (and
//! what it replaced), or leave it untouched when it already holds the row's values.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{active_fields, CatalogError, Item, ItemFields};
use crate::domain::ListingState;
use crate::entities::item;

/// What an import's row did to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created,
    /// Overwritten; what it held before, when it was read (what an undo puts back).
    Updated {
        before: Option<Box<Item>>,
    },
    /// The item already had exactly these values: nothing was written, its version kept.
    Unchanged,
}

/// The fields an import writes, as an item held them (what undoing an import puts back).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub title: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub category: Option<String>,
}

impl From<&Item> for Snapshot {
    fn from(item: &Item) -> Self {
        Self {
            title: item.title.clone(),
            description: item.description.clone(),
            price_minor: item.price_minor,
            currency: item.currency.clone(),
            quantity: item.quantity,
            image_url: item.image_url.clone(),
            category: item.category.clone(),
        }
    }
}

/// Whether `item` already holds every one of `fields`.
fn holds(item: &item::Model, fields: &ItemFields) -> bool {
    item.title == fields.title.as_str()
        && item.description == fields.description.as_str()
        && item.price_minor == fields.price.minor()
        && item.currency == fields.price.currency().code()
        && item.quantity == fields.quantity.value()
        && item.image_url.as_deref() == fields.image_url.as_ref().map(|url| url.as_str())
        && item.category.as_deref() == fields.category.as_ref().map(|c| c.as_str())
}

/// Creates the item with this SKU, or overwrites the editable fields of the one that
/// exists (an import). One statement, so two imports of the same SKU cannot both create.
/// An item that already holds these values is left as it is (an export imported back
/// changes nothing, not even versions).
#[tracing::instrument(skip_all, err, fields(seller_id))]
pub async fn upsert_by_sku(
    db: &impl ConnectionTrait,
    seller_id: i64,
    fields: ItemFields,
    now: DateTime<Utc>,
) -> Result<(Item, Upserted), CatalogError> {
    use sea_orm::sea_query::{ExprTrait as _, OnConflict};
    let existing = item::Entity::find()
        .filter(item::Column::SellerId.eq(seller_id))
        .filter(item::Column::Sku.eq(fields.sku.as_str()))
        .one(db)
        .await?;
    if let Some(existing) = existing.as_ref().filter(|item| holds(item, &fields)) {
        return Ok((Item::from(existing.clone()), Upserted::Unchanged));
    }
    let mut row = active_fields(fields, now);
    row.seller_id = Set(seller_id);
    row.listing_state = Set(ListingState::Draft.as_str().to_owned());
    row.version = Set(1);
    row.created_at = Set(now);
    let on_conflict = OnConflict::columns([item::Column::SellerId, item::Column::Sku])
        .update_columns([
            item::Column::Title,
            item::Column::Description,
            item::Column::PriceMinor,
            item::Column::Currency,
            item::Column::Quantity,
            item::Column::ImageUrl,
            item::Column::Category,
            item::Column::UpdatedAt,
        ])
        .value(
            item::Column::Version,
            Expr::col((item::Entity, item::Column::Version)).add(1),
        )
        .to_owned();
    let saved = item::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_with_returning(db)
        .await?;
    // A fresh row starts at version 1; an overwritten one has moved past it.
    let upserted = if saved.version == 1 {
        Upserted::Created
    } else {
        // What was read is what this write replaced only if nothing wrote in between.
        Upserted::Updated {
            before: existing
                .filter(|row| row.version + 1 == saved.version)
                .map(|row| Box::new(Item::from(row))),
        }
    };
    Ok((Item::from(saved), upserted))
}
