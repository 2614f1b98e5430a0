//! The application shell: header, content, and the fixed places where the task tray and
//! the toasts live (filled by the task engine's issue; present and announced now).

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_location;

use crate::auth::{current_seller, LogoutButton};
use crate::live::{provide_live, Bell, LiveLayer};

#[component]
pub fn AppShell() -> impl IntoView {
    let seller = Resource::new(|| (), |_| current_seller());
    provide_live();
    // Pages rendered on the server and notifications use the zone the account remembers.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        match seller.get() {
            Some(Ok(Some(seller))) => {
                crate::when::remember_browser_zone(seller.time_zone);
                true
            }
            _ => false,
        }
    });
    let location = use_location();
    let on = move |prefix: &'static str| {
        move || {
            let path = location.pathname.get();
            if prefix == "/" {
                path == "/" || path.starts_with("/items")
            } else {
                path.starts_with(prefix)
            }
        }
    };

    view! {
        <a class="skip-link" href="#content">"Skip to content"</a>
        <header class="app-header">
            <A href="/" attr:class="brand">"Stockroom"</A>
            <nav class="main-nav" aria-label="Main">
                <A href="/" attr:class="nav-link" attr:aria-current=move || on("/")().then_some("page")>"Catalog"</A>
                <A href="/import" attr:class="nav-link" attr:aria-current=move || on("/import")().then_some("page")>"Import"</A>
                <A href="/tasks" attr:class="nav-link" attr:aria-current=move || on("/tasks")().then_some("page")>"Tasks"</A>
                <A href="/connections" attr:class="nav-link" attr:aria-current=move || on("/connections")().then_some("page")>"Marketplaces"</A>
            </nav>
            <div class="account">
                <Bell />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        seller.await.ok().flatten().map(|s| view! {
                            <span class="seller-name" title=s.email.clone()>{s.display_name}</span>
                        })
                    })}
                </Transition>
                <LogoutButton />
            </div>
        </header>
        <main id="content" class="app-content">
            <Outlet />
        </main>
        // The tray and the toasts (fixed regions), once the page is interactive.
        <LiveLayer />
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="page">
            <div class="card empty-state">
                <h1>"Page not found"</h1>
                <p class="muted">"There is nothing at this address."</p>
                <A href="/" attr:class="button">"Back to the catalog"</A>
            </div>
        </section>
    }
}
