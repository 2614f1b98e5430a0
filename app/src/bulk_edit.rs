//! A bulk edit from the catalog's bar: the seller says what changes (price, quantity,
//! category), the server previews it over the selection as it is now — how many items
//! change, the first ones before → after, how many it would refuse and why — and only
//! then does "Start in background" make the task.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use task_model::edit::{
    CategoryChange, CategoryOp, EditChange, EditPreviewChange, EditRefusal, PriceChange, PriceOp,
    QuantityChange, QuantityOp,
};

use crate::bulk::{StartRequest, TaskPlan};
use crate::error::AppError;
use crate::selection::Selection;
use crate::tasks::TaskSummary;

/// What an edit would do to a selection, computed by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditPreview {
    pub count: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// The first items that change, before → after.
    pub changes: Vec<EditPreviewChange>,
    /// Refused items by reason: `(code, title, count)`.
    pub refused_by_code: Vec<(String, String, u64)>,
    /// The first refused items, with why.
    pub refused: Vec<EditRefusal>,
}

impl EditPreview {
    pub fn refused_count(&self) -> u64 {
        self.refused_by_code.iter().map(|(_, _, n)| n).sum()
    }
}

/// How many changed items a preview lists.
pub const SHOWN: usize = 20;

#[server(endpoint = "preview_edit", input = Json)]
pub async fn preview_edit(
    selection: Selection,
    change: EditChange,
) -> Result<EditPreview, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let db = &state()?.db;
            backend::edits::check(&change).map_err(|err| AppError::BadRequest {
                message: err.message,
            })?;
            let ids = crate::bulk::ssr::resolve(db, seller.id, &selection).await?;
            let found = backend::edits::preview(db, seller.id, &ids, &change, SHOWN).await?;
            Ok(EditPreview {
                count: ids.len() as u64,
                changed: found.changed,
                unchanged: found.unchanged,
                changes: found.changes,
                refused_by_code: found
                    .refused_by_code
                    .into_iter()
                    .map(|(code, n)| (backend::failures::explain(&code).title, code, n))
                    .map(|(title, code, n)| (code, title, n))
                    .collect(),
                refused: found.refused,
            })
        }
        .await,
    )
}

/// The form's fields as typed.
#[derive(Clone, Copy)]
struct Form {
    price_op: RwSignal<String>,
    price_value: RwSignal<String>,
    end_99: RwSignal<bool>,
    quantity_op: RwSignal<String>,
    quantity_value: RwSignal<String>,
    category_on: RwSignal<bool>,
    category_value: RwSignal<String>,
}

impl Form {
    fn new() -> Self {
        Self {
            price_op: RwSignal::new("add_percent".into()),
            price_value: RwSignal::new(String::new()),
            end_99: RwSignal::new(false),
            quantity_op: RwSignal::new("none".into()),
            quantity_value: RwSignal::new(String::new()),
            category_on: RwSignal::new(false),
            category_value: RwSignal::new(String::new()),
        }
    }

    /// The change the fields say, or what is missing.
    fn change(&self) -> Result<EditChange, String> {
        let mut change = EditChange::default();
        let price_op = match self.price_op.get().as_str() {
            "set" => Some(PriceOp::Set),
            "add" => Some(PriceOp::Add),
            "add_percent" => Some(PriceOp::AddPercent),
            _ => None,
        };
        let price_value = self.price_value.get();
        if let (Some(op), false) = (price_op, price_value.trim().is_empty()) {
            change.price = Some(PriceChange {
                op,
                value: decimal_point(price_value.trim()),
                end_99: self.end_99.get(),
            });
        }
        let quantity_op = match self.quantity_op.get().as_str() {
            "set" => Some(QuantityOp::Set),
            "add" => Some(QuantityOp::Add),
            _ => None,
        };
        if let Some(op) = quantity_op {
            let value = self.quantity_value.get();
            let value: i64 = value
                .trim()
                .trim_start_matches('+')
                .parse()
                .map_err(|_| format!("“{}” is not a whole number of units.", value.trim()))?;
            change.quantity = Some(QuantityChange { op, value });
        }
        if self.category_on.get() {
            change.category = Some(CategoryChange {
                op: CategoryOp::Set,
                value: self.category_value.get(),
            });
        }
        if change.is_empty() {
            return Err("Say what to change: a price, a quantity or a category.".into());
        }
        Ok(change)
    }
}

