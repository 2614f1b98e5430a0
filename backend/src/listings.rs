//! The `publish` and `unpublish` task kinds: one task item per catalog item, one
//! marketplace call per item, with the item's idempotency key, so a retry after a crash
//! never lists twice.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

use crate::catalog::{self, CatalogError, Item};
use crate::connectors::Marketplaces;
use crate::domain::ListingState;
use crate::estimate::{CallModel, Workload};
use crate::marketplace::{CallError, Connector, ListingRequest, Money};
use crate::tasks::{
    Endpoint, InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind,
};
use task_model::Marketplace;

/// The marketplace account a seller publishes to.
pub fn account(seller_id: i64) -> String {
    format!("seller-{seller_id}")
}

/// The listing the marketplace gets for an item.
/// The idempotency key of one listing request: the task item's key and a digest of what is
/// sent. The same data keeps the key, so a retry after a crash or a lost answer is a
/// replay, never a second listing; an item the seller fixed since is a new request, which
/// the marketplace must not answer with its replay of the old refusal.
pub fn listing_key<P, S>(
    task_item: &ItemContext<P, S>,
    sku: &str,
    listing: &ListingRequest,
) -> String {
    use sha2::{Digest, Sha256};
    let body = serde_json::to_vec(&(sku, listing)).unwrap_or_default();
    let digest = Sha256::digest(&body);
    format!(
        "{}-{}",
        task_item.idempotency_key(),
        hex::encode(&digest[..8])
    )
}

pub fn listing_for(item: &Item) -> ListingRequest {
    ListingRequest {
        title: item.title.clone(),
        description: item.description.clone(),
        price: Money {
            amount: item.price_decimal(),
            currency: item.currency.clone(),
        },
        quantity: item.quantity as i64,
        image_url: item.image_url.clone(),
        category: item.category.clone(),
    }
}

/// The parameters of a task over catalog items: which items.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemIds {
    pub item_ids: Vec<i64>,
    /// Where to publish: one of the seller's connections; none is the built-in
    /// marketplace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<i64>,
    /// The connection's marketplace, set when the task is made (never from the
    /// request): it decides how items are sent — one a call, or in batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace: Option<Marketplace>,
}

impl ItemIds {
    /// What the marketplace allows, when the task goes through a connection.
    fn capabilities(&self) -> Option<task_model::connection::Capabilities> {
        self.connection_id?;
        self.marketplace.map(Marketplace::capabilities)
    }
}

fn expand_ids(params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
    Ok(params.item_ids.clone())
}

/// The marketplace account a task over catalog items calls: its connection's, or the
/// seller's account on the built-in marketplace (which a sandbox connection is too).
pub(crate) fn endpoint_of(seller_id: i64, params: &ItemIds) -> Endpoint {
    match (params.connection_id, params.marketplace) {
        (Some(id), marketplace) if marketplace != Some(Marketplace::Sandbox) => Endpoint {
            key: format!("connection-{id}"),
            label: marketplace
                .map_or("the marketplace", Marketplace::label)
                .to_owned(),
        },
        _ => Endpoint {
            key: account(seller_id),
            label: "the marketplace".to_owned(),
        },
    }
}

/// The account's cheapest read (see [`endpoint_of`]).
pub(crate) async fn probe_endpoint(
    db: &DatabaseConnection,
    connector: &Connector,
    marketplaces: &Option<Arc<Marketplaces>>,
    seller_id: i64,
    params: &ItemIds,
) -> Result<(), String> {
    match (params.connection_id, params.marketplace, marketplaces) {
        (Some(id), marketplace, Some(marketplaces))
            if marketplace != Some(Marketplace::Sandbox) =>
        {
            marketplaces.reachable(db, seller_id, id).await
        }
        _ => connector.reachable(&account(seller_id)).await,
    }
}

