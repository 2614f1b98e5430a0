//! Login sessions: an opaque random token in the cookie, its SHA-256 in the database.
//! A session ends at logout, after `idle` without a request, or `absolute` after login.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::accounts::Seller;
use crate::entities::{seller, session};

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::hours(12),
            absolute: Duration::days(7),
        }
    }
}

/// How often a busy session's `last_seen_at` is written; saves a write per request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// The secret that goes into the cookie. Never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn storage_id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// Starts a new session for the seller; the caller revokes any session the browser
/// carried before, so the id is rotated at every login.
#[tracing::instrument(skip_all, err, fields(seller_id))]
pub async fn start(
    db: &impl ConnectionTrait,
    seller_id: i64,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<SessionToken> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = SessionToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    session::ActiveModel {
        id: Set(token.storage_id()),
        seller_id: Set(seller_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + policy.absolute),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The seller behind a token, if the session is alive. Expired sessions are deleted.
#[tracing::instrument(skip_all, err)]
pub async fn resolve(
    db: &impl ConnectionTrait,
    token: &SessionToken,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Seller>> {
    let id = token.storage_id();
    let Some(row) = session::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    if now >= row.expires_at || now - row.last_seen_at >= policy.idle {
        session::Entity::delete_by_id(id).exec(db).await?;
        return Ok(None);
    }
    let Some(seller) = seller::Entity::find_by_id(row.seller_id).one(db).await? else {
        return Ok(None);
    };
    if now - row.last_seen_at >= TOUCH_EVERY {
        session::Entity::update_many()
            .col_expr(
                session::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(session::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(Some(seller.into()))
}

/// Ends a session server-side. Ending an unknown session is not an error.
#[tracing::instrument(skip_all, err)]
pub async fn end(db: &impl ConnectionTrait, token: &SessionToken) -> anyhow::Result<()> {
    session::Entity::delete_by_id(token.storage_id())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every expired session; run now and then.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let result = session::Entity::delete_many()
        .filter(
            session::Column::ExpiresAt
                .lte(now)
                .or(session::Column::LastSeenAt.lte(now - policy.idle)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
