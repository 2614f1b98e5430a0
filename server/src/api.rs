//! The REST API for scripts (`/api/v1`). The UI uses server functions over the same
//! backend calls.

use app::auth::ssr::{log_in, log_out, SignedIn};
use app::catalog::{ItemFilterParams, ItemListParams, ItemRow, ListingState};
use app::error::AppError;
use app::item::ItemDetail;
use app::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

use crate::api_error::ApiError;
use crate::extract::{paging, Body, Id, Query};

use crate::openapi::{ErrorBody, ItemPage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(list_items))
        .routes(routes!(get_item))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SellerJson {
    id: i64,
    email: String,
    display_name: String,
}

impl crate::extract::Checked for LoginBody {}

/// `{"seller": {...}}`
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LoginReply {
    seller: SellerJson,
}

/// Logs in: the session cookie comes back in `Set-Cookie`.
#[utoipa::path(post, path = "/api/v1/login", tag = "session",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = LoginReply),
        (status = 422, description = "Not an object with email and password (`fields` says which)", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Body(body): Body<LoginBody>,
) -> Result<Response, ApiError> {
    let client = connect_info
        .map(|Extension(ConnectInfo(addr))| addr.ip().to_string())
        .unwrap_or_else(|| "local".into());
    let (seller, cookie) = log_in(&state, &headers, &client, &body.email, &body.password).await?;
    let body = LoginReply {
        seller: SellerJson {
            id: seller.id,
            email: seller.email,
            display_name: seller.display_name,
        },
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses((status = 204, description = "Logged out; the cookie is cleared")))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let cookie = log_out(&state, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ItemsQuery {
    /// Search in SKU and title.
    q: Option<String>,
    state: Option<ListingState>,
    /// Only items a running task has still to act on (queued or in flight).
    in_task: Option<bool>,
    /// Only live items edited since they were published.
    changed: Option<bool>,
    /// `updated` by default.
    #[param(schema_with = sort_keys)]
    sort: Option<String>,
    /// `desc` by default.
    #[param(inline)]
    dir: Option<Direction>,
    #[param(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    page: Option<i64>,
    /// 50 by default.
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "crate::extract::whole_param")]
    per_page: Option<i64>,
}

fn sort_keys() -> utoipa::openapi::Object {
    crate::openapi::one_of(backend::catalog::SortKey::NAMES)
}

#[derive(Deserialize, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    Asc,
    Desc,
}

/// A page of anything: `{"items", "total", "page", "per_page"}` (documented once per kind
/// of thing: `openapi::ItemPage`, `TaskPage`, `TaskItemPage`).
#[derive(Serialize)]
pub struct PageJson<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// The seller's catalog, filtered, sorted and paged.
#[utoipa::path(get, path = "/api/v1/items", tag = "catalog",
    params(ItemsQuery),
    responses(
        (status = 200, description = "One page of items", body = ItemPage),
        (status = 400, description = "A bad filter, sort or page", body = ErrorBody),
    ))]
async fn list_items(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ItemsQuery>,
) -> Result<Json<PageJson<ItemRow>>, ApiError> {
    let sort = query.sort.unwrap_or_else(|| "updated".into());
    if backend::catalog::SortKey::parse(&sort).is_none() {
        return Err(ApiError(AppError::BadRequest {
            message: format!(
                "sort must be one of {}, not “{sort}”",
                backend::catalog::SortKey::NAMES.join(", ")
            ),
        }));
    }
    let (page, per_page) = paging(
        query.page,
        query.per_page,
        app::catalog::PER_PAGE,
        backend::catalog::ItemQuery::MAX_PER_PAGE,
    )?;
    let params = ItemListParams {
        filter: ItemFilterParams {
            q: query.q.unwrap_or_default(),
            state: query.state,
            in_task: query.in_task.unwrap_or(false),
            changed: query.changed.unwrap_or(false),
        },
        sort,
        desc: !matches!(query.dir, Some(Direction::Asc)),
        page,
        per_page,
        after: None,
        before: None,
    };
    let page = app::catalog::ssr::item_page(&state.db, signed_in.seller.id, &params).await?;
    Ok(Json(PageJson {
        items: page.items,
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// One item; another seller's is not found.
#[utoipa::path(get, path = "/api/v1/items/{id}", tag = "catalog",
    params(("id" = i64, Path, minimum = 1, description = "Item id")),
    responses(
        (status = 200, description = "The item", body = ItemDetail),
        (status = 404, description = "No such item of this seller", body = ErrorBody),
    ))]
async fn get_item(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<ItemDetail>, ApiError> {
    let seller_id = signed_in.seller.id;
    let mut item = ItemDetail::from(backend::catalog::get(&state.db, seller_id, id).await?);
    item.task = app::item_task::ssr::latest(&state.db, seller_id, id).await?;
    Ok(Json(item))
}
