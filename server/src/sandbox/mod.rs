//! The sandbox marketplace: a stand-in third party with the contract of a real listings
//! API (modelled on a listings PUT by SKU that answers `ACCEPTED` or a list of issues).
//! Realistic by default and dialable by environment: latency, a per-account rate limit
//! that answers 429 with `Retry-After`, a share of transient 5xx and timeouts, and
//! validation issues that follow deterministically from the item's data. It honours
//! `Idempotency-Key` and reports what it did at `/_stats`, so tests can prove "published
//! exactly once". Mounted at `/sandbox/marketplace`, or run alone with `stockroom sandbox`.

pub mod amazon;
pub mod ebay;
mod rules;
mod settings;

pub use rules::{validate, Issue, ListingRequest, Money};
pub use settings::{SandboxSettings, SettingsError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MOUNT: &str = "/sandbox/marketplace";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountStats {
    pub listings: u64,
    pub create_requests: u64,
    pub idempotent_replays: u64,
    pub rate_limited: u64,
}

/// A live listing: its id and what the last accepted request said.
#[derive(Debug, Clone)]
pub struct Listed {
    pub listing_id: String,
    pub listing: ListingRequest,
}

#[derive(Default)]
struct Account {
    /// SKU → the listing.
    listings: BTreeMap<String, Listed>,
    stats: AccountStats,
}

struct Stored {
    status: StatusCode,
    body: Value,
}

struct Inner {
    settings: SandboxSettings,
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    accounts: Mutex<BTreeMap<String, Account>>,
    /// (account, idempotency key) → the first response.
    replies: Mutex<HashMap<(String, String), Stored>>,
    rng: Mutex<StdRng>,
    next_listing: Mutex<u64>,
    /// Every call answers 503 while on: a marketplace incident, switched by `PUT /_outage`.
    outage: std::sync::atomic::AtomicBool,
    /// Amazon's Listings Items contract, under `/amazon`.
    amazon: amazon::AmazonContract,
    /// eBay's Inventory contract, under `/ebay`.
    ebay: ebay::EbayContract,
}

#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Self {
        let rate = NonZeroU32::new(settings.rate_limit).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::keyed(quota),
                accounts: Mutex::new(BTreeMap::new()),
                replies: Mutex::new(HashMap::new()),
                rng: Mutex::new(StdRng::seed_from_u64(settings.seed)),
                next_listing: Mutex::new(1),
                outage: std::sync::atomic::AtomicBool::new(false),
                amazon: amazon::AmazonContract::new(settings.rate_limit, settings.burst),
                ebay: ebay::EbayContract::default(),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &SandboxSettings {
        &self.inner.settings
    }

    /// Amazon's contract (its listings, tokens and timing).
    pub fn amazon(&self) -> &amazon::AmazonContract {
        &self.inner.amazon
    }

    /// eBay's contract (its inventory, offers, tokens and quota).
    pub fn ebay(&self) -> &ebay::EbayContract {
        &self.inner.ebay
    }

    /// The routes, to be nested under [`MOUNT`].
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/listings/{account}/{sku}",
                put(put_listing).delete(delete_listing).get(get_listing),
            )
            .route("/media/check", get(check_media))
            .route("/_stats", get(stats))
            .route("/_outage", put(set_outage))
            .route("/_amazon", put(amazon::set_timing))
            .nest("/amazon", amazon::router())
            .route("/_ebay", put(ebay::set_limits))
            .nest("/ebay", ebay::router())
            .with_state(self.clone())
    }

    pub fn stats(&self) -> (AccountStats, BTreeMap<String, AccountStats>) {
        let accounts = self
            .inner
            .accounts
            .lock()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.clone(), v.stats.clone()))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();
        let mut total = AccountStats::default();
        for stats in accounts.values() {
            total.listings += stats.listings;
            total.create_requests += stats.create_requests;
            total.idempotent_replays += stats.idempotent_replays;
            total.rate_limited += stats.rate_limited;
        }
        (total, accounts)
    }

    /// The live listing of `sku` in `account`, as the marketplace has it.
    pub fn listing(&self, account: &str, sku: &str) -> Option<Listed> {
        self.with_account(account, |a| a.listings.get(sku).cloned())
    }

    /// The sandbox on a free local port, as a separate service would be: its base URL.
    pub async fn serve_local(settings: SandboxSettings) -> std::io::Result<(Sandbox, String)> {
        let sandbox = Sandbox::new(settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().nest(MOUNT, sandbox.router());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "the local sandbox stopped");
            }
        });
        Ok((sandbox, format!("http://{addr}{MOUNT}")))
    }

    /// Starts or ends an outage: while it lasts every call answers 503.
    pub fn set_outage(&self, on: bool) {
        self.inner
            .outage
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn outage(&self) -> bool {
        self.inner.outage.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn with_account<T>(&self, account: &str, f: impl FnOnce(&mut Account) -> T) -> T {
        let mut accounts = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(accounts.entry(account.to_owned()).or_default())
    }

    /// Latency, rate limit and transient failures shared by every call. `Ok(true)` means
    /// the call is acted on and then hangs before its answer.
    async fn weather(&self, account: &str) -> Result<bool, Response> {
        let (latency, roll) = self.roll();
        if let Err(not_until) = self.inner.limiter.check_key(&account.to_owned()) {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.with_account(account, |a| a.stats.rate_limited += 1);
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, retry_after.to_string())],
                Json(json!({ "errors": [{ "code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource." }] })),
            )
                .into_response());
        }
        self.conditions(latency, roll).await
    }

    /// One roll of the dice for a call already let through a contract's rate limit.
    fn roll(&self) -> (u64, f64) {
        let mut rng = self
            .inner
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (low, high) = self.inner.settings.latency_ms;
        (rng.gen_range(low..=high.max(low)), rng.gen::<f64>())
    }

    /// Latency, outages and transient failures, the same for every contract. `Ok(true)`
    /// means the call is acted on and then hangs before its answer.
    async fn conditions(&self, latency: u64, roll: f64) -> Result<bool, Response> {
        tokio::time::sleep(Duration::from_millis(latency)).await;
        if self.outage() {
            return Err(unavailable());
        }
        let rate = self.inner.settings.transient_error_rate;
        if roll < rate / 2.0 {
            return Err(unavailable());
        }
        if roll < rate * 0.75 {
            // A request that hangs before it is acted on, until the client gives up.
            tokio::time::sleep(HANG).await;
        }
        Ok(roll >= rate * 0.75 && roll < rate)
    }
}

