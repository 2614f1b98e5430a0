//! Toasts: news of tasks starting and ending, from the store's queue.

use leptos::prelude::*;
use leptos_router::components::A;

use super::store::{Toast, ToastLevel};
use super::use_live;

/// Toasts: at most three at once, the rest queued; polite for news, assertive for
/// failures; success fades after 5 s, problems stay; hovering or focusing pauses.
#[component]
pub fn Toasts() -> AnyView {
    let store = use_live();
    let visible = move || store.toasts.with(|queue| queue.visible().to_vec());
    let polite = move || {
        visible()
            .into_iter()
            .filter(|t| t.news.level != ToastLevel::Error)
            .collect::<Vec<_>>()
    };
    let urgent = move || {
        visible()
            .into_iter()
            .filter(|t| t.news.level == ToastLevel::Error)
            .collect::<Vec<_>>()
    };
    let queued = move || store.toasts.with(|queue| queue.queued());
    view! {
        <div class="toasts">
            <div role="status" aria-live="polite" class="toast-stack">
                <For each=polite key=|t| t.id let:toast><ToastCard toast=toast /></For>
            </div>
            <div role="alert" aria-live="assertive" class="toast-stack">
                <For each=urgent key=|t| t.id let:toast><ToastCard toast=toast /></For>
            </div>
            <Show when=move || { queued() > 0 }>
                <p class="toast-more muted">{move || format!("+{} more", queued())}</p>
            </Show>
        </div>
    }
    .into_any()
}

#[component]
fn ToastCard(toast: Toast) -> AnyView {
    let store = use_live();
    let id = toast.id;
    let news = toast.news;
    view! {
        <div class=format!("toast {}", news.level.as_str()) data-toast=id
            on:mouseenter=move |_| store.pause_toast(id, true)
            on:mouseleave=move |_| store.pause_toast(id, false)
            on:focusin=move |_| store.pause_toast(id, true)
            on:focusout=move |_| store.pause_toast(id, false)>
            <div class="toast-text">
                <strong class="toast-title">{news.title}</strong>
                <span class="toast-body">{news.body}</span>
                {news.action.map(|(label, href)| if href.starts_with("/api/") {
                    // A file: the browser downloads it, the page stays.
                    view! { <a href=href class="toast-action" download>{label}</a> }.into_any()
                } else {
                    view! { <A href=href attr:class="toast-action">{label}</A> }.into_any()
                })}
            </div>
            <button type="button" class="icon-button" aria-label="Close notification" on:click=move |_| store.close_toast(id)>"×"</button>
        </div>
    }
    .into_any()
}
