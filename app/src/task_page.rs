//! One task, live: where it stands, its controls, its failures grouped by reason (retry
//! or skip a whole group), and its items (filter, search, select, retry, skip, fix).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::bulk::describe_duration;
use crate::error::AppError;
use crate::live::use_live;
use crate::task_header::{CancelDialog, TaskHeader};
use crate::tasks::{
    Control, Estimate, FailureGroupView, ItemStatus, TaskItemView, TaskItemsQuery, TaskSummary,
};
use crate::ui::{done_of, elapsed_words, item_status, Chip, Dialog, Pager, TaskBar};
use crate::when::When;
use task_model::Subject;

/// Retrying or skipping more than this many items at once asks first.
pub const CONFIRM_ABOVE: i64 = 50;
const ITEMS_PER_PAGE: u64 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskItemList {
    pub items: Vec<TaskItemView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// What a control applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Which {
    /// Task item ids (not catalog ids).
    pub item_ids: Option<Vec<i64>>,
    /// One failure group.
    pub error_code: Option<String>,
}

#[server(endpoint = "load_task")]
pub async fn load_task(id: i64) -> Result<TaskSummary, AppError> {
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

#[server(endpoint = "task_failures")]
pub async fn task_failures(id: i64) -> Result<Vec<FailureGroupView>, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            crate::tasks::ssr::failure_groups(&state()?.db, seller.id, id).await
        }
        .await,
    )
}

#[server(endpoint = "task_items_page", input = Json)]
pub async fn task_items_page(id: i64, query: TaskItemsQuery) -> Result<TaskItemList, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let query = TaskItemsQuery {
                page: query.page.max(1),
                per_page: query.per_page.clamp(1, 200),
                ..query
            };
            let (items, total) =
                crate::tasks::ssr::task_items(&state()?.db, seller.id, id, &query).await?;
            Ok(TaskItemList {
                items,
                total,
                page: query.page,
                per_page: query.per_page,
            })
        }
        .await,
    )
}

/// `pause`, `resume`, `cancel`, `retry`, `skip` or `start_now`.
#[server(endpoint = "control_task", input = Json)]
pub async fn control_task(id: i64, action: Control, which: Which) -> Result<TaskSummary, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    use backend::tasks::control::Selection;
    with_status(
        async {
            let seller = require_seller()?.id;
            let engine = &state()?.engine;
            let selection = Selection::from_parts(which.item_ids, which.error_code);
            let done = match action {
                Control::Pause => engine.pause(seller, id).await,
                Control::Resume => engine.resume(seller, id).await,
                Control::Cancel => engine.cancel(seller, id).await,
                Control::Retry => engine.retry(seller, id, selection).await,
                Control::Skip => engine.skip(seller, id, selection).await,
                Control::StartNow => engine.start_now(seller, id).await,
            }?;
            Ok(TaskSummary::from_task(&done.task, chrono::Utc::now()))
        }
        .await,
    )
}

/// How long sending `count` items of a task again would take, in words: the engine's
/// estimate, the one the retry then records.
#[server(endpoint = "estimate_items")]
pub async fn estimate_items(task_id: i64, count: u64) -> Result<String, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let estimate = state()?
                .engine
                .estimate_again(seller.id, task_id, count)
                .await?;
            Ok(format!("{} ({})", estimate.about(), estimate.source()))
        }
        .await,
    )
}

