//! Undoing a finished edit or import from its task page: one button, a confirmation that says what
//! happens to items changed since, then the undo runs as a task of its own.

use leptos::prelude::*;

use crate::error::AppError;
use crate::tasks::TaskSummary;
use crate::ui::Dialog;

/// Starts the task that puts back what task `id` changed.
#[server(endpoint = "undo_task")]
pub async fn undo_task(id: i64) -> Result<TaskSummary, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let state = state()?;
            let created = ssr::start(&state, seller.id, id, None).await?;
            Ok(TaskSummary::from_task(created.task(), chrono::Utc::now()))
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::error::AppError;
    use backend::tasks::create::{Created, NewTask};

    /// The undo of the seller's task `id`, started (or found again by `key`).
    pub async fn start(
        state: &crate::state::AppState,
        seller_id: i64,
        id: i64,
        key: Option<String>,
    ) -> Result<Created, AppError> {
        let task = backend::tasks::get(&state.db, seller_id, id).await?;
        let steps = backend::undo::steps(&state.db, &task)
            .await
            .map_err(crate::error::internal)?
            .map_err(|refused| AppError::Refused {
                code: refused.code().to_owned(),
                message: refused.to_string(),
            })?;
        let subjects = steps
            .iter()
            .map(|step| serde_json::to_value(step).unwrap_or_default())
            .collect();
        Ok(state
            .engine
            .create_task_from(
                NewTask {
                    seller_id,
                    kind: task_model::kinds::UNDO.name.into(),
                    params: serde_json::json!({ "task_id": task.id, "label": task.label }),
                    idempotency_key: key.or_else(|| Some(format!("undo-of-{}", task.id))),
                },
                Some(subjects),
            )
            .await?)
    }
}

/// Whether the task page offers to undo this task.
pub fn offered(task: &TaskSummary) -> bool {
    task.presentation().undoable && task.is_over() && task.counts.succeeded > 0
}

/// The confirmation, and the undo once started.
#[component]
pub fn UndoDialog(
    current: Memo<TaskSummary>,
    open: RwSignal<bool>,
    /// Shown in place (the design gallery).
    #[prop(optional)]
    inline: bool,
) -> impl IntoView {
    let undo = ServerAction::<UndoTask>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(task)) = undo.value().get() {
            open.set(false);
            navigate(&format!("/tasks/{}", task.id), Default::default());
        }
    });
    view! {
        <Dialog open id="undo-confirm" inline title=Signal::derive(move || current.with(|t| format!("Undo {}?", task_model::words::numbered(t.id, &t.label))))>
            {move || {
                let (n, subject) = current.with(|t| (t.counts.succeeded, t.presentation().subject));
                let said = match subject {
                    task_model::Subject::CsvRow => format!(
                        "Of the {} it imported, the items it created are deleted for good (unless live or changed since) and the items it changed get their values back. Rows that changed nothing are left alone.",
                        task_model::plural(n, "row", "rows")
                    ),
                    _ => format!("The values before the edit are put back on the {} it changed.", task_model::plural(n, "item", "items")),
                };
                view! {
                    <p>{said}</p>
                    <p class="muted">"An item changed since keeps its newer values: it is skipped, with the reason, never overwritten. The undo runs in the background."</p>
                }
            }}
            {move || undo.value().get().and_then(|r| r.err()).map(|err| view! { <p class="alert error" role="alert">{err.to_string()}</p> })}
            <div class="form-actions">
                <button type="button" class="button primary" disabled=move || undo.pending().get() on:click=move |_| {
                    undo.dispatch(UndoTask { id: current.with_untracked(|t| t.id) });
                }>"Undo in background"</button>
                <button type="button" class="button ghost" on:click=move |_| open.set(false)>"Keep the changes"</button>
            </div>
        </Dialog>
    }
}
