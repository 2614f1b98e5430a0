//! Amazon's contract, as the sandbox serves it under `/amazon`: Login with Amazon's token
//! endpoint (`POST /auth/o2/token`, the refresh-token grant) and SP-API Listings Items
//! 2021-08-01 (`PUT`/`PATCH`/`GET`/`DELETE /listings/2021-08-01/items/{sellerId}/{sku}`).
//!
//! The shapes follow Amazon's published model: a submission answers `{sku, status:
//! ACCEPTED|INVALID, submissionId, issues}`; `ACCEPTED` is not final — the listing is
//! processed for a while (a `GET` of a new SKU answers 404 until then), and issues found
//! in processing (a missing main image) show on the `GET` afterwards, with the listing
//! not buyable. Errors are `{"errors": [{code, message, details}]}`; every answer carries
//! `x-amzn-RequestId`, and 200/400/404 carry `x-amzn-RateLimit-Limit`. The rate limit is
//! per selling partner. Same SKU, same data: still one listing (a PUT is an upsert).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Mutex;

use super::Sandbox;

/// What the Amazon contract did, for tests and the demo (`GET /_stats` → `amazon`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AmazonStats {
    /// Listings Items calls answered (rate-limited ones included).
    pub calls: u64,
    /// SKUs that became listings.
    pub listings: u64,
    pub rate_limited: u64,
    /// Accepted submissions still being processed now.
    pub pending_processing: u64,
    pub tokens_issued: u64,
}

/// How long processing takes and how long a token lives; `PUT /_amazon` dials them.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AmazonTiming {
    pub processing_ms: u64,
    pub token_seconds: u64,
}

impl Default for AmazonTiming {
    fn default() -> Self {
        Self {
            processing_ms: 3_000,
            token_seconds: 3_600,
        }
    }
}

struct Listing {
    product_type: String,
    /// What is live (after processing), if anything is yet.
    live: Option<Value>,
    /// An accepted submission and when its processing ends.
    pending: Option<(Value, DateTime<Utc>)>,
    asin: String,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
}

impl Listing {
    /// Processing that is over takes effect.
    fn settle(&mut self, now: DateTime<Utc>) -> bool {
        match self.pending.take() {
            Some((attributes, until)) if until <= now => {
                let new = self.live.is_none();
                self.live = Some(attributes);
                self.updated = until;
                new
            }
            other => {
                self.pending = other;
                false
            }
        }
    }
}

#[derive(Default)]
struct State_ {
    /// (seller id, SKU) → the listing.
    listings: BTreeMap<(String, String), Listing>,
    /// Access token → when it expires.
    tokens: HashMap<String, DateTime<Utc>>,
    stats: AmazonStats,
    timing: AmazonTiming,
    next: u64,
}

pub struct AmazonContract {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    state: Mutex<State_>,
    limit: u32,
}

