//! The catalog page: search, filter by listing state, sort, page, select, bulk bar.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::bulk::BulkActionBar;
use crate::error::AppError;
use crate::item_task::{ItemTask, TaskChip};
use crate::selection::Selection;
use crate::when::When;

/// Where an item stands on the marketplace (wire form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ListingState {
    Draft,
    Published,
    Unpublished,
    Failed,
}

impl ListingState {
    pub const ALL: [ListingState; 4] = [
        Self::Draft,
        Self::Published,
        Self::Unpublished,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Published => "Published",
            Self::Unpublished => "Unpublished",
            Self::Failed => "Failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Which items: the search text and the state filter. Part of an all-matching selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFilterParams {
    pub q: String,
    pub state: Option<ListingState>,
    /// Only items a running task has still to act on.
    #[serde(default)]
    pub in_task: bool,
    /// Only live items edited since they were published.
    #[serde(default)]
    pub changed: bool,
}

/// One catalog request, as in the page URL and `GET /api/v1/items`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemListParams {
    pub filter: ItemFilterParams,
    /// `sku`, `title`, `price`, `quantity`, `state` or `updated`.
    pub sort: String,
    pub desc: bool,
    pub page: u64,
    pub per_page: u64,
    /// The page starts after this row (`id.value`, see `catalog::Cursor`): the next
    /// page, read from the index rather than by skipping rows.
    #[serde(default)]
    pub after: Option<String>,
    /// The page ends before this row: the previous page.
    #[serde(default)]
    pub before: Option<String>,
}

impl Default for ItemListParams {
    fn default() -> Self {
        Self {
            filter: ItemFilterParams::default(),
            sort: "updated".into(),
            desc: true,
            page: 1,
            per_page: PER_PAGE,
            after: None,
            before: None,
        }
    }
}

pub const PER_PAGE: u64 = 50;

