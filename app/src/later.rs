//! Starting later and chaining: the two choices every heavy task's confirmation offers —
//! when it starts ("Now", "Tonight at 02:00", "At…") and, for the kinds that have one, the
//! step that follows it ("Then publish what imported") — and how a task that has not
//! started yet, or is a step of a chain, is said.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::tasks::{TaskStatus, TaskSummary};

/// When the seller chose to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Now,
    Tonight,
    At,
}

/// "Now / Tonight at 02:00 / At a time…": sets `start_at` (`None` for now), and
/// `blocked` while "At a time…" has no time ahead yet (the start button waits for one,
/// so a half-filled choice never starts the task at once). `tonight` is the next 02:00 on
/// the seller's clock, from the server.
#[component]
pub fn StartWhen(
    tonight: DateTime<Utc>,
    start_at: RwSignal<Option<DateTime<Utc>>>,
    blocked: RwSignal<bool>,
) -> impl IntoView {
    let when = RwSignal::new(When::Now);
    let picked = RwSignal::new(None::<DateTime<Utc>>);
    let clock = crate::when::use_clock();
    let invalid = move || when.get() == When::At && picked.get().is_none_or(|at| at <= clock.now());
    Effect::new(move |_| {
        start_at.set(match when.get() {
            When::Now => None,
            When::Tonight => Some(tonight),
            When::At => picked.get(),
        });
        blocked.set(invalid());
    });
    let tonight_words = format!(
        "Tonight at {}",
        task_model::when::clock(tonight, clock.offset_at(tonight))
            .get(..5)
            .unwrap_or("02:00")
    );
    let radio = move |value: When, label: String| {
        view! {
            <label class="plan-when-choice">
                <input type="radio" name="start-when" prop:checked=move || when.get() == value
                    on:change=move |_| when.set(value) />
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="plan-when">
            <legend>"Start"</legend>
            {radio(When::Now, "Now".into())}
            {radio(When::Tonight, tonight_words)}
            {radio(When::At, "At a time…".into())}
            <Show when=move || when.get() == When::At>
                <input type="datetime-local" class="plan-when-at" aria-label="Start at"
                    on:input=move |ev| picked.set(local_input(&event_target_value(&ev))) />
                <Show when=invalid>
                    <span class="field-error">"Pick a day and a time ahead."</span>
                </Show>
            </Show>
        </fieldset>
    }
}

/// A `datetime-local` value ("2026-12-04T02:00") as the instant it names on the browser's
/// clock (the browser applies its zone and daylight saving).
fn local_input(value: &str) -> Option<DateTime<Utc>> {
    if value.trim().is_empty() {
        return None;
    }
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value)).get_time();
        if ms.is_finite() {
            return DateTime::from_timestamp_millis(ms as i64);
        }
    }
    None
}

/// A checkbox adding the step that may follow `first` (its words from the model); sets
/// `then` to that kind's name when ticked.
#[component]
pub fn ThenChoice(
    first: &'static str,
    then_kind: &'static str,
    then: RwSignal<Option<String>>,
) -> impl IntoView {
    let words = task_model::chain::then_words(first, then_kind);
    words.map(|words| {
        view! {
            <label class="plan-choice plan-then">
                <input type="checkbox" prop:checked=move || then.get().is_some()
                    on:change=move |ev| then.set(event_target_checked(&ev).then(|| then_kind.to_owned())) />
                {words}
            </label>
        }
    })
}

/// What a task that has not started waits for, in words: "scheduled for 02:00",
/// "after step 1".
pub fn waiting(task: &TaskSummary) -> String {
    let clock = crate::when::use_clock();
    let now = clock.now();
    let offset = clock.offset_at(task.start_at.unwrap_or(now));
    task_model::chain::waiting_words(task.start_at, task.chain.as_ref(), now, offset)
}

/// A status chip's words for a task that has not started: short enough for the tray
/// ("scheduled", "after step 1"); when it starts is said beside it ([`starts_line`]).
pub fn chip(task: &TaskSummary) -> String {
    match task.chain.and_then(|c| c.previous) {
        Some(_) => waiting(task),
        None => task.status.words().to_owned(),
    }
}

