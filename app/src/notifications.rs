//! Notifications as the UI and the API see them: one per finished task, kept in the
//! notification centre until read.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: i64,
    pub task_id: Option<i64>,
    /// `info`, `success`, `warning` or `error`: the tone of the toast it repeats.
    pub level: task_model::Tone,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// The file the task wrote (an export's CSV), to download from here.
    #[serde(default)]
    pub download: Option<String>,
}

/// A stored notification whose level does not read is an error, logged where it is met.
#[cfg(feature = "ssr")]
impl TryFrom<backend::entities::notification::Model> for NotificationView {
    type Error = AppError;

    fn try_from(row: backend::entities::notification::Model) -> Result<Self, AppError> {
        let level = task_model::Tone::try_from(row.level.as_str()).map_err(|err| {
            tracing::error!(notification_id = row.id, %err, "stored notification is unreadable");
            crate::error::internal(err)
        })?;
        Ok(Self {
            id: row.id,
            task_id: row.task_id,
            level,
            title: row.title,
            body: row.body,
            created_at: row.created_at,
            read_at: row.read_at,
            download: row.download,
        })
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
            rows.into_iter().map(NotificationView::try_from).collect()
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
