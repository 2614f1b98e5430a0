//! What the live layer does with the browser itself: local storage (dismissed rows, the
//! desktop-notification choice), the tab title, desktop notifications, links after a
//! deploy, and the server functions the stream's fallback and the bell call.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::store::News;
use super::wire::Snapshot;
use super::LiveStore;
use crate::notifications::NotificationView;

const DESKTOP_KEY: &str = "stockroom.desktop-notifications";
const DISMISSED_KEY: &str = "stockroom.dismissed-tasks";
/// Dismissed task ids remembered (the newest; the tray never shows more than 30).
const DISMISSED_KEPT: usize = 100;

/// Dismissed rows stay dismissed across reloads, in this browser.
pub fn remember_dismissed(store: LiveStore) {
    if let Some(saved) = storage()
        .and_then(|s| s.get_item(DISMISSED_KEY).ok().flatten())
        .and_then(|raw| serde_json::from_str::<Vec<i64>>(&raw).ok())
    {
        store.dismissed.set(saved);
    }
    Effect::new(move |first: Option<()>| {
        let ids = store.dismissed.get();
        if first.is_some() {
            let kept = &ids[ids.len().saturating_sub(DISMISSED_KEPT)..];
            if let (Some(storage), Ok(raw)) = (storage(), serde_json::to_string(kept)) {
                let _ = storage.set_item(DISMISSED_KEY, &raw);
            }
        }
    });
}

/// The title says how far running work is: "(42%) Catalog · Stockroom".
pub fn title_follows_progress(store: LiveStore) {
    Effect::new(move |_| {
        let progress = store.running_progress();
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let title = document.title();
            let base = strip_progress(&title);
            let wanted = match progress {
                Some(p) => format!("({p}%) {base}"),
                None => base.to_owned(),
            };
            if wanted != title {
                document.set_title(&wanted);
            }
        }
    });
}

/// After a deploy, links load pages afresh (once is enough: the tab stays stale).
pub fn reload_when_stale(store: LiveStore) {
    Effect::new(move |installed: Option<bool>| {
        let stale = store.stale.get();
        if stale && installed != Some(true) {
            reload_on_navigation();
        }
        stale || installed == Some(true)
    });
}

/// Same-site links, Back and Forward in this document load the page from the server
/// instead of routing inside this tab, whose code is older than the server's page
/// modules.
fn reload_on_navigation() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let handler = Closure::<dyn Fn(web_sys::MouseEvent)>::new(|event: web_sys::MouseEvent| {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key()
        {
            return;
        }
        let Some(anchor) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a[href]").ok().flatten())
        else {
            return;
        };
        let other_window = anchor
            .get_attribute("target")
            .is_some_and(|target| target != "_self");
        let href = anchor.get_attribute("href").unwrap_or_default();
        if other_window
            || anchor.has_attribute("download")
            || !href.starts_with('/')
            || href.starts_with("//")
        {
            return;
        }
        event.prevent_default();
        event.stop_immediate_propagation();
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(&href);
        }
    });
    let _ = document.add_event_listener_with_callback_and_bool(
        "click",
        handler.as_ref().unchecked_ref(),
        true,
    );
    handler.forget();
    // Back and Forward too: the address has already changed when `popstate` fires, so
    // loading it again shows that page from the server. Registered as a capturing
    // listener on the window, it runs before the router's own.
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_history = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        event.stop_immediate_propagation();
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    let _ = window.add_event_listener_with_callback_and_bool(
        "popstate",
        on_history.as_ref().unchecked_ref(),
        true,
    );
    on_history.forget();
}

fn strip_progress(title: &str) -> &str {
    match title
        .strip_prefix('(')
        .and_then(|rest| rest.split_once("%) "))
    {
        Some((digits, rest)) if digits.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => title,
    }
}

/// What the stream's snapshot would say: the fallback while polling.
pub async fn poll_snapshot() -> Option<Snapshot> {
    super::wire::live_snapshot().await.ok()
}

pub fn load_notifications(items: RwSignal<Vec<NotificationView>>) {
    leptos::task::spawn_local(async move {
        if let Ok(list) = crate::notifications::list_notifications().await {
            items.set(list);
        }
    });
}

/// Marks one notification (or, with `None`, all) as read.
pub fn mark_read(store: LiveStore, items: RwSignal<Vec<NotificationView>>, id: Option<i64>) {
    leptos::task::spawn_local(async move {
        if let Ok(unread) = crate::notifications::read_notifications(id.map(|id| vec![id])).await {
            store.unread.set(unread);
            load_notifications(items);
        }
    });
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn desktop_enabled() -> bool {
    storage()
        .and_then(|s| s.get_item(DESKTOP_KEY).ok().flatten())
        .is_some_and(|v| v == "on")
        && web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

/// Turning it on asks the browser's permission, then and only then.
pub fn toggle_desktop(desktop: RwSignal<bool>) {
    let Some(storage) = storage() else { return };
    if desktop.get_untracked() {
        let _ = storage.set_item(DESKTOP_KEY, "off");
        desktop.set(false);
        return;
    }
    leptos::task::spawn_local(async move {
        let granted = match web_sys::Notification::request_permission() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|v| v.as_string())
                .is_some_and(|v| v == "granted"),
            Err(_) => false,
        };
        let _ = storage.set_item(DESKTOP_KEY, if granted { "on" } else { "off" });
        desktop.set(granted);
    });
}

/// A task's end, on the desktop, when this tab is hidden and the seller asked for it: the
/// same words as the toast.
pub fn notify_desktop(news: &News) {
    let hidden = web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden());
    if hidden && desktop_enabled() {
        let options = web_sys::NotificationOptions::new();
        options.set_body(&news.body);
        let _ = web_sys::Notification::new_with_options(&news.title, &options);
    }
}
