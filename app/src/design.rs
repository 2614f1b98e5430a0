//! `/design`: every component in every state, from fixtures, with no backend work. The
//! real components render here (the tray and the toasts read a fixture store), so a
//! change in `style/` shows at once under `cargo leptos watch`, at MD and at LG.
//!
//! Fixtures use fixed times, so the page renders the same on every run: the end-to-end
//! suite compares screenshots of it with committed references.

use chrono::{DateTime, TimeZone, Utc};
use leptos::prelude::*;

pub(crate) use crate::design_frame::{Frame, Specimen};

use crate::bulk::{plan_title, PlanBody, StartRequest, TaskPlan};
use crate::bulk_edit::EditPlanBody;
use crate::error::AppError;
use crate::item_task::{ItemTask, ItemTaskBanner, TaskChip};
use crate::live::{LiveStore, News, TaskTray, ToastLevel, Toasts};
use crate::selection::Selection;
use crate::task_header::{CancelDialog, TaskHeader};
use crate::task_list::task_row;
use crate::task_page::{FailureGroups, ItemsTable, TaskFacts, TaskItemList, Which};
use crate::tasks::{
    Control, FailureGroupView, ItemErrorView, ItemStatus, Presentation, TaskCounts, TaskItemView,
    TaskStatus, TaskSummary,
};
use crate::ui::{item_status, task_status, Chip, Dialog, Pager, TaskBar};
use crate::when::When;
use task_model::kinds::{IMPORT, PUBLISH, UNPUBLISH};
use task_model::Subject;

pub(crate) fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, minute, 0)
        .single()
        .unwrap_or_default()
}

/// One catalog item at each point of its task.
fn item_tasks() -> Vec<ItemTask> {
    let one = |kind: &Presentation, task_status, status, error: Option<&str>| ItemTask {
        task_id: 6,
        kind: kind.name.to_owned(),
        label: kind.label(200),
        task_status,
        status,
        error_code: error.map(|_| "invalid_listing".to_owned()),
        error_message: error.map(str::to_owned),
        finished_at: status.is_done().then(|| at(17)),
    };
    vec![
        one(&PUBLISH, TaskStatus::Running, ItemStatus::Pending, None),
        one(&PUBLISH, TaskStatus::Running, ItemStatus::Running, None),
        one(&PUBLISH, TaskStatus::Paused, ItemStatus::Pending, None),
        one(&UNPUBLISH, TaskStatus::Queued, ItemStatus::Pending, None),
        one(&PUBLISH, TaskStatus::Running, ItemStatus::Succeeded, None),
        one(
            &PUBLISH,
            TaskStatus::CompletedWithErrors,
            ItemStatus::Failed,
            Some("The marketplace refused the listing: the title is longer than 80 characters."),
        ),
    ]
}

/// A task in a given state: `done` of `total`, `failed` of them failed.
pub(crate) fn task(
    id: i64,
    kind: &Presentation,
    status: TaskStatus,
    total: i64,
    done: i64,
    failed: i64,
) -> TaskSummary {
    let over = status.is_terminal();
    let label = match kind.subject {
        Subject::CsvRow => format!("{} spring-catalog.csv", kind.title),
        _ => kind.label(total),
    };
    let cancelled = if status == TaskStatus::Cancelled {
        total - done
    } else {
        0
    };
    let queued = status == TaskStatus::Queued;
    let counts = TaskCounts {
        total,
        pending: if over { 0 } else { total - done },
        waiting: 0,
        running: 0,
        succeeded: done - failed,
        failed,
        skipped: 0,
        cancelled,
    };
    TaskSummary {
        eta_seconds: (!over && !queued).then_some(((total - done) * 2) as u64),
        estimate: Some(task_model::Estimate {
            seconds: (total * 2) as u64,
            low: (total * 2) as u64,
            high: (total * 2) as u64 + 4,
            basis: task_model::Basis::Measured,
            shared_with: 0,
            items: total as u64,
            calls: total as u64,
        }),
        duration_seconds: over.then_some(420.0),
        created_at: at(0),
        started_at: (!queued).then(|| at(1)),
        finished_at: over.then(|| at(7)),
        ..TaskSummary::fixture(id, kind.name, &label, status, counts)
    }
}

