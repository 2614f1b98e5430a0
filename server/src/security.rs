//! Request-level security: who is signed in, who may see pages, and refusing
//! state changes that come from other sites.

use app::auth::ssr::{session_token, SignedIn};
use app::error::AppError;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{header, Method};

use crate::api_error::ApiError;

/// Paths served to everybody: assets, health, the login page and its endpoints.
pub(crate) fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/design"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || path == "/favicon.ico"
        || path == "/api/v1/login"
        || path == "/api/login"
        || path == "/api/v1/openapi.json"
        || path.starts_with("/pkg/")
        || path.starts_with("/media/")
        || path.starts_with("/sandbox/")
}

/// Paths that need no session lookup at all (static files).
fn is_asset(path: &str) -> bool {
    // The sandbox marketplace stands for a third party: it knows nothing of our sessions.
    path.starts_with("/pkg/")
        || path.starts_with("/media/")
        || path.starts_with("/sandbox/")
        || path == "/favicon.ico"
}

/// Resolves the session cookie (one query per request), then guards: pages redirect to
/// the login page, the REST API answers 401. Server functions check for themselves.
pub async fn sessions(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if is_asset(&path) {
        return next.run(request).await;
    }
    if let Some(token) = session_token(request.headers()) {
        match backend::sessions::resolve(&state.db, &token, state.sessions, chrono::Utc::now())
            .await
        {
            Ok(Some(seller)) => {
                request.extensions_mut().insert(SignedIn { seller, token });
            }
            Ok(None) => {}
            Err(err) => return ApiError(app::error::internal(err)).into_response(),
        }
    }
    let signed_in = request.extensions().get::<SignedIn>().is_some();
    let is_page =
        matches!(*request.method(), Method::GET | Method::HEAD) && !path.starts_with("/api/");

    if path == "/login" && signed_in && is_page {
        return Redirect::to("/").into_response();
    }
    if signed_in || is_public(&path) {
        return next.run(request).await;
    }
    if path.starts_with("/api/v1/") {
        return ApiError(AppError::Unauthorized).into_response();
    }
    if is_page {
        let target = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let location = if target == "/" {
            "/login".to_owned()
        } else {
            format!("/login?next={}", percent_encode(target))
        };
        return Redirect::to(&location).into_response();
    }
    // Server functions answer `Unauthorized` themselves, in their own encoding.
    next.run(request).await
}

/// Refuses state-changing requests that another site's page made the browser send.
/// Browsers set `Sec-Fetch-Site`; older ones at least send `Origin`. Scripts (curl) send
/// neither and are let through: they hold their own cookie.
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let refused = match fetch_site {
        Some(site) => !matches!(site, "same-origin" | "none"),
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            Some(origin) => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                origin_host(origin) != Some(host)
            }
            None => false,
        },
    };
    if refused {
        tracing::warn!(path = %request.uri().path(), ?fetch_site, "refused a cross-site write");
        return ApiError(AppError::Forbidden).into_response();
    }
    next.run(request).await
}

/// `https://shop.example:8443` → `shop.example:8443`; `null` → `None`.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.trim_end_matches('/'))
}

/// A path as a query value: unreserved characters and `/` stay readable.
fn percent_encode(value: &str) -> String {
    const PATH: &percent_encoding::AsciiSet = &backend::marketplace::UNRESERVED.remove(b'/');
    percent_encoding::utf8_percent_encode(value, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_host_strips_the_scheme() {
        assert_eq!(origin_host("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(origin_host("null"), None);
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(
            percent_encode("/items/4?x=1&y=2"),
            "/items/4%3Fx%3D1%26y%3D2"
        );
    }
}
