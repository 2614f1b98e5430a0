//! The `export` task kind: catalog items to a CSV in exactly the import format, written in
//! the background and downloaded once the task is over.
//!
//! Each task item writes its item's row (one CSV record, as the import reads it) into its
//! result; the download ([`rows`]) streams the header and then the rows in the task's
//! order, a page at a time, so a file of any size is served in bounded memory, and a row
//! retried or skipped like any other task item ends up in (or out of) the file. Rows are
//! kept for [`KEPT_DAYS`] after the task ends; then [`forget_expired`] removes them and the
//! download answers that the file has expired.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::catalog::{self, CatalogError, Item};
use crate::entities::task_item;
use crate::imports::{looks_like_formula, COLUMNS};
use crate::listings::ItemIds;
use crate::tasks::{InvalidParams, ItemContext, Outcome, Presentation, Task, TaskKind};
use task_model::{ItemStatus, TaskStatus};

/// How long an export's file can be downloaded after its task ends, in days.
pub const KEPT_DAYS: i64 = match &task_model::kinds::EXPORT.download {
    Some(download) => download.kept_days,
    None => 7,
};

/// Rows read per page while a file is streamed.
const PAGE: u64 = 1_000;

/// The file's first line: a byte-order mark (so spreadsheets read accents) and the
/// import's columns.
pub fn header() -> String {
    format!("\u{FEFF}{}\r\n", COLUMNS.join(","))
}

/// A cell as written: quoted when it must be (RFC 4180), and a cell that a spreadsheet
/// would run as a formula starts with `'` (the import reads it back without).
fn cell(value: &str, out: &mut String) {
    let value: std::borrow::Cow<'_, str> = if looks_like_formula(value) {
        format!("'{value}").into()
    } else {
        value.into()
    };
    if value.contains([',', '"', '\r', '\n']) || value.starts_with(' ') || value.ends_with(' ') {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

/// One item's row in the import's column order, ending in CRLF.
pub fn row(item: &Item) -> String {
    let quantity = item.quantity.to_string();
    let cells = [
        item.sku.as_str(),
        item.title.as_str(),
        item.description.as_str(),
        &item.price_decimal(),
        item.currency.as_str(),
        &quantity,
        item.image_url.as_deref().unwrap_or(""),
        item.category.as_deref().unwrap_or(""),
    ];
    let mut out = String::with_capacity(128);
    for (at, value) in cells.iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        cell(value, &mut out);
    }
    out.push_str("\r\n");
    out
}

/// Why an export's file cannot be downloaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("Only an export has a file to download.")]
    NotAnExport,
    #[error("The export is still being written: download it once it has finished.")]
    Running,
    #[error("This export's file was removed {KEPT_DAYS} days after it was written. Export the items again.")]
    Expired,
    #[error("This export wrote no rows, so there is no file.")]
    Empty,
}

impl NotReady {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnExport => "not_an_export",
            Self::Running => "export_not_ready",
            Self::Expired => "export_expired",
            Self::Empty => "export_empty",
        }
    }
}

/// When an export's file stops being offered: [`KEPT_DAYS`] after its task ended.
pub fn expires_at(task: &Task) -> Option<DateTime<Utc>> {
    task.finished_at.map(|at| at + Duration::days(KEPT_DAYS))
}

/// Whether `task`'s file can be downloaded now, and if not, why. A file whose rows were
/// removed stays removed, even if a retry ran the task again since (its other rows are
/// gone: the file would be cut short).
pub async fn ready(
    db: &impl ConnectionTrait,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<Result<(), NotReady>, sea_orm::DbErr> {
    if task.kind != task_model::kinds::EXPORT.name {
        return Ok(Err(NotReady::NotAnExport));
    }
    if !task.status.is_terminal() {
        return Ok(Err(NotReady::Running));
    }
    if !has_file(task) {
        return Ok(Err(NotReady::Empty));
    }
    if expires_at(task).is_none_or(|at| at <= now) {
        return Ok(Err(NotReady::Expired));
    }
    let removed = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task.id))
        .filter(task_item::Column::SellerId.eq(task.seller_id))
        .filter(task_item::Column::Status.eq(ItemStatus::Succeeded.as_str()))
        .filter(task_item::Column::Result.is_null())
        .one(db)
        .await?;
    Ok(match removed {
        Some(_) => Err(NotReady::Expired),
        None => Ok(()),
    })
}

/// The file's name: "stockroom-export-42.csv".
pub fn file_name(task: &Task) -> String {
    format!("stockroom-export-{}.csv", task.id)
}

/// The next page of an export's rows after position `after` (`-1` for the first), in
/// the task's order: the rows, and the position to continue after (`None` at the end).
pub async fn rows(
    db: &impl ConnectionTrait,
    task: &Task,
    after: i32,
) -> Result<(String, Option<i32>), sea_orm::DbErr> {
    let page: Vec<(i32, Option<String>)> = task_item::Entity::find()
        .select_only()
        .column(task_item::Column::Position)
        .column(task_item::Column::Result)
        .filter(task_item::Column::TaskId.eq(task.id))
        .filter(task_item::Column::SellerId.eq(task.seller_id))
        .filter(task_item::Column::Status.eq(ItemStatus::Succeeded.as_str()))
        .filter(task_item::Column::Position.gt(after))
        .order_by_asc(task_item::Column::Position)
        .limit(PAGE)
        .into_tuple()
        .all(db)
        .await?;
    let next = (page.len() as u64 == PAGE).then(|| page.last().map(|(at, _)| *at));
    let mut text = String::with_capacity(page.len() * 128);
    for (_, result) in &page {
        let row = result
            .as_deref()
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|value| value["row"].as_str().map(str::to_owned));
        if let Some(row) = row {
            text.push_str(&row);
        }
    }
    Ok((text, next.flatten()))
}

