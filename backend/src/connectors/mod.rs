//! The marketplaces a seller connects, and how Stockroom talks to each: the built-in
//! sandbox's listings contract, Amazon SP-API Listings Items, eBay Inventory. This module
//! holds what every connection shares — the server key that opens credentials, an HTTP
//! client, the access tokens — and "Test connection".

pub mod amazon;
pub mod ebay;
pub mod listings;
pub mod tokens;

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::catalog::{self, CatalogError};
use crate::connections::{self, ConnectionError, Opened};
use crate::listings::ItemIds;
use crate::marketplace::CallError;
use crate::pacing::{Pace, Pacer, Turn};
use crate::secrets::SecretKey;
use crate::tasks::{ItemContext, Outcome};
use task_model::{ConnectionTest, Marketplace};
use tokens::{TokenError, Tokens};

/// Everything needed to reach a seller's marketplaces.
pub struct Marketplaces {
    key: Option<SecretKey>,
    sandbox_url: String,
    http: reqwest::Client,
    tokens: Tokens,
    /// Our pace per connection, under each marketplace's documented limit.
    pacer: Pacer,
}

impl Marketplaces {
    /// `key` seals and opens credentials; `sandbox_url` is where the built-in sandbox
    /// answers (a sandbox connection's default).
    pub fn new(key: Option<SecretKey>, sandbox_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("stockroom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            key,
            sandbox_url: sandbox_url.trim_end_matches('/').to_owned(),
            http,
            tokens: Tokens::default(),
            // Amazon's Listings Items: 5 requests a second per selling partner, burst 5.
            pacer: Pacer::in_memory(Pace {
                per_second: 5,
                burst: 5,
            }),
        })
    }

    /// Keeps the pace across every instance that shares `db` (on PostgreSQL), as the
    /// built-in marketplace's connector does: a seller's quota is one, however many
    /// servers send.
    pub fn shared_pace(mut self, db: &sea_orm::DatabaseConnection) -> Self {
        self.pacer = Pacer::shared(self.pacer.pace(), db);
        self
    }

    /// The marketplace said 429: everyone waits for the connection's quota.
    pub(crate) async fn hold_off(&self, key: &str, wait: chrono::Duration) {
        crate::telemetry::rate_limited(key);
        if let Err(err) = self
            .pacer
            .hold_off(key, wait.to_std().unwrap_or_default())
            .await
        {
            tracing::warn!(%err, key, "could not record the marketplace's hold-off");
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Waits for the connection's turn; a long hold-off (after a 429) is a snooze.
    pub(crate) async fn pace(&self, key: &str) -> Result<(), CallError> {
        match self.pacer.turn(key).await {
            Ok(Turn::After(wait)) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Ok(Turn::HeldOff(wait)) => Err(CallError::Transient {
                code: "rate_limited",
                message: "Waiting for marketplace quota.".into(),
                retry_after: chrono::Duration::from_std(wait).ok(),
            }),
            Err(err) => Err(CallError::Transient {
                code: "pace_unavailable",
                message: format!("The marketplace pace could not be read: {err}"),
                retry_after: None,
            }),
        }
    }

    pub fn key(&self) -> Option<&SecretKey> {
        self.key.as_ref()
    }

    pub fn sandbox_url(&self) -> &str {
        &self.sandbox_url
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Where a connection's access tokens come from.
    pub fn token_url(opened: &Opened) -> String {
        let connection = &opened.connection;
        let official = url::Url::parse(&connection.base_url)
            .ok()
            .is_some_and(|url| {
                url.host_str()
                    .is_some_and(|host| connection.marketplace.api_hosts().contains(&host))
            });
        match connection.marketplace {
            // Login with Amazon serves every region's SP-API (and its sandbox).
            Marketplace::Amazon if official => "https://api.amazon.com/auth/o2/token".to_owned(),
            Marketplace::Amazon => format!("{}/auth/o2/token", connection.base_url),
            Marketplace::Ebay | Marketplace::Sandbox => {
                format!("{}/identity/v1/oauth2/token", connection.base_url)
            }
        }
    }

    /// An access token for the connection (none for the sandbox contract).
    pub async fn access_token(&self, opened: &Opened) -> Result<String, TokenError> {
        self.tokens
            .get(
                &self.http,
                opened.connection.id,
                opened.connection.marketplace,
                &Self::token_url(opened),
                &opened.credentials,
            )
            .await
    }

    /// "Test connection": signs in and makes one harmless read, then remembers and
    /// answers what was found.
    pub async fn test(
        &self,
        db: &impl ConnectionTrait,
        seller_id: i64,
        id: i64,
    ) -> Result<task_model::Connection, ConnectionError> {
        let opened = connections::open(db, self.key(), seller_id, id).await?;
        let (ok, message) = match self.probe(&opened).await {
            Ok(found) => (true, found),
            Err(problem) => (false, problem),
        };
        let test = ConnectionTest {
            at: Utc::now(),
            ok,
            message,
        };
        connections::record_test(db, seller_id, id, &test).await
    }

    /// Whether the connection's marketplace answers at all (its circuit breaker's probe):
    /// `Err` only when it does not — a 5xx, a timeout, no connection. A refusal is an
    /// answer: the items then fail or succeed on their own.
    pub async fn reachable(
        &self,
        db: &impl ConnectionTrait,
        seller_id: i64,
        id: i64,
    ) -> Result<(), String> {
        let Ok(opened) = connections::open(db, self.key(), seller_id, id).await else {
            // Gone or unreadable: not an outage; the items say what is wrong.
            return Ok(());
        };
        let token = match self.access_token(&opened).await {
            Ok(token) => token,
            Err(TokenError::Unavailable(problem)) => return Err(problem),
            Err(TokenError::Refused { .. }) => return Ok(()),
        };
        let label = opened.connection.marketplace.label();
        match self.probe_request(&opened, &token).send().await {
            Ok(response) if response.status().is_server_error() => {
                Err(format!("{label} answered {}.", response.status()))
            }
            Ok(_) => Ok(()),
            Err(err) => Err(format!(
                "{label} could not be reached: {}",
                tokens::without_url(&err)
            )),
        }
    }

    /// The connection's cheapest read: a listing that does not exist, or one inventory
    /// item.
    fn probe_request(&self, opened: &Opened, token: &str) -> reqwest::RequestBuilder {
        let connection = &opened.connection;
        let base = &connection.base_url;
        match connection.marketplace {
            Marketplace::Sandbox => self.http.get(format!(
                "{base}/listings/{}/{}",
                encode(&connection.account),
                PROBE_SKU
            )),
            Marketplace::Amazon => self
                .http
                .get(format!(
                    "{base}/listings/2021-08-01/items/{}/{}",
                    encode(&connection.account),
                    PROBE_SKU
                ))
                .query(&[("marketplaceIds", connection.marketplace_id.as_str())])
                .header("x-amz-access-token", token),
            Marketplace::Ebay => self
                .http
                .get(format!("{base}/sell/inventory/v1/inventory_item"))
                .query(&[("limit", "1")])
                .bearer_auth(token),
        }
    }

    async fn probe(&self, opened: &Opened) -> Result<String, String> {
        let connection = &opened.connection;
        let token = match self.access_token(opened).await {
            Ok(token) => token,
            Err(err) => {
                // A refused refresh token will not get better by asking again.
                self.tokens.forget(connection.id);
                return Err(err.to_string());
            }
        };
        let request = self.probe_request(opened, &token);
        let response = request.send().await.map_err(|err| {
            format!(
                "{} could not be reached: {}",
                connection.marketplace.label(),
                tokens::without_url(&err)
            )
        })?;
        let status = response.status();
        match (connection.marketplace, status.as_u16()) {
            // The probe's SKU does not exist: the account answered.
            (Marketplace::Sandbox, 404) | (Marketplace::Sandbox, 200) => Ok(format!(
                "Connected: the sandbox marketplace answers for account {}.",
                connection.account
            )),
            (Marketplace::Amazon, 404) | (Marketplace::Amazon, 200) => Ok(format!(
                "Connected: signed in with Login with Amazon; selling partner {} answers on marketplace {}.",
                connection.account, connection.marketplace_id
            )),
            (Marketplace::Ebay, 200) => {
                let total = response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|body| body.get("total")?.as_u64())
                    .unwrap_or(0);
                Ok(format!(
                    "Connected: signed in to eBay; {} in the seller's inventory.",
                    task_model::plural(total as i64, "item", "items")
                ))
            }
            (_, 401 | 403) => {
                self.tokens.forget(connection.id);
                Err(format!(
                    "{} refused the access for account {} ({status}). Check the account and that the app is authorised for it.",
                    connection.marketplace.label(),
                    connection.account
                ))
            }
            _ => Err(format!(
                "{} answered {status}; try again in a moment.",
                connection.marketplace.label()
            )),
        }
    }
}

/// Publishes one item through a connection (a marketplace other than the built-in one).
pub async fn publish(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    task_item: &ItemContext<ItemIds, i64>,
    connection_id: i64,
) -> Outcome {
    let (opened, item) = match prepare(db, marketplaces, task_item, connection_id).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    match opened.connection.marketplace {
        Marketplace::Amazon => publish_amazon(db, marketplaces, &opened, task_item, &item).await,
        other => Outcome::failed(
            "marketplace_not_supported",
            format!(
                "Publishing to {} connections is not available yet.",
                other.label()
            ),
        ),
    }
}

/// Takes an item's listing down from a connection's marketplace.
pub async fn unpublish(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    task_item: &ItemContext<ItemIds, i64>,
    connection_id: i64,
) -> Outcome {
    let (opened, item) = match prepare(db, marketplaces, task_item, connection_id).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let done = match opened.connection.marketplace {
        Marketplace::Amazon => {
            amazon::Amazon::new(marketplaces, &opened)
                .delete(&item.sku)
                .await
        }
        Marketplace::Ebay => ebay::unpublish(db, marketplaces, &opened, &item).await,
        other => {
            return Outcome::failed(
                "marketplace_not_supported",
                format!(
                    "Unpublishing from {} connections is not available yet.",
                    other.label()
                ),
            )
        }
    };
    if let Err(err) = done {
        return crate::listings::outcome_of(err);
    }
    let recorded = listings::record(
        db,
        listings::Record {
            seller_id: task_item.seller_id,
            item_id: item.id,
            connection_id,
            state: listings::State::Removed,
            reference: None,
            submission_id: None,
            task_item_id: None,
            issues: None,
        },
        chrono::Utc::now(),
    )
    .await;
    match recorded {
        Ok(()) => {
            Outcome::Succeeded(json!({ "unpublished": item.sku, "connection_id": connection_id }))
        }
        Err(err) => Outcome::retry("database_unavailable", err.to_string()),
    }
}

async fn prepare(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    task_item: &ItemContext<ItemIds, i64>,
    connection_id: i64,
) -> Result<(Opened, catalog::Item), Outcome> {
    let opened = open(db, marketplaces, task_item.seller_id, connection_id).await?;
    let item = load_item(db, task_item).await?;
    Ok((opened, item))
}

/// The item a task item stands for, or the outcome when it cannot be read.
pub(crate) async fn load_item(
    db: &sea_orm::DatabaseConnection,
    task_item: &ItemContext<ItemIds, i64>,
) -> Result<catalog::Item, Outcome> {
    match catalog::get(db, task_item.seller_id, task_item.subject).await {
        Ok(item) => Ok(item),
        Err(CatalogError::NotFound) => Err(Outcome::failed(
            "item_not_found",
            "The item was deleted before it could be sent.",
        )),
        Err(err) => Err(Outcome::retry("database_unavailable", err.to_string())),
    }
}

/// The seller's connection with its credentials open, or the outcome for its items.
pub(crate) async fn open(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    seller_id: i64,
    connection_id: i64,
) -> Result<Opened, Outcome> {
    match connections::open(db, marketplaces.key(), seller_id, connection_id).await {
        Ok(opened) => Ok(opened),
        Err(ConnectionError::NotFound) => Err(Outcome::failed(
            "connection_missing",
            "The marketplace connection was removed before the item could be sent.",
        )),
        Err(ConnectionError::Db(err)) => {
            Err(Outcome::retry("database_unavailable", err.to_string()))
        }
        // The key is being rotated, or this instance has another one: another instance
        // (or this one, restarted) can open them.
        Err(err @ (ConnectionError::Sealed(_) | ConnectionError::NoKey)) => {
            Err(Outcome::retry("credentials_unreadable", err.to_string()))
        }
        Err(err) => Err(Outcome::failed("credentials_unreadable", err.to_string())),
    }
}

/// Submits the item to Amazon, or — when Amazon is still processing what was submitted —
/// checks on it: listed, refused with Amazon's issues, or still waiting.
async fn publish_amazon(
    db: &sea_orm::DatabaseConnection,
    marketplaces: &Marketplaces,
    opened: &Opened,
    task_item: &ItemContext<ItemIds, i64>,
    item: &catalog::Item,
) -> Outcome {
    let api = amazon::Amazon::new(marketplaces, opened);
    let connection_id = opened.connection.id;
    let now = chrono::Utc::now();
    let record = |state,
                  reference: Option<String>,
                  submission: Option<String>,
                  issues: Option<serde_json::Value>| async move {
        listings::record(
            db,
            listings::Record {
                seller_id: task_item.seller_id,
                item_id: item.id,
                connection_id,
                state,
                reference: reference.as_deref(),
                submission_id: submission.as_deref(),
                task_item_id: Some(task_item.item_id),
                issues: issues.as_ref(),
            },
            now,
        )
        .await
    };
    let processing = match listings::get(db, item.id, connection_id).await {
        // Only the submission this task item made is checked on: one left processing by
        // a cancelled or timed-out task is superseded by a new submission.
        Ok(row) => row.filter(|row| {
            row.state == listings::State::Processing.as_str()
                && row.task_item_id == Some(task_item.item_id)
        }),
        Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
    };
    if let Some(row) = processing {
        let submitted = row.submitted_at.unwrap_or(row.updated_at);
        let outcome = match api.check(&item.sku).await {
            Err(err) => return crate::listings::outcome_of(err),
            Ok(None) if now - submitted > amazon::PROCESSING_LIMIT => Outcome::failed(
                "marketplace_processing_timeout",
                "Amazon accepted the listing but has not finished processing it after 30 minutes. Retry to check again.",
            ),
            // What Amazon shows is the listing from before this submission: an update
            // of a live SKU is still being processed.
            Ok(Some(processed))
                if processed
                    .last_updated
                    .is_some_and(|at| at < submitted - chrono::Duration::seconds(2))
                    && now - submitted <= amazon::PROCESSING_LIMIT =>
            {
                return Outcome::Waiting {
                    check_after: amazon::next_check(submitted, now),
                    note: waiting_note(row.submission_id.as_deref()),
                }
            }
            Ok(None) => {
                return Outcome::Waiting {
                    check_after: amazon::next_check(submitted, now),
                    note: waiting_note(row.submission_id.as_deref()),
                }
            }
            Ok(Some(processed)) if processed.errors.is_empty() => {
                if let Err(err) = record(listings::State::Listed, processed.asin.clone(), None, None).await {
                    return Outcome::retry("database_unavailable", err.to_string());
                }
                return Outcome::Succeeded(json!({
                    "connection_id": connection_id,
                    "asin": processed.asin,
                    "buyable": processed.buyable,
                }));
            }
            Ok(Some(processed)) => {
                let err = refusal(processed.errors);
                let details = match &err {
                    CallError::Permanent { issues, .. } => Some(json!(issues)),
                    _ => None,
                };
                if let Err(db_err) = record(listings::State::Refused, processed.asin, None, details).await {
                    return Outcome::retry("database_unavailable", db_err.to_string());
                }
                crate::listings::outcome_of(err)
            }
        };
        return outcome;
    }
    match api.put(item).await {
        Err(err) => crate::listings::outcome_of(err),
        Ok(submission) if submission.accepted => {
            if let Err(err) = record(
                listings::State::Processing,
                None,
                Some(submission.submission_id.clone()),
                None,
            )
            .await
            {
                // Sent and accepted, not remembered: the retry sends the same listing
                // again, which Amazon takes as the same SKU's update.
                return Outcome::retry("database_unavailable", err.to_string());
            }
            Outcome::Waiting {
                check_after: amazon::next_check(now, now),
                note: waiting_note(Some(&submission.submission_id)),
            }
        }
        Ok(submission) => {
            let err = refusal(submission.issues);
            if let CallError::Permanent { issues, .. } = &err {
                if let Err(db_err) = record(
                    listings::State::Refused,
                    None,
                    Some(submission.submission_id),
                    Some(json!(issues)),
                )
                .await
                {
                    return Outcome::retry("database_unavailable", db_err.to_string());
                }
            }
            crate::listings::outcome_of(err)
        }
    }
}

/// What a waiting item shows: the submission Amazon is processing.
fn waiting_note(submission: Option<&str>) -> serde_json::Value {
    json!({
        "waiting": "Accepted by the marketplace, which is processing it.",
        "submission_id": submission,
    })
}

/// A refusal with the marketplace's issues, coded by the first one.
fn refusal(issues: Vec<crate::marketplace::Issue>) -> CallError {
    let code = issues
        .first()
        .map(|issue| issue.code.clone())
        .unwrap_or_else(|| "listing_rejected".into());
    let message = issues
        .iter()
        .map(|issue| issue.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    CallError::Permanent {
        code,
        message: if message.is_empty() {
            "The marketplace refused the listing without saying why.".into()
        } else {
            message
        },
        issues,
    }
}

pub(crate) fn token_error(err: TokenError) -> CallError {
    match err {
        refused @ TokenError::Refused { .. } => CallError::Permanent {
            code: "marketplace_access_denied".into(),
            message: refused.to_string(),
            issues: Vec::new(),
        },
        TokenError::Unavailable(message) => CallError::Transient {
            code: "marketplace_unavailable",
            message,
            retry_after: None,
        },
    }
}

/// Sends one call to a marketplace account (`key`, its pace key) and counts it for the
/// operators: the outcome by status (`ok`, `rate_limited`, `marketplace_unavailable`,
/// `refused`) or the transport's failure, and the latency.
pub(crate) async fn send_counted(
    key: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, CallError> {
    let started = std::time::Instant::now();
    let sent = request.send().await;
    let outcome = match &sent {
        Ok(response) if response.status().is_success() => "ok",
        Ok(response) if response.status().as_u16() == 429 => "rate_limited",
        Ok(response) if response.status().is_server_error() => "marketplace_unavailable",
        Ok(_) => "refused",
        Err(err) if err.is_timeout() => "marketplace_timeout",
        Err(_) => "marketplace_unreachable",
    };
    crate::telemetry::marketplace_call(key, outcome, false, started.elapsed());
    sent.map_err(transport)
}

pub(crate) fn transport(err: reqwest::Error) -> CallError {
    CallError::Transient {
        code: if err.is_timeout() {
            "marketplace_timeout"
        } else {
            "marketplace_unreachable"
        },
        message: format!(
            "The marketplace could not be reached: {}",
            tokens::without_url(&err)
        ),
        retry_after: None,
    }
}

/// `Retry-After` in seconds, when the marketplace sent one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<chrono::Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()
        .map(chrono::Duration::seconds)
}

/// A SKU no seller has: reading it proves the account answers without touching anything.
const PROBE_SKU: &str = "stockroom-connection-test";

pub(crate) fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}
