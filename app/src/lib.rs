//! Stockroom's user interface, compiled twice: natively for server rendering (`ssr`) and
//! to WebAssembly for the browser (`hydrate`). Wire types and server functions live next
//! to the pages that use them.

// Leptos views are deeply nested types; the shell with its live regions needs room.
#![recursion_limit = "256"]

pub mod auth;
pub mod bulk;
pub mod bulk_edit;
pub mod catalog;
pub mod catalog_refresh;
pub mod connections;
pub mod design;
mod design_bulk_day;
mod design_flows;
mod design_frame;
mod design_import;
mod design_marketplaces;
pub mod error;
pub mod import;
mod import_check;
pub mod item;
pub mod item_task;
pub mod later;
pub mod layout;
pub mod live;
pub mod notifications;
pub mod selection;
#[cfg(feature = "ssr")]
pub mod state;
pub mod task_header;
pub mod task_list;
pub mod task_page;
pub mod tasks;
pub mod ui;
pub mod undo;
pub mod when;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};

use crate::auth::LoginPage;
use crate::catalog::CatalogPage;
use crate::connections::ConnectionsPage;
use crate::design::DesignPage;
use crate::import::ImportPage;
use crate::item::ItemDetailPage;
use crate::layout::{AppShell, NotFound};
use crate::task_list::TasksPage;
use crate::task_page::TaskPage;

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    when::provide_clock();

    view! {
        <Stylesheet id="leptos" href="/pkg/stockroom.css" />
        <Title formatter=|title: String| if title.is_empty() { "Stockroom".to_owned() } else { format!("{title} · Stockroom") } />
        <Router>
            <Routes fallback=|| view! { <Title text="Not found" /> <NotFound /> <Hydrated /> }>
                <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} />
                // Fixtures only: open to designers without an account.
                <Route path=path!("/design") view={Lazy::<DesignRoute>::new()} />
                <ParentRoute path=path!("") view=AppShell>
                    <Route path=path!("/") view={Lazy::<CatalogRoute>::new()} />
                    // Rendered whole before the first byte, so a missing item answers 404.
                    <Route path=path!("/items/:id") view={Lazy::<ItemRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/import") view={Lazy::<ImportRoute>::new()} />
                    <Route path=path!("/tasks/:id") view={Lazy::<TaskRoute>::new()} />
                    <Route path=path!("/tasks") view={Lazy::<TasksRoute>::new()} />
                    <Route path=path!("/connections") view={Lazy::<ConnectionsRoute>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Marks the page as live (`body[data-hydrated]`) once its own view is hydrated: a page's
/// code loads after the shell's, and hydrates after it, so the shell cannot say when
/// the page's buttons work. Tests wait for the mark before clicking (a click before it
/// would submit a form the old way, or do nothing).
#[component]
fn Hydrated() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Declares a page as a lazily loaded route. The shell (header, live store, tray, toasts,
/// notification centre) is in the main wasm module; each page's code is in its own module,
/// split out by `cargo leptos build --split` and fetched the first time the page is shown
/// (or when a link to it is hovered). Without `--split` the same code is simply linked in.
macro_rules! lazy_page {
    ($route:ident, $title:literal, $page:ident) => {
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <Title text=$title /> <$page /> <Hydrated /> }.into_any()
            }
        }
    };
}

lazy_page!(LoginRoute, "Sign in", LoginPage);
lazy_page!(DesignRoute, "Design", DesignPage);
lazy_page!(CatalogRoute, "Catalog", CatalogPage);
lazy_page!(ItemRoute, "Item", ItemDetailPage);
lazy_page!(ImportRoute, "Import", ImportPage);
lazy_page!(TaskRoute, "Task", TaskPage);
lazy_page!(TasksRoute, "Tasks", TasksPage);
lazy_page!(ConnectionsRoute, "Marketplaces", ConnectionsPage);
