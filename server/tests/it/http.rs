//! The HTTP surface through the Router, without a socket: login, 401, 404 across sellers,
//! CSRF refusal, item paging. Every scenario runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use backend::db_test;
use common::*;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

db_test!(
    unauthenticated_api_gets_401_and_pages_redirect_to_login,
    |db| {
        let app = TestApp::new(db).await;

        let api = app.get("/api/v1/items", None).await;
        assert_eq!(api.status, StatusCode::UNAUTHORIZED);
        assert_eq!(api.error_code(), "unauthorized");

        let page = app.get("/", None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.headers[header::LOCATION], "/login");

        let deep = app.get("/items/7?tab=x", None).await;
        assert_eq!(
            deep.headers[header::LOCATION],
            "/login?next=/items/7%3Ftab%3Dx"
        );

        let login_page = app.get("/login", None).await;
        assert_eq!(login_page.status, StatusCode::OK);
        assert!(login_page.body.contains("Sign in"));

        let health = app.get("/healthz", None).await;
        assert_eq!(health.json(), json!({ "status": "ok" }));
    }
);

db_test!(
    login_sets_a_hardened_cookie_and_wrong_credentials_look_alike,
    |db| {
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;

        let wrong_password = app.login("ana@example.com", "not the password").await;
        let unknown = app
            .login("nobody@example.com", "correct horse battery")
            .await;
        assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong_password.body, unknown.body);
        assert_eq!(wrong_password.error_code(), "invalid_credentials");
        assert!(wrong_password.headers.get(header::SET_COOKIE).is_none());

        let ok = app.login("Ana@Example.com", "correct horse battery").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.json()["seller"]["email"], "ana@example.com");
        let set_cookie = ok.headers[header::SET_COOKIE].to_str().unwrap();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(
                set_cookie.contains(attribute),
                "{set_cookie} lacks {attribute}"
            );
        }
        assert!(
            !set_cookie.contains("Secure"),
            "plain http must not set Secure"
        );

        let over_https = Request::post("/api/v1/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-proto", "https")
            .body(Body::from(
                json!({ "email": "ana@example.com", "password": "correct horse battery" })
                    .to_string(),
            ))
            .unwrap();
        let secure = app.send(over_https).await;
        assert!(secure.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure"));
    }
);

