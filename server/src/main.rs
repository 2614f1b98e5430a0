//! `stockroom`: serve (default), `migrate`, `seller add --email E`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use server::config::{self, Config};
use std::io::BufRead;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "stockroom",
    version,
    about = "Stockroom: bulk catalog work as tracked background tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the web application (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run the sandbox marketplace alone (same paths, under /sandbox/marketplace).
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:3900")]
        addr: std::net::SocketAddr,
    },
    /// Manage seller accounts.
    Seller {
        #[command(subcommand)]
        action: SellerCommand,
    },
}

#[derive(Subcommand)]
enum SellerCommand {
    /// Create a seller. The password comes from STOCKROOM_PASSWORD, or the first line of stdin.
    Add {
        #[arg(long)]
        email: String,
        /// Shown in the header; defaults to the e-mail's local part.
        #[arg(long)]
        name: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stockroom: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env_file = config::load_env_file()?;
    init_tracing()?;
    if let Some(path) = env_file {
        tracing::info!(path = %path.display(), "read configuration file");
    }
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = backend::db::connect(&config.database_url).await?;
            backend::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seller {
            action: SellerCommand::Add { email, name },
        } => add_seller(&config, &email, name.as_deref()).await,
        Command::Sandbox { addr } => serve_sandbox(&config, addr).await,
    }
}

fn init_tracing() -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(&value)
            .map_err(|err| anyhow::anyhow!("RUST_LOG: “{value}” is not a log filter: {err}"))?,
        _ => EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"),
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();
    Ok(())
}

async fn add_seller(config: &Config, email: &str, name: Option<&str>) -> anyhow::Result<()> {
    let email = backend::domain::Email::parse(email)
        .map_err(|err| anyhow::anyhow!("--email: {}", err.message))?;
    let raw = match std::env::var("STOCKROOM_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            eprintln!("Password for {email} (one line on stdin):");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("Failed to read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = backend::domain::Password::parse(&raw)
        .map_err(|err| anyhow::anyhow!("password: {}", err.message))?;
    let db = backend::db::connect(&config.database_url).await?;
    backend::db::migrate(&db).await?;
    match backend::accounts::create_seller(&db, &email, name, &password).await {
        Ok(seller) => {
            println!("seller {} created (id {})", seller.email, seller.id);
            Ok(())
        }
        Err(backend::accounts::AccountError::EmailTaken) => {
            anyhow::bail!("a seller with e-mail {email} already exists")
        }
        Err(err) => Err(err.into()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let db = backend::db::connect(&config.database_url).await?;
    backend::db::migrate(&db).await?;
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
    leptos_options.site_addr = config.site_addr;
    let shutdown = CancellationToken::new();

    // Without MARKETPLACE_URL the stand-in marketplace is served here, so a fresh install
    // needs nothing else.
    let sandbox = config
        .marketplace_url
        .is_none()
        .then(|| server::sandbox::Sandbox::new(config.sandbox.clone()));
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .with_context(|| format!("LEPTOS_SITE_ADDR: cannot listen on {}", config.site_addr))?;
    let bound = listener
        .local_addr()
        .context("Failed to read the bound address")?;
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
                server::sandbox::MOUNT
            )
        }
    };
    let workers =
        server::workers::start(&config, db.clone(), &marketplace_url, shutdown.clone()).await?;
    let mut state = server::state(
        leptos_options,
        db.clone(),
        Arc::clone(&workers.engine),
        config.marketplace_rate_limit,
    );
    state.imports = config.import;
    let policy = state.sessions;
    let purge_db = db.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            match backend::sessions::purge_expired(&purge_db, policy, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "could not purge expired sessions")
                }
            }
        }
    });

    let signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    let web_shutdown = shutdown.clone();
    axum::serve(
        listener,
        server::app(state, sandbox).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { web_shutdown.cancelled().await })
    .await
    .context("HTTP server failed")?;
    // The web side stopped (signal, or a failure): stop the workers too and wait for them
    // to finish or give back their items.
    shutdown.cancel();
    if let Some(runner) = workers.runner {
        runner.await.ok();
    }
    db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

async fn serve_sandbox(config: &Config, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let sandbox = server::sandbox::Sandbox::new(config.sandbox.clone());
    let app = axum::Router::new().nest(server::sandbox::MOUNT, sandbox.router());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--addr: cannot listen on {addr}"))?;
    tracing::info!(settings = ?config.sandbox, "sandbox marketplace on http://{addr}{}", server::sandbox::MOUNT);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("sandbox server failed")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
