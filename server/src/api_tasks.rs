//! `/api/v1/tasks`: start publish/unpublish tasks, follow them, and control them.

use app::auth::ssr::SignedIn;
use app::catalog::{ItemFilterParams, ListingState};
use app::error::{AppError, FieldError};
use app::state::AppState;
use app::tasks::ssr::{failure_groups, task_items, task_page};
use app::tasks::{FailureGroupView, TaskItemView, TaskItemsQuery, TaskSummary};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend::tasks::control::Selection;
use backend::tasks::create::{Created, NewTask};
use backend::tasks::query::TaskFilter;
use backend::tasks::TaskStatus;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use task_model::edit::{EditChange, EditPreviewChange, EditRefusal};
use task_model::{Presentation, Subject};

use crate::api::PageJson;
use crate::api_error::ApiError;

/// The most items one task may take.
const MAX_ITEMS: usize = 50_000;

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

/// `{kind, item_ids}` or `{kind, filter}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateBody {
    /// `publish` or `unpublish`.
    kind: String,
    item_ids: Option<Vec<i64>>,
    filter: Option<FilterBody>,
    /// A publish leaves the items already live as they are (only the others are sent).
    #[serde(default)]
    leave_live: bool,
    /// What the kind needs beyond its items: an edit's `price`
    /// (`{op: set|add|add_percent, value, end_99?}`), `quantity` (`{op: set|add, value}`)
    /// and `category` (`{op: set, value}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    params: Option<serde_json::Map<String, serde_json::Value>>,
    /// A second step that starts when this task ends, over the items it succeeded on:
    /// `update_listings` or `publish` after an edit.
    #[serde(default)]
    then: Option<String>,
    /// Start at this time (RFC 3339) instead of now; the task is `scheduled` until then.
    /// A time already past starts it at once.
    #[serde(default)]
    start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Publish and unpublish: which of the seller's connections. Optional when the seller
    /// has one connection (or none: the built-in marketplace).
    #[serde(default)]
    connection_id: Option<i64>,
}

/// An edit's change, read strictly (an unknown or misspelt field is refused, never
/// ignored) and checked; `None` for other kinds.
fn edit_change(body: &CreateBody) -> Result<Option<EditChange>, ApiError> {
    if body.kind != task_model::kinds::EDIT.name {
        return Ok(None);
    }
    let change: EditChange = serde_json::from_value(serde_json::Value::Object(
        body.params.clone().unwrap_or_default(),
    ))
    .map_err(|err| invalid("params", err.to_string()))?;
    backend::edits::check(&change).map_err(|err| invalid(&err.field, err.message))?;
    Ok(Some(change))
}

/// A task's parameters: its items, and what the body's `params` add.
fn task_params(ids: &[i64], body: &CreateBody) -> serde_json::Value {
    let mut params = serde_json::Map::new();
    params.insert("item_ids".into(), json!(ids));
    for (name, value) in body.params.iter().flatten() {
        if name != "item_ids" {
            params.insert(name.clone(), value.clone());
        }
    }
    serde_json::Value::Object(params)
}

/// Every item matching the catalog filter, as it is when the task starts.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct FilterBody {
    #[serde(default)]
    q: String,
    state: Option<String>,
    /// Only items a running task has still to act on.
    #[serde(default)]
    in_task: bool,
    /// Only live items edited since they were published.
    #[serde(default)]
    changed: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::Validation {
        fields: vec![FieldError {
            field: field.into(),
            code: "invalid".into(),
            message: message.into(),
        }],
    })
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

fn task_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError(AppError::NotFound))
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
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Unknown kind, no items, another seller's items, or a `then` that cannot follow the kind", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rejection| AppError::BadRequest {
        message: rejection.body_text(),
    })?;
    let seller = signed_in.seller.id;
    let ids = selected(&state, seller, &body).await?;
    edit_change(&body)?;
    let mut params = task_params(&ids, &body);
    if let (Some(id), Some(map)) = (body.connection_id, params.as_object_mut()) {
        map.insert("connection_id".into(), json!(id));
    }
    let key = crate::api_tasks::idempotency_key(&headers);
    let later = backend::tasks::create::Later {
        start_at: body.start_at,
        then: body.then.clone(),
    };
    let created = state
        .engine
        .create_flow(
            NewTask {
                seller_id: seller,
                params,
                kind: body.kind,
                idempotency_key: key,
            },
            None,
            later,
        )
        .await
        .map_err(AppError::from)?;
    Ok(crate::api_tasks::started(&created))
}

