//! The `edit` task kind: a price, quantity or category change over many catalog items,
//! applied by the server to each item's current values, with each item's values before
//! and after kept in its task item's result (what an undo puts back).
//!
//! Prices are changed in the currency's smallest unit: a percentage is rounded half away
//! from zero, and "ending in .99" moves to the nearest amount ending in 99 (ties upward).
//! A change that would leave a price at zero or below, or a quantity below zero, is
//! refused for that item with its reason; the other items go ahead.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use task_model::edit::{EditChange, EditValues, PriceOp, QuantityOp};

use crate::catalog::{self, CatalogError, Item};
use crate::domain::{Category, Currency, Price, Quantity};
use crate::entities::item;
use crate::tasks::{once, InvalidParams, ItemContext, Outcome, Presentation, TaskKind};

/// The parameters of an edit: which items, and what changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditParams {
    pub item_ids: Vec<i64>,
    #[serde(flatten)]
    pub change: EditChange,
}

/// Why an item would not be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// An item's editable values as the seller reads them.
pub fn values_of(item: &Item) -> EditValues {
    EditValues {
        price: item.price_decimal(),
        currency: item.currency.clone(),
        quantity: item.quantity,
        category: item.category.clone(),
    }
}

/// A signed decimal ("-10", "+2.5", "12.50") in units of `10^-digits`; `None` if it is
/// not one or has more decimals than `digits`.
fn signed_minor(raw: &str, digits: u32) -> Option<i64> {
    let raw = raw.trim();
    let (negative, rest) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let (whole, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if fraction.len() > digits as usize || (rest.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole: i64 = whole.parse().ok().filter(|w: &i64| *w <= 1_000_000_000)?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = digits as usize)
            .parse()
            .ok()?
    };
    let value = whole * 10_i64.pow(digits) + fraction;
    Some(if negative { -value } else { value })
}

/// The nearest amount ending in 99 of the smallest unit (x.99 for cents), ties upward,
/// never below the first such amount.
fn end_99(minor: i64, digits: u32) -> i64 {
    let step = 10_i64.pow(digits).max(100);
    let ending = step - step / 100;
    let below = (minor - ending).div_euclid(step) * step + ending;
    let above = below + step;
    if below < ending || minor - below >= above - minor {
        above.max(ending)
    } else {
        below
    }
}

/// The item's values once `change` is applied, or why it would be refused.
pub fn apply(change: &EditChange, item: &Item) -> Result<EditValues, Refusal> {
    let mut after = values_of(item);
    if let Some(price) = &change.price {
        let currency = Currency::parse(&item.currency)
            .map_err(|err| refused("currency_invalid", err.message))?;
        let digits = currency.minor_digits();
        let not_a_price = || {
            refused(
                "price_change_invalid",
                format!(
                    "“{}” is not an amount in {} (at most {digits} decimals).",
                    price.value.trim(),
                    currency.code()
                ),
            )
        };
        let mut minor = match price.op {
            PriceOp::Set => signed_minor(&price.value, digits).ok_or_else(not_a_price)?,
            PriceOp::Add => {
                item.price_minor + signed_minor(&price.value, digits).ok_or_else(not_a_price)?
            }
            PriceOp::AddPercent => {
                // Hundredths of a percent: "12.5" → 1250.
                let basis = signed_minor(&price.value, 2).ok_or_else(|| {
                    refused(
                        "price_change_invalid",
                        format!("“{}” is not a percentage.", price.value.trim()),
                    )
                })?;
                let scaled = i128::from(item.price_minor) * i128::from(10_000 + basis);
                let rounded = (scaled.abs() + 5_000) / 10_000 * scaled.signum();
                i64::try_from(rounded).unwrap_or(i64::MAX)
            }
        };
        if price.end_99 && minor > 0 {
            minor = end_99(minor, digits);
        }
        if minor <= 0 {
            return Err(refused(
                "price_not_positive",
                format!(
                    "The price would be {}: a price must stay above zero.",
                    crate::domain::format_decimal(minor, digits)
                ),
            ));
        }
        let price = Price::from_minor(minor, currency)
            .ok()
            .filter(|p| p.minor() <= Price::MAX_MAJOR * 10_i64.pow(digits))
            .ok_or_else(|| {
                refused(
                    "price_too_large",
                    format!("The price would pass {}.", Price::MAX_MAJOR),
                )
            })?;
        after.price = price.decimal();
    }
    if let Some(quantity) = &change.quantity {
        let value = match quantity.op {
            QuantityOp::Set => quantity.value,
            // Any number may come from a script: past the limit either way, it is refused.
            QuantityOp::Add => i64::from(item.quantity)
                .checked_add(quantity.value)
                .unwrap_or(i64::MAX),
        };
        if value < 0 {
            return Err(refused(
                "quantity_negative",
                format!("The quantity would drop to {value}: it cannot go below zero."),
            ));
        }
        let value = Quantity::parse(&value.to_string()).map_err(|_| {
            refused(
                "quantity_too_large",
                format!("The quantity would pass {}.", Quantity::MAX),
            )
        })?;
        after.quantity = value.value();
    }
    if let Some(category) = &change.category {
        after.category = Category::parse(&category.value)
            .map_err(|err| {
                refused(
                    if err.code == "too_long" {
                        "category_too_long"
                    } else {
                        "category_invalid"
                    },
                    err.message,
                )
            })?
            .map(|c| c.as_str().to_owned());
    }
    Ok(after)
}

