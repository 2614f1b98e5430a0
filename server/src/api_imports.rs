//! `/api/v1/imports`: upload a CSV (multipart, field `file`) and get an import task; the
//! template and the sample file; and every task's error report as CSV.
//!
//! The upload is read chunk by chunk and refused with 413 as soon as it passes the size
//! limit; the file is then checked as a whole (header, row limit) before any task
//! exists, so a refused file leaves nothing behind.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::import::ImportCheck;
use app::state::AppState;
use app::tasks::TaskSummary;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend::imports::check::FileCheck;
use backend::imports::{self, FileError, ImportLimits, ParsedFile};
use backend::tasks::create::NewTask;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use task_model::file_check::Include;

use crate::api_error::ApiError;
use crate::extract::{Id, Query};

/// The sample catalog shipped with the project: 300 rows, about 5 % with real-world
/// problems.
pub const SAMPLE: &str = include_str!("../../samples/sample-items.csv");

/// Room for the multipart envelope around the file.
const ENVELOPE: usize = 64 * 1024;

use crate::openapi::{ErrorBody, UploadForm};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(limits: ImportLimits) -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(check))
        .routes(routes!(left_out))
        .layer(DefaultBodyLimit::max(limits.max_bytes + ENVELOPE));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(template))
        .routes(routes!(sample))
        .routes(routes!(report))
}

/// A CSV file to save, named `name`, never cached (its rows are the seller's).
pub(crate) fn csv_download(name: &str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body.into(),
    )
        .into_response()
}

/// The import template: the header and one example row.
#[utoipa::path(get, path = "/api/v1/imports/template.csv", tag = "imports",
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String)))]
async fn template() -> Response {
    csv_download(
        "stockroom-template.csv",
        imports::TEMPLATE.as_bytes().to_vec(),
    )
}

/// A sample catalog of 300 rows, a few with real-world problems.
#[utoipa::path(get, path = "/api/v1/imports/sample.csv", tag = "imports",
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String)))]
async fn sample() -> Response {
    csv_download("sample-items.csv", SAMPLE.as_bytes().to_vec())
}

/// The failed items of a task as CSV. For an import: the file's columns plus
/// `error_code` and `error_message`, ready to fix and upload again as is.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/report.csv", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv", body = String),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn report(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let (name, body) = backend::reports::error_report(&state.db, signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    Ok(csv_download(&name, body))
}

fn too_large(limits: &ImportLimits) -> ApiError {
    ApiError(
        FileError::TooLarge {
            limit: limits.max_bytes,
        }
        .into(),
    )
}

fn unreadable(err: MultipartError, limits: &ImportLimits) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limits);
    }
    ApiError(AppError::BadRequest {
        message: format!("The upload could not be read: {}", err.body_text()),
    })
}

/// A file name fit for a label: the last path segment, one line, at most 80 characters.
fn clean_name(raw: &str) -> String {
    raw.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Reads the `file` field, refusing it as soon as it passes the size limit, and checks
/// the file as a whole.
async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
    limits: ImportLimits,
) -> Result<(String, imports::ParsedFile), ApiError> {
    let mut multipart = multipart.map_err(|rejection| AppError::BadRequest {
        message: format!(
            "Send the file as multipart/form-data in a field named “file” ({}).",
            rejection.body_text()
        ),
    })?;
    let one_field = |field: &str, message: &str| {
        ApiError(AppError::Validation {
            fields: vec![app::error::FieldError {
                field: field.chars().take(80).collect(),
                code: "unknown".into(),
                message: message.into(),
            }],
        })
    };
    let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|err| unreadable(err, &limits))?
    else {
        return Err(ApiError(AppError::BadRequest {
            message: "No file in the upload: send it in a field named “file”.".into(),
        }));
    };
    // The document's form has one field: another is refused, never ignored.
    if field.name() != Some("file") {
        let name = field.name().unwrap_or_default().to_owned();
        return Err(one_field(&name, "The upload takes one field, “file”."));
    }
    let name = clean_name(field.file_name().unwrap_or_default());
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|err| unreadable(err, &limits))?
    {
        if bytes.len() + chunk.len() > limits.max_bytes {
            return Err(too_large(&limits));
        }
        bytes.extend_from_slice(&chunk);
    }
    drop(field);
    if multipart
        .next_field()
        .await
        .map_err(|err| unreadable(err, &limits))?
        .is_some()
    {
        return Err(one_field(
            "file",
            "The upload takes one field, “file”, once.",
        ));
    }
    let parsed = tokio::task::spawn_blocking(move || imports::parse(&bytes, &limits))
        .await
        .map_err(|err| ApiError(app::error::internal(err)))?
        .map_err(AppError::from)?;
    Ok((name, parsed))
}

