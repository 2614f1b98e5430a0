//! The whole server in process, as `stockroom serve` runs it: a listener on port 0, a fresh
//! SQLite file, the demo seller, workers and housekeeping; then a shutdown that ends it.

use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn serve_answers_on_its_listener_and_stops_cleanly_on_shutdown() {
    // Arrange: a configuration as the environment would give it.
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("stockroom.db").display()
    );
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url),
        ("STOCKROOM_DEMO", "1".into()),
        ("STOCKROOM_WORKERS", "1".into()),
    ]);
    let config = server::config::Config::from_lookup(|name| env.get(name).cloned()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();

    // Act: serve, and ask it things as a client would.
    let serving = tokio::spawn(server::serve::serve(config, listener, shutdown.clone()));
    let client = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(answer) = client.get(format!("{base}/healthz")).send().await {
            ready = Some(answer.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready, Some(reqwest::StatusCode::OK));
    let login = client
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({
            "email": backend::demo::DEMO_EMAIL,
            "password": backend::demo::DEMO_PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);

    // Assert: a shutdown ends `serve` with success, soon.
    shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("serve stops after shutdown")
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}