/// The catalog items a create or preview body stands for: the seller's own, checked
/// against the kinds that work over items and the size limit.
async fn selected(state: &AppState, seller: i64, body: &CreateBody) -> Result<Vec<i64>, ApiError> {
    // This route starts work over catalog items; imports come as files.
    let over_items = |kind: &Presentation| {
        kind.subject == Subject::CatalogItem && kind.listed && kind.in_bulk_bar
    };
    if !Presentation::find(&body.kind).is_ok_and(over_items) {
        let kinds: Vec<&str> = task_model::kinds::ALL
            .into_iter()
            .filter(|kind| over_items(kind))
            .map(|kind| kind.name)
            .collect();
        return Err(invalid(
            "kind",
            format!("kind must be one of: {}", kinds.join(", ")),
        ));
    }
    let ids = match (body.item_ids.clone(), body.filter.as_ref()) {
        (Some(ids), None) => {
            // Every id must be one of the seller's items: another seller's is not found.
            let mut wanted = ids;
            wanted.sort_unstable();
            wanted.dedup();
            let owned = backend::catalog::matching_ids(
                &state.db,
                seller,
                &backend::catalog::ItemFilter::default(),
            )
            .await?;
            let missing = wanted
                .iter()
                .filter(|id| owned.binary_search(id).is_err())
                .count();
            if missing > 0 {
                return Err(invalid(
                    "item_ids",
                    format!("{missing} of these items are not in your catalog."),
                ));
            }
            wanted
        }
        (None, Some(filter)) => {
            let listing_state = match filter.state.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(raw) => Some(ListingState::parse(raw).ok_or_else(|| {
                    invalid("filter.state", format!("“{raw}” is not a listing state"))
                })?),
            };
            let params = ItemFilterParams {
                q: filter.q.clone(),
                state: listing_state,
                in_task: filter.in_task,
                changed: filter.changed,
            };
            backend::catalog::matching_ids(&state.db, seller, &(&params).into()).await?
        }
        _ => return Err(invalid("item_ids", "Send either item_ids or filter.")),
    };
    let ids = if body.leave_live {
        backend::catalog::leave_live_out(&state.db, seller, &body.kind, ids).await?
    } else {
        ids
    };
    if ids.is_empty() {
        return Err(invalid("item_ids", "No items to work on."));
    }
    if ids.len() > MAX_ITEMS {
        return Err(invalid(
            "item_ids",
            format!("At most {MAX_ITEMS} items per task."),
        ));
    }
    Ok(ids)
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
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Unknown kind, no items, or another seller's items", body = ErrorBody),
    ))]