db_test!(bad_login_bodies_get_a_clear_400, |db| {
    let app = TestApp::new(db).await;
    let request = Request::post("/api/v1/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "bad_request");
});

db_test!(
    login_rotates_the_session_and_logout_ends_it_server_side,
    |db| {
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let first = app.logged_in("ana@example.com").await;
        assert_eq!(
            app.get("/api/v1/items", Some(&first)).await.status,
            StatusCode::OK
        );

        // Logging in again from the same browser replaces the old session.
        let relogin = app
            .post_json(
                "/api/v1/login",
                Some(&first),
                json!({ "email": "ana@example.com", "password": "correct horse battery" }),
            )
            .await;
        let second = relogin.session_cookie();
        assert_ne!(first, second);
        assert_eq!(
            app.get("/api/v1/items", Some(&first)).await.status,
            StatusCode::UNAUTHORIZED
        );

        let logout = app
            .post_json("/api/v1/logout", Some(&second), json!({}))
            .await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT);
        assert!(logout.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        assert_eq!(
            app.get("/api/v1/items", Some(&second)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

db_test!(
    items_api_pages_searches_and_filters_the_sellers_own_items,
    |db| {
        seller(db, "ana@example.com").await;
        seller(db, "bob@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;

        let page2 = app
            .get(
                "/api/v1/items?page=3&per_page=50&sort=sku&dir=asc",
                Some(&cookie),
            )
            .await
            .json();
        assert_eq!(page2["total"], 120);
        assert_eq!(page2["page"], 3);
        assert_eq!(page2["per_page"], 50);
        assert_eq!(page2["items"].as_array().unwrap().len(), 20);
        assert_eq!(page2["items"][0]["sku"], "SR-0101");

        let search = app
            .get("/api/v1/items?q=sr-011", Some(&cookie))
            .await
            .json();
        assert_eq!(search["total"], 10);

        let published = app
            .get("/api/v1/items?state=published&per_page=200", Some(&cookie))
            .await
            .json();
        assert!(published["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["listing_state"] == "published"));
        assert!(published["total"].as_u64().unwrap() > 0);

        for bad in [
            "state=live",
            "sort=password_hash",
            "dir=up",
            "per_page=0",
            "per_page=201",
            "page=-1",
        ] {
            let reply = app
                .get(&format!("/api/v1/items?{bad}"), Some(&cookie))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{bad}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "bad_request");
        }
    }
);

db_test!(
    another_sellers_item_is_404_in_api_server_functions_and_pages,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        seller(db, "bob@example.com").await;
        let app = TestApp::new(db).await;
        let anas_item = first_item_id(db, ana).await;
        let ana_cookie = app.logged_in("ana@example.com").await;
        let bob_cookie = app.logged_in("bob@example.com").await;

        assert_eq!(
            app.get(&format!("/api/v1/items/{anas_item}"), Some(&ana_cookie))
                .await
                .status,
            StatusCode::OK
        );
        let api = app
            .get(&format!("/api/v1/items/{anas_item}"), Some(&bob_cookie))
            .await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert_eq!(api.error_code(), "not_found");
        // An id that is not one at all is a bad request, as the document says.
        assert_eq!(
            app.get("/api/v1/items/not-a-number", Some(&bob_cookie))
                .await
                .status,
            StatusCode::BAD_REQUEST
        );

        let server_fn = Request::post("/api/get_item")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &bob_cookie)
            .body(Body::from(format!("id={anas_item}")))
            .unwrap();
        let reply = app.send(server_fn).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        let error: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(error["code"], "not_found", "{}", reply.body);

        let page = app
            .get(&format!("/items/{anas_item}"), Some(&bob_cookie))
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(page.body.contains("Item not found"));
        let own_page = app
            .get(&format!("/items/{anas_item}"), Some(&ana_cookie))
            .await;
        assert_eq!(own_page.status, StatusCode::OK);
        assert!(own_page.body.contains("SR-0001") || own_page.body.contains("Save changes"));
    }
);

db_test!(
    cross_site_writes_are_refused_and_same_site_ones_pass,
    |db| {
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;

        let forged = |headers: &[(&str, &str)]| {
            let mut request = Request::post("/api/v1/logout")
                .header(header::HOST, "127.0.0.1:3000")
                .header(header::COOKIE, &cookie);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.body(Body::empty()).unwrap()
        };
        for headers in [
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("origin", "http://evil.example")],
            vec![("origin", "null")],
        ] {
            let reply = app.send(forged(&headers)).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
            assert_eq!(reply.error_code(), "forbidden");
        }
        // The session survived every forged logout.
        assert_eq!(
            app.get("/api/v1/items", Some(&cookie)).await.status,
            StatusCode::OK
        );

        let save = Request::post("/api/save_item")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .header("sec-fetch-site", "cross-site")
            .body(Body::from("id=1&version=1&input[sku]=X"))
            .unwrap();
        assert_eq!(app.send(save).await.status, StatusCode::FORBIDDEN);

        let same_site = app
            .send(forged(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
            ]))
            .await;
        assert_eq!(same_site.status, StatusCode::NO_CONTENT);
    }
);

db_test!(no_state_changes_through_get, |db| {
    seller(db, "ana@example.com").await;
    let app = TestApp::new(db).await;
    let cookie = app.logged_in("ana@example.com").await;
    assert_eq!(
        app.get("/api/v1/logout", Some(&cookie)).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        app.get("/api/v1/items", Some(&cookie)).await.status,
        StatusCode::OK
    );
});

db_test!(login_attempts_are_rate_limited_per_email, |db| {
    seller(db, "ana@example.com").await;
    let app = TestApp::new(db).await;
    let mut last = None;
    for _ in 0..11 {
        last = Some(app.login("ana@example.com", "guessing wrong").await);
    }
    let limited = last.unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "rate_limited");
    assert!(
        limited.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Even the right password waits now.
    assert_eq!(
        app.login("ana@example.com", "correct horse battery")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
});

db_test!(saving_an_item_validates_and_detects_conflicts, |db| {
    let ana = seller(db, "ana@example.com").await;
    let app = TestApp::new(db).await;
    let cookie = app.logged_in("ana@example.com").await;
    let id = first_item_id(db, ana).await;
    let save = |version: i32, price: &str| {
        Request::post("/api/save_item")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body(Body::from(format!(
                "id={id}&version={version}&input[sku]=SR-0001&input[title]=Renamed&input[description]=&input[price]={price}&input[currency]=EUR&input[quantity]=4&input[image_url]=&input[category]=Kitchen"
            )))
            .unwrap()
    };
    let invalid = app.send(save(1, "12%2C50")).await;
    assert_eq!(
        invalid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        invalid.body
    );
    assert!(invalid.body.contains("price"));
    assert_eq!(
        backend::catalog::get(db, ana, id).await.unwrap().version,
        1,
        "nothing saved"
    );

    let saved = app.send(save(1, "12.50")).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let item = backend::catalog::get(db, ana, id).await.unwrap();
    assert_eq!(
        (item.price_minor, item.version, item.title.as_str()),
        (1250, 2, "Renamed")
    );

    let stale = app.send(save(1, "13.00")).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(
        backend::catalog::get(db, ana, id)
            .await
            .unwrap()
            .price_minor,
        1250
    );
});

db_test!(the_sandbox_marketplace_is_mounted_without_a_session, |db| {
    let sandbox = server::sandbox::Sandbox::new(server::sandbox::SandboxSettings::calm());
    let app = TestApp::with_marketplace(db, "http://127.0.0.1:9/unused", Some(sandbox));
    let stats = app.get("/sandbox/marketplace/_stats", None).await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(stats.json()["listings"], 0);
    let put = Request::put("/sandbox/marketplace/listings/shop-1/SR-1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "title": "Mug", "price": { "amount": "5", "currency": "EUR" }, "image_url": "/a.jpg" }).to_string()))
        .unwrap();
    assert_eq!(app.send(put).await.json()["status"], "ACCEPTED");
    // Without a sandbox (MARKETPLACE_URL set), nothing is mounted there.
    let plain = TestApp::new(db).await;
    assert_ne!(
        plain.get("/sandbox/marketplace/_stats", None).await.status,
        StatusCode::OK
    );
});

db_test!(
    tasks_api_starts_a_publish_follows_it_and_controls_it,
    |db| {
        let TwoSellers {
            app,
            sandbox,
            ana_cookie: cookie,
            ana_items: ids,
            bob_cookie: bob,
            ..
        } = two_sellers(db).await;

        // Another seller's items cannot be published.
        let stolen = app
            .post_json(
                "/api/v1/tasks",
                Some(&bob),
                json!({ "kind": "publish", "item_ids": [ids[0]] }),
            )
            .await;
        assert_eq!(stolen.status, StatusCode::NOT_FOUND, "{}", stolen.body);
        let bad_kind = app
            .post_json(
                "/api/v1/tasks",
                Some(&cookie),
                json!({ "kind": "teleport", "item_ids": [ids[0]] }),
            )
            .await;
        assert_eq!(bad_kind.status, StatusCode::UNPROCESSABLE_ENTITY);

        let create = |key: &'static str| {
            Request::post("/api/v1/tasks")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, &cookie)
                .header("idempotency-key", key)
                .body(Body::from(
                    json!({ "kind": "publish", "filter": { "q": "SR-000", "state": "draft" } })
                        .to_string(),
                ))
                .unwrap()
        };
        let created = app.send(create("publish-drafts-1")).await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        let task = created.json();
        assert_eq!(
            (task["kind"].as_str(), task["status"].as_str()),
            (Some("publish"), Some("queued"))
        );
        let total = task["counts"]["total"].as_i64().unwrap();
        assert!(total > 0);
        // The estimate is made at creation (one marketplace call per item, nothing
        // measured yet) and kept; no duration before the end.
        let estimate = task["estimate"].clone();
        assert_eq!(estimate["items"].as_i64(), Some(total), "{estimate}");
        assert_eq!(estimate["calls"].as_i64(), Some(total), "{estimate}");
        assert_eq!(estimate["basis"], "limit", "{estimate}");
        assert_eq!(task["duration_seconds"], serde_json::Value::Null);
        let again = app.send(create("publish-drafts-1")).await;
        assert_eq!(
            (again.status, again.json()["id"].clone()),
            (StatusCode::OK, task["id"].clone()),
            "same key, same task"
        );

        let id = task["id"].as_i64().unwrap();
        assert_eq!(
            app.get(&format!("/api/v1/tasks/{id}"), Some(&bob))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let paused = app
            .post_json(
                &format!("/api/v1/tasks/{id}/pause"),
                Some(&cookie),
                json!({}),
            )
            .await;
        assert_eq!(paused.json()["status"], "paused");
        let resumed = app
            .post_json(
                &format!("/api/v1/tasks/{id}/resume"),
                Some(&cookie),
                json!({}),
            )
            .await;
        assert_eq!(resumed.json()["status"], "queued");

        app.engine.drain().await.unwrap();
        let done = app
            .get(&format!("/api/v1/tasks/{id}"), Some(&cookie))
            .await
            .json();
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["counts"]["succeeded"].as_i64(), Some(total));
        assert_eq!(
            done["estimate"], estimate,
            "the estimate at the start is kept"
        );
        assert!(done["duration_seconds"].as_f64().is_some(), "{done}");
        assert_eq!(sandbox.stats().0.listings as i64, total);

        let items = app
            .get(
                &format!("/api/v1/tasks/{id}/items?status=succeeded"),
                Some(&cookie),
            )
            .await
            .json();
        assert_eq!(items["total"].as_i64(), Some(total));
        assert!(items["items"][0]["sku"]
            .as_str()
            .unwrap()
            .starts_with("SR-000"));
        let listed = app
            .get("/api/v1/tasks?status=succeeded", Some(&cookie))
            .await
            .json();
        assert_eq!(listed["total"], 1);
        assert_eq!(
            app.get("/api/v1/tasks", Some(&bob)).await.json()["total"],
            0
        );

        let conflict = app
            .post_json(
                &format!("/api/v1/tasks/{id}/cancel"),
                Some(&cookie),
                json!({}),
            )
            .await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.error_code(), "conflict");
        assert_eq!(
            conflict.error_message(),
            "This task has finished: there is nothing left to cancel."
        );
        // Every control the finished task refuses says so in one specific sentence.
        for control in backend::tasks::Control::ALL {
            let answer = app
                .post_json(
                    &format!("/api/v1/tasks/{id}/{}", control.path()),
                    Some(&cookie),
                    json!({}),
                )
                .await;
            match control.refusal(backend::tasks::TaskStatus::Succeeded) {
                Some(refusal) => {
                    assert_eq!(answer.status, StatusCode::CONFLICT, "{control}");
                    assert_eq!(answer.error_message(), refusal);
                }
                None => assert_eq!(answer.status, StatusCode::OK, "{control}"),
            }
        }
    }
);

/// The routes the API promises scripts (docs/architecture.md), and the import check the UI uses.
const DESIGNED: [(&str, &str); 34] = [
    ("post", "/api/v1/imports/check"),
    ("post", "/api/v1/imports/check/left-out.csv"),
    ("post", "/api/v1/tasks/preview"),
    ("post", "/api/v1/tasks/{id}/undo"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/read"),
    ("post", "/api/v1/login"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/items"),
    ("get", "/api/v1/items/{id}"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/imports/template.csv"),
    ("get", "/api/v1/imports/sample.csv"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("get", "/api/v1/tasks/{id}/items"),
    ("get", "/api/v1/tasks/{id}/failures"),
    ("post", "/api/v1/tasks/{id}/pause"),
    ("post", "/api/v1/tasks/{id}/resume"),
    ("post", "/api/v1/tasks/{id}/cancel"),
    ("post", "/api/v1/tasks/{id}/retry"),
    ("post", "/api/v1/tasks/{id}/skip"),
    ("post", "/api/v1/tasks/{id}/start-now"),
    ("get", "/api/v1/tasks/{id}/report.csv"),
    ("get", "/api/v1/tasks/{id}/export.csv"),
    ("get", "/healthz"),
    ("get", "/api/v1/connections"),
    ("post", "/api/v1/connections"),
    ("post", "/api/v1/connections/{id}/test"),
    ("delete", "/api/v1/connections/{id}"),
    ("get", "/api/v1/items?per_page=1"),
    ("get", "/api/v1/tasks?page=1"),
];

fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner.as_str()) {
                    ("$ref", Some(target)) => out.push(target.to_owned()),
                    _ => refs(inner, out),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

db_test!(
    the_openapi_document_lists_every_route_and_every_listed_route_answers,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;
        let doc = app.get("/api/v1/openapi.json", None).await;
        assert_eq!(doc.status, StatusCode::OK);
        let doc = doc.json();
        assert_eq!(doc["info"]["title"], "Stockroom API");
        let paths = doc["paths"].as_object().unwrap();

        // Every route the API promises is documented…
        for (method, path) in DESIGNED {
            let path = path.split('?').next().unwrap();
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is not in the document"
            );
        }
        // …every documented operation is served by the router (not the unknown-route
        // answer, not 405)…
        let item = first_item_id(db, ana).await;
        let mut operations = 0;
        for (path, methods) in paths {
            for method in methods.as_object().unwrap().keys() {
                operations += 1;
                let uri = path.replace("{id}", &item.to_string());
                let request = http::Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .header(header::COOKIE, &cookie)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap();
                if path == "/api/v1/events" {
                    // An endless stream: the status is the answer.
                    let response = app.router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    continue;
                }
                let reply = app.send(request).await;
                assert_ne!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri}"
                );
                if reply.status == StatusCode::NOT_FOUND {
                    assert_ne!(reply.error_code(), "route_not_found", "{method} {uri}");
                }
            }
        }
        assert_eq!(operations, 34, "one operation per designed route");
        // …and every schema the document points at is in it.
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for target in found {
            let name = target.trim_start_matches("#/components/schemas/");
            assert!(
                schemas.contains_key(name),
                "{target} is referenced but missing"
            );
        }
        // An unknown API path is a JSON 404 with its own code (logged in again: the
        // loop above went through /logout).
        let cookie = app.logged_in("ana@example.com").await;
        let unknown = app.get("/api/v1/nothing-here", Some(&cookie)).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.error_code(), "route_not_found");
    }
);

db_test!(
    failures_are_grouped_by_reason_and_a_group_is_retried_alone,
    |db| {
        let TwoSellers {
            app,
            ana_cookie: cookie,
            ana_items: ids,
            bob_cookie: bob,
            ..
        } = two_sellers(db).await;
        let created = app
            .post_json(
                "/api/v1/tasks",
                Some(&cookie),
                json!({ "kind": "publish", "item_ids": ids }),
            )
            .await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        let mut task = Value::Null;
        for _ in 0..200 {
            app.engine.drain().await.unwrap();
            task = app
                .get(&format!("/api/v1/tasks/{id}"), Some(&cookie))
                .await
                .json();
            if task["status"] == "completed_with_errors" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(task["status"], "completed_with_errors", "{task}");

        // The demo catalog lacks a picture on every 23rd item and has a zero price on the 97th.
        let reply = app
            .get(&format!("/api/v1/tasks/{id}/failures"), Some(&cookie))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let groups = reply.json();
        let shape: Vec<(String, i64, String, usize)> = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["code"].as_str().unwrap().to_owned(),
                    g["count"].as_i64().unwrap(),
                    g["remedy"].as_str().unwrap().to_owned(),
                    g["examples"].as_array().unwrap().len(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("image_missing".to_owned(), 5, "fix".to_owned(), 3),
                ("price_not_positive".to_owned(), 1, "fix".to_owned(), 1),
            ]
        );
        assert_eq!(groups[0]["title"], "Missing image");
        assert_eq!(groups[0]["examples"][0]["sku"], "SR-0023");
        assert_eq!(
            groups[0]["examples"][0]["error"]["code"], "image_missing",
            "{groups}"
        );

        // Items: one group, a SKU search, and both together.
        let page = |query: &'static str| {
            let app = &app;
            let cookie = cookie.clone();
            async move {
                let reply = app
                    .get(&format!("/api/v1/tasks/{id}/items?{query}"), Some(&cookie))
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                reply.json()
            }
        };
        assert_eq!(page("error_code=image_missing").await["total"], 5);
        let found = page("q=sr-0046").await;
        assert_eq!(
            (found["total"].as_i64(), found["items"][0]["sku"].as_str()),
            (Some(1), Some("SR-0046"))
        );
        assert_eq!(
            page("q=SR-00&status=failed").await["total"],
            5,
            "SR-0023 … SR-0097"
        );
        assert_eq!(page("q=100%25").await["total"], 0, "% is literal");

        // Retrying one group moves only it, and re-opens the task.
        let retried = app
            .post_json(
                &format!("/api/v1/tasks/{id}/retry"),
                Some(&cookie),
                json!({ "error_code": "price_not_positive" }),
            )
            .await;
        assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
        let retried = retried.json();
        assert_eq!(
            (
                retried["status"].as_str(),
                retried["counts"]["failed"].as_i64()
            ),
            (Some("running"), Some(5))
        );

        // Another seller sees nothing of it.
        let theirs = app
            .get(&format!("/api/v1/tasks/{id}/failures"), Some(&bob))
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        let theirs = app
            .get(
                &format!("/api/v1/tasks/{id}/items?error_code=image_missing"),
                Some(&bob),
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    }
);

db_test!(
    code_and_api_answers_are_compressed_but_pages_and_the_stream_are_not,
    |db| {
        use std::io::Read;
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;
        let get = |path: &'static str, encoding: &'static str| {
            Request::get(path)
                .header(header::ACCEPT_ENCODING, encoding)
                .header(header::COOKIE, cookie.as_str())
                .body(Body::empty())
                .unwrap()
        };

        // A large JSON answer comes gzipped when the client asks for it, and decodes to
        // the same document.
        let plain = app.get("/api/v1/openapi.json", None).await;
        let response = app
            .router
            .clone()
            .oneshot(get("/api/v1/openapi.json", "gzip"))
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(bytes.len() < plain.body.len() / 3, "{} bytes", bytes.len());
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain.body);

        // Brotli too; and nothing is compressed for a client that does not ask.
        let br = app.send(get("/api/v1/openapi.json", "br")).await;
        assert_eq!(br.headers[header::CONTENT_ENCODING], "br");
        assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());

        // A page streams as it renders: not held back by a compressor.
        let page = app.send(get("/tasks", "gzip, br")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.headers.get(header::CONTENT_ENCODING).is_none());
        assert!(page.body.contains("</html>"));

        // Nor is the event stream (read the headers only: it does not end).
        let events = app
            .router
            .clone()
            .oneshot(get("/api/v1/events", "gzip, br"))
            .await
            .unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        assert!(events.headers().get(header::CONTENT_ENCODING).is_none());
    }
);

