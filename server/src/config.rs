//! Configuration from the environment (and an optional env file). A bad value stops
//! start-up with a message that names the variable.

use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub database_url: String,
    pub demo: bool,
    /// With the demo seller: a connection to each of the sandbox's contracts (needs
    /// `STOCKROOM_SECRET_KEY`). `make run` sets it; tests leave the demo seller without.
    pub demo_connections: bool,
    pub workers: usize,
    /// Registers the `noop` kind (tests, benchmarks, crash drills).
    pub test_kinds: bool,
    /// The marketplace's base URL; `None` mounts the sandbox and uses it.
    pub marketplace_url: Option<String>,
    pub sandbox: crate::sandbox::SandboxSettings,
    /// Our own pace per seller account (requests/s), under the marketplace's limit.
    pub marketplace_rate_limit: u32,
    /// Calls that may go at once after a quiet spell (1 = strictly paced).
    pub marketplace_burst: u32,
    /// How a marketplace call that failed for a passing reason is retried
    /// (`MARKETPLACE_MAX_ATTEMPTS`, `MARKETPLACE_RETRY_BASE_MS`).
    pub marketplace_retry: backend::tasks::RetryPolicy,
    pub import: app::state::ImportSettings,
    /// Seals marketplace credentials at rest (`STOCKROOM_SECRET_KEY`).
    pub secret_key: Option<backend::secrets::SecretKey>,
    /// How long a task may wait for a marketplace that does not answer before it ends
    /// `failed` (`STOCKROOM_HOLD_LIMIT_MINUTES`, 6 hours by default).
    pub hold_limit: chrono::Duration,
    /// Login attempts allowed at once per e-mail and per client address before the pace
    /// (one every 6 s and 2 s) applies (`STOCKROOM_LOGIN_BURST_PER_EMAIL`, 10, and
    /// `STOCKROOM_LOGIN_BURST_PER_CLIENT`, 30).
    pub login_bursts: (u32, u32),
    /// Serves `/metrics` to `Authorization: Bearer <token>` (`STOCKROOM_METRICS_TOKEN`);
    /// unset, there are no metrics (a 404).
    pub metrics_token: Option<String>,
    /// How long finished tasks keep their items, and notifications are kept
    /// (`STOCKROOM_RETENTION_DAYS`, 30 by default); a task keeps its counts for ever.
    pub retention: chrono::Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/stockroom.db?mode=rwc";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let site_addr = match get("LEPTOS_SITE_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(raw) => raw.parse().map_err(|_| ConfigError {
                variable: "LEPTOS_SITE_ADDR",
                message: format!(
                    "“{raw}” is not a listen address; use HOST:PORT such as 127.0.0.1:3000"
                ),
            })?,
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.starts_with(p))
        {
            return Err(ConfigError {
                variable: "DATABASE_URL",
                message: "must start with sqlite: (e.g. sqlite://data/stockroom.db?mode=rwc) or postgres://".into(),
            });
        }
        let demo = switch("STOCKROOM_DEMO", get("STOCKROOM_DEMO"))?;
        let demo_connections = switch(
            "STOCKROOM_DEMO_CONNECTIONS",
            get("STOCKROOM_DEMO_CONNECTIONS"),
        )?;
        let test_kinds = switch("STOCKROOM_TEST_KINDS", get("STOCKROOM_TEST_KINDS"))?;
        let marketplace_url = match get("MARKETPLACE_URL") {
            None => None,
            Some(raw) if raw.starts_with("http://") || raw.starts_with("https://") => {
                Some(raw.trim_end_matches('/').to_owned())
            }
            Some(raw) => {
                return Err(ConfigError {
                    variable: "MARKETPLACE_URL",
                    message: format!("“{raw}” is not an http(s) URL"),
                });
            }
        };
        let sandbox =
            crate::sandbox::SandboxSettings::from_lookup(&lookup).map_err(|err| ConfigError {
                variable: err.variable,
                message: err.message,
            })?;
        let marketplace_rate_limit = match get("MARKETPLACE_RATE_LIMIT") {
            None => sandbox.rate_limit,
            Some(raw) => {
                raw.parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ConfigError {
                        variable: "MARKETPLACE_RATE_LIMIT",
                        message: format!("“{raw}” is not a positive number of requests per second"),
                    })?
            }
        };
        let positive = |variable: &'static str, default: u64, what: &str| match get(variable) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ConfigError {
                    variable,
                    message: format!("“{raw}” is not a positive {what}"),
                }),
        };
        let marketplace_burst =
            positive("MARKETPLACE_BURST", 1, "number of requests")?.min(10_000) as u32;
        let retry = backend::marketplace::Connector::default_retry();
        let marketplace_retry = backend::tasks::RetryPolicy {
            max_attempts: positive(
                "MARKETPLACE_MAX_ATTEMPTS",
                u64::from(retry.max_attempts),
                "number of attempts",
            )?
            .min(100) as u32,
            base_delay: chrono::Duration::milliseconds(
                positive(
                    "MARKETPLACE_RETRY_BASE_MS",
                    retry.base_delay.num_milliseconds() as u64,
                    "number of milliseconds",
                )?
                .min(3_600_000) as i64,
            ),
            ..retry
        };
        let defaults = backend::imports::ImportLimits::default();
        let import = app::state::ImportSettings {
            limits: backend::imports::ImportLimits {
                max_bytes: positive(
                    "STOCKROOM_IMPORT_MAX_BYTES",
                    defaults.max_bytes as u64,
                    "number of bytes",
                )? as usize,
                max_rows: positive(
                    "STOCKROOM_IMPORT_MAX_ROWS",
                    defaults.max_rows as u64,
                    "number of rows",
                )? as usize,
            },
            check_images: match get("STOCKROOM_IMPORT_CHECK_IMAGES") {
                None => true,
                value => switch("STOCKROOM_IMPORT_CHECK_IMAGES", value)?,
            },
        };
        let workers = match get("STOCKROOM_WORKERS") {
            None => 4,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 256)
                .ok_or_else(|| ConfigError {
                    variable: "STOCKROOM_WORKERS",
                    message: format!("“{raw}” is not a worker count from 0 to 256"),
                })?,
        };
        let hold_limit = chrono::Duration::minutes(
            positive("STOCKROOM_HOLD_LIMIT_MINUTES", 360, "number of minutes")?.min(43_200) as i64,
        );
        let retention = chrono::Duration::days(
            positive(
                "STOCKROOM_RETENTION_DAYS",
                u64::from(backend::retention::DEFAULT_DAYS),
                "number of days",
            )?
            .min(36_500) as i64,
        );
        let login_bursts = (
            positive(
                "STOCKROOM_LOGIN_BURST_PER_EMAIL",
                u64::from(app::state::LoginLimiter::PER_EMAIL),
                "number of attempts",
            )?
            .min(1_000_000) as u32,
            positive(
                "STOCKROOM_LOGIN_BURST_PER_CLIENT",
                u64::from(app::state::LoginLimiter::PER_CLIENT),
                "number of attempts",
            )?
            .min(1_000_000) as u32,
        );
        // The key's value is never echoed: the message says what is wrong with it only.
        let secret_key = match get("STOCKROOM_SECRET_KEY") {
            None => None,
            Some(raw) => {
                Some(
                    backend::secrets::SecretKey::parse(&raw).map_err(|err| ConfigError {
                        variable: "STOCKROOM_SECRET_KEY",
                        message: format!("{err}; `stockroom secret-key` prints a new one"),
                    })?,
                )
            }
        };
        Ok(Self {
            secret_key,
            site_addr,
            database_url,
            demo,
            demo_connections,
            workers,
            test_kinds,
            marketplace_url,
            marketplace_rate_limit,
            marketplace_burst,
            marketplace_retry,
            import,
            sandbox,
            hold_limit,
            login_bursts,
            metrics_token: get("STOCKROOM_METRICS_TOKEN"),
            retention,
        })
    }
}

