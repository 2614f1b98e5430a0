//! A seller's marketplace connections: stored with their credentials sealed by the
//! server key ([`crate::secrets`]); read back with the credentials' names only, and opened
//! on the server, for a connector, never for the browser.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use std::collections::BTreeMap;

use crate::entities::connection;
use crate::secrets::{SecretError, SecretKey};
use task_model::{Connection, ConnectionTest, Marketplace};

/// What a seller sends to connect a marketplace. `Debug` names the credentials only.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    pub marketplace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub marketplace_id: Option<String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("marketplace", &self.marketplace)
            .field("name", &self.name)
            .field("account", &self.account)
            .field("marketplace_id", &self.marketplace_id)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The opened credentials of a connection, for its connector. `Debug` names them only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(BTreeMap<String, String>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Credentials {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A stored connection with what its connector needs.
#[derive(Debug, Clone)]
pub struct Opened {
    pub connection: Connection,
    pub credentials: Credentials,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// One field refused: which, why (for people), and the stable code.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        code: &'static str,
        message: String,
    },
    #[error("no such connection")]
    NotFound,
    #[error("a connection named “{0}” already exists")]
    NameTaken(String),
    #[error("the server has no STOCKROOM_SECRET_KEY, so it cannot keep credentials")]
    NoKey,
    #[error("{0}")]
    Sealed(#[from] SecretError),
    #[error("the connection is used by a task that has not ended")]
    InUse,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl ConnectionError {
    /// The stable code the API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::NotFound => "connection_not_found",
            Self::NameTaken(_) => "connection_name_taken",
            Self::NoKey => "secret_key_missing",
            Self::Sealed(_) => "credentials_unreadable",
            Self::InUse => "connection_in_use",
            Self::Db(_) => "database_unavailable",
        }
    }
}

fn invalid(message: impl Into<String>, code: &'static str) -> ConnectionError {
    let field = match code {
        "unknown_marketplace" => "marketplace",
        "name_too_long" => "name",
        "account_required" | "account_invalid" => "account",
        "marketplace_id_invalid" => "marketplace_id",
        "base_url_invalid" | "base_url_not_allowed" => "base_url",
        _ => "credentials",
    };
    ConnectionError::Invalid {
        field,
        code,
        message: message.into(),
    }
}

/// What sealed credentials are bound to: a sealed value copied to another seller's row,
/// or to another marketplace's, does not open.
fn owner(seller_id: i64, marketplace: &str) -> String {
    format!("seller-{seller_id}/{marketplace}")
}

/// Whether a new connection would be taken as it is (the API's own checks are held to
/// take nothing this refuses).
pub fn check_new(new: &NewConnection, sandbox_url: &str) -> Result<(), ConnectionError> {
    check(new, sandbox_url).map(|_| ())
}

/// Checks and normalises a new connection: a known marketplace, a name, the account, the
/// marketplace's credentials (all of them, nothing else), an http(s) base URL.
fn check(new: &NewConnection, sandbox_url: &str) -> Result<Checked, ConnectionError> {
    let marketplace = Marketplace::try_from(new.marketplace.trim()).map_err(|_| {
        invalid(
            format!(
                "Choose a marketplace: {}.",
                Marketplace::ALL.map(Marketplace::as_str).join(", ")
            ),
            "unknown_marketplace",
        )
    })?;
    let name = match new.name.trim() {
        "" => marketplace.label().to_owned(),
        name => name.to_owned(),
    };
    if name.chars().count() > 80 {
        return Err(invalid(
            "The name is longer than 80 characters.",
            "name_too_long",
        ));
    }
    let account = new.account.trim().to_owned();
    if account.is_empty() && marketplace != Marketplace::Sandbox {
        return Err(invalid(
            format!("Enter the {}.", marketplace.account_label()),
            "account_required",
        ));
    }
    if account.chars().count() > 100 || account.chars().any(char::is_control) {
        return Err(invalid(
            "The account is at most 100 characters, on one line.",
            "account_invalid",
        ));
    }
    let account = if account.is_empty() {
        "default".to_owned()
    } else {
        account
    };
    let marketplace_id = match new.marketplace_id.as_deref().map(str::trim) {
        None | Some("") => marketplace.default_marketplace_id().to_owned(),
        Some(id) if id.len() <= 40 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            id.to_owned()
        }
        Some(_) => {
            return Err(invalid(
                "The marketplace id is letters, digits and underscores (ATVPDKIKX0DER, EBAY_US).",
                "marketplace_id_invalid",
            ))
        }
    };
    let wanted = marketplace.credentials();
    if let Some(unknown) = new
        .credentials
        .keys()
        .find(|k| !wanted.contains(&k.as_str()))
    {
        return Err(invalid(
            format!(
                "{} takes no credential “{unknown}”{}.",
                marketplace.label(),
                if wanted.is_empty() {
                    String::new()
                } else {
                    format!(" (it takes {})", wanted.join(", "))
                }
            ),
            "unknown_credential",
        ));
    }
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|k| new.credentials.get(*k).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(
            format!(
                "Enter the {}.",
                missing
                    .iter()
                    .map(|k| marketplace.credential_label(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "credentials_missing",
        ));
    }
    if new.credentials.values().any(|v| v.chars().count() > 4096) {
        return Err(invalid(
            "A credential is longer than 4,096 characters.",
            "credential_too_long",
        ));
    }
    let base_url = match new.base_url.as_deref().map(str::trim) {
        None | Some("") => marketplace
            .production_url()
            .unwrap_or(sandbox_url)
            .trim_end_matches('/')
            .to_owned(),
        Some(raw) => {
            let parsed = url::Url::parse(raw)
                .map_err(|_| invalid("The base URL is not a URL.", "base_url_invalid"))?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.host().is_none()
                || !parsed.username().is_empty()
                || parsed.password().is_some()
            {
                return Err(invalid(
                    "The base URL must start with https:// (or http:// for a local sandbox), without a user name or password.",
                    "base_url_invalid",
                ));
            }
            let raw = raw.trim_end_matches('/');
            let official = parsed.scheme() == "https"
                && parsed.port().is_none()
                && parsed
                    .host_str()
                    .is_some_and(|host| marketplace.api_hosts().contains(&host));
            let sandbox = sandbox_url.trim_end_matches('/');
            let own_sandbox = raw == sandbox || raw.starts_with(&format!("{sandbox}/"));
            if !official && !own_sandbox {
                let hosts = marketplace.api_hosts();
                return Err(invalid(
                    if hosts.is_empty() {
                        format!("A sandbox connection goes to this server's sandbox ({sandbox}).")
                    } else {
                        format!(
                            "{} connections go to {}, or to this server's sandbox ({sandbox}).",
                            marketplace.label(),
                            hosts.join(", ")
                        )
                    },
                    "base_url_not_allowed",
                ));
            }
            raw.to_owned()
        }
    };
    let credentials = new
        .credentials
        .iter()
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    Ok(Checked {
        marketplace,
        name,
        account,
        marketplace_id,
        base_url,
        credentials,
    })
}

struct Checked {
    marketplace: Marketplace,
    name: String,
    account: String,
    marketplace_id: String,
    base_url: String,
    credentials: BTreeMap<String, String>,
}

fn view(row: connection::Model) -> Connection {
    let marketplace =
        Marketplace::try_from(row.marketplace.as_str()).unwrap_or(Marketplace::Sandbox);
    let last_test = match (row.tested_at, row.test_ok) {
        (Some(at), Some(ok)) => Some(ConnectionTest {
            at,
            ok,
            message: row.test_message.unwrap_or_default(),
        }),
        _ => None,
    };
    Connection {
        id: row.id,
        marketplace,
        name: row.name,
        account: row.account,
        marketplace_id: row.marketplace_id,
        base_url: row.base_url,
        credentials_set: serde_json::from_str(&row.credential_names).unwrap_or_default(),
        created_at: row.created_at,
        last_test,
    }
}

/// Stores a new connection, its credentials sealed with `key`. `sandbox_url` is where
/// the built-in sandbox answers (a sandbox connection's default base URL).
pub async fn create(
    db: &impl ConnectionTrait,
    key: Option<&SecretKey>,
    seller_id: i64,
    new: &NewConnection,
    sandbox_url: &str,
    now: DateTime<Utc>,
) -> Result<Connection, ConnectionError> {
    let checked = check(new, sandbox_url)?;
    let (sealed, key_id) = if checked.credentials.is_empty() {
        (None, None)
    } else {
        let key = key.ok_or(ConnectionError::NoKey)?;
        let plain = serde_json::to_vec(&checked.credentials).unwrap_or_default();
        (
            Some(key.seal(&owner(seller_id, checked.marketplace.as_str()), &plain)),
            Some(key.id().to_owned()),
        )
    };
    let taken = connection::Entity::find()
        .filter(connection::Column::SellerId.eq(seller_id))
        .filter(connection::Column::Name.eq(checked.name.as_str()))
        .count(db)
        .await?;
    if taken > 0 {
        return Err(ConnectionError::NameTaken(checked.name));
    }
    let names: Vec<&String> = checked.credentials.keys().collect();
    let row = connection::ActiveModel {
        seller_id: Set(seller_id),
        marketplace: Set(checked.marketplace.as_str().to_owned()),
        name: Set(checked.name.clone()),
        account: Set(checked.account),
        marketplace_id: Set(checked.marketplace_id),
        base_url: Set(checked.base_url),
        credentials: Set(sealed),
        credential_names: Set(serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())),
        key_id: Set(key_id),
        created_at: Set(now),
        tested_at: Set(None),
        test_ok: Set(None),
        test_message: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ConnectionError::NameTaken(checked.name.clone())
        }
        _ => ConnectionError::Db(err),
    })?;
    Ok(view(row))
}

