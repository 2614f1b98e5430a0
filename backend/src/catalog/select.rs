//! Which items: the ids, counts and states of the seller's items a filter or a list of
//! ids stands for ("select all N matching", a task's selection, a preview's breakdown).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{counts, filtered, CatalogError, ItemFilter};
use crate::domain::ListingState;
use crate::entities::item;

/// The items a task over "everything matching" covers: a filter, less the items the
/// seller unticked, less the items already live when the task only puts new ones there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matching {
    pub filter: ItemFilter,
    pub excluded: Vec<i64>,
    pub leave_live: bool,
}

/// How many of `rows` are in each listing state, by the state's name: one grouped count.
async fn by_state(
    db: &impl ConnectionTrait,
    rows: sea_orm::Select<item::Entity>,
) -> Result<Vec<(String, i64)>, CatalogError> {
    Ok(rows
        .select_only()
        .column(item::Column::ListingState)
        .column_as(item::Column::Id.count(), "n")
        .group_by(item::Column::ListingState)
        .into_tuple()
        .all(db)
        .await?)
}

/// The ids of the seller's items that `matching` covers, in id order.
pub(crate) fn matching_select(
    backend: DbBackend,
    seller_id: i64,
    matching: &Matching,
) -> sea_orm::Select<item::Entity> {
    matching_rows(backend, seller_id, matching)
        .select_only()
        .column(item::Column::Id)
        .order_by_asc(item::Column::Id)
}

/// The seller's items that `matching` covers, as rows to select from.
fn matching_rows(
    backend: DbBackend,
    seller_id: i64,
    matching: &Matching,
) -> sea_orm::Select<item::Entity> {
    let mut select = filtered(backend, seller_id, &matching.filter);
    if !matching.excluded.is_empty() {
        select = select.filter(item::Column::Id.is_not_in(matching.excluded.iter().copied()));
    }
    if matching.leave_live {
        select = select.filter(item::Column::ListingState.ne(ListingState::Published.as_str()));
    }
    select
}

/// The ids of the seller's items that `matching` covers now, in id order.
pub async fn matching_list(
    db: &impl ConnectionTrait,
    seller_id: i64,
    matching: &Matching,
) -> Result<Vec<i64>, CatalogError> {
    Ok(
        matching_select(db.get_database_backend(), seller_id, matching)
            .into_tuple::<i64>()
            .all(db)
            .await?,
    )
}

/// How many of the items `matching` covers are in each listing state (states with none
/// left out), in one grouped count.
pub async fn matching_by_state(
    db: &impl ConnectionTrait,
    seller_id: i64,
    matching: &Matching,
) -> Result<Vec<(ListingState, u64)>, CatalogError> {
    let rows = by_state(
        db,
        matching_rows(db.get_database_backend(), seller_id, matching),
    )
    .await?;
    Ok(ListingState::ALL
        .into_iter()
        .filter_map(|state| {
            let (_, n) = rows.iter().find(|(name, _)| name == state.as_str())?;
            u64::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .map(|n| (state, n))
        })
        .collect())
}