/// A batch control waiting for the seller's yes.
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    action: Control,
    which: Which,
    count: i64,
    what: String,
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
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the task…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Err(err) => view! {
                            <p class="breadcrumbs"><A href="/tasks">"Tasks"</A></p>
                            <div class="card empty-state"><h1>"Task not found"</h1><p class="muted">{err.to_string()}</p></div>
                        }.into_any(),
                        Ok(first) => {
                            // The live store has the newest state once the stream runs;
                            // a control's answer counts too, until the stream catches up.
                            let answered = RwSignal::new(None::<TaskSummary>);
                            let current = Memo::new(move |_| {
                                let live = store.tasks.with(|tasks| tasks.iter().find(|t| t.id == first.id).cloned());
                                [Some(first.clone()), live, answered.get()]
                                    .into_iter()
                                    .flatten()
                                    .max_by_key(|t| t.seq)
                                    .unwrap_or_else(|| first.clone())
                            });
                            view! { <TaskDetail current answered /> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TaskDetail(
    current: Memo<TaskSummary>,
    answered: RwSignal<Option<TaskSummary>>,
) -> impl IntoView {
    let id = current.get_untracked().id;
    let from_file = current.get_untracked().presentation().subject == Subject::CsvRow;
    let error = RwSignal::new(None::<String>);
    let control = Action::new(move |(action, which): &(Control, Which)| {
        let (action, which) = (*action, which.clone());
        async move { control_task(id, action, which).await }
    });
    Effect::new(move |_| match control.value().get() {
        Some(Ok(task)) => {
            error.set(None);
            answered.set(Some(task));
        }
        Some(Err(err)) => error.set(Some(err.to_string())),
        None => {}
    });

    // Failures and items reload when the counts move (in 5 % steps while running).
    let counts_key = Memo::new(move |_| {
        let t = current.get();
        let c = t.counts;
        let step = (c.total / 20).max(1);
        (
            t.status,
            c.failed,
            c.skipped,
            c.pending,
            c.waiting,
            c.succeeded / step,
        )
    });
    let groups = Resource::new(
        move || (id, counts_key.get()),
        move |(id, _)| task_failures(id),
    );

    let status_filter = RwSignal::new(None::<String>);
    let code_filter = RwSignal::new(None::<String>);
    let search = RwSignal::new(String::new());
    let page = RwSignal::new(1_u64);
    let selected = RwSignal::new(Vec::<i64>::new());
    let items = Resource::new(
        move || {
            (
                TaskItemsQuery {
                    status: status_filter.get(),
                    error_code: code_filter.get(),
                    q: Some(search.get()).filter(|q| !q.trim().is_empty()),
                    page: page.get(),
                    per_page: ITEMS_PER_PAGE,
                },
                counts_key.get(),
            )
        },
        move |(query, _)| task_items_page(id, query),
    );
    // A new filter starts at page 1 with nothing selected.
    Effect::new(move |_| {
        status_filter.track();
        code_filter.track();
        search.track();
        page.set(1);
        selected.set(Vec::new());
    });

    // Batch retry/skip over CONFIRM_ABOVE items asks first, with an estimate.
    let pending = RwSignal::new(None::<Pending>);
    let confirm_open = RwSignal::new(false);
    let estimate = Resource::new(
        move || {
            pending
                .get()
                .filter(|p| p.action == Control::Retry)
                .map(|p| p.count)
        },
        move |count| async move {
            match count {
                Some(count) => estimate_items(id, count as u64).await.ok(),
                None => None,
            }
        },
    );
    let run = move |action: Control, which: Which, count: i64, what: String| {
        if count > CONFIRM_ABOVE {
            pending.set(Some(Pending {
                action,
                which,
                count,
                what,
            }));
            confirm_open.set(true);
        } else {
            control.dispatch((action, which));
        }
    };
    let cancel_open = RwSignal::new(false);

    view! {
        <p class="breadcrumbs"><A href="/tasks">"Tasks"</A></p>
        <TaskHeader current control cancel_open />
        {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
        <TaskFacts current status_filter code_filter />
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let groups = groups.await.unwrap_or_default();
                (!groups.is_empty()).then(|| view! {
                    <FailureGroups groups from_file task_id=id
                        on_retry=Callback::new(move |(code, count, title): (String, i64, String)| run(Control::Retry, Which { item_ids: None, error_code: Some(code) }, count, format!("“{title}”")))
                        on_skip=Callback::new(move |(code, count, title): (String, i64, String)| run(Control::Skip, Which { item_ids: None, error_code: Some(code) }, count, format!("“{title}”")))
                        on_show=Callback::new(move |code: String| { status_filter.set(Some(ItemStatus::Failed.as_str().into())); code_filter.set(Some(code)); })
                    />
                })
            })}
        </Transition>
        <section class="card stack task-items" aria-labelledby="items-title">
            <div class="section-head">
                <h2 id="items-title">"Items"</h2>
                <ItemsToolbar current status_filter code_filter search from_file task_id=id
                    on_retry_all=Callback::new(move |count: i64| run(Control::Retry, Which::default(), count, "failed".into())) />
            </div>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading items…"</p> }>
                {move || Suspend::new(async move {
                    match items.await {
                        Ok(list) => view! {
                            <ItemsTable list selected from_file task_id=id page
                                on_selected=Callback::new(move |(action, ids): (Control, Vec<i64>)| {
                                    let count = ids.len() as i64;
                                    run(action, Which { item_ids: Some(ids), error_code: None }, count, "selected".into());
                                    selected.set(Vec::new());
                                })
                            />
                        }.into_any(),
                        Err(err) => view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Dialog open=confirm_open id="batch-confirm" title=Signal::derive(move || pending.get().map(|p| {
            task_model::words::batch(p.action, p.count, &p.what).0
        }).unwrap_or_default())>
            {move || pending.get().map(|p| {
                let which = p.which.clone();
                let action = p.action;
                view! {
                    <p>{task_model::words::batch(action, p.count, &p.what).1}</p>
                    {(action == Control::Retry).then(|| view! {
                        <p class="muted"><Suspense fallback=|| "Estimating…">{move || Suspend::new(async move {
                            estimate.await.map(|words| format!("This should take {words}."))
                        })}</Suspense></p>
                    })}
                    <div class="form-actions">
                        <button type="button" class="button primary" on:click=move |_| {
                            control.dispatch((action, which.clone()));
                            confirm_open.set(false);
                        }>{if action == Control::Retry { "Retry in background" } else { "Skip them" }}</button>
                        <button type="button" class="button ghost" on:click=move |_| confirm_open.set(false)>"Cancel"</button>
                    </div>
                }
            })}
        </Dialog>
        <CancelDialog current control open=cancel_open />
    }
}

/// "estimated 45 s · took 48 s": what the seller was told beside what it took.
fn took_words(estimate: Option<&Estimate>, took: f64) -> String {
    let took = elapsed_words(took.round() as i64);
    match estimate {
        Some(estimate) => format!("estimated {} · took {took}", estimate.said()),
        None => format!("took {took}"),
    }
}

/// Progress, times, pace and the counts as filter chips.
#[component]
pub(crate) fn TaskFacts(
    current: Memo<TaskSummary>,
    status_filter: RwSignal<Option<String>>,
    code_filter: RwSignal<Option<String>>,
    /// The clock, fixed for fixtures; the real one otherwise.
    #[prop(optional)]
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> impl IntoView {
    let facts = move || {
        let t = current.get();
        let now = now.unwrap_or_else(chrono::Utc::now);
        let end = t.finished_at.unwrap_or(now);
        let elapsed = t.started_at.map(|s| (end - s).num_seconds());
        let done = done_of(&t);
        let pace = elapsed
            .filter(|s| *s > 0 && done > 0)
            .map(|s| format!("{:.1} items/s", done as f64 / s as f64));
        let timing = if t.is_over() {
            t.duration_seconds
                .map(|took| took_words(t.estimate.as_ref(), took))
                .map(|words| ("Time", words))
        } else {
            t.eta_seconds.map(|eta| {
                let estimated = t
                    .estimate
                    .map(|e| format!(" · estimated {}", e.said()))
                    .unwrap_or_default();
                (
                    "Time left",
                    format!("{}{estimated}", describe_duration(eta)),
                )
            })
        };
        view! {
            <div class="progress-line">
                <TaskBar counts=t.counts label="Progress" />
                <span class="progress-words">{task_model::words::progress(&t.counts)}</span>
            </div>
            <dl class="facts">
                <div><dt>"Started by"</dt><dd>"You"</dd></div>
                <div><dt>"Created"</dt><dd><When at=t.created_at /></dd></div>
                {t.finished_at.map(|at| view! { <div><dt>"Finished"</dt><dd><When at /></dd></div> })}
                {timing.map(|(label, words)| view! { <div><dt>{label}</dt><dd>{words}</dd></div> })}
                {pace.map(|pace| view! { <div><dt>"Pace"</dt><dd>{pace}</dd></div> })}
                {t.waiting_until.filter(|_| !t.is_over()).map(|until| view! {
                    <div><dt>"Marketplace quota"</dt><dd>{format!("waiting until {}", crate::when::clock_time(until))}</dd></div>
                })}
            </dl>
        }
    };
    let chip = move |status: Option<ItemStatus>, label: &'static str| {
        let count = move || {
            let c = current.with(|t| t.counts);
            status.map_or(c.total, |status| c.of(status))
        };
        let name = status.map(ItemStatus::as_str);
        let pressed = move || status_filter.get().as_deref() == name && code_filter.get().is_none();
        view! {
            <button type="button" class="count-chip" aria-pressed=move || pressed().to_string()
                data-status=name.unwrap_or("all")
                on:click=move |_| { code_filter.set(None); status_filter.set(name.map(str::to_owned)); }>
                {label}" "<strong>{count}</strong>
            </button>
        }
    };
    view! {
        <div class="card stack task-facts">
            {facts}
            <div class="count-chips" role="group" aria-label="Show items by status">
                {chip(None, "All")}
                {chip(Some(ItemStatus::Pending), "Pending")}
                {move || (current.with(|t| t.counts.waiting) > 0).then(|| chip(Some(ItemStatus::Waiting), "Waiting for the marketplace"))}
                {chip(Some(ItemStatus::Running), "Running")}
                {chip(Some(ItemStatus::Succeeded), "Succeeded")}
                {chip(Some(ItemStatus::Failed), "Failed")}
                {chip(Some(ItemStatus::Skipped), "Skipped")}
                {chip(Some(ItemStatus::Cancelled), "Cancelled")}
            </div>
        </div>
    }
}

/// One card per error code: what it means, how many, a few examples, and what to do.
#[component]
pub fn FailureGroups(
    groups: Vec<FailureGroupView>,
    from_file: bool,
    task_id: i64,
    /// `(code, count, title)`
    on_retry: Callback<(String, i64, String)>,
    on_skip: Callback<(String, i64, String)>,
    on_show: Callback<String>,
) -> impl IntoView {
    let total: i64 = groups.iter().map(|g| g.count).sum();
    view! {
        <section class="failure-groups" aria-labelledby="failures-title">
            <h2 id="failures-title">{format!("{total} failed, by reason")}</h2>
            <div class="group-cards">
                {groups.into_iter().map(|group| {
                    let retry_first = group.remedy == "retry";
                    let (code, count, title) = (group.code.clone(), group.count, group.title.clone());
                    let (c2, t2, c3) = (code.clone(), title.clone(), code.clone());
                    let examples = group.examples.iter().map(|item| {
                        let name = item_name(item, from_file);
                        let message = item.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
                        view! { <li><span class="mono">{name}</span>" — "{message}</li> }
                    }).collect_view();
                    // Skip says what it does: these are left out, the task ends without them.
                    let skip_label = if count == 1 { "Skip this one".to_owned() } else { format!("Skip these {count}") };
                    let skip_title = format!("Leave {} out: the task can end without {}", if count == 1 { "this item" } else { "these items" }, if count == 1 { "it" } else { "them" });
                    // The examples are the first few; say how many more there are.
                    let more = Some(count - group.examples.len() as i64).filter(|more| *more > 0);
                    view! {
                        <article class="card group-card" data-code=group.code.clone() data-remedy=group.remedy.clone()>
                            <header class="group-head">
                                <h3>{group.title.clone()}</h3>
                                <span class="group-count">{format!("{count} item{}", if count == 1 { "" } else { "s" })}</span>
                            </header>
                            <p class="group-hint">
                                <Chip label=if retry_first { "temporary: retry" } else { "fix first" } tone=if retry_first { crate::ui::Tone::Running } else { crate::ui::Tone::Warning } />
                            </p>
                            <p>{group.explanation.clone()}</p>
                            <ul class="group-examples">
                                {examples}
                                {more.map(|more| view! { <li class="group-more">{format!("+{more} more")}</li> })}
                            </ul>
                            <div class="form-actions">
                                {if retry_first {
                                    view! {
                                        <button type="button" class="button primary" on:click=move |_| on_retry.run((code.clone(), count, title.clone()))>{format!("Retry {count}")}</button>
                                        <button type="button" class="button ghost" title=skip_title.clone() on:click=move |_| on_skip.run((c2.clone(), count, t2.clone()))>{skip_label.clone()}</button>
                                    }.into_any()
                                } else {
                                    view! {
                                        <button type="button" class="button primary" on:click=move |_| on_show.run(c3.clone())>{if count == 1 { "Fix this one".to_owned() } else { format!("Fix these {count}") }}</button>
                                        {from_file.then(|| view! {
                                            <a class="button" href=format!("/api/v1/tasks/{task_id}/report.csv") download>"Download rows"</a>
                                        })}
                                        // A row of a file fails the same way until the file is fixed.
                                        {(!from_file).then(|| view! {
                                            <button type="button" class="button" on:click=move |_| on_retry.run((code.clone(), count, title.clone()))>"Retry"</button>
                                        })}
                                        <button type="button" class="button ghost" title=skip_title.clone() on:click=move |_| on_skip.run((c2.clone(), count, t2.clone()))>{skip_label.clone()}</button>
                                    }.into_any()
                                }}
                            </div>
                            // For scripts and support: the stable code, tucked away.
                            <p class="group-code muted">"Code "<code>{group.code.clone()}</code></p>
                        </article>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}

fn item_name(item: &TaskItemView, from_file: bool) -> String {
    match (&item.sku, item.line) {
        (Some(sku), Some(line)) if from_file => format!("line {line} · {sku}"),
        (None, Some(line)) => format!("line {line}"),
        (Some(sku), _) => sku.clone(),
        (None, None) => format!("#{}", item.position + 1),
    }
}

#[component]
fn ItemsToolbar(
    current: Memo<TaskSummary>,
    status_filter: RwSignal<Option<String>>,
    code_filter: RwSignal<Option<String>>,
    search: RwSignal<String>,
    from_file: bool,
    task_id: i64,
    on_retry_all: Callback<i64>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let failed = move || current.with(|t| t.counts.failed);
    let report = format!("/api/v1/tasks/{task_id}/report.csv");
    view! {
        <div class="items-toolbar">
            <form class="search" role="search" on:submit=move |ev| { ev.prevent_default(); search.set(typed.get_untracked()); }>
                <label class="visually-hidden" for="item-search">"Search by SKU"</label>
                <input id="item-search" class="input" type="search" placeholder="Search SKU"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit" class="button">"Search"</button>
            </form>
            <label class="visually-hidden" for="item-status">"Item status"</label>
            <select id="item-status" class="input" on:change=move |ev| {
                let value = event_target_value(&ev);
                code_filter.set(None);
                status_filter.set(Some(value).filter(|v| !v.is_empty()));
            } prop:value=move || status_filter.get().unwrap_or_default()>
                <option value="">"All statuses"</option>
                {ItemStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
            </select>
            {move || code_filter.get().map(|code| view! {
                <span class="filter-pill">{format!("Reason: {code}")}
                    <button type="button" class="icon-button" aria-label="Show every reason" on:click=move |_| code_filter.set(None)>"×"</button>
                </span>
            })}
            <Show when=move || { failed() > 0 }>
                <button type="button" class="button" on:click=move |_| on_retry_all.run(failed())>{move || format!("Retry all {} failed", failed())}</button>
                <a class="button" href=report.clone() download>{if from_file { "Download failed rows to fix and re-import" } else { "Download error report" }}</a>
            </Show>
        </div>
    }
}

#[component]
pub fn ItemsTable(
    list: TaskItemList,
    selected: RwSignal<Vec<i64>>,
    from_file: bool,
    task_id: i64,
    page: RwSignal<u64>,
    /// `("retry" | "skip", task item ids)`
    on_selected: Callback<(Control, Vec<i64>)>,
) -> impl IntoView {
    let selectable: Vec<i64> = list
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Failed)
        .map(|i| i.id)
        .collect();
    let all_ids = selectable.clone();
    let all_selected =
        move || !all_ids.is_empty() && all_ids.iter().all(|id| selected.with(|s| s.contains(id)));
    let toggle_ids = selectable.clone();
    let count = move || selected.with(Vec::len);
    let rows = list.items.into_iter().map(|item| {
        let id = item.id;
        let failed = item.status == ItemStatus::Failed;
        let checked = move || selected.with(|s| s.contains(&id));
        let (label, tone) = item_status(item.status);
        // The line has its own column here.
        let name = item_name(&item, false);
        // A failed publish item links to its edit page, which offers "retry this item".
        let link = item.item_id.filter(|_| !from_file).map(|item_id| {
            if failed {
                format!("/items/{item_id}?task={task_id}&task_item={id}")
            } else {
                format!("/items/{item_id}")
            }
        });
        view! {
            <tr data-item=id data-status=item.status.as_str() class:selected=checked>
                <td class="col-select">
                    {failed.then(|| view! {
                        <input type="checkbox" aria-label=format!("Select {name}") prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                selected.update(|s| { s.retain(|x| *x != id); if on { s.push(id); } });
                            } />
                    })}
                </td>
                <td class="num muted">{item.line.unwrap_or(i64::from(item.position) + 1)}</td>
                <td class="col-name">
                    <span class="mono">{match link {
                        Some(href) => view! { <A href=href>{name.clone()}</A> }.into_any(),
                        None => view! { <span>{name.clone()}</span> }.into_any(),
                    }}</span>
                    {item.title.map(|title| view! { <span class="item-title">{title}</span> })}
                </td>
                <td><Chip label tone /></td>
                <td class="num">{item.attempts}</td>
                <td class="col-error">{item.error.map(|e| view! {
                    <code class="muted">{e.code}</code>" "<span>{e.message}</span>
                    {e.column.map(|c| view! { <span class="muted">{format!(" (column {c})")}</span> })}
                })}</td>
            </tr>
        }
    }).collect_view();
    let empty = list.total == 0;
    view! {
        <Show when=move || { count() > 0 }>
            <div class="selection-bar" role="region" aria-label="Selected items">
                <strong>{move || format!("{} selected", count())}</strong>
                <button type="button" class="button primary" on:click=move |_| on_selected.run((Control::Retry, selected.get_untracked()))>"Retry selected"</button>
                <button type="button" class="button" on:click=move |_| on_selected.run((Control::Skip, selected.get_untracked()))>"Skip selected"</button>
                <button type="button" class="button ghost" on:click=move |_| selected.set(Vec::new())>"Clear"</button>
            </div>
        </Show>
        <div class="table-wrap">
            <table class="table task-items-table">
                <thead><tr>
                    <th class="col-select">
                        <input type="checkbox" aria-label="Select the failed items on this page" disabled=selectable.is_empty()
                            prop:checked=all_selected
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                selected.update(|s| {
                                    s.retain(|x| !toggle_ids.contains(x));
                                    if on { s.extend(toggle_ids.iter().copied()); }
                                });
                            } />
                    </th>
                    <th class="num">{if from_file { "Line" } else { "#" }}</th>
                    <th>{if from_file { "Row" } else { "SKU" }}</th>
                    <th>"Status"</th>
                    <th class="num">"Attempts"</th>
                    <th>"Error"</th>
                </tr></thead>
                <tbody>
                    {if empty {
                        view! { <tr><td colspan="6" class="empty">"No items match."</td></tr> }.into_any()
                    } else {
                        rows.into_any()
                    }}
                </tbody>
            </table>
        </div>
        <Pager page per_page=list.per_page total=list.total />
    }
}