impl AmazonContract {
    pub fn new(rate: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
        let quota =
            Quota::per_second(per_second).allow_burst(NonZeroU32::new(burst).unwrap_or(per_second));
        Self {
            limiter: RateLimiter::keyed(quota),
            state: Mutex::new(State_::default()),
            limit: rate,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_timing(&self, timing: AmazonTiming) {
        self.lock().timing = timing;
    }

    /// Ends every token now (a test of refreshing mid-task).
    pub fn expire_tokens(&self) {
        let now = Utc::now();
        for expiry in self.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    pub fn stats(&self) -> AmazonStats {
        let now = Utc::now();
        let mut state = self.lock();
        let mut made = 0;
        for listing in state.listings.values_mut() {
            made += u64::from(listing.settle(now));
        }
        state.stats.listings += made;
        let mut stats = state.stats.clone();
        stats.pending_processing = state
            .listings
            .values()
            .filter(|listing| listing.pending.is_some())
            .count() as u64;
        stats
    }

    /// The live attributes of a listing, once processed.
    pub fn listing(&self, seller: &str, sku: &str) -> Option<Value> {
        let now = Utc::now();
        let mut state = self.lock();
        let made = state
            .listings
            .get_mut(&(seller.to_owned(), sku.to_owned()))
            .map(|listing| listing.settle(now))
            .unwrap_or(false);
        state.stats.listings += u64::from(made);
        state
            .listings
            .get(&(seller.to_owned(), sku.to_owned()))
            .and_then(|listing| listing.live.clone())
    }
}

pub fn router() -> Router<Sandbox> {
    Router::new().route("/auth/o2/token", post(token)).route(
        "/listings/2021-08-01/items/{seller}/{sku}",
        put(put_item)
            .patch(patch_item)
            .get(get_item)
            .delete(delete_item),
    )
}

/// `PUT /_amazon {"processing_ms", "token_seconds"}`.
pub async fn set_timing(
    State(sandbox): State<Sandbox>,
    Json(timing): Json<AmazonTiming>,
) -> Json<Value> {
    sandbox.amazon().set_timing(timing);
    Json(json!({ "processing_ms": timing.processing_ms, "token_seconds": timing.token_seconds }))
}

fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// An answer with Amazon's headers: always a request id, the limit on 200/400/404.
fn reply(contract: &AmazonContract, status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert("x-amzn-RequestId", id);
    }
    if matches!(status.as_u16(), 200 | 400 | 404) {
        if let Ok(limit) = HeaderValue::from_str(&format!("{:.1}", f64::from(contract.limit))) {
            headers.insert("x-amzn-RateLimit-Limit", limit);
        }
    }
    response
}

fn errors(
    contract: &AmazonContract,
    status: StatusCode,
    code: &str,
    message: &str,
    details: &str,
) -> Response {
    reply(
        contract,
        status,
        json!({ "errors": [{ "code": code, "message": message, "details": details }] }),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error_description": description, "error": error })),
    )
        .into_response()
}

/// Login with Amazon's refresh-token grant. A client id of Amazon's form, any secret,
/// and a refresh token of Amazon's form (`Atzr|…`) that does not say "revoked" are good.
async fn token(State(sandbox): State<Sandbox>, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type.as_deref() != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let client_ok = form
        .client_id
        .as_deref()
        .is_some_and(|id| id.starts_with("amzn1.application-oa2-client."))
        && form.client_secret.as_deref().is_some_and(|s| !s.is_empty());
    if !client_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let refresh = form.refresh_token.unwrap_or_default();
    if !refresh.starts_with("Atzr|") || refresh.contains("revoked") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let contract = sandbox.amazon();
    let mut state = contract.lock();
    let lifetime = state.timing.token_seconds;
    let access = format!("Atza|{:032x}", rand::random::<u128>());
    state.tokens.insert(
        access.clone(),
        Utc::now() + chrono::Duration::seconds(lifetime as i64),
    );
    state.stats.tokens_issued += 1;
    (
        StatusCode::OK,
        [("cache-control", "no-store"), ("pragma", "no-cache")],
        Json(json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
        })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct ItemQuery {
    #[serde(rename = "marketplaceIds")]
    marketplace_ids: Option<String>,
    #[serde(rename = "includedData")]
    #[allow(dead_code)]
    included_data: Option<String>,
}

/// The gate every Listings Items call passes: the access token, the rate limit, the
/// marketplace id, then the sandbox's latency and faults. `Ok((marketplace, hang))`.
async fn admit(
    sandbox: &Sandbox,
    seller: &str,
    headers: &HeaderMap,
    query: &ItemQuery,
) -> Result<(String, bool), Response> {
    let contract = sandbox.amazon();
    let (latency, roll) = sandbox.roll();
    contract.lock().stats.calls += 1;
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let expiry = contract.lock().tokens.get(token).copied();
    match expiry {
        None => {
            return Err(errors(
                contract,
                StatusCode::FORBIDDEN,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided is revoked, malformed or invalid.",
            ))
        }
        Some(at) if at <= Utc::now() => {
            return Err(errors(
                contract,
                StatusCode::FORBIDDEN,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided has expired.",
            ))
        }
        Some(_) => {}
    }
    if contract.limiter.check_key(&seller.to_owned()).is_err() {
        contract.lock().stats.rate_limited += 1;
        return Err(errors(
            contract,
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            "",
        ));
    }
    let Some(marketplace) = query
        .marketplace_ids
        .as_deref()
        .filter(|ids| !ids.trim().is_empty())
    else {
        return Err(errors(
            contract,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Missing required 'marketplaceIds'.",
            "",
        ));
    };
    let marketplace = marketplace.split(',').next().unwrap_or_default().to_owned();
    let hang = sandbox.conditions(latency, roll).await?;
    Ok((marketplace, hang))
}

#[derive(Deserialize)]
struct PutBody {
    #[serde(rename = "productType")]
    product_type: String,
    #[allow(dead_code)]
    requirements: Option<String>,
    attributes: serde_json::Map<String, Value>,
}

fn issue(code: &str, message: &str, attribute: &str, category: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": [category],
    })
}

/// The first value of an attribute (`[{ "value": … }]`).
fn first_value<'a>(
    attributes: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    attributes.get(name)?.as_array()?.first()?.get("value")
}

