//! Hydrates the server-rendered page in the browser.

#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are lazy routes: hydration waits for the current page's module.
    leptos::mount::hydrate_lazy(app::App);
}
