//! The `undo` task kind: puts back what a finished edit or import changed. Its items are
//! made from the task's results when the undo is asked for (each changed item, the version
//! the task left it at, and its values before; for an import, also the items it created,
//! which the undo deletes); an item changed since then is skipped with the reason "changed
//! since", never overwritten, and an item the import created that went live since is kept.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use task_model::edit::EditValues;
use task_model::{ItemStatus, TaskStatus};

use crate::catalog::{self, CatalogError, Snapshot};
use crate::domain::{Currency, ListingState};
use crate::entities::{item, task_item};
use crate::tasks::{once, InvalidParams, ItemContext, Outcome, Presentation, Task, TaskKind};

/// The parameters of an undo: the task it undoes, and that task's label for its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoParams {
    pub task_id: i64,
    #[serde(default)]
    pub label: String,
}

/// One item to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoStep {
    pub item_id: i64,
    /// The version the undone task left the item at: any other means it changed since.
    pub version: i32,
    /// An edit's: the values before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<EditValues>,
    /// An import's: the fields the row overwrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Snapshot>,
    /// The import created the item: the undo deletes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
}

impl UndoStep {
    /// The step that undoes one succeeded item of an edit or an import, from its result
    /// (`None` for an item it left as it was).
    fn of(kind: &str, subject: &str, result: &serde_json::Value) -> Option<Self> {
        let version = i32::try_from(result["version"].as_i64()?).ok()?;
        if kind == task_model::kinds::EDIT.name {
            return Some(Self {
                item_id: serde_json::from_str(subject).ok()?,
                version,
                before: Some(serde_json::from_value(result["before"].clone()).ok()?),
                replaced: None,
                created: false,
            });
        }
        let item_id = result["item_id"].as_i64()?;
        let created = result["created"].as_bool() == Some(true);
        let replaced: Option<Snapshot> = serde_json::from_value(result["replaced"].clone()).ok();
        // A row that changed nothing has nothing to undo. One that replaced values it could
        // not record (the item changed at that very moment) still gets a step, which says
        // so rather than vanishing.
        (result["unchanged"].as_bool() != Some(true)).then_some(Self {
            item_id,
            version,
            before: None,
            replaced,
            created,
        })
    }
}

/// Why a task cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoRefused {
    #[error("Only a finished edit or import can be undone.")]
    NotUndoable,
    #[error("This task is still running: undo it once it has finished.")]
    NotFinished,
    #[error("This task changed nothing, so there is nothing to undo.")]
    NothingChanged,
    #[error("This import ran before imports kept what they replaced, so it cannot be undone.")]
    NotRecorded,
}

impl UndoRefused {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotUndoable => "not_undoable",
            Self::NotFinished => "task_not_finished",
            Self::NothingChanged => "nothing_to_undo",
            Self::NotRecorded => "undo_not_recorded",
        }
    }
}

/// Whether a task of this kind and status can be undone at all (the task page's button).
pub fn undoable(kind: &str, status: TaskStatus) -> bool {
    task_model::Presentation::of(kind).undoable && status.is_terminal()
}

/// The steps that undo `task`: each item it changed, in its order.
pub async fn steps(
    db: &impl ConnectionTrait,
    task: &Task,
) -> Result<Result<Vec<UndoStep>, UndoRefused>, sea_orm::DbErr> {
    if !task_model::Presentation::of(&task.kind).undoable {
        return Ok(Err(UndoRefused::NotUndoable));
    }
    if !task.status.is_terminal() {
        return Ok(Err(UndoRefused::NotFinished));
    }
    let done = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task.id))
        .filter(task_item::Column::SellerId.eq(task.seller_id))
        .filter(task_item::Column::Status.eq(ItemStatus::Succeeded.as_str()))
        .order_by_asc(task_item::Column::Position)
        .all(db)
        .await?;
    let steps: Vec<UndoStep> = done
        .iter()
        .filter_map(|row| {
            let result: serde_json::Value = serde_json::from_str(row.result.as_deref()?).ok()?;
            UndoStep::of(&task.kind, &row.subject, &result)
        })
        .collect();
    // An import whose rows carry no version ran before imports recorded one.
    let unrecorded = task.kind == task_model::kinds::IMPORT.name
        && done.iter().any(|row| {
            row.result
                .as_deref()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
                .is_some_and(|result| result.get("version").is_none())
        });
    Ok(match (steps.is_empty(), unrecorded) {
        (true, true) => Err(UndoRefused::NotRecorded),
        (true, false) => Err(UndoRefused::NothingChanged),
        (false, _) => Ok(steps),
    })
}

pub struct Undo {
    db: DatabaseConnection,
}

