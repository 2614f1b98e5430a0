//! CSV import: the file format, reading an upload into rows (before any task exists),
//! and the `import` task kind that turns each row into a catalog item.
//!
//! Format (see DESIGN): a header row, comma-separated, UTF-8 with or without a BOM, CRLF
//! or LF, RFC 4180 quoting. Columns `sku,title,description,price,currency,quantity,
//! image_url,category` in any order; `sku`, `title`, `price` required. The `error_code`
//! and `error_message` columns of our own error report are ignored, so a fixed report
//! uploads as is.
//!
//! A problem with the file as a whole (too big, too many rows, a bad header) is refused
//! before a task exists. A problem with one row (invalid UTF-8, a wrong number of cells,
//! a duplicate SKU, a bad value) fails that row only, with its line, column and code.

use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::{CatalogError, ItemFields, RawItem};
use crate::estimate::{CallModel, Workload};
use crate::listings::{account, outcome_of};
use crate::marketplace::Connector;
pub mod check;
mod writer;

use crate::tasks::{InvalidParams, ItemContext, Outcome, Presentation, RetryPolicy, TaskKind};
use writer::Writer;

/// The columns an import understands, in the template's order.
pub const COLUMNS: [&str; 8] = [
    "sku",
    "title",
    "description",
    "price",
    "currency",
    "quantity",
    "image_url",
    "category",
];
pub const REQUIRED: [&str; 3] = ["sku", "title", "price"];
/// Columns of our own error report; ignored on upload.
pub const REPORT_COLUMNS: [&str; 2] = ["error_code", "error_message"];

/// The downloadable template: the header and one example row.
pub const TEMPLATE: &str = "sku,title,description,price,currency,quantity,image_url,category\r\n\
SR-0001,Stoneware mug,\"Hand-glazed, 350 ml\",12.50,EUR,24,https://images.example.com/mug.jpg,Kitchen > Mugs\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    pub max_bytes: usize,
    pub max_rows: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            // A large seller's whole catalog in one file: 100,000 rows with descriptions.
            max_bytes: 32 * 1024 * 1024,
            max_rows: 100_000,
        }
    }
}

/// Why a whole file was refused. Nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("The file is larger than {} MB. Split it into smaller files.", limit / (1024 * 1024))]
    TooLarge { limit: usize },
    #[error("The file has more than {limit} rows. Split it into smaller files.")]
    TooManyRows { limit: usize },
    #[error("The file is empty. It needs a header row and at least one item.")]
    Empty,
    #[error("The file has a header but no rows.")]
    NoRows,
    #[error("The header row is not valid UTF-8 text. Save the file as “CSV UTF-8”.")]
    HeaderNotUtf8,
    #[error("{}", header_message(missing, unknown, duplicate))]
    Header {
        missing: Vec<String>,
        unknown: Vec<String>,
        duplicate: Vec<String>,
    },
    #[error("The file could not be read as CSV: {0}")]
    Unreadable(String),
    #[error("No row of this file can be imported as it is. Download the rows that need you, fix them and import them again.")]
    NothingReady,
}

impl FileError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "file_too_large",
            Self::TooManyRows { .. } => "too_many_rows",
            Self::Empty => "file_empty",
            Self::NoRows => "no_rows",
            Self::HeaderNotUtf8 => "header_not_utf8",
            Self::Header { .. } => "header_invalid",
            Self::Unreadable(_) => "file_unreadable",
            Self::NothingReady => "nothing_ready",
        }
    }

    /// Too big for the limits (413) rather than wrong (422).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge { .. } | Self::TooManyRows { .. })
    }
}

fn header_message(missing: &[String], unknown: &[String], duplicate: &[String]) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("“{n}”"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("Missing required column(s): {}.", list(missing)));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "Unknown column(s): {}. Allowed: {}.",
            list(unknown),
            COLUMNS.join(", ")
        ));
    }
    if !duplicate.is_empty() {
        parts.push(format!("Column(s) given twice: {}.", list(duplicate)));
    }
    parts.join(" ")
}