/// Which rows an upload takes.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RowsQuery {
    /// `all` (every row as written; a row that cannot be imported fails in the task),
    /// `ready` (only the rows ready as written) or `fixed` (those and the rows the check
    /// can fix, fixed).
    #[param(inline)]
    include: Option<Include>,
}

/// Which connection the check's publish estimate is for.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckQuery {
    /// One of the seller's connections (404 `connection_not_found` otherwise); by
    /// default the first.
    connection_id: Option<i64>,
}

/// When an upload's import starts and what follows it.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FlowQuery {
    /// `publish`: a second step publishes the items the import wrote, once it ends
    /// (`update_listings`: updates their listings instead).
    #[param(schema_with = import_followers)]
    then: Option<String>,
    /// Start at this time (RFC 3339) instead of now; `scheduled` until then.
    start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// With `then=publish`: the connection to publish through (one of the seller's).
    /// Needed when the seller has several; with one it is that one.
    connection_id: Option<i64>,
}

/// The kinds that may follow an import.
fn import_followers() -> utoipa::openapi::Object {
    crate::openapi::one_of(
        task_model::chain::followers(task_model::kinds::IMPORT.name)
            .iter()
            .map(|kind| kind.name),
    )
}

/// Every row checked (off the async workers: a 50,000-row file takes a moment).
async fn checked(parsed: ParsedFile) -> Result<(ParsedFile, FileCheck), ApiError> {
    tokio::task::spawn_blocking(move || {
        let found = imports::check::check(&parsed);
        (parsed, found)
    })
    .await
    .map_err(|err| ApiError(app::error::internal(err)))
}

/// Checks a CSV without importing it: every rule that needs no marketplace runs on every
/// row, and the answer says how many rows are ready, which repairs the check can make on
/// its own, and which rows need the seller, by reason. `estimate` is for the ready and
/// fixed rows (`include=fixed`), `estimate_ready` for the ready ones; each is null when
/// that import would have no row. Nothing is stored.
#[utoipa::path(post, path = "/api/v1/imports/check", tag = "imports",
    params(CheckQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "What the file holds", body = ImportCheck),
        (status = 404, description = "`connection_id` is not one of the seller's connections (`connection_not_found`)", body = ErrorBody),
        (status = 400, description = "Not multipart, or no `file` field", body = ErrorBody),
        (status = 413, description = "Over the size or row limit", body = ErrorBody),
        (status = 422, description = "Empty, not UTF-8, or a bad header", body = ErrorBody),
    ))]