/// Which of `ids` are the seller's items, in chunks (never the whole catalog read to
/// check a few).
pub async fn owned_among(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, CatalogError> {
    let mut owned = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        owned.extend(
            item::Entity::find()
                .filter(item::Column::SellerId.eq(seller_id))
                .filter(item::Column::Id.is_in(chunk.iter().copied()))
                .select_only()
                .column(item::Column::Id)
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    owned.sort_unstable();
    Ok(owned)
}

/// How many of the seller's items `matching` covers now, and the highest id among all
/// the seller's items (a task made now covers none above it).
pub async fn count_matching(
    db: &impl ConnectionTrait,
    seller_id: i64,
    matching: &Matching,
) -> Result<(u64, i64), CatalogError> {
    let upto: Option<i64> = item::Entity::find()
        .filter(item::Column::SellerId.eq(seller_id))
        .select_only()
        .column_as(item::Column::Id.max(), "upto")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let Some(upto) = upto else {
        return Ok((0, 0));
    };
    let count = matching_select(db.get_database_backend(), seller_id, matching)
        .filter(item::Column::Id.lte(upto))
        .count(db)
        .await?;
    Ok((count, upto))
}

/// The ids of every item matching the filter ("select all N matching").
#[tracing::instrument(skip_all, err, fields(seller_id))]
pub async fn matching_ids(
    db: &impl ConnectionTrait,
    seller_id: i64,
    filter: &ItemFilter,
) -> Result<Vec<i64>, CatalogError> {
    Ok(filtered(db.get_database_backend(), seller_id, filter)
        .select_only()
        .column(item::Column::Id)
        .order_by_asc(item::Column::Id)
        .into_tuple::<i64>()
        .all(db)
        .await?)
}

/// How many of the seller's items `filter` matches: from the kept counts where they
/// say, else counted.
pub async fn count(
    db: &impl ConnectionTrait,
    seller_id: i64,
    filter: &ItemFilter,
) -> Result<u64, CatalogError> {
    if let Some(n) = counts::counts(db, seller_id).await?.matching(filter) {
        return Ok(n);
    }
    Ok(filtered(db.get_database_backend(), seller_id, filter)
        .count(db)
        .await?)
}

/// How many of the seller's items `filter` (its state aside) matches in each listing
/// state, every state listed: from the kept counts where they say, else one grouped
/// count.
pub async fn state_counts(
    db: &impl ConnectionTrait,
    seller_id: i64,
    filter: &ItemFilter,
) -> Result<Vec<(ListingState, u64)>, CatalogError> {
    let any_state = ItemFilter {
        state: None,
        ..filter.clone()
    };
    let kept = counts::counts(db, seller_id).await?;
    if kept.matching(&any_state).is_some() {
        return Ok(ListingState::ALL
            .into_iter()
            .map(|state| {
                let one = ItemFilter {
                    state: Some(state),
                    ..any_state.clone()
                };
                (state, kept.matching(&one).unwrap_or(0))
            })
            .collect());
    }
    let rows = by_state(
        db,
        filtered(db.get_database_backend(), seller_id, &any_state),
    )
    .await?;
    Ok(ListingState::ALL
        .into_iter()
        .map(|state| {
            let n = rows
                .iter()
                .find(|(name, _)| name == state.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (state, n)
        })
        .collect())
}

/// How many of the seller's items `ids` are in each listing state (states with none left
/// out), in chunks so a large selection is never one huge query.
pub async fn count_by_state(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: &[i64],
) -> Result<Vec<(ListingState, u64)>, CatalogError> {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for chunk in ids.chunks(1_000) {
        let states: Vec<String> = item::Entity::find()
            .filter(item::Column::SellerId.eq(seller_id))
            .filter(item::Column::Id.is_in(chunk.iter().copied()))
            .select_only()
            .column(item::Column::ListingState)
            .into_tuple::<String>()
            .all(db)
            .await?;
        for state in states {
            *counts.entry(state).or_default() += 1;
        }
    }
    Ok(ListingState::ALL
        .into_iter()
        .filter_map(|state| counts.get(state.as_str()).map(|n| (state, *n)))
        .collect())
}

/// The items among `ids` that are in `state`, in id order.
pub async fn in_state(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: &[i64],
    state: ListingState,
) -> Result<Vec<i64>, CatalogError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(1_000) {
        found.extend(
            item::Entity::find()
                .filter(item::Column::SellerId.eq(seller_id))
                .filter(item::Column::Id.is_in(chunk.iter().copied()))
                .filter(item::Column::ListingState.eq(state.as_str()))
                .order_by_asc(item::Column::Id)
                .select_only()
                .column(item::Column::Id)
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

/// `ids` without the items already live, when a task of `kind` may leave them out (a
/// publish that only puts new items on the marketplace); otherwise `ids` as they are.
pub async fn leave_live_out(
    db: &impl ConnectionTrait,
    seller_id: i64,
    kind: &str,
    mut ids: Vec<i64>,
) -> Result<Vec<i64>, CatalogError> {
    if task_model::Presentation::of(kind).may_leave_live() {
        let live = in_state(db, seller_id, &ids, ListingState::Published).await?;
        ids.retain(|id| live.binary_search(id).is_err());
    }
    Ok(ids)
}
