//! Background tasks as the UI and the API see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use task_model::{Control, Estimate, ItemStatus, Presentation, TaskCounts, TaskStatus};

/// A task as the tray, the lists and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskSummary {
    pub id: i64,
    /// The kind's stored name: `import`, `publish`, `unpublish`.
    pub kind: String,
    pub label: String,
    pub status: TaskStatus,
    pub counts: TaskCounts,
    pub eta_seconds: Option<u64>,
    /// What the seller was told it would take, when it was created.
    #[serde(default)]
    pub estimate: Option<Estimate>,
    /// How long it took, from creation to its end.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    pub waiting_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Bumped by every change of the task: keep the highest seen, drop older ones.
    #[serde(default)]
    pub seq: i64,
    /// When a scheduled task starts (status `scheduled` until then).
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    /// Its place in a chain of tasks: `{step, of, next, previous}`.
    #[serde(default)]
    pub chain: Option<task_model::Chain>,
    /// While its marketplace does not answer: `{reason, since, next_probe_at,
    /// retry_every_seconds, marketplace}`; nothing is sent and no attempt spent meanwhile,
    /// and `eta_seconds` is `null` (it cannot be known until the marketplace answers).
    #[serde(default)]
    pub hold: Option<task_model::Hold>,
}

impl TaskSummary {
    /// A task with only what a fixture (the design gallery, tests) needs to say;
    /// nothing timed, created at the epoch.
    pub fn fixture(
        id: i64,
        kind: &str,
        label: &str,
        status: TaskStatus,
        counts: TaskCounts,
    ) -> Self {
        Self {
            id,
            kind: kind.into(),
            label: label.into(),
            status,
            counts,
            eta_seconds: None,
            estimate: None,
            duration_seconds: None,
            waiting_until: None,
            created_at: DateTime::default(),
            started_at: None,
            finished_at: None,
            seq: 1,
            start_at: None,
            chain: None,
            hold: None,
        }
    }

    /// The kind's words.
    pub fn presentation(&self) -> &'static Presentation {
        Presentation::of(&self.kind)
    }

    pub fn is_over(&self) -> bool {
        self.status.is_terminal()
    }

    /// Started and not over: what "running" counts and the tab title's progress covers.
    pub fn is_active(&self) -> bool {
        !self.is_over() && self.status != TaskStatus::Scheduled
    }

    /// The file the task wrote, once it is over (an export's CSV): the link's words, the
    /// link, and when the file is removed. `None` for a kind that writes none or a task
    /// that wrote nothing.
    pub fn file(&self) -> Option<FileOffer> {
        let download = self.presentation().download.as_ref()?;
        let finished = self.finished_at.filter(|_| self.is_over())?;
        let href = self.presentation().download_href(self.id)?;
        (self.counts.succeeded > 0).then(|| FileOffer {
            words: download.words,
            href,
            until: finished + chrono::Duration::days(download.kept_days),
        })
    }

    /// "Publishing 200 items" while it runs, its label before it starts and once it is
    /// over.
    pub fn line(&self) -> String {
        if self.is_over() || self.status == TaskStatus::Scheduled {
            self.label.clone()
        } else {
            self.presentation().doing_line(&self.label)
        }
    }
}

/// A finished task's file to download (see [`TaskSummary::file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    pub words: &'static str,
    pub href: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemErrorView {
    pub code: String,
    pub message: String,
    /// The CSV column the error is about (imports), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The item's fields the marketplace's issues are about (`title`, `price`,
    /// `image_url`…), to fix on the item page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The item fields named by a marketplace refusal's issues (`{"issues": [{attribute_names}]}`).
#[cfg(feature = "ssr")]
fn issue_fields(details: Option<&str>) -> Vec<String> {
    let Some(details) = details.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    else {
        return Vec::new();
    };
    let mut fields: Vec<String> = Vec::new();
    for issue in details["issues"].as_array().into_iter().flatten() {
        for name in issue["attribute_names"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                if !fields.iter().any(|f| f == name) {
                    fields.push(name.to_owned());
                }
            }
        }
    }
    fields
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskItemView {
    pub id: i64,
    pub position: i32,
    pub status: ItemStatus,
    pub attempts: i32,
    pub item_id: Option<i64>,
    pub sku: Option<String>,
    /// The item's title (catalog items) or the row's (imports), beside its SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The CSV line, for imports.
    pub line: Option<i64>,
    pub error: Option<ItemErrorView>,
}

/// The failed items of a task that share one error code, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailureGroupView {
    pub code: String,
    /// A short heading: "Missing image".
    pub title: String,
    /// What happened and what to do, in plain words.
    pub explanation: String,
    /// `retry` (nothing wrong with the items: retry them) or `fix` (change them first).
    pub remedy: String,
    pub count: i64,
    /// The first few items of the group.
    pub examples: Vec<TaskItemView>,
}

