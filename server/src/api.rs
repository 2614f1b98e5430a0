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
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::SocketAddr;

use crate::api_error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/items", get(list_items))
        .route("/api/v1/items/{id}", get(get_item))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct SellerJson {
    id: i64,
    email: String,
    display_name: String,
}

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
    let body = SellerJson {
        id: seller.id,
        email: seller.email,
        display_name: seller.display_name,
    };
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "seller": body })),
    )
        .into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let cookie = log_out(&state, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize, Default)]
struct ItemsQuery {
    q: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// A page of anything: `{"items", "total", "page", "per_page"}`.
#[derive(Serialize)]
pub(crate) struct PageJson<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

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

async fn get_item(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<ItemDetail>, ApiError> {
    // A malformed id is just an item that does not exist.
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let item = backend::catalog::get(&state.db, signed_in.seller.id, id).await?;
    Ok(Json(item.into()))
}
