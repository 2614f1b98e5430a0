//! The item page: view and edit one item, with inline errors and conflict detection.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::catalog::{ListingState, StateBadge};
use crate::error::AppError;
use crate::item_task::{ItemStanding, ItemTask, ItemTaskBanner};
use crate::ui::Dialog;
use crate::when::When;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemDetail {
    pub id: i64,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub category: Option<String>,
    pub listing_state: ListingState,
    pub listing_id: Option<String>,
    pub last_listing_error: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The task that has still to act on the item, or the one that just did.
    #[serde(default)]
    pub task: Option<ItemTask>,
    /// Its listing on each of the seller's marketplace connections.
    #[serde(default)]
    pub listings: Vec<ConnectionListing>,
}

/// An item's listing on one connection: "eBay US — listed (110000000123)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionListing {
    pub connection: String,
    pub marketplace: task_model::Marketplace,
    /// `processing`, `listed`, `refused`, `removed`.
    pub state: String,
    /// The marketplace's name for it (Amazon's ASIN, eBay's listing id).
    pub reference: Option<String>,
    /// What the marketplace said, when it refused the listing.
    pub problem: Option<String>,
}

impl ConnectionListing {
    pub fn words(&self) -> String {
        let state = match self.state.as_str() {
            "processing" => "waiting for the marketplace",
            "listed" => "listed",
            "refused" => "refused",
            "removed" => "taken down",
            other => other,
        };
        let mut said = format!("{}: {state}", self.connection);
        if let Some(reference) = &self.reference {
            said.push_str(&format!(" ({reference})"));
        }
        if let Some(problem) = &self.problem {
            said.push_str(&format!(" — {problem}"));
        }
        said
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::error::FieldError;
    use backend::catalog::{Item, ItemFields};

    impl From<Item> for ItemDetail {
        fn from(item: Item) -> Self {
            Self {
                price: item.price_decimal(),
                id: item.id,
                sku: item.sku,
                title: item.title,
                description: item.description,
                currency: item.currency,
                quantity: item.quantity,
                image_url: item.image_url,
                category: item.category,
                listing_state: item.listing_state.into(),
                listing_id: item.listing_id,
                last_listing_error: item.last_listing_error,
                version: item.version,
                created_at: item.created_at,
                updated_at: item.updated_at,
                task: None,
                listings: Vec::new(),
            }
        }
    }

    /// The item's listing on each connection, named.
    pub async fn listings(
        db: &backend::DatabaseConnection,
        seller_id: i64,
        item_id: i64,
    ) -> Result<Vec<ConnectionListing>, AppError> {
        let rows = backend::connectors::listings::of_item(db, seller_id, item_id)
            .await
            .map_err(crate::error::internal)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let connections = backend::connections::list(db, seller_id).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let connection = connections.iter().find(|c| c.id == row.connection_id)?;
                let problem = row
                    .issues
                    .as_deref()
                    .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
                    .and_then(|issues| issues[0]["message"].as_str().map(str::to_owned));
                Some(ConnectionListing {
                    connection: connection.name.clone(),
                    marketplace: connection.marketplace,
                    state: row.state,
                    reference: row.reference,
                    problem,
                })
            })
            .collect())
    }

    impl From<&ItemInput> for backend::catalog::RawItem {
        fn from(input: &ItemInput) -> Self {
            Self {
                sku: input.sku.clone(),
                title: input.title.clone(),
                description: input.description.clone(),
                price: input.price.clone(),
                currency: input.currency.clone(),
                quantity: input.quantity.clone(),
                image_url: input.image_url.clone(),
                category: input.category.clone(),
            }
        }
    }

    pub fn parse_fields(input: &ItemInput) -> Result<ItemFields, AppError> {
        ItemFields::parse(&input.into()).map_err(|errors| AppError::Validation {
            fields: errors.into_iter().map(FieldError::from).collect(),
        })
    }
}

/// The editable fields exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemInput {
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    pub quantity: String,
    pub image_url: String,
    pub category: String,
}

#[server(endpoint = "get_item")]
pub async fn get_item(id: i64) -> Result<ItemDetail, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let db = &state()?.db;
            let mut detail = ItemDetail::from(backend::catalog::get(db, seller.id, id).await?);
            detail.task = crate::item_task::ssr::latest(db, seller.id, id).await?;
            detail.listings = ssr::listings(db, seller.id, id).await?;
            Ok(detail)
        }
        .await,
    )
}

