//! The task page's header (mark, label, status, how it ended, controls) and the cancel
//! confirmation it opens.

use leptos::prelude::*;

use crate::error::AppError;
use crate::task_page::Which;
use crate::tasks::{Control, TaskSummary};
use crate::ui::{task_status, Chip, Dialog};

/// How the task ended, in the words of its toast, notification and tray row.
pub fn outcome(task: &TaskSummary) -> Option<String> {
    task_model::words::finished(task.presentation(), &task.label, task.status, &task.counts)
        .map(|said| said.body)
}

/// The task's mark, label, status, how it ended (once it has) and its controls.
#[component]
pub fn TaskHeader(
    current: Memo<TaskSummary>,
    control: Action<(Control, Which), Result<TaskSummary, AppError>>,
    cancel_open: RwSignal<bool>,
) -> impl IntoView {
    let status = move || current.with(|t| t.status);
    let busy = move || control.pending().get();
    let undo_open = RwSignal::new(false);
    view! {
        <header class="page-header task-header">
            <div class="task-title">
                <span class="kind-mark" aria-hidden="true">{move || current.with(|t| t.presentation().mark)}</span>
                <h1>{move || current.with(|t| t.label.clone())}</h1>
                <span class="task-number" title="The task's number">{move || current.with(|t| format!("#{}", t.id))}</span>
                {move || { let (label, tone) = current.with(task_status); view! { <Chip label tone /> } }}
                {move || current.with(outcome).map(|said| view! { <p class="task-outcome" role="status">{said}</p> })}
                {move || current.with(crate::later::starts_line).map(|line| view! { <p class="task-outcome task-starts">{line}</p> })}
                <HoldNotice current />
            </div>
            <div class="task-controls" role="group" aria-label="Task controls">
                <Show when=move || current.with(|t| Control::StartNow.offered_in(t.status) && t.chain.and_then(|c| c.previous).is_none())>
                    <button type="button" class="button primary" disabled=busy on:click=move |_| { control.dispatch((Control::StartNow, Which::default())); }>"Start now"</button>
                </Show>
                <Show when=move || Control::Pause.offered_in(status())>
                    <button type="button" class="button" disabled=busy on:click=move |_| { control.dispatch((Control::Pause, Which::default())); }>"Pause"</button>
                </Show>
                <Show when=move || Control::Resume.offered_in(status())>
                    <button type="button" class="button primary" disabled=busy on:click=move |_| { control.dispatch((Control::Resume, Which::default())); }>"Resume"</button>
                </Show>
                <Show when=move || Control::Cancel.offered_in(status())>
                    <button type="button" class="button danger" disabled=busy on:click=move |_| cancel_open.set(true)>"Cancel task…"</button>
                </Show>
                <Show when=move || current.with(crate::undo::offered)>
                    <button type="button" class="button" on:click=move |_| undo_open.set(true)>"Undo…"</button>
                </Show>
                {move || current.with(TaskSummary::file).map(file_offer)}
            </div>
        </header>
        <crate::later::ChainSteps current />
        <crate::undo::UndoDialog current open=undo_open />
    }
}

/// Asks a held task's marketplace at once whether it answers again.
#[server(endpoint = "try_task_now")]
pub async fn try_task_now(id: i64) -> Result<TaskSummary, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?.id;
            let engine = &state()?.engine;
            let task = engine.try_now(seller, id).await?;
            Ok(TaskSummary::from_task(&task, engine.now()))
        }
        .await,
    )
}

/// While the task's marketplace does not answer: since when, how often it is asked,
/// that nothing is lost, that the time left cannot be known yet, and "Try now".
#[component]
pub fn HoldNotice(current: Memo<TaskSummary>) -> impl IntoView {
    let try_now = Action::new(|id: &i64| try_task_now(*id));
    let answer = move || match try_now.value().get() {
        Some(Ok(task)) if task.hold.is_some() => {
            Some("Asked just now: still not answering.".to_owned())
        }
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };
    let hold = move || current.with(|t| t.hold.clone().filter(|_| !t.is_over()));
    move || {
        hold().map(|hold| {
            let since = crate::ui::hours_minutes(hold.since);
            view! {
                <div class="hold-notice" role="status">
                    <p>
                        <strong>{hold.headline(&since)}</strong>
                        {format!(" — {}. Time left is unknown until it answers; the work carries on by itself then.", hold.detail())}
                    </p>
                    <button type="button" class="button" disabled=move || try_now.pending().get()
                        on:click=move |_| { try_now.dispatch(current.with_untracked(|t| t.id)); }>"Try now"</button>
                    {move || answer().map(|said| view! { <span class="muted">{said}</span> })}
                </div>
            }
        })
    }
}

/// A finished task's file: the download while it is kept, and until when; once removed,
/// since when.
fn file_offer(file: crate::tasks::FileOffer) -> AnyView {
    let clock = crate::when::use_clock();
    if file.until > clock.now() {
        view! {
            <a class="button primary" href=file.href download>{file.words}</a>
            <span class="muted file-kept">"Kept until " <crate::when::When at=file.until /></span>
        }
        .into_any()
    } else {
        view! {
            <span class="muted file-kept">"The file was removed " <crate::when::When at=file.until /> ". Export the items again for a new one."</span>
        }
        .into_any()
    }
}

#[component]
pub fn CancelDialog(
    current: Memo<TaskSummary>,
    control: Action<(Control, Which), Result<TaskSummary, AppError>>,
    open: RwSignal<bool>,
    /// Shown in place (the design gallery).
    #[prop(optional)]
    inline: bool,
) -> impl IntoView {
    view! {
        <Dialog open id="cancel-confirm" title="Cancel this task?" inline>
            {move || {
                let said = current.with(|t| task_model::words::cancel_question(t.presentation(), &t.counts));
                let next = current.with(|t| t.chain.and_then(|c| c.next.map(|next| format!("The step after it (#{next}) will not run either."))));
                view! { <p>{said}</p> {next.map(|next| view! { <p class="cancel-chain">{next}</p> })} }
            }}
            <div class="form-actions">
                <button type="button" class="button danger" on:click=move |_| {
                    control.dispatch((Control::Cancel, Which::default()));
                    open.set(false);
                }>"Cancel task"</button>
                <button type="button" class="button ghost" on:click=move |_| open.set(false)>"Keep it running"</button>
            </div>
        </Dialog>
    }
}