/// The toast for a fixture task: its start if it has not started, else its end.
pub(crate) fn news_of(task: TaskSummary) -> News {
    let before = (task.status != TaskStatus::Queued).then(|| TaskSummary {
        status: TaskStatus::Running,
        ..task.clone()
    });
    crate::live::store::news(before.as_ref(), &task).unwrap_or(News {
        level: ToastLevel::Info,
        title: task.label.clone(),
        body: String::new(),
        action: None,
    })
}

/// A publish held while its marketplace does not answer: no time left can be told.
pub(crate) fn held(id: i64) -> TaskSummary {
    let mut held = task(id, &PUBLISH, TaskStatus::Running, 200, 60, 0);
    held.eta_seconds = None;
    held.hold = Some(task_model::Hold {
        reason: task_model::HoldReason::MarketplaceUnavailable,
        since: at(2),
        next_probe_at: Some(at(3)),
        retry_every_seconds: 20,
        marketplace: "eBay".into(),
    });
    held
}

/// One task in every status, the quota wait included.
fn every_status() -> Vec<TaskSummary> {
    let mut waiting = task(3, &PUBLISH, TaskStatus::Running, 200, 88, 0);
    waiting.waiting_until = Some(at(12));
    vec![
        task(1, &PUBLISH, TaskStatus::Queued, 200, 0, 0),
        task(2, &IMPORT, TaskStatus::Running, 300, 143, 4),
        waiting,
        task(4, &UNPUBLISH, TaskStatus::Paused, 60, 21, 0),
        task(5, &PUBLISH, TaskStatus::Succeeded, 40, 40, 0),
        task(6, &PUBLISH, TaskStatus::CompletedWithErrors, 200, 200, 13),
        task(7, &IMPORT, TaskStatus::Failed, 12, 12, 12),
        task(8, &UNPUBLISH, TaskStatus::Cancelled, 80, 30, 0),
    ]
}

/// A 10 % rise ending in .99.
fn edit_change() -> task_model::edit::EditChange {
    task_model::edit::EditChange {
        price: Some(task_model::edit::PriceChange {
            op: task_model::edit::PriceOp::AddPercent,
            value: "10".into(),
            end_99: true,
        }),
        ..Default::default()
    }
}

/// What the server says a 10 % rise does to 200 items, one of them at a price of zero.
fn edit_preview() -> crate::bulk_edit::EditPreview {
    use task_model::edit::{EditPreviewChange, EditRefusal, EditValues};
    let values = |price: &str, quantity| EditValues {
        price: price.into(),
        currency: "EUR".into(),
        quantity,
        category: Some("Kitchen".into()),
    };
    crate::bulk_edit::EditPreview {
        count: 200,
        changed: 198,
        unchanged: 1,
        changes: [
            ("14.49", "15.99"),
            ("36.50", "39.99"),
            ("20.99", "22.99"),
            ("64.00", "69.99"),
        ]
        .into_iter()
        .enumerate()
        .map(|(at, (before, after))| EditPreviewChange {
            item_id: at as i64 + 1,
            sku: format!("SR-010{at}"),
            before: values(before, 12),
            after: values(after, 12),
        })
        .collect(),
        refused_by_code: vec![(
            "price_not_positive".into(),
            "Price must be above zero".into(),
            1,
        )],
        refused: vec![EditRefusal {
            item_id: 95,
            sku: "SR-0194".into(),
            code: "price_not_positive".into(),
            message: "The price would be 0.00: a price must stay above zero.".into(),
        }],
    }
}

pub(crate) fn store_with(tasks: Vec<TaskSummary>) -> LiveStore {
    let store = LiveStore::new();
    store.tasks.set(tasks);
    store.ready.set(true);
    store
}

