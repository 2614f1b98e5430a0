//! Access tokens from refresh tokens — Login with Amazon, eBay OAuth — fetched when first
//! needed, cached per connection, and fetched again a little before they expire, so no
//! call goes out with a token about to lapse.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::connections::Credentials;
use task_model::Marketplace;

/// A token this close to its end is replaced before use.
const REFRESH_BEFORE: Duration = Duration::seconds(120);

#[derive(Clone)]
struct Token {
    value: String,
    expires_at: DateTime<Utc>,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The marketplace refused the credentials (`invalid_grant`, `invalid_client`…).
    #[error("{marketplace} refused the credentials: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        marketplace: &'static str,
        error: String,
        description: Option<String>,
    },
    /// The token endpoint could not be reached or answered oddly: worth another try.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(serde::Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: i64,
}

#[derive(serde::Deserialize)]
struct TokenRefusal {
    error: String,
    error_description: Option<String>,
}

/// The tokens of every connection this instance called lately.
#[derive(Default)]
pub struct Tokens {
    cached: Mutex<HashMap<i64, Token>>,
    /// Tokens fetched since the start (tests count refreshes).
    fetched: std::sync::atomic::AtomicU64,
}

impl Tokens {
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forgets a connection's token: the marketplace said it is no longer good.
    pub fn forget(&self, connection_id: i64) {
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&connection_id);
    }

    /// A token good for a while yet, from the cache or freshly fetched.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        connection_id: i64,
        marketplace: Marketplace,
        token_url: &str,
        credentials: &Credentials,
    ) -> Result<String, TokenError> {
        let now = Utc::now();
        if let Some(token) = self
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&connection_id)
            .filter(|token| token.expires_at - REFRESH_BEFORE > now)
        {
            return Ok(token.value.clone());
        }
        let token = fetch(http, marketplace, token_url, credentials).await?;
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection_id, token.clone());
        Ok(token.value)
    }
}

/// The OAuth refresh-token grant, as each marketplace documents it: Amazon takes the
/// client's id and secret in the form, eBay in HTTP Basic authentication.
async fn fetch(
    http: &reqwest::Client,
    marketplace: Marketplace,
    token_url: &str,
    credentials: &Credentials,
) -> Result<Token, TokenError> {
    let field = |name: &str| credentials.get(name).unwrap_or_default().to_owned();
    let request = match marketplace {
        Marketplace::Amazon => http.post(token_url).form(&[
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", field("refresh_token")),
            ("client_id", field("client_id")),
            ("client_secret", field("client_secret")),
        ]),
        Marketplace::Ebay => http
            .post(token_url)
            .basic_auth(field("client_id"), Some(field("client_secret")))
            .form(&[
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", field("refresh_token")),
                (
                    "scope",
                    "https://api.ebay.com/oauth/api_scope/sell.inventory".to_owned(),
                ),
            ]),
        Marketplace::Sandbox => {
            return Ok(Token {
                value: String::new(),
                expires_at: DateTime::<Utc>::MAX_UTC,
            })
        }
    };
    let response = request.send().await.map_err(|err| {
        TokenError::Unavailable(format!(
            "The token service could not be reached: {}",
            without_url(&err)
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        let reply: TokenReply = response.json().await.map_err(|_| {
            TokenError::Unavailable("The token service's answer could not be read.".into())
        })?;
        return Ok(Token {
            value: reply.access_token,
            expires_at: Utc::now() + Duration::seconds(reply.expires_in.clamp(0, 86_400)),
        });
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(TokenError::Unavailable(format!(
            "The token service answered {status}."
        )));
    }
    match response.json::<TokenRefusal>().await {
        Ok(refusal) => Err(TokenError::Refused {
            marketplace: marketplace.label(),
            error: refusal.error,
            description: refusal.error_description,
        }),
        Err(_) => Err(TokenError::Refused {
            marketplace: marketplace.label(),
            error: format!("HTTP {status}"),
            description: None,
        }),
    }
}

/// A transport error without the URL (a token URL carries no secret, but a habit of
/// never printing request lines keeps one from leaking if one ever did).
pub(crate) fn without_url(err: &reqwest::Error) -> String {
    let mut shown = err.to_string();
    if let Some(url) = err.url() {
        shown = shown.replace(url.as_str(), "the service");
    }
    shown
}
