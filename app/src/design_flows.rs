//! The design gallery's specimens of flows: a chain's two steps in the tray and on the
//! task page (the second waiting for the first), a task scheduled for tonight with its
//! "Start now", and the cancel question that names the step that will not run.

use leptos::prelude::*;
use task_model::kinds::{EXPORT, IMPORT, PUBLISH};
use task_model::Chain;

use crate::design::{at, store_with, task, Frame, Specimen};
use crate::error::AppError;
use crate::live::TaskTray;
use crate::task_header::{CancelDialog, TaskHeader};
use crate::task_page::Which;
use crate::tasks::{Control, TaskStatus, TaskSummary};

/// Step 1 (an import, running) and step 2 (its publish, waiting), and an export
/// scheduled for tonight at 02:00 in the gallery's zone.
fn flow() -> (TaskSummary, TaskSummary, TaskSummary) {
    let import = TaskSummary {
        chain: Some(Chain {
            step: 1,
            of: 2,
            next: Some(22),
            previous: None,
        }),
        ..task(21, &IMPORT, TaskStatus::Running, 300, 120, 3)
    };
    let publish = TaskSummary {
        label: "Publish 300 items".into(),
        chain: Some(Chain {
            step: 2,
            of: 2,
            next: None,
            previous: Some(21),
        }),
        eta_seconds: None,
        started_at: None,
        ..task(22, &PUBLISH, TaskStatus::Scheduled, 0, 0, 0)
    };
    let tonight = TaskSummary {
        start_at: Some(at(0) + chrono::Duration::hours(15)),
        eta_seconds: None,
        started_at: None,
        ..task(23, &EXPORT, TaskStatus::Scheduled, 4000, 0, 0)
    };
    (import, publish, tonight)
}

#[component]
pub fn FlowSpecimens() -> impl IntoView {
    let control: Action<(Control, Which), Result<TaskSummary, AppError>> =
        Action::new(|_: &(Control, Which)| async { Err(AppError::NotFound) });
    let (import, publish, tonight) = flow();
    let store = store_with(vec![tonight.clone(), publish.clone(), import.clone()]);
    let header = move |shown: TaskSummary| {
        let current = Memo::new(move |_| shown.clone());
        view! { <TaskHeader current control cancel_open=RwSignal::new(false) /> }
    };
    let first = import.clone();
    let asked = Memo::new(move |_| first.clone());
    view! {
        <Specimen title="A flow: step 1 imports, step 2 publishes what imported once it ends; a task scheduled for tonight">
            <Frame store=store tall=true><div class="live-dock"><TaskTray /></div></Frame>
        </Specimen>
        <Specimen title="The task page: the flow's steps, each with its status">
            <Frame store=store>
                {header(import.clone())}
                {header(publish.clone())}
            </Frame>
        </Specimen>
        <Specimen title="Scheduled: when it starts, “Start now”, and the cancel question of a flow's first step">
            <Frame store=store>
                {header(tonight.clone())}
                <CancelDialog current=asked control open=RwSignal::new(true) inline=true />
            </Frame>
        </Specimen>
    }
}
