//! What every request handler and server function can reach on the server.

use axum::extract::FromRef;
use backend::sessions::SessionPolicy;
use backend::DatabaseConnection;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use leptos::config::LeptosOptions;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub sessions: SessionPolicy,
    pub login_limiter: Arc<LoginLimiter>,
    /// Creates and controls background tasks (and tells the workers).
    pub engine: Arc<backend::tasks::worker::Engine>,
    pub imports: ImportSettings,
    /// The seller's marketplace connections: the server key, tokens, "Test connection".
    pub marketplaces: Arc<backend::connectors::Marketplaces>,
    /// Which build of the browser code this server serves (empty when it has none): sent
    /// with every snapshot, so a tab of an older build knows to reload.
    pub build: Arc<str>,
}

/// How uploads are read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSettings {
    pub limits: backend::imports::ImportLimits,
    /// Ask the marketplace whether each row's image is usable (off for bulk benchmarks).
    pub check_images: bool,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            limits: backend::imports::ImportLimits::default(),
            check_images: true,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Throttles login attempts per e-mail (against guessing one account's password) and
/// per client address (against spraying many accounts).
pub struct LoginLimiter {
    per_email: KeyedLimiter,
    per_client: KeyedLimiter,
}

impl LoginLimiter {
    pub fn new(per_email: Quota, per_client: Quota) -> Self {
        Self {
            per_email: RateLimiter::keyed(per_email),
            per_client: RateLimiter::keyed(per_client),
        }
    }

    /// Our defaults: 10 attempts at once per e-mail, then one every 6 s; 30 per client
    /// address, then one every 2 s.
    pub fn standard() -> Self {
        Self::with_bursts(Self::PER_EMAIL, Self::PER_CLIENT)
    }

    pub const PER_EMAIL: u32 = 10;
    pub const PER_CLIENT: u32 = 30;

    /// The standard pace with other bursts: an office behind one address may need a
    /// larger one per client.
    pub fn with_bursts(per_email: u32, per_client: u32) -> Self {
        let quota = |burst: u32, every: Duration| {
            Quota::with_period(every)
                .map(|q| q.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)))
        };
        let per_email = quota(per_email, Duration::from_secs(6));
        let per_client = quota(per_client, Duration::from_secs(2));
        match (per_email, per_client) {
            (Some(per_email), Some(per_client)) => Self::new(per_email, per_client),
            // Unreachable with non-zero periods; fall back to the most permissive valid quota.
            _ => Self::new(
                Quota::per_second(NonZeroU32::MAX),
                Quota::per_second(NonZeroU32::MAX),
            ),
        }
    }

    /// Counts one attempt; `Err(seconds)` says how long to wait before the next.
    pub fn check(&self, email: &str, client: &str) -> Result<(), u64> {
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| {
            use governor::clock::Clock;
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        };
        self.per_client
            .check_key(&client.to_owned())
            .map_err(wait)?;
        self.per_email
            .check_key(&email.trim().to_lowercase())
            .map_err(wait)?;
        Ok(())
    }
}