db_test!(
    site_files_are_revalidated_before_reuse_and_sent_compressed,
    |db| {
        let site = TestSite::new();
        let code = "export function hydrate() { /* the app */ }\n".repeat(200);
        site.write("stockroom.js", &code);
        let router = TestApp::with_site(db, &site).router;
        let get = |encoding: &'static str| {
            Request::get("/pkg/stockroom.js")
                .header(header::ACCEPT_ENCODING, encoding)
                .body(Body::empty())
                .unwrap()
        };

        let plain = router.clone().oneshot(get("identity")).await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
        let last_modified = plain.headers()[header::LAST_MODIFIED].clone();
        let body = http_body_util::BodyExt::collect(plain.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, code.as_bytes());

        // Unchanged since the browser last saw it: 304, nothing sent again.
        let again = router
            .clone()
            .oneshot(
                Request::get("/pkg/stockroom.js")
                    .header(header::IF_MODIFIED_SINCE, last_modified)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

        let gzipped = router.clone().oneshot(get("gzip")).await.unwrap();
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gzipped.headers()[header::CACHE_CONTROL], "no-cache");

        // Pages are not site files.
        let page = router.clone().oneshot(get_page("/login")).await.unwrap();
        assert_ne!(
            page.headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.as_bytes()),
            Some(&b"no-cache"[..])
        );
    }
);

