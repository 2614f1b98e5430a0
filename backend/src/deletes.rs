//! The `delete` task kind: items taken out of the catalog for good. An item live on the
//! marketplace is taken off it first; if that fails, the item is kept, with the reason, so
//! no listing is left selling an item Stockroom no longer knows.

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;
use std::sync::Arc;

use crate::catalog::{self, CatalogError};
use crate::domain::ListingState;
use crate::entities::item;
use crate::estimate::{CallModel, Workload};
use crate::listings::{account, one_call_per_item, outcome_of, ItemIds};
use crate::marketplace::Connector;
use crate::tasks::{
    Endpoint, InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind,
};

/// Tries to delete one item this many times in one attempt when it keeps changing.
const ROUNDS: usize = 3;

pub struct Delete {
    db: DatabaseConnection,
    connector: Arc<Connector>,
}

impl Delete {
    pub fn new(db: DatabaseConnection, connector: Arc<Connector>) -> Self {
        Self { db, connector }
    }
}

/// Whether the marketplace may hold a listing of an item in this state.
fn may_be_listed(state: ListingState, listing_id: Option<&str>) -> bool {
    state == ListingState::Published || listing_id.is_some()
}

#[async_trait::async_trait]
impl TaskKind for Delete {
    type Params = ItemIds;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::DELETE
    }

    fn expand(&self, params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
        Ok(params.item_ids.clone())
    }

    /// The ids are the task's items now: attempts need none of them.
    fn kept(&self, _params: ItemIds) -> ItemIds {
        ItemIds::default()
    }

    /// Off the marketplace (if it may be there), then out of the catalog. Both steps can
    /// be repeated: an absent listing counts as taken off, an absent item as deleted. The
    /// item goes only as it was read and not live, so a publish that put it up meanwhile
    /// sends it round again (taken off first).
    async fn process(&self, task_item: ItemContext<ItemIds, i64>) -> Outcome {
        for _ in 0..ROUNDS {
            let item = match catalog::get(&self.db, task_item.seller_id, task_item.subject).await {
                Ok(item) => item,
                Err(CatalogError::NotFound) => {
                    return Outcome::Succeeded(json!({ "deleted": null, "already_gone": true }))
                }
                Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
            };
            if may_be_listed(item.listing_state, item.listing_id.as_deref()) {
                let taken_off = self
                    .connector
                    .delete_listing(&account(task_item.seller_id), &item.sku)
                    .await;
                if let Err(err) = taken_off {
                    // Kept, with the marketplace's reason: deleting it would leave the
                    // listing selling an item nobody manages.
                    return outcome_of(err);
                }
                if let Err(err) = catalog::set_listing(
                    &self.db,
                    task_item.seller_id,
                    item.id,
                    None,
                    ListingState::Unpublished,
                    Some(None),
                    None,
                    Utc::now(),
                )
                .await
                {
                    return Outcome::retry("database_unavailable", err.to_string());
                }
            }
            let deleted = item::Entity::delete_many()
                .filter(item::Column::Id.eq(item.id))
                .filter(item::Column::SellerId.eq(task_item.seller_id))
                .filter(item::Column::Version.eq(item.version))
                .filter(item::Column::ListingState.ne(ListingState::Published.as_str()))
                .exec(&self.db)
                .await;
            match deleted {
                Ok(done) if done.rows_affected == 1 => {
                    return Outcome::Succeeded(json!({ "deleted": item.sku }))
                }
                Ok(_) => continue,
                Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
            }
        }
        Outcome::retry(
            "item_busy",
            "The item kept changing while it was being deleted; trying again.",
        )
    }

    /// The seller's account on the built-in marketplace.
    fn endpoint(&self, seller_id: i64, _params: &ItemIds) -> Option<Endpoint> {
        Some(crate::listings::endpoint_of(seller_id, &ItemIds::default()))
    }

    async fn probe(&self, seller_id: i64, _params: ItemIds) -> Result<(), String> {
        self.connector.reachable(&account(seller_id)).await
    }

    one_call_per_item!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_item_that_may_be_listed_is_taken_off_first() {
        assert!(may_be_listed(ListingState::Published, None));
        assert!(may_be_listed(ListingState::Failed, Some("L-1")));
        assert!(!may_be_listed(ListingState::Draft, None));
        assert!(!may_be_listed(ListingState::Unpublished, None));
    }
}
