//! What the event stream sends (`/api/v1/events`): a snapshot on connect, then task and
//! notification events. Task events are [`TaskSummary`] values.

use serde::{Deserialize, Serialize};

use crate::notifications::NotificationView;
use crate::tasks::TaskSummary;

#[derive(Debug, Clone, Deserialize, Serialize)]
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
pub struct NotificationEvent {
    pub notification: NotificationView,
    pub unread: u64,
}