fn item(id: i64, sku: &str, status: ItemStatus, error: Option<(&str, &str)>) -> TaskItemView {
    TaskItemView {
        id,
        position: (id - 1) as i32,
        status,
        attempts: if status == ItemStatus::Failed { 6 } else { 1 },
        item_id: Some(id),
        sku: Some(sku.to_owned()),
        title: Some(format!("Ceramic mug no. {id}")),
        line: None,
        error: error.map(|(code, message)| ItemErrorView {
            code: code.to_owned(),
            message: message.to_owned(),
            column: None,
            fields: Vec::new(),
        }),
    }
}

fn groups() -> Vec<FailureGroupView> {
    let unavailable = (
        "marketplace_unavailable",
        "The marketplace answered 503: Temporary failure. Retry later.",
    );
    let image = (
        "image_missing",
        "The marketplace requires at least one image.",
    );
    vec![
        FailureGroupView {
            code: "marketplace_unavailable".into(),
            title: "Marketplace unavailable".into(),
            explanation: "The marketplace answered with a temporary error several times in a row. Nothing is wrong with these items: retry them.".into(),
            remedy: "retry".into(),
            count: 9,
            examples: vec![
                item(12, "SR-0012", ItemStatus::Failed, Some(unavailable)),
                item(31, "SR-0031", ItemStatus::Failed, Some(unavailable)),
                item(77, "SR-0077", ItemStatus::Failed, Some(unavailable)),
            ],
        },
        FailureGroupView {
            code: "image_missing".into(),
            title: "Missing image".into(),
            explanation: "The marketplace requires at least one image. Add an image URL to these items, then retry.".into(),
            remedy: "fix".into(),
            count: 4,
            examples: vec![
                item(5, "SR-0005", ItemStatus::Failed, Some(image)),
                item(18, "SR-0018", ItemStatus::Failed, Some(image)),
            ],
        },
    ]
}

fn items() -> TaskItemList {
    TaskItemList {
        items: vec![
            item(1, "SR-0001", ItemStatus::Succeeded, None),
            item(2, "SR-0002", ItemStatus::Running, None),
            item(3, "SR-0003", ItemStatus::Pending, None),
            item(
                5,
                "SR-0005",
                ItemStatus::Failed,
                Some((
                    "image_missing",
                    "The marketplace requires at least one image.",
                )),
            ),
            item(
                12,
                "SR-0012",
                ItemStatus::Failed,
                Some((
                    "marketplace_unavailable",
                    "The marketplace answered 503: Temporary failure. Retry later.",
                )),
            ),
            item(14, "SR-0014", ItemStatus::Skipped, None),
            item(15, "SR-0015", ItemStatus::Cancelled, None),
        ],
        total: 200,
        page: 1,
        per_page: 50,
    }
}

