//! The bulk action bar: the same trigger for every kind of task — selection, then the
//! bar, then a confirmation that says how many items, about how long, and that the
//! seller can keep working — and nothing heavy starts from one accidental click.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::catalog::ListingState;
use crate::error::AppError;
use crate::selection::Selection;
use crate::tasks::{Estimate, Presentation, TaskSummary};
use crate::ui::Dialog;

/// What starting a task would mean, shown before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPlan {
    pub kind: String,
    pub count: u64,
    /// How long it would take, made by the server from the marketplace's recent answers.
    pub estimate: Estimate,
    /// The selection's items per listing state, counted by the server.
    #[serde(default)]
    pub breakdown: Vec<(ListingState, u64)>,
    /// Made with the plan, so a double click on "Start" starts one task, not two.
    pub idempotency_key: String,
    /// The next 02:00 on the seller's clock, for "Tonight at 02:00".
    pub tonight: chrono::DateTime<chrono::Utc>,
    /// How long the step a seller may add after it would take (an edit's listings
    /// update, over the live items of the selection).
    #[serde(default)]
    pub then_estimate: Option<Estimate>,
    /// For a task that goes to a marketplace: the seller's connections ("Where to?"
    /// when there are several), and the one this plan was made for.
    #[serde(default)]
    pub connections: Vec<task_model::Connection>,
    #[serde(default)]
    pub connection_id: Option<i64>,
}

/// Whether a kind's items go to a marketplace connection.
pub fn goes_to_marketplace(kind: &str) -> bool {
    kind == task_model::kinds::PUBLISH.name || kind == task_model::kinds::UNPUBLISH.name
}

/// What "Start in background" sends: the kind, the selection, the plan's key, and what
/// the kind needs beyond its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    pub kind: String,
    pub selection: Selection,
    /// The plan's idempotency key.
    pub key: String,
    /// A publish leaves the items already live as they are.
    #[serde(default)]
    pub leave_live: bool,
    #[serde(default)]
    pub change: Option<task_model::edit::EditChange>,
    /// Start then rather than now.
    #[serde(default)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The kind of a step that follows, over what this task did.
    #[serde(default)]
    pub then: Option<String>,
    /// Where to, for a task that goes to a marketplace.
    #[serde(default)]
    pub connection_id: Option<i64>,
}

