//! eBay's contract, as the sandbox serves it under `/ebay`: the OAuth token endpoint
//! (`POST /identity/v1/oauth2/token`, the refresh-token grant with HTTP Basic client
//! credentials), the Sell Inventory API's bulk calls (`bulk_create_or_replace_inventory_item`,
//! `bulk_create_offer`, `bulk_publish_offer`, `bulk_update_price_quantity`, up to 25
//! items each), the per-offer `withdraw`, reads of inventory items and offers, and the
//! Developer Analytics API's user rate limits.
//!
//! The shapes follow eBay's published model: a bulk answer is 200 when every item
//! succeeded and 207 when some did not, with one `responses[]` entry per request, each
//! with its own `statusCode` and `errors[{errorId, domain, category, message,
//! parameters}]`. A second offer for the same SKU and marketplace is refused (25002, the
//! existing `offerId` in `parameters`); replacing an inventory item is an upsert by SKU;
//! publishing a published offer keeps its listing. The limit is a daily call quota per
//! user; beyond it eBay answers 429 (errorId 2001), and the quota's reset is read from
//! the Analytics API. Validation follows from the item's data, so the same item always
//! fails the same way.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::Sandbox;

mod bulk;
use bulk::{bulk_inventory, bulk_offer, bulk_price_quantity, bulk_publish};

/// At most this many items in one bulk request.
pub const BULK_MAX: usize = 25;
/// eBay's title limit.
const TITLE_MAX: usize = 80;

/// What the eBay contract did (`GET /_stats` → `ebay`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EbayStats {
    /// Inventory API calls answered (rate-limited ones included).
    pub calls: u64,
    /// Of those, bulk calls.
    pub bulk_calls: u64,
    /// Items carried by bulk calls.
    pub items_in_bulk_calls: u64,
    /// Offers that became listings (a publish of a published offer makes none).
    pub listings: u64,
    pub rate_limited: u64,
    pub tokens_issued: u64,
}

/// The daily quota per user and a token's life; `PUT /_ebay` dials them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
pub struct EbayLimits {
    pub daily_calls: u64,
    pub token_seconds: u64,
}

impl Default for EbayLimits {
    fn default() -> Self {
        Self {
            daily_calls: 5_000,
            token_seconds: 7_200,
        }
    }
}

#[derive(Debug, Clone)]
struct InventoryItem {
    product: Value,
    quantity: i64,
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub user: String,
    pub sku: String,
    pub marketplace_id: String,
    pub price: Value,
    pub quantity: i64,
    pub listing_id: Option<String>,
    /// Publications of this offer that made or revised its listing.
    pub published: u64,
}

#[derive(Default)]
struct State_ {
    /// (user, SKU) → the inventory item.
    inventory: BTreeMap<(String, String), InventoryItem>,
    /// Offer id → the offer.
    offers: BTreeMap<String, Offer>,
    /// Access token → (user, expiry).
    tokens: HashMap<String, (String, DateTime<Utc>)>,
    /// User → (day, calls made that day).
    used: HashMap<String, (chrono::NaiveDate, u64)>,
    stats: EbayStats,
    limits: EbayLimits,
    next: u64,
    /// Publication calls still to fail with a 500 before acting (a test's incident).
    failing_publishes: u32,
}

#[derive(Default)]
pub struct EbayContract {
    state: Mutex<State_>,
}

/// The day eBay's quotas count in: they reset at midnight Pacific time.
fn quota_day(now: DateTime<Utc>) -> chrono::NaiveDate {
    now.with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive()
}

/// When the current quota day ends.
fn quota_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::TimeZone;
    let tomorrow = quota_day(now).succ_opt().unwrap_or(quota_day(now));
    chrono_tz::America::Los_Angeles
        .from_local_datetime(&tomorrow.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::days(1))
}

impl EbayContract {
    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_limits(&self, limits: EbayLimits) {
        self.lock().limits = limits;
    }

    /// The next `calls` publication calls answer 500 without acting, as in an incident
    /// between an offer's creation and its publication.
    pub fn fail_next_publishes(&self, calls: u32) {
        self.lock().failing_publishes = calls;
    }

    /// Takes one of the failures [`Self::fail_next_publishes`] asked for.
    fn publish_fails(&self) -> bool {
        let mut state = self.lock();
        let failing = state.failing_publishes > 0;
        state.failing_publishes = state.failing_publishes.saturating_sub(1);
        failing
    }