pub(crate) fn outcome_of(err: CallError) -> Outcome {
    match err {
        // The marketplace did not answer: counted by the account's circuit breaker.
        CallError::Transient {
            code: "marketplace_unavailable" | "marketplace_timeout" | "marketplace_unreachable",
            message,
            retry_after,
        } => Outcome::Unavailable {
            delay: retry_after,
            message,
        },
        // The marketplace's quota is not the item's fault: wait as told, attempt not counted.
        CallError::Transient {
            code: "rate_limited",
            message,
            retry_after,
        } => Outcome::Snooze {
            delay: retry_after.unwrap_or_else(|| chrono::Duration::seconds(1)),
            code: "rate_limited".into(),
            message,
        },
        CallError::Transient {
            code,
            message,
            retry_after,
        } => Outcome::RetryLater {
            delay: retry_after,
            code: code.into(),
            message,
        },
        CallError::Permanent {
            code,
            message,
            issues,
        } => Outcome::Failed {
            code,
            message,
            details: Some(json!({ "issues": issues })),
        },
    }
}

async fn load(db: &DatabaseConnection, item: &ItemContext<ItemIds, i64>) -> Result<Item, Outcome> {
    match catalog::get(db, item.seller_id, item.subject).await {
        Ok(found) => Ok(found),
        Err(CatalogError::NotFound) => Err(Outcome::failed(
            "item_not_found",
            "The item was deleted before it could be sent.",
        )),
        Err(err) => Err(Outcome::retry("database_unavailable", err.to_string())),
    }
}

/// What the kinds that make (at most) one marketplace call per catalog item share: the
/// connector's concurrency, pace and retries, and a workload of one call per item (for
/// update_listings and delete, an estimate that errs long, never short).
macro_rules! one_call_per_item {
    () => {
        fn concurrency(&self) -> u32 {
            self.connector.useful_concurrency()
        }

        fn workload(&self, _params: &ItemIds, items: &[i64]) -> Workload {
            Workload {
                calls: items.len() as u64,
                items: 0,
            }
        }

        fn call_model(&self, seller_id: i64) -> Option<CallModel> {
            Some(self.connector.call_model(&account(seller_id)))
        }

        fn retry_policy(&self) -> RetryPolicy {
            self.connector.retry_policy()
        }
    };
}
pub(crate) use one_call_per_item;

/// Sends the item's listing as it is now and records it against the version sent. An
/// edit saved while the listing is on its way is not lost: a newer version is sent in
/// turn. (Publish, and update_listings for the items that changed.)
pub(crate) async fn send_listing(
    db: &DatabaseConnection,
    connector: &Connector,
    task_item: &ItemContext<ItemIds, i64>,
) -> Outcome {
    for _ in 0..SENDS_PER_ATTEMPT {
        let item = match load(db, task_item).await {
            Ok(item) => item,
            Err(outcome) => return outcome,
        };
        let listing = listing_for(&item);
        let call = connector
            .put_listing(
                &account(task_item.seller_id),
                &item.sku,
                &listing,
                &listing_key(task_item, &item.sku, &listing),
            )
            .await;
        let (state, listing_id, error, outcome) = match call {
            Ok(listing_id) => (
                ListingState::Published,
                Some(Some(listing_id.clone())),
                None,
                Outcome::Succeeded(json!({ "listing_id": listing_id })),
            ),
            Err(err @ CallError::Permanent { .. }) => {
                let message = err.to_string();
                // A refused update leaves the old listing live: the item stays published,
                // with the reason.
                let state = match item.listing_state {
                    ListingState::Published => ListingState::Published,
                    _ => ListingState::Failed,
                };
                (state, None, Some(message), outcome_of(err))
            }
            Err(err) => return outcome_of(err),
        };
        let recorded = catalog::set_listing(
            db,
            task_item.seller_id,
            item.id,
            Some(item.version),
            state,
            listing_id,
            error,
            Utc::now(),
        )
        .await;
        match recorded {
            Ok(()) => return outcome,
            // Saved while it was being sent: send what was saved.
            Err(CatalogError::Conflict { .. }) => continue,
            Err(CatalogError::NotFound) => {
                // Deleted while its listing was on the way: take the listing down again,
                // so nothing sells an item the catalog no longer has.
                if state == ListingState::Published {
                    if let Err(err) = connector
                        .delete_listing(&account(task_item.seller_id), &item.sku)
                        .await
                    {
                        return outcome_of(err);
                    }
                }
                return Outcome::failed(
                    "item_not_found",
                    "The item was deleted before it could be sent.",
                );
            }
            // The marketplace call is done; the idempotency key makes the retry free.
            Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
        }
    }
    Outcome::retry(
        "changed_while_sending",
        "The item kept changing while it was being sent; it is sent again shortly.",
    )
}

