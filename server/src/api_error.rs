//! The REST API's error body: `{"error": {"code", "message"}}` with the matching status.

use app::error::AppError;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, StatusCode};
use serde_json::json;

pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl From<backend::catalog::CatalogError> for ApiError {
    fn from(err: backend::catalog::CatalogError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = json!({ "code": self.0.code(), "message": self.0.to_string() });
        if let AppError::Validation { fields } = &self.0 {
            error["fields"] = json!(fields);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if matches!(self.0, AppError::StorageFull) {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        if let AppError::RateLimited { retry_after_secs } = self.0 {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}