/// "about 3 min", "about 40 s".
pub use task_model::estimate::about as describe_duration;

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::auth::ssr::{require_seller, state};

    /// The catalog ids a selection stands for, the seller's only.
    pub async fn resolve(
        db: &backend::DatabaseConnection,
        seller_id: i64,
        selection: &Selection,
    ) -> Result<Vec<i64>, AppError> {
        use backend::catalog::matching_ids;
        Ok(match selection {
            Selection::None => Vec::new(),
            Selection::Ids(ids) => {
                let wanted: Vec<i64> = ids.iter().copied().collect();
                backend::catalog::owned_among(db, seller_id, &wanted).await?
            }
            Selection::AllMatching {
                filter, excluded, ..
            } => {
                let ids = matching_ids(db, seller_id, &filter.into()).await?;
                ids.into_iter()
                    .filter(|id| !excluded.contains(id))
                    .collect()
            }
        })
    }

    /// How long a task of `kind` over `count` catalog items would take if started now:
    /// the engine's estimate, the one the task keeps if it starts (a catalog kind's
    /// estimate looks at how many items, not which).
    pub async fn estimate(
        state: &crate::state::AppState,
        seller_id: i64,
        kind: &str,
        count: usize,
        connection_id: Option<i64>,
    ) -> Result<Estimate, AppError> {
        let mut params = serde_json::json!({ "item_ids": [] });
        if let Some(id) = connection_id {
            params["connection_id"] = id.into();
        }
        let new = backend::tasks::create::NewTask {
            seller_id,
            kind: kind.to_owned(),
            params,
            idempotency_key: None,
        };
        let subjects = vec![serde_json::Value::from(0); count];
        Ok(state.engine.estimate(&new, Some(subjects)).await?)
    }

    /// "Everything matching" as the engine takes it: a task made from it is counted
    /// now and given its items in chunks, never as a list of ids.
    pub fn matching(
        selection: &Selection,
        leave_live: bool,
    ) -> Option<backend::tasks::expand::Selection> {
        let Selection::AllMatching {
            filter, excluded, ..
        } = selection
        else {
            return None;
        };
        Some(backend::tasks::expand::Selection::of(
            &filter.into(),
            excluded.iter().copied().collect(),
            leave_live,
        ))
    }

    pub async fn plan(
        kind: &str,
        selection: &Selection,
        connection_id: Option<i64>,
    ) -> Result<(i64, Vec<i64>, TaskPlan), AppError> {
        if !Presentation::find(kind).is_ok_and(|p| p.in_bulk_bar) {
            return Err(AppError::BadRequest {
                message: format!("“{kind}” is not an action for a selection."),
            });
        }
        let seller = require_seller()?;
        let state = state()?;
        // Everything matching is counted, not listed: it may be a million items.
        let all = matching(selection, false);
        let ids = match &all {
            Some(_) => Vec::new(),
            None => resolve(&state.db, seller.id, selection).await?,
        };
        let count = match &all {
            Some(all) => {
                backend::catalog::count_matching(&state.db, seller.id, &all.matching())
                    .await?
                    .0
            }
            None => ids.len() as u64,
        };
        let connections = if goes_to_marketplace(kind) {
            backend::connections::list(&state.db, seller.id).await?
        } else {
            Vec::new()
        };
        // The one asked for, else the first: the seller may choose another.
        let connection_id = connection_id
            .filter(|id| connections.iter().any(|c| c.id == *id))
            .or_else(|| connections.first().map(|c| c.id));
        let estimate = estimate(&state, seller.id, kind, count as usize, connection_id).await?;
        // What is live where the task goes: the catalog's own listing for the built-in
        // marketplace, the connection's listings for another.
        let elsewhere = connections
            .iter()
            .find(|c| Some(c.id) == connection_id)
            .filter(|c| c.marketplace != task_model::Marketplace::Sandbox);
        let breakdown: Vec<(ListingState, u64)> = match elsewhere {
            Some(connection) => {
                let live = match &all {
                    Some(all) => {
                        backend::connectors::listings::listed_matching(
                            &state.db,
                            seller.id,
                            connection.id,
                            &all.matching(),
                        )
                        .await
                    }
                    None => {
                        backend::connectors::listings::listed_among(
                            &state.db,
                            seller.id,
                            connection.id,
                            &ids,
                        )
                        .await
                    }
                }
                .map_err(crate::error::internal)?;
                [
                    (ListingState::Draft, count.saturating_sub(live)),
                    (ListingState::Published, live),
                ]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect()
            }
            None => match &all {
                Some(all) => {
                    backend::catalog::matching_by_state(&state.db, seller.id, &all.matching())
                        .await?
                }
                None => backend::catalog::count_by_state(&state.db, seller.id, &ids).await?,
            }
            .into_iter()
            .map(|(state, n)| (state.into(), n))
            .collect(),
        };
        let now = chrono::Utc::now();
        let idempotency_key = format!(
            "{kind}-{}-{}",
            now.timestamp_millis(),
            now.timestamp_subsec_nanos()
        );
        let live = breakdown
            .iter()
            .filter(|(state, _)| *state == ListingState::Published)
            .map(|(_, n)| *n as usize)
            .sum::<usize>()
            .min(count as usize);
        let then_estimate = match task_model::chain::followers(kind).first() {
            Some(then) if live > 0 => {
                Some(self::estimate(&state, seller.id, then.name, live, None).await?)
            }
            _ => None,
        };
        let plan = TaskPlan {
            kind: kind.to_owned(),
            count,
            estimate,
            breakdown,
            idempotency_key,
            tonight: backend::tasks::schedule::tonight(
                seller.time_zone.as_deref(),
                state.engine.now(),
            ),
            then_estimate,
            connections,
            connection_id,
        };
        Ok((seller.id, ids, plan))
    }
}