/// How long a hanging call hangs: longer than any client waits.
const HANG: Duration = Duration::from_secs(60);

/// The answer, after the hang a call drew (acted on, then silent until the client gives up).
async fn answer(hang_after: bool, response: Response) -> Response {
    if hang_after {
        tokio::time::sleep(HANG).await;
    }
    response
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "errors": [{ "code": "ServiceUnavailable", "message": "Temporary failure. Retry later." }] })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct OutageBody {
    on: bool,
}

/// `PUT /_outage {"on": true}`: the sandbox answers every call with 503 until switched
/// off, so a demo or a test can show what an incident looks like and how it is retried.
async fn set_outage(State(sandbox): State<Sandbox>, Json(body): Json<OutageBody>) -> Json<Value> {
    sandbox.set_outage(body.on);
    Json(json!({ "outage": body.on }))
}

#[derive(Serialize)]
struct ListingReply {
    sku: String,
    status: &'static str,
    submission_id: String,
    listing_id: Option<String>,
    issues: Vec<Issue>,
}

async fn put_listing(
    State(sandbox): State<Sandbox>,
    Path((account, sku)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<ListingRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let hang_after = match sandbox.weather(&account).await {
        Ok(hang_after) => hang_after,
        Err(response) => return response,
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = sandbox.put_once(account, sku, key, body.map(|Json(l)| l));
    answer(hang_after, (status, Json(body)).into_response()).await
}

impl Sandbox {
    /// Looks the key up, acts on the request and stores its answer under one lock: two
    /// tries with the same key, however close, act once; the later one is a replay.
    fn put_once(
        &self,
        account: String,
        sku: String,
        key: Option<String>,
        body: Result<ListingRequest, axum::extract::rejection::JsonRejection>,
    ) -> (StatusCode, Value) {
        let mut replies = self.inner.replies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stored) = key
            .as_ref()
            .and_then(|key| replies.get(&(account.clone(), key.clone())))
        {
            let reply = (stored.status, stored.body.clone());
            self.with_account(&account, |a| a.stats.idempotent_replays += 1);
            return reply;
        }
        let (status, body) = match body {
            Err(rejection) => (
                StatusCode::BAD_REQUEST,
                json!({ "errors": [{ "code": "InvalidInput", "message": rejection.body_text() }] }),
            ),
            Ok(listing) => {
                let issues = validate(&sku, &listing);
                let submission_id = {
                    let mut next = self
                        .inner
                        .next_listing
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    *next += 1;
                    format!("sub-{:08}", *next)
                };
                let reply = self.with_account(&account, |a| {
                    a.stats.create_requests += 1;
                    if issues.is_empty() {
                        // A new listing, or an update of the one this SKU has.
                        let listed = a.listings.entry(sku.clone()).or_insert_with(|| Listed {
                            listing_id: format!("MKT-{account}-{sku}"),
                            listing: listing.clone(),
                        });
                        listed.listing = listing;
                        let listing_id = listed.listing_id.clone();
                        a.stats.listings = a.listings.len() as u64;
                        ListingReply {
                            sku: sku.clone(),
                            status: "ACCEPTED",
                            submission_id,
                            listing_id: Some(listing_id),
                            issues,
                        }
                    } else {
                        ListingReply {
                            sku: sku.clone(),
                            status: "INVALID",
                            submission_id,
                            listing_id: None,
                            issues,
                        }
                    }
                });
                (
                    StatusCode::OK,
                    serde_json::to_value(reply).unwrap_or(Value::Null),
                )
            }
        };
        if let Some(key) = key {
            replies.insert(
                (account, key),
                Stored {
                    status,
                    body: body.clone(),
                },
            );
        }
        (status, body)
    }
}

async fn delete_listing(
    State(sandbox): State<Sandbox>,
    Path((account, sku)): Path<(String, String)>,
) -> Response {
    let hang_after = match sandbox.weather(&account).await {
        Ok(hang_after) => hang_after,
        Err(response) => return response,
    };
    // Deleting is naturally idempotent: a second delete finds nothing and says so.
    let removed = sandbox.with_account(&account, |a| {
        let removed = a.listings.remove(&sku);
        a.stats.listings = a.listings.len() as u64;
        removed.map(|listed| listed.listing_id)
    });
    let response = match removed {
        Some(listing_id) => (StatusCode::OK, Json(json!({ "sku": sku, "status": "DELETED", "listing_id": listing_id }))).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "sku": sku, "status": "NOT_FOUND", "errors": [{ "code": "NotFound", "message": "No listing for this SKU." }] }))).into_response(),
    };
    answer(hang_after, response).await
}

