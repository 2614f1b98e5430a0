//! An export's file: `GET /api/v1/tasks/{id}/export.csv`, streamed a page of rows at a
//! time, so a file of any size is served in bounded memory.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use backend::exports;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::extract::Id;
use crate::openapi::ErrorBody;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_file))
}

/// Where the stream is: the header is next, or the rows after a position, or the end.
enum Next {
    Header,
    After(i32),
    Done,
}

/// The items an export wrote, as a CSV in the import's format (UTF-8 with a BOM).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/export.csv", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "CSV in the import format, UTF-8 with BOM", content_type = "text/csv", body = String),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not an export (`not_an_export`), still running (`export_not_ready`), or it wrote no rows (`export_empty`)", body = ErrorBody),
        (status = 410, description = "The file was removed 7 days after the export ended (`export_expired`)", body = ErrorBody),
    ))]
async fn export_file(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let task = backend::tasks::get(&state.db, signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    let ready = exports::ready(&state.db, &task, chrono::Utc::now())
        .await
        .map_err(app::error::internal)?;
    if let Err(not_ready) = ready {
        let code = not_ready.code().to_owned();
        let message = not_ready.to_string();
        return Err(ApiError(match not_ready {
            exports::NotReady::Expired => AppError::Gone { code, message },
            _ => AppError::Refused { code, message },
        }));
    }
    let name = exports::file_name(&task);
    let db = state.db.clone();
    let body = futures::stream::unfold(Next::Header, move |next| {
        let db = db.clone();
        let task = task.clone();
        async move {
            match next {
                Next::Header => Some((Ok(Bytes::from(exports::header())), Next::After(-1))),
                Next::After(after) => match exports::rows(&db, &task, after).await {
                    Ok((rows, more)) => {
                        Some((Ok(Bytes::from(rows)), more.map_or(Next::Done, Next::After)))
                    }
                    Err(err) => {
                        // The status is already sent: the cut-off file is the sign.
                        tracing::error!(task_id = task.id, %err, "an export stopped mid-file");
                        Some((Err(std::io::Error::other(err.to_string())), Next::Done))
                    }
                },
                Next::Done => None,
            }
        }
    });
    Ok(crate::api_imports::csv_download(
        &name,
        Body::from_stream(body),
    ))
}