impl Undo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl TaskKind for Undo {
    type Params = UndoParams;
    type Subject = UndoStep;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::UNDO
    }

    /// "Undo #42 Edit 200 items: price +10 %"
    fn label(&self, params: &UndoParams, items: usize) -> String {
        match params.label.as_str() {
            "" => self.presentation().label(items as i64),
            label => format!(
                "{} {}",
                self.presentation().title,
                task_model::words::numbered(params.task_id, label)
            ),
        }
    }

    /// Work inside Stockroom: many at once (each write is short, guarded by version).
    fn concurrency(&self) -> u32 {
        64
    }

    /// Steps come with the request (see [`steps`]), not from parameters.
    fn expand(&self, _params: &UndoParams) -> Result<Vec<UndoStep>, InvalidParams> {
        Err(InvalidParams::field(
            "steps_missing",
            "task_id",
            "an undo is made from a finished task: POST /api/v1/tasks/{id}/undo",
        ))
    }

    /// Puts the values back (or deletes what an import created) if the item is still
    /// where the task left it, recording the result with the write (see [`once`]).
    async fn process(&self, task_item: ItemContext<UndoParams, UndoStep>) -> Outcome {
        match once::done_before(&self.db, task_item.item_id).await {
            Ok(Some(earlier)) => return Outcome::Succeeded(earlier),
            Ok(None) => {}
            Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
        }
        let step = &task_item.subject;
        let Some(write) = Write::of(step) else {
            if step.before.is_none() {
                return Outcome::Skipped {
                    code: "before_unknown".into(),
                    message: "What the import replaced here was not recorded (the item changed at the same moment): it keeps its values.".into(),
                };
            }
            return Outcome::failed("undo_invalid", "The values to put back cannot be read.");
        };
        match self.put_back(&task_item, write).await {
            Ok(Some(result)) => Outcome::Succeeded(result),
            Ok(None) => match catalog::get(&self.db, task_item.seller_id, step.item_id).await {
                Ok(item)
                    if step.created
                        && (item.listing_state == ListingState::Published
                            || item.listing_id.is_some()) =>
                {
                    Outcome::Skipped {
                        code: "published_since".into(),
                        message: "The item went live after the import: it is kept. Unpublish it first to delete it."
                            .into(),
                    }
                }
                Ok(_) => Outcome::Skipped {
                    code: "changed_since".into(),
                    message: "The item was changed since; it keeps its newer values.".into(),
                },
                Err(CatalogError::NotFound) => Outcome::Skipped {
                    code: "item_not_found".into(),
                    message: "The item was deleted since.".into(),
                },
                Err(err) => Outcome::retry("database_unavailable", err.to_string()),
            },
            Err(err) => Outcome::retry("database_unavailable", err.to_string()),
        }
    }
}

/// What one step writes.
enum Write {
    /// An edit's values.
    Values {
        price_minor: i64,
        currency: Currency,
        before: EditValues,
    },
    /// An import's overwritten fields.
    Fields(Snapshot),
    /// An item the import created: it goes.
    Remove,
}

impl Write {
    fn of(step: &UndoStep) -> Option<Self> {
        if step.created {
            return Some(Self::Remove);
        }
        if let Some(fields) = &step.replaced {
            return Some(Self::Fields(fields.clone()));
        }
        let before = step.before.clone()?;
        let currency = Currency::parse(&before.currency).unwrap_or(Currency::EUR);
        let price = crate::domain::Price::parse(&before.price, currency).ok()?;
        Some(Self::Values {
            price_minor: price.minor(),
            currency,
            before,
        })
    }
}

impl Undo {
    /// Writes the step and records the result in one transaction: the result, or `None`
    /// when the item is no longer at the version the task left it at (or, for an item to
    /// remove, it went live since).
    async fn put_back(
        &self,
        task_item: &ItemContext<UndoParams, UndoStep>,
        write: Write,
    ) -> Result<Option<serde_json::Value>, sea_orm::DbErr> {
        let step = &task_item.subject;
        let txn = once::begin(&self.db).await?;
        let guarded = |column: item::Column, value: sea_orm::Value| (column, Expr::value(value));
        let (affected, result) = match write {
            Write::Remove => {
                let removed = item::Entity::delete_many()
                    .filter(item::Column::Id.eq(step.item_id))
                    .filter(item::Column::SellerId.eq(task_item.seller_id))
                    .filter(item::Column::Version.eq(step.version))
                    .filter(item::Column::ListingState.ne(ListingState::Published.as_str()))
                    .filter(item::Column::ListingId.is_null())
                    .exec(&txn)
                    .await?;
                (removed.rows_affected, json!({ "removed": step.item_id }))
            }
            Write::Values {
                price_minor,
                currency,
                before,
            } => {
                let values = [
                    guarded(item::Column::PriceMinor, price_minor.into()),
                    guarded(item::Column::Currency, currency.code().into()),
                    guarded(item::Column::Quantity, before.quantity.into()),
                    guarded(item::Column::Category, before.category.clone().into()),
                ];
                let written = self.restore(&txn, task_item, values).await?;
                (written, json!({ "restored": before }))
            }
            Write::Fields(fields) => {
                let values = [
                    guarded(item::Column::Title, fields.title.clone().into()),
                    guarded(item::Column::Description, fields.description.clone().into()),
                    guarded(item::Column::PriceMinor, fields.price_minor.into()),
                    guarded(item::Column::Currency, fields.currency.clone().into()),
                    guarded(item::Column::Quantity, fields.quantity.into()),
                    guarded(item::Column::ImageUrl, fields.image_url.clone().into()),
                    guarded(item::Column::Category, fields.category.clone().into()),
                ];
                let written = self.restore(&txn, task_item, values).await?;
                (written, json!({ "restored": fields }))
            }
        };
        if affected != 1 || !once::record(&txn, task_item.item_id, &result).await? {
            txn.rollback().await?;
            return once::done_before(&self.db, task_item.item_id).await;
        }
        txn.commit().await?;
        Ok(Some(result))
    }

    /// Writes `values` over the item if it is still at the step's version; rows written.
    async fn restore(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        task_item: &ItemContext<UndoParams, UndoStep>,
        values: impl IntoIterator<Item = (item::Column, Expr)>,
    ) -> Result<u64, sea_orm::DbErr> {
        let step = &task_item.subject;
        let mut update = item::Entity::update_many()
            .filter(item::Column::Id.eq(step.item_id))
            .filter(item::Column::SellerId.eq(task_item.seller_id))
            .filter(item::Column::Version.eq(step.version))
            .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
            .col_expr(
                item::Column::Version,
                Expr::col(item::Column::Version).add(1),
            );
        for (column, value) in values {
            update = update.col_expr(column, value);
        }
        Ok(update.exec(txn).await?.rows_affected)
    }
}