/// Rows cleared per statement, so the write lock is never held for long.
const FORGET_BATCH: u64 = 5_000;

/// Removes the rows of exports that ended more than [`KEPT_DAYS`] ago, a batch at a
/// time; how many.
pub async fn forget_expired(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    use crate::entities::task;
    use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
    let mut forgotten = 0;
    loop {
        let expired = Query::select()
            .column(task::Column::Id)
            .from(task::Entity)
            .and_where(Expr::col(task::Column::Kind).eq(task_model::kinds::EXPORT.name))
            .and_where(Expr::col(task::Column::FinishedAt).lt(now - Duration::days(KEPT_DAYS)))
            .to_owned();
        let batch = Query::select()
            .column(task_item::Column::Id)
            .from(task_item::Entity)
            .and_where(Expr::col(task_item::Column::TaskId).in_subquery(expired))
            .and_where(Expr::col(task_item::Column::Result).is_not_null())
            .limit(FORGET_BATCH)
            .to_owned();
        let done = task_item::Entity::update_many()
            .col_expr(
                task_item::Column::Result,
                Expr::value(Option::<String>::None),
            )
            .filter(task_item::Column::Id.in_subquery(batch))
            .exec(db)
            .await?;
        forgotten += done.rows_affected;
        if done.rows_affected < FORGET_BATCH {
            return Ok(forgotten);
        }
    }
}

/// Whether an export's task is over in a way that left rows to download.
pub fn has_file(task: &Task) -> bool {
    task.kind == task_model::kinds::EXPORT.name
        && task.counts.succeeded > 0
        && matches!(
            task.status,
            TaskStatus::Succeeded | TaskStatus::CompletedWithErrors | TaskStatus::Cancelled
        )
}

pub struct Export {
    db: DatabaseConnection,
}

impl Export {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl TaskKind for Export {
    type Params = ItemIds;
    type Subject = i64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::EXPORT
    }

    fn expand(&self, params: &ItemIds) -> Result<Vec<i64>, InvalidParams> {
        Ok(params.item_ids.clone())
    }

    /// The ids are the task's items now: attempts need none of them.
    fn kept(&self, _params: ItemIds) -> ItemIds {
        ItemIds::default()
    }

    /// The item's row as it is when its turn comes. Writing it twice writes the same row.
    async fn process(&self, task_item: ItemContext<ItemIds, i64>) -> Outcome {
        match catalog::get(&self.db, task_item.seller_id, task_item.subject).await {
            Ok(item) => Outcome::Succeeded(json!({ "row": row(&item) })),
            Err(CatalogError::NotFound) => Outcome::failed(
                "item_not_found",
                "The item was deleted before it was exported.",
            ),
            Err(err) => Outcome::retry("database_unavailable", err.to_string()),
        }
    }

    /// Work inside Stockroom: as many at once as the engine gives (a low cap here made
    /// 100 000 rows take minutes, one claim round per few rows).
    fn concurrency(&self) -> u32 {
        64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str, description: &str) -> Item {
        Item {
            id: 1,
            sku: "SR-1".into(),
            title: title.into(),
            description: description.into(),
            price_minor: 1250,
            currency: "EUR".into(),
            quantity: 3,
            image_url: None,
            category: Some("Kitchen > Mugs".into()),
            listing_state: crate::domain::ListingState::Draft,
            listing_id: None,
            last_listing_error: None,
            listed_version: None,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// What the import reads back from a written row.
    fn read_back(line: &str) -> Vec<String> {
        let file = format!("{}{line}", header());
        let mut reader = csv::ReaderBuilder::new().from_reader(file.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        record
            .iter()
            .map(|cell| crate::imports::unneutralise(cell).to_owned())
            .collect()
    }

    #[test]
    fn a_row_is_in_the_import_format() {
        assert_eq!(
            header(),
            "\u{FEFF}sku,title,description,price,currency,quantity,image_url,category\r\n"
        );
        assert_eq!(
            row(&item("Mug", "")),
            "SR-1,Mug,,12.50,EUR,3,,Kitchen > Mugs\r\n"
        );
        assert_eq!(
            row(&item("Mug, blue", "Say \"hi\"\ntwice")),
            "SR-1,\"Mug, blue\",\"Say \"\"hi\"\"\ntwice\",12.50,EUR,3,,Kitchen > Mugs\r\n"
        );
    }

    proptest::proptest! {
        /// Whatever a title or description holds, the import reads back what was there.
        #[test]
        fn every_text_reads_back(title in "('|=|\\PC){0,40}", description in "(\\PC|[\r\n\",])*") {
            let line = row(&item(&title, &description));
            let cells = read_back(&line);
            proptest::prop_assert_eq!(&cells[1], &title);
            proptest::prop_assert_eq!(&cells[2], &description);
        }
    }
}