async fn check(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(place): Query<CheckQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<ImportCheck>, ApiError> {
    let settings = state.imports;
    let (file_name, parsed) = read_upload(multipart, settings.limits).await?;
    let (parsed, found) = checked(parsed).await?;
    // The estimate each import would be created with: image checks are marketplace
    // calls, the rest is local work.
    let estimate = |include: Include| {
        let selected = found.select(parsed.clone(), include).ok();
        let (state, file_name) = (&state, &file_name);
        async move {
            let Some(selected) = selected else {
                return Ok(None);
            };
            let new = NewTask {
                seller_id: signed_in.seller.id,
                kind: task_model::kinds::IMPORT.name.into(),
                params: imports::params(file_name, &selected, settings.check_images, 0),
                idempotency_key: None,
            };
            state
                .engine
                .estimate(&new, Some(imports::subjects(&selected)))
                .await
                .map(Some)
                .map_err(|err| ApiError(AppError::from(err)))
        }
    };
    let (with_fixed, ready_only) = (
        estimate(Include::Fixed).await?,
        estimate(Include::Ready).await?,
    );
    // "Then publish what imported": as if every imported row passes on (what the chain's
    // second step is created with), through each of the seller's connections. The file
    // is the question here: an estimate that cannot be made is left out, never a refusal.
    let connections = backend::connections::list(&state.db, signed_in.seller.id)
        .await
        .map_err(|err| ApiError(app::error::internal(err)))?;
    let connection_id = where_to(&connections, place.connection_id)?;
    let taken = (found.ready() + found.fixable_rows()) as usize;
    let publish_through = |connection_id: Option<i64>| {
        let state = &state;
        async move {
            if taken == 0 {
                return None;
            }
            let new = NewTask {
                seller_id: signed_in.seller.id,
                kind: task_model::kinds::PUBLISH.name.into(),
                params: serde_json::json!({ "item_ids": [], "connection_id": connection_id }),
                idempotency_key: None,
            };
            let subjects = vec![serde_json::Value::from(0); taken];
            match state.engine.estimate(&new, Some(subjects)).await {
                Ok(estimate) => Some(estimate),
                Err(err) => {
                    tracing::warn!(error = %err, connection_id, "no publish estimate for an import check");
                    None
                }
            }
        }
    };
    let mut publish_estimates = Vec::new();
    for connection in &connections {
        if let Some(estimate) = publish_through(Some(connection.id)).await {
            publish_estimates.push(app::import::ConnectionEstimate {
                connection_id: connection.id,
                estimate,
            });
        }
    }
    let publish_estimate = match connection_id {
        None => publish_through(None).await,
        Some(id) => publish_estimates
            .iter()
            .find(|e| e.connection_id == id)
            .map(|e| e.estimate),
    };
    Ok(Json(ImportCheck {
        rows: found.rows(),
        ready: found.ready(),
        fixable_rows: found.fixable_rows(),
        fixable: found.fixable(),
        invalid_rows: found.invalid_rows(),
        invalid: found.invalid(&parsed),
        file_name,
        columns: parsed.columns,
        estimate: with_fixed,
        estimate_ready: ready_only,
        publish_estimate,
        publish_estimates,
        connection_id,
        connections,
        tonight: crate::api_flows::tonight(&state, &signed_in),
    }))
}

/// The connection a publish after an import goes through unless the seller picks
/// another: the one asked for (a 404 when it is not the seller's, as everywhere a
/// connection is named), else the first (oldest); none without a connection (the
/// built-in marketplace).
fn where_to(
    connections: &[task_model::Connection],
    asked: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    match asked {
        Some(id) if connections.iter().any(|c| c.id == id) => Ok(Some(id)),
        Some(id) => Err(crate::api_connections::not_yours(id)),
        None => Ok(connections.first().map(|c| c.id)),
    }
}

/// The rows an import with `include` would leave out (by default: with `fixed`, the
/// rows that need the seller), each with its `error_code` and `error_message`, in the
/// file's own columns: fix them and upload the file again as it is.
#[utoipa::path(post, path = "/api/v1/imports/check/left-out.csv", tag = "imports",
    params(RowsQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv", body = String),
        (status = 400, description = "Not multipart, no `file` field, or an unknown `include`", body = ErrorBody),
        (status = 413, description = "Over the size or row limit", body = ErrorBody),
        (status = 422, description = "Empty, not UTF-8, or a bad header", body = ErrorBody),
    ))]