#[server(endpoint = "plan_task", input = Json)]
pub async fn plan_task(
    kind: String,
    selection: Selection,
    #[server(default)] connection_id: Option<i64>,
) -> Result<TaskPlan, AppError> {
    use crate::auth::ssr::with_status;
    with_status(
        ssr::plan(&kind, &selection, connection_id)
            .await
            .map(|(_, _, plan)| plan),
    )
}

/// Starts the task a plan described; with `leave_live`, a publish leaves the items
/// already live as they are.
#[server(endpoint = "start_task", input = Json)]
pub async fn start_task(request: StartRequest) -> Result<TaskSummary, AppError> {
    use crate::auth::ssr::{state, with_status};
    let StartRequest {
        kind,
        selection,
        key: idempotency_key,
        leave_live,
        change,
        start_at,
        then,
        connection_id,
    } = request;
    with_status(
        async {
            if !Presentation::find(&kind).is_ok_and(|p| p.in_bulk_bar) {
                return Err(AppError::BadRequest {
                    message: format!("“{kind}” is not an action for a selection."),
                });
            }
            let seller_id = crate::auth::ssr::require_seller()?.id;
            let leave_live = leave_live && Presentation::of(&kind).may_leave_live();
            let all = ssr::matching(&selection, leave_live);
            let mut ids = match &all {
                Some(_) => Vec::new(),
                None => ssr::resolve(&state()?.db, seller_id, &selection).await?,
            };
            if leave_live && all.is_none() {
                ids = backend::catalog::leave_live_out(&state()?.db, seller_id, &kind, ids).await?;
            }
            if ids.is_empty() && all.is_none() {
                return Err(AppError::BadRequest {
                    message: "Nothing selected.".into(),
                });
            }
            let mut params = serde_json::json!({ "item_ids": ids });
            if let Some(id) = connection_id.filter(|_| goes_to_marketplace(&kind)) {
                params["connection_id"] = id.into();
            }
            if let (Some(change), Some(params)) = (change, params.as_object_mut()) {
                if let Ok(serde_json::Value::Object(parts)) = serde_json::to_value(change) {
                    params.extend(parts);
                }
            }
            let new = backend::tasks::create::NewTask {
                seller_id,
                kind,
                params,
                idempotency_key: Some(idempotency_key).filter(|k| !k.is_empty()),
            };
            let later = backend::tasks::create::Later { start_at, then };
            let created = match all {
                Some(all) => state()?.engine.create_matching(new, all, later).await,
                None => state()?.engine.create_flow(new, None, later).await,
            };
            let created = match created {
                Err(backend::tasks::TaskError::Empty) => {
                    return Err(AppError::BadRequest {
                        message: "Nothing selected: no item matches any more.".into(),
                    })
                }
                other => other?,
            };
            Ok(TaskSummary::from_task(created.task(), chrono::Utc::now()))
        }
        .await,
    )
}