/// Which of a task's items to list (`status`, one failure group's `error_code`, part of
/// the SKU as `q`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskItemsQuery {
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub q: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::error::AppError;
    use backend::tasks::{query, Task};

    /// A page of task items as the UI and the API show them: SKU, line, error.
    pub async fn item_views(
        db: &impl sea_orm::ConnectionTrait,
        task: &Task,
        rows: Vec<backend::entities::task_item::Model>,
    ) -> Result<Vec<TaskItemView>, AppError> {
        let described = backend::reports::describe(db, task, &rows).await?;
        rows.into_iter()
            .zip(described)
            .map(|(row, about)| {
                let status = ItemStatus::try_from(row.status.as_str()).map_err(|err| {
                    tracing::error!(task_item_id = row.id, %err, "stored task item is unreadable");
                    crate::error::internal(err)
                })?;
                Ok(TaskItemView {
                    id: row.id,
                    position: row.position,
                    sku: about.sku,
                    title: about.title,
                    item_id: about.item_id,
                    attempts: row.attempts,
                    line: about.line.map(|l| l as i64),
                    error: match (status, row.error_code, row.error_message) {
                        (
                            ItemStatus::Failed | ItemStatus::Pending | ItemStatus::Skipped,
                            Some(code),
                            message,
                        ) => Some(ItemErrorView {
                            code,
                            message: message.unwrap_or_default(),
                            column: about.column,
                            fields: issue_fields(row.error_details.as_deref()),
                        }),
                        _ => None,
                    },
                    status,
                })
            })
            .collect()
    }

    /// One page of the seller's tasks, newest first, with the number matching.
    pub async fn task_page(
        db: &impl sea_orm::ConnectionTrait,
        seller_id: i64,
        filter: &query::TaskFilter,
        page: u64,
        per_page: u64,
    ) -> Result<(Vec<TaskSummary>, u64), AppError> {
        let (tasks, total) = query::list(db, seller_id, filter, page, per_page).await?;
        let now = chrono::Utc::now();
        Ok((
            tasks
                .iter()
                .map(|t| TaskSummary::from_task(t, now))
                .collect(),
            total,
        ))
    }

    /// One page of a task's items, filtered; another seller's task is `NotFound`.
    pub async fn task_items(
        db: &impl sea_orm::ConnectionTrait,
        seller_id: i64,
        task_id: i64,
        query: &TaskItemsQuery,
    ) -> Result<(Vec<TaskItemView>, u64), AppError> {
        let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                ItemStatus::try_from(raw).map_err(|err| AppError::BadRequest {
                    message: format!("{err}."),
                })?,
            ),
        };
        let filter = query::ItemFilter {
            status,
            error_code: query.error_code.clone().filter(|c| !c.is_empty()),
            q: query.q.clone(),
        };
        let task = backend::tasks::get(db, seller_id, task_id).await?;
        let (rows, total) =
            query::items(db, seller_id, task.id, &filter, query.page, query.per_page).await?;
        Ok((item_views(db, &task, rows).await?, total))
    }

    /// A task's failures grouped by error code, each explained.
    pub async fn failure_groups(
        db: &impl sea_orm::ConnectionTrait,
        seller_id: i64,
        task_id: i64,
    ) -> Result<Vec<FailureGroupView>, AppError> {
        let task = backend::tasks::get(db, seller_id, task_id).await?;
        let groups = query::failure_groups(db, seller_id, task_id).await?;
        let mut views = Vec::with_capacity(groups.len());
        for group in groups {
            let reason = backend::failures::explain(&group.code);
            views.push(FailureGroupView {
                title: reason.title,
                explanation: reason.explanation,
                remedy: match reason.remedy {
                    backend::failures::Remedy::Retry => "retry",
                    backend::failures::Remedy::Fix => "fix",
                }
                .to_owned(),
                count: group.count as i64,
                examples: item_views(db, &task, group.examples).await?,
                code: group.code,
            });
        }
        Ok(views)
    }

    impl TaskSummary {
        pub fn from_task(task: &Task, now: DateTime<Utc>) -> Self {
            Self::from_event(&backend::tasks::events::TaskEvent::from(task), now)
        }

        pub fn from_event(event: &backend::tasks::events::TaskEvent, now: DateTime<Utc>) -> Self {
            Self {
                id: event.task_id,
                kind: event.kind.clone(),
                label: event.label.clone(),
                status: event.status,
                counts: event.counts,
                // Held: it cannot be known until the marketplace answers.
                eta_seconds: event
                    .hold
                    .is_none()
                    .then(|| {
                        backend::estimate::remaining(
                            backend::estimate::Progress {
                                status: event.status,
                                counts: &event.counts,
                                estimate: event.estimate.as_ref(),
                                estimated_at: event.estimated_at,
                                started_at: event.started_at,
                                waiting_until: event.waiting_until,
                            },
                            now,
                        )
                    })
                    .flatten(),
                estimate: event.estimate,
                // A task that never started took no time.
                duration_seconds: event.started_at.and_then(|_| {
                    backend::tasks::duration_seconds(
                        event.estimated_at.unwrap_or(event.created_at),
                        event.finished_at,
                    )
                }),
                waiting_until: event.waiting_until,
                created_at: event.created_at,
                started_at: event.started_at,
                finished_at: event.finished_at,
                seq: event.seq,
                start_at: event.start_at,
                chain: event.chain,
                hold: event.hold.clone(),
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
            let invalid = |field: &str, code: &str, message: String| Self::Validation {
                fields: vec![crate::error::FieldError {
                    field: field.into(),
                    code: code.into(),
                    message,
                }],
            };
            match err {
                TaskError::NotFound => Self::NotFound,
                conflict @ (TaskError::Conflict { .. } | TaskError::Waits { .. }) => {
                    Self::Conflict {
                        message: conflict.to_string(),
                    }
                }
                TaskError::UnknownKind(kind) => invalid(
                    "kind",
                    "unknown_kind",
                    format!("There is no task kind “{kind}”."),
                ),
                // Which connection is not in the request but in the seller's account:
                // a request that names none is fine until they have several.
                TaskError::InvalidParams(params) if params.code == "connection_required" => {
                    Self::Refused {
                        code: params.code.into(),
                        message: params.message,
                    }
                }
                TaskError::InvalidParams(params) => {
                    invalid(&params.field, params.code, params.message)
                }
                TaskError::Empty => {
                    invalid("params", "empty", "A task needs at least one item.".into())
                }
                TaskError::Unexpected(err) => crate::error::internal(err),
            }
        }
    }
}
