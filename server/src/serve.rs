//! Serving: migrations, the demo seller, the workers, housekeeping and the web
//! application on a listener, until `shutdown` fires; then the workers stop and give back
//! what they hold. `main` only binds the address and turns signals into `shutdown`, so
//! tests run all of this in process.

use anyhow::Context;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let db = backend::db::connect(&config.database_url).await?;
    backend::db::migrate(&db).await?;
    backend::connections::check_key(&db, config.secret_key.as_ref())
        .await
        .map_err(|problem| anyhow::anyhow!("STOCKROOM_SECRET_KEY: {problem}"))?;
    if config.demo {
        match backend::demo::ensure_demo_seller(&db).await? {
            backend::demo::DemoSeed::Created(_) => tracing::info!(
                email = backend::demo::DEMO_EMAIL,
                password = backend::demo::DEMO_PASSWORD,
                items = backend::demo::DEMO_ITEMS,
                "demo seller created; log in with these credentials"
            ),
            backend::demo::DemoSeed::AlreadyThere(_) => tracing::info!(
                email = backend::demo::DEMO_EMAIL,
                password = backend::demo::DEMO_PASSWORD,
                "demo seller ready; log in with these credentials"
            ),
        }
    }

    // Leptos reads its build output location from LEPTOS_* variables (set by cargo-leptos,
    // or defaulted for the release binary); the listen address is ours.
    let mut leptos_options = leptos::config::get_configuration(None)
        .context("Failed to read the Leptos configuration (LEPTOS_* variables)")?
        .leptos_options;
    let bound = listener
        .local_addr()
        .context("Failed to read the bound address")?;
    leptos_options.site_addr = bound;

    // Without MARKETPLACE_URL the stand-in marketplace is served here, so a fresh install
    // needs nothing else.
    let sandbox = config
        .marketplace_url
        .is_none()
        .then(|| crate::sandbox::Sandbox::new(config.sandbox.clone()));
    tracing::info!("listening on http://{bound}");
    let marketplace_url = match &config.marketplace_url {
        Some(url) => url.clone(),
        None => {
            // The sandbox mounted on this very server.
            let host = if bound.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                bound.ip()
            };
            format!(
                "http://{}{}",
                std::net::SocketAddr::new(host, bound.port()),
                crate::sandbox::MOUNT
            )
        }
    };
    if config.demo && config.demo_connections {
        match &config.secret_key {
            Some(key) => {
                let made =
                    backend::demo::ensure_demo_connections(&db, key, &marketplace_url).await?;
                if made > 0 {
                    tracing::info!(
                        connections = made,
                        "demo seller connected to the sandbox's Amazon and eBay"
                    );
                }
            }
            None => tracing::warn!(
                "STOCKROOM_DEMO_CONNECTIONS needs STOCKROOM_SECRET_KEY; the demo seller has no connections"
            ),
        }
    }
    let marketplaces = Arc::new(
        backend::connectors::Marketplaces::new(config.secret_key.clone(), &marketplace_url)?
            .shared_pace(&db),
    );
    let workers = crate::workers::start(
        &config,
        db.clone(),
        &marketplace_url,
        Arc::clone(&marketplaces),
        shutdown.clone(),
    )
    .await?;
    let mut state = crate::state(
        leptos_options,
        db.clone(),
        Arc::clone(&workers.engine),
        marketplaces,
    );
    state.imports = config.import;
    state.login_limiter = Arc::new(app::state::LoginLimiter::with_bursts(
        config.login_bursts.0,
        config.login_bursts.1,
    ));
    let mut housekeeping =
        crate::housekeeping::standard(db.clone(), state.sessions, config.retention)
            .spawn(shutdown.clone());

    let web_shutdown = shutdown.clone();
    let served = axum::serve(
        listener,
        crate::app_with_metrics(
            state,
            sandbox,
            crate::metrics::MetricsToken(config.metrics_token.as_deref().map(Arc::from)),
        )
        .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { web_shutdown.cancelled().await })
    .await
    .context("HTTP server failed");
    // The web side stopped (shutdown, or a failure): stop the workers and housekeeping
    // too, and wait for the workers to finish or give back their items.
    shutdown.cancel();
    if let Some(runner) = workers.runner {
        runner.await.ok();
    }
    while housekeeping.join_next().await.is_some() {}
    db.close().await.ok();
    tracing::info!("stopped");
    served
}
