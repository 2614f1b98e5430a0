//! What the event stream sends (`/api/v1/events`): a snapshot on connect, then task and
//! notification events. Task events are [`TaskSummary`] values.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::notifications::NotificationView;
use crate::tasks::TaskSummary;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub tasks: Vec<TaskSummary>,
    pub unread: u64,
    #[serde(default)]
    pub last_notification_id: i64,
    /// The build of the browser code the server serves ("" when unknown).
    #[serde(default)]
    pub build: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationEvent {
    pub notification: NotificationView,
    pub unread: u64,
}

/// What the stream would start with, for a tab that cannot keep a stream open (the
/// store's polling fallback).
#[server(endpoint = "live_snapshot")]
pub async fn live_snapshot() -> Result<Snapshot, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let state = state()?;
            ssr::snapshot(&state.db, seller.id, &state.build).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;

    /// Tasks shown live: the unfinished, then those finished in the last day.
    const RECENT: u64 = 20;

    /// A stream's (or a reconnect's) first event.
    pub async fn snapshot(
        db: &backend::DatabaseConnection,
        seller_id: i64,
        build: &str,
    ) -> Result<Snapshot, AppError> {
        let now = chrono::Utc::now();
        let tasks =
            backend::tasks::query::live(db, seller_id, now - chrono::Duration::hours(24), RECENT)
                .await?;
        let unread = backend::notifications::unread_count(db, seller_id)
            .await
            .map_err(crate::error::internal)?;
        let last_notification_id = backend::notifications::recent(db, seller_id, 1)
            .await
            .map_err(crate::error::internal)?
            .first()
            .map(|n| n.id)
            .unwrap_or(0);
        Ok(Snapshot {
            tasks: tasks
                .iter()
                .map(|task| TaskSummary::from_task(task, now))
                .collect(),
            unread,
            last_notification_id,
            build: build.to_owned(),
        })
    }
}
