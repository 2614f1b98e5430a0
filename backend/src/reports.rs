//! What a task item is about, in the seller's terms (SKU, title, line of the file), and
//! the downloadable error report of a task.
//!
//! An import's report has the file's own columns for every failed row plus `error_code`
//! and `error_message`, so it can be fixed and uploaded again as is. Other tasks report
//! the SKU, the title and the error. Cells that a spreadsheet would run as a formula are
//! neutralised with a leading `'` (the importer drops it again).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use std::borrow::Cow;

use crate::catalog;
use crate::entities::task_item;
use crate::imports::{self, Row, REPORT_COLUMNS};
use crate::tasks::{Task, TaskError};

/// A task item described for people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    pub item_id: Option<i64>,
    pub sku: Option<String>,
    pub title: Option<String>,
    /// The line of the uploaded file (imports).
    pub line: Option<u64>,
    /// The column the error is about, when it is about one.
    pub column: Option<String>,
}

fn json_of(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// Describes a page of a task's items with one catalog query.
pub async fn describe(
    db: &impl ConnectionTrait,
    task: &Task,
    rows: &[task_item::Model],
) -> Result<Vec<Described>, TaskError> {
    let error_column = |row: &task_item::Model| {
        json_of(&row.error_details)["column"]
            .as_str()
            .map(str::to_owned)
    };
    if task.presentation().subject == task_model::Subject::CsvRow {
        let columns = imports::columns_of(&task.params);
        let cell = |cells: &[String], name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|at| cells.get(at))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        return Ok(rows
            .iter()
            .map(|row| {
                let subject: Option<Row> = serde_json::from_str(&row.subject).ok();
                let cells = subject.as_ref().map(|s| s.cells.as_slice()).unwrap_or(&[]);
                Described {
                    item_id: json_of(&row.result)["item_id"].as_i64(),
                    sku: cell(cells, "sku"),
                    title: cell(cells, "title"),
                    line: subject.as_ref().map(|s| s.line),
                    column: error_column(row),
                }
            })
            .collect());
    }
    // A catalog item's id, alone or in a step that names it (an undo's).
    let item_of = |row: &task_item::Model| {
        let subject = serde_json::from_str::<Value>(&row.subject).ok()?;
        subject.as_i64().or_else(|| subject["item_id"].as_i64())
    };
    let ids: Vec<i64> = rows.iter().filter_map(item_of).collect();
    let names = catalog::names(db, task.seller_id, &ids)
        .await
        .map_err(|err| TaskError::Unexpected(err.into()))?;
    Ok(rows
        .iter()
        .map(|row| {
            let item_id = item_of(row);
            let name = item_id.and_then(|id| names.get(&id));
            Described {
                item_id,
                sku: name.map(|(sku, _)| sku.clone()),
                title: name.map(|(_, title)| title.clone()),
                line: None,
                column: error_column(row),
            }
        })
        .collect())
}

/// A cell that cannot run as a formula when the report is opened in a spreadsheet.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if crate::imports::looks_like_formula(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV writer for reports: UTF-8 with a BOM (so spreadsheets read accents), CRLF.
fn report_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec())
}

fn finish(out: csv::Writer<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    out.into_inner().map_err(|err| anyhow::anyhow!("{err}"))
}

/// Rows of an uploaded file with the reason each failed or was left out: the file's own
/// columns (minus an earlier report's error columns), then `error_code` and
/// `error_message`, so the file can be fixed and uploaded again as it is.
pub fn file_rows_csv<'r>(
    columns: &[String],
    rows: impl IntoIterator<Item = (&'r [String], [String; 2])>,
) -> anyhow::Result<Vec<u8>> {
    let mut out = report_writer();
    let kept: Vec<usize> = (0..columns.len())
        .filter(|at| !REPORT_COLUMNS.contains(&columns[*at].as_str()))
        .collect();
    let header = kept
        .iter()
        .map(|at| columns[*at].as_str())
        .chain(REPORT_COLUMNS);
    out.write_record(header)?;
    for (cells, error) in rows {
        // A row with more cells than the header keeps them all, so nothing the seller
        // typed is lost; the error columns then follow its last cell.
        let extra = cells.iter().skip(columns.len()).cloned();
        let record: Vec<String> = kept
            .iter()
            .map(|at| cells.get(*at).cloned().unwrap_or_default())
            .chain(extra)
            .chain(error)
            .collect();
        out.write_record(record.iter().map(|c| neutralise(c).into_owned()))?;
    }
    finish(out)
}

/// The report's file name and bytes.
pub async fn error_report(
    db: &impl ConnectionTrait,
    seller_id: i64,
    task_id: i64,
) -> Result<(String, Vec<u8>), TaskError> {
    let task = crate::tasks::get(db, seller_id, task_id).await?;
    let failed = task_item::Entity::find()
        .filter(task_item::Column::TaskId.eq(task.id))
        .filter(task_item::Column::Status.eq(crate::tasks::ItemStatus::Failed.as_str()))
        .order_by_asc(task_item::Column::Position)
        .all(db)
        .await?;
    let error_cells = |row: &task_item::Model| {
        [
            row.error_code.clone().unwrap_or_default(),
            row.error_message.clone().unwrap_or_default(),
        ]
    };
    let name = format!("task-{}-errors.csv", task.id);
    if task.presentation().subject == task_model::Subject::CsvRow {
        let cells: Vec<Vec<String>> = failed
            .iter()
            .map(|row| {
                serde_json::from_str::<Row>(&row.subject)
                    .map(|r| r.cells)
                    .unwrap_or_default()
            })
            .collect();
        let bytes = file_rows_csv(
            &imports::columns_of(&task.params),
            cells
                .iter()
                .zip(&failed)
                .map(|(cells, row)| (cells.as_slice(), error_cells(row))),
        )?;
        return Ok((name, bytes));
    }
    let mut out = report_writer();
    let unexpected = |err: csv::Error| TaskError::Unexpected(err.into());
    out.write_record(["sku", "title", "error_code", "error_message"])
        .map_err(unexpected)?;
    let described = describe(db, &task, &failed).await?;
    for (row, about) in failed.iter().zip(described) {
        let [code, message] = error_cells(row);
        let record = [
            about.sku.unwrap_or_default(),
            about.title.unwrap_or_default(),
            code,
            message,
        ];
        out.write_record(record.iter().map(|c| neutralise(c).into_owned()))
            .map_err(unexpected)?;
    }
    Ok((name, finish(out)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_read_back() {
        for cell in ["=1+1", "+1", "-5", "@SUM(A1)", "\tx", "\rx"] {
            let safe = neutralise(cell);
            assert!(safe.starts_with('\''), "{cell:?}");
            assert_eq!(imports::unneutralise(&safe), cell);
        }
        assert_eq!(neutralise("Mug"), "Mug");
    }
}