fn switch(variable: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None | Some("0") | Some("false") | Some("no") => Ok(false),
        Some("1") | Some("true") | Some("yes") => Ok(true),
        Some(other) => Err(ConfigError {
            variable,
            message: format!("“{other}” is not a switch; use 1 or 0"),
        }),
    }
}

/// Loads `STOCKROOM_CONFIG` (a path), or `stockroom.env` in the working directory, into
/// the environment. Variables already set win over the file.
pub fn load_env_file() -> Result<Option<std::path::PathBuf>, ConfigError> {
    let explicit = std::env::var_os("STOCKROOM_CONFIG").map(std::path::PathBuf::from);
    let path = match explicit {
        Some(path) => path,
        None => {
            let default = std::path::PathBuf::from("stockroom.env");
            if !default.exists() {
                return Ok(None);
            }
            default
        }
    };
    dotenvy::from_path(&path).map_err(|err| ConfigError {
        variable: "STOCKROOM_CONFIG",
        message: format!("cannot read {}: {err}", path.display()),
    })?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_serve_make_run() {
        let config = config(&[]).unwrap();
        assert_eq!(config.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert!(!config.demo);
        assert_eq!(config.workers, 4);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("DATABASE_URL", "mysql://x"),
            ("STOCKROOM_DEMO", "maybe"),
            ("STOCKROOM_WORKERS", "-1"),
            ("MARKETPLACE_URL", "ftp://x"),
            ("SANDBOX_RATE_LIMIT", "lots"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().starts_with(name));
        }
    }

    #[test]
    fn explicit_values_are_used() {
        let config = config(&[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/stockroom"),
            ("STOCKROOM_DEMO", "1"),
            ("STOCKROOM_WORKERS", "0"),
        ])
        .unwrap();
        assert_eq!(config.site_addr.port(), 8080);
        assert!(config.demo);
        assert_eq!(config.workers, 0);
    }
}
