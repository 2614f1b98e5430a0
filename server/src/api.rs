//! The REST API for scripts (`/api/v1`). The UI uses server functions over the same
//! backend calls.

use app::auth::ssr::{log_in, log_out, SignedIn};
use app::catalog::{ItemFilterParams, ItemListParams, ItemRow, ListingState};
use app::error::AppError;
use app::item::ItemDetail;
use app::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

use crate::api_error::ApiError;

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
        (status = 400, description = "Not a JSON object with email and password", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rejection| AppError::BadRequest {
        message: format!(
            "Send a JSON object with email and password: {}",
            rejection.body_text()
        ),
    })?;
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
    /// `draft`, `published`, `unpublished` or `failed`.
    state: Option<String>,
    /// Only items a running task has still to act on (queued or in flight): `true` or
    /// `1` (`false`, `0` or nothing for every item).
    in_task: Option<String>,
    /// Only live items edited since they were published: `true` or `1`.
    changed: Option<String>,
    /// `sku`, `title`, `price`, `quantity`, `state` or `updated` (default).
    sort: Option<String>,
    /// `asc` or `desc` (default).
    dir: Option<String>,
    page: Option<u64>,
    /// 1 to 200; 50 by default.
    per_page: Option<u64>,
}

/// A page of anything: `{"items", "total", "page", "per_page"}`.
#[derive(Serialize, utoipa::ToSchema)]
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
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
async fn list_items(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    query: Result<Query<ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PageJson<ItemRow>>, ApiError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest {
        message: rejection.body_text(),
    })?;
    let bad = |message: String| ApiError(AppError::BadRequest { message });
    let listing_state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(ListingState::parse(raw).ok_or_else(|| {
            bad(format!(
                "state must be one of draft, published, unpublished, failed, not “{raw}”"
            ))
        })?),
    };
    let flag = |name: &str, value: Option<&str>| match value {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(bad(format!(
            "{name} must be true or false (or 1 or 0), not “{other}”"
        ))),
    };
    let in_task = flag("in_task", query.in_task.as_deref())?;
    let changed = flag("changed", query.changed.as_deref())?;
    let sort = query.sort.unwrap_or_else(|| "updated".into());
    if backend::catalog::SortKey::parse(&sort).is_none() {
        return Err(bad(format!(
            "sort must be one of sku, title, price, quantity, state, updated, not “{sort}”"
        )));
    }
    let desc = match query.dir.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(bad(format!("dir must be asc or desc, not “{other}”"))),
    };
    let per_page = query.per_page.unwrap_or(app::catalog::PER_PAGE);
    if !(1..=backend::catalog::ItemQuery::MAX_PER_PAGE).contains(&per_page) {
        return Err(bad(format!(
            "per_page must be from 1 to {}",
            backend::catalog::ItemQuery::MAX_PER_PAGE
        )));
    }
    let params = ItemListParams {
        filter: ItemFilterParams {
            q: query.q.unwrap_or_default(),
            state: listing_state,
            in_task,
            changed,
        },
        sort,
        desc,
        page: query.page.unwrap_or(1).max(1),
        per_page,
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
    params(("id" = i64, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item", body = ItemDetail),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such item of this seller", body = ErrorBody),
    ))]
async fn get_item(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<ItemDetail>, ApiError> {
    // A malformed id is just an item that does not exist.
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let seller_id = signed_in.seller.id;
    let mut item = ItemDetail::from(backend::catalog::get(&state.db, seller_id, id).await?);
    item.task = app::item_task::ssr::latest(&state.db, seller_id, id).await?;
    Ok(Json(item))
}
