//! `stockroom`: serve (default), `migrate`, `seller add --email E`, `secret-key`,
//! `rotate-secret-key`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use server::config::{self, Config};
use std::io::BufRead;
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
    /// Print a new random server key for STOCKROOM_SECRET_KEY (64 hex digits).
    SecretKey,
    /// Re-seal every connection's credentials with STOCKROOM_SECRET_KEY, opening them
    /// with STOCKROOM_OLD_SECRET_KEY. All or nothing; safe to run again.
    RotateSecretKey,
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
        /// Give the seller this many demo items (tests, trials).
        #[arg(long, default_value_t = 0)]
        demo_items: usize,
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
            action:
                SellerCommand::Add {
                    email,
                    name,
                    demo_items,
                },
        } => add_seller(&config, &email, name.as_deref(), demo_items).await,
        Command::Sandbox { addr } => serve_sandbox(&config, addr).await,
        Command::SecretKey => {
            println!("{}", backend::secrets::SecretKey::generate());
            Ok(())
        }
        Command::RotateSecretKey => rotate_secret_key(&config).await,
    }
}

fn init_tracing() -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(&value)
            .map_err(|err| anyhow::anyhow!("RUST_LOG: “{value}” is not a log filter: {err}"))?,
        _ => EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"),
    };
    // One JSON object a line for log collectors: the event's fields (task_id, item_id,
    // seller_id…) at the top level, with the span it happened in.
    match std::env::var("LOG_FORMAT").as_deref().map(str::trim) {
        Ok("json") => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Ok("" | "text") | Err(_) => tracing_subscriber::fmt().with_env_filter(filter).init(),
        Ok(other) => anyhow::bail!("LOG_FORMAT: “{other}” is not a log format; use text or json"),
    }
    Ok(())
}

async fn add_seller(
    config: &Config,
    email: &str,
    name: Option<&str>,
    demo_items: usize,
) -> anyhow::Result<()> {
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
            if demo_items > 0 {
                backend::catalog::insert_many(
                    &db,
                    backend::demo::demo_items(seller.id, demo_items),
                )
                .await?;
            }
            println!("seller {} created (id {})", seller.email, seller.id);
            Ok(())
        }
        Err(backend::accounts::AccountError::EmailTaken) => {
            anyhow::bail!("a seller with e-mail {email} already exists")
        }
        Err(err) => Err(err.into()),
    }
}

async fn rotate_secret_key(config: &Config) -> anyhow::Result<()> {
    let new = config.secret_key.as_ref().context(
        "STOCKROOM_SECRET_KEY: set it to the new key (`stockroom secret-key` prints one)",
    )?;
    let old = std::env::var("STOCKROOM_OLD_SECRET_KEY")
        .ok()
        .filter(|raw| !raw.trim().is_empty())
        .context(
            "STOCKROOM_OLD_SECRET_KEY: set it to the key the credentials are sealed with now",
        )?;
    let old = backend::secrets::SecretKey::parse(&old)
        .map_err(|err| anyhow::anyhow!("STOCKROOM_OLD_SECRET_KEY: {err}"))?;
    let db = backend::db::connect(&config.database_url).await?;
    backend::db::migrate(&db).await?;
    let resealed = backend::connections::rotate(&db, &old, new)
        .await
        .map_err(|err| anyhow::anyhow!("nothing was changed: {err}"))?;
    println!(
        "{resealed} connection(s) re-sealed with key {}; start the server with the new STOCKROOM_SECRET_KEY",
        new.id()
    );
    Ok(())
}

/// Binds the listen address, turns SIGTERM and ctrl-c into a shutdown, and serves.
async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .with_context(|| format!("LEPTOS_SITE_ADDR: cannot listen on {}", config.site_addr))?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    server::serve::serve(config, listener, shutdown).await
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
