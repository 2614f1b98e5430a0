//! The seller's task history: filters by status and kind, pages, and live rows (the
//! store's newer state wins; a task started elsewhere appears at once).

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::live::use_live;
use crate::tasks::{TaskStatus, TaskSummary};
use crate::ui::{elapsed_words, task_status, Chip, Pager, TaskBar};
use crate::when::When;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    pub items: Vec<TaskSummary>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[server(endpoint = "list_tasks")]
pub async fn list_tasks(status: String, kind: String, page: u64) -> Result<TaskList, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    use backend::tasks::query::TaskFilter;
    const PER_PAGE: u64 = 20;
    with_status(
        async {
            let seller = require_seller()?;
            let status = match status.as_str() {
                "" => None,
                raw => Some(
                    TaskStatus::try_from(raw).map_err(|err| AppError::BadRequest {
                        message: format!("{err}."),
                    })?,
                ),
            };
            let filter = TaskFilter {
                status,
                kind: Some(kind).filter(|k| !k.is_empty()),
            };
            let page = page.max(1);
            let (items, total) =
                crate::tasks::ssr::task_page(&state()?.db, seller.id, &filter, page, PER_PAGE)
                    .await?;
            Ok(TaskList {
                items,
                total,
                page,
                per_page: PER_PAGE,
            })
        }
        .await,
    )
}

/// The filter's choices: every status in the chip's words; the kinds sellers see.
fn status_options() -> Vec<(&'static str, String)> {
    TaskStatus::ALL
        .into_iter()
        .map(|status| (status.as_str(), capitalised(status.words())))
        .collect()
}

fn kind_options() -> Vec<(&'static str, String)> {
    task_model::kinds::ALL
        .into_iter()
        .filter(|kind| kind.listed)
        .map(|kind| (kind.name, kind.title.to_owned()))
        .collect()
}

fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[component]
pub fn TasksPage() -> impl IntoView {
    let store = use_live();
    let status = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let page = RwSignal::new(1_u64);
    Effect::new(move |_| {
        status.track();
        kind.track();
        page.set(1);
    });
    // A task the store has not seen listed (started now, here or elsewhere) reloads the page.
    let newest = Memo::new(move |_| store.tasks.with(|t| t.iter().map(|t| t.id).max()));
    let tasks = Resource::new(
        move || (status.get(), kind.get(), page.get(), newest.get()),
        |(status, kind, page, _)| list_tasks(status, kind, page),
    );
    let select = move |id: &'static str,
                       label: &'static str,
                       signal: RwSignal<String>,
                       options: Vec<(&'static str, String)>,
                       all: &'static str| {
        view! {
            <label class="filter">
                <span class="filter-label">{label}</span>
                <select id=id class="input" prop:value=move || signal.get() on:change=move |ev| signal.set(event_target_value(&ev))>
                    <option value="">{all}</option>
                    {options.into_iter().map(|(value, text)| view! { <option value=value>{text}</option> }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <section class="page tasks-page">
            <header class="page-header">
                <h1>"Tasks"</h1>
                <div class="filters" role="group" aria-label="Filter tasks">
                    {select("task-status", "Status", status, status_options(), "Any status")}
                    {select("task-kind", "Kind", kind, kind_options(), "Any kind")}
                </div>
            </header>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading tasks…"</p> }>
                {move || Suspend::new(async move {
                    match tasks.await {
                        Ok(list) => view! { <TaskTable list page /> }.into_any(),
                        Err(err) => view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn TaskTable(list: TaskList, page: RwSignal<u64>) -> impl IntoView {
    let store = use_live();
    let total = list.total;
    let per_page = list.per_page;
    let rows = list
        .items
        .into_iter()
        .map(|listed| {
            let id = listed.id;
            // The store's copy is newer while the task runs.
            let task = move || {
                store
                    .tasks
                    .with(|tasks| tasks.iter().find(|t| t.id == id).cloned())
                    .filter(|live| live.seq >= listed.seq)
                    .unwrap_or_else(|| listed.clone())
            };
            view! { {move || task_row(task(), chrono::Utc::now())} }
        })
        .collect_view();
    view! {
        <div class="table-wrap card">
            <table class="table tasks-table">
                <thead><tr>
                    <th>"Task"</th>
                    <th>"Status"</th>
                    <th>"Progress"</th>
                    <th>"Created"</th>
                    <th>"Duration"</th>
                </tr></thead>
                <tbody>
                    {if total == 0 {
                        view! { <tr><td colspan="5" class="empty">"No tasks yet. Publish items from the catalog or import a file, and they are listed here."</td></tr> }.into_any()
                    } else {
                        rows.into_any()
                    }}
                </tbody>
            </table>
        </div>
        <Pager page per_page total />
    }
}

/// One task as a table row; `now` ends the duration of a task still running.
pub fn task_row(task: TaskSummary, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let (label, tone) = task_status(&task);
    let duration = task.started_at.map(|start| {
        let end = task.finished_at.unwrap_or(now);
        elapsed_words((end - start).num_seconds())
    });
    let (failed, cancelled) = (task.counts.failed, task.counts.cancelled);
    let progress_label = format!("{} progress", task.label);
    let over = task.is_over();
    view! {
        <tr data-task=task.id data-status=task.status.as_str()>
            <td>
                <span class="kind-mark" aria-hidden="true">{task.presentation().mark}</span>" "
                <A href=format!("/tasks/{}", task.id)>{task.label.clone()}</A>" "
                <span class="task-number">{format!("#{}", task.id)}</span>
            </td>
            <td><Chip label tone /></td>
            <td class="col-progress">
                <TaskBar counts=task.counts label=progress_label />
                <span class="muted">{format!(" {}", task_model::words::progress(&task.counts))}{(failed > 0).then(|| format!(" · {failed} failed"))}{(cancelled > 0).then(|| format!(" · {cancelled} cancelled"))}</span>
            </td>
            <td class="muted"><When at=task.created_at /></td>
            <td class="muted">{match (duration, over) {
                (Some(d), true) => d,
                (Some(d), false) => format!("{d} so far"),
                (None, _) => "not started".to_owned(),
            }}</td>
        </tr>
    }
}
