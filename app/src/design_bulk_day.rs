//! The design gallery's specimens of the seller's bulk day beyond edits: a finished
//! live item changed since it was published and the update of its listing, a finished
//! export offering its file (and one whose file is gone), the toast that offers it, and a
//! delete's confirmation.

use leptos::prelude::*;
use task_model::kinds::EXPORT;

use crate::bulk::{plan_title, PlanBody, StartRequest, TaskPlan};
use crate::design::{at, news_of, store_with, task, Frame, Specimen};
use crate::error::AppError;
use crate::live::Toasts;
use crate::selection::Selection;
use crate::task_header::TaskHeader;
use crate::task_page::Which;
use crate::tasks::{Control, TaskStatus, TaskSummary};

#[component]
pub fn BulkDaySpecimens() -> impl IntoView {
    let control: Action<(Control, Which), Result<TaskSummary, AppError>> =
        Action::new(|_: &(Control, Which)| async { Err(AppError::NotFound) });
    let never: Action<StartRequest, Result<TaskSummary, AppError>> =
        Action::new(|_: &StartRequest| async { Err(AppError::NotFound) });
    let always = RwSignal::new(true);
    let selection = RwSignal::new(Selection::default());
    let exported = task(12, &EXPORT, TaskStatus::Succeeded, 300, 300, 0);
    // Ended eight days before the gallery's moment: its file is gone.
    let expired = TaskSummary {
        finished_at: Some(at(0) - chrono::Duration::days(8)),
        ..task(4, &EXPORT, TaskStatus::Succeeded, 40, 40, 0)
    };
    let toasts = store_with(Vec::new());
    toasts.toast(news_of(exported.clone()));
    let delete_plan = TaskPlan {
        kind: task_model::kinds::DELETE.name.into(),
        count: 40,
        estimate: task_model::Estimate {
            seconds: 9,
            low: 8,
            high: 12,
            basis: task_model::Basis::Measured,
            shared_with: 0,
            items: 40,
            calls: 40,
        },
        breakdown: vec![
            (crate::catalog::ListingState::Draft, 28),
            (crate::catalog::ListingState::Published, 12),
        ],
        idempotency_key: String::new(),
        tonight: crate::design::at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: Vec::new(),
        connection_id: None,
    };
    let update_plan = TaskPlan {
        kind: task_model::kinds::UPDATE_LISTINGS.name.into(),
        count: 25,
        estimate: task_model::Estimate {
            seconds: 6,
            low: 5,
            high: 8,
            basis: task_model::Basis::Measured,
            shared_with: 0,
            items: 25,
            calls: 25,
        },
        breakdown: vec![(crate::catalog::ListingState::Published, 25)],
        idempotency_key: String::new(),
        tonight: crate::design::at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: Vec::new(),
        connection_id: None,
    };
    view! {
        <Specimen title="Changed since published: the catalog's mark, then the listings updated">
            <div class="state-cell">
                <crate::catalog::StateBadge state=crate::catalog::ListingState::Published />
                <span class="badge changed">"changed since published"</span>
            </div>
            <crate::ui::Dialog open=always id="design-update" title=plan_title(&update_plan.kind, update_plan.count) inline=true>
                <PlanBody plan=update_plan.clone() start=never selection open=always />
            </crate::ui::Dialog>
        </Specimen>
        <Specimen title="Undo of a finished import">
            {
                let imported = task(13, &task_model::kinds::IMPORT, TaskStatus::Succeeded, 120, 120, 0);
                let current = Memo::new(move |_| imported.clone());
                view! { <crate::undo::UndoDialog current open=always inline=true /> }
            }
        </Specimen>
        <Specimen title="Export: the finished task offers its file, kept 7 days">
            {[exported, expired]
                .into_iter()
                .map(|ended| {
                    let current = Memo::new(move |_| ended.clone());
                    view! { <TaskHeader current control cancel_open=RwSignal::new(false) /> }
                })
                .collect_view()}
            <Frame store=toasts><div class="live-dock"><Toasts /></div></Frame>
        </Specimen>
        <Specimen title="Delete: the confirmation names the count and what cannot be undone">
            <crate::ui::Dialog open=always id="design-delete" title=plan_title(&delete_plan.kind, delete_plan.count) inline=true>
                <PlanBody plan=delete_plan.clone() start=never selection open=always />
            </crate::ui::Dialog>
        </Specimen>
    }
}
