//! The sandbox marketplace's contract, through its router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::sandbox::{Sandbox, SandboxSettings};
use std::time::Duration;
use tower::ServiceExt;

async fn call(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let response = sandbox
        .router()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn listing(price: &str, image: Option<&str>) -> Value {
    json!({ "title": "Blue mug", "description": "", "price": { "amount": price, "currency": "EUR" }, "quantity": 3, "image_url": image, "category": "Kitchen" })
}

#[tokio::test]
async fn a_valid_listing_is_accepted_and_counted() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let (status, _, body) = call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-1",
        None,
        Some(listing("12.50", Some("https://img.example.com/a.jpg"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ACCEPTED");
    assert_eq!(body["listing_id"], "MKT-shop-1-SR-1");
    let (_, _, stats) = call(&sandbox, "GET", "/_stats", None, None).await;
    assert_eq!(
        (
            stats["listings"].as_u64(),
            stats["create_requests"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(stats["accounts"]["shop-1"]["listings"], 1);
}

#[tokio::test]
async fn the_same_idempotency_key_gets_the_first_answer_and_no_second_listing() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let body = Some(listing("12.50", Some("https://img.example.com/a.jpg")));
    let first = call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-1",
        Some("task-1-item-1"),
        body.clone(),
    )
    .await;
    let again = call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-1",
        Some("task-1-item-1"),
        body,
    )
    .await;
    assert_eq!(first.2, again.2, "the stored first response");
    let (_, _, stats) = call(&sandbox, "GET", "/_stats", None, None).await;
    assert_eq!(
        (
            stats["listings"].as_u64(),
            stats["create_requests"].as_u64(),
            stats["idempotent_replays"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
}

#[tokio::test]
async fn invalid_listings_get_issues_with_codes_and_attributes() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let (status, _, body) = call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-2",
        None,
        Some(listing("0.00", None)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "INVALID");
    let codes: Vec<&str> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["price_not_positive", "image_missing"]);
    assert_eq!(body["issues"][0]["attribute_names"], json!(["price"]));
    let (status, _, _) = call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-3",
        None,
        Some(json!({ "title": 1 })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn over_the_limit_answers_429_with_retry_after_per_account() {
    let sandbox = Sandbox::new(SandboxSettings {
        rate_limit: 1,
        burst: 2,
        ..SandboxSettings::calm()
    });
    let body = Some(listing("5", Some("https://img.example.com/a.jpg")));
    for sku in ["A", "B"] {
        assert_eq!(
            call(
                &sandbox,
                "PUT",
                &format!("/listings/shop-1/{sku}"),
                None,
                body.clone()
            )
            .await
            .0,
            StatusCode::OK
        );
    }
    let (status, headers, _) =
        call(&sandbox, "PUT", "/listings/shop-1/C", None, body.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        call(&sandbox, "PUT", "/listings/shop-2/C", None, body)
            .await
            .0,
        StatusCode::OK,
        "another account has its own quota"
    );
    let (_, _, stats) = call(&sandbox, "GET", "/_stats", None, None).await;
    assert_eq!(stats["rate_limited"], 1);
}

#[tokio::test]
async fn delete_unpublishes_once() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    call(
        &sandbox,
        "PUT",
        "/listings/shop-1/SR-1",
        None,
        Some(listing("5", Some("/media/demo/1.svg"))),
    )
    .await;
    let (status, _, body) = call(&sandbox, "DELETE", "/listings/shop-1/SR-1", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("DELETED"))
    );
    assert_eq!(
        call(&sandbox, "DELETE", "/listings/shop-1/SR-1", None, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&sandbox, "GET", "/_stats", None, None).await.2["listings"],
        0
    );
}

#[tokio::test]
async fn media_check_reports_broken_images() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let (_, _, ok) = call(
        &sandbox,
        "GET",
        "/media/check?url=https%3A%2F%2Fimg.example.com%2Fa.jpg",
        None,
        None,
    )
    .await;
    assert_eq!(ok["ok"], true);
    let (_, _, broken) = call(
        &sandbox,
        "GET",
        "/media/check?url=https%3A%2F%2Fimg.example.com%2Fbroken.jpg",
        None,
        None,
    )
    .await;
    assert_eq!(
        (broken["ok"].as_bool(), broken["issue"]["code"].as_str()),
        (Some(false), Some("image_unreachable"))
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_503s_and_hangs_in_the_dialled_share() {
    let sandbox = Sandbox::new(SandboxSettings {
        transient_error_rate: 1.0,
        ..SandboxSettings::calm()
    });
    let (mut unavailable, mut hung) = (0, 0);
    for n in 0..40 {
        let path = format!("/listings/shop-1/X{n}");
        let call = call(
            &sandbox,
            "PUT",
            &path,
            None,
            Some(listing("5", Some("/a.jpg"))),
        );
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok((status, _, _)) => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                unavailable += 1;
            }
            Err(_) => hung += 1,
        }
    }
    assert!(
        unavailable > 5 && hung > 5,
        "{unavailable} 503s, {hung} hangs"
    );
    // About half the hung calls were acted on before they hung: the listing exists,
    // the answer never came.
    let listed = sandbox.stats().0.listings;
    assert!(
        listed > 0 && listed < hung,
        "{listed} listed of {hung} hung"
    );
    let calm = Sandbox::new(SandboxSettings::calm());
    assert_eq!(
        call(
            &calm,
            "PUT",
            "/listings/shop-1/Y",
            None,
            Some(listing("5", Some("/a.jpg")))
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_outage_answers_503_to_every_call_until_switched_off() {
    let sandbox = Sandbox::new(SandboxSettings::calm());
    let put = |sku: &'static str| {
        let sandbox = sandbox.clone();
        async move {
            call(
                &sandbox,
                "PUT",
                &format!("/listings/shop-1/{sku}"),
                None,
                Some(listing("12.50", Some("https://img.example.com/a.jpg"))),
            )
            .await
            .0
        }
    };
    let (status, _, body) = call(
        &sandbox,
        "PUT",
        "/_outage",
        None,
        Some(json!({ "on": true })),
    )
    .await;
    assert_eq!(
        (status, body["outage"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(put("SR-1").await, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = call(
        &sandbox,
        "GET",
        "/media/check?url=https://img.example.com/a.jpg&account=shop-1",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        sandbox.stats().0.listings,
        0,
        "nothing listed during the outage"
    );

    call(
        &sandbox,
        "PUT",
        "/_outage",
        None,
        Some(json!({ "on": false })),
    )
    .await;
    assert_eq!(put("SR-1").await, StatusCode::OK);
    assert_eq!(sandbox.stats().0.listings, 1);
    // A body that is not the switch is refused.
    let (status, _, _) = call(
        &sandbox,
        "PUT",
        "/_outage",
        None,
        Some(json!({ "on": "yes" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
