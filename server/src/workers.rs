//! Starting the task engine: the event bus (with NOTIFY on PostgreSQL), the kinds this
//! process runs, and `STOCKROOM_WORKERS` slots of work.

use backend::connectors::Marketplaces;
use backend::imports::Import;
use backend::listings::{Publish, Unpublish};
use backend::marketplace::Connector;
use backend::pacing::{Pace, Pacer};
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

pub const SLOTS_PER_WORKER: usize = 8;

pub struct Workers {
    pub engine: Arc<Engine>,
    /// The run loop; `None` on a web-only instance (`STOCKROOM_WORKERS=0`).
    pub runner: Option<JoinHandle<()>>,
}

/// The kinds this build runs: import, publish and unpublish against the marketplace
/// (paced per seller account, across instances on PostgreSQL); `noop` only when
/// `STOCKROOM_TEST_KINDS=1`, for crash drills and benchmarks.
async fn registry(
    config: &Config,
    db: &DatabaseConnection,
    marketplace_url: &str,
    marketplaces: Arc<Marketplaces>,
) -> anyhow::Result<Registry> {
    let pacer = Pacer::shared(
        Pace {
            per_second: config.marketplace_rate_limit,
            burst: config.marketplace_burst,
        },
        db,
    );
    let connector = Arc::new(
        Connector::new(marketplace_url, Arc::new(pacer), Duration::from_secs(15))?
            .with_retry(config.marketplace_retry),
    );
    let mut registry = kinds_with(db, connector, marketplaces);
    if config.test_kinds {
        registry = registry.register(Noop::recording(db.clone()).await?);
    }
    Ok(registry)
}

/// Every kind sellers run; those that call the built-in marketplace share one connector.
/// Publishing through a seller's connections needs [`kinds_with`].
pub fn kinds(db: &DatabaseConnection, connector: Arc<Connector>) -> Registry {
    others(db, connector.clone())
        .register(Publish::new(db.clone(), Arc::clone(&connector)))
        .register(Unpublish::new(db.clone(), connector))
}

/// Every kind, publishing through the seller's connections as well.
pub fn kinds_with(
    db: &DatabaseConnection,
    connector: Arc<Connector>,
    marketplaces: Arc<Marketplaces>,
) -> Registry {
    others(db, connector.clone())
        .register(
            Publish::new(db.clone(), Arc::clone(&connector))
                .with_connections(Arc::clone(&marketplaces)),
        )
        .register(Unpublish::new(db.clone(), connector).with_connections(marketplaces))
}

fn others(db: &DatabaseConnection, connector: Arc<Connector>) -> Registry {
    Registry::new()
        .register(Import::new(db.clone(), Arc::clone(&connector)))
        .register(backend::updates::UpdateListings::new(
            db.clone(),
            Arc::clone(&connector),
        ))
        .register(backend::deletes::Delete::new(db.clone(), connector))
        .register(backend::edits::Edit::new(db.clone()))
        .register(backend::undo::Undo::new(db.clone()))
        .register(backend::exports::Export::new(db.clone()))
}

pub async fn start(
    config: &Config,
    db: DatabaseConnection,
    marketplace_url: &str,
    marketplaces: Arc<Marketplaces>,
    shutdown: CancellationToken,
) -> anyhow::Result<Workers> {
    // Each worker runs up to this many items at once: marketplace calls mostly wait on
    // the network, so a few workers keep the pace even at a few hundred ms per call.
    let mut engine_config = EngineConfig::new(config.workers * SLOTS_PER_WORKER);
    engine_config.breaker.hold_limit = config.hold_limit;
    let bus = EventBus::new(engine_config.worker_id.clone(), Duration::from_millis(250));
    bus.start();
    if config.database_url.starts_with("postgres") {
        bus.connect_postgres(db.clone(), &config.database_url)
            .await?;
    }
    let registry = registry(config, &db, marketplace_url, marketplaces).await?;
    let engine = Arc::new(Engine::new(db, registry, bus, engine_config));
    let runner = (config.workers > 0).then(|| tokio::spawn(Arc::clone(&engine).run(shutdown)));
    if runner.is_none() {
        tracing::info!("STOCKROOM_WORKERS=0: this instance serves the web only");
    }
    Ok(Workers { engine, runner })
}
