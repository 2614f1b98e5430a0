//! Marketplace connections through the HTTP API, on SQLite and PostgreSQL: credentials go
//! in once, are stored sealed, and never come back out (not in an answer, not in the
//! table in the clear); bad input is refused field by field; "Test connection" reaches
//! the marketplace and remembers what it found; one seller never sees another's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use backend::db_test;
use common::*;
use http::{header, Request, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

const SECRET: &str = "Atzr|IwEBIA-very-secret-refresh-token";
const CLIENT_SECRET: &str = "amzn1.oa2-cs.v1.client-secret-value";

fn amazon(name: &str, base: &str) -> Value {
    json!({
        "marketplace": "amazon",
        "name": name,
        "account": "A2EUQ1WTGCTBG2",
        "credentials": {
            "client_id": "amzn1.application-oa2-client.abc",
            "client_secret": CLIENT_SECRET,
            "refresh_token": SECRET,
        },
        // Under this server's sandbox, where no Amazon answers: the test reports that.
        "base_url": format!("{base}/no-amazon-here"),
    })
}

async fn delete(s: &TwoSellers, path: &str, cookie: &str) -> Reply {
    s.app
        .send(
            Request::delete(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
}

fn assert_no_secret(text: &str) {
    assert!(
        !text.contains(SECRET) && !text.contains(CLIENT_SECRET) && !text.contains("very-secret"),
        "a credential came back: {text}"
    );
}

db_test!(credentials_go_in_sealed_and_never_come_back_out, |db| {
    let s = two_sellers(db).await;
    let created = s
        .app
        .post_json(
            "/api/v1/connections",
            Some(&s.ana_cookie),
            amazon("Amazon US", &s.url),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_no_secret(&created.body);
    let connection = created.json();
    assert_eq!(connection["marketplace"], "amazon");
    assert_eq!(connection["marketplace_id"], "ATVPDKIKX0DER");
    assert_eq!(
        connection["credentials_set"],
        json!(["client_id", "client_secret", "refresh_token"])
    );
    assert_eq!(connection["last_test"], Value::Null);

    let listed = s.app.get("/api/v1/connections", Some(&s.ana_cookie)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_no_secret(&listed.body);
    assert_eq!(listed.json()["connections"].as_array().unwrap().len(), 1);

    // At rest: sealed, bound to the key that sealed it.
    let rows = backend::entities::connection::Entity::find()
        .all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed = rows[0].credentials.clone().unwrap();
    assert_no_secret(&sealed);
    assert_eq!(rows[0].key_id.as_deref(), Some(test_secret_key().id()));
    // …and they open, on the server, for a connector.
    let opened = backend::connections::open(
        db,
        Some(&test_secret_key()),
        s.ana,
        connection["id"].as_i64().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(opened.credentials.get("refresh_token"), Some(SECRET));
    assert_no_secret(&format!("{opened:?}"));

    // A start-up with another key, or none, is refused; with this one it goes ahead.
    assert!(backend::connections::check_key(db, None).await.is_err());
    let other = backend::secrets::SecretKey::parse(&"11".repeat(32)).unwrap();
    assert!(backend::connections::check_key(db, Some(&other))
        .await
        .is_err());
    backend::connections::check_key(db, Some(&test_secret_key()))
        .await
        .unwrap();
    // Rotation re-seals all of them, and running it again changes nothing.
    assert_eq!(
        backend::connections::rotate(db, &test_secret_key(), &other)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        backend::connections::rotate(db, &test_secret_key(), &other)
            .await
            .unwrap(),
        0
    );
    backend::connections::check_key(db, Some(&other))
        .await
        .unwrap();
    let reopened =
        backend::connections::open(db, Some(&other), s.ana, connection["id"].as_i64().unwrap())
            .await
            .unwrap();
    assert_eq!(
        reopened.credentials.get("client_secret"),
        Some(CLIENT_SECRET)
    );
});

db_test!(bad_connections_are_refused_field_by_field, |db| {
    let s = two_sellers(db).await;
    let refused = |body: Value| {
        let app = &s.app;
        let cookie = s.ana_cookie.clone();
        async move {
            let reply = app
                .post_json("/api/v1/connections", Some(&cookie), body)
                .await;
            assert_no_secret(&reply.body);
            let json = reply.json();
            (
                reply.status,
                json["error"]["fields"][0]["field"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                json["error"]["fields"][0]["code"]
                    .as_str()
                    .unwrap_or_else(|| json["error"]["code"].as_str().unwrap_or_default())
                    .to_owned(),
            )
        }
    };
    let mut body = amazon("x", &s.url);
    body["marketplace"] = json!("etsy");
    assert_eq!(
        refused(body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "marketplace".into(),
            "unknown_marketplace".into()
        )
    );
    let mut body = amazon("x", &s.url);
    body["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("refresh_token");
    assert_eq!(
        refused(body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "credentials.refresh_token".into(),
            "required".into()
        )
    );
    let mut body = amazon("x", &s.url);
    body["credentials"]["password"] = json!("hunter2");
    assert_eq!(
        refused(body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "credentials.password".into(),
            "unknown".into()
        )
    );
    let mut body = amazon("x", &s.url);
    body["base_url"] = json!("file:///etc/passwd");
    assert_eq!(refused(body).await.1, "base_url");
    // Credentials go to the marketplace's own hosts or this server's sandbox only.
    for elsewhere in [
        "http://169.254.169.254/latest",
        "https://sellingpartnerapi-na.amazon.com.example.net",
        "https://user:pw@sellingpartnerapi-na.amazon.com",
    ] {
        let mut body = amazon("x", &s.url);
        body["base_url"] = json!(elsewhere);
        assert_eq!(refused(body).await.1, "base_url", "{elsewhere}");
    }
    let mut body = amazon("EU", &s.url);
    body["base_url"] = json!("https://sellingpartnerapi-eu.amazon.com");
    let eu = s
        .app
        .post_json("/api/v1/connections", Some(&s.ana_cookie), body)
        .await;
    assert_eq!(eu.status, StatusCode::CREATED, "{}", eu.body);
    let mut body = amazon("x", &s.url);
    body["account"] = json!("");
    assert_eq!(refused(body).await.1, "account");
    // A secret of the wrong type is not quoted back.
    let mut body = amazon("x", &s.url);
    body["credentials"]["client_secret"] = json!({"nested": SECRET});
    assert_eq!(
        refused(body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "credentials.client_secret".into(),
            "invalid".into()
        )
    );
    // Names are the seller's own and unique.
    let first = s
        .app
        .post_json(
            "/api/v1/connections",
            Some(&s.ana_cookie),
            amazon("Shop", &s.url),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(
        refused(amazon("Shop", &s.url)).await,
        (StatusCode::CONFLICT, String::new(), "name_taken".into())
    );
    let bobs = s
        .app
        .post_json(
            "/api/v1/connections",
            Some(&s.bob_cookie),
            amazon("Shop", &s.url),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{}", bobs.body);
    // Nothing refused was kept.
    let listed = s.app.get("/api/v1/connections", Some(&s.ana_cookie)).await;
    assert_eq!(listed.json()["connections"].as_array().unwrap().len(), 2);
    // Not logged in: nothing.
    let anonymous = s.app.get("/api/v1/connections", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
});

db_test!(
    test_connection_reaches_the_marketplace_and_remembers,
    |db| {
        let s = two_sellers(db).await;
        let created = s
            .app
            .post_json(
                "/api/v1/connections",
                Some(&s.ana_cookie),
                json!({"marketplace": "sandbox", "account": "shop-1", "base_url": s.url}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        assert_eq!(created.json()["name"], "Sandbox marketplace");
        assert_eq!(created.json()["credentials_set"], json!([]));
        let tested = s
            .app
            .post_json(
                &format!("/api/v1/connections/{id}/test"),
                Some(&s.ana_cookie),
                json!({}),
            )
            .await;
        assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
        let test = &tested.json()["last_test"];
        assert_eq!(test["ok"], true, "{test}");
        assert!(
            test["message"].as_str().unwrap().contains("shop-1"),
            "{test}"
        );

        // A marketplace that cannot be reached is an answer, remembered, with no secret in it.
        let amazon = s
            .app
            .post_json(
                "/api/v1/connections",
                Some(&s.ana_cookie),
                amazon("Amazon", &s.url),
            )
            .await
            .json();
        let amazon_id = amazon["id"].as_i64().unwrap();
        let tested = s
            .app
            .post_json(
                &format!("/api/v1/connections/{amazon_id}/test"),
                Some(&s.ana_cookie),
                json!({}),
            )
            .await;
        assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
        assert_no_secret(&tested.body);
        assert_eq!(tested.json()["last_test"]["ok"], false);
        let listed = s
            .app
            .get("/api/v1/connections", Some(&s.ana_cookie))
            .await
            .json();
        assert_eq!(listed["connections"][1]["last_test"]["ok"], false);

        // Another seller can neither test nor remove it.
        let theirs = s
            .app
            .post_json(
                &format!("/api/v1/connections/{id}/test"),
                Some(&s.bob_cookie),
                json!({}),
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        let theirs = delete(&s, &format!("/api/v1/connections/{id}"), &s.bob_cookie).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert_eq!(
            s.app
                .get("/api/v1/connections", Some(&s.bob_cookie))
                .await
                .json()["connections"],
            json!([])
        );
        // The owner removes it.
        let removed = delete(&s, &format!("/api/v1/connections/{id}"), &s.ana_cookie).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let gone = delete(&s, &format!("/api/v1/connections/{id}"), &s.ana_cookie).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
);

db_test!(test_connection_signs_in_to_amazon_and_reads, |db| {
    let s = two_sellers(db).await;
    let mut body = amazon("Amazon sandbox", &s.url);
    body["base_url"] = json!(format!("{}/amazon", s.url));
    let created = s
        .app
        .post_json("/api/v1/connections", Some(&s.ana_cookie), body.clone())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();
    let tested = s
        .app
        .post_json(
            &format!("/api/v1/connections/{id}/test"),
            Some(&s.ana_cookie),
            json!({}),
        )
        .await;
    let test = tested.json()["last_test"].clone();
    assert_eq!(test["ok"], true, "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("A2EUQ1WTGCTBG2"),
        "{test}"
    );
    assert_eq!(s.sandbox.amazon().stats().tokens_issued, 1);
    // A revoked refresh token: the marketplace's own words, and no secret.
    body["name"] = json!("Revoked");
    body["credentials"]["refresh_token"] = json!("Atzr|revoked-very-secret");
    let revoked = s
        .app
        .post_json("/api/v1/connections", Some(&s.ana_cookie), body)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let tested = s
        .app
        .post_json(
            &format!("/api/v1/connections/{revoked}/test"),
            Some(&s.ana_cookie),
            json!({}),
        )
        .await;
    assert_no_secret(&tested.body);
    let test = tested.json()["last_test"].clone();
    assert_eq!(test["ok"], false, "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("invalid_grant"),
        "{test}"
    );
});