/// Sends of one item in one attempt, when the seller keeps saving it meanwhile.
const SENDS_PER_ATTEMPT: usize = 3;

pub struct Publish {
    db: DatabaseConnection,
    connector: Arc<Connector>,
    marketplaces: Option<Arc<Marketplaces>>,
}

impl Publish {
    pub fn new(db: DatabaseConnection, connector: Arc<Connector>) -> Self {
        Self {
            db,
            connector,
            marketplaces: None,
        }
    }

    /// Publishes through the seller's connections too (`connection_id`).
    pub fn with_connections(mut self, marketplaces: Arc<Marketplaces>) -> Self {
        self.marketplaces = Some(marketplaces);
        self
    }
}

/// The connection a task goes through, if it names one and this process can reach it.
fn through<'a>(
    marketplaces: &'a Option<Arc<Marketplaces>>,
    params: &ItemIds,
) -> Result<Option<(&'a Marketplaces, i64)>, Outcome> {
    match (params.connection_id, marketplaces) {
        (None, _) => Ok(None),
        (Some(id), Some(marketplaces)) => Ok(Some((marketplaces, id))),
        (Some(_), None) => Err(Outcome::failed(
            "connection_missing",
            "This server cannot reach marketplace connections.",
        )),
    }
}

#[async_trait::async_trait]
impl TaskKind for Publish {
    type Params = ItemIds;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::PUBLISH
    }

    fn expand(&self, params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
        expand_ids(params)
    }

    /// The ids are the task's items now: attempts need only the connection.
    fn kept(&self, params: ItemIds) -> ItemIds {
        ItemIds {
            item_ids: Vec::new(),
            ..params
        }
    }

    async fn process(&self, task_item: ItemContext<ItemIds, i64>) -> Outcome {
        match through(&self.marketplaces, &task_item.params) {
            Err(outcome) => outcome,
            Ok(Some((marketplaces, id))) if !is_builtin(&self.db, &task_item, id).await => {
                crate::connectors::publish(&self.db, marketplaces, &task_item, id).await
            }
            Ok(_) => send_listing(&self.db, &self.connector, &task_item).await,
        }
    }

    fn endpoint(&self, seller_id: i64, params: &ItemIds) -> Option<Endpoint> {
        Some(endpoint_of(seller_id, params))
    }

    async fn probe(&self, seller_id: i64, params: ItemIds) -> Result<(), String> {
        probe_endpoint(
            &self.db,
            &self.connector,
            &self.marketplaces,
            seller_id,
            &params,
        )
        .await
    }

    /// eBay takes 25 items a call.
    fn batch_size(&self, params: &ItemIds) -> usize {
        params
            .capabilities()
            .map_or(1, |capabilities| capabilities.batch_size as usize)
    }

    async fn process_batch(&self, items: Vec<ItemContext<ItemIds, i64>>) -> Vec<Outcome> {
        let Some(first) = items.first() else {
            return Vec::new();
        };
        match (
            through(&self.marketplaces, &first.params),
            first.params.marketplace,
        ) {
            (Err(outcome), _) => items.iter().map(|_| outcome.clone()).collect(),
            (Ok(Some((marketplaces, id))), Some(Marketplace::Ebay)) => {
                crate::connectors::ebay::publish_batch(&self.db, marketplaces, &items, id).await
            }
            _ => {
                let mut outcomes = Vec::with_capacity(items.len());
                for item in items {
                    outcomes.push(self.process(item).await);
                }
                outcomes
            }
        }
    }

    fn concurrency(&self) -> u32 {
        self.connector.useful_concurrency()
    }

    /// One call per item to the built-in marketplace; through a connection that
    /// answers "accepted" first (Amazon), the submission and at least one check.
    fn workload(&self, params: &ItemIds, items: &[i64]) -> Workload {
        let calls = match params.capabilities() {
            Some(can) => {
                (items.len() as u64).div_ceil(u64::from(can.batch_size.max(1)))
                    * u64::from(can.calls_per_batch)
            }
            // An older task through a connection, made before the marketplace was kept.
            None if params.connection_id.is_some() => items.len() as u64 * 2,
            None => items.len() as u64,
        };
        Workload { calls, items: 0 }
    }

    fn call_model(&self, seller_id: i64) -> Option<CallModel> {
        Some(self.connector.call_model(&account(seller_id)))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.connector.retry_policy()
    }
}