/// Checks a change before a task is made of it: something to change, and values that
/// are numbers at all (whether they fit each item is said per item).
pub fn check(change: &EditChange) -> Result<(), InvalidParams> {
    if change.is_empty() {
        return Err(InvalidParams::field(
            "edit_empty",
            "price",
            "Say what to change: the price, the quantity or the category.",
        ));
    }
    if let Some(price) = &change.price {
        let digits = if price.op == PriceOp::AddPercent {
            2
        } else {
            3
        };
        // The API document's pattern (`task_model::edit::AMOUNT_PATTERN`): nothing
        // around the number.
        if price.value.trim() != price.value || signed_minor(&price.value, digits).is_none() {
            return Err(InvalidParams::field(
                "price_change_invalid",
                "price.value",
                format!(
                    "“{}” is not a number like 12.50 or -10.",
                    price.value.trim()
                ),
            ));
        }
        if price.op == PriceOp::Set && price.value.trim().starts_with('-') {
            return Err(InvalidParams::field(
                "price_change_invalid",
                "price.value",
                "A price cannot be set below zero.",
            ));
        }
    }
    if let Some(quantity) = &change.quantity {
        if quantity.op == QuantityOp::Set && quantity.value < 0 {
            return Err(InvalidParams::field(
                "quantity_change_invalid",
                "quantity.value",
                "A quantity cannot be set below zero.",
            ));
        }
    }
    Ok(())
}

/// What became of one write.
enum Written {
    /// The item was changed, and the result recorded with it.
    Done(serde_json::Value),
    /// The item moved on since it was read: read it again.
    Moved,
}

/// Writes `after` over the item if it is still at its version, and records the task
/// item's result in the same transaction (so a rerun after a crash never applies the
/// change twice: see [`once`]). An attempt that finds the result already recorded answers
/// with that result and writes nothing.
async fn write(
    db: &DatabaseConnection,
    task_item: &ItemContext<EditParams, i64>,
    item: &Item,
    before: EditValues,
    after: EditValues,
) -> Result<Written, sea_orm::DbErr> {
    use sea_orm::sea_query::ExprTrait as _;
    let currency = Currency::parse(&after.currency).unwrap_or(Currency::EUR);
    let minor = signed_minor(&after.price, currency.minor_digits()).unwrap_or(item.price_minor);
    let txn = once::begin(db).await?;
    let updated = item::Entity::update_many()
        .filter(item::Column::Id.eq(item.id))
        .filter(item::Column::SellerId.eq(task_item.seller_id))
        .filter(item::Column::Version.eq(item.version))
        .col_expr(item::Column::PriceMinor, Expr::value(minor))
        .col_expr(item::Column::Quantity, Expr::value(after.quantity))
        .col_expr(item::Column::Category, Expr::value(after.category.clone()))
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(
            item::Column::Version,
            Expr::col(item::Column::Version).add(1),
        )
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(Written::Moved);
    }
    let result = json!({
        "before": before,
        "after": after,
        "version": item.version + 1,
    });
    if !once::record(&txn, task_item.item_id, &result).await? {
        txn.rollback().await?;
        return Ok(match once::done_before(db, task_item.item_id).await? {
            Some(earlier) => Written::Done(earlier),
            None => Written::Moved,
        });
    }
    txn.commit().await?;
    Ok(Written::Done(result))
}

/// Tries to change one item this many times when the seller keeps saving it meanwhile.
const WRITES_PER_ATTEMPT: usize = 3;

pub struct Edit {
    db: DatabaseConnection,
}

impl Edit {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl TaskKind for Edit {
    type Params = EditParams;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::EDIT
    }

    /// "Edit 200 items: price +10 %"
    fn label(&self, params: &EditParams, items: usize) -> String {
        format!(
            "{}: {}",
            self.presentation().label(items as i64),
            params.change.said()
        )
    }

    fn expand(&self, params: &EditParams) -> Result<Vec<i64>, InvalidParams> {
        check(&params.change)?;
        Ok(params.item_ids.clone())
    }

    /// The ids are the task's items now: attempts need only the change.
    fn kept(&self, params: EditParams) -> EditParams {
        EditParams {
            item_ids: Vec::new(),
            change: params.change,
        }
    }

