//! Starting the task engine: the event bus (with NOTIFY on PostgreSQL), the kinds this
//! process runs, and `STOCKROOM_WORKERS` slots of work.

use backend::listings::{Publish, Unpublish};
use backend::marketplace::Connector;
use backend::tasks::events::EventBus;
use backend::tasks::noop::Noop;
use backend::tasks::worker::{Engine, EngineConfig};
use backend::tasks::Registry;
use backend::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub struct Workers {
    pub engine: Arc<Engine>,
    /// The run loop; `None` on a web-only instance (`STOCKROOM_WORKERS=0`).
    pub runner: Option<JoinHandle<()>>,
}

/// The kinds this build runs: publish and unpublish against the marketplace; `noop`
/// only when `STOCKROOM_TEST_KINDS=1`, for crash drills and benchmarks.
async fn registry(
    config: &Config,
    db: &DatabaseConnection,
    marketplace_url: &str,
) -> anyhow::Result<Registry> {
    let connector = Arc::new(Connector::new(
        marketplace_url,
        config.marketplace_rate_limit,
        Duration::from_secs(15),
    )?);
    let mut registry = Registry::new()
        .register(Publish::new(db.clone(), Arc::clone(&connector)))
        .register(Unpublish::new(db.clone(), connector));
    if config.test_kinds {
        registry = registry.register(Noop::recording(db.clone()).await?);
    }
    Ok(registry)
}

pub async fn start(
    config: &Config,
    db: DatabaseConnection,
    marketplace_url: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<Workers> {
    let engine_config = EngineConfig::new(config.workers);
    let bus = EventBus::new(engine_config.worker_id.clone(), Duration::from_millis(250));
    bus.start();
    if config.database_url.starts_with("postgres") {
        bus.connect_postgres(db.clone(), &config.database_url)
            .await?;
    }
    let registry = registry(config, &db, marketplace_url).await?;
    let engine = Arc::new(Engine::new(db, registry, bus, engine_config));
    let runner = (config.workers > 0).then(|| tokio::spawn(Arc::clone(&engine).run(shutdown)));
    if runner.is_none() {
        tracing::info!("STOCKROOM_WORKERS=0: this instance serves the web only");
    }
    Ok(Workers { engine, runner })
}
