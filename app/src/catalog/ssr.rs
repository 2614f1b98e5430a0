//! The catalog on the server: a page of items with its counts, read for the page and
//! for `GET /api/v1/items`.

use super::*;
use backend::catalog::{self, Item, ItemFilter, ItemQuery, SortKey};

impl From<backend::domain::ListingState> for ListingState {
    fn from(state: backend::domain::ListingState) -> Self {
        use backend::domain::ListingState as S;
        match state {
            S::Draft => Self::Draft,
            S::Published => Self::Published,
            S::Unpublished => Self::Unpublished,
            S::Failed => Self::Failed,
        }
    }
}

impl From<ListingState> for backend::domain::ListingState {
    fn from(state: ListingState) -> Self {
        use backend::domain::ListingState as S;
        match state {
            ListingState::Draft => S::Draft,
            ListingState::Published => S::Published,
            ListingState::Unpublished => S::Unpublished,
            ListingState::Failed => S::Failed,
        }
    }
}

impl From<&ItemFilterParams> for ItemFilter {
    fn from(filter: &ItemFilterParams) -> Self {
        Self {
            q: Some(filter.q.clone()).filter(|q| !q.trim().is_empty()),
            state: filter.state.map(Into::into),
            in_task: filter.in_task,
            changed: filter.changed,
        }
    }
}

impl From<Item> for ItemRow {
    fn from(item: Item) -> Self {
        Self {
            price: item.price_decimal(),
            changed: item.changed_since_published(),
            id: item.id,
            sku: item.sku,
            title: item.title,
            currency: item.currency,
            quantity: item.quantity,
            image_url: item.image_url,
            listing_state: item.listing_state.into(),
            updated_at: item.updated_at,
            task: None,
        }
    }
}

/// One page for the seller, plus the per-state counts for the same search.
pub async fn item_page(
    db: &backend::DatabaseConnection,
    seller_id: i64,
    params: &ItemListParams,
) -> Result<ItemPage, AppError> {
    let sort = SortKey::parse(&params.sort).unwrap_or_default();
    let keyset = match (&params.after, &params.before) {
        _ if params.page <= 1 => None,
        (Some(after), _) => catalog::Cursor::parse(after).map(catalog::Keyset::After),
        (None, Some(before)) => catalog::Cursor::parse(before).map(catalog::Keyset::Before),
        (None, None) => None,
    };
    let query = ItemQuery {
        filter: (&params.filter).into(),
        sort,
        descending: params.desc,
        page: params.page.max(1),
        per_page: params.per_page.clamp(1, ItemQuery::MAX_PER_PAGE),
        keyset,
    };
    let page = catalog::list(db, seller_id, &query).await?;
    let next_cursor = page
        .items
        .last()
        .map(|item| catalog::Cursor::of(item, sort).encode());
    let prev_cursor = page
        .items
        .first()
        .map(|item| catalog::Cursor::of(item, sort).encode());
    let state_counts = catalog::state_counts(db, seller_id, &query.filter)
        .await?
        .into_iter()
        .map(|(state, n)| (state.into(), n))
        .collect();
    let in_task = ItemFilter {
        q: query.filter.q.clone(),
        state: query.filter.state,
        in_task: true,
        changed: query.filter.changed,
    };
    let in_task = catalog::count(db, seller_id, &in_task).await?;
    let changed = ItemFilter {
        q: query.filter.q.clone(),
        state: None,
        in_task: query.filter.in_task,
        changed: true,
    };
    let changed = catalog::count(db, seller_id, &changed).await?;
    let ids: Vec<i64> = page.items.iter().map(|item| item.id).collect();
    let mut tasks = backend::tasks::in_task::ahead(db, seller_id, &ids)
        .await
        .map_err(crate::error::internal)?;
    Ok(ItemPage {
        in_task,
        changed,
        items: page
            .items
            .into_iter()
            .map(|item| {
                let task = tasks.remove(&item.id).map(ItemTask::from);
                ItemRow {
                    task,
                    ..ItemRow::from(item)
                }
            })
            .collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        state_counts,
        next_cursor,
        prev_cursor,
    })
}