/// Saves an edit. While a task has still to act on the item, saving asks first
/// ([`AppError::InTask`]) unless `confirmed`; what is saved is what the task then sends.
#[server(endpoint = "save_item")]
pub async fn save_item(
    id: i64,
    version: i32,
    input: ItemInput,
    #[server(default)] confirmed: bool,
) -> Result<ItemDetail, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let fields = ssr::parse_fields(&input)?;
            let db = &state()?.db;
            if !confirmed {
                let ahead = backend::tasks::in_task::ahead(db, seller.id, &[id])
                    .await
                    .map_err(crate::error::internal)?;
                if let Some(task) = ahead.get(&id) {
                    return Err(AppError::InTask {
                        message: task_model::Presentation::of(&task.kind)
                            .save_question(&task.label, task.status),
                    });
                }
            }
            let mut saved = ItemDetail::from(
                backend::catalog::update(db, seller.id, id, version, fields, Utc::now()).await?,
            );
            saved.task = crate::item_task::ssr::latest(db, seller.id, id).await?;
            tracing::info!(
                seller_id = seller.id,
                item_id = id,
                version = saved.version,
                "item saved"
            );
            Ok(saved)
        }
        .await,
    )
}

#[component]
pub fn ItemDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let reload = RwSignal::new(0u32);
    let item = Resource::new(
        move || (id(), reload.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_item(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );

    view! {
        <section class="page item-page">
            <p class="breadcrumbs"><A href="/">"← Catalog"</A></p>
            <FixAndRetry />
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading item…"</p> }>
                {move || Suspend::new(async move {
                    match item.await {
                        Ok(detail) => view! { <ItemEditor detail reload /> }.into_any(),
                        Err(AppError::NotFound) => view! {
                            <div class="card empty-state">
                                <h1>"Item not found"</h1>
                                <p class="muted">"It may have been deleted, or the link is wrong."</p>
                                <A href="/" attr:class="button">"Back to the catalog"</A>
                            </div>
                        }.into_any(),
                        Err(AppError::Unauthorized) => view! { <leptos_router::components::Redirect path="/login" /> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Opened from a failed item of a task (`?task=T&task_item=I`): fix the item, save, and
/// send just this item again without leaving the page.
#[component]
fn FixAndRetry() -> impl IntoView {
    use crate::task_page::{control_task, Which};
    let query = leptos_router::hooks::use_query_map();
    let target = move || {
        query.with(|q| {
            let task = q.get("task")?.parse::<i64>().ok()?;
            let item = q.get("task_item")?.parse::<i64>().ok()?;
            Some((task, item))
        })
    };
    let retry = Action::new(move |(task, item): &(i64, i64)| {
        let (task, item) = (*task, *item);
        async move {
            control_task(
                task,
                crate::tasks::Control::Retry,
                Which {
                    item_ids: Some(vec![item]),
                    error_code: None,
                },
            )
            .await
        }
    });
    move || {
        target().map(|(task, item)| {
            view! {
                <div class="card fix-retry" role="region" aria-label="Fix and retry">
                    <p>
                        <strong>"This item failed in a task."</strong>
                        " Fix it below and save, then send just this item again."
                    </p>
                    <div class="form-actions">
                        <button type="button" class="button primary" disabled=move || retry.pending().get()
                            on:click=move |_| { retry.dispatch((task, item)); }>"Retry this item"</button>
                        <A href=format!("/tasks/{task}") attr:class="button ghost">"Back to the task"</A>
                    </div>
                    {move || retry.value().get().map(|result| match result {
                        Ok(_) => view! { <p class="alert info" role="status">"Sent again. The task shows how it goes."</p> }.into_any(),
                        Err(err) => view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any(),
                    })}
                </div>
            }
        })
    }
}

#[component]
fn ItemEditor(detail: ItemDetail, reload: RwSignal<u32>) -> impl IntoView {
    let save = ServerAction::<SaveItem>::new();
    let saved = Memo::new(move |_| save.value().get().and_then(|r| r.ok()));
    let error = Memo::new(move |_| save.value().get().and_then(|r| r.err()));
    let standing = follow_standing(&detail, saved);
    // Saving an item a task is about to send asks first; "Save anyway" sends the form
    // again, confirmed.
    let form = NodeRef::<leptos::html::Form>::new();
    let confirmed = NodeRef::<leptos::html::Input>::new();
    let asking = RwSignal::new(false);
    let question = Memo::new(move |_| match error.get() {
        Some(AppError::InTask { message }) => Some(message),
        _ => None,
    });
    // Every refused save asks again, even with the same question as before: the action's
    // value is set on every answer, equal or not.
    Effect::new(move |_| {
        let refused = save
            .value()
            .with(|v| matches!(v, Some(Err(AppError::InTask { .. }))));
        asking.set(refused);
    });
    let save_anyway = move |_| {
        asking.set(false);
        #[cfg(feature = "hydrate")]
        if let (Some(form), Some(confirmed)) = (form.get(), confirmed.get()) {
            confirmed.set_value("true");
            let _ = form.request_submit();
            confirmed.set_value("false");
        }
    };
    // The last version saved: a refused save later does not take the form back to an
    // older version.
    let current = RwSignal::new(detail.clone());
    Effect::new(move |_| {
        if let Some(item) = saved.get() {
            current.set(item);
        }
    });
    let version = move || current.with(|c| c.version.to_string());
    let field_error =
        move |name: &'static str| {
            move || {
                error.get().and_then(|e| e.field_message(name)).map(|message| {
                view! { <span class="field-error" id=format!("{name}-error")>{message}</span> }
            })
            }
        };
    let invalid = move |name: &'static str| {
        move || error.get().is_some_and(|e| e.field_message(name).is_some())
    };
    let banner = move || {
        match error.get() {
        Some(AppError::Validation { .. }) => Some(view! {
            <p class="alert error" role="alert">"Nothing was saved: fix the highlighted fields."</p>
        }.into_any()),
        // Asked in the dialog below.
        Some(AppError::InTask { .. }) => None,
        Some(err @ AppError::Conflict { .. }) => Some(view! {
            <div class="alert warning" role="alert">
                <p>{err.to_string()}</p>
                <button class="button small" type="button" on:click=move |_| reload.update(|n| *n += 1)>"Load the latest version"</button>
            </div>
        }.into_any()),
        Some(err) => Some(view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any()),
        None => saved.get().map(|item| view! {
            <p class="alert success" role="status">{format!("Saved. Version {}.", item.version)}</p>
        }.into_any()),
    }
    };
    let d = detail;
    let image = d.image_url.clone();
    let image_alt = format!("Picture of {}", d.title);

    view! {
        <div class="item-layout">
            <div class="item-main card">
                <header class="item-header">
                    <div>
                        <h1>{move || current.get().title}</h1>
                        <p class="muted mono">{move || current.get().sku}</p>
                    </div>
                    {move || view! { <StateBadge state=standing.with(|s| s.listing_state) /> }}
                </header>
                {move || standing.with(|s| s.task.clone()).map(|task| view! { <ItemTaskBanner task /> })}
                {banner}
                <ActionForm action=save node_ref=form attr:class="item-form" attr:novalidate=true attr:id="item-form">
                    <input type="hidden" name="id" value=d.id />
                    <input type="hidden" name="version" value=version />
                    <input type="hidden" name="confirmed" value="false" node_ref=confirmed />
                    <div class="form-grid">
                        <label class="field">
                            <span class="field-label">"SKU"</span>
                            <input class="input mono" name="input[sku]" value=d.sku.clone() class:invalid=invalid("sku") aria-invalid=move || invalid("sku")().to_string() aria-describedby="sku-error" />
                            {field_error("sku")}
                        </label>
                        <label class="field span-2">
                            <span class="field-label">"Title"</span>
                            <input class="input" name="input[title]" value=d.title.clone() class:invalid=invalid("title") aria-invalid=move || invalid("title")().to_string() aria-describedby="title-error" />
                            {field_error("title")}
                        </label>
                        <label class="field">
                            <span class="field-label">"Price"</span>
                            <input class="input num" name="input[price]" inputmode="decimal" value=d.price.clone() class:invalid=invalid("price") aria-invalid=move || invalid("price")().to_string() aria-describedby="price-error" />
                            {field_error("price")}
                        </label>
                        <label class="field">
                            <span class="field-label">"Currency"</span>
                            <input class="input mono" name="input[currency]" maxlength="3" value=d.currency.clone() class:invalid=invalid("currency") aria-invalid=move || invalid("currency")().to_string() aria-describedby="currency-error" />
                            {field_error("currency")}
                        </label>
                        <label class="field">
                            <span class="field-label">"Quantity"</span>
                            <input class="input num" name="input[quantity]" inputmode="numeric" value=d.quantity.to_string() class:invalid=invalid("quantity") aria-invalid=move || invalid("quantity")().to_string() aria-describedby="quantity-error" />
                            {field_error("quantity")}
                        </label>
                        <label class="field">
                            <span class="field-label">"Category"</span>
                            <input class="input" name="input[category]" value=d.category.clone().unwrap_or_default() class:invalid=invalid("category") aria-describedby="category-error" />
                            {field_error("category")}
                        </label>
                        <label class="field span-2">
                            <span class="field-label">"Image URL"</span>
                            <input class="input" name="input[image_url]" value=d.image_url.clone().unwrap_or_default() class:invalid=invalid("image_url") aria-describedby="image_url-error" />
                            {field_error("image_url")}
                        </label>
                        <label class="field span-3">
                            <span class="field-label">"Description"</span>
                            <textarea class="input" name="input[description]" rows="6" class:invalid=invalid("description") aria-describedby="description-error">{d.description.clone()}</textarea>
                            {field_error("description")}
                        </label>
                    </div>
                    <div class="form-actions">
                        <button class="button primary" type="submit" disabled=move || save.pending().get()>
                            {move || if save.pending().get() { "Saving…" } else { "Save changes" }}
                        </button>
                        <A href="/" attr:class="button ghost">"Cancel"</A>
                    </div>
                </ActionForm>
            </div>
            <aside class="item-side card">
                {match image {
                    Some(url) => view! { <img class="item-image" src=url alt=image_alt /> }.into_any(),
                    None => view! { <div class="item-image missing">"No image"</div> }.into_any(),
                }}
                <dl class="facts">
                    <dt>"Listing"</dt>
                    <dd>{move || standing.with(|s| s.listing_id.clone()).unwrap_or_else(|| "Not listed".into())}</dd>
                    <dt>"Last listing error"</dt>
                    <dd>{move || standing.with(|s| s.last_listing_error.clone()).unwrap_or_else(|| "None".into())}</dd>
                    {(!d.listings.is_empty()).then(|| view! {
                        <dt>"On marketplaces"</dt>
                        <dd><ul class="item-listings">{d.listings.iter().map(|l| view! {
                            <li data-state=l.state.clone()>{l.words()}</li>
                        }).collect_view()}</ul></dd>
                    })}
                    <dt>"Created"</dt>
                    <dd><When at=d.created_at /></dd>
                    <dt>"Updated"</dt>
                    <dd>{move || view! { <When at=current.get().updated_at /> }}</dd>
                    <dt>"Version"</dt>
                    <dd>{move || current.get().version}</dd>
                </dl>
            </aside>
        </div>
        <Dialog open=asking id="save-in-task" title="Save while a task is on it?">
            <p>{move || question.get().unwrap_or_default()}</p>
            <div class="form-actions">
                <button type="button" class="button primary" on:click=save_anyway>"Save anyway"</button>
                <button type="button" class="button ghost" on:click=move |_| asking.set(false)>"Keep editing"</button>
            </div>
        </Dialog>
    }
}

/// The item's task and listing as they change while the page is open: loaded with the
/// page, after each save, and again (at most every second) when the seller's tasks move.
/// The form is left alone, so nothing the seller is typing is lost.
fn follow_standing(detail: &ItemDetail, saved: Memo<Option<ItemDetail>>) -> RwSignal<ItemStanding> {
    let id = detail.id;
    let standing = RwSignal::new(ItemStanding {
        task: detail.task.clone(),
        listing_state: detail.listing_state,
        listing_id: detail.listing_id.clone(),
        last_listing_error: detail.last_listing_error.clone(),
    });
    // A save's answer is newer than any fetch started before it.
    let saves = StoredValue::new(0u64);
    Effect::new(move |_| {
        if let Some(item) = saved.get() {
            saves.update_value(|n| *n += 1);
            standing.set(ItemStanding {
                task: item.task,
                listing_state: item.listing_state,
                listing_id: item.listing_id,
                last_listing_error: item.last_listing_error,
            });
        }
    });
    let store = crate::live::use_live();
    // The item's task as the live stream knows it (its `seq`), and the newest task: a
    // new one may include this item.
    // Nothing until the stream's first snapshot, which is what the page was loaded with.
    let moved = Memo::new(move |_| {
        if !store.ready.get() {
            return None;
        }
        let followed = standing.with(|s| s.task.as_ref().map(|t| t.task_id));
        store.tasks.with(|tasks| {
            let seq = followed.and_then(|id| tasks.iter().find(|t| t.id == id).map(|t| t.seq));
            let newest = tasks.iter().map(|t| t.id).max();
            Some((seq, newest))
        })
    });
    let waiting = StoredValue::new(false);
    Effect::new(move |seen: Option<Option<(Option<i64>, Option<i64>)>>| {
        let now = moved.get();
        let changed = matches!((seen.flatten(), now), (Some(before), Some(now)) if before != now);
        if changed && !waiting.get_value() {
            waiting.set_value(true);
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(1_000).await;
                if waiting.try_set_value(false).is_none() {
                    let before = saves.get_value();
                    if let Ok(fresh) = crate::item_task::get_item_standing(id).await {
                        // A save answered meanwhile knows better.
                        if saves.try_get_value() == Some(before) {
                            standing.set(fresh);
                        }
                    }
                }
            });
        }
        now
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
    standing
}
