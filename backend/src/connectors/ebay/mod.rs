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
use crate::marketplace::CallError;
use crate::tasks::{ItemContext, Outcome};

mod errors;
use errors::{error_ids, existing_offer, first_error, item_error, refusal, unanswered};
pub use errors::{field_of, our_code};

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
            self.turn().await?;
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
            let response = super::send_counted(&self.pace_key(), request).await?;
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

    /// Waits for the connection's turn. A batch part-sent waits out a queue of other
    /// batches' calls (up to half a minute) rather than giving up its steps already
    /// made; a longer hold-off (the daily quota) is the batch's snooze.
    async fn turn(&self) -> Result<(), CallError> {
        loop {
            match self.marketplaces.pace(&self.pace_key()).await {
                Err(CallError::Transient {
                    code: "rate_limited",
                    retry_after: Some(wait),
                    ..
                }) if wait <= chrono::Duration::seconds(30) => {
                    tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
                }
                other => return other,
            }
        }
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
        // 200: all succeeded; 207: some did not; a 400 with `responses` says per item why
        // every one was refused.
        let per_item = reply["responses"].is_array();
        if !(matches!(status.as_u16(), 200 | 207) || (status.as_u16() == 400 && per_item)) {
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
    /// offer and listing ids, or why not. A call that fails as a whole (eBay down, the
    /// quota used up) decides only the items still on their way; those refused earlier
    /// keep their refusal.
    pub async fn publish(
        &self,
        items: &[(&Item, Option<String>)],
    ) -> Vec<Result<(String, String), CallError>> {
        let mut batch = Batch {
            results: items.iter().map(|_| None).collect(),
            offers: items.iter().map(|(_, known)| known.clone()).collect(),
        };
        // 1. The inventory items (replaced whole: title, description, pictures, quantity).
        let all: Vec<usize> = (0..items.len()).collect();
        let requests = all
            .iter()
            .map(|&i| Self::inventory_request(items[i].0))
            .collect();
        match self
            .bulk("bulk_create_or_replace_inventory_item", requests, "sku")
            .await
        {
            Ok(answers) => batch.settle_step(&all, |i| answers.get(&items[i].0.sku)),
            Err(err) => batch.fail(&all, &err),
        }
        // 2. Offers: made for SKUs without one (eBay names the one a SKU already has:
        //    a batch repeated after a crash); price and quantity brought up to date on
        //    the ones that exist. An offer Stockroom remembers that eBay no longer has is
        //    made again.
        let mut new = batch.open(|offer| offer.is_none());
        let mut existing = batch.open(|offer| offer.is_some());
        for round in 0..2 {
            if !new.is_empty() {
                let requests = new
                    .iter()
                    .map(|&i| self.offer_request(items[i].0))
                    .collect();
                match self.bulk("bulk_create_offer", requests, "sku").await {
                    Ok(answers) => {
                        for &i in &new {
                            match answers.get(&items[i].0.sku) {
                                Some(answer) if answer.ok() => {
                                    batch.offers[i] =
                                        answer.reply["offerId"].as_str().map(str::to_owned);
                                }
                                Some(answer) => match existing_offer(&answer.reply) {
                                    Some(offer_id) => {
                                        batch.offers[i] = Some(offer_id);
                                        existing.push(i);
                                    }
                                    None => batch.results[i] = Some(Err(item_error(answer))),
                                },
                                None => batch.results[i] = Some(Err(unanswered())),
                            }
                        }
                    }
                    Err(err) => batch.fail(&new, &err),
                }
            }
            new.clear();
            if existing.is_empty() {
                break;
            }
            let requests = existing
                .iter()
                .filter_map(|&i| {
                    let item = items[i].0;
                    Some(json!({
                        "sku": item.sku,
                        "shipToLocationAvailability": { "quantity": item.quantity },
                        "offers": [{
                            "offerId": batch.offers[i].as_deref()?,
                            "availableQuantity": item.quantity,
                            "price": Self::price(item),
                        }],
                    }))
                })
                .collect();
            match self
                .bulk("bulk_update_price_quantity", requests, "offerId")
                .await
            {
                Ok(answers) => {
                    for &i in &existing {
                        let answer = batch.offers[i].as_ref().and_then(|id| answers.get(id));
                        match answer {
                            Some(answer) if answer.ok() => {}
                            // Gone from eBay: made again in the next round.
                            Some(answer)
                                if error_ids(&answer.reply).contains(&OFFER_UNAVAILABLE)
                                    && round == 0 =>
                            {
                                batch.offers[i] = None;
                                new.push(i);
                            }
                            Some(answer) => batch.results[i] = Some(Err(item_error(answer))),
                            None => batch.results[i] = Some(Err(unanswered())),
                        }
                    }
                }
                Err(err) => batch.fail(&existing, &err),
            }
            existing.clear();
            if new.is_empty() {
                break;
            }
        }
        // 3. Publish the offers.
        let ready = batch.open(|offer| offer.is_some());
        if !ready.is_empty() {
            let requests = ready
                .iter()
                .filter_map(|&i| Some(json!({ "offerId": batch.offers[i].as_deref()? })))
                .collect();
            match self.bulk("bulk_publish_offer", requests, "offerId").await {
                Ok(answers) => {
                    for &i in &ready {
                        let Some(offer_id) = batch.offers[i].clone() else {
                            continue;
                        };
                        batch.results[i] = Some(match answers.get(&offer_id) {
                            Some(answer) if answer.ok() => {
                                match answer.reply["listingId"].as_str() {
                                    Some(listing) => Ok((offer_id, listing.to_owned())),
                                    None => Err(unanswered()),
                                }
                            }
                            Some(answer) => Err(item_error(answer)),
                            None => Err(unanswered()),
                        });
                    }
                }
                Err(err) => batch.fail(&ready, &err),
            }
        }
        batch
            .results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(unanswered())))
            .collect()
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

/// eBay's "This offer is not available" (an offer id it does not have).
const OFFER_UNAVAILABLE: u64 = 25713;

/// Where each item of a batch stands between the bulk calls.
struct Batch {
    /// Decided items: listed, or why not.
    results: Vec<Option<Result<(String, String), CallError>>>,
    offers: Vec<Option<String>>,
}

impl Batch {
    /// The undecided items whose offer is as `which` wants.
    fn open(&self, which: impl Fn(&Option<String>) -> bool) -> Vec<usize> {
        (0..self.results.len())
            .filter(|&i| self.results[i].is_none() && which(&self.offers[i]))
            .collect()
    }

    /// A step's per-item answers: a refusal decides the item; success lets it go on.
    fn settle_step<'a>(
        &mut self,
        sent: &[usize],
        answer: impl Fn(usize) -> Option<&'a ItemAnswer>,
    ) {
        for &i in sent {
            match answer(i) {
                Some(answer) if answer.ok() => {}
                Some(answer) => self.results[i] = Some(Err(item_error(answer))),
                None => self.results[i] = Some(Err(unanswered())),
            }
        }
    }

    /// A call that failed as a whole decides the items it carried.
    fn fail(&mut self, sent: &[usize], err: &CallError) {
        for &i in sent {
            if self.results[i].is_none() {
                self.results[i] = Some(Err(err.clone()));
            }
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
    let mut loaded: Vec<(usize, Item, Known)> = Vec::new();
    for (index, task_item) in batch.iter().enumerate() {
        match super::load_item(db, task_item).await {
            Ok(item) => {
                let known = match listings::get(db, item.id, connection_id).await {
                    Ok(row) => Known {
                        listed: row
                            .as_ref()
                            .is_some_and(|row| row.state == listings::State::Listed.as_str()),
                        offer: row.and_then(|row| row.submission_id),
                    },
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
            .map(|(_, item, known)| (item, known.offer.clone()))
            .collect();
        let results = api.publish(&sending).await;
        for ((index, item, known), result) in loaded.iter().zip(results) {
            let task_item = &batch[*index];
            outcomes[*index] =
                Some(settle(db, task_item, item, connection_id, known, result).await);
        }
    }
    // Items to try again are due together, so they go again as one batch (each item's
    // own backoff, with its jitter, would scatter them into calls of one).
    let attempt = batch.iter().map(|item| item.attempt).max().unwrap_or(1);
    let together = chrono::Duration::seconds((2_i64 << attempt.saturating_sub(1).min(6)).min(120));
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Some(Outcome::RetryLater {
                delay: None,
                code,
                message,
            }) => Outcome::RetryLater {
                delay: Some(together),
                code,
                message,
            },
            Some(Outcome::Unavailable {
                delay: None,
                message,
            }) => Outcome::Unavailable {
                delay: Some(together),
                message,
            },
            Some(outcome) => outcome,
            None => Outcome::retry(
                "batch_incomplete",
                "No answer for this item; it will be tried again.",
            ),
        })
        .collect()
}

/// What Stockroom knew of an item's eBay listing before the batch.
struct Known {
    offer: Option<String>,
    listed: bool,
}

/// Remembers what eBay said of one item and turns it into the item's outcome.
async fn settle(
    db: &sea_orm::DatabaseConnection,
    task_item: &ItemContext<ItemIds, i64>,
    item: &Item,
    connection_id: i64,
    known: &Known,
    result: Result<(String, String), CallError>,
) -> Outcome {
    let (state, offer, listing, issues) = match &result {
        Ok((offer, listing)) => (
            listings::State::Listed,
            Some(offer.as_str()),
            Some(listing.as_str()),
            None,
        ),
        // A refused update leaves the listing that is live as it was: still listed, with
        // what eBay said.
        Err(CallError::Permanent { issues, .. }) if known.listed => (
            listings::State::Listed,
            known.offer.as_deref(),
            None,
            Some(json!(issues)),
        ),
        Err(CallError::Permanent { issues, .. }) => (
            listings::State::Refused,
            known.offer.as_deref(),
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