#[component]
pub fn BulkActionBar(selection: RwSignal<Selection>) -> impl IntoView {
    // The action asked about, numbered so that asking again plans afresh (a new count,
    // a new idempotency key).
    let asked = RwSignal::new(None::<(&'static str, u32)>);
    let open = RwSignal::new(false);
    // Where to, once the seller chose (the plan is made again for it).
    let via = RwSignal::new(None::<i64>);
    let ask = move |kind: &'static str| {
        let n = asked.get_untracked().map_or(0, |(_, n)| n + 1);
        asked.set(Some((kind, n)));
        open.set(true);
    };
    // Only ever asked in the browser, after a click: never part of the server's page.
    let plan = LocalResource::new(move || {
        let request = asked
            .get()
            .map(|(kind, _)| (kind, selection.get_untracked(), via.get()));
        async move {
            match request {
                Some((kind, selection, via)) => {
                    Some(plan_task(kind.to_owned(), selection, via).await)
                }
                None => None,
            }
        }
    });
    let start = Action::new(move |request: &StartRequest| start_task(request.clone()));
    let started = move || start.value().get();
    Effect::new(move |_| {
        if let Some(Ok(_)) = start.value().get() {
            open.set(false);
            selection.update(|s| s.clear());
        }
    });

    view! {
        <Show when=move || !selection.with(|s| s.is_empty())>
            <div class="bulk-bar" role="region" aria-label="Bulk actions">
                <strong class="bulk-count">{move || {
                    let n = selection.with(|s| s.count());
                    format!("{n} item{} selected", if n == 1 { "" } else { "s" })
                }}</strong>
                {bulk_kinds().enumerate().map(|(at, kind)| view! {
                    <button class=match (at, kind.warning) { (_, Some(_)) => "button danger", (0, _) => "button primary", _ => "button" } type="button"
                        on:click=move |_| ask(kind.name)>{kind.button()}</button>
                }).collect_view()}
                <button class="button ghost" type="button" on:click=move |_| selection.update(|s| s.clear())>"Clear selection"</button>
            </div>
        </Show>
        <Dialog open id="bulk-confirm" title=Signal::derive(move || match (asked.get(), plan.get().flatten()) {
            (Some(_), Some(Ok(plan))) => plan_title(&plan.kind, plan.count),
            (Some((kind, _)), _) => Presentation::of(kind).button(),
            (None, _) => String::new(),
        })>
            <Suspense fallback=|| view! { <p class="muted">"Counting…"</p> }>
                {move || Suspend::new(async move {
                    match plan.await {
                        Some(Ok(plan)) if plan.kind == task_model::kinds::EDIT.name => {
                            Some(view! { <crate::bulk_edit::EditPlanBody plan start selection open /> }.into_any())
                        }
                        Some(Ok(plan)) => Some(view! { <PlanBody plan start selection open via /> }.into_any()),
                        Some(Err(err)) => Some(view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any()),
                        None => None,
                    }
                })}
            </Suspense>
        </Dialog>
        {move || started().map(|result| match result {
            Ok(task) => view! {
                <p class="alert info bulk-notice" role="status">{
                    crate::later::scheduled_notice(&task).unwrap_or_else(|| {
                        let (title, body) = task_model::words::started(&task_model::words::numbered(task.id, &task.label), task.estimate.as_ref());
                        format!("{title}. {body}")
                    })
                }</p>
            }.into_any(),
            Err(err) => view! { <p class="alert error bulk-notice" role="alert">{err.to_string()}</p> }.into_any(),
        })}
    }
}

/// The kinds the bar offers for a selection, in the product's order.
fn bulk_kinds() -> impl Iterator<Item = &'static Presentation> {
    task_model::kinds::ALL
        .into_iter()
        .filter(|kind| kind.in_bulk_bar)
}

/// Of a selection's items per listing state: how many are live, and how many are not.
fn live_and_not(breakdown: &[(ListingState, u64)]) -> (u64, u64) {
    task_model::kinds::live_and_not(breakdown.iter().map(|(state, n)| (state.as_str(), *n)))
}

/// What the task would do to the selection, by listing state, in the kind's words.
pub fn breakdown_words(kind: &str, breakdown: &[(ListingState, u64)]) -> Option<String> {
    let (live, not_live) = live_and_not(breakdown);
    Presentation::of(kind).by_state_line(live, not_live)
}