#[component]
pub fn DesignPage() -> impl IntoView {
    // Fixtures read at a fixed moment, in a fixed zone (Paris in winter), so the pictures
    // never change with the day or the machine.
    crate::when::provide_fixed_clock(
        at(20),
        chrono::FixedOffset::east_opt(3600).unwrap_or_else(task_model::when::utc),
    );
    let one = store_with(vec![task(2, &IMPORT, TaskStatus::Running, 300, 143, 4)]);
    let six = store_with(every_status());
    let empty = store_with(Vec::new());
    // The toasts the store makes of these tasks' starts and ends, in the kinds' words.
    let toasts_a = store_with(Vec::new());
    for news in [
        news_of(task(1, &PUBLISH, TaskStatus::Queued, 200, 0, 0)),
        news_of(task(5, &PUBLISH, TaskStatus::Succeeded, 40, 40, 0)),
        news_of(task(
            6,
            &PUBLISH,
            TaskStatus::CompletedWithErrors,
            200,
            200,
            13,
        )),
    ] {
        toasts_a.toast(news);
    }
    let toasts_b = store_with(Vec::new());
    for news in [
        news_of(task(7, &IMPORT, TaskStatus::Failed, 12, 12, 12)),
        news_of(task(8, &UNPUBLISH, TaskStatus::Cancelled, 80, 30, 0)),
        news_of(task(5, &PUBLISH, TaskStatus::Succeeded, 40, 40, 0)),
        news_of(task(9, &IMPORT, TaskStatus::Succeeded, 300, 300, 0)),
        news_of(task(10, &PUBLISH, TaskStatus::Succeeded, 5, 5, 0)),
    ] {
        toasts_b.toast(news);
    }

    let always = RwSignal::new(true);
    let never: Action<StartRequest, Result<TaskSummary, AppError>> =
        Action::new(|_: &StartRequest| async { Err(AppError::NotFound) });
    let control: Action<(Control, Which), Result<TaskSummary, AppError>> =
        Action::new(|_: &(Control, Which)| async { Err(AppError::NotFound) });
    let running = task(2, &PUBLISH, TaskStatus::Running, 200, 143, 4);
    let current = Memo::new(move |_| running.clone());
    // The first publish, nothing measured yet: a range. A later one, measured, behind
    // another task that shares the marketplace's pace.
    let plan = TaskPlan {
        kind: "publish".into(),
        count: 200,
        estimate: task_model::Estimate {
            seconds: 42,
            low: 41,
            high: 56,
            basis: task_model::Basis::Limit,
            shared_with: 0,
            items: 200,
            calls: 200,
        },
        // A selection across the catalog: a few drafts, most already live.
        breakdown: vec![
            (crate::catalog::ListingState::Draft, 12),
            (crate::catalog::ListingState::Published, 188),
        ],
        idempotency_key: String::new(),
        tonight: crate::design::at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: Vec::new(),
        connection_id: None,
    };
    let shared_plan = TaskPlan {
        kind: "unpublish".into(),
        count: 60,
        estimate: task_model::Estimate {
            seconds: 25,
            low: 24,
            high: 27,
            basis: task_model::Basis::Measured,
            shared_with: 60,
            items: 60,
            calls: 60,
        },
        breakdown: vec![(crate::catalog::ListingState::Published, 60)],
        idempotency_key: String::new(),
        tonight: crate::design::at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: Vec::new(),
        connection_id: None,
    };
    // An edit is work inside Stockroom: no marketplace call, no shared pace.
    let edit_plan = TaskPlan {
        kind: "edit".into(),
        count: 200,
        estimate: task_model::Estimate {
            seconds: 2,
            low: 1,
            high: 3,
            basis: task_model::Basis::Local,
            shared_with: 0,
            items: 200,
            calls: 0,
        },
        breakdown: Vec::new(),
        idempotency_key: String::new(),
        tonight: crate::design::at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: Vec::new(),
        connection_id: None,
    };
    let selection = RwSignal::new(Selection::default());
    let selected = RwSignal::new(vec![5_i64]);
    let page = RwSignal::new(1_u64);
    let now = at(9);
    let noop3 = Callback::new(|_: (String, i64, String)| {});

    view! {
        <main class="design app-content" id="content">
            <header class="page-header">
                <h1>"Design gallery"</h1>
                <p class="muted">"Every component in every state, from fixtures. Change style/main.css under cargo leptos watch and this page follows."</p>
            </header>

            <Specimen title="Status chips">
                <div class="chip-row">
                    {every_status().iter().map(|t| { let (label, tone) = task_status(t); view! { <Chip label tone /> } }).collect_view()}
                </div>
                <div class="chip-row">
                    {ItemStatus::ALL.into_iter().map(|s| { let (label, tone) = item_status(s); view! { <Chip label tone /> } }).collect_view()}
                </div>
            </Specimen>

            <Specimen title="Buttons">
                <div class="chip-row">
                    <button type="button" class="button primary">"Primary"</button>
                    <button type="button" class="button">"Default"</button>
                    <button type="button" class="button ghost">"Ghost"</button>
                    <button type="button" class="button danger">"Cancel task…"</button>
                    <button type="button" class="button" disabled=true>"Disabled"</button>
                    <button type="button" class="button small">"Small"</button>
                    <button type="button" class="count-chip" aria-pressed="true">"Failed "<strong>"13"</strong></button>
                    <button type="button" class="count-chip" aria-pressed="false">"All "<strong>"200"</strong></button>
                </div>
            </Specimen>

            <Specimen title="Progress bars">
                {[(0, 0, 0), (50, 0, 0), (129, 14, 0), (200, 0, 0), (129, 71, 0), (150, 12, 38)].into_iter().map(|(succeeded, failed, skipped)| {
                    let counts = TaskCounts { total: 200, succeeded, failed, skipped, pending: 200 - succeeded - failed - skipped, ..TaskCounts::default() };
                    view! {
                        <div class="progress-line">
                            <TaskBar counts label=format!("{} of 200", counts.done()) />
                            <span class="progress-words">{format!("{} of 200 · {failed} failed · {skipped} skipped", counts.done())}</span>
                        </div>
                    }
                }).collect_view()}
                {
                    // Accepted by the marketplace, still being processed there.
                    let counts = TaskCounts { total: 200, succeeded: 150, waiting: 30, failed: 5, pending: 15, ..TaskCounts::default() };
                    view! {
                        <div class="progress-line" data-specimen="waiting">
                            <TaskBar counts label="Waiting for the marketplace" />
                            <span class="progress-words">{format!("{} · 5 failed", task_model::words::progress(&counts))}</span>
                        </div>
                    }
                }
            </Specimen>

            <Specimen title="Task tray, no tasks">
                <Frame store=empty><div class="live-dock"><TaskTray /></div><p class="muted">"Nothing runs and nothing is recent: the tray is not shown."</p></Frame>
            </Specimen>
            <Specimen title="Task tray, one task">
                <Frame store=one><div class="live-dock"><TaskTray /></div></Frame>
            </Specimen>
            <Specimen title="Task tray, every status">
                <Frame store=six tall=true><div class="live-dock"><TaskTray /></div></Frame>
            </Specimen>

            <Specimen title="Toasts, every level, above the tray (the dock; the page keeps room for it)">
                <Frame store=toasts_a tall=true><div class="live-dock"><Toasts /><TaskTray /></div></Frame>
                <Frame store=toasts_b tall=true><div class="live-dock" data-side="left"><Toasts /></div></Frame>
            </Specimen>

            <Specimen title="The item knows its task, catalog chips">
                <div class="chip-row">
                    {item_tasks().into_iter().map(|task| view! { <TaskChip task /> }).collect_view()}
                </div>
            </Specimen>
            <Specimen title="The item knows its task, the item page's banner">
                {item_tasks().into_iter().map(|task| view! { <ItemTaskBanner task /> }).collect_view()}
            </Specimen>
            <Specimen title="Saving an item a task is about to send">
                <Dialog open=always id="design-save-in-task" title="Save while a task is on it?" inline=true>
                    <p>{PUBLISH.save_question("Publish 200 items", ItemStatus::Pending)}</p>
                    <div class="form-actions">
                        <button type="button" class="button primary">"Save anyway"</button>
                        <button type="button" class="button ghost">"Keep editing"</button>
                    </div>
                </Dialog>
            </Specimen>
            <Specimen title="Times, in the seller's zone (hover for the whole date)">
                <dl class="facts">
                    {[(19, "a minute earlier"), (5, "a quarter of an hour earlier")].into_iter().map(|(minute, what)| view! {
                        <dt>{what}</dt><dd><When at=at(minute) /></dd>
                    }).collect_view()}
                    <dt>"this morning"</dt><dd><When at=at(0) - chrono::Duration::hours(3) /></dd>
                    <dt>"two days earlier"</dt><dd><When at=at(0) - chrono::Duration::days(2) /></dd>
                    <dt>"last year"</dt><dd><When at=at(0) - chrono::Duration::days(400) /></dd>
                </dl>
            </Specimen>

            <Specimen title="Heavy-task dialog">
                <Dialog open=always id="design-plan" title=plan_title(&plan.kind, plan.count) inline=true>
                    <PlanBody plan=plan.clone() start=never selection open=always />
                </Dialog>
                <Dialog open=always id="design-plan-shared" title=plan_title(&shared_plan.kind, shared_plan.count) inline=true>
                    <PlanBody plan=shared_plan.clone() start=never selection open=always />
                </Dialog>
            </Specimen>

            <Specimen title="Bulk edit: the form, then the server's preview">
                <Dialog open=always id="design-edit" title=plan_title("edit", 200) inline=true>
                    <EditPlanBody plan=edit_plan.clone() start=never selection open=always />
                </Dialog>
                <Dialog open=always id="design-edit-preview" title=plan_title("edit", 200) inline=true>
                    {crate::bulk_edit::preview_view(edit_preview(), edit_change(), 200)}
                </Dialog>
            </Specimen>
            <Specimen title="Undo of a finished edit">
                {
                    let edited = task(11, &task_model::kinds::EDIT, TaskStatus::CompletedWithErrors, 200, 200, 1);
                    let current = Memo::new(move |_| edited.clone());
                    view! { <crate::undo::UndoDialog current open=always inline=true /> }
                }
            </Specimen>

            <crate::design_bulk_day::BulkDaySpecimens />
            <crate::design_flows::FlowSpecimens />
            <crate::design_marketplaces::MarketplaceSpecimens />

            <Specimen title="Import: the whole file checked before it starts">
                {crate::import::confirm_specimen(crate::design_import::file_check(), false)}
            </Specimen>

            <Specimen title="Where to when an import then publishes (three connections)">
                {crate::import::confirm_specimen(crate::design_import::file_check(), true)}
            </Specimen>

            <Specimen title="Cancel dialog">
                <CancelDialog current control open=always inline=true />
            </Specimen>

            <Specimen title="Task page header, how it ended">
                {[
                    task(6, &PUBLISH, TaskStatus::CompletedWithErrors, 200, 200, 13),
                    task(8, &UNPUBLISH, TaskStatus::Cancelled, 80, 30, 0),
                    task(7, &IMPORT, TaskStatus::Failed, 12, 12, 12),
                ]
                .into_iter()
                .map(|ended| {
                    let current = Memo::new(move |_| ended.clone());
                    view! { <TaskHeader current control cancel_open=RwSignal::new(false) /> }
                })
                .collect_view()}
            </Specimen>

            <Specimen title="Task page facts: time left beside the estimate, and how long it took">
                {[
                    task(2, &IMPORT, TaskStatus::Running, 300, 143, 4),
                    task(6, &PUBLISH, TaskStatus::CompletedWithErrors, 200, 200, 13),
                ]
                .into_iter()
                .map(|shown| {
                    let current = Memo::new(move |_| shown.clone());
                    view! {
                        <div>
                            <TaskFacts current status_filter=RwSignal::new(None) code_filter=RwSignal::new(None) now />
                        </div>
                    }
                })
                .collect_view()}
            </Specimen>

            <Specimen title="Failure groups">
                <FailureGroups groups=groups() from_file=false task_id=6 on_retry=noop3 on_skip=noop3 on_show=Callback::new(|_: String| {}) />
            </Specimen>

            <Specimen title="Task items table">
                <ItemsTable list=items() selected from_file=false task_id=6 page on_selected=Callback::new(|_: (Control, Vec<i64>)| {}) />
            </Specimen>

            <Specimen title="Task history table">
                <div class="table-wrap card">
                    <table class="table tasks-table">
                        <thead><tr><th>"Task"</th><th>"Status"</th><th>"Progress"</th><th>"Created"</th><th>"Duration"</th></tr></thead>
                        <tbody>{every_status().into_iter().map(|t| task_row(t, now)).collect_view()}</tbody>
                    </table>
                </div>
                <Pager page per_page=20 total=48 />
            </Specimen>

            <Specimen title="Empty and loading states">
                <div class="table-wrap card">
                    <table class="table tasks-table">
                        <tbody><tr><td class="empty">"No tasks yet. Publish items from the catalog or import a file, and they are listed here."</td></tr></tbody>
                    </table>
                </div>
                <p class="muted" aria-busy="true">"Loading the task…"</p>
                <div class="card empty-state"><h3>"Task not found"</h3><p class="muted">"There is no such task of yours."</p></div>
                <p class="alert error" role="alert">"This task is cancelled: it cannot be retried now."</p>
                <p class="alert info" role="status">"Sent again. The task shows how it goes."</p>
            </Specimen>
        </main>
    }
}
