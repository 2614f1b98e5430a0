//! `/api/v1/tasks`: start publish/unpublish tasks, follow them, and control them.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::state::AppState;
use app::tasks::ssr::{failure_groups, task_items, task_page};
use app::tasks::{FailureGroupView, TaskItemView, TaskItemsQuery, TaskSummary};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend::tasks::control::Selection;
use backend::tasks::create::{Created, NewTask};
use backend::tasks::query::TaskFilter;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use task_model::edit::{EditPreviewChange, EditRefusal};
use task_model::Presentation;
use task_model::{ItemStatus, TaskStatus};

use crate::api::PageJson;
use crate::api_error::ApiError;
use crate::extract::{paging, Body, Id, OptionalBody, Query};

pub(crate) mod body;
use body::selected;
use body::CreateBody;

use crate::openapi::{ErrorBody, TaskItemPage, TaskPage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(preview))
        .routes(routes!(show))
        .routes(routes!(items))
        .routes(routes!(failures))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(skip))
        .routes(routes!(undo))
}

/// 202 with the task when it was started now; 200 with it when the same
/// `Idempotency-Key` started it before.
pub(crate) fn started(created: &Created) -> Response {
    let status = match created {
        Created::New(_) => StatusCode::ACCEPTED,
        Created::Existing(_) => StatusCode::OK,
    };
    (
        status,
        Json(TaskSummary::from_task(created.task(), chrono::Utc::now())),
    )
        .into_response()
}

/// The request's `Idempotency-Key`, at most 200 characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| k.chars().take(200).collect())
}

/// Starts a task over catalog items — now, at `start_at`, and followed by `then` when
/// asked (the answer is the chain's first step; its `chain.next` is the second). The same `Idempotency-Key` returns the same task
/// (200) instead of starting another.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    request_body = CreateBody,
    responses(
        (status = 202, description = "Started", body = TaskSummary),
        (status = 200, description = "Started earlier with this key", body = TaskSummary),
        (status = 404, description = "Items that are not the seller's (`items_not_found`), or a connection that is not (`connection_not_found`)", body = ErrorBody),
        (status = 409, description = "The selection comes to no item (`nothing_to_do`) or to too many (`too_many_items`), or the seller has several connections and named none (`connection_required`)", body = ErrorBody),
        (status = 422, description = "Outside the schema: `fields` says where", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Body(body): Body<CreateBody>,
) -> Result<Response, ApiError> {
    let seller = signed_in.seller.id;
    let chosen = selected(&state, seller, &body).await?;
    let params = body.task_params(chosen.ids());
    let key = crate::api_tasks::idempotency_key(&headers);
    let later = backend::tasks::create::Later {
        start_at: body.start_at,
        then: body.then.clone(),
    };
    let new = NewTask {
        seller_id: seller,
        params,
        kind: body.kind,
        idempotency_key: key,
    };
    let created = match chosen {
        body::Chosen::Ids(_) => state.engine.create_flow(new, None, later).await,
        body::Chosen::Matching { selection, .. } => {
            state.engine.create_matching(new, selection, later).await
        }
    };
    let created = match created {
        // Nothing matched any more by the time the task was made.
        Err(backend::tasks::TaskError::Empty) => {
            return Err(ApiError(AppError::Refused {
                code: "nothing_to_do".into(),
                message: "No items to work on.".into(),
            }))
        }
        other => other.map_err(AppError::from)?,
    };
    Ok(crate::api_tasks::started(&created))
}

/// What starting a task would mean.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct PreviewJson {
    kind: String,
    /// Items the task would work on.
    count: u64,
    /// Those items per listing state (`draft`, `published`, `unpublished`, `failed`);
    /// states with none are left out.
    breakdown: std::collections::BTreeMap<String, u64>,
    /// What the task would do to them, in words ("12 items not yet live will be
    /// published · 188 items already live will be updated").
    said: Option<String>,
    /// How long it would take if started now.
    estimate: task_model::Estimate,
    /// The next 02:00 on the seller's clock (their account's time zone): "tonight", for
    /// a task started later.
    tonight: chrono::DateTime<chrono::Utc>,
    /// An edit: how many items it changes, and how many already have those values.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unchanged: Option<u64>,
    /// An edit: the first 20 items it changes, before → after.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<EditPreviewChange>>,
    /// An edit: the first 20 items it would refuse (a price at zero or below, a
    /// quantity below zero), with why.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<Vec<EditRefusal>>,
    /// An edit: how many it would refuse, by reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_by_code: Option<std::collections::BTreeMap<String, u64>>,
}