    /// Ends every token now (a test of refreshing mid-task).
    pub fn expire_tokens(&self) {
        let now = Utc::now();
        for (_, expiry) in self.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    pub fn stats(&self) -> EbayStats {
        self.lock().stats.clone()
    }

    /// The user's offer for `sku`, as eBay has it.
    pub fn offer(&self, user: &str, sku: &str) -> Option<Offer> {
        self.lock()
            .offers
            .values()
            .find(|offer| offer.user == user && offer.sku == sku)
            .cloned()
    }

    /// The title eBay shows for the user's `sku`.
    pub fn title(&self, user: &str, sku: &str) -> Option<String> {
        self.lock()
            .inventory
            .get(&(user.to_owned(), sku.to_owned()))
            .and_then(|item| item.product["title"].as_str().map(str::to_owned))
    }
}

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/identity/v1/oauth2/token", post(token))
        .route(
            "/sell/inventory/v1/bulk_create_or_replace_inventory_item",
            post(bulk_inventory),
        )
        .route("/sell/inventory/v1/bulk_create_offer", post(bulk_offer))
        .route("/sell/inventory/v1/bulk_publish_offer", post(bulk_publish))
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(bulk_price_quantity),
        )
        .route("/sell/inventory/v1/offer", get(get_offers))
        .route(
            "/sell/inventory/v1/offer/{offer_id}/withdraw",
            post(withdraw),
        )
        .route("/sell/inventory/v1/inventory_item", get(get_inventory))
        .route(
            "/developer/analytics/v1_beta/user_rate_limit/",
            get(user_rate_limit),
        )
}

/// `PUT /_ebay {"daily_calls", "token_seconds"}`.
pub async fn set_limits(
    State(sandbox): State<Sandbox>,
    Json(limits): Json<EbayLimits>,
) -> Json<Value> {
    sandbox.ebay().set_limits(limits);
    Json(json!(limits))
}

fn error(error_id: u32, category: &str, message: &str, parameters: Value) -> Value {
    json!({
        "errorId": error_id,
        "domain": "API_INVENTORY",
        "category": category,
        "message": message,
        "parameters": parameters,
    })
}

fn errors(status: StatusCode, error_id: u32, category: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [error(error_id, category, message, json!([]))] })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The refresh-token grant. The client authenticates with HTTP Basic (any non-empty app
/// id and cert id); a refresh token of eBay's form (`v^1.1#…`) that does not say
/// "revoked" is good, and names the user.
async fn token(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let client_ok = client.as_deref().is_some_and(|pair| {
        pair.split_once(':')
            .is_some_and(|(id, secret)| !id.is_empty() && !secret.is_empty())
    });
    if !client_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if form.grant_type.as_deref() != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        );
    }
    let refresh = form.refresh_token.unwrap_or_default();
    if !refresh.starts_with("v^1.1#") || refresh.contains("revoked") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the provided authorization refresh token is invalid or was issued to another client",
        );
    }
    let contract = sandbox.ebay();
    let mut state = contract.lock();
    let lifetime = state.limits.token_seconds;
    let access = format!("v^1.1#i^1#p^3#r^1#{:032x}", rand::random::<u128>());
    state.tokens.insert(
        access.clone(),
        (
            refresh,
            Utc::now() + chrono::Duration::seconds(lifetime as i64),
        ),
    );
    state.stats.tokens_issued += 1;
    (
        StatusCode::OK,
        Json(json!({
            "access_token": access,
            "expires_in": lifetime,
            "token_type": "User Access Token",
        })),
    )
        .into_response()
}

/// The user a bearer token belongs to, or eBay's 401.
// The error is the handler's answer, returned as is.
#[allow(clippy::result_large_err)]
fn user_of(contract: &EbayContract, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match contract.lock().tokens.get(token) {
        Some((user, expiry)) if *expiry > Utc::now() => Ok(user.clone()),
        _ => Err(errors(
            StatusCode::UNAUTHORIZED,
            1001,
            "REQUEST",
            "Invalid access token. Check the value of the Authorization HTTP request header.",
        )),
    }
}

/// The gate every Inventory API call passes: the token, the daily quota, then the
/// sandbox's latency and faults. `Ok((user, hang))`.
async fn admit(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    items: Option<usize>,
) -> Result<(String, bool), Response> {
    let contract = sandbox.ebay();
    let (latency, roll) = sandbox.roll();
    contract.lock().stats.calls += 1;
    let user = user_of(contract, headers)?;
    {
        let now = Utc::now();
        let day = quota_day(now);
        let mut state = contract.lock();
        let limit = state.limits.daily_calls;
        let used = state.used.entry(user.clone()).or_insert((day, 0));
        if used.0 != day {
            *used = (day, 0);
        }
        if used.1 >= limit {
            state.stats.rate_limited += 1;
            return Err(errors(
                StatusCode::TOO_MANY_REQUESTS,
                2001,
                "REQUEST",
                "Too many requests. The request limit has been reached for the resource.",
            ));
        }
        used.1 += 1;
        if let Some(items) = items {
            state.stats.bulk_calls += 1;
            state.stats.items_in_bulk_calls += items as u64;
        }
    }
    let hang = sandbox.conditions(latency, roll).await?;
    Ok((user, hang))
}