async fn left_out(
    State(state): State<AppState>,
    Query(query): Query<RowsQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let include = query.include.unwrap_or(Include::Fixed);
    let (file_name, parsed) = read_upload(multipart, state.imports.limits).await?;
    let (parsed, found) = checked(parsed).await?;
    let rows = found.left_out(&parsed, include).map(|(row, error)| {
        (
            row.cells.as_slice(),
            [error.code.clone(), error.message.clone()],
        )
    });
    let bytes = backend::reports::file_rows_csv(&parsed.columns, rows)
        .map_err(|err| ApiError(app::error::internal(err)))?;
    let stem = file_name.strip_suffix(".csv").unwrap_or(&file_name);
    let stem = if stem.is_empty() { "import" } else { stem };
    Ok(csv_download(&format!("{stem}-left-out.csv"), bytes))
}

/// Uploads a CSV (multipart, field `file`) and starts an import task of the rows chosen
/// by `include` (all of them by default) — now, or at `start_at`; with `then=publish`,
/// the answer is the first step of a chain whose second publishes what imported. The file is checked as a whole first: too big
/// or too many rows → 413, a bad header → 422 (as is `nothing_ready` when `include`
/// leaves no row), and no task exists.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key"),
        RowsQuery,
        FlowQuery,
    ),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Import started", body = TaskSummary),
        (status = 200, description = "Started earlier with this key", body = TaskSummary),
        (status = 400, description = "Not multipart, no `file` field, or an unknown `include`", body = ErrorBody),
        (status = 409, description = "`then=publish` with several connections and no `connection_id` (`connection_required`)", body = ErrorBody),
        (status = 413, description = "Over the size or row limit", body = ErrorBody),
        (status = 422, description = "Empty, not UTF-8, a bad header, no row to import, or a `connection_id` that is not the seller's or without `then=publish`", body = ErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Query(query): Query<RowsQuery>,
    Query(flow): Query<FlowQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let include = query.include.unwrap_or(Include::All);
    let settings = state.imports;
    let (name, parsed) = read_upload(multipart, settings.limits).await?;
    let uploaded = parsed.rows.len() as u64;
    let parsed = match include {
        Include::All => parsed,
        _ => {
            let (parsed, found) = checked(parsed).await?;
            found.select(parsed, include).map_err(AppError::from)?
        }
    };
    let key = crate::api_tasks::idempotency_key(&headers);
    let mut params = imports::params(
        &name,
        &parsed,
        settings.check_images,
        uploaded - parsed.rows.len() as u64,
    );
    if let (Some(id), Some(params)) = (flow.connection_id, params.as_object_mut()) {
        // The engine settles it with the step it is for (and refuses it without one).
        params.insert("connection_id".into(), id.into());
    }
    let created = state
        .engine
        .create_flow(
            NewTask {
                seller_id: signed_in.seller.id,
                kind: task_model::kinds::IMPORT.name.into(),
                params,
                idempotency_key: key,
            },
            Some(imports::subjects(&parsed)),
            backend::tasks::create::Later {
                start_at: flow.start_at,
                then: flow.then,
            },
        )
        .await
        .map_err(AppError::from)?;
    Ok(crate::api_tasks::started(&created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\me\\items.csv"), "items.csv");
        assert_eq!(clean_name("../../etc/pass\nwd"), "passwd");
        assert_eq!(clean_name(""), "");
    }

    #[test]
    fn the_sample_file_reads_with_a_few_bad_rows() {
        let parsed = imports::parse(SAMPLE.as_bytes(), &ImportLimits::default()).unwrap();
        assert_eq!(parsed.rows.len(), 300);
        assert!(parsed.row_errors() >= 1);
        let found = imports::check::check(&parsed);
        // The decimal comma and the long title are fixed; the rest need the seller.
        assert_eq!(
            (found.ready(), found.fixable_rows(), found.invalid_rows()),
            (287, 2, 11)
        );
    }
}