/// What is checked at submission (an INVALID answer): required attributes, lengths, a
/// price above zero.
fn submission_issues(attributes: &serde_json::Map<String, Value>) -> Vec<Value> {
    let mut issues = Vec::new();
    match first_value(attributes, "item_name").and_then(Value::as_str) {
        None | Some("") => issues.push(issue(
            "90220",
            "'item_name' is required but not supplied.",
            "item_name",
            "MISSING_ATTRIBUTE",
        )),
        Some(name) if name.chars().count() > 200 => issues.push(issue(
            "8541",
            "The value for 'item_name' is longer than 200 characters.",
            "item_name",
            "INVALID_ATTRIBUTE",
        )),
        Some(_) => {}
    }
    let price = attributes
        .get("purchasable_offer")
        .and_then(|offer| offer.pointer("/0/our_price/0/schedule/0/value_with_tax"))
        .and_then(Value::as_f64);
    match price {
        None => issues.push(issue(
            "90220",
            "'purchasable_offer' is required but not supplied.",
            "purchasable_offer",
            "MISSING_PRICE",
        )),
        Some(price) if price <= 0.0 => issues.push(issue(
            "5461",
            "The price must be greater than 0.",
            "purchasable_offer",
            "INVALID_PRICE",
        )),
        Some(_) => {}
    }
    issues
}

/// What processing finds after an ACCEPTED submission (shown by a later GET).
fn processing_issues(attributes: &Value) -> Vec<Value> {
    let image = attributes
        .pointer("/main_product_image_locator/0/media_location")
        .and_then(Value::as_str)
        .filter(|url| !url.is_empty());
    match image {
        Some(_) => Vec::new(),
        None => vec![issue(
            "18027",
            "The listing has no main image. Add one to make the listing buyable.",
            "main_product_image_locator",
            "MISSING_IMAGE",
        )],
    }
}

fn submission(contract: &AmazonContract, sku: &str, status: &str, issues: Vec<Value>) -> Response {
    let id = format!("{:032x}", rand::random::<u128>());
    reply(
        contract,
        StatusCode::OK,
        json!({ "sku": sku, "status": status, "submissionId": id, "issues": issues }),
    )
}

/// Accepts a submission: processing starts now and ends after the configured time.
fn accept(
    contract: &AmazonContract,
    seller: &str,
    sku: &str,
    product_type: String,
    attributes: Value,
) {
    let now = Utc::now();
    let mut state = contract.lock();
    let until = now + chrono::Duration::milliseconds(state.timing.processing_ms as i64);
    state.next += 1;
    let asin = format!("B0{:08}", state.next);
    let listing = state
        .listings
        .entry((seller.to_owned(), sku.to_owned()))
        .or_insert_with(|| Listing {
            product_type: product_type.clone(),
            live: None,
            pending: None,
            asin,
            created: now,
            updated: now,
        });
    listing.product_type = product_type;
    listing.pending = Some((attributes, until));
}

/// Checks a submission: INVALID with its issues, or ACCEPTED and processing.
fn submit(
    contract: &AmazonContract,
    seller: &str,
    sku: &str,
    product_type: String,
    attributes: serde_json::Map<String, Value>,
) -> Response {
    let issues = submission_issues(&attributes);
    if !issues.is_empty() {
        return submission(contract, sku, "INVALID", issues);
    }
    accept(
        contract,
        seller,
        sku,
        product_type,
        Value::Object(attributes),
    );
    submission(contract, sku, "ACCEPTED", Vec::new())
}

async fn put_item(
    State(sandbox): State<Sandbox>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<ItemQuery>,
    headers: HeaderMap,
    body: Result<Json<PutBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (_, hang) = match admit(&sandbox, &seller, &headers, &query).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.amazon();
    let Ok(Json(body)) = body else {
        return errors(
            contract,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "The request body is invalid.",
            "productType and attributes are required.",
        );
    };
    let response = submit(contract, &seller, &sku, body.product_type, body.attributes);
    super::answer(hang, response).await
}

