//! The marketplaces a seller connects, and how Stockroom talks to each: the built-in
//! sandbox's listings contract, Amazon SP-API Listings Items, eBay Inventory. This module
//! holds what every connection shares — the server key that opens credentials, an HTTP
//! client, the access tokens — and "Test connection".

pub mod tokens;

use chrono::Utc;
use sea_orm::ConnectionTrait;

use crate::connections::{self, ConnectionError, Opened};
use crate::secrets::SecretKey;
use task_model::{ConnectionTest, Marketplace};
use tokens::{TokenError, Tokens};

/// Everything needed to reach a seller's marketplaces.
pub struct Marketplaces {
    key: Option<SecretKey>,
    sandbox_url: String,
    http: reqwest::Client,
    tokens: Tokens,
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
        })
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
        match connection.marketplace {
            Marketplace::Amazon
                if Some(connection.base_url.as_str()) == Marketplace::Amazon.production_url() =>
            {
                "https://api.amazon.com/auth/o2/token".to_owned()
            }
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

    async fn probe(&self, opened: &Opened) -> Result<String, String> {
        let connection = &opened.connection;
        let base = &connection.base_url;
        let token = match self.access_token(opened).await {
            Ok(token) => token,
            Err(err) => {
                // A refused refresh token will not get better by asking again.
                self.tokens.forget(connection.id);
                return Err(err.to_string());
            }
        };
        let request = match connection.marketplace {
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
                .header("x-amz-access-token", &token),
            Marketplace::Ebay => self
                .http
                .get(format!("{base}/sell/inventory/v1/inventory_item"))
                .query(&[("limit", "1")])
                .bearer_auth(&token),
        };
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

/// A SKU no seller has: reading it proves the account answers without touching anything.
const PROBE_SKU: &str = "stockroom-connection-test";

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}
