//! Notifications as the UI and the API see them: one per finished task, kept in the
//! notification centre until read.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// `level` is one of `info success warning error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: i64,
    pub task_id: Option<i64>,
    pub level: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[cfg(feature = "ssr")]
impl From<backend::entities::notification::Model> for NotificationView {
    fn from(row: backend::entities::notification::Model) -> Self {
        Self {
            id: row.id,
            task_id: row.task_id,
            level: row.level,
            title: row.title,
            body: row.body,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// The seller's notifications, newest first (50): the bell's panel.
#[server(endpoint = "list_notifications")]
pub async fn list_notifications() -> Result<Vec<NotificationView>, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let rows = backend::notifications::recent(&state()?.db, seller.id, 50)
                .await
                .map_err(crate::error::internal)?;
            Ok(rows.into_iter().map(NotificationView::from).collect())
        }
        .await,
    )
}

/// Marks the listed notifications (or, with `None`, all) as read; the unread count after.
#[server(endpoint = "read_notifications")]
pub async fn read_notifications(ids: Option<Vec<i64>>) -> Result<u64, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?.id;
            let db = &state()?.db;
            backend::notifications::mark_read(db, seller, ids.as_deref(), chrono::Utc::now())
                .await
                .map_err(crate::error::internal)?;
            backend::notifications::unread_count(db, seller)
                .await
                .map_err(crate::error::internal)
        }
        .await,
    )
}