/// A problem with one row, as the seller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub code: String,
    pub column: Option<String>,
    pub message: String,
}

/// One data row: where it starts in the file and its cells as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
    /// Found while reading the file; the row fails with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RowError>,
    /// The repairs the file's check made to the cells (see [`check`]), if the seller
    /// chose to import fixed rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
}

/// A file that passed the file-level checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFile {
    /// The header as written (trimmed, lower-cased), including ignored report columns.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

impl ParsedFile {
    /// The rows that already failed while reading.
    pub fn row_errors(&self) -> usize {
        self.rows.iter().filter(|r| r.error.is_some()).count()
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads an uploaded file into rows. Never panics on any input.
pub fn parse(bytes: &[u8], limits: &ImportLimits) -> Result<ParsedFile, FileError> {
    if bytes.len() > limits.max_bytes {
        return Err(FileError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(FileError::Empty),
        Some(Err(err)) => return Err(FileError::Unreadable(err.to_string())),
        Some(Ok(record)) => record,
    };
    let columns = check_header(&header)?;
    let sku_at = columns.iter().position(|c| c == "sku");
    let mut rows = Vec::new();
    let mut first_line_of_sku: HashMap<String, u64> = HashMap::new();
    let (mut line, mut counted_to) = (1_u64, 0_usize);
    for record in records {
        let record = record.map_err(|err| FileError::Unreadable(err.to_string()))?;
        if record.iter().all(|cell| cell.trim_ascii().is_empty()) {
            continue; // a blank line, or a spreadsheet's empty row
        }
        if rows.len() == limits.max_rows {
            return Err(FileError::TooManyRows {
                limit: limits.max_rows,
            });
        }
        // Counted from the byte offset: a quoted newline makes a row span lines.
        // The reader may place a record after a CR, before its LF, or before blank
        // lines it skipped: step over line ends to the record's first byte.
        let mut offset = record.position().map(|p| p.byte() as usize).unwrap_or(0);
        while matches!(bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if let Some(skipped) = bytes.get(counted_to..offset) {
            line += skipped.iter().filter(|b| **b == b'\n').count() as u64;
            counted_to = offset;
        }
        let mut error = None;
        let cells: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(at, cell)| match std::str::from_utf8(cell) {
                Ok(text) => text.to_owned(),
                Err(_) => {
                    let column = columns.get(at).cloned();
                    error.get_or_insert(RowError {
                        code: "invalid_utf8".into(),
                        message: format!(
                            "{} is not valid UTF-8 text. Save the file as “CSV UTF-8”.",
                            column
                                .as_deref()
                                .map(|c| format!("The “{c}” cell"))
                                .unwrap_or_else(|| format!("Cell {}", at + 1))
                        ),
                        column,
                    });
                    String::from_utf8_lossy(cell).into_owned()
                }
            })
            .collect();
        if error.is_none() && cells.len() != columns.len() {
            error = Some(RowError {
                code: "wrong_column_count".into(),
                column: None,
                message: format!(
                    "This row has {} cells but the header has {}. Check for an unquoted comma or a missing cell.",
                    cells.len(),
                    columns.len()
                ),
            });
        }
        if error.is_none() {
            if let Some(sku) = sku_at.and_then(|at| cells.get(at)).map(|s| s.trim()) {
                if !sku.is_empty() {
                    if let Some(first) = first_line_of_sku.get(sku) {
                        error = Some(RowError {
                            code: "duplicate_sku".into(),
                            column: Some("sku".into()),
                            message: format!(
                                "SKU “{sku}” is already on line {first} of this file; only that row is imported."
                            ),
                        });
                    } else {
                        first_line_of_sku.insert(sku.to_owned(), line);
                    }
                }
            }
        }
        rows.push(Row {
            line,
            cells,
            error,
            fixes: Vec::new(),
        });
    }
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(ParsedFile { columns, rows })
}

fn check_header(header: &csv::ByteRecord) -> Result<Vec<String>, FileError> {
    let mut columns = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let name = std::str::from_utf8(cell).map_err(|_| FileError::HeaderNotUtf8)?;
        columns.push(name.trim().to_lowercase());
    }
    if columns.iter().all(String::is_empty) {
        return Err(FileError::Empty);
    }
    let mut unknown = Vec::new();
    let mut duplicate = Vec::new();
    for (at, name) in columns.iter().enumerate() {
        let known = COLUMNS.contains(&name.as_str()) || REPORT_COLUMNS.contains(&name.as_str());
        if !known {
            unknown.push(if name.is_empty() {
                format!("(no name, column {})", at + 1)
            } else {
                name.clone()
            });
        } else if columns[..at].contains(name) && !duplicate.contains(name) {
            duplicate.push(name.clone());
        }
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|required| !columns.iter().any(|c| c == *required))
        .map(|r| (*r).to_owned())
        .collect();
    if missing.is_empty() && unknown.is_empty() && duplicate.is_empty() {
        Ok(columns)
    } else {
        Err(FileError::Header {
            missing,
            unknown,
            duplicate,
        })
    }
}

/// Our error report and exports write `'=…` for a cell that starts like a formula (and
/// `''=…` for one that starts with quotes before it); reading it back drops that one
/// quote, so a fixed report or an export imports the value as it was.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if looks_like_formula(rest) => rest,
        _ => cell,
    }
}