/// The tray's and the task list's line for a task that has not started: "Starts at
/// 02:00 · about 4 min", "Starts when #12 ends".
pub fn starts_line(task: &TaskSummary) -> Option<String> {
    if task.status != TaskStatus::Scheduled {
        return None;
    }
    let about = task
        .estimate
        .map(|e| format!(" · takes {}", e.about()))
        .unwrap_or_default();
    Some(match task.chain.and_then(|c| c.previous) {
        Some(previous) => format!("Starts when #{previous} ends"),
        None => match task.start_at {
            Some(at) => {
                let clock = crate::when::use_clock();
                let words = task_model::chain::at_words(at, clock.now(), clock.offset_at(at));
                // "at 22:30" today; "tomorrow 02:00", "Sat 5 Dec, 02:00" on other days.
                let at = if words.len() == 5 {
                    format!("at {words}")
                } else {
                    words
                };
                format!("Starts {at}{about}")
            }
            None => format!("Starts when its time comes{about}"),
        },
    })
}

/// What the seller is told when they schedule a task: "#12 Publish 20 items is
/// scheduled: it starts at 02:00."
pub fn scheduled_notice(task: &TaskSummary) -> Option<String> {
    (task.status == TaskStatus::Scheduled).then(|| {
        let named = task_model::words::numbered(task.id, &task.label);
        let at = task
            .start_at
            .map(|at| format!(" It starts {}.", crate::when::said(at)))
            .unwrap_or_default();
        format!("{named} is scheduled.{at} You can start it sooner or cancel it from its page.")
    })
}

/// A chain's steps around this task, each with its number, label and status: "Step 1 ·
/// #12 Import 300 items · done → Step 2 · #13 Publish 287 items · running". The other
/// steps come from the live store (they were made with this one, so it has them); one it
/// lacks is still named and linked.
#[component]
pub fn ChainSteps(current: Memo<TaskSummary>) -> impl IntoView {
    let store = crate::live::use_live();
    move || {
        let task = current.get();
        let chain = task.chain?;
        let find = |id: i64| {
            store
                .tasks
                .with(|tasks| tasks.iter().find(|t| t.id == id).cloned())
        };
        let mut steps: Vec<(u32, i64, Option<TaskSummary>)> = Vec::new();
        if let Some(previous) = chain.previous {
            steps.push((chain.step.saturating_sub(1), previous, find(previous)));
        }
        steps.push((chain.step, task.id, Some(task.clone())));
        if let Some(next) = chain.next {
            steps.push((chain.step + 1, next, find(next)));
        }
        let last = steps.len();
        Some(view! {
            <nav class="chain-steps" aria-label=format!("This task is step {} of {}", chain.step, chain.of)>
                <ol>
                    {steps.into_iter().enumerate().map(|(at, (step, id, summary))| {
                        let here = id == task.id;
                        let label = summary.as_ref().map(|t| t.label.clone()).unwrap_or_default();
                        let chip = summary.as_ref().map(|t| {
                            let (label, tone) = crate::ui::task_status(t);
                            view! { <crate::ui::Chip label tone /> }
                        });
                        view! {
                            <li class="chain-step" aria-current=here.then_some("step")>
                                <span class="chain-step-number">{format!("Step {step} of {}", chain.of)}</span>
                                {if here {
                                    view! { <span class="task-number">{format!("#{id}")}</span>" "{label}" " }.into_any()
                                } else {
                                    view! { <leptos_router::components::A href=format!("/tasks/{id}")><span class="task-number">{format!("#{id}")}</span>" "{label}</leptos_router::components::A> }.into_any()
                                }}
                                {chip}
                            </li>
                            {(at + 1 < last).then(|| view! { <li class="chain-arrow" aria-hidden="true">"→"</li> })}
                        }
                    }).collect_view()}
                </ol>
            </nav>
        })
    }
}