pub struct Unpublish {
    db: DatabaseConnection,
    connector: Arc<Connector>,
    marketplaces: Option<Arc<Marketplaces>>,
}

impl Unpublish {
    pub fn new(db: DatabaseConnection, connector: Arc<Connector>) -> Self {
        Self {
            db,
            connector,
            marketplaces: None,
        }
    }

    /// Unpublishes from the seller's connections too (`connection_id`).
    pub fn with_connections(mut self, marketplaces: Arc<Marketplaces>) -> Self {
        self.marketplaces = Some(marketplaces);
        self
    }
}

/// A sandbox connection is the built-in marketplace: the item's own listing.
async fn is_builtin(
    db: &DatabaseConnection,
    task_item: &ItemContext<ItemIds, i64>,
    id: i64,
) -> bool {
    if let Some(marketplace) = task_item.params.marketplace {
        return marketplace == Marketplace::Sandbox;
    }
    crate::connections::get(db, task_item.seller_id, id)
        .await
        .is_ok_and(|c| c.marketplace == task_model::Marketplace::Sandbox)
}

#[async_trait::async_trait]
impl TaskKind for Unpublish {
    type Params = ItemIds;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::UNPUBLISH
    }

    fn expand(&self, params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
        expand_ids(params)
    }

    /// The ids are the task's items now: attempts need only the connection.
    fn kept(&self, params: ItemIds) -> ItemIds {
        ItemIds {
            item_ids: Vec::new(),
            ..params
        }
    }

    async fn process(&self, task_item: ItemContext<ItemIds, i64>) -> Outcome {
        match through(&self.marketplaces, &task_item.params) {
            Err(outcome) => return outcome,
            Ok(Some((marketplaces, id))) if !is_builtin(&self.db, &task_item, id).await => {
                return crate::connectors::unpublish(&self.db, marketplaces, &task_item, id).await
            }
            Ok(_) => {}
        }
        let item = match load(&self.db, &task_item).await {
            Ok(item) => item,
            Err(outcome) => return outcome,
        };
        if let Err(err) = self
            .connector
            .delete_listing(&account(task_item.seller_id), &item.sku)
            .await
        {
            return outcome_of(err);
        }
        if let Err(err) = catalog::set_listing(
            &self.db,
            task_item.seller_id,
            item.id,
            None,
            ListingState::Unpublished,
            None,
            None,
            Utc::now(),
        )
        .await
        {
            return Outcome::retry("database_unavailable", err.to_string());
        }
        Outcome::Succeeded(json!({ "unpublished": item.sku }))
    }

    fn endpoint(&self, seller_id: i64, params: &ItemIds) -> Option<Endpoint> {
        Some(endpoint_of(seller_id, params))
    }

    async fn probe(&self, seller_id: i64, params: ItemIds) -> Result<(), String> {
        probe_endpoint(
            &self.db,
            &self.connector,
            &self.marketplaces,
            seller_id,
            &params,
        )
        .await
    }

    one_call_per_item!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketplace::Money;

    fn context() -> ItemContext {
        ItemContext {
            task_id: 7,
            item_id: 42,
            seller_id: 1,
            position: 0,
            attempt: 1,
            subject: json!(3),
            params: json!({}),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    fn listing(image: Option<&str>) -> ListingRequest {
        ListingRequest {
            title: "Blue mug".into(),
            description: String::new(),
            price: Money {
                amount: "12.50".into(),
                currency: "EUR".into(),
            },
            quantity: 3,
            image_url: image.map(str::to_owned),
            category: None,
        }
    }

    #[test]
    fn the_same_request_keeps_its_key_and_a_fixed_item_gets_a_new_one() {
        let first = listing_key(&context(), "SR-1", &listing(None));
        assert_eq!(first, listing_key(&context(), "SR-1", &listing(None)));
        assert!(first.starts_with("stockroom-task-7-item-42-"));
        let fixed = listing_key(&context(), "SR-1", &listing(Some("/media/demo/1.svg")));
        assert_ne!(first, fixed);
        assert_ne!(first, listing_key(&context(), "SR-2", &listing(None)));
    }
}
