//! The `undo` task kind: puts back what a finished edit changed. Its items are made from
//! the edit's results when the undo is asked for (each changed item, the version the edit
//! left it at, and its values before); an item changed since then is skipped with the
//! reason "changed since", never overwritten.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use task_model::edit::EditValues;
use task_model::{ItemStatus, TaskStatus};

use crate::catalog::{self, CatalogError};
use crate::domain::Currency;
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
    pub before: EditValues,
}

/// Why a task cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoRefused {
    #[error("Only a finished edit can be undone.")]
    NotUndoable,
    #[error("This task is still running: undo it once it has finished.")]
    NotFinished,
    #[error("This task changed nothing, so there is nothing to undo.")]
    NothingChanged,
}

impl UndoRefused {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotUndoable => "not_undoable",
            Self::NotFinished => "task_not_finished",
            Self::NothingChanged => "nothing_to_undo",
        }
    }
}

/// Whether a task of this kind and status can be undone at all (the task page's button).
pub fn undoable(kind: &str, status: TaskStatus) -> bool {
    kind == task_model::kinds::EDIT.name && status.is_terminal()
}

/// The steps that undo `task`: each item it changed, in its order.
pub async fn steps(
    db: &impl ConnectionTrait,
    task: &Task,
) -> Result<Result<Vec<UndoStep>, UndoRefused>, sea_orm::DbErr> {
    if task.kind != task_model::kinds::EDIT.name {
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
            Some(UndoStep {
                item_id: serde_json::from_str::<i64>(&row.subject).ok()?,
                version: i32::try_from(result["version"].as_i64()?).ok()?,
                before: serde_json::from_value(result["before"].clone()).ok()?,
            })
        })
        .collect();
    Ok(if steps.is_empty() {
        Err(UndoRefused::NothingChanged)
    } else {
        Ok(steps)
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

    /// Steps come with the request (see [`steps`]), not from parameters.
    fn expand(&self, _params: &UndoParams) -> Result<Vec<UndoStep>, InvalidParams> {
        Err(InvalidParams::field(
            "steps_missing",
            "task_id",
            "an undo is made from a finished task: POST /api/v1/tasks/{id}/undo",
        ))
    }

    /// Puts the values back if the item is still where the edit left it, recording the
    /// result with the write (see [`once`]).
    async fn process(&self, task_item: ItemContext<UndoParams, UndoStep>) -> Outcome {
        match once::done_before(&self.db, task_item.item_id).await {
            Ok(Some(earlier)) => return Outcome::Succeeded(earlier),
            Ok(None) => {}
            Err(err) => return Outcome::retry("database_unavailable", err.to_string()),
        }
        let step = &task_item.subject;
        let currency = Currency::parse(&step.before.currency).unwrap_or(Currency::EUR);
        let Ok(price) = crate::domain::Price::parse(&step.before.price, currency) else {
            return Outcome::failed("undo_invalid", "The values to put back cannot be read.");
        };
        match self.put_back(&task_item, price.minor(), currency).await {
            Ok(Some(result)) => Outcome::Succeeded(result),
            Ok(None) => match catalog::get(&self.db, task_item.seller_id, step.item_id).await {
                Ok(_) => Outcome::Skipped {
                    code: "changed_since".into(),
                    message: "The item was changed after the edit; it keeps its newer values."
                        .into(),
                },
                Err(CatalogError::NotFound) => Outcome::Skipped {
                    code: "item_not_found".into(),
                    message: "The item was deleted after the edit.".into(),
                },
                Err(err) => Outcome::retry("database_unavailable", err.to_string()),
            },
            Err(err) => Outcome::retry("database_unavailable", err.to_string()),
        }
    }
}

impl Undo {
    /// Writes the step's values back and records the result in one transaction: the
    /// result, or `None` when the item is no longer at the version the edit left it at.
    async fn put_back(
        &self,
        task_item: &ItemContext<UndoParams, UndoStep>,
        price_minor: i64,
        currency: Currency,
    ) -> Result<Option<serde_json::Value>, sea_orm::DbErr> {
        let step = &task_item.subject;
        let txn = once::begin(&self.db).await?;
        let written = item::Entity::update_many()
            .filter(item::Column::Id.eq(step.item_id))
            .filter(item::Column::SellerId.eq(task_item.seller_id))
            .filter(item::Column::Version.eq(step.version))
            .col_expr(item::Column::PriceMinor, Expr::value(price_minor))
            .col_expr(item::Column::Currency, Expr::value(currency.code()))
            .col_expr(item::Column::Quantity, Expr::value(step.before.quantity))
            .col_expr(
                item::Column::Category,
                Expr::value(step.before.category.clone()),
            )
            .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
            .col_expr(
                item::Column::Version,
                Expr::col(item::Column::Version).add(1),
            )
            .exec(&txn)
            .await?;
        let result = json!({ "restored": step.before });
        if written.rows_affected != 1 || !once::record(&txn, task_item.item_id, &result).await? {
            txn.rollback().await?;
            return once::done_before(&self.db, task_item.item_id).await;
        }
        txn.commit().await?;
        Ok(Some(result))
    }
}
