//! eBay Sell Inventory API: publishing is three bulk calls of up to 25 items — the
//! inventory items (an upsert by SKU), their offers, and the offers' publication — with
//! a per-item answer in each, partial success normal. A user access token from the OAuth
//! refresh-token grant goes in `Authorization: Bearer`; the limit is a daily call quota.
//!
//! Exactly once: a crash mid-batch repeats the batch. Replacing an inventory item is an
//! upsert; a second offer for a SKU is refused with the existing offer's id (25002),
//! which the connector then uses; publishing a published offer keeps its listing.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::{listings, Marketplaces};
use crate::catalog::Item;
use crate::connections::Opened;
use crate::listings::ItemIds;
use crate::marketplace::{CallError, Issue};
use crate::tasks::{ItemContext, Outcome};

const LOCALE: &str = "en_US";
const INVENTORY: &str = "/sell/inventory/v1";

pub struct Ebay<'a> {
    marketplaces: &'a Marketplaces,
    opened: &'a Opened,
}

/// One item's answer within a bulk call.
#[derive(Debug, Clone)]
struct ItemAnswer {
    status: u16,
    reply: Value,
}

impl ItemAnswer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl<'a> Ebay<'a> {
    pub fn new(marketplaces: &'a Marketplaces, opened: &'a Opened) -> Self {
        Self {
            marketplaces,
            opened,
        }
    }

    fn pace_key(&self) -> String {
        format!("ebay-{}", self.opened.connection.id)
    }

    fn marketplace_id(&self) -> &str {
        &self.opened.connection.marketplace_id
    }