impl ItemListParams {
    /// Reads the page URL's query (`?q=&state=&sort=&dir=&page=`); bad values fall back
    /// to defaults rather than failing the page.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Self::default();
        let sort = get("sort")
            .filter(|s| SORT_COLUMNS.iter().any(|(key, _)| key == s))
            .unwrap_or(defaults.sort);
        Self {
            filter: ItemFilterParams {
                q: get("q").unwrap_or_default().trim().to_owned(),
                state: get("state").as_deref().and_then(ListingState::parse),
                in_task: get("in_task").is_some_and(|v| v == "1" || v == "true"),
                changed: get("changed").is_some_and(|v| v == "1" || v == "true"),
            },
            desc: get("dir").map(|d| d != "asc").unwrap_or(defaults.desc),
            sort,
            page: get("page")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
            per_page: PER_PAGE,
            after: get("after").filter(|c| !c.is_empty()),
            before: get("before").filter(|c| !c.is_empty()),
        }
    }

    /// The page URL for these parameters (defaults left out).
    pub fn href(&self) -> String {
        let mut parts = Vec::new();
        if !self.filter.q.is_empty() {
            parts.push(format!("q={}", encode(&self.filter.q)));
        }
        if let Some(state) = self.filter.state {
            parts.push(format!("state={}", state.as_str()));
        }
        if self.filter.in_task {
            parts.push("in_task=1".to_owned());
        }
        if self.filter.changed {
            parts.push("changed=1".to_owned());
        }
        if self.sort != "updated" || !self.desc {
            parts.push(format!(
                "sort={}&dir={}",
                self.sort,
                if self.desc { "desc" } else { "asc" }
            ));
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
            // A row's place only means something away from the first page, and for
            // the search and sort it was taken in: links that change those go to page 1.
            if let Some(after) = &self.after {
                parts.push(format!("after={}", encode(after)));
            } else if let Some(before) = &self.before {
                parts.push(format!("before={}", encode(before)));
            }
        }
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

const SORT_COLUMNS: [(&str, &str); 6] = [
    ("sku", "SKU"),
    ("title", "Title"),
    ("price", "Price"),
    ("quantity", "Qty"),
    ("state", "State"),
    ("updated", "Updated"),
];

/// RFC 3986's unreserved characters stay as they are; everything else is encoded.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

/// One row of the catalog table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemRow {
    pub id: i64,
    pub sku: String,
    pub title: String,
    /// Decimal with the currency's digits, e.g. `12.50`.
    pub price: String,
    pub currency: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub listing_state: ListingState,
    pub updated_at: DateTime<Utc>,
    /// The task that has still to act on the item (queued or in flight), if any.
    #[serde(default)]
    pub task: Option<ItemTask>,
    /// Live, but edited since it was published.
    #[serde(default)]
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemPage {
    pub items: Vec<ItemRow>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    /// Items per listing state for the current search (for the filter tabs).
    pub state_counts: Vec<(ListingState, u64)>,
    /// Items of the current search and state that a running task has still to act on.
    #[serde(default)]
    pub in_task: u64,
    /// Live items of the current search edited since they were published.
    #[serde(default)]
    pub changed: u64,
    /// Where the next page starts (after the last row) and the previous one ends
    /// (before the first row), for keyset links.
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub prev_cursor: Option<String>,
}

impl ItemPage {
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

#[cfg(feature = "ssr")]
pub mod ssr;

#[server(endpoint = "list_items")]
pub async fn list_items(params: ItemListParams) -> Result<ItemPage, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            ssr::item_page(&state()?.db, seller.id, &params).await
        }
        .await,
    )
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let map = query.read();
        ItemListParams::from_query(|key| map.get(key))
    });
    let items = Resource::new(move || params.get(), list_items);
    crate::catalog_refresh::refresh_when_tasks_change_items(items);
    let selection = RwSignal::new(Selection::default());
    // An all-matching selection belongs to the filter it was made with.
    Effect::new(move |_| {
        let filter = params.with(|p| p.filter.clone());
        selection.update(|s| s.on_filter_changed(&filter));
    });

    view! {
        <section class="page catalog">
            <header class="page-header">
                <h1>"Catalog"</h1>
                <SearchBar params />
            </header>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading items…"</p> }>
                {move || Suspend::new(async move {
                    match items.await {
                        Ok(page) => view! { <CatalogTable page params selection /> }.into_any(),
                        Err(AppError::Unauthorized) => view! { <leptos_router::components::Redirect path="/login" /> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <BulkActionBar selection />
        </section>
    }
}

#[component]
fn SearchBar(params: Memo<ItemListParams>) -> impl IntoView {
    view! {
        <Form method="GET" action="/" attr:class="search" attr:role="search">
            <label class="visually-hidden" for="catalog-search">"Search by SKU or title"</label>
            <input
                id="catalog-search"
                class="input"
                type="search"
                name="q"
                placeholder="Search SKU or title"
                // The attribute for the first render, the property once the seller typed.
                value=move || params.with(|p| p.filter.q.clone())
                prop:value=move || params.with(|p| p.filter.q.clone())
            />
            {move || params.with(|p| p.filter.state).map(|s| view! { <input type="hidden" name="state" value=s.as_str() /> })}
            {move || params.with(|p| p.filter.in_task).then(|| view! { <input type="hidden" name="in_task" value="1" /> })}
            <button class="button" type="submit">"Search"</button>
        </Form>
    }
}

#[component]
fn CatalogTable(
    page: ItemPage,
    params: Memo<ItemListParams>,
    selection: RwSignal<Selection>,
) -> impl IntoView {
    let page_ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
    let total = page.total;
    let page_count = page.page_count();
    let first = if total == 0 {
        0
    } else {
        (page.page - 1) * page.per_page + 1
    };
    let last = (page.page * page.per_page).min(total);
    let all_count: u64 = page.state_counts.iter().map(|(_, n)| n).sum();

    let filter_tab = move |state: Option<ListingState>, label: &'static str, count: u64| {
        let href = params.with_untracked(|p| {
            ItemListParams {
                filter: ItemFilterParams {
                    q: p.filter.q.clone(),
                    state,
                    in_task: p.filter.in_task,
                    changed: p.filter.changed,
                },
                page: 1,
                ..p.clone()
            }
            .href()
        });
        let current = params.with_untracked(|p| p.filter.state == state);
        view! {
            <A href=href attr:class=if current { "tab current" } else { "tab" } attr:aria-current=current.then_some("page")>
                {label} <span class="tab-count">{count}</span>
            </A>
        }
    };

    // "In a running task", "Changed since published": filters beside the states, kept
    // across them.
    let toggle_tab = move |label: &'static str,
                           count: u64,
                           flag: fn(&mut ItemFilterParams) -> &mut bool| {
        let (on, href) = params.with_untracked(|p| {
            let mut next = p.clone();
            let on = *flag(&mut next.filter);
            *flag(&mut next.filter) = !on;
            next.page = 1;
            (on, next.href())
        });
        view! {
            <A href=href attr:class=if on { "tab tab-toggle current" } else { "tab tab-toggle" } attr:aria-current=on.then_some("page")>
                {label} <span class="tab-count">{count}</span>
            </A>
        }
    };

    let header_ids = page_ids.clone();
    let page_selected = move || selection.with(|s| s.covers(&header_ids));
    let toggle_page_ids = page_ids.clone();
    let offer_all = {
        let ids = page_ids.clone();
        move || {
            selection.with(|s| !s.is_all_matching() && s.covers(&ids)) && total > ids.len() as u64
        }
    };
    let per_page_len = page_ids.len();

    view! {
        <nav class="tabs" aria-label="Filter by listing state">
            {filter_tab(None, "All", all_count)}
            {page.state_counts.iter().map(|(state, n)| filter_tab(Some(*state), state.label(), *n)).collect_view()}
            {toggle_tab("In a running task", page.in_task, |f| &mut f.in_task)}
            {toggle_tab("Changed since published", page.changed, |f| &mut f.changed)}
        </nav>
        <Show when=offer_all>
            <div class="select-all-banner" role="status">
                {if per_page_len == 1 { "The 1 item on this page is selected. ".to_owned() } else { format!("All {per_page_len} items on this page are selected. ") }}
                <button class="link" type="button" on:click=move |_| {
                    let filter = params.with_untracked(|p| p.filter.clone());
                    selection.update(|s| s.select_all_matching(filter, total));
                }>{format!("Select all {total} matching items")}</button>
            </div>
        </Show>
        <Show when=move || selection.with(|s| s.is_all_matching())>
            <div class="select-all-banner" role="status">
                // (Offered only when more match than the page holds: always several.)
                {move || format!("All {} matching items are selected. ", selection.with(|s| s.count()))}
                <button class="link" type="button" on:click=move |_| selection.update(|s| s.clear())>"Clear selection"</button>
            </div>
        </Show>
        <div class="table-wrap">
            <table class="table items-table">
                <thead>
                    <tr>
                        <th class="col-select">
                            <input
                                type="checkbox"
                                aria-label="Select this page"
                                prop:checked=page_selected
                                on:change=move |ev| {
                                    let checked = event_target_checked(&ev);
                                    selection.update(|s| s.set_page(&toggle_page_ids, checked));
                                }
                            />
                        </th>
                        <th class="col-thumb"><span class="visually-hidden">"Image"</span></th>
                        {SORT_COLUMNS.iter().map(|(key, label)| view! { <SortHeader key label params /> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {if page.items.is_empty() {
                        view! { <tr><td colspan="8" class="empty">"No items match. Try another search or filter."</td></tr> }.into_any()
                    } else {
                        page.items.into_iter().map(|row| view! { <ItemTableRow row selection /> }).collect_view().into_any()
                    }}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            <PageLink params target=page.page.saturating_sub(1) enabled={page.page > 1} label="‹ Previous" cursor=page.prev_cursor.clone().map(Cursor::Before) />
            <span>{format!("Page {} of {page_count}", page.page)}</span>
            <PageLink params target=page.page + 1 enabled={page.page < page_count} label="Next ›" cursor=page.next_cursor.clone().map(Cursor::After) />
        </nav>
    }
}

#[component]
fn SortHeader(
    key: &'static str,
    label: &'static str,
    params: Memo<ItemListParams>,
) -> impl IntoView {
    let (active, desc) = params.with_untracked(|p| (p.sort == key, p.desc));
    // Clicking the active column flips the direction; a new column starts ascending,
    // except dates, which start newest first.
    let next_desc = if active { !desc } else { key == "updated" };
    let href = params.with_untracked(|p| {
        ItemListParams {
            sort: key.to_owned(),
            desc: next_desc,
            page: 1,
            ..p.clone()
        }
        .href()
    });
    let aria_sort = match (active, desc) {
        (false, _) => "none",
        (true, true) => "descending",
        (true, false) => "ascending",
    };
    let arrow = match (active, desc) {
        (false, _) => "",
        (true, true) => " ↓",
        (true, false) => " ↑",
    };
    view! {
        <th class=format!("col-{key}") aria-sort=aria_sort>
            <A href=href attr:class="sort">{label}{arrow}</A>
        </th>
    }
}

/// Where a neighbouring page starts or ends.
#[derive(Debug, Clone)]
enum Cursor {
    After(String),
    Before(String),
}

#[component]
fn PageLink(
    params: Memo<ItemListParams>,
    target: u64,
    enabled: bool,
    label: &'static str,
    cursor: Option<Cursor>,
) -> impl IntoView {
    if enabled {
        let (after, before) = match cursor {
            Some(Cursor::After(at)) => (Some(at), None),
            Some(Cursor::Before(at)) => (None, Some(at)),
            None => (None, None),
        };
        let href = params.with_untracked(|p| {
            ItemListParams {
                page: target,
                after,
                before,
                ..p.clone()
            }
            .href()
        });
        view! { <A href=href attr:class="button small">{label}</A> }.into_any()
    } else {
        view! { <span class="button small disabled" aria-disabled="true">{label}</span> }.into_any()
    }
}

#[component]
fn ItemTableRow(row: ItemRow, selection: RwSignal<Selection>) -> impl IntoView {
    let id = row.id;
    let selected = move || selection.with(|s| s.contains(id));
    let href = format!("/items/{id}");
    let sku = row.sku.clone();
    let thumb = match row.image_url.clone() {
        Some(url) => {
            view! { <img class="thumb" src=url alt="" loading="lazy" width="40" height="40" /> }
                .into_any()
        }
        None => view! { <span class="thumb thumb-missing" title="No image">"—"</span> }.into_any(),
    };
    view! {
        <tr class:selected=selected data-sku=sku.clone()>
            <td class="col-select">
                <input
                    type="checkbox"
                    aria-label=format!("Select {sku}")
                    prop:checked=selected
                    on:change=move |ev| {
                        let checked = event_target_checked(&ev);
                        selection.update(|s| s.toggle(id, checked));
                    }
                />
            </td>
            <td class="col-thumb">{thumb}</td>
            <td class="col-sku mono"><A href=href.clone()>{row.sku}</A></td>
            <td class="col-title"><A href=href>{row.title}</A></td>
            <td class="col-price num">{format!("{} {}", row.price, row.currency)}</td>
            <td class="col-quantity num">{row.quantity}</td>
            <td class="col-state">
                <div class="state-cell">
                    <StateBadge state=row.listing_state />
                    {row.changed.then(|| view! { <span class="badge changed" title="Edited since it was published: update its listing to send the new values">"changed since published"</span> })}
                    {row.task.map(|task| view! { <TaskChip task /> })}
                </div>
            </td>
            <td class="col-updated muted"><When at=row.updated_at /></td>
        </tr>
    }
}

#[component]
pub fn StateBadge(state: ListingState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.label()}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> ItemListParams {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ItemListParams::from_query(|k| map.get(k).cloned())
    }

    #[test]
    fn query_round_trips_through_href() {
        let params = parse(&[
            ("q", "blue mug & co"),
            ("state", "published"),
            ("sort", "price"),
            ("dir", "asc"),
            ("page", "3"),
            ("in_task", "1"),
        ]);
        assert_eq!(params.filter.q, "blue mug & co");
        assert_eq!(params.filter.state, Some(ListingState::Published));
        assert!(params.filter.in_task);
        assert_eq!(
            params.href(),
            "/?q=blue%20mug%20%26%20co&state=published&in_task=1&sort=price&dir=asc&page=3"
        );
    }

    #[test]
    fn bad_query_values_fall_back_to_defaults() {
        let params = parse(&[("state", "live"), ("sort", "password_hash"), ("page", "0")]);
        assert_eq!(params, ItemListParams::default());
        assert_eq!(params.href(), "/");
    }

    #[test]
    fn page_count_rounds_up_and_is_at_least_one() {
        let page = |total| ItemPage {
            items: vec![],
            total,
            page: 1,
            per_page: 50,
            state_counts: vec![],
            in_task: 0,
            changed: 0,
            next_cursor: None,
            prev_cursor: None,
        };
        assert_eq!(page(0).page_count(), 1);
        assert_eq!(page(300).page_count(), 6);
        assert_eq!(page(301).page_count(), 7);
    }
}