/// Whether a spreadsheet would run `cell` as a formula, or [`unneutralise`] would take a
/// quote off it: such a cell is written with one more `'` in front.
pub fn looks_like_formula(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// The first characters spreadsheets treat as a formula.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The seller's row, by column name.
fn raw_item(columns: &[String], cells: &[String]) -> RawItem {
    let cell = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .and_then(|at| cells.get(at))
            .map(|value| unneutralise(value).to_owned())
            .unwrap_or_default()
    };
    RawItem {
        sku: cell("sku"),
        title: cell("title"),
        description: cell("description"),
        price: cell("price"),
        currency: cell("currency"),
        quantity: cell("quantity"),
        image_url: cell("image_url"),
        category: cell("category"),
    }
}

/// The parameters an import task keeps: enough to label it and to write its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParams {
    #[serde(default)]
    pub file_name: String,
    /// The header as written, in the file's order.
    pub columns: Vec<String>,
    pub rows: u64,
    /// Check each row's image with the marketplace before writing the item.
    #[serde(default = "checked")]
    pub check_images: bool,
    /// Rows imported with the check's repairs.
    #[serde(default)]
    pub fixed: u64,
    /// Rows of the file the seller chose to leave out (they were offered for download).
    #[serde(default)]
    pub left_out: u64,
}

fn checked() -> bool {
    true
}

/// The parameters of an import of `file`, once `left_out` rows of the uploaded one were
/// set aside.
pub fn params(file_name: &str, file: &ParsedFile, check_images: bool, left_out: u64) -> Value {
    let params = ImportParams {
        file_name: file_name.to_owned(),
        columns: file.columns.clone(),
        rows: file.rows.len() as u64,
        check_images,
        fixed: file.rows.iter().filter(|r| !r.fixes.is_empty()).count() as u64,
        left_out,
    };
    serde_json::to_value(params).unwrap_or(Value::Null)
}

/// Each row as a task item's subject.
pub fn subjects(file: &ParsedFile) -> Vec<Value> {
    file.rows
        .iter()
        .map(|row| serde_json::to_value(row).unwrap_or(Value::Null))
        .collect()
}

/// The header an import task was made from (none if its parameters are not an import's).
pub fn columns_of(params: &Value) -> Vec<String> {
    serde_json::from_value::<ImportParams>(params.clone())
        .map(|params| params.columns)
        .unwrap_or_default()
}

pub struct Import {
    writer: Writer,
    connector: Arc<Connector>,
}

impl Import {
    pub fn new(db: DatabaseConnection, connector: Arc<Connector>) -> Self {
        Self {
            writer: Writer::new(db),
            connector,
        }
    }
}

