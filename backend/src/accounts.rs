//! Seller accounts: creation and password authentication.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use std::sync::OnceLock;

use crate::domain::{Email, Password};
use crate::entities::seller;

/// A seller as the rest of the application sees them (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// The seller's IANA time zone, as their browser reports it; `None` reads as UTC.
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Seller {
    /// The seller's UTC offset at `at` (daylight saving included).
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        offset_in(self.time_zone.as_deref(), at)
    }
}

/// The UTC offset of the IANA zone `zone` at `at`; UTC for no zone or one not known.
pub fn offset_in(zone: Option<&str>, at: DateTime<Utc>) -> FixedOffset {
    use chrono::Offset as _;
    zone.and_then(|name| name.parse::<chrono_tz::Tz>().ok())
        .map(|tz| at.with_timezone(&tz).offset().fix())
        .unwrap_or_else(task_model::when::utc)
}

/// Remembers the seller's time zone, an IANA name ("Europe/Paris"). A name the zone
/// database does not know is refused, so a stored zone always reads.
pub async fn set_time_zone(
    db: &impl ConnectionTrait,
    seller_id: i64,
    zone: &str,
) -> Result<(), AccountError> {
    let zone = zone.trim();
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AccountError::UnknownTimeZone(
            zone.chars().take(64).collect(),
        ));
    }
    seller::Entity::update_many()
        .filter(seller::Column::Id.eq(seller_id))
        .col_expr(
            seller::Column::TimeZone,
            sea_orm::sea_query::Expr::value(zone),
        )
        .exec(db)
        .await
        .map_err(|err| AccountError::Unexpected(err.into()))?;
    Ok(())
}

impl From<seller::Model> for Seller {
    fn from(row: seller::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            time_zone: row.time_zone,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a seller with this e-mail already exists")]
    EmailTaken,
    /// Unknown e-mail and wrong password look the same on purpose: no enumeration.
    #[error("e-mail or password is incorrect")]
    InvalidCredentials,
    #[error("“{0}” is not a time zone")]
    UnknownTimeZone(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a seller. The display name defaults to the e-mail's local part.
#[tracing::instrument(skip_all, err, fields(email = %email))]
pub async fn create_seller(
    db: &impl ConnectionTrait,
    email: &Email,
    display_name: Option<&str>,
    password: &Password,
) -> Result<Seller, AccountError> {
    if find_by_email(db, email).await?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    let hash = hash_password(password.expose().to_owned()).await?;
    let display_name = display_name
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| name.chars().take(100).collect())
        .unwrap_or_else(|| {
            email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
    let row = seller::ActiveModel {
        email: Set(email.as_str().to_owned()),
        display_name: Set(display_name),
        password_hash: Set(hash),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| {
        // A concurrent insert of the same e-mail hits the unique index.
        if matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ) {
            AccountError::EmailTaken
        } else {
            AccountError::Unexpected(anyhow::Error::new(err).context("Failed to insert the seller"))
        }
    })?;
    Ok(row.into())
}

/// Checks an e-mail and password. Unknown e-mails still cost one hash verification, so
/// timing does not reveal which addresses have accounts.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn authenticate(
    db: &impl ConnectionTrait,
    email: &str,
    password: &str,
) -> Result<Seller, AccountError> {
    let row = match Email::parse(email) {
        Ok(email) => find_by_email(db, &email).await?,
        Err(_) => None,
    };
    let hash = row
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let matches = verify_password(password.to_owned(), hash).await?;
    match row {
        Some(row) if matches => Ok(row.into()),
        _ => Err(AccountError::InvalidCredentials),
    }
}

pub async fn find_seller(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<Seller>, anyhow::Error> {
    Ok(seller::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Seller::from))
}

pub async fn find_seller_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<Seller>, anyhow::Error> {
    Ok(find_by_email(db, email).await?.map(Seller::from))
}

async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<seller::Model>, anyhow::Error> {
    Ok(seller::Entity::find()
        .filter(seller::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("Failed to hash the password: {err}"))
    })
    .await?
}

async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|err| anyhow::anyhow!("Stored password hash is malformed: {err}"))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// A valid hash of a random password, computed once, for unknown e-mails.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(salt.as_str().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}