/// For a kind that may leave live items out, over a selection that mixes them with
/// others: how many are live.
fn live_of(kind: &str, breakdown: &[(ListingState, u64)], count: u64) -> Option<u64> {
    let may = Presentation::of(kind).may_leave_live();
    let (live, _) = live_and_not(breakdown);
    (may && live > 0 && live < count).then_some(live)
}

/// "Publish 2 items?"
pub fn plan_title(kind: &str, count: u64) -> String {
    format!("{}?", Presentation::of(kind).label(count as i64))
}

/// The heavy-task question: how many, about how long, and that it runs in the background.
#[component]
pub fn PlanBody(
    plan: TaskPlan,
    start: Action<StartRequest, Result<TaskSummary, AppError>>,
    selection: RwSignal<Selection>,
    open: RwSignal<bool>,
    /// Where to: set from the plan, changed by the seller (who gets a new plan).
    #[prop(optional)]
    via: Option<RwSignal<Option<i64>>>,
) -> impl IntoView {
    let source = plan.estimate.source();
    let connection_id = plan.connection_id;
    let chosen = via.unwrap_or_else(|| RwSignal::new(None));
    chosen.update_untracked(|c| *c = connection_id);
    let connections = plan.connections.clone();
    let kind = plan.kind.clone();
    let key = plan.idempotency_key.clone();
    let said = breakdown_words(&plan.kind, &plan.breakdown);
    // A publish over items of which some are live: the seller chooses to update them or
    // leave them as they are.
    // Leaving live items out goes by the catalog's own listing: offered for the built-in
    // marketplace only.
    let elsewhere = plan.connections.iter().any(|c| {
        Some(c.id) == plan.connection_id && c.marketplace != task_model::Marketplace::Sandbox
    });
    let live = live_of(&plan.kind, &plan.breakdown, plan.count).filter(|_| !elsewhere);
    let leave_live = RwSignal::new(false);
    // Work that cannot be taken back says so, and its button says what it does.
    let warning = Presentation::of(&plan.kind).warning;
    let label = Presentation::of(&plan.kind).label(plan.count as i64);
    let start_at = RwSignal::new(None::<chrono::DateTime<chrono::Utc>>);
    let blocked = RwSignal::new(false);
    let start_words = move || match (start_at.get(), warning) {
        (Some(_), _) => "Schedule".to_owned(),
        (None, Some(_)) => label.clone(),
        (None, None) => "Start in background".to_owned(),
    };
    view! {
        <crate::connections::WhereTo connections chosen />
        {said.map(|said| view! { <p class="plan-breakdown">{said}</p> })}
        {live.map(|live| view! {
            <label class="plan-choice">
                <input type="checkbox" prop:checked=leave_live on:change=move |ev| leave_live.set(event_target_checked(&ev)) />
                {if live == 1 { "Leave the 1 already live as it is (only the others are published)".to_owned() } else { format!("Leave the {live} already live as they are (only the others are published)") }}
            </label>
        })}
        <p>{format!("This should take {} ({source}). It runs in the background: you can keep working, and you will be told when it is done.", plan.estimate.about())}</p>
        {warning.map(|warning| view! { <p class="alert warning plan-warning" role="note">{warning}</p> })}
        <crate::later::StartWhen tonight=plan.tonight start_at blocked />
        <div class="form-actions">
            <button class=if warning.is_some() { "button danger" } else { "button primary" } type="button" disabled=move || start.pending().get() || blocked.get() on:click=move |_| {
                start.dispatch(StartRequest {
                    kind: kind.clone(),
                    selection: selection.get_untracked(),
                    key: key.clone(),
                    leave_live: leave_live.get_untracked(),
                    change: None,
                    start_at: start_at.get_untracked(),
                    then: None,
                    connection_id: chosen.get_untracked().or(connection_id),
                });
            }>{start_words}</button>
            <button class="button ghost" type="button" on:click=move |_| open.set(false)>"Cancel"</button>
        </div>
    }
}