async fn preview(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Json<PreviewJson>, ApiError> {
    let Json(body) = body.map_err(|rejection| AppError::BadRequest {
        message: rejection.body_text(),
    })?;
    let seller = signed_in.seller.id;
    let ids = selected(&state, seller, &body).await?;
    let counts = backend::catalog::count_by_state(&state.db, seller, &ids).await?;
    let said = Presentation::of(&body.kind)
        .by_state_said(counts.iter().map(|(state, n)| (state.as_str(), *n)));
    let edit = match edit_change(&body)? {
        Some(change) => Some(backend::edits::preview(&state.db, seller, &ids, &change, 20).await?),
        None => None,
    };
    let estimate = state
        .engine
        .estimate(
            &NewTask {
                seller_id: seller,
                kind: body.kind.clone(),
                params: task_params(&ids, &body),
                idempotency_key: None,
            },
            None,
        )
        .await
        .map_err(AppError::from)?;
    Ok(Json(PreviewJson {
        tonight: crate::api_flows::tonight(&state, &signed_in),
        kind: body.kind,
        count: ids.len() as u64,
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
        ("id" = i64, Path, description = "The finished task to undo"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key"),
    ),
    responses(
        (status = 202, description = "Undo started", body = TaskSummary),
        (status = 200, description = "Started earlier", body = TaskSummary),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not an edit (`not_undoable`), not finished (`task_not_finished`), or it changed nothing (`nothing_to_undo`)", body = ErrorBody),
    ))]
async fn undo(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let created = app::undo::ssr::start(
        &state,
        signed_in.seller.id,
        task_id(&id)?,
        idempotency_key(&headers),
    )
    .await?;
    Ok(started(&created))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// A task status.
    status: Option<String>,
    kind: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// The seller's tasks, newest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of tasks", body = TaskPage),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<PageJson<TaskSummary>>, ApiError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest {
        message: rejection.body_text(),
    })?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            TaskStatus::try_from(raw).map_err(|err| AppError::BadRequest {
                message: err.to_string(),
            })?,
        ),
    };
    let (page, per_page) = (
        query.page.unwrap_or(1).max(1),
        query.per_page.unwrap_or(20).clamp(1, 100),
    );
    let filter = TaskFilter {
        status,
        kind: query.kind.filter(|k| !k.is_empty()),
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
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskSummary),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn show(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<TaskSummary>, ApiError> {
    let task = backend::tasks::get(&state.db, signed_in.seller.id, task_id(&id)?)
        .await
        .map_err(AppError::from)?;
    Ok(Json(TaskSummary::from_task(&task, chrono::Utc::now())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ItemsQuery {
    /// An item status: `pending running succeeded failed skipped cancelled`.
    status: Option<String>,
    /// Only the failed items with this error code (one failure group).
    error_code: Option<String>,
    /// Part of the SKU, any case (for imports: of any cell of the row).
    q: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// A task's items in order, optionally only those in one status, of one failure group or
/// matching a SKU search.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/items", tag = "tasks",
    params(("id" = i64, Path, description = "Task id"), ItemsQuery),
    responses(
        (status = 200, description = "One page of the task's items", body = TaskItemPage),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn items(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    query: Result<Query<ItemsQuery>, QueryRejection>,
) -> Result<Json<PageJson<TaskItemView>>, ApiError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest {
        message: rejection.body_text(),
    })?;
    let wanted = TaskItemsQuery {
        status: query.status,
        error_code: query.error_code,
        q: query.q,
        page: query.page.unwrap_or(1).max(1),
        per_page: query.per_page.unwrap_or(50).clamp(1, 200),
    };
    let (views, total) = task_items(&state.db, signed_in.seller.id, task_id(&id)?, &wanted).await?;
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
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The failure groups", body = Vec<FailureGroupView>),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
    ))]
async fn failures(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<Vec<FailureGroupView>>, ApiError> {
    Ok(Json(
        failure_groups(&state.db, signed_in.seller.id, task_id(&id)?).await?,
    ))
}

/// Which failed items to retry or skip: the listed task items, or one failure group
/// (`error_code`); neither means every failed item.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(crate) struct SelectionBody {
    item_ids: Option<Vec<i64>>,
    error_code: Option<String>,
}

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
    id: String,
    action: Action,
    body: Option<Json<SelectionBody>>,
) -> Result<Json<TaskSummary>, ApiError> {
    let (seller, id) = (signed_in.seller.id, task_id(&id)?);
    let which = || {
        let body = body
            .as_ref()
            .map(|Json(b)| (b.item_ids.clone(), b.error_code.clone()));
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
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn pause(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Pause, None).await
}

/// Resumes a paused task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/resume", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn resume(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Resume, None).await
}

/// Cancels a task: pending items are cancelled, running ones are asked to stop.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Cancel, None).await
}

/// Tries failed items again (the listed ones, or all).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/retry", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    request_body(content = Option<SelectionBody>, description = "Absent: every failed item"),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn retry(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    body: Option<Json<SelectionBody>>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Retry, body).await
}

/// Skips failed items (the listed ones, or all): the task can end without them.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/skip", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    request_body(content = Option<SelectionBody>, description = "Absent: every failed item"),
    responses(
        (status = 200, description = "The task now", body = TaskSummary),
        (status = 404, description = "No such task of this seller", body = ErrorBody),
        (status = 409, description = "Not possible in the task's state", body = ErrorBody),
    ))]
async fn skip(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    body: Option<Json<SelectionBody>>,
) -> Result<Json<TaskSummary>, ApiError> {
    control(state, signed_in, id, Action::Skip, body).await
}
