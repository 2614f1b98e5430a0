//! The `update_listings` task kind: the items edited since they were published (in their
//! page, by an import, by a bulk edit) get their new values on the marketplace. An item
//! not live is left out (publishing it is another task); one whose listing already shows
//! its values is left out as up to date, so running it over a whole selection sends only
//! what changed.

use sea_orm::DatabaseConnection;
use std::sync::Arc;

use crate::catalog::{self, CatalogError};
use crate::domain::ListingState;
use crate::estimate::{CallModel, Workload};
use crate::listings::{account, one_call_per_item, send_listing, ItemIds};
use crate::marketplace::Connector;
use crate::tasks::{
    Endpoint, InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind,
};

pub struct UpdateListings {
    db: DatabaseConnection,
    connector: Arc<Connector>,
}

impl UpdateListings {
    pub fn new(db: DatabaseConnection, connector: Arc<Connector>) -> Self {
        Self { db, connector }
    }
}

#[async_trait::async_trait]
impl TaskKind for UpdateListings {
    type Params = ItemIds;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::UPDATE_LISTINGS
    }

    fn expand(&self, params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
        Ok(params.item_ids.clone())
    }

    /// The ids are the task's items now: attempts need none of them.
    fn kept(&self, _params: ItemIds) -> ItemIds {
        ItemIds::default()
    }

    async fn process(&self, task_item: ItemContext<ItemIds, i64>) -> Outcome {
        let item = match catalog::get(&self.db, task_item.seller_id, task_item.subject).await {
            Ok(item) => item,
            Err(CatalogError::NotFound) => {
                return Outcome::failed(
                    "item_not_found",
                    "The item was deleted before its listing was updated.",
                )
            }
            Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
        };
        if item.listing_state != ListingState::Published {
            return Outcome::Skipped {
                code: "not_live".into(),
                message: "The item is not live on the marketplace: publish it instead.".into(),
            };
        }
        if !item.changed_since_published() {
            return Outcome::Skipped {
                code: "up_to_date".into(),
                message: "Its listing already shows these values.".into(),
            };
        }
        send_listing(&self.db, &self.connector, &task_item).await
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