    /// Applied to the item as it is now; an edit saved meanwhile is edited in turn. An
    /// attempt after one that already wrote the item (and crashed before saying so)
    /// answers with that attempt's result.
    async fn process(&self, task_item: ItemContext<EditParams, i64>) -> Outcome {
        match once::done_before(&self.db, task_item.item_id).await {
            Ok(Some(earlier)) => return Outcome::Succeeded(earlier),
            Ok(None) => {}
            Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
        }
        for _ in 0..WRITES_PER_ATTEMPT {
            let item = match catalog::get(&self.db, task_item.seller_id, task_item.subject).await {
                Ok(item) => item,
                Err(CatalogError::NotFound) => {
                    return Outcome::failed("item_not_found", "The item was deleted meanwhile.")
                }
                Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
            };
            let before = values_of(&item);
            let after = match apply(&task_item.params.change, &item) {
                Ok(after) => after,
                Err(refusal) => return Outcome::failed(refusal.code, refusal.message),
            };
            if after == before {
                // Nothing to change, so nothing to undo: not counted as edited.
                return Outcome::Skipped {
                    code: "already_set".into(),
                    message: "The item already had these values.".into(),
                };
            }
            match write(&self.db, &task_item, &item, before, after).await {
                Ok(Written::Done(result)) => return Outcome::Succeeded(result),
                Ok(Written::Moved) => continue,
                Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
            }
        }
        Outcome::retry(
            "item_busy",
            "The item kept changing while it was being edited; trying again.",
        )
    }

    /// Work inside Stockroom: many at once (the writes are short, guarded by version).
    fn concurrency(&self) -> u32 {
        64
    }
}

/// What an edit would do to `ids`, computed from the items as they are now: the items it
/// changes (the first `limit`, before → after, and how many in all), the ones it leaves
/// as they are, and the ones it refuses with why (the first `limit`, and how many).
pub async fn preview(
    db: &impl ConnectionTrait,
    seller_id: i64,
    ids: &[i64],
    change: &EditChange,
    limit: usize,
) -> Result<Preview, CatalogError> {
    use sea_orm::QuerySelect;
    use task_model::edit::{EditPreviewChange, EditRefusal};
    type Priced = (i64, String, i64, String, i32, Option<String>);
    let mut preview = Preview::default();
    // Only the columns an edit reads. A small selection is read by its ids; a large one
    // (a filter over most of a catalog) by walking the seller's items in id order and
    // keeping the selected, as long id lists cost more to bind than the rows to read.
    let wanted: Option<std::collections::HashSet<i64>> =
        (ids.len() > WALK_ABOVE).then(|| ids.iter().copied().collect());
    let mut chunks = ids.chunks(WALK_ABOVE);
    let mut after = i64::MIN;
    loop {
        let mut query = item::Entity::find()
            .select_only()
            .columns([
                item::Column::Id,
                item::Column::Sku,
                item::Column::PriceMinor,
                item::Column::Currency,
                item::Column::Quantity,
                item::Column::Category,
            ])
            .filter(item::Column::SellerId.eq(seller_id))
            .order_by_asc(item::Column::Id);
        query = match &wanted {
            Some(_) => query.filter(item::Column::Id.gt(after)).limit(WALK_PAGE),
            None => match chunks.next() {
                Some(chunk) => query.filter(item::Column::Id.is_in(chunk.iter().copied())),
                None => break,
            },
        };
        let items: Vec<Priced> = query.into_tuple().all(db).await?;
        let last_page = items.len() < WALK_PAGE as usize;
        after = items.last().map_or(after, |row| row.0);
        let read = items.len();
        let items = items
            .into_iter()
            .filter(|row| wanted.as_ref().is_none_or(|set| set.contains(&row.0)));
        for (id, sku, price_minor, currency, quantity, category) in items {
            let item = Item {
                id,
                sku,
                price_minor,
                currency,
                quantity,
                category,
                ..Item::blank()
            };
            let before = values_of(&item);
            match apply(change, &item) {
                Ok(after) if after == before => preview.unchanged += 1,
                Ok(after) => {
                    preview.changed += 1;
                    if preview.changes.len() < limit {
                        preview.changes.push(EditPreviewChange {
                            item_id: item.id,
                            sku: item.sku.clone(),
                            before,
                            after,
                        });
                    }
                }
                Err(refusal) => {
                    *preview
                        .refused_by_code
                        .entry(refusal.code.to_owned())
                        .or_default() += 1;
                    if preview.refused.len() < limit {
                        preview.refused.push(EditRefusal {
                            item_id: item.id,
                            sku: item.sku.clone(),
                            code: refusal.code.to_owned(),
                            message: refusal.message,
                        });
                    }
                }
            }
        }
        if wanted.is_some() && (last_page || read == 0) {
            break;
        }
    }
    preview.changes.sort_by_key(|c| c.item_id);
    preview.refused.sort_by_key(|r| r.item_id);
    Ok(preview)
}

/// Above this many selected items, a preview walks the seller's catalog instead of
/// binding the ids (and below it, reads them in one query).
const WALK_ABOVE: usize = 5_000;
/// Items per page of that walk.
const WALK_PAGE: u64 = 10_000;

/// What an edit would do (see [`preview`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    pub changed: u64,
    pub unchanged: u64,
    pub changes: Vec<task_model::edit::EditPreviewChange>,
    pub refused_by_code: std::collections::BTreeMap<String, u64>,
    pub refused: Vec<task_model::edit::EditRefusal>,
}

#[cfg(test)]
mod tests;