/// "12,5" or "-2,50" read as "12.5" / "-2.50" (a decimal comma, one or two decimals); any
/// other comma ("1,000") is left for the server to refuse.
fn decimal_point(value: &str) -> String {
    match value.split_once(',') {
        Some((whole, fraction))
            if (1..=2).contains(&fraction.len())
                && fraction.chars().all(|c| c.is_ascii_digit())
                && !whole.contains('.') =>
        {
            format!("{whole}.{fraction}")
        }
        _ => value.to_owned(),
    }
}

/// The edit's dialog body: the form, then the server's preview, then start.
#[component]
pub fn EditPlanBody(
    plan: TaskPlan,
    start: Action<StartRequest, Result<TaskSummary, AppError>>,
    selection: RwSignal<Selection>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let form = Form::new();
    let key = plan.idempotency_key.clone();
    let previewed = RwSignal::new(None::<(EditChange, Result<EditPreview, AppError>)>);
    let invalid = RwSignal::new(None::<String>);
    let asking = RwSignal::new(false);
    // Any change to the form makes the preview stale: the seller previews again.
    Effect::new(move |_| {
        let _ = form.change();
        previewed.set(None);
    });
    let preview = move |_| match form.change() {
        Err(message) => invalid.set(Some(message)),
        Ok(change) => {
            invalid.set(None);
            asking.set(true);
            let selection = selection.get_untracked();
            leptos::task::spawn_local(async move {
                let found = preview_edit(selection, change.clone()).await;
                asking.set(false);
                previewed.set(Some((change, found)));
            });
        }
    };
    let count = plan.count;
    // After the edit: its items' listings updated (those live), as a second step.
    let then = RwSignal::new(None::<String>);
    let start_at = RwSignal::new(None::<chrono::DateTime<chrono::Utc>>);
    let blocked = RwSignal::new(false);
    let live = plan
        .breakdown
        .iter()
        .any(|(state, n)| *n > 0 && state.as_str() == "published");
    view! {
        <p class="muted">{format!("Applied by the server to each of the {} as it is when the task reaches it.", task_model::plural(count as i64, "item", "items"))}</p>
        <fieldset class="edit-part">
            <legend>"Price"</legend>
            <div class="edit-row">
                <label class="visually-hidden" for="edit-price-op">"How the price changes"</label>
                <select id="edit-price-op" class="input" prop:value=move || form.price_op.get()
                    on:change=move |ev| form.price_op.set(event_target_value(&ev))>
                    <option value="none">"Leave as it is"</option>
                    <option value="add_percent">"Raise or lower by %"</option>
                    <option value="add">"Raise or lower by an amount"</option>
                    <option value="set">"Set to"</option>
                </select>
                <label class="visually-hidden" for="edit-price-value">"Price change"</label>
                <input id="edit-price-value" class="input num" inputmode="decimal" placeholder=move || match form.price_op.get().as_str() {
                        "add_percent" => "10 or -15",
                        "add" => "2.50 or -1",
                        _ => "19.90",
                    }
                    disabled=move || form.price_op.get() == "none"
                    prop:value=move || form.price_value.get() on:input=move |ev| form.price_value.set(event_target_value(&ev)) />
                <label class="edit-check">
                    <input type="checkbox" disabled=move || form.price_op.get() == "none"
                        prop:checked=move || form.end_99.get() on:change=move |ev| form.end_99.set(event_target_checked(&ev)) />
                    " End in .99"
                </label>
            </div>
        </fieldset>
        <fieldset class="edit-part">
            <legend>"Quantity"</legend>
            <div class="edit-row">
                <label class="visually-hidden" for="edit-quantity-op">"How the quantity changes"</label>
                <select id="edit-quantity-op" class="input" prop:value=move || form.quantity_op.get()
                    on:change=move |ev| form.quantity_op.set(event_target_value(&ev))>
                    <option value="none">"Leave as it is"</option>
                    <option value="add">"Add or take away"</option>
                    <option value="set">"Set to"</option>
                </select>
                <label class="visually-hidden" for="edit-quantity-value">"Quantity change"</label>
                <input id="edit-quantity-value" class="input num" inputmode="numeric" placeholder="5 or -2"
                    disabled=move || form.quantity_op.get() == "none"
                    prop:value=move || form.quantity_value.get() on:input=move |ev| form.quantity_value.set(event_target_value(&ev)) />
            </div>
        </fieldset>
        <fieldset class="edit-part">
            <legend>"Category"</legend>
            <div class="edit-row">
                <label class="edit-check">
                    <input type="checkbox" prop:checked=move || form.category_on.get()
                        on:change=move |ev| form.category_on.set(event_target_checked(&ev)) />
                    " Set to"
                </label>
                <label class="visually-hidden" for="edit-category-value">"New category"</label>
                <input id="edit-category-value" class="input" placeholder="Kitchen > Mugs (empty takes it away)"
                    disabled=move || !form.category_on.get()
                    prop:value=move || form.category_value.get() on:input=move |ev| form.category_value.set(event_target_value(&ev)) />
            </div>
        </fieldset>
        {move || invalid.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
        {move || previewed.get().map(|(change, found)| match found {
            Ok(found) => preview_view(found, change, count).into_any(),
            Err(err) => view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any(),
        })}
        <p class="muted">{format!("This should take {} ({}). It runs in the background: you can keep working.", plan.estimate.about(), plan.estimate.source())}</p>
        {live.then(|| view! { <crate::later::ThenChoice first=task_model::kinds::EDIT.name then_kind=task_model::kinds::UPDATE_LISTINGS.name then /> })}
        {move || then.get().and(plan.then_estimate).map(|e| view! { <p class="muted plan-then-estimate">{format!("Then updating the listings of the live ones: {} more ({}).", e.about(), e.source())}</p> })}
        <crate::later::StartWhen tonight=plan.tonight start_at blocked />
        <div class="form-actions">
            {move || match previewed.get() {
                Some((change, Ok(found))) if found.changed > 0 => {
                    let key = key.clone();
                    view! {
                        <button class="button primary" type="button" disabled=move || start.pending().get() || blocked.get() on:click=move |_| {
                            start.dispatch(StartRequest {
                                kind: task_model::kinds::EDIT.name.into(),
                                selection: selection.get_untracked(),
                                key: key.clone(),
                                leave_live: false,
                                change: Some(change.clone()),
                                start_at: start_at.get_untracked(),
                                then: then.get_untracked(),
                                connection_id: None,
                            });
                        }>{move || if start_at.get().is_some() { "Schedule" } else { "Start in background" }}</button>
                    }.into_any()
                }
                _ => view! {
                    <button class="button primary" type="button" disabled=move || asking.get() on:click=preview>
                        {move || if asking.get() { "Previewing…" } else { "Preview changes" }}
                    </button>
                }.into_any(),
            }}
            <button class="button ghost" type="button" on:click=move |_| open.set(false)>"Cancel"</button>
        </div>
    }
}

/// The server's answer: counts, the first items before → after, the refusals.
pub fn preview_view(found: EditPreview, change: EditChange, count: u64) -> impl IntoView {
    let refused = found.refused_count();
    let more = found.changed.saturating_sub(found.changes.len() as u64);
    let reasons: Vec<String> = found
        .refused_by_code
        .iter()
        .map(|(_, title, n)| format!("{title} ({n})"))
        .collect();
    view! {
        <div class="edit-preview" role="region" aria-label="Preview">
            <p class="plan-breakdown">
                {format!("{}: {} will change", change.said(), task_model::plural(found.changed as i64, "item", "items"))}
                {(found.unchanged > 0).then(|| format!(" · {} already there", found.unchanged))}
                {(refused > 0).then(|| format!(" · {refused} refused"))}
                {(found.count < count).then(|| format!(" · {} no longer found", count - found.count))}
            </p>
            {(!found.changes.is_empty()).then(|| view! {
                <div class="table-wrap">
                    <table class="table edit-table">
                        <thead><tr><th>"SKU"</th><th class="col-num">"Price"</th><th class="col-num">"Quantity"</th><th>"Category"</th></tr></thead>
                        <tbody>
                            {found.changes.into_iter().map(|c| {
                                let cell = |before: String, after: String| if before == after {
                                    view! { <span class="muted">{after}</span> }.into_any()
                                } else {
                                    view! { <span><s class="muted">{before}</s>" → "<strong>{after}</strong></span> }.into_any()
                                };
                                view! {
                                    <tr>
                                        <td class="mono">{c.sku}</td>
                                        <td class="col-num">{cell(c.before.price, c.after.price)}</td>
                                        <td class="col-num">{cell(c.before.quantity.to_string(), c.after.quantity.to_string())}</td>
                                        <td>{cell(c.before.category.unwrap_or_default(), c.after.category.unwrap_or_default())}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            {(more > 0).then(|| view! { <p class="muted">{format!("+{more} more")}</p> })}
            {(refused > 0).then(|| view! {
                <div class="alert warning">
                    <p><strong>{format!("{refused} would be refused: ")}</strong>{reasons.join(" · ")}</p>
                    <ul class="edit-refused">
                        {found.refused.into_iter().take(5).map(|r| view! {
                            <li><span class="mono">{r.sku}</span>" — "{r.message}</li>
                        }).collect_view()}
                    </ul>
                    <p class="muted">"They stay as they are and show in the task's failures; the others change."</p>
                </div>
            })}
        </div>
    }
}
