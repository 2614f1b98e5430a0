//! A seller's marketplace connections: `GET /api/v1/connections`, `POST
//! /api/v1/connections`, `POST /api/v1/connections/{id}/test`, `DELETE
//! /api/v1/connections/{id}`. Credentials go in once and never come back out: every
//! answer names the credentials set, never their values.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use serde::Serialize;
use task_model::Connection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::extract::{Body, Id};
use crate::openapi::ErrorBody;

mod body;
pub use body::ConnectionRules;
use body::CreateConnection;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
        .routes(routes!(test))
}

/// `{"connections": [...]}`
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    connections: Vec<Connection>,
}

/// The one answer wherever a request names a connection that is not the seller's.
pub(crate) fn not_yours(id: i64) -> ApiError {
    ApiError(AppError::Missing {
        code: "connection_not_found".into(),
        message: format!("You have no connection {id}."),
    })
}

/// The seller's connections, oldest first.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    responses(
        (status = 200, description = "The connections", body = ConnectionList),
    ))]
async fn list(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Result<Json<ConnectionList>, ApiError> {
    let connections = backend::connections::list(&state.db, signed_in.seller.id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(ConnectionList { connections }))
}

/// Connects a marketplace. The credentials are sealed with the server key before they
/// are stored; the answer says which are set.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections",
    request_body = CreateConnection,
    responses(
        (status = 201, description = "Connected", body = Connection),
        (status = 400, description = "Not a JSON object of this shape", body = ErrorBody),
        (status = 409, description = "The name is taken (`name_taken`), or the server has no key to seal credentials with (`secret_key_missing`)", body = ErrorBody),
        (status = 422, description = "Outside the schema (unknown marketplace, missing or unknown credential, a base URL that is not the marketplace's): `fields` says where", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    body: Result<Body<CreateConnection>, ApiError>,
) -> Result<Response, ApiError> {
    // A message can quote the value it could not take — a secret, here — so for the
    // credentials (and the body as a whole) the answer names the field and only says what
    // shape is expected.
    let Body(body) = body.map_err(|err| match err.0 {
        AppError::Validation { mut fields } => {
            let secret = |field: &str| field == "body" || field.starts_with("credentials");
            for field in fields.iter_mut().filter(|field| secret(&field.field)) {
                field.message = "Send {\"marketplace\", \"name\", \"account\", \"marketplace_id\", \"credentials\": {name: text}, \"base_url\"}: see the API document.".into();
            }
            ApiError(AppError::Validation { fields })
        }
        other => ApiError(other),
    })?;
    let new = backend::connections::NewConnection {
        marketplace: body.marketplace,
        name: body.name.unwrap_or_default(),
        account: body.account.unwrap_or_default(),
        marketplace_id: body.marketplace_id,
        credentials: body.credentials.unwrap_or_default(),
        base_url: body.base_url,
    };
    let created = backend::connections::create(
        &state.db,
        state.marketplaces.key(),
        signed_in.seller.id,
        &new,
        state.marketplaces.sandbox_url(),
        chrono::Utc::now(),
    )
    .await
    .map_err(|err| match err {
        // A name is the seller's own and unique: taken is the state of things, not a
        // malformed request.
        backend::connections::ConnectionError::NameTaken(name) => AppError::Refused {
            code: "name_taken".into(),
            message: format!("You already have a connection named “{name}”."),
        },
        other => AppError::from(other),
    })?;
    tracing::info!(
        seller = signed_in.seller.id,
        connection = created.id,
        marketplace = created.marketplace.as_str(),
        "marketplace connected"
    );
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Signs in to the marketplace and makes one harmless read; answers the connection with
/// what was found (`last_test`). A marketplace that refuses is an answer too (200 with
/// `last_test.ok` false), not an error of this API.
#[utoipa::path(post, path = "/api/v1/connections/{id}/test", tag = "connections",
    params(("id" = i64, Path, minimum = 1, description = "Connection id")),
    responses(
        (status = 200, description = "The connection with its test", body = Connection),
        (status = 404, description = "No such connection of this seller", body = ErrorBody),
        (status = 409, description = "Its credentials cannot be opened with this server's key", body = ErrorBody),
    ))]
async fn test(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<Json<Connection>, ApiError> {
    let tested = state
        .marketplaces
        .test(&state.db, signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(tested))
}

/// Forgets a connection and its credentials. Listings already made stay on the
/// marketplace.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections",
    params(("id" = i64, Path, minimum = 1, description = "Connection id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such connection of this seller", body = ErrorBody),
        (status = 409, description = "A task that has not ended publishes through it", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    backend::connections::delete(&state.db, signed_in.seller.id, id)
        .await
        .map_err(AppError::from)?;
    state.marketplaces.tokens().forget(id);
    Ok(StatusCode::NO_CONTENT)
}