/// The seller's connections, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    seller_id: i64,
) -> Result<Vec<Connection>, ConnectionError> {
    Ok(connection::Entity::find()
        .filter(connection::Column::SellerId.eq(seller_id))
        .order_by_asc(connection::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

async fn row(
    db: &impl ConnectionTrait,
    seller_id: i64,
    id: i64,
) -> Result<connection::Model, ConnectionError> {
    connection::Entity::find_by_id(id)
        .filter(connection::Column::SellerId.eq(seller_id))
        .one(db)
        .await?
        .ok_or(ConnectionError::NotFound)
}

pub async fn get(
    db: &impl ConnectionTrait,
    seller_id: i64,
    id: i64,
) -> Result<Connection, ConnectionError> {
    row(db, seller_id, id).await.map(view)
}

/// The connection with its credentials opened, for its connector.
pub async fn open(
    db: &impl ConnectionTrait,
    key: Option<&SecretKey>,
    seller_id: i64,
    id: i64,
) -> Result<Opened, ConnectionError> {
    let row = row(db, seller_id, id).await?;
    let credentials = match &row.credentials {
        None => Credentials::default(),
        Some(sealed) => {
            let key = key.ok_or(ConnectionError::NoKey)?;
            let plain = key.open(&owner(seller_id, &row.marketplace), sealed)?;
            Credentials(serde_json::from_slice(&plain).map_err(|_| SecretError::Damaged)?)
        }
    };
    Ok(Opened {
        connection: view(row),
        credentials,
    })
}

/// Remembers what "Test connection" found.
pub async fn record_test(
    db: &impl ConnectionTrait,
    seller_id: i64,
    id: i64,
    test: &ConnectionTest,
) -> Result<Connection, ConnectionError> {
    let mut active: connection::ActiveModel = row(db, seller_id, id).await?.into();
    active.tested_at = Set(Some(test.at));
    active.test_ok = Set(Some(test.ok));
    active.test_message = Set(Some(test.message.chars().take(500).collect()));
    Ok(view(active.update(db).await?))
}

/// Removes a connection; refused while a task that has not ended publishes through it.
pub async fn delete(
    db: &impl ConnectionTrait,
    seller_id: i64,
    id: i64,
) -> Result<(), ConnectionError> {
    row(db, seller_id, id).await?;
    if crate::tasks::query::uses_connection(db, seller_id, id).await? {
        return Err(ConnectionError::InUse);
    }
    connection::Entity::delete_many()
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::SellerId.eq(seller_id))
        .exec(db)
        .await?;
    Ok(())
}

/// At start-up: a server that holds sealed credentials must have the key that sealed
/// them, or it could not publish through them (and must not find out mid-task).
pub async fn check_key(db: &impl ConnectionTrait, key: Option<&SecretKey>) -> Result<(), String> {
    let sealed = connection::Entity::find()
        .filter(connection::Column::Credentials.is_not_null())
        .all(db)
        .await
        .map_err(|err| err.to_string())?;
    if sealed.is_empty() {
        return Ok(());
    }
    let Some(key) = key else {
        return Err(format!(
            "{} marketplace connection(s) hold credentials sealed with a server key: set STOCKROOM_SECRET_KEY to that key",
            sealed.len()
        ));
    };
    let others = sealed
        .iter()
        .filter(|row| row.key_id.as_deref() != Some(key.id()))
        .count();
    if others > 0 {
        return Err(format!(
            "{others} marketplace connection(s) were sealed with another key than STOCKROOM_SECRET_KEY (key id {}): set the key they were sealed with, or rotate with `stockroom rotate-secret-key`",
            key.id()
        ));
    }
    Ok(())
}

/// Re-seals every connection's credentials from `old` to `new`, in one transaction: all
/// or nothing. Values already sealed with `new` are left as they are, so a rotation that
/// was interrupted can be run again. Answers how many were re-sealed.
pub async fn rotate(
    db: &sea_orm::DatabaseConnection,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<usize, ConnectionError> {
    let txn = db.begin().await?;
    let rows = connection::Entity::find()
        .filter(connection::Column::Credentials.is_not_null())
        .all(&txn)
        .await?;
    let mut resealed = 0;
    for row in rows {
        let Some(sealed) = row.credentials.clone() else {
            continue;
        };
        if row.key_id.as_deref() == Some(new.id()) {
            continue;
        }
        let owner = owner(row.seller_id, &row.marketplace);
        let plain = old.open(&owner, &sealed)?;
        let mut active: connection::ActiveModel = row.into();
        active.credentials = Set(Some(new.seal(&owner, &plain)));
        active.key_id = Set(Some(new.id().to_owned()));
        active.update(&txn).await?;
        resealed += 1;
    }
    txn.commit().await?;
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(marketplace: &str, credentials: &[(&str, &str)]) -> NewConnection {
        NewConnection {
            marketplace: marketplace.into(),
            account: "A2EUQ1WTGCTBG2".into(),
            credentials: credentials
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    fn code(result: Result<Checked, ConnectionError>) -> &'static str {
        match result {
            Err(err) => err.code(),
            Ok(_) => "ok",
        }
    }

    const FULL: [(&str, &str); 3] = [
        ("client_id", "amzn1.application-oa2-client.x"),
        ("client_secret", "s"),
        ("refresh_token", "Atzr|x"),
    ];

    #[test]
    fn a_connection_is_checked_before_it_is_kept() {
        let sandbox = "http://127.0.0.1:3000/sandbox/marketplace";
        let ok = check(&new("amazon", &FULL), sandbox).unwrap();
        assert_eq!(ok.name, "Amazon");
        assert_eq!(ok.marketplace_id, "ATVPDKIKX0DER");
        assert_eq!(ok.base_url, "https://sellingpartnerapi-na.amazon.com");
        assert_eq!(
            code(check(&new("etsy", &[]), sandbox)),
            "unknown_marketplace"
        );
        assert_eq!(
            code(check(&new("amazon", &FULL[..2]), sandbox)),
            "credentials_missing"
        );
        assert_eq!(
            code(check(&new("sandbox", &[("password", "x")]), sandbox)),
            "unknown_credential"
        );
        let mut no_account = new("ebay", &FULL);
        no_account.account.clear();
        assert_eq!(code(check(&no_account, sandbox)), "account_required");
        let mut bad_url = new("ebay", &FULL);
        bad_url.base_url = Some("ftp://example.com".into());
        assert_eq!(code(check(&bad_url, sandbox)), "base_url_invalid");
        let sandboxed = check(&new("sandbox", &[]), sandbox).unwrap();
        assert_eq!(sandboxed.base_url, sandbox);
    }

    #[test]
    fn credentials_debug_shows_names_only() {
        let creds = Credentials(
            FULL.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        let shown = format!("{creds:?}");
        assert!(shown.contains("refresh_token") && !shown.contains("Atzr"));
    }
}
