//! Notifications as the UI and the API see them: one per finished task, kept in the
//! notification centre until read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
