//! Tasks that start later: `POST /api/v1/tasks/{id}/start-now`, and "tonight" on the
//! seller's clock for the pages that offer to start later; a task held while its
//! marketplace does not answer: `POST /api/v1/tasks/{id}/try-now`.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::state::AppState;
use app::tasks::TaskSummary;
use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::extract::Id;
use crate::openapi::ErrorBody;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_now))
        .routes(routes!(try_now))
}

/// When "tonight" is for this seller: the next 02:00 in their account's time zone (UTC
/// when they have none), daylight saving included.
pub(crate) fn tonight(state: &AppState, signed_in: &SignedIn) -> DateTime<Utc> {
    backend::tasks::schedule::tonight(signed_in.seller.time_zone.as_deref(), state.engine.now())
}

/// Starts a scheduled task at once instead of at its time. A task that already started
/// is answered as it is; a later step of a chain waits for the step before it (409).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/start-now", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Over, cancelled, or a chain's step waiting for the one before it", body = ErrorBody),
    ))]
async fn start_now(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    let done = state
        .engine
        .start_now(signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(TaskSummary::from_task(&done.task, state.engine.now())))
}

/// Asks a held task's marketplace at once whether it answers again ("Try now"), instead
/// of at the next probe. Answers the task afterwards: its `hold` is `null` when the
/// marketplace answered (the work goes on), else the hold with its next probe. A task
/// that is not held is answered as it is.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/try-now", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn try_now(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    let task = state
        .engine
        .try_now(signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(TaskSummary::from_task(&task, state.engine.now())))
}
