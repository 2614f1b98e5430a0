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
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend::imports::{self, FileError, ImportLimits};
use backend::tasks::create::NewTask;
use http::{header, HeaderMap, StatusCode};

use crate::api_error::ApiError;

/// The sample catalog shipped with the project: 300 rows, about 5 % with real-world
/// problems.
pub const SAMPLE: &str = include_str!("../../data/sample-items.csv");

/// Room for the multipart envelope around the file.
const ENVELOPE: usize = 64 * 1024;

use crate::openapi::{ErrorBody, UploadForm};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(limits: ImportLimits) -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(check))
        .layer(DefaultBodyLimit::max(limits.max_bytes + ENVELOPE));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(template))
        .routes(routes!(sample))
        .routes(routes!(report))
}

fn csv_download(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
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
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv", body = String),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn report(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError(AppError::NotFound))?;
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
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|err| unreadable(err, &limits))?
    {
        if field.name() != Some("file") {
            continue;
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
        let parsed = tokio::task::spawn_blocking(move || imports::parse(&bytes, &limits))
            .await
            .map_err(|err| ApiError(app::error::internal(err)))?
            .map_err(AppError::from)?;
        return Ok((name, parsed));
    }
    Err(ApiError(AppError::BadRequest {
        message: "No file in the upload: send it in a field named “file”.".into(),
    }))
}

/// Checks a CSV without importing it: rows, rows already known to be bad, and about how
/// long the import would take. Nothing is stored.
#[utoipa::path(post, path = "/api/v1/imports/check", tag = "imports",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The file would import", body = ImportCheck),
        (status = 400, description = "Not multipart, or no `file` field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 413, description = "Over the size or row limit", body = ErrorBody),
        (status = 422, description = "Empty, not UTF-8, or a bad header", body = ErrorBody),
    ))]
async fn check(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<ImportCheck>, ApiError> {
    let settings = state.imports;
    let (file_name, parsed) = read_upload(multipart, settings.limits).await?;
    // The estimate the import task would be created with: image checks are marketplace
    // calls, the rest is local work.
    let new = NewTask {
        seller_id: signed_in.seller.id,
        kind: task_model::kinds::IMPORT.name.into(),
        params: backend::imports::params(&file_name, &parsed, settings.check_images),
        idempotency_key: None,
    };
    let estimate = state
        .engine
        .estimate(&new, Some(backend::imports::subjects(&parsed)))
        .await
        .map_err(AppError::from)?;
    Ok(Json(ImportCheck {
        file_name,
        rows: parsed.rows.len() as u64,
        row_errors: parsed.row_errors() as u64,
        columns: parsed.columns,
        estimate,
    }))
}

/// Uploads a CSV (multipart, field `file`) and starts an import task. The file is
/// checked as a whole first: too big or too many rows → 413, a bad header → 422, and no
/// task exists.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Import started", body = TaskSummary),
        (status = 200, description = "Started earlier with this key", body = TaskSummary),
        (status = 400, description = "Not multipart, or no `file` field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 413, description = "Over the size or row limit", body = ErrorBody),
        (status = 422, description = "Empty, not UTF-8, or a bad header", body = ErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let settings = state.imports;
    let (name, parsed) = read_upload(multipart, settings.limits).await?;
    let key = crate::api_tasks::idempotency_key(&headers);
    let params = imports::params(&name, &parsed, settings.check_images);
    let created = state
        .engine
        .create_task_from(
            NewTask {
                seller_id: signed_in.seller.id,
                kind: task_model::kinds::IMPORT.name.into(),
                params,
                idempotency_key: key,
            },
            Some(imports::subjects(&parsed)),
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
    }
}