fn row_failed(line: u64, error: RowError) -> Outcome {
    Outcome::Failed {
        code: error.code,
        message: error.message,
        details: Some(json!({ "line": line, "column": error.column })),
    }
}

#[async_trait::async_trait]
impl TaskKind for Import {
    type Params = ImportParams;
    type Subject = Row;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::IMPORT
    }

    fn label(&self, params: &ImportParams, items: usize) -> String {
        let label = self.presentation().label(items as i64);
        match params.file_name.as_str() {
            "" => label,
            name => format!("{label} from {name}"),
        }
    }

    /// Rows come with the upload (see `NewTask::subjects`), not from parameters.
    fn expand(&self, _params: &ImportParams) -> Result<Vec<Row>, InvalidParams> {
        Err(InvalidParams::field(
            "rows_missing",
            "rows",
            "an import is created from an uploaded file",
        ))
    }

    /// Every row is written here; a row with an image is also checked with the
    /// marketplace, one call, when image checks are on.
    fn workload(&self, params: &ImportParams, rows: &[Row]) -> Workload {
        let image = params.columns.iter().position(|c| c == "image_url");
        let calls = match (params.check_images, image) {
            (true, Some(at)) => rows
                .iter()
                .filter(|row| row.error.is_none())
                .filter(|row| {
                    row.cells
                        .get(at)
                        .is_some_and(|cell| !cell.trim().is_empty())
                })
                .count() as u64,
            _ => 0,
        };
        Workload {
            calls,
            items: rows.len() as u64,
        }
    }

    fn call_model(&self, seller_id: i64) -> Option<CallModel> {
        Some(self.connector.call_model(&account(seller_id)))
    }

    async fn process(&self, task_item: ItemContext<ImportParams, Row>) -> Outcome {
        let row = task_item.subject.clone();
        if let Some(error) = row.error {
            return row_failed(row.line, error);
        }
        let fields = match ItemFields::parse(&raw_item(&task_item.params.columns, &row.cells)) {
            Ok(fields) => fields,
            Err(errors) => {
                let failure = check::field_failure(&errors);
                return Outcome::Failed {
                    code: failure.code,
                    message: failure.message,
                    details: Some(json!({
                        "line": row.line,
                        "column": failure.column,
                        "errors": errors.iter().map(|e| json!({
                            "column": e.field, "code": e.code, "message": e.message,
                        })).collect::<Vec<_>>(),
                    })),
                };
            }
        };
        if let (true, Some(url)) = (task_item.params.check_images, &fields.image_url) {
            match self
                .connector
                .check_media(&account(task_item.seller_id), url.as_str())
                .await
            {
                Ok(None) => {}
                Ok(Some(issue)) => {
                    return row_failed(
                        row.line,
                        RowError {
                            code: issue.code,
                            column: Some("image_url".into()),
                            message: issue.message,
                        },
                    )
                }
                Err(err) => return outcome_of(err),
            }
        }
        match self.writer.upsert(task_item.seller_id, fields).await {
            Ok((item, upserted)) => {
                use crate::catalog::{Snapshot, Upserted};
                // What an undo needs: the version the row left the item at, and what
                // the item held before (or that the row created it).
                let replaced = match &upserted {
                    Upserted::Updated {
                        before: Some(before),
                    } => Some(Snapshot::from(before.as_ref())),
                    _ => None,
                };
                Outcome::Succeeded(json!({
                    "item_id": item.id,
                    "sku": item.sku,
                    "version": item.version,
                    "created": upserted == Upserted::Created,
                    "unchanged": upserted == Upserted::Unchanged,
                    "replaced": replaced,
                    "fixed": row.fixes,
                }))
            }
            Err(CatalogError::DuplicateSku(sku)) => Outcome::retry(
                "sku_busy",
                format!("SKU “{sku}” was being written at the same time; trying again."),
            ),
            Err(err) => Outcome::retry("database_unavailable", err.to_string()),
        }
    }

    fn concurrency(&self) -> u32 {
        self.connector.useful_concurrency().max(8)
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: chrono::Duration::seconds(2),
            max_delay: chrono::Duration::minutes(2),
            jitter_ratio: 0.3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ImportLimits {
        ImportLimits::default()
    }

    #[test]
    fn a_bom_crlf_and_quoted_commas_and_newlines_are_read() {
        let file = b"\xEF\xBB\xBFSKU,Title,Price,Description\r\nA-1,\"Mug, blue\",12.50,\"two\r\nlines\"\r\nA-2,Plate,3,\r\n";
        let parsed = parse(file, &limits()).unwrap();
        assert_eq!(parsed.columns, ["sku", "title", "price", "description"]);
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].cells[1], "Mug, blue");
        assert_eq!(parsed.rows[0].cells[3], "two\r\nlines");
        assert_eq!(parsed.rows[0].line, 2);
        // The quoted newline makes the second row start on line 4.
        assert_eq!(parsed.rows[1].line, 4);
        assert!(parsed.rows.iter().all(|r| r.error.is_none()));
    }

    #[test]
    fn the_header_names_every_missing_unknown_and_duplicate_column() {
        let err = parse(b"sku,colour,sku,size\nA,red,A,M\n", &limits()).unwrap_err();
        let FileError::Header {
            missing,
            unknown,
            duplicate,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(missing, &["title", "price"]);
        assert_eq!(unknown, &["colour", "size"]);
        assert_eq!(duplicate, &["sku"]);
        let message = err.to_string();
        assert!(message.contains("“title”") && message.contains("“colour”"));
    }

    #[test]
    fn report_columns_are_accepted_and_formula_quotes_are_dropped() {
        let parsed = parse(
            b"sku,title,price,error_code,error_message\nA,'=SUM(1),'-5,price_invalid,bad\n",
            &limits(),
        )
        .unwrap();
        let raw = raw_item(&parsed.columns, &parsed.rows[0].cells);
        assert_eq!(raw.title, "=SUM(1)");
        assert_eq!(raw.price, "-5");
        assert_eq!(unneutralise("'plain"), "'plain");
    }

    #[test]
    fn bad_rows_fail_alone_with_line_and_code() {
        let file = b"sku,title,price\nA,Mug,1\nB,Bowl\nC,\xFF\xFEcup,2\nA,Again,3\n";
        let parsed = parse(file, &limits()).unwrap();
        let codes: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| r.error.as_ref().map(|e| (r.line, e.code.as_str())))
            .collect();
        assert_eq!(
            codes,
            [
                None,
                Some((3, "wrong_column_count")),
                Some((4, "invalid_utf8")),
                Some((5, "duplicate_sku"))
            ]
        );
        assert_eq!(
            parsed.rows[2].error.as_ref().unwrap().column.as_deref(),
            Some("title")
        );
    }

    #[test]
    fn limits_and_empty_files_are_file_errors() {
        let small = ImportLimits {
            max_bytes: 20,
            max_rows: 1,
        };
        assert_eq!(
            parse(&[b'a'; 21], &small).unwrap_err().code(),
            "file_too_large"
        );
        assert_eq!(
            parse(
                b"sku,title,price\nA,B,1\nC,D,2\n",
                &ImportLimits {
                    max_bytes: 1000,
                    ..small
                }
            )
            .unwrap_err()
            .code(),
            "too_many_rows"
        );
        assert_eq!(parse(b"", &limits()).unwrap_err(), FileError::Empty);
        assert_eq!(
            parse(b"sku,title,price\r\n\r\n,,\r\n", &limits()).unwrap_err(),
            FileError::NoRows
        );
        assert_eq!(
            parse(b"s\xFFku,title,price\nA,B,1\n", &limits()).unwrap_err(),
            FileError::HeaderNotUtf8
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut file = b"sku,title,price\n".to_vec();
            file.extend(bytes);
            let _ = parse(&file, &limits());
        }
    }
}