/// What a task would do, without starting it: how many items, where they stand on the
/// marketplace, and about how long. Takes the same body as `POST /api/v1/tasks`.
#[utoipa::path(post, path = "/api/v1/tasks/preview", tag = "tasks",
    request_body = CreateBody,
    responses(
        (status = 200, description = "What it would do", body = PreviewJson),
        (status = 404, description = "Items that are not the seller's (`items_not_found`), or a connection that is not (`connection_not_found`)", body = ErrorBody),
        (status = 409, description = "The selection comes to no item (`nothing_to_do`) or to too many (`too_many_items`)", body = ErrorBody),
        (status = 422, description = "Outside the schema: `fields` says where", body = ErrorBody),
    ))]
async fn preview(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Body(body): Body<CreateBody>,
) -> Result<Json<PreviewJson>, ApiError> {
    let seller = signed_in.seller.id;
    let edit = body.edit_change()?;
    let chosen = selected(&state, seller, &body).await?;
    let counts = match &chosen {
        body::Chosen::Ids(ids) => backend::catalog::count_by_state(&state.db, seller, ids).await?,
        body::Chosen::Matching { selection, .. } => {
            backend::catalog::matching_by_state(&state.db, seller, &selection.matching()).await?
        }
    };
    let said = Presentation::of(&body.kind)
        .by_state_said(counts.iter().map(|(state, n)| (state.as_str(), *n)));
    // An edit's preview goes item by item: up to the most a task takes by id.
    let edit = match (edit, chosen.listed(&state, seller).await?) {
        (Some(change), Some(ids)) => {
            Some(backend::edits::preview(&state.db, seller, &ids, &change, 20).await?)
        }
        _ => None,
    };
    let count = chosen.count();
    let subjects = vec![serde_json::Value::from(0); usize::try_from(count).unwrap_or(0)];
    let estimate = state
        .engine
        .estimate(
            &NewTask {
                seller_id: seller,
                kind: body.kind.clone(),
                params: body.estimate_params(chosen.ids()),
                idempotency_key: None,
            },
            Some(subjects),
        )
        .await
        .map_err(AppError::from)?;
    Ok(Json(PreviewJson {
        tonight: crate::api_flows::tonight(&state, &signed_in),
        kind: body.kind,
        count,
        breakdown: counts
            .into_iter()
            .map(|(state, n)| (state.as_str().to_owned(), n))
            .collect(),
        said,
        estimate,
        changed: edit.as_ref().map(|e| e.changed),
        unchanged: edit.as_ref().map(|e| e.unchanged),
        refused_by_code: edit.as_ref().map(|e| e.refused_by_code.clone()),
        changes: edit.as_ref().map(|e| e.changes.clone()),
        refused: edit.map(|e| e.refused),
    }))
}

/// Starts the task that puts back what a finished edit changed: each item it changed
/// gets its values from before the edit, unless it was changed since (then it is
/// skipped with the reason `changed_since`). Asking again returns the same undo.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/undo", tag = "tasks",
    params(
        ("id" = i64, Path, minimum = 1, description = "The finished task to undo"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key"),
    ),
    responses(
        (status = 202, description = "Undo started", body = TaskSummary),
        (status = 200, description = "Started earlier", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not an edit (`not_undoable`), not finished (`task_not_finished`), or it changed nothing (`nothing_to_undo`)", body = ErrorBody),
    ))]
async fn undo(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let created =
        app::undo::ssr::start(&state, signed_in.seller.id, id, idempotency_key(&headers)).await?;
    Ok(started(&created))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    status: Option<TaskStatus>,
    #[param(schema_with = kinds)]
    kind: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    page: Option<i64>,
    /// 20 by default.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    per_page: Option<i64>,
}

/// Every kind of task there is.
fn kinds() -> utoipa::openapi::Object {
    crate::openapi::one_of(task_model::kinds::ALL.iter().map(|kind| kind.name))
}