async fn get_listing(
    State(sandbox): State<Sandbox>,
    Path((account, sku)): Path<(String, String)>,
) -> Response {
    // Down is down: reads too (the probe of a breaker is a read).
    if sandbox.outage() {
        return unavailable();
    }
    match sandbox.listing(&account, &sku) {
        Some(Listed {
            listing_id,
            listing,
        }) => Json(json!({ "sku": sku, "listing_id": listing_id, "listing": listing }))
            .into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "errors": [{ "code": "NotFound", "message": "No listing for this SKU." }] }))).into_response(),
    }
}

#[derive(Deserialize)]
struct MediaQuery {
    url: String,
    account: Option<String>,
}

async fn check_media(State(sandbox): State<Sandbox>, Query(query): Query<MediaQuery>) -> Response {
    let account = query.account.unwrap_or_else(|| "media".into());
    let hang_after = match sandbox.weather(&account).await {
        Ok(hang_after) => hang_after,
        Err(response) => return response,
    };
    let issue = rules::media_issue(&query.url);
    answer(
        hang_after,
        Json(json!({ "url": query.url, "ok": issue.is_none(), "issue": issue })).into_response(),
    )
    .await
}

async fn stats(State(sandbox): State<Sandbox>) -> Json<Value> {
    let (total, accounts) = sandbox.stats();
    Json(json!({
        "listings": total.listings,
        "create_requests": total.create_requests,
        "idempotent_replays": total.idempotent_replays,
        "rate_limited": total.rate_limited,
        "accounts": accounts,
        "amazon": sandbox.amazon().stats(),
        "ebay": sandbox.ebay().stats(),
    }))
}
