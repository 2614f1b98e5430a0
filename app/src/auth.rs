//! Logging in and out, and knowing who is logged in.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The logged-in seller, as the UI shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// The time zone the account remembers (the browser's, last reported).
    pub time_zone: Option<String>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::state::AppState;
    use backend::accounts::{self, AccountError, Seller};
    use backend::sessions::{self, SessionToken};
    use http::header::{COOKIE, SET_COOKIE};
    use http::{HeaderMap, HeaderValue};

    pub const SESSION_COOKIE: &str = "stockroom_session";

    /// Put into the request's extensions by the server's session layer when the request
    /// carries a live session.
    #[derive(Debug, Clone)]
    pub struct SignedIn {
        pub seller: Seller,
        pub token: SessionToken,
    }

    impl From<&Seller> for SellerView {
        fn from(seller: &Seller) -> Self {
            Self {
                id: seller.id,
                email: seller.email.clone(),
                display_name: seller.display_name.clone(),
                time_zone: seller.time_zone.clone(),
            }
        }
    }

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>()
            .ok_or_else(|| crate::error::internal("AppState missing from context"))
    }

    /// The seller making this server-function call, or `Unauthorized`.
    pub fn require_seller() -> Result<Seller, AppError> {
        signed_in().map(|s| s.seller).ok_or(AppError::Unauthorized)
    }

    pub fn signed_in() -> Option<SignedIn> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SignedIn>().cloned())
    }

    /// The session token a request carries, if any.
    pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == SESSION_COOKIE && !c.value().is_empty())
            .map(|c| SessionToken::from_cookie(c.value()))
    }

    /// Was the request made over https (directly or behind a proxy that says so)?
    pub fn is_https(headers: &HeaderMap) -> bool {
        let forwarded_proto = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let forwarded = headers
            .get("forwarded")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
        forwarded_proto || forwarded
    }

    pub fn session_cookie(token: &SessionToken, max_age_secs: i64, secure: bool) -> HeaderValue {
        cookie_header(token.as_str(), max_age_secs, secure)
    }

    pub fn clear_session_cookie(secure: bool) -> HeaderValue {
        cookie_header("", 0, secure)
    }

    fn cookie_header(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
        let cookie = cookie::Cookie::build((SESSION_COOKIE, value))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age_secs))
            .secure(secure)
            .build();
        HeaderValue::from_str(&cookie.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("stockroom_session=; Path=/; Max-Age=0"))
    }

    /// Everything a login does, for the page and the API alike: throttle, check the
    /// password, end the session the browser had (rotation), start a new one.
    pub async fn log_in(
        state: &AppState,
        headers: &HeaderMap,
        client: &str,
        email: &str,
        password: &str,
    ) -> Result<(Seller, HeaderValue), AppError> {
        state
            .login_limiter
            .check(email, client)
            .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
        let seller = accounts::authenticate(&state.db, email, password)
            .await
            .map_err(|err| match err {
                AccountError::InvalidCredentials
                | AccountError::EmailTaken
                | AccountError::UnknownTimeZone(_) => AppError::InvalidCredentials,
                AccountError::Unexpected(err) => crate::error::internal(err),
            })?;
        if let Some(previous) = session_token(headers) {
            sessions::end(&state.db, &previous)
                .await
                .map_err(crate::error::internal)?;
        }
        let token = sessions::start(&state.db, seller.id, state.sessions, chrono::Utc::now())
            .await
            .map_err(crate::error::internal)?;
        tracing::info!(seller_id = seller.id, "seller logged in");
        let cookie = session_cookie(
            &token,
            state.sessions.absolute.num_seconds(),
            is_https(headers),
        );
        Ok((seller, cookie))
    }

    /// Ends the request's session server-side; returns the cookie that clears it.
    pub async fn log_out(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, AppError> {
        if let Some(token) = session_token(headers) {
            sessions::end(&state.db, &token)
                .await
                .map_err(crate::error::internal)?;
        }
        Ok(clear_session_cookie(is_https(headers)))
    }

    /// Only same-site paths: never redirect a seller to another site after login.
    pub fn safe_next(next: &str) -> String {
        if next.starts_with('/')
            && !next.starts_with("//")
            && !next.starts_with("/\\")
            && !next.starts_with("/login")
        {
            next.to_owned()
        } else {
            "/".to_owned()
        }
    }

    pub fn set_cookie(cookie: HeaderValue) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.append_header(SET_COOKIE, cookie);
        }
    }

    /// Gives a server function's error its HTTP status (during server rendering, the
    /// page's status: an item page for another seller's item answers 404).
    pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(err) = &result {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(
                    http::StatusCode::from_u16(err.status())
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
        }
        result
    }

    pub fn client_key(parts: &http::request::Parts) -> String {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_else(|| "local".to_owned())
    }
}

