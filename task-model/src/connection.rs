//! Marketplace connections: which marketplaces a seller can connect, what each needs, and
//! a connection as the browser sees it (credentials named, never shown).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A marketplace contract Stockroom speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Marketplace {
    /// The built-in sandbox's own listings contract: one item a call, a final answer.
    Sandbox,
    /// Amazon Selling Partner API, Listings Items 2021-08-01.
    Amazon,
    /// eBay Sell Inventory API, in 25-item bulk calls.
    Ebay,
}

impl Marketplace {
    pub const ALL: [Marketplace; 3] = [Self::Sandbox, Self::Amazon, Self::Ebay];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Amazon => "amazon",
            Self::Ebay => "ebay",
        }
    }

    /// What the seller reads.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Sandbox => "Sandbox marketplace",
            Self::Amazon => "Amazon",
            Self::Ebay => "eBay",
        }
    }

    /// The credentials a connection must have, in the order a form asks for them.
    pub const fn credentials(self) -> &'static [&'static str] {
        match self {
            Self::Sandbox => &[],
            Self::Amazon | Self::Ebay => &["client_id", "client_secret", "refresh_token"],
        }
    }

    /// What a credential is called on the marketplace's own developer pages.
    pub fn credential_label(self, name: &str) -> &'static str {
        match (self, name) {
            (Self::Amazon, "client_id") => "LWA client ID",
            (Self::Amazon, "client_secret") => "LWA client secret",
            (Self::Amazon, "refresh_token") => "LWA refresh token",
            (Self::Ebay, "client_id") => "App ID (client ID)",
            (Self::Ebay, "client_secret") => "Cert ID (client secret)",
            (Self::Ebay, "refresh_token") => "User refresh token",
            _ => "Credential",
        }
    }

    /// What the marketplace calls the seller's account.
    pub const fn account_label(self) -> &'static str {
        match self {
            Self::Sandbox => "Account",
            Self::Amazon => "Selling partner ID",
            Self::Ebay => "eBay user ID",
        }
    }

    /// The marketplace (site) listings go to unless the seller says otherwise.
    pub const fn default_marketplace_id(self) -> &'static str {
        match self {
            Self::Sandbox => "default",
            Self::Amazon => "ATVPDKIKX0DER",
            Self::Ebay => "EBAY_US",
        }
    }

    /// The production API, for a connection that names no base URL. The sandbox has
    /// none: it is the server's own.
    pub const fn production_url(self) -> Option<&'static str> {
        match self {
            Self::Sandbox => None,
            Self::Amazon => Some("https://sellingpartnerapi-na.amazon.com"),
            Self::Ebay => Some("https://api.ebay.com"),
        }
    }

    /// The hosts of the marketplace's own APIs (production and its sandbox): the only
    /// ones a connection may name besides this server's built-in sandbox, so credentials
    /// never go to, and "Test connection" never probes, any other address.
    pub const fn api_hosts(self) -> &'static [&'static str] {
        match self {
            Self::Sandbox => &[],
            Self::Amazon => &[
                "sellingpartnerapi-na.amazon.com",
                "sellingpartnerapi-eu.amazon.com",
                "sellingpartnerapi-fe.amazon.com",
                "sandbox.sellingpartnerapi-na.amazon.com",
                "sandbox.sellingpartnerapi-eu.amazon.com",
                "sandbox.sellingpartnerapi-fe.amazon.com",
            ],
            Self::Ebay => &["api.ebay.com", "api.sandbox.ebay.com"],
        }
    }
}

crate::named!(Marketplace, "marketplace");

/// What a marketplace's API can do, which shapes how Stockroom sends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Items one write call carries (1: a call per item).
    pub batch_size: u32,
    /// Calls one batch of a publish takes (eBay: inventory items, offers, publish).
    pub calls_per_batch: u32,
    /// A listing's fields can be changed without sending it whole.
    pub partial_update: bool,
    /// A write is answered "accepted" and processed afterwards: the item waits, and is
    /// checked on, until the marketplace says how it went.
    pub asynchronous: bool,
    /// Write calls a second per account, when the marketplace limits them that way.
    pub per_second: Option<u32>,
    /// Calls a day per application and user, when that is the limit.
    pub per_day: Option<u32>,
}

impl Marketplace {
    pub const fn capabilities(self) -> Capabilities {
        match self {
            Self::Sandbox => Capabilities {
                batch_size: 1,
                calls_per_batch: 1,
                partial_update: false,
                asynchronous: false,
                per_second: None,
                per_day: None,
            },
            Self::Amazon => Capabilities {
                batch_size: 1,
                // The submission, then at least one check of how processing went.
                calls_per_batch: 2,
                partial_update: true,
                asynchronous: true,
                per_second: Some(5),
                per_day: None,
            },
            Self::Ebay => Capabilities {
                batch_size: 25,
                calls_per_batch: 3,
                partial_update: false,
                asynchronous: false,
                per_second: None,
                per_day: Some(2_000_000),
            },
        }
    }
}

/// The last "Test connection": when, whether it worked, what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub message: String,
}

/// A connection as the API and the browser see it: which credentials are set, never
/// their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Connection {
    pub id: i64,
    pub marketplace: Marketplace,
    pub name: String,
    pub account: String,
    pub marketplace_id: String,
    pub base_url: String,
    /// The names of the credentials stored (sealed) for this connection.
    pub credentials_set: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_test: Option<ConnectionTest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for marketplace in Marketplace::ALL {
            assert_eq!(
                Marketplace::try_from(marketplace.as_str()).unwrap(),
                marketplace
            );
            assert_eq!(
                serde_json::to_value(marketplace).unwrap(),
                marketplace.as_str()
            );
        }
        assert!(Marketplace::try_from("etsy").is_err());
    }

    #[test]
    fn every_credential_has_a_label() {
        for marketplace in Marketplace::ALL {
            for name in marketplace.credentials() {
                assert_ne!(marketplace.credential_label(name), "Credential");
            }
        }
    }
}
