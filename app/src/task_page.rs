//! One task: where it stands (live, from the store), its counts and the error report.
//! The failure groups, the item table and batch retry/skip come with the task pages
//! issue; this page is what the tray, toasts and notifications link to.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::bulk::describe_duration;
use crate::live::{is_over, use_live};
use crate::tasks::TaskSummary;

#[server(endpoint = "load_task")]
pub async fn load_task(id: i64) -> Result<TaskSummary, crate::error::AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let task = backend::tasks::get(&state()?.db, seller.id, id).await?;
            Ok(TaskSummary::from_task(&task, chrono::Utc::now()))
        }
        .await,
    )
}

#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or(0)
        })
    };
    let loaded = Resource::new(id, load_task);
    let store = use_live();
    view! {
        <section class="page task-page">
            <p class="breadcrumbs"><A href="/tasks">"Tasks"</A></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Err(err) => view! { <div class="card empty-state"><h1>"Task not found"</h1><p class="muted">{err.to_string()}</p></div> }.into_any(),
                        Ok(first) => {
                            // The live store has the newest state once the stream runs.
                            let current = move || {
                                store
                                    .tasks
                                    .with(|tasks| tasks.iter().find(|t| t.id == first.id).cloned())
                                    .filter(|live| live.seq >= first.seq)
                                    .unwrap_or_else(|| first.clone())
                            };
                            view! { {move || task_view(current())} }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

fn task_view(task: TaskSummary) -> impl IntoView {
    let c = task.counts;
    let done = c.succeeded + c.failed + c.skipped + c.cancelled;
    let over = is_over(&task.status);
    let report = format!("/api/v1/tasks/{}/report.csv", task.id);
    view! {
        <div class="page-header"><h1>{task.label.clone()}</h1></div>
        <div class="card stack task-summary" data-status=task.status.clone()>
            <progress max=c.total value=done aria-label="Progress"></progress>
            <p>
                {format!("{done} of {} · {} succeeded · {} failed · {} skipped · {} cancelled", c.total, c.succeeded, c.failed, c.skipped, c.cancelled)}
                {(!over).then_some(task.eta_seconds).flatten().map(|eta| format!(" · {} left", describe_duration(eta)))}
            </p>
            <p class="muted">{format!("Status: {}", task.status.replace('_', " "))}</p>
            {(c.failed > 0).then(|| view! {
                <p><a class="button primary" href=report download>"Download error report"</a></p>
            })}
        </div>
    }
}