/// Who is logged in (`None` on the login page).
#[server(endpoint = "current_seller")]
pub async fn current_seller() -> Result<Option<SellerView>, AppError> {
    use self::ssr::*;
    Ok(signed_in().map(|s| SellerView::from(&s.seller)))
}

#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(
        async {
            let state = state()?;
            let parts = use_context::<http::request::Parts>()
                .ok_or_else(|| crate::error::internal("request parts missing"))?;
            let (_, cookie) = log_in(
                &state,
                &parts.headers,
                &client_key(&parts),
                &email,
                &password,
            )
            .await?;
            set_cookie(cookie);
            leptos_axum::redirect(&safe_next(next.as_deref().unwrap_or("/")));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use self::ssr::*;
    with_status(
        async {
            let state = state()?;
            let parts = use_context::<http::request::Parts>()
                .ok_or_else(|| crate::error::internal("request parts missing"))?;
            set_cookie(log_out(&state, &parts.headers).await?);
            leptos_axum::redirect("/login?logged_out=1");
            Ok(())
        }
        .await,
    )
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    let error = move || login.value().get().and_then(|result| result.err());
    let logged_out =
        move || query.read().get("logged_out").is_some() && login.value().get().is_none();

    view! {
        <main class="login">
            <div class="login-card card">
                <h1 class="login-brand">"Stockroom"</h1>
                <p class="muted">"Sign in to manage your catalog."</p>
                <Show when=logged_out>
                    <p class="alert success" role="status">"You are logged out."</p>
                </Show>
                <ActionForm action=login attr:class="stack" attr:aria-describedby="login-error">
                    <input type="hidden" name="next" value=next />
                    <label class="field">
                        <span class="field-label">"E-mail"</span>
                        <input class="input" type="email" name="email" autocomplete="username" required autofocus />
                    </label>
                    <label class="field">
                        <span class="field-label">"Password"</span>
                        <input class="input" type="password" name="password" autocomplete="current-password" required />
                    </label>
                    <p id="login-error" class="form-error" role="alert">
                        {move || error().map(|e| e.to_string())}
                    </p>
                    <button class="button primary" type="submit" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}

/// The header's logout button: a plain POST to the logout endpoint, which answers with a
/// redirect to the login page. A full page load is what logging out should be (nothing of
/// the session stays in the tab), it works before hydration, and the shell's code carries
/// no server-function client for it.
#[component]
pub fn LogoutButton() -> impl IntoView {
    view! {
        <form method="post" action={<Logout as leptos::server_fn::ServerFn>::PATH} class="logout-form">
            <button class="button ghost small" type="submit">"Log out"</button>
        </form>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::ssr::*;
    use http::HeaderMap;

    #[test]
    fn next_only_goes_to_our_own_pages() {
        assert_eq!(safe_next("/items/4?x=1"), "/items/4?x=1");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "",
            "/login?next=/x",
        ] {
            assert_eq!(safe_next(hostile), "/", "{hostile}");
        }
    }

    #[test]
    fn session_token_is_read_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "theme=dark; stockroom_session=abc123; other=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            session_token(&headers)
                .map(|t| t.as_str().to_owned())
                .as_deref(),
            Some("abc123")
        );
        headers.insert(http::header::COOKIE, "stockroom_session=".parse().unwrap());
        assert!(session_token(&headers).is_none());
    }

    #[test]
    fn cookies_are_secure_only_over_https() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(is_https(&headers));
        let cookie = clear_session_cookie(true);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with("stockroom_session=;")
                && cookie.contains("; HttpOnly")
                && cookie.contains("; SameSite=Lax")
                && cookie.contains("; Path=/")
                && cookie.contains("; Max-Age=0")
                && cookie.contains("; Secure")
        );
        let plain = session_cookie(
            &backend::sessions::SessionToken::from_cookie("t0k"),
            60,
            false,
        );
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("stockroom_session=t0k;") && !plain.contains("Secure"));
        assert!(plain.contains("; Max-Age=60"));
    }
}
