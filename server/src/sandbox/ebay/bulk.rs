//! The Inventory API's bulk calls: up to 25 items each, one `responses[]` entry per
//! request with its own `statusCode`; 200 when all succeeded, 207 when some did not.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{admit, error, errors, InventoryItem, Offer, BULK_MAX, TITLE_MAX};
use crate::sandbox::Sandbox;

/// A bulk body's `requests`, or eBay's 400 for a missing, empty or oversized list.
// The error is the handler's answer, returned as is.
#[allow(clippy::result_large_err)]
fn requests(
    body: &Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Vec<Value>, Response> {
    let Ok(Json(body)) = body else {
        return Err(errors(
            StatusCode::BAD_REQUEST,
            2004,
            "REQUEST",
            "Invalid request. The request body could not be read.",
        ));
    };
    let list = body["requests"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return Err(errors(
            StatusCode::BAD_REQUEST,
            25709,
            "REQUEST",
            "Invalid value for requests. At least one request is required.",
        ));
    }
    if list.len() > BULK_MAX {
        return Err(errors(
            StatusCode::BAD_REQUEST,
            25730,
            "REQUEST",
            "Too many requests in one call. The maximum is 25.",
        ));
    }
    Ok(list)
}

/// 200 when every item succeeded, 207 when some did not.
fn bulk_answer(responses: Vec<Value>) -> Response {
    let all_ok = responses
        .iter()
        .all(|r| r["statusCode"].as_u64().is_some_and(|code| code < 300));
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    (status, Json(json!({ "responses": responses }))).into_response()
}

fn field(name: &str) -> Value {
    json!([{ "name": "fieldName", "value": name }])
}

/// What eBay refuses in an inventory item.
fn inventory_errors(sku: &str, request: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    if sku.trim().is_empty() || sku.len() > 50 {
        found.push(error(
            25709,
            "REQUEST",
            "Invalid value for sku. A SKU is 1 to 50 characters.",
            field("sku"),
        ));
    }
    let title = request["product"]["title"].as_str().unwrap_or_default();
    if title.chars().count() > TITLE_MAX {
        found.push(error(
            25709,
            "REQUEST",
            "Invalid value for product.title. A title can be at most 80 characters.",
            field("product.title"),
        ));
    }
    let quantity = request["availability"]["shipToLocationAvailability"]["quantity"].as_i64();
    if quantity.is_some_and(|q| q < 0) {
        found.push(error(
            25004,
            "REQUEST",
            "Invalid quantity. The quantity cannot be negative.",
            field("availability.shipToLocationAvailability.quantity"),
        ));
    }
    let images = request["product"]["imageUrls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for url in images.iter().filter_map(Value::as_str) {
        if let Some(problem) = crate::sandbox::rules::media_issue(url) {
            found.push(error(
                25015,
                "REQUEST",
                &format!("Invalid picture URL. {}", problem.message),
                field("product.imageUrls"),
            ));
            break;
        }
    }
    found
}

/// What every bulk call passes first: a readable list of at most 25 requests, then
/// the token, the quota and the sandbox's weather. `Ok((requests, user, hang))`.
async fn gate(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    body: &Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(Vec<Value>, String, bool), Response> {
    let list = requests(body)?;
    let (user, hang) = admit(sandbox, headers, Some(list.len())).await?;
    Ok((list, user, hang))
}

fn response(status: u16, extra: Value, errors: Vec<Value>) -> Value {
    let mut response = json!({ "statusCode": status, "errors": errors, "warnings": [] });
    if let (Some(target), Some(fields)) = (response.as_object_mut(), extra.as_object()) {
        for (key, value) in fields {
            target.insert(key.clone(), value.clone());
        }
    }
    response
}

pub(super) async fn bulk_inventory(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (list, user, hang) = match gate(&sandbox, &headers, &body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    if headers.get("content-language").is_none() {
        return errors(
            StatusCode::BAD_REQUEST,
            25709,
            "REQUEST",
            "Invalid value for header Content-Language.",
        );
    }
    let contract = sandbox.ebay();
    let responses = list
        .iter()
        .map(|request| {
            let sku = request["sku"].as_str().unwrap_or_default().to_owned();
            let locale = request["locale"].clone();
            let problems = inventory_errors(&sku, request);
            if !problems.is_empty() {
                return response(400, json!({ "sku": sku, "locale": locale }), problems);
            }
            let mut state = contract.lock();
            let key = (user.clone(), sku.clone());
            let created = !state.inventory.contains_key(&key);
            state.inventory.insert(
                key,
                InventoryItem {
                    product: request["product"].clone(),
                    quantity: request["availability"]["shipToLocationAvailability"]["quantity"]
                        .as_i64()
                        .unwrap_or(0),
                },
            );
            response(
                if created { 201 } else { 200 },
                json!({ "sku": sku, "locale": locale }),
                Vec::new(),
            )
        })
        .collect();
    crate::sandbox::answer(hang, bulk_answer(responses)).await
}

fn price_of(value: &Value) -> Option<f64> {
    value["value"].as_str().and_then(|v| v.parse::<f64>().ok())
}

pub(super) async fn bulk_offer(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (list, user, hang) = match gate(&sandbox, &headers, &body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.ebay();
    let responses = list
        .iter()
        .map(|request| {
            let sku = request["sku"].as_str().unwrap_or_default().to_owned();
            let marketplace = request["marketplaceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let format = request["format"].clone();
            let echo = json!({ "sku": sku, "marketplaceId": marketplace, "format": format });
            let mut state = contract.lock();
            if !state.inventory.contains_key(&(user.clone(), sku.clone())) {
                return response(
                    404,
                    echo,
                    vec![error(
                        25702,
                        "REQUEST",
                        "The SKU could not be found. Create its inventory item first.",
                        field("sku"),
                    )],
                );
            }
            let existing = state
                .offers
                .iter()
                .find(|(_, o)| o.user == user && o.sku == sku && o.marketplace_id == marketplace)
                .map(|(id, _)| id.clone());
            if let Some(offer_id) = existing {
                return response(
                    400,
                    echo,
                    vec![error(
                        25002,
                        "REQUEST",
                        "A user error has occurred. Offer entity already exists.",
                        json!([{ "name": "offerId", "value": offer_id }]),
                    )],
                );
            }
            let price = request["pricingSummary"]["price"].clone();
            if price_of(&price).is_none_or(|p| p <= 0.0) {
                return response(
                    400,
                    echo,
                    vec![error(
                        25003,
                        "REQUEST",
                        "Invalid price. The price must be greater than 0.",
                        field("pricingSummary.price"),
                    )],
                );
            }
            state.next += 1;
            let offer_id = format!("{}", 5_000_000_000u64 + state.next);
            state.offers.insert(
                offer_id.clone(),
                Offer {
                    user: user.clone(),
                    sku: sku.clone(),
                    marketplace_id: marketplace.clone(),
                    price,
                    quantity: request["availableQuantity"].as_i64().unwrap_or(0),
                    listing_id: None,
                    published: 0,
                },
            );
            let mut answered = echo;
            answered["offerId"] = json!(offer_id);
            response(200, answered, Vec::new())
        })
        .collect();
    crate::sandbox::answer(hang, bulk_answer(responses)).await
}

/// What publishing finds missing: eBay checks the listing as a whole only here.
fn publish_errors(item: &InventoryItem) -> Vec<Value> {
    let mut found = Vec::new();
    let title = item.product["title"].as_str().unwrap_or_default();
    if title.trim().is_empty() {
        found.push(error(
            25002,
            "REQUEST",
            "A user error has occurred. The item has no title.",
            field("product.title"),
        ));
    }
    let images = item.product["imageUrls"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    if images == 0 {
        found.push(error(
            25014,
            "REQUEST",
            "At least one picture is required to publish.",
            field("product.imageUrls"),
        ));
    }
    found
}

pub(super) async fn bulk_publish(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (list, user, hang) = match gate(&sandbox, &headers, &body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    if sandbox.ebay().publish_fails() {
        return errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            25001,
            "APPLICATION",
            "A system error has occurred.",
        );
    }
    let contract = sandbox.ebay();
    let responses = list
        .iter()
        .map(|request| {
            let offer_id = request["offerId"].as_str().unwrap_or_default().to_owned();
            let echo = json!({ "offerId": offer_id });
            let mut state = contract.lock();
            let Some(offer) = state
                .offers
                .get(&offer_id)
                .filter(|o| o.user == user)
                .cloned()
            else {
                return response(
                    404,
                    echo,
                    vec![error(
                        25713,
                        "REQUEST",
                        "This offer is not available.",
                        field("offerId"),
                    )],
                );
            };
            let Some(item) = state
                .inventory
                .get(&(user.clone(), offer.sku.clone()))
                .cloned()
            else {
                return response(
                    404,
                    echo,
                    vec![error(
                        25702,
                        "REQUEST",
                        "The SKU could not be found.",
                        field("sku"),
                    )],
                );
            };
            let problems = publish_errors(&item);
            if !problems.is_empty() {
                return response(400, echo, problems);
            }
            state.next += 1;
            let fresh = format!("{}", 110_000_000_000u64 + state.next);
            let made = offer.listing_id.is_none();
            let listing_id = offer.listing_id.clone().unwrap_or(fresh);
            if made {
                state.stats.listings += 1;
            }
            if let Some(stored) = state.offers.get_mut(&offer_id) {
                stored.listing_id = Some(listing_id.clone());
                stored.published += 1;
            }
            let mut answered = echo;
            answered["listingId"] = json!(listing_id);
            response(200, answered, Vec::new())
        })
        .collect();
    crate::sandbox::answer(hang, bulk_answer(responses)).await
}

pub(super) async fn bulk_price_quantity(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (list, user, hang) = match gate(&sandbox, &headers, &body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let contract = sandbox.ebay();
    let mut responses = Vec::new();
    for request in &list {
        let sku = request["sku"].as_str().unwrap_or_default().to_owned();
        let quantity = request["shipToLocationAvailability"]["quantity"].as_i64();
        for offer in request["offers"].as_array().cloned().unwrap_or_default() {
            let offer_id = offer["offerId"].as_str().unwrap_or_default().to_owned();
            let echo = json!({ "offerId": offer_id, "sku": sku });
            let mut state = contract.lock();
            let Some(stored) = state.offers.get_mut(&offer_id).filter(|o| o.user == user) else {
                responses.push(response(
                    404,
                    echo,
                    vec![error(
                        25713,
                        "REQUEST",
                        "This offer is not available.",
                        field("offerId"),
                    )],
                ));
                continue;
            };
            let price = offer["price"].clone();
            if !price.is_null() {
                if price_of(&price).is_none_or(|p| p <= 0.0) {
                    responses.push(response(
                        400,
                        echo,
                        vec![error(
                            25003,
                            "REQUEST",
                            "Invalid price. The price must be greater than 0.",
                            field("price"),
                        )],
                    ));
                    continue;
                }
                stored.price = price;
            }
            if let Some(available) = offer["availableQuantity"].as_i64() {
                stored.quantity = available;
            }
            if let (Some(quantity), Some(item)) = (
                quantity,
                state.inventory.get_mut(&(user.clone(), sku.clone())),
            ) {
                item.quantity = quantity;
            }
            responses.push(response(200, echo, Vec::new()));
        }
    }
    crate::sandbox::answer(hang, bulk_answer(responses)).await
}