/// The seller's tasks, newest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of tasks", body = TaskPage),
        (status = 400, description = "Unknown status", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageJson<TaskSummary>>, ApiError> {
    if let Some(kind) = query.kind.as_deref() {
        if !task_model::kinds::ALL.iter().any(|k| k.name == kind) {
            return Err(ApiError(AppError::BadRequest {
                message: format!("There is no task kind “{kind}”."),
            }));
        }
    }
    let (page, per_page) = paging(query.page, query.per_page, 20, 100)?;
    let status = query.status;
    let filter = TaskFilter {
        status,
        kind: query.kind,
    };
    let (items, total) = task_page(&state.db, signed_in.seller.id, &filter, page, per_page).await?;
    Ok(Json(PageJson {
        items,
        total,
        page,
        per_page,
    }))
}

/// One task; another seller's is not found.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn show(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    let task = backend::tasks::get(&state.db, signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(TaskSummary::from_task(&task, chrono::Utc::now())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ItemsQuery {
    status: Option<ItemStatus>,
    /// Only the failed items with this error code (one failure group).
    error_code: Option<String>,
    /// Part of the SKU, any case (for imports: of any cell of the row).
    q: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    page: Option<i64>,
    /// 50 by default.
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    per_page: Option<i64>,
}

/// A task's items in order, optionally only those in one status, of one failure group or
/// matching a SKU search.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/items", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id"), ItemsQuery),
    responses(
        (status = 200, description = "One page of the task's items", body = TaskItemPage),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn items(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
    Query(query): Query<ItemsQuery>,
) -> Result<Json<PageJson<TaskItemView>>, ApiError> {
    let (page, per_page) = paging(query.page, query.per_page, 50, 200)?;
    let wanted = TaskItemsQuery {
        status: query.status.map(|status| status.to_string()),
        error_code: query.error_code,
        q: query.q,
        page,
        per_page,
    };
    let (views, total) = task_items(&state.db, signed_in.seller.id, id, &wanted).await?;
    Ok(Json(PageJson {
        items: views,
        total,
        page: wanted.page,
        per_page: wanted.per_page,
    }))
}

/// A task's failed items grouped by error code, largest group first, each with a plain
/// explanation, whether retrying as is can help (`remedy`), and a few examples.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/failures", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The failure groups", body = Vec<FailureGroupView>),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn failures(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<Vec<FailureGroupView>>, ApiError> {
    Ok(Json(
        failure_groups(&state.db, signed_in.seller.id, id).await?,
    ))
}

/// Which failed items to retry or skip: the listed task items, or one failure group
/// (`error_code`); neither means every failed item.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectionBody {
    /// Task item ids (`id` in the task's items); they win over `error_code`.
    item_ids: Option<Vec<i64>>,
    error_code: Option<String>,
}

impl crate::extract::Checked for SelectionBody {}

#[derive(Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Cancel,
    Retry,
    Skip,
}

async fn control(
    state: AppState,
    signed_in: SignedIn,
    id: i64,
    action: Action,
    body: Option<SelectionBody>,
) -> Result<Json<TaskSummary>, ApiError> {
    let seller = signed_in.seller.id;
    let which = || {
        let body = body
            .as_ref()
            .map(|b| (b.item_ids.clone(), b.error_code.clone()));
        let (ids, code) = body.unwrap_or_default();
        Selection::from_parts(ids, code)
    };
    let engine = &state.engine;
    let done = match action {
        Action::Pause => engine.pause(seller, id).await,
        Action::Resume => engine.resume(seller, id).await,
        Action::Cancel => engine.cancel(seller, id).await,
        Action::Retry => engine.retry(seller, id, which()).await,
        Action::Skip => engine.skip(seller, id, which()).await,
    }
    .map_err(AppError::from)?;
    Ok(Json(TaskSummary::from_task(&done.task, chrono::Utc::now())))
}

/// Pauses a queued or running task: running items finish, no new ones start.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/pause", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn pause(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Pause, None).await
}

/// Resumes a paused task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/resume", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn resume(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Resume, None).await
}

/// Cancels a task: pending items are cancelled, running ones are asked to stop.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Cancel, None).await
}

/// Tries failed items again (the listed ones, or all).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/retry", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    request_body(content = Option<SelectionBody>, description = "Absent or `null`: every failed item"),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn retry(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
    OptionalBody(body): OptionalBody<SelectionBody>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Retry, body).await
}

/// Skips failed items (the listed ones, or all): the task can end without them.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/skip", tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    request_body(content = Option<SelectionBody>, description = "Absent or `null`: every failed item"),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn skip(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
    OptionalBody(body): OptionalBody<SelectionBody>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Skip, body).await
}
