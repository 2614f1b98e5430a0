//! The seller's catalog. Every function takes the seller id first: there is no way to
//! read or write an item without saying whose it is.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::domain::{
    Category, Currency, Description, FieldError, ImageUrl, ListingState, Price, Quantity, Sku,
    Title,
};
use crate::entities::item;

mod counts;
mod keyset;
mod select;
mod upsert;
pub use counts::{compact as compact_counts, counts, Counts};
pub use keyset::{Cursor, Keyset};
pub(crate) use select::matching_select;
pub use select::{
    count, count_by_state, count_matching, in_state, leave_live_out, matching_by_state,
    matching_ids, matching_list, owned_among, state_counts, Matching,
};
pub use upsert::{upsert_by_sku, Snapshot, Upserted};

/// A catalog item as stored, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub category: Option<String>,
    pub listing_state: ListingState,
    pub listing_id: Option<String>,
    pub last_listing_error: Option<String>,
    pub version: i32,
    /// The version live on the marketplace, for a published item.
    pub listed_version: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Item {
    /// An item with nothing in it, to fill in from a partial read.
    pub fn blank() -> Self {
        Self {
            id: 0,
            sku: String::new(),
            title: String::new(),
            description: String::new(),
            price_minor: 0,
            currency: String::new(),
            quantity: 0,
            image_url: None,
            category: None,
            listing_state: ListingState::Draft,
            listing_id: None,
            last_listing_error: None,
            version: 0,
            listed_version: None,
            created_at: DateTime::<Utc>::default(),
            updated_at: DateTime::<Utc>::default(),
        }
    }

    /// Live, but edited since (in its page, by an import or a bulk edit): its listing
    /// shows older values until it is updated.
    pub fn changed_since_published(&self) -> bool {
        self.listing_state == ListingState::Published
            && self
                .listed_version
                .is_some_and(|listed| listed != self.version)
    }

    /// The price as a decimal string in the item's currency (`12.50`).
    pub fn price_decimal(&self) -> String {
        let digits = Currency::parse(&self.currency)
            .map(|c| c.minor_digits())
            .unwrap_or(2);
        crate::domain::format_decimal(self.price_minor, digits)
    }
}

