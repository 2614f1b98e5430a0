//! CSV import through the HTTP API, with the engine doing the rows and the sandbox
//! marketplace on a local port checking images: the sample file, hostile files, limits,
//! the error report and re-importing it, and other sellers. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use backend::db_test;
use common::*;
use http::StatusCode;
use serde_json::Value;

const SAMPLE: &[u8] = include_bytes!("../../../samples/sample-items.csv");

/// Uploads, runs the engine until the task ends, and returns the finished task.
async fn import(app: &TestApp, cookie: &str, name: &str, bytes: &[u8]) -> Value {
    let reply = app.upload(cookie, name, bytes).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.json()["id"].as_i64().unwrap();
    app.engine.drain().await.unwrap();
    let task = app.get(&format!("/api/v1/tasks/{id}"), Some(cookie)).await;
    task.json()
}

/// `(line, sku, code, column)` of every failed row, in file order.
async fn failures(app: &TestApp, cookie: &str, id: i64) -> Vec<(i64, String, String, String)> {
    let page = app
        .get(
            &format!("/api/v1/tasks/{id}/items?status=failed&per_page=200"),
            Some(cookie),
        )
        .await
        .json();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["line"].as_i64().unwrap(),
                item["sku"].as_str().unwrap_or_default().to_owned(),
                item["error"]["code"].as_str().unwrap().to_owned(),
                item["error"]["column"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

async fn task_count(app: &TestApp, cookie: &str) -> i64 {
    let reply = app.get("/api/v1/tasks", Some(cookie)).await;
    reply.json()["total"].as_i64().unwrap()
}

db_test!(
    the_sample_file_imports_with_exact_counts_and_row_errors,
    |db| {
        seller(db, "ana@example.com").await;
        let (sandbox, url) = sandbox_on_a_port().await;
        let app = TestApp::with_marketplace(db, &url, None);
        let cookie = app.logged_in("ana@example.com").await;

        let task = import(&app, &cookie, "sample-items.csv", SAMPLE).await;
        assert_eq!(task["kind"], "import");
        assert_eq!(task["label"], "Import 300 rows from sample-items.csv");
        assert_eq!(task["status"], "completed_with_errors");
        assert_eq!(task["counts"]["total"], 300);
        assert_eq!(task["counts"]["succeeded"], 285);
        assert_eq!(task["counts"]["failed"], 15);

        let id = task["id"].as_i64().unwrap();
        let failed = failures(&app, &cookie, id).await;
        // Lines as in the file (quoted newlines in descriptions make rows span lines).
        let expected: Vec<(i64, &str, &str, &str)> = vec![
            (14, "IMP-0012", "price_invalid", "price"),
            (32, "IMP-0027", "title_required", "title"),
            (47, "IMP-0041", "quantity_negative", "quantity"),
            (67, "IMP-0058", "currency_invalid", "currency"),
            (84, "IMP-0073", "image_unreachable", "image_url"),
            (102, "IMP-0088", "duplicate_sku", "sku"),
            (119, "IMP-0104", "wrong_column_count", ""),
            (137, "IMP-0120", "price_invalid", "price"),
            (155, "IMP 0136", "sku_invalid", "sku"),
            (172, "IMP-0151", "title_too_long", "title"),
            (190, "IMP-0167", "image_url_invalid", "image_url"),
            (208, "IMP-0183", "price_required", "price"),
            (227, "IMP-0199", "quantity_invalid", "quantity"),
            (243, "IMP-0214", "image_unreachable", "image_url"),
            (262, "IMP-0230", "price_negative", "price"),
        ];
        let got: Vec<(i64, &str, &str, &str)> = failed
            .iter()
            .map(|(l, s, c, col)| (*l, s.as_str(), c.as_str(), col.as_str()))
            .collect();
        assert_eq!(got, expected);

        // The rows became catalog items, created once each.
        let items = app
            .get("/api/v1/items?q=IMP-&per_page=1", Some(&cookie))
            .await
            .json();
        assert_eq!(items["total"], 285);
        // The image of every valid row was checked with the marketplace, once.
        let (stats, _) = sandbox.stats();
        assert_eq!(stats.listings, 0, "an import lists nothing");

        // Importing the same file again updates instead of duplicating.
        let again = import(&app, &cookie, "sample-items.csv", SAMPLE).await;
        assert_eq!(again["counts"]["succeeded"], 285);
        let items = app
            .get("/api/v1/items?q=IMP-&per_page=1", Some(&cookie))
            .await
            .json();
        assert_eq!(items["total"], 285);
    }
);

db_test!(
    the_error_report_can_be_fixed_and_uploaded_again_as_is,
    |db| {
        seller(db, "ana@example.com").await;
        let (_sandbox, url) = sandbox_on_a_port().await;
        let app = TestApp::with_marketplace(db, &url, None);
        let cookie = app.logged_in("ana@example.com").await;
        let file = "sku,title,price,quantity\r\n\
                    OK-1,Mug,12.50,3\r\n\
                    BAD-1,=HYPERLINK(\"http://evil.example\"),12,50,9\r\n\
                    BAD-2,Bowl,-4,1\r\n\
                    BAD-3,@Plate,free,2\r\n";
        let task = import(&app, &cookie, "mine.csv", file.as_bytes()).await;
        assert_eq!(task["counts"]["succeeded"], 1);
        assert_eq!(task["counts"]["failed"], 3);
        let id = task["id"].as_i64().unwrap();

        let report = app
            .get(&format!("/api/v1/tasks/{id}/report.csv"), Some(&cookie))
            .await;
        assert_eq!(report.status, StatusCode::OK);
        assert_eq!(
            report.headers[http::header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        assert!(report.headers[http::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(&format!("task-{id}-errors.csv")));
        let text = report.body.trim_start_matches('\u{feff}');
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "sku,title,price,quantity,error_code,error_message"
        );
        assert_eq!(lines.len(), 4, "{text}");
        // Formula-like cells are neutralised; a row with too many cells keeps them all.
        assert!(
            lines[1].starts_with(
                "BAD-1,\"'=HYPERLINK(\"\"http://evil.example\"\")\",12,50,9,wrong_column_count,"
            ),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("BAD-2,Bowl,'-4,1,price_negative,"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("BAD-3,'@Plate,free,2,price_invalid,"),
            "{}",
            lines[3]
        );

        // Uploaded again untouched: the same rows fail the same way.
        let same = import(&app, &cookie, "report.csv", report.body.as_bytes()).await;
        assert_eq!(same["counts"]["total"], 3);
        assert_eq!(same["counts"]["failed"], 3);

        // Fixed in place, error columns left as they are: every row goes in, and the
        // neutralising quote in front of "@Plate" is dropped again.
        let fixed = [
            lines[0].to_owned(),
            "BAD-1,Jug,12.50,50,wrong_column_count,fixed".to_owned(),
            lines[2].replace("'-4", "4.00"),
            lines[3].replace(",free,", ",3.50,"),
        ]
        .join("\r\n");
        let done = import(&app, &cookie, "fixed.csv", fixed.as_bytes()).await;
        assert_eq!(done["counts"]["succeeded"], 3, "{fixed}");
        let plate = app.get("/api/v1/items?q=BAD-3", Some(&cookie)).await.json();
        assert_eq!(plate["items"][0]["title"], "@Plate");
        assert_eq!(plate["items"][0]["price"], "3.50");
    }
);

db_test!(
    hostile_files_fail_clearly_and_leave_nothing_half_done,
    |db| {
        seller(db, "ana@example.com").await;
        let (_sandbox, url) = sandbox_on_a_port().await;
        let app = TestApp::with_imports(
            db,
            &url,
            None,
            app::state::ImportSettings {
                limits: backend::imports::ImportLimits {
                    max_bytes: 10 * 1024 * 1024,
                    max_rows: 1_000,
                },
                check_images: false,
            },
        );
        let cookie = app.logged_in("ana@example.com").await;
        // 11 MB: refused while streaming, no task.
        let mut big = b"sku,title,price\n".to_vec();
        while big.len() < 11 * 1024 * 1024 {
            big.extend_from_slice(b"SKU-000000,A title that takes some room,12.50\n");
        }
        let reply = app.upload(&cookie, "big.csv", &big).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            reply.body
        );
        assert_eq!(reply.error_code(), "file_too_large");
        assert!(reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10 MB"));

        // Too many rows: 413 too.
        let mut many = b"sku,title,price\n".to_vec();
        for n in 0..1_001 {
            many.extend_from_slice(format!("S-{n},T,1\n").as_bytes());
        }
        let reply = app.upload(&cookie, "many.csv", &many).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.error_code(), "too_many_rows");

        // A bad header names every problem at once: 422, before any task exists.
        let reply = app
            .upload(&cookie, "h.csv", b"SKU,Name,Price,Colour\nA,B,1,red\n")
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.error_code(), "header_invalid");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains("“title”")
                && message.contains("“name”")
                && message.contains("“colour”"),
            "{message}"
        );

        // Empty, not UTF-8 in the header, not multipart, no file field.
        assert_eq!(
            app.upload(&cookie, "e.csv", b"").await.error_code(),
            "file_empty"
        );
        assert_eq!(
            app.upload(&cookie, "x.xlsx", b"PK\x03\x04\xff\xfe,\x00")
                .await
                .error_code(),
            "header_not_utf8"
        );
        let not_multipart = app
            .post_json("/api/v1/imports", Some(&cookie), serde_json::json!({}))
            .await;
        assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            task_count(&app, &cookie).await,
            0,
            "no refused file made a task"
        );

        // Row-level problems fail their rows only: a BOM, CRLF, quoted commas and
        // newlines are fine; invalid UTF-8, ragged rows and duplicate SKUs are not.
        let file = b"\xEF\xBB\xBFsku,title,price,description\r\n\
            H-1,\"Mug, large\",12.50,\"two\r\nlines\"\r\n\
            H-2,Caf\xE9 bowl,3,\r\n\
            H-3,Plate,4\r\n\
            H-4,Cup,2,extra,cells\r\n\
            H-1,Again,5,\r\n\
            H-5,=1+2,6,\r\n";
        let task = import(&app, &cookie, "hostile.csv", file).await;
        assert_eq!(task["counts"]["succeeded"], 2);
        let failed = failures(&app, &cookie, task["id"].as_i64().unwrap()).await;
        let codes: Vec<(i64, &str)> = failed.iter().map(|f| (f.0, f.2.as_str())).collect();
        assert_eq!(
            codes,
            [
                (4, "invalid_utf8"),
                (5, "wrong_column_count"),
                (6, "wrong_column_count"),
                (7, "duplicate_sku")
            ]
        );
        let mug = app.get("/api/v1/items?q=H-1", Some(&cookie)).await.json();
        assert_eq!(mug["items"][0]["title"], "Mug, large");
        // A formula-looking title is kept as text.
        let formula = app.get("/api/v1/items?q=H-5", Some(&cookie)).await.json();
        assert_eq!(formula["items"][0]["title"], "=1+2");
    }
);

db_test!(another_sellers_import_and_report_are_not_found, |db| {
    seller(db, "ana@example.com").await;
    seller(db, "bob@example.com").await;
    let (_sandbox, url) = sandbox_on_a_port().await;
    let app = TestApp::with_marketplace(db, &url, None);
    let ana = app.logged_in("ana@example.com").await;
    let bob = app.logged_in("bob@example.com").await;
    let task = import(&app, &ana, "a.csv", b"sku,title,price\nA-1,Mug,0\n").await;
    let id = task["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/api/v1/tasks/{id}/items"),
        format!("/api/v1/tasks/{id}/report.csv"),
    ] {
        let reply = app.get(&path, Some(&bob)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), "not_found");
    }
    let none = app.get("/api/v1/items?q=A-1", Some(&bob)).await.json();
    assert_eq!(none["total"], 0);
    // Unauthenticated uploads and downloads are refused.
    assert_eq!(
        app.get("/api/v1/imports/template.csv", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let template = app.get("/api/v1/imports/template.csv", Some(&ana)).await;
    assert!(template.body.starts_with("sku,title,description,price"));
});

db_test!(
    checking_a_file_counts_rows_and_estimates_without_importing,
    |db| {
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;
        let check =
            |bytes: &'static [u8]| app.upload_to("/api/v1/imports/check", &cookie, "s.csv", bytes);
        let reply = check(SAMPLE).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let found = reply.json();
        assert_eq!(found["file_name"], "s.csv");
        assert_eq!(found["rows"], 300);
        // Every rule that needs no marketplace, on every row: the decimal comma and the
        // long title are fixed, eleven rows need the seller.
        assert_eq!(
            (
                &found["ready"],
                &found["fixable_rows"],
                &found["invalid_rows"]
            ),
            (&Value::from(287), &Value::from(2), &Value::from(11))
        );
        let codes = |list: &Value| -> Vec<(String, u64)> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["code"].as_str().unwrap().to_owned(),
                        g["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(
            codes(&found["fixable"]),
            [("title_cut".to_owned(), 1), ("decimal_comma".to_owned(), 1)]
        );
        // One row for each of eleven reasons, in file order.
        let invalid = codes(&found["invalid"]);
        assert_eq!(invalid.len(), 11);
        assert_eq!(invalid[0], ("title_required".to_owned(), 1));
        let price = found["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["code"] == "price_invalid")
            .unwrap();
        assert_eq!(price["title"], "Price not valid");
        assert_eq!(price["examples"][0]["line"], 137);
        assert_eq!(price["examples"][0]["sku"], "IMP-0120");
        // 289 rows to import, 287 image checks at a pace of 1 000/s (tests) but at most 64 calls in flight,
        // each guessed at 0.4 s as nothing is measured yet: about 3 s, on the limit alone.
        let estimate = &found["estimate"];
        let seconds = estimate["seconds"].as_u64().unwrap();
        assert!((2..=4).contains(&seconds), "{estimate}");
        assert_eq!(estimate["basis"], "limit");
        // A call for each row with an image, of the rows the import takes.
        assert_eq!(
            (estimate["items"].as_u64(), estimate["calls"].as_u64()),
            (Some(289), Some(289))
        );
        assert_eq!(found["estimate_ready"]["items"], 287);
        assert_eq!(
            task_count(&app, &cookie).await,
            0,
            "a check imports nothing"
        );
        let bad = check(b"sku,name\n1,2\n").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.error_code(), "header_invalid");
    }
);

db_test!(
    an_import_takes_the_rows_chosen_and_the_rest_download_with_why,
    |db| {
        seller(db, "ana@example.com").await;
        let app = TestApp::new(db).await;
        let cookie = app.logged_in("ana@example.com").await;
        let file: &[u8] = b"sku,title,price,quantity\r\n\
            FX-1,Mug,12.50,3\r\n\
            FX-2,\"Bowl\r\nlarge\",\"8,5\",1\r\n\
            FX-3,Plate,free,2\r\n\
            FX-4,=Jug,3,-1\r\n";

        // The rows left out, in the file's columns with the reason: fixed rows go in by
        // default, so only the two that need the seller are there.
        let out = app
            .upload_to(
                "/api/v1/imports/check/left-out.csv",
                &cookie,
                "spring.csv",
                file,
            )
            .await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        assert!(out.headers[http::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("spring-left-out.csv"));
        let lines: Vec<&str> = out.body.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(
            lines[0],
            "sku,title,price,quantity,error_code,error_message"
        );
        assert!(
            lines[1].starts_with("FX-3,Plate,free,2,price_invalid,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("FX-4,'=Jug,3,'-1,quantity_negative,"),
            "{}",
            lines[2]
        );
        assert_eq!(lines.len(), 3);
        // Ready only: the fixable row is left out too, with what is wrong as written.
        let out = app
            .upload_to(
                "/api/v1/imports/check/left-out.csv?include=ready",
                &cookie,
                "spring.csv",
                file,
            )
            .await;
        assert!(
            out.body.contains("FX-2,\"Bowl\r\nlarge\",\"8,5\",1,"),
            "{}",
            out.body
        );
        let bad = app
            .upload_to("/api/v1/imports?include=some", &cookie, "spring.csv", file)
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(task_count(&app, &cookie).await, 0);

        // The ready and the fixed rows: FX-2 goes in as "Bowl large" at 8.50.
        let reply = app
            .upload_to("/api/v1/imports?include=fixed", &cookie, "spring.csv", file)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let task = reply.json();
        assert_eq!(task["label"], "Import 2 rows from spring.csv");
        app.engine.drain().await.unwrap();
        let done = app
            .get(&format!("/api/v1/tasks/{}", task["id"]), Some(&cookie))
            .await
            .json();
        assert_eq!(done["status"], "succeeded");
        assert_eq!(done["counts"]["succeeded"], 2);
        let items = app.get("/api/v1/items?q=FX-", Some(&cookie)).await.json();
        let mut got: Vec<(String, String, String)> = items["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["sku"].as_str().unwrap().to_owned(),
                    i["title"].as_str().unwrap().to_owned(),
                    i["price"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("FX-1".to_owned(), "Mug".to_owned(), "12.50".to_owned()),
                (
                    "FX-2".to_owned(),
                    "Bowl large".to_owned(),
                    "8.50".to_owned()
                )
            ]
        );

        // Nothing ready: refused before a task exists.
        let none = app
            .upload_to(
                "/api/v1/imports?include=ready",
                &cookie,
                "bad.csv",
                b"sku,title,price\nA,Mug,free\n",
            )
            .await;
        assert_eq!(
            none.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            none.body
        );
        assert_eq!(none.error_code(), "nothing_ready");
        assert_eq!(task_count(&app, &cookie).await, 1);
    }
);
