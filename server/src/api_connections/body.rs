//! The body of `POST /api/v1/connections` as the API document states it: one variant per
//! marketplace, from the model's list of marketplaces, their credentials and hosts. The
//! server holds each request to it (see `openapi::bodies`) before the connection is made.
//!
//! The connection code behind it is more forgiving (it trims what a person typed into
//! the page's form); the API says up front what it takes, so a client never learns a rule
//! from a refusal, and everything the document allows, the connection code takes.

use std::collections::BTreeMap;

use app::error::{AppError, FieldError};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use task_model::connection::Marketplace;

use crate::api_error::ApiError;
use crate::extract::Checked;

/// Unicode's white space (what `str::trim` takes off), as a character class.
const SPACE: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`), as a character class.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// The longest name, account and credential, in characters.
const NAME_MAX: usize = 80;
const ACCOUNT_MAX: usize = 100;
const CREDENTIAL_MAX: usize = 4096;
/// What a base URL's path may hold.
const PATH: &str = r"(/[A-Za-z0-9._~/-]*)?";

/// A marketplace to connect.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    pub marketplace: String,
    /// Defaults to the marketplace's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Amazon's selling partner id, eBay's user id (any word for the sandbox).
    #[serde(default, deserialize_with = "present")]
    pub account: Option<String>,
    /// Amazon's marketplace id (`ATVPDKIKX0DER`), eBay's (`EBAY_US`).
    #[serde(default)]
    pub marketplace_id: Option<String>,
    /// Amazon and eBay: `client_id`, `client_secret`, `refresh_token`.
    #[serde(default, deserialize_with = "present")]
    pub credentials: Option<BTreeMap<String, String>>,
    /// The marketplace's API; defaults to its production URL (the built-in sandbox for
    /// `sandbox`).
    #[serde(default)]
    pub base_url: Option<String>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Says an unknown marketplace in words before the schema's `oneOf` does.
impl Checked for CreateConnection {
    fn check(&self) -> Result<(), ApiError> {
        if Marketplace::ALL
            .iter()
            .any(|m| m.as_str() == self.marketplace)
        {
            return Ok(());
        }
        let names: Vec<&str> = Marketplace::ALL.iter().map(|m| m.as_str()).collect();
        Err(ApiError(AppError::Validation {
            fields: vec![FieldError {
                field: "marketplace".into(),
                code: "unknown_marketplace".into(),
                message: format!("Choose a marketplace: {}.", names.join(", ")),
            }],
        }))
    }
}

/// The body's schema for this server (whose own sandbox is a base URL too).
pub struct ConnectionRules {
    sandbox_url: String,
}

fn account_pattern() -> String {
    format!("^[^{CONTROL}]*$")
}

fn account_required_pattern() -> String {
    format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")
}

fn marketplace_id_pattern() -> String {
    format!("^[{SPACE}]*[A-Za-z0-9_]{{0,40}}[{SPACE}]*$")
}

fn not_blank_pattern() -> String {
    format!("[^{SPACE}]")
}

/// The marketplace's own API hosts over https, or this server's sandbox; blank for the
/// default.
fn base_url_pattern(marketplace: Marketplace, sandbox_url: &str) -> String {
    let mut ways = vec![format!(
        "{}{PATH}",
        regex::escape(sandbox_url.trim_end_matches('/'))
    )];
    let hosts = marketplace.api_hosts();
    if !hosts.is_empty() {
        let hosts: Vec<String> = hosts.iter().map(|host| regex::escape(host)).collect();
        ways.push(format!("https://({}){PATH}", hosts.join("|")));
    }
    format!("^[{SPACE}]*({})?[{SPACE}]*$", ways.join("|"))
}

impl ConnectionRules {
    pub fn new(sandbox_url: &str) -> Self {
        Self {
            sandbox_url: sandbox_url.to_owned(),
        }
    }

    /// The document's schema of the body: a variant per marketplace.
    pub fn schema(&self) -> Value {
        let variants: Vec<Value> = Marketplace::ALL
            .into_iter()
            .map(|marketplace| self.variant(marketplace))
            .collect();
        json!({
            "description": "A marketplace to connect; what it takes depends on the marketplace.",
            "oneOf": variants,
        })
    }

    fn variant(&self, marketplace: Marketplace) -> Value {
        let sandbox = marketplace == Marketplace::Sandbox;
        let wanted = marketplace.credentials();
        let credential = json!({
            "type": "string",
            "maxLength": CREDENTIAL_MAX,
            "pattern": not_blank_pattern(),
        });
        let credentials = json!({
            "type": "object",
            "additionalProperties": false,
            "required": wanted,
            "properties": wanted
                .iter()
                .map(|name| ((*name).to_owned(), credential.clone()))
                .collect::<serde_json::Map<String, Value>>(),
        });
        let mut required = vec!["marketplace"];
        if !sandbox {
            required.extend(["account", "credentials"]);
        }
        json!({
            "title": marketplace.as_str(),
            "type": "object",
            "additionalProperties": false,
            "required": required,
            "properties": {
                "marketplace": { "type": "string", "enum": [marketplace.as_str()] },
                "name": {
                    "type": ["string", "null"],
                    "maxLength": NAME_MAX,
                    "description": format!("Defaults to “{}”; unique among the seller's connections.", marketplace.label()),
                },
                "account": {
                    "type": "string",
                    "maxLength": ACCOUNT_MAX,
                    "pattern": if sandbox { account_pattern() } else { account_required_pattern() },
                    "description": marketplace.account_label(),
                },
                "marketplace_id": {
                    "type": ["string", "null"],
                    "pattern": marketplace_id_pattern(),
                    "description": format!("Blank for {}.", marketplace.default_marketplace_id()),
                },
                "credentials": credentials,
                "base_url": {
                    "type": ["string", "null"],
                    "pattern": base_url_pattern(marketplace, &self.sandbox_url),
                    "description": "Blank for the marketplace's production API (the built-in sandbox for `sandbox`).",
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::bodies::BodySchemas;

    const SANDBOX: &str = "http://127.0.0.1:3000/sandbox/marketplace";
    const PATH: &str = "/api/v1/connections";

    fn schemas() -> BodySchemas {
        BodySchemas::from_doc(&json!({
            "paths": { PATH: { "post": { "requestBody": { "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/CreateConnection" } } } } } } },
            "components": { "schemas": { "CreateConnection": ConnectionRules::new(SANDBOX).schema() } },
        }))
    }

    #[test]
    fn what_the_document_allows_the_connection_code_takes() {
        let ebay = json!({
            "marketplace": "ebay", "account": " seller-1 ", "marketplace_id": " EBAY_DE ",
            "credentials": { "client_id": "a", "client_secret": "b", "refresh_token": "c" },
            "base_url": "https://api.sandbox.ebay.com/",
        });
        assert!(schemas().check("POST", PATH, &ebay).is_ok());
        let new = backend::connections::NewConnection {
            marketplace: "ebay".into(),
            name: String::new(),
            account: " seller-1 ".into(),
            marketplace_id: Some(" EBAY_DE ".into()),
            credentials: [
                ("client_id", "a"),
                ("client_secret", "b"),
                ("refresh_token", "c"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            base_url: Some("https://api.sandbox.ebay.com/".into()),
        };
        assert!(backend::connections::check_new(&new, SANDBOX).is_ok());
        let sandbox = json!({ "marketplace": "sandbox", "base_url": format!("{SANDBOX}/") });
        assert!(schemas().check("POST", PATH, &sandbox).is_ok());
    }

    #[test]
    fn what_the_document_refuses_is_refused() {
        let schemas = schemas();
        let full = |extra: Value| {
            let mut value = json!({
                "marketplace": "amazon", "account": "A1",
                "credentials": { "client_id": "a", "client_secret": "b", "refresh_token": "c" },
            });
            for (k, v) in extra.as_object().expect("fields") {
                value[k] = v.clone();
            }
            value
        };
        assert!(schemas.check("POST", PATH, &full(json!({}))).is_ok());
        for extra in [
            json!({ "marketplace": "" }),
            json!({ "marketplace": " amazon" }),
            json!({ "account": "\u{3000}" }),
            json!({ "account": "a\tb" }),
            json!({ "account": "x".repeat(101) }),
            json!({ "name": "n".repeat(81) }),
            json!({ "marketplace_id": "EBAY-US" }),
            json!({ "credentials": { "client_id": "a", "client_secret": "b" } }),
            json!({ "credentials": { "client_id": "a", "client_secret": "b", "refresh_token": "\u{a0}" } }),
            json!({ "credentials": { "client_id": "a", "client_secret": "b", "refresh_token": "c", "pin": "1" } }),
            json!({ "base_url": "https://api.ebay.com" }),
            json!({ "base_url": "https://sellingpartnerapi-na.amazon.com:8443" }),
            json!({ "base_url": "HTTPS://sellingpartnerapi-na.amazon.com" }),
            json!({ "colour": "red" }),
        ] {
            assert!(
                schemas.check("POST", PATH, &full(extra.clone())).is_err(),
                "{extra}"
            );
        }
        let without_account = json!({ "marketplace": "amazon", "credentials": {} });
        assert!(schemas.check("POST", PATH, &without_account).is_err());
    }

    #[test]
    fn an_unknown_marketplace_is_said_in_words() {
        let body: CreateConnection =
            serde_json::from_value(json!({ "marketplace": "etsy" })).expect("a body");
        let Err(ApiError(AppError::Validation { fields })) = body.check() else {
            panic!("refused");
        };
        assert_eq!(fields[0].code, "unknown_marketplace");
    }
}
