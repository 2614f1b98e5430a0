//! The item knows its task: a catalog row shows a chip while a task has still to act on
//! its item, the item page a banner that follows the item through its task, and both
//! link to the task.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};
use task_model::{ItemStatus, Presentation, TaskStatus};

use crate::catalog::ListingState;
use crate::error::AppError;
use crate::ui::{item_status, Chip};

/// A catalog item's place in one of the seller's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemTask {
    pub task_id: i64,
    /// The task's kind (`publish`, `unpublish`…).
    pub kind: String,
    /// The task's label, e.g. "Publish 200 items".
    pub label: String,
    pub task_status: TaskStatus,
    /// Where the item stands in the task.
    pub status: ItemStatus,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ItemTask {
    pub fn presentation(&self) -> &'static Presentation {
        Presentation::of(&self.kind)
    }

    /// "queued for publish", "publishing…", "published", "publish failed".
    pub fn line(&self) -> String {
        self.presentation().item_line(self.status, self.task_status)
    }

    pub fn href(&self) -> String {
        format!("/tasks/{}", self.task_id)
    }
}

/// What the item page follows while the seller edits: the item's task and where the
/// item stands on the marketplace (which its task changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStanding {
    pub task: Option<ItemTask>,
    pub listing_state: ListingState,
    pub listing_id: Option<String>,
    pub last_listing_error: Option<String>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use backend::tasks::in_task::ItemInTask;

    impl From<ItemInTask> for ItemTask {
        fn from(found: ItemInTask) -> Self {
            Self {
                task_id: found.task_id,
                kind: found.kind,
                label: found.label,
                task_status: found.task_status,
                status: found.status,
                error_code: found.error_code,
                error_message: found.error_message,
                finished_at: found.finished_at,
            }
        }
    }

    /// The item's latest task for its page (see [`backend::tasks::in_task::latest`]).
    pub async fn latest(
        db: &backend::DatabaseConnection,
        seller_id: i64,
        item_id: i64,
    ) -> Result<Option<ItemTask>, AppError> {
        Ok(
            backend::tasks::in_task::latest(db, seller_id, item_id, Utc::now())
                .await
                .map_err(crate::error::internal)?
                .map(ItemTask::from),
        )
    }
}

/// The item's task and listing, as they are now.
#[server(endpoint = "get_item_standing")]
pub async fn get_item_standing(id: i64) -> Result<ItemStanding, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let db = &state()?.db;
            let item = backend::catalog::get(db, seller.id, id).await?;
            Ok(ItemStanding {
                task: ssr::latest(db, seller.id, id).await?,
                listing_state: item.listing_state.into(),
                listing_id: item.listing_id,
                last_listing_error: item.last_listing_error,
            })
        }
        .await,
    )
}

/// A catalog row's chip: what the task is about to do to the item, linking to the task.
#[component]
pub fn TaskChip(task: ItemTask) -> impl IntoView {
    let (_, tone) = item_status(task.status);
    let title = format!("{} — open the task", task.label);
    let line = task.line();
    let label = format!("{line}: {title}");
    view! {
        <A href=task.href() attr:class="task-chip" attr:title=title attr:aria-label=label>
            <Chip label=line tone />
        </A>
    }
}

/// The item page's banner: the task, the item's state in it, and what to do about it.
#[component]
pub fn ItemTaskBanner(task: ItemTask) -> impl IntoView {
    let kind = task.presentation();
    let (_, tone) = item_status(task.status);
    let doing = kind.doing_line(&task.label);
    let said = match task.status {
        ItemStatus::Pending if task.task_status == TaskStatus::Scheduled => format!(
            "Scheduled in {}, which has not started. What you save here is what it sends when it does.",
            task.label
        ),
        ItemStatus::Pending if task.task_status == TaskStatus::Paused => format!(
            "Waiting in {doing}, which is paused. What you save here is what it sends when it resumes."
        ),
        ItemStatus::Pending => format!(
            "Queued in {doing}. What you save here is what it sends when the item's turn comes."
        ),
        ItemStatus::Running => format!(
            "Being sent now by {doing}. If you save, the new values are sent right after."
        ),
        ItemStatus::Waiting => format!(
            "Sent by {doing}: the marketplace accepted it and is processing it. It is checked again shortly."
        ),
        ItemStatus::Succeeded => format!("Done: {} by {}.", kind.done, task.label),
        ItemStatus::Failed => format!(
            "Failed in {}: {}",
            task.label,
            task.error_message
                .clone()
                .unwrap_or_else(|| "no reason was given.".into())
        ),
        ItemStatus::Skipped => format!("Skipped in {}.", task.label),
        ItemStatus::Cancelled => format!("Cancelled with {}.", task.label),
    };
    let fix = (task.status == ItemStatus::Failed)
        .then_some("Fix the fields below and save, then retry it from the task.");
    view! {
        <div class=format!("card item-task-banner tone-{}", tone.class()) role="status" data-item-status=task.status.as_str()>
            <Chip label=task.line() tone />
            <p class="item-task-words">
                {said}
                {fix.map(|fix| view! { " " <span class="muted">{fix}</span> })}
                {task.finished_at.filter(|_| task.status.is_done()).map(|at| view! {
                    " " <span class="muted"><crate::when::When at /></span>
                })}
            </p>
            <A href=task.href() attr:class="button small">"Open the task"</A>
        </div>
    }
}