async fn withdraw(
    State(sandbox): State<Sandbox>,
    Path(offer_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (user, hang) = match admit(&sandbox, &headers, None).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.ebay();
    let withdrawn = {
        let mut state = contract.lock();
        state
            .offers
            .get_mut(&offer_id)
            .filter(|o| o.user == user)
            .map(|offer| offer.listing_id.take())
    };
    let response = match withdrawn {
        None => errors(
            StatusCode::NOT_FOUND,
            25713,
            "REQUEST",
            "This offer is not available.",
        ),
        Some(None) => errors(
            StatusCode::BAD_REQUEST,
            25725,
            "REQUEST",
            "The offer is not published.",
        ),
        Some(Some(listing_id)) => (
            StatusCode::OK,
            Json(json!({ "listingId": listing_id, "warnings": [] })),
        )
            .into_response(),
    };
    super::answer(hang, response).await
}

#[derive(Deserialize)]
struct OfferQuery {
    sku: Option<String>,
    marketplace_id: Option<String>,
}

async fn get_offers(
    State(sandbox): State<Sandbox>,
    Query(query): Query<OfferQuery>,
    headers: HeaderMap,
) -> Response {
    let (user, hang) = match admit(&sandbox, &headers, None).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Some(sku) = query.sku else {
        return errors(
            StatusCode::BAD_REQUEST,
            25709,
            "REQUEST",
            "Invalid value for sku.",
        );
    };
    let offers: Vec<Value> = sandbox
        .ebay()
        .lock()
        .offers
        .iter()
        .filter(|(_, o)| {
            o.user == user
                && o.sku == sku
                && query.marketplace_id.as_deref().is_none_or(|m| m == o.marketplace_id)
        })
        .map(|(id, o)| {
            json!({
                "offerId": id,
                "sku": o.sku,
                "marketplaceId": o.marketplace_id,
                "format": "FIXED_PRICE",
                "availableQuantity": o.quantity,
                "pricingSummary": { "price": o.price },
                "status": if o.listing_id.is_some() { "PUBLISHED" } else { "UNPUBLISHED" },
                "listing": o.listing_id.as_ref().map(|id| json!({ "listingId": id, "listingStatus": "ACTIVE" })),
            })
        })
        .collect();
    let response = if offers.is_empty() {
        errors(
            StatusCode::NOT_FOUND,
            25713,
            "REQUEST",
            "This offer is not available.",
        )
    } else {
        Json(json!({ "total": offers.len(), "size": offers.len(), "offers": offers }))
            .into_response()
    };
    super::answer(hang, response).await
}

async fn get_inventory(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    let (user, hang) = match admit(&sandbox, &headers, None).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let total = sandbox
        .ebay()
        .lock()
        .inventory
        .keys()
        .filter(|(owner, _)| *owner == user)
        .count();
    super::answer(
        hang,
        Json(json!({ "total": total, "size": 0, "inventoryItems": [] })).into_response(),
    )
    .await
}

/// The Developer Analytics API's quota report for the user (not counted against it).
async fn user_rate_limit(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    let contract = sandbox.ebay();
    let user = match user_of(contract, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let now = Utc::now();
    let state = contract.lock();
    let used = state
        .used
        .get(&user)
        .filter(|(day, _)| *day == quota_day(now))
        .map(|(_, used)| *used)
        .unwrap_or(0);
    let limit = state.limits.daily_calls;
    Json(json!({
        "rateLimits": [{
            "apiContext": "sell",
            "apiName": "Inventory",
            "apiVersion": "v1",
            "resources": [{
                "name": "sell.inventory",
                "rates": [{
                    "count": used,
                    "limit": limit,
                    "remaining": limit.saturating_sub(used),
                    "reset": quota_reset(now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "timeWindow": 86_400,
                }],
            }],
        }],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_resets_at_midnight_pacific() {
        let now = DateTime::parse_from_rfc3339("2026-07-01T06:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 23:59 in Los Angeles (PDT): a minute to go.
        assert_eq!(quota_reset(now) - now, chrono::Duration::minutes(1));
        let winter = DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            quota_reset(winter).to_rfc3339(),
            "2026-01-16T08:00:00+00:00"
        );
    }
}
