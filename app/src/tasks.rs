//! Background tasks as the UI and the API see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskCountsView {
    pub total: i64,
    pub pending: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub cancelled: i64,
}

/// `status` is one of `queued running paused cancelling cancelled succeeded
/// completed_with_errors failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskSummary {
    pub id: i64,
    pub kind: String,
    pub label: String,
    pub status: String,
    pub counts: TaskCountsView,
    pub eta_seconds: Option<u64>,
    pub waiting_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Bumped by every change of the task: keep the highest seen, drop older ones.
    #[serde(default)]
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemErrorView {
    pub code: String,
    pub message: String,
    /// The CSV column the error is about (imports), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// `status` is one of `pending running succeeded failed skipped cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskItemView {
    pub id: i64,
    pub position: i32,
    pub status: String,
    pub attempts: i32,
    pub item_id: Option<i64>,
    pub sku: Option<String>,
    /// The CSV line, for imports.
    pub line: Option<i64>,
    pub error: Option<ItemErrorView>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use backend::tasks::{query, Task};

    impl TaskSummary {
        pub fn from_task(task: &Task, now: DateTime<Utc>) -> Self {
            Self::from_event(&backend::tasks::events::TaskEvent::from(task), now)
        }

        pub fn from_event(event: &backend::tasks::events::TaskEvent, now: DateTime<Utc>) -> Self {
            let c = event.counts;
            Self {
                id: event.task_id,
                kind: event.kind.clone(),
                label: event.label.clone(),
                status: event.status.as_str().to_owned(),
                counts: TaskCountsView {
                    total: c.total,
                    pending: c.pending,
                    running: c.running,
                    succeeded: c.succeeded,
                    failed: c.failed,
                    skipped: c.skipped,
                    cancelled: c.cancelled,
                },
                eta_seconds: query::eta(event.status, &c, event.started_at, now),
                waiting_until: event.waiting_until,
                created_at: event.created_at,
                started_at: event.started_at,
                finished_at: event.finished_at,
                seq: event.seq,
            }
        }
    }

    impl From<backend::imports::FileError> for crate::error::AppError {
        fn from(err: backend::imports::FileError) -> Self {
            Self::File {
                code: err.code().to_owned(),
                message: err.to_string(),
                too_large: err.is_too_large(),
            }
        }
    }

    impl From<backend::tasks::TaskError> for crate::error::AppError {
        fn from(err: backend::tasks::TaskError) -> Self {
            use backend::tasks::TaskError;
            let invalid = |message: String| Self::Validation {
                fields: vec![crate::error::FieldError {
                    field: "params".into(),
                    code: "invalid".into(),
                    message,
                }],
            };
            match err {
                TaskError::NotFound => Self::NotFound,
                TaskError::Conflict { action, status } => Self::Conflict {
                    message: format!(
                        "This task is {}: it cannot be {action}d now.",
                        status.as_str().replace('_', " ")
                    ),
                },
                TaskError::UnknownKind(kind) => invalid(format!("There is no task kind “{kind}”.")),
                TaskError::InvalidParams(params) => invalid(params.message),
                TaskError::Empty => invalid("A task needs at least one item.".into()),
                TaskError::Unexpected(err) => crate::error::internal(err),
            }
        }
    }
}