impl From<item::Model> for Item {
    fn from(row: item::Model) -> Self {
        Self {
            id: row.id,
            sku: row.sku,
            title: row.title,
            description: row.description,
            price_minor: row.price_minor,
            currency: row.currency,
            quantity: row.quantity,
            image_url: row.image_url,
            category: row.category,
            // The column has a CHECK constraint; an unknown value cannot be stored.
            listing_state: ListingState::parse(&row.listing_state).unwrap_or(ListingState::Draft),
            listing_id: row.listing_id,
            last_listing_error: row.last_listing_error,
            version: row.version,
            listed_version: row.listed_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// An item's editable fields exactly as typed (a form, a CSV row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawItem {
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    pub quantity: String,
    pub image_url: String,
    pub category: String,
}

/// The editable fields of an item, already parsed.
#[derive(Debug, Clone)]
pub struct ItemFields {
    pub sku: Sku,
    pub title: Title,
    pub description: Description,
    pub price: Price,
    pub quantity: Quantity,
    pub image_url: Option<ImageUrl>,
    pub category: Option<Category>,
}

impl ItemFields {
    /// Parses every field and reports every problem at once, not just the first.
    pub fn parse(raw: &RawItem) -> Result<Self, Vec<FieldError>> {
        fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
            result.map_err(|err| errors.push(err)).ok()
        }
        let mut errors = Vec::new();
        let sku = keep(&mut errors, Sku::parse(&raw.sku));
        let title = keep(&mut errors, Title::parse(&raw.title));
        let description = keep(&mut errors, Description::parse(&raw.description));
        let currency = keep(&mut errors, Currency::parse(&raw.currency));
        let price =
            currency.and_then(|currency| keep(&mut errors, Price::parse(&raw.price, currency)));
        let quantity = keep(&mut errors, Quantity::parse(&raw.quantity));
        let image_url = keep(&mut errors, ImageUrl::parse(&raw.image_url));
        let category = keep(&mut errors, Category::parse(&raw.category));
        match (
            sku,
            title,
            description,
            price,
            quantity,
            image_url,
            category,
        ) {
            (
                Some(sku),
                Some(title),
                Some(description),
                Some(price),
                Some(quantity),
                Some(image_url),
                Some(category),
            ) => Ok(Self {
                sku,
                title,
                description,
                price,
                quantity,
                image_url,
                category,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    Sku,
    Title,
    Price,
    Quantity,
    State,
    #[default]
    Updated,
}

impl SortKey {
    /// What [`SortKey::parse`] takes, for the API's document.
    pub const NAMES: [&'static str; 6] = ["sku", "title", "price", "quantity", "state", "updated"];

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "sku" => Self::Sku,
            "title" => Self::Title,
            "price" => Self::Price,
            "quantity" => Self::Quantity,
            "state" => Self::State,
            "updated" => Self::Updated,
            _ => return None,
        })
    }

    fn column(self) -> item::Column {
        match self {
            Self::Sku => item::Column::Sku,
            Self::Title => item::Column::Title,
            Self::Price => item::Column::PriceMinor,
            Self::Quantity => item::Column::Quantity,
            Self::State => item::Column::ListingState,
            Self::Updated => item::Column::UpdatedAt,
        }
    }
}

/// Which items: a free-text search on SKU and title, and a listing state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    pub q: Option<String>,
    pub state: Option<ListingState>,
    /// Only items a task has still to act on (queued or in flight).
    pub in_task: bool,
    /// Only live items edited since they were published.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemQuery {
    pub filter: ItemFilter,
    pub sort: SortKey,
    pub descending: bool,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
    /// Where the page starts, when known: just after (next) or just before (previous)
    /// a row of the page next to it. The page is then read from the index from there,
    /// however deep it is, instead of skipping `(page - 1) × per_page` rows.
    pub keyset: Option<Keyset>,
}

impl Default for ItemQuery {
    fn default() -> Self {
        Self {
            filter: ItemFilter::default(),
            sort: SortKey::Updated,
            descending: true,
            page: 1,
            per_page: 50,
            keyset: None,
        }
    }
}

impl ItemQuery {
    pub const MAX_PER_PAGE: u64 = 200;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("item not found")]
    NotFound,
    /// Somebody saved the item since the editor loaded it.
    #[error("the item was changed by someone else (now at version {})", current.version)]
    Conflict { current: Box<Item> },
    #[error("another item already has SKU {0}")]
    DuplicateSku(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for CatalogError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Unexpected(err.into())
    }
}

/// A `LIKE` pattern (escape `\\`) for "contains `q`, any case" on lower-cased text: on
/// both engines, and `%` and `_` typed by the seller are literal.
pub(crate) fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// An FTS5 query for "contains `q`" over the trigram index: the text as one quoted phrase.
fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

pub(crate) fn filtered(
    backend: DbBackend,
    seller_id: i64,
    filter: &ItemFilter,
) -> sea_orm::Select<item::Entity> {
    // Scoped: the trait's blanket `max`/`min` would shadow `Ord` elsewhere.
    use sea_orm::sea_query::ExprTrait as _;
    let mut select = item::Entity::find().filter(item::Column::SellerId.eq(seller_id));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // SQLite: the trigram index finds the candidates (it needs three characters);
        // the `LIKE` below decides, as on PostgreSQL, whose trigram indexes serve the
        // `LIKE` itself.
        if backend == DbBackend::Sqlite && q.chars().count() >= 3 {
            select = select.filter(Expr::cust_with_values(
                "items.id IN (SELECT rowid FROM items_search WHERE items_search MATCH ?)",
                [fts_phrase(q)],
            ));
        }
        let pattern = like_pattern(q);
        let like = |col: item::Column| {
            Expr::expr(Func::lower(Expr::col((item::Entity, col))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(like(item::Column::Sku).or(like(item::Column::Title)));
    }
    if let Some(state) = filter.state {
        select = select.filter(item::Column::ListingState.eq(state.as_str()));
    }
    if filter.in_task {
        select = select
            .filter(item::Column::Id.in_subquery(crate::tasks::in_task::ahead_subquery(seller_id)));
    }
    if filter.changed {
        select = select
            .filter(item::Column::ListingState.eq(ListingState::Published.as_str()))
            .filter(
                Expr::col((item::Entity, item::Column::ListedVersion))
                    .ne(Expr::col((item::Entity, item::Column::Version))),
            );
    }
    select
}

/// One page of the seller's items, with the total number matching.
#[tracing::instrument(skip_all, err, fields(seller_id))]
pub async fn list(
    db: &impl ConnectionTrait,
    seller_id: i64,
    query: &ItemQuery,
) -> Result<Page<Item>, CatalogError> {
    let per_page = query.per_page.clamp(1, ItemQuery::MAX_PER_PAGE);
    let page = query.page.max(1);
    let backend = db.get_database_backend();
    let total = match counts::counts(db, seller_id).await?.matching(&query.filter) {
        Some(total) => total,
        None => {
            filtered(backend, seller_id, &query.filter)
                .count(db)
                .await?
        }
    };
    let keyset = query.keyset.as_ref().and_then(|keyset| {
        let (cursor, forward) = match keyset {
            Keyset::After(cursor) => (cursor, true),
            Keyset::Before(cursor) => (cursor, false),
        };
        Some((cursor.sort_value(query.sort)?, cursor.id, forward))
    });
    let column = query.sort.column();
    let rows = match keyset {
        Some((value, id, forward)) => {
            // Reading backwards (the page before) walks the index the other way, then
            // turns the rows round.
            let ascending = forward != query.descending;
            let key = Expr::tuple([
                Expr::col((item::Entity, column)),
                Expr::col((item::Entity, item::Column::Id)),
            ]);
            let at = Expr::tuple([Expr::val(value), Expr::val(id)]);
            let order = if ascending { Order::Asc } else { Order::Desc };
            let next = {
                use sea_orm::sea_query::ExprTrait as _;
                if ascending {
                    key.gt(at)
                } else {
                    key.lt(at)
                }
            };
            let mut rows = filtered(backend, seller_id, &query.filter)
                .filter(next)
                .order_by(column, order.clone())
                .order_by(item::Column::Id, order)
                .limit(per_page)
                .all(db)
                .await?;
            if !forward {
                rows.reverse();
            }
            rows
        }
        None => {
            let order = if query.descending {
                Order::Desc
            } else {
                Order::Asc
            };
            filtered(backend, seller_id, &query.filter)
                .order_by(column, order.clone())
                // A stable tie-break, so paging never shows a row twice.
                .order_by(item::Column::Id, order)
                .offset((page - 1) * per_page)
                .limit(per_page)
                .all(db)
                .await?
        }
    };
    Ok(Page {
        items: rows.into_iter().map(Item::from).collect(),
        total,
        page,
        per_page,
    })
}

/// One item of the seller's; another seller's item is `NotFound`, never `Forbidden`.
#[tracing::instrument(skip_all, err, fields(seller_id, item_id))]
pub async fn get(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_id: i64,
) -> Result<Item, CatalogError> {
    item::Entity::find_by_id(item_id)
        .filter(item::Column::SellerId.eq(seller_id))
        .one(db)
        .await?
        .map(Item::from)
        .ok_or(CatalogError::NotFound)
}

/// The SKU and title of some of the seller's items, by id, in one query.
pub async fn names(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, (String, String)>, CatalogError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut names = std::collections::HashMap::with_capacity(ids.len());
    // Stay well under SQLite's bound-parameter limit on big reports.
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(i64, String, String)> = item::Entity::find()
            .filter(item::Column::SellerId.eq(seller_id))
            .filter(item::Column::Id.is_in(chunk.to_vec()))
            .select_only()
            .column(item::Column::Id)
            .column(item::Column::Sku)
            .column(item::Column::Title)
            .into_tuple()
            .all(db)
            .await?;
        names.extend(rows.into_iter().map(|(id, sku, title)| (id, (sku, title))));
    }
    Ok(names)
}

/// Creates a draft item.
#[tracing::instrument(skip_all, err, fields(seller_id))]
pub async fn create(
    db: &impl ConnectionTrait,
    seller_id: i64,
    fields: ItemFields,
    now: DateTime<Utc>,
) -> Result<Item, CatalogError> {
    let sku = fields.sku.as_str().to_owned();
    let mut row = active_fields(fields, now);
    row.seller_id = Set(seller_id);
    row.listing_state = Set(ListingState::Draft.as_str().to_owned());
    row.version = Set(1);
    row.created_at = Set(now);
    row.insert(db)
        .await
        .map(Item::from)
        .map_err(|err| map_unique(err, sku))
}

/// Saves an edit made from `expected_version`. If the item moved on since, nothing is
/// written and the caller gets the current item back to show the seller.
#[tracing::instrument(skip_all, err, fields(seller_id, item_id, expected_version))]
pub async fn update(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_id: i64,
    expected_version: i32,
    fields: ItemFields,
    now: DateTime<Utc>,
) -> Result<Item, CatalogError> {
    use sea_orm::sea_query::ExprTrait as _;
    let sku = fields.sku.as_str().to_owned();
    let mut update = item::Entity::update_many()
        .filter(item::Column::Id.eq(item_id))
        .filter(item::Column::SellerId.eq(seller_id))
        .filter(item::Column::Version.eq(expected_version))
        .col_expr(
            item::Column::Version,
            Expr::col(item::Column::Version).add(1),
        );
    let fields = active_fields(fields, now);
    update = update.set(fields);
    let result = update.exec(db).await.map_err(|err| map_unique(err, sku))?;
    let current = get(db, seller_id, item_id).await?;
    if result.rows_affected == 0 {
        return Err(CatalogError::Conflict {
            current: Box::new(current),
        });
    }
    Ok(current)
}

fn active_fields(fields: ItemFields, now: DateTime<Utc>) -> item::ActiveModel {
    item::ActiveModel {
        sku: Set(fields.sku.as_str().to_owned()),
        title: Set(fields.title.as_str().to_owned()),
        description: Set(fields.description.as_str().to_owned()),
        price_minor: Set(fields.price.minor()),
        currency: Set(fields.price.currency().code().to_owned()),
        quantity: Set(fields.quantity.value()),
        image_url: Set(fields.image_url.map(|url| url.as_str().to_owned())),
        category: Set(fields.category.map(|c| c.as_str().to_owned())),
        updated_at: Set(now),
        ..Default::default()
    }
}

fn map_unique(err: sea_orm::DbErr, sku: String) -> CatalogError {
    if matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    ) {
        CatalogError::DuplicateSku(sku)
    } else {
        CatalogError::Unexpected(err.into())
    }
}

/// Inserts many items in batches (demo seeding, bulk creation).
pub async fn insert_many(
    db: &impl ConnectionTrait,
    rows: Vec<item::ActiveModel>,
) -> Result<(), CatalogError> {
    // Stay well under SQLite's 32 766 bound parameters per statement.
    for chunk in rows.chunks(500) {
        item::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Records where an item stands on the marketplace after a listing call.
///
/// The listing's state is the marketplace's, not the seller's content, so it does not
/// move the item's `version` (an editor open on the item can still save). With
/// `sent_version`, it is recorded only if the item is still at the version that was
/// sent: an edit saved while the call was on its way is a [`CatalogError::Conflict`],
/// and the caller sends the item again.
#[allow(clippy::too_many_arguments)]
pub async fn set_listing(
    db: &impl ConnectionTrait,
    seller_id: i64,
    item_id: i64,
    sent_version: Option<i32>,
    state: ListingState,
    listing_id: Option<Option<String>>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), CatalogError> {
    let accepted = error.is_none();
    let mut update = item::Entity::update_many()
        .filter(item::Column::Id.eq(item_id))
        .filter(item::Column::SellerId.eq(seller_id))
        .col_expr(item::Column::ListingState, Expr::value(state.as_str()))
        .col_expr(item::Column::LastListingError, Expr::value(error))
        .col_expr(item::Column::UpdatedAt, Expr::value(now));
    if let Some(version) = sent_version {
        update = update.filter(item::Column::Version.eq(version));
    }
    if let Some(listing_id) = listing_id {
        update = update.col_expr(item::Column::ListingId, Expr::value(listing_id));
    }
    // What the marketplace shows: the version sent, once it took it; nothing once taken
    // off (a refused update leaves the older version showing).
    match (state, sent_version) {
        (ListingState::Published, Some(version)) if accepted => {
            update = update.col_expr(item::Column::ListedVersion, Expr::value(version));
        }
        (ListingState::Unpublished, _) => {
            update = update.col_expr(
                item::Column::ListedVersion,
                Expr::value(Option::<i32>::None),
            );
        }
        _ => {}
    }
    let result = update.exec(db).await?;
    if result.rows_affected == 0 {
        return Err(match get(db, seller_id, item_id).await {
            Ok(current) => CatalogError::Conflict {
                current: Box::new(current),
            },
            Err(err) => err,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawItem {
        RawItem {
            sku: "SR-1".into(),
            title: "Mug".into(),
            price: "12.50".into(),
            ..RawItem::default()
        }
    }

    #[test]
    fn every_sort_name_parses_and_nothing_else_does() {
        for name in SortKey::NAMES {
            assert!(SortKey::parse(name).is_some(), "{name}");
        }
        assert!(SortKey::parse("").is_none());
        assert!(SortKey::parse("Price").is_none());
    }

    #[test]
    fn valid_input_parses_with_defaults() {
        let fields = ItemFields::parse(&raw()).unwrap();
        assert_eq!(fields.price.minor(), 1250);
        assert_eq!(fields.price.currency(), Currency::EUR);
        assert_eq!(fields.quantity.value(), 0);
        assert!(fields.image_url.is_none());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = RawItem {
            sku: "".into(),
            title: "".into(),
            price: "12,50".into(),
            quantity: "-2".into(),
            image_url: "javascript:x".into(),
            ..RawItem::default()
        };
        let errors = ItemFields::parse(&bad).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["sku", "title", "price", "quantity", "image_url"]);
    }

    #[test]
    fn an_unknown_currency_is_reported_instead_of_the_price() {
        let errors = ItemFields::parse(&RawItem {
            currency: "XXX".into(),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "currency");
    }
}
