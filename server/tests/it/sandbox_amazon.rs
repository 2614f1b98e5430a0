//! The sandbox's Amazon contract (Login with Amazon, SP-API Listings Items 2021-08-01),
//! through its router: the documented shapes, the asynchronous processing after
//! ACCEPTED, issues at submission and after processing, the per-seller rate limit with
//! Amazon's headers, and expired or revoked tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::sandbox::amazon::AmazonTiming;
use server::sandbox::{Sandbox, SandboxSettings};
use tower::ServiceExt;

const ITEM: &str = "/amazon/listings/2021-08-01/items/A2EUQ1WTGCTBG2";

async fn send(sandbox: &Sandbox, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = sandbox.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn token(sandbox: &Sandbox, refresh: &str) -> (StatusCode, Value) {
    let form = format!(
        "grant_type=refresh_token&refresh_token={}&client_id=amzn1.application-oa2-client.abc&client_secret=s3cret",
        refresh.replace('|', "%7C")
    );
    let (status, _, body) = send(
        sandbox,
        Request::post("/amazon/auth/o2/token")
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(Body::from(form))
            .unwrap(),
    )
    .await;
    (status, body)
}

async fn call(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("x-amz-access-token", token)
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    send(sandbox, request).await
}

fn listing(name: &str, price: f64, image: Option<&str>) -> Value {
    let mut attributes = json!({
        "condition_type": [{"value": "new_new", "marketplace_id": "ATVPDKIKX0DER"}],
        "item_name": [{"value": name, "language_tag": "en_US", "marketplace_id": "ATVPDKIKX0DER"}],
        "purchasable_offer": [{"marketplace_id": "ATVPDKIKX0DER", "currency": "USD",
            "our_price": [{"schedule": [{"value_with_tax": price}]}]}],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
    });
    if let Some(url) = image {
        attributes["main_product_image_locator"] =
            json!([{"media_location": url, "marketplace_id": "ATVPDKIKX0DER"}]);
    }
    json!({"productType": "PRODUCT", "requirements": "LISTING", "attributes": attributes})
}

fn quick(sandbox: &Sandbox, processing_ms: u64) {
    sandbox.amazon().set_timing(AmazonTiming {
        processing_ms,
        token_seconds: 3600,
    });
}

#[tokio::test]
async fn an_accepted_listing_is_processed_before_it_is_buyable() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    quick(&sandbox, 300);
    let (status, body) = token(&sandbox, "Atzr|good").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("Atza|"));

    let path = format!("{ITEM}/SR-1?marketplaceIds=ATVPDKIKX0DER");
    let (status, headers, body) = call(
        &sandbox,
        "PUT",
        &path,
        &access,
        Some(listing(
            "Blue mug",
            12.5,
            Some("https://img.example.com/a.jpg"),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ACCEPTED");
    assert_eq!(body["sku"], "SR-1");
    assert!(body["submissionId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(headers.contains_key("x-amzn-requestid"));
    assert_eq!(headers["x-amzn-ratelimit-limit"], "10000.0");
    // Accepted is not listed: while processing, the new SKU is not there yet.
    assert_eq!(sandbox.amazon().stats().pending_processing, 1);
    let (status, _, body) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["errors"][0]["code"], "NOT_FOUND");
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let (status, _, body) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["summaries"][0]["status"],
        json!(["BUYABLE", "DISCOVERABLE"])
    );
    assert_eq!(body["summaries"][0]["itemName"], "Blue mug");
    assert_eq!(body["issues"], json!([]));
    // The same SKU again is an update of the one listing.
    call(
        &sandbox,
        "PUT",
        &path,
        &access,
        Some(listing(
            "Blue mug",
            13.0,
            Some("https://img.example.com/a.jpg"),
        )),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let stats = sandbox.amazon().stats();
    assert_eq!((stats.listings, stats.pending_processing), (1, 0));
    // Deleted: gone.
    let (status, _, body) = call(&sandbox, "DELETE", &path, &access, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ACCEPTED"))
    );
    let (status, _, _) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn issues_come_at_submission_or_after_processing_with_their_attributes() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    quick(&sandbox, 0);
    let access = token(&sandbox, "Atzr|good").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Refused at once: no name, no price.
    let (status, _, body) = call(
        &sandbox,
        "PUT",
        &format!("{ITEM}/SR-2?marketplaceIds=ATVPDKIKX0DER"),
        &access,
        Some(listing("", 0.0, None)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "INVALID");
    let issues = body["issues"].as_array().unwrap();
    assert_eq!(issues[0]["code"], "90220");
    assert_eq!(issues[0]["attributeNames"], json!(["item_name"]));
    assert_eq!(issues[0]["severity"], "ERROR");
    assert_eq!(issues[1]["attributeNames"], json!(["purchasable_offer"]));
    // Accepted, then found wanting: no main image.
    let path = format!("{ITEM}/SR-3?marketplaceIds=ATVPDKIKX0DER");
    let (_, _, body) = call(
        &sandbox,
        "PUT",
        &path,
        &access,
        Some(listing("Plate", 9.0, None)),
    )
    .await;
    assert_eq!(body["status"], "ACCEPTED");
    let (status, _, body) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["summaries"][0]["status"], json!([]));
    assert_eq!(body["issues"][0]["categories"], json!(["MISSING_IMAGE"]));
    assert_eq!(
        body["issues"][0]["attributeNames"],
        json!(["main_product_image_locator"])
    );
    // A patch that adds the image makes it buyable.
    let patch = json!({"productType": "PRODUCT", "patches": [{"op": "replace",
        "path": "/attributes/main_product_image_locator",
        "value": [{"media_location": "https://img.example.com/p.jpg", "marketplace_id": "ATVPDKIKX0DER"}]}]});
    let (_, _, body) = call(&sandbox, "PATCH", &path, &access, Some(patch)).await;
    assert_eq!(body["status"], "ACCEPTED", "{body}");
    let (_, _, body) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(
        body["summaries"][0]["status"],
        json!(["BUYABLE", "DISCOVERABLE"])
    );
    // No marketplace: a 400 in Amazon's error list.
    let (status, headers, body) =
        call(&sandbox, "GET", &format!("{ITEM}/SR-3"), &access, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["code"], "InvalidInput");
    assert!(headers.contains_key("x-amzn-ratelimit-limit"));
}

#[tokio::test]
async fn tokens_are_checked_and_the_rate_limit_answers_429() {
    let sandbox = Sandbox::new(SandboxSettings {
        rate_limit: 5,
        burst: 5,
        ..SandboxSettings::calm()
    });
    let (status, body) = token(&sandbox, "Atzr|revoked-by-seller").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let path = format!("{ITEM}/SR-4?marketplaceIds=ATVPDKIKX0DER");
    let (status, _, body) = call(&sandbox, "GET", &path, "Atza|made-up", None).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Unauthorized"))
    );
    let access = token(&sandbox, "Atzr|good").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Five at once pass (the burst), the sixth is refused with Amazon's quota error.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(call(&sandbox, "GET", &path, &access, None).await.0);
    }
    assert_eq!(&statuses[..5], &[StatusCode::NOT_FOUND; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sandbox.amazon().stats().rate_limited, 1);
    // An expired token is told apart from a bad one.
    sandbox.amazon().expire_tokens();
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let (status, _, body) = call(&sandbox, "GET", &path, &access, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["errors"][0]["details"]
        .as_str()
        .unwrap()
        .contains("expired"));
}