#[derive(Deserialize)]
struct PatchBody {
    #[serde(rename = "productType")]
    product_type: String,
    patches: Vec<Patch>,
}

#[derive(Deserialize)]
struct Patch {
    op: String,
    path: String,
    #[serde(default)]
    value: Value,
}

/// Applies `replace`/`add`/`merge`/`delete` of top-level attributes to the listing as it
/// will be (the pending submission, else what is live).
async fn patch_item(
    State(sandbox): State<Sandbox>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<ItemQuery>,
    headers: HeaderMap,
    body: Result<Json<PatchBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (_, hang) = match admit(&sandbox, &seller, &headers, &query).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.amazon();
    let Ok(Json(body)) = body else {
        return errors(
            contract,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "The request body is invalid.",
            "productType and patches are required.",
        );
    };
    let current = {
        let mut state = contract.lock();
        let now = Utc::now();
        state
            .listings
            .get_mut(&(seller.clone(), sku.clone()))
            .and_then(|listing| {
                listing.settle(now);
                listing
                    .pending
                    .as_ref()
                    .map(|(attributes, _)| attributes.clone())
                    .or_else(|| listing.live.clone())
            })
    };
    let Some(Value::Object(mut attributes)) = current else {
        let issues = vec![issue(
            "4000003",
            "This SKU does not exist in the catalog.",
            "sku",
            "INVALID_ATTRIBUTE",
        )];
        return super::answer(hang, submission(contract, &sku, "INVALID", issues)).await;
    };
    for patch in body.patches {
        let Some(name) = patch.path.strip_prefix("/attributes/") else {
            return errors(
                contract,
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                "Only top-level attributes can be patched.",
                &patch.path,
            );
        };
        match patch.op.as_str() {
            "delete" => {
                attributes.remove(name);
            }
            "add" | "replace" | "merge" => {
                attributes.insert(name.to_owned(), patch.value);
            }
            other => {
                return errors(
                    contract,
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "Unknown patch operation.",
                    other,
                )
            }
        }
    }
    let response = submit(contract, &seller, &sku, body.product_type, attributes);
    super::answer(hang, response).await
}

async fn get_item(
    State(sandbox): State<Sandbox>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<ItemQuery>,
    headers: HeaderMap,
) -> Response {
    let (marketplace, hang) = match admit(&sandbox, &seller, &headers, &query).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.amazon();
    let now = Utc::now();
    let found = {
        let mut state = contract.lock();
        let key = (seller.clone(), sku.clone());
        let made = state
            .listings
            .get_mut(&key)
            .map(|listing| listing.settle(now))
            .unwrap_or(false);
        state.stats.listings += u64::from(made);
        state.listings.get(&key).and_then(|listing| {
            let live = listing.live.as_ref()?;
            let issues = processing_issues(live);
            let status: Vec<&str> = if issues.is_empty() {
                vec!["BUYABLE", "DISCOVERABLE"]
            } else {
                Vec::new()
            };
            Some(json!({
                "sku": sku,
                "summaries": [{
                    "marketplaceId": marketplace,
                    "asin": listing.asin,
                    "productType": listing.product_type,
                    "conditionType": "new_new",
                    "status": status,
                    "itemName": live.pointer("/item_name/0/value"),
                    "createdDate": listing.created.to_rfc3339(),
                    "lastUpdatedDate": listing.updated.to_rfc3339(),
                }],
                "issues": issues,
            }))
        })
    };
    let response = match found {
        Some(item) => reply(contract, StatusCode::OK, item),
        None => errors(
            contract,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("SKU '{sku}' not found in marketplace {marketplace}"),
            "",
        ),
    };
    super::answer(hang, response).await
}

async fn delete_item(
    State(sandbox): State<Sandbox>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<ItemQuery>,
    headers: HeaderMap,
) -> Response {
    let (_, hang) = match admit(&sandbox, &seller, &headers, &query).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.amazon();
    contract.lock().listings.remove(&(seller, sku.clone()));
    super::answer(hang, submission(contract, &sku, "ACCEPTED", Vec::new())).await
}