fn get_page(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// Every kind this build runs is one the browser can name: its words are the product's
/// vocabulary, and every end of every kind says something specific.
#[tokio::test]
async fn every_registered_kind_has_its_presentation() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let registry =
        server::workers::kinds(&db, backend::testing::fast_connector("http://127.0.0.1:9"))
            .register(backend::tasks::noop::Noop::new());
    let names = registry.names();
    assert_eq!(
        names,
        [
            "delete",
            "edit",
            "export",
            "import",
            "noop",
            "publish",
            "undo",
            "unpublish",
            "update_listings"
        ]
    );
    for kind in registry.presentations() {
        let known = task_model::Presentation::find(kind.name).unwrap();
        assert!(std::ptr::eq(known, kind), "{} is declared twice", kind.name);
        assert_eq!(
            known.doing_line(&known.label(2)),
            format!("{} 2 {}", known.doing, known.unit.1)
        );
        for status in task_model::TaskStatus::ALL {
            let counts = task_model::TaskCounts {
                total: 4,
                succeeded: 2,
                failed: 1,
                cancelled: 1,
                ..Default::default()
            };
            let said = task_model::words::finished(kind, "Label", status, &counts);
            assert_eq!(
                said.is_some(),
                status.is_terminal(),
                "{} {status}",
                kind.name
            );
        }
    }
}