    /// One call with a user token; a token eBay calls invalid (it expired early, or was
    /// revoked and re-granted) is fetched again and the call made once more.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CallError> {
        let connection = &self.opened.connection;
        for fresh_token in [false, true] {
            self.marketplaces.pace(&self.pace_key()).await?;
            let token = self
                .marketplaces
                .access_token(self.opened)
                .await
                .map_err(super::token_error)?;
            let mut request = self
                .marketplaces
                .http()
                .request(method.clone(), format!("{}{path}", connection.base_url))
                .query(query)
                .bearer_auth(&token)
                .header("Content-Language", "en-US")
                .header("Accept-Language", "en-US");
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(super::transport)?;
            let status = response.status();
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            match status.as_u16() {
                401 if !fresh_token => {
                    self.marketplaces.tokens().forget(connection.id);
                    continue;
                }
                401 | 403 => {
                    self.marketplaces.tokens().forget(connection.id);
                    return Err(CallError::Permanent {
                        code: "marketplace_access_denied".into(),
                        message: format!(
                            "eBay refused access for {}: {}",
                            connection.account,
                            first_error(&reply)
                        ),
                        issues: Vec::new(),
                    });
                }
                429 => {
                    let wait = self.quota_reset().await;
                    self.marketplaces.hold_off(&self.pace_key(), wait).await;
                    return Err(CallError::Transient {
                        code: "rate_limited",
                        message:
                            "eBay's daily call quota is used up; sending resumes when it resets."
                                .into(),
                        retry_after: Some(wait),
                    });
                }
                500..=599 => {
                    return Err(CallError::Transient {
                        code: "marketplace_unavailable",
                        message: format!("eBay answered {status}: {}", first_error(&reply)),
                        retry_after: None,
                    })
                }
                _ => return Ok((status, reply)),
            }
        }
        Err(CallError::Transient {
            code: "marketplace_unavailable",
            message: "eBay kept refusing a fresh access token.".into(),
            retry_after: None,
        })
    }

    /// How long until the Inventory API's daily quota resets, from the Developer
    /// Analytics API (eBay sends no rate-limit headers); an hour when it cannot say.
    async fn quota_reset(&self) -> chrono::Duration {
        let fallback = chrono::Duration::hours(1);
        let Ok(token) = self.marketplaces.access_token(self.opened).await else {
            return fallback;
        };
        let url = format!(
            "{}/developer/analytics/v1_beta/user_rate_limit/",
            self.opened.connection.base_url
        );
        let reply: Option<Value> = match self
            .marketplaces
            .http()
            .get(url)
            .query(&[("api_name", "Inventory"), ("api_context", "sell")])
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => response.json().await.ok(),
            _ => None,
        };
        let reset = reply.as_ref().and_then(|reply| {
            reply["rateLimits"].as_array()?.iter().find_map(|api| {
                api["resources"].as_array()?.iter().find_map(|resource| {
                    (resource["name"] == "sell.inventory")
                        .then(|| resource["rates"][0]["reset"].as_str())
                        .flatten()
                })
            })
        });
        reset
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| (at.with_timezone(&Utc) - Utc::now()).max(chrono::Duration::seconds(1)))
            .unwrap_or(fallback)
    }

    /// A bulk call: each request's answer, in the order of `requests` (matched by `key`).
    async fn bulk(
        &self,
        operation: &str,
        requests: Vec<Value>,
        key: &str,
    ) -> Result<HashMap<String, ItemAnswer>, CallError> {
        let body = json!({ "requests": requests });
        let (status, reply) = self
            .call(
                reqwest::Method::POST,
                &format!("{INVENTORY}/{operation}"),
                &[],
                Some(&body),
            )
            .await?;
        if !matches!(status.as_u16(), 200 | 207) {
            return Err(CallError::Permanent {
                code: "listing_rejected".into(),
                message: format!("eBay answered {status}: {}", first_error(&reply)),
                issues: Vec::new(),
            });
        }
        Ok(reply["responses"]
            .as_array()
            .map(|responses| {
                responses
                    .iter()
                    .filter_map(|answer| {
                        let id = answer[key].as_str()?.to_owned();
                        let status = answer["statusCode"].as_u64().unwrap_or(500) as u16;
                        Some((
                            id,
                            ItemAnswer {
                                status,
                                reply: answer.clone(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn inventory_request(item: &Item) -> Value {
        let mut product = json!({ "title": item.title, "description": item.description });
        if let Some(image) = item.image_url.as_deref().filter(|url| !url.is_empty()) {
            product["imageUrls"] = json!([image]);
        }
        json!({
            "sku": item.sku,
            "locale": LOCALE,
            "condition": "NEW",
            "product": product,
            "availability": { "shipToLocationAvailability": { "quantity": item.quantity } },
        })
    }

    fn price(item: &Item) -> Value {
        json!({
            "value": format!("{}.{:02}", item.price_minor / 100, (item.price_minor % 100).abs()),
            "currency": item.currency,
        })
    }

    fn offer_request(&self, item: &Item) -> Value {
        let mut offer = json!({
            "sku": item.sku,
            "marketplaceId": self.marketplace_id(),
            "format": "FIXED_PRICE",
            "availableQuantity": item.quantity,
            "listingDescription": item.description,
            "pricingSummary": { "price": Self::price(item) },
        });
        // eBay's categories are numbered; a named category of the catalog is not one.
        if let Some(category) = item
            .category
            .as_deref()
            .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit()))
        {
            offer["categoryId"] = json!(category);
        }
        offer
    }

    /// Lists `items` (each with the offer Stockroom knows it has, if any): per item, the
    /// offer and listing ids, or why not. An error for the whole batch (eBay down, the
    /// quota used up) is the `Err`.
    pub async fn publish(
        &self,
        items: &[(&Item, Option<String>)],
    ) -> Result<Vec<Result<(String, String), CallError>>, CallError> {
        let mut results: Vec<Option<Result<(String, String), CallError>>> =
            items.iter().map(|_| None).collect();
        // 1. The inventory items (replaced whole: title, description, pictures, quantity).
        let stored = self
            .bulk(
                "bulk_create_or_replace_inventory_item",
                items
                    .iter()
                    .map(|(item, _)| Self::inventory_request(item))
                    .collect(),
                "sku",
            )
            .await?;
        let mut offers: Vec<Option<String>> = Vec::with_capacity(items.len());
        for (index, (item, known)) in items.iter().enumerate() {
            match stored.get(&item.sku) {
                Some(answer) if answer.ok() => offers.push(known.clone()),
                Some(answer) => {
                    results[index] = Some(Err(refusal(&answer.reply)));
                    offers.push(None);
                }
                None => {
                    results[index] = Some(Err(unanswered()));
                    offers.push(None);
                }
            }
        }
        // 2. Offers: made for SKUs without one; price and quantity brought up to date on
        //    the ones that exist (also those eBay says exist: a batch repeated after a crash).
        let new: Vec<usize> = (0..items.len())
            .filter(|&i| results[i].is_none() && offers[i].is_none())
            .collect();
        let mut existing: Vec<usize> = (0..items.len())
            .filter(|&i| results[i].is_none() && offers[i].is_some())
            .collect();
        if !new.is_empty() {
            let made = self
                .bulk(
                    "bulk_create_offer",
                    new.iter()
                        .map(|&i| self.offer_request(items[i].0))
                        .collect(),
                    "sku",
                )
                .await?;
            for &i in &new {
                match made.get(&items[i].0.sku) {
                    Some(answer) if answer.ok() => {
                        offers[i] = answer.reply["offerId"].as_str().map(str::to_owned);
                    }
                    Some(answer) => match existing_offer(&answer.reply) {
                        Some(offer_id) => {
                            offers[i] = Some(offer_id);
                            existing.push(i);
                        }
                        None => results[i] = Some(Err(refusal(&answer.reply))),
                    },
                    None => results[i] = Some(Err(unanswered())),
                }
            }
        }
        if !existing.is_empty() {
            let requests = existing
                .iter()
                .filter_map(|&i| {
                    let item = items[i].0;
                    Some(json!({
                        "sku": item.sku,
                        "shipToLocationAvailability": { "quantity": item.quantity },
                        "offers": [{
                            "offerId": offers[i].as_deref()?,
                            "availableQuantity": item.quantity,
                            "price": Self::price(item),
                        }],
                    }))
                })
                .collect();
            let updated = self
                .bulk("bulk_update_price_quantity", requests, "offerId")
                .await?;
            for &i in &existing {
                let answer = offers[i].as_ref().and_then(|id| updated.get(id));
                match answer {
                    Some(answer) if answer.ok() => {}
                    Some(answer) => results[i] = Some(Err(refusal(&answer.reply))),
                    None => results[i] = Some(Err(unanswered())),
                }
            }
        }
        // 3. Publish the offers.
        let ready: Vec<usize> = (0..items.len())
            .filter(|&i| results[i].is_none() && offers[i].is_some())
            .collect();
        if !ready.is_empty() {
            let published = self
                .bulk(
                    "bulk_publish_offer",
                    ready
                        .iter()
                        .filter_map(|&i| Some(json!({ "offerId": offers[i].as_deref()? })))
                        .collect(),
                    "offerId",
                )
                .await?;
            for &i in &ready {
                let Some(offer_id) = offers[i].clone() else {
                    continue;
                };
                results[i] = Some(match published.get(&offer_id) {
                    Some(answer) if answer.ok() => match answer.reply["listingId"].as_str() {
                        Some(listing) => Ok((offer_id, listing.to_owned())),
                        None => Err(unanswered()),
                    },
                    Some(answer) => Err(refusal(&answer.reply)),
                    None => Err(unanswered()),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(unanswered())))
            .collect())
    }

    /// The offer eBay has for `sku` on the connection's marketplace.
    pub async fn find_offer(&self, sku: &str) -> Result<Option<String>, CallError> {
        let (status, reply) = self
            .call(
                reqwest::Method::GET,
                &format!("{INVENTORY}/offer"),
                &[("sku", sku), ("marketplace_id", self.marketplace_id())],
                None,
            )
            .await?;
        match status.as_u16() {
            200 => Ok(reply["offers"][0]["offerId"].as_str().map(str::to_owned)),
            404 => Ok(None),
            _ => Err(refusal(&reply)),
        }
    }

    /// Ends the offer's listing (the offer stays, to be published again).
    pub async fn withdraw(&self, offer_id: &str) -> Result<(), CallError> {
        let (status, reply) = self
            .call(
                reqwest::Method::POST,
                &format!("{INVENTORY}/offer/{}/withdraw", super::encode(offer_id)),
                &[],
                None,
            )
            .await?;
        match status.as_u16() {
            200 | 204 | 404 => Ok(()),
            // Not published: nothing to take down.
            400 if error_ids(&reply).contains(&25725) => Ok(()),
            _ => Err(refusal(&reply)),
        }
    }
}

/// Publishes one batch of a task's items through an eBay connection: one outcome per
/// item, in order.
pub async fn publish_batch(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    batch: &[ItemContext<ItemIds, i64>],
    connection_id: i64,
) -> Vec<Outcome> {
    let Some(first) = batch.first() else {
        return Vec::new();
    };
    if batch.iter().any(|item| item.cancel.is_cancelled()) {
        return batch.iter().map(|_| Outcome::Cancelled).collect();
    }
    let opened = match super::open(db, marketplaces, first.seller_id, connection_id).await {
        Ok(opened) => opened,
        Err(outcome) => return batch.iter().map(|_| outcome.clone()).collect(),
    };
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(batch.len());
    let mut loaded: Vec<(usize, Item, Option<String>)> = Vec::new();
    for (index, task_item) in batch.iter().enumerate() {
        match super::load_item(db, task_item).await {
            Ok(item) => {
                let known = match listings::get(db, item.id, connection_id).await {
                    Ok(row) => row.and_then(|row| row.submission_id),
                    Err(err) => {
                        outcomes.push(Some(Outcome::retry(
                            "database_unavailable",
                            err.to_string(),
                        )));
                        continue;
                    }
                };
                loaded.push((index, item, known));
                outcomes.push(None);
            }
            Err(outcome) => outcomes.push(Some(outcome)),
        }
    }
    if !loaded.is_empty() {
        let api = Ebay::new(marketplaces, &opened);
        let sending: Vec<(&Item, Option<String>)> = loaded
            .iter()
            .map(|(_, item, known)| (item, known.clone()))
            .collect();
        match api.publish(&sending).await {
            Err(err) => {
                let outcome = crate::listings::outcome_of(err);
                for (index, _, _) in &loaded {
                    outcomes[*index] = Some(outcome.clone());
                }
            }
            Ok(results) => {
                for ((index, item, known), result) in loaded.iter().zip(results) {
                    let task_item = &batch[*index];
                    outcomes[*index] = Some(
                        settle(db, task_item, item, connection_id, known.as_deref(), result).await,
                    );
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| {
                Outcome::retry(
                    "batch_incomplete",
                    "No answer for this item; it will be tried again.",
                )
            })
        })
        .collect()
}

/// Remembers what eBay said of one item and turns it into the item's outcome.
async fn settle(
    db: &sea_orm::DatabaseConnection,
    task_item: &ItemContext<ItemIds, i64>,
    item: &Item,
    connection_id: i64,
    known_offer: Option<&str>,
    result: Result<(String, String), CallError>,
) -> Outcome {
    let (state, offer, listing, issues) = match &result {
        Ok((offer, listing)) => (
            listings::State::Listed,
            Some(offer.as_str()),
            Some(listing.as_str()),
            None,
        ),
        Err(CallError::Permanent { issues, .. }) => (
            listings::State::Refused,
            known_offer,
            None,
            Some(json!(issues)),
        ),
        // Nothing learnt: the retry sends the batch again.
        Err(err @ CallError::Transient { .. }) => return crate::listings::outcome_of(err.clone()),
    };
    let recorded = listings::record(
        db,
        listings::Record {
            seller_id: task_item.seller_id,
            item_id: item.id,
            connection_id,
            state,
            reference: listing,
            submission_id: offer,
            task_item_id: Some(task_item.item_id),
            issues: issues.as_ref(),
        },
        Utc::now(),
    )
    .await;
    if let Err(err) = recorded {
        // Listed and not remembered: the retry publishes the same offer again, which
        // keeps its listing.
        return Outcome::retry("database_unavailable", err.to_string());
    }
    match result {
        Ok((offer_id, listing_id)) => Outcome::Succeeded(json!({
            "connection_id": connection_id,
            "offer_id": offer_id,
            "listing_id": listing_id,
        })),
        Err(err) => crate::listings::outcome_of(err),
    }
}

/// Takes an item's eBay listing down: its offer is withdrawn.
pub async fn unpublish(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    opened: &Opened,
    item: &Item,
) -> Result<(), CallError> {
    let api = Ebay::new(marketplaces, opened);
    let known = listings::get(db, item.id, opened.connection.id)
        .await
        .map_err(|err| CallError::Transient {
            code: "database_unavailable",
            message: err.to_string(),
            retry_after: None,
        })?
        .and_then(|row| row.submission_id);
    let offer = match known {
        Some(offer) => Some(offer),
        None => api.find_offer(&item.sku).await?,
    };
    match offer {
        Some(offer) => api.withdraw(&offer).await,
        None => Ok(()),
    }
}

fn unanswered() -> CallError {
    CallError::Transient {
        code: "marketplace_unavailable",
        message: "eBay's answer did not mention this item; it will be sent again.".into(),
        retry_after: None,
    }
}

fn error_ids(reply: &Value) -> Vec<u64> {
    reply["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["errorId"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

fn first_error(reply: &Value) -> String {
    let error = &reply["errors"][0];
    match (error["errorId"].as_u64(), error["message"].as_str()) {
        (Some(id), Some(message)) => format!("{message} ({id})"),
        (None, Some(message)) => message.to_owned(),
        _ => "no reason given".to_owned(),
    }
}

/// The offer eBay says already exists (error 25002 with an `offerId` parameter).
fn existing_offer(reply: &Value) -> Option<String> {
    reply["errors"].as_array()?.iter().find_map(|error| {
        (error["errorId"] == 25002)
            .then(|| {
                error["parameters"].as_array()?.iter().find_map(|p| {
                    (p["name"] == "offerId").then(|| p["value"].as_str().map(str::to_owned))?
                })
            })
            .flatten()
    })
}

/// The field of a request an eBay error is about (its `fieldName` parameter).
fn field_name(error: &Value) -> &str {
    error["parameters"]
        .as_array()
        .and_then(|parameters| {
            parameters
                .iter()
                .find(|p| p["name"] == "fieldName")
                .and_then(|p| p["value"].as_str())
        })
        .unwrap_or_default()
}

/// The item field an eBay request field comes from.
pub fn field_of(name: &str) -> &'static str {
    match name {
        "product.title" => "title",
        "product.description" | "listingDescription" => "description",
        "pricingSummary.price" | "price" => "price",
        "product.imageUrls" => "image_url",
        "categoryId" => "category",
        "sku" => "sku",
        name if name.contains("quantity") || name.contains("Quantity") => "quantity",
        _ => "",
    }
}

/// Our stable code for an eBay error, so failures group with the same reasons as every
/// marketplace's.
pub fn our_code(error_id: u64, field: &str) -> &'static str {
    match (error_id, field) {
        (25003, _) => "price_not_positive",
        (25004, _) => "quantity_negative",
        (25014, _) => "image_missing",
        (25015, _) => "image_unreachable",
        (25005, _) => "category_restricted",
        (25002, "title") => "title_missing",
        (25709, "title") => "title_too_long",
        (25709, "sku") => "sku_invalid",
        _ => "listing_rejected",
    }
}

/// A refusal with eBay's errors, each with the item field it is about.
fn refusal(reply: &Value) -> CallError {
    let issues: Vec<Issue> = reply["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let field = field_of(field_name(error));
                    Issue {
                        code: our_code(error["errorId"].as_u64().unwrap_or(0), field).to_owned(),
                        severity: "ERROR".to_owned(),
                        message: error["message"].as_str().unwrap_or_default().to_owned(),
                        attribute_names: if field.is_empty() {
                            Vec::new()
                        } else {
                            vec![field.to_owned()]
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    super::refusal(issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebay_errors_name_the_item_field_and_our_code() {
        let reply = json!({ "errors": [{
            "errorId": 25709,
            "message": "Invalid value for product.title.",
            "parameters": [{ "name": "fieldName", "value": "product.title" }],
        }, {
            "errorId": 25003,
            "message": "Invalid price.",
            "parameters": [{ "name": "fieldName", "value": "pricingSummary.price" }],
        }]});
        let CallError::Permanent { code, issues, .. } = refusal(&reply) else {
            panic!("a refusal is permanent");
        };
        assert_eq!(code, "title_too_long");
        assert_eq!(issues[0].attribute_names, ["title"]);
        assert_eq!(issues[1].code, "price_not_positive");
        assert_eq!(issues[1].attribute_names, ["price"]);
        assert_eq!(our_code(25002, "title"), "title_missing");
        assert_eq!(our_code(99999, ""), "listing_rejected");
    }

    #[test]
    fn an_existing_offer_is_found_in_the_refusal() {
        let reply = json!({ "errors": [{
            "errorId": 25002,
            "message": "A user error has occurred. Offer entity already exists.",
            "parameters": [{ "name": "offerId", "value": "5000000042" }],
        }]});
        assert_eq!(existing_offer(&reply).as_deref(), Some("5000000042"));
        assert_eq!(
            existing_offer(&json!({ "errors": [{ "errorId": 25003 }] })),
            None
        );
    }

    #[test]
    fn prices_are_written_in_major_units() {
        let item = Item {
            price_minor: 1205,
            currency: "USD".into(),
            ..Item::blank()
        };
        assert_eq!(
            Ebay::price(&item),
            json!({ "value": "12.05", "currency": "USD" })
        );
    }
}
