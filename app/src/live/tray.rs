//! The task tray: bottom right, in the shell, so it survives navigation and reloads.

use leptos::prelude::*;
use leptos_router::components::A;
use task_model::plural;

use super::dock::{move_dock, DockSide, Side};
use super::use_live;
use crate::tasks::TaskSummary;
use crate::ui::{task_status, Chip, TaskBar};

/// Bottom right, in the shell, so it survives navigation.
#[component]
pub fn TaskTray() -> AnyView {
    let store = use_live();
    // `None`: open while something runs, collapsed to its summary otherwise; a click
    // makes it the seller's choice.
    let chosen = RwSignal::new(None::<bool>);
    let visible = move || {
        let dismissed = store.dismissed.get();
        store
            .tasks
            .get()
            .into_iter()
            .filter(|t| !dismissed.contains(&t.id))
            .take(8)
            .collect::<Vec<_>>()
    };
    let running = move || {
        store
            .tasks
            .with(|tasks| tasks.iter().any(|t| t.is_active()))
    };
    let open = move || chosen.get().unwrap_or_else(running);
    let summary = move || {
        let tasks = visible();
        let running = tasks.iter().filter(|t| t.is_active()).count();
        let scheduled = tasks
            .iter()
            .filter(|t| t.status == crate::tasks::TaskStatus::Scheduled)
            .count();
        let later = match scheduled {
            0 => String::new(),
            n => format!(" · {n} scheduled"),
        };
        match (running, store.running_progress()) {
            (0, _) if scheduled > 0 => {
                plural(scheduled as i64, "task scheduled", "tasks scheduled")
            }
            (0, _) => plural(tasks.len() as i64, "recent task", "recent tasks"),
            (n, Some(p)) => format!(
                "{} running · {p}%{later}",
                plural(n as i64, "task", "tasks")
            ),
            (n, None) => format!("{} running{later}", plural(n as i64, "task", "tasks")),
        }
    };
    view! {
        <aside class="task-tray" aria-label="Background tasks" data-empty=move || visible().is_empty().to_string() data-link=move || store.link.get().as_str()>
            <Show when=move || !visible().is_empty()>
                <div class="tray-card">
                    <div class="tray-top">
                        <button type="button" class="tray-head" aria-expanded=move || open().to_string() aria-controls="tray-rows" on:click=move |_| { let now = open(); chosen.set(Some(!now)); }>
                            <span class="tray-summary">{summary}</span>
                            <span class="tray-toggle" aria-hidden="true">{move || if open() { "▾" } else { "▴" }}</span>
                        </button>
                        {move || use_context::<DockSide>().map(|DockSide(side)| {
                            let label = match side.get() {
                                Side::Right => "Move the task tray to the left",
                                Side::Left => "Move the task tray to the right",
                            };
                            view! {
                                <button type="button" class="icon-button tray-move" aria-label=label title=label
                                    on:click=move |_| move_dock(side)>{move || if side.get() == Side::Right { "⇤" } else { "⇥" }}</button>
                            }
                        })}
                    </div>
                    <ul id="tray-rows" class="tray-rows" hidden=move || !open()>
                        <For each=visible key=|t| (t.id, t.seq) let:task>
                            <TrayRow task=task />
                        </For>
                    </ul>
                </div>
            </Show>
        </aside>
    }
    .into_any()
}

#[component]
fn TrayRow(task: TaskSummary) -> AnyView {
    let store = use_live();
    let c = task.counts;
    let over = task.is_over();
    let (chip, tone) = task_status(&task);
    let id = task.id;
    let line = task.line();
    let words = match task.hold.as_ref().filter(|_| !over) {
        // Held: why, since when, and that nothing is lost.
        Some(hold) => crate::ui::hold_line(hold),
        None => crate::later::starts_line(&task).unwrap_or_else(|| super::store::tray_words(&task)),
    };
    let step = task.chain.map(|chain| format!("{} · ", chain.words()));
    view! {
        <li class="tray-row" data-task=id data-status=task.status.as_str()>
            <span class="kind-mark" aria-hidden="true">{task.presentation().mark}</span>
            <div class="tray-main">
                <div class="tray-line">
                    <A href=format!("/tasks/{id}") attr:class="tray-label"><span class="task-number">{format!("#{id}")}</span>" "{line}</A>
                    <Chip label=chip tone />
                </div>
                <TaskBar counts=c label=format!("{} progress", task.label) />
                <div class="tray-counts muted">{step.map(|step| view! { <span class="tray-step">{step}</span> })}{words}</div>
            </div>
            {over.then(|| view! {
                <button type="button" class="icon-button" aria-label=format!("Dismiss {}", task.label)
                    on:click=move |_| store.dismissed.update(|d| d.push(id))>"×"</button>
            })}
        </li>
    }
    .into_any()
}
