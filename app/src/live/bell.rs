//! The header's bell (the unread count) and its panel of notifications, a lazily loaded
//! module of its own.

use leptos::prelude::*;
use leptos_router::components::A;

use super::use_live;
use crate::notifications::NotificationView;

/// What the bell's button and its panel share.
#[derive(Clone, Copy)]
struct BellState {
    open: RwSignal<bool>,
}

/// The header's bell: the unread count, and a panel with the notifications.
#[component]
pub fn Bell() -> AnyView {
    let store = use_live();
    let open = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    provide_context(BellState { open });
    let label = move || match store.unread.get() {
        0 => "Notifications".to_owned(),
        n => format!("Notifications, {n} unread"),
    };
    // The panel's code comes with the first look at the bell (asked for once).
    let preloaded = StoredValue::new(false);
    let preload = move || {
        if preloaded.get_value() {
            return;
        }
        preloaded.set_value(true);
        #[cfg(feature = "hydrate")]
        {
            let _ = lazy_preload!(notification_panel);
        }
    };
    // Esc, on the bell or anywhere in its panel, closes the panel and puts focus back on
    // the bell.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(button) = button.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    view! {
        <div class="bell" on:keydown=on_keydown>
            <button type="button" class="bell-button" node_ref=button aria-label=label aria-expanded=move || open.get().to_string() aria-controls="notification-panel"
                on:click=move |_| open.update(|open| *open = !*open)
                on:pointerenter=move |_| preload() on:focus=move |_| preload()>
                <svg class="bell-icon" aria-hidden="true" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                    <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
                    <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
                </svg>
                <Show when=move || { store.unread.get() > 0 }>
                    <span class="bell-count" aria-hidden="true">{move || store.unread.get()}</span>
                </Show>
            </button>
            <Show when=move || open.get()>
                {Suspend::new(send_wrapper::SendWrapper::new(notification_panel()))}
            </Show>
        </div>
    }
    .into_any()
}

/// The open bell's panel: the notifications, newest first, each linked to its task.
#[lazy]
fn notification_panel() -> AnyView {
    let store = use_live();
    let BellState { open } = expect_context::<BellState>();
    let items = RwSignal::new(Vec::<NotificationView>::new());
    // Loads on opening, and again whenever a notification arrives while open.
    Effect::new(move |_| {
        store.notifications_changed.track();
        #[cfg(feature = "hydrate")]
        super::browser::load_notifications(items);
    });
    let read_all = move |_| {
        #[cfg(feature = "hydrate")]
        super::browser::mark_read(store, items, None);
    };
    let desktop = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| desktop.set(super::browser::desktop_enabled()));
    let toggle_desktop = move |_| {
        #[cfg(feature = "hydrate")]
        super::browser::toggle_desktop(desktop);
    };
    view! {
        <div id="notification-panel" class="notification-panel card" role="region" aria-label="Notifications">
            <div class="panel-head">
                <h2>"Notifications"</h2>
                <button type="button" class="link" on:click=read_all disabled=move || store.unread.get() == 0>"Mark all as read"</button>
            </div>
            <ul class="notification-list">
                <For each=move || items.get() key=|n| (n.id, n.read_at.is_some()) let:note>
                    <li class=format!("notification {}", note.level.as_str()) data-unread=note.read_at.is_none().to_string()>
                        {
                            let unread = note.read_at.is_none();
                            #[cfg(feature = "hydrate")]
                            let id = note.id;
                            let read_one = move || {
                                #[cfg(feature = "hydrate")]
                                if unread {
                                    super::browser::mark_read(store, items, Some(id));
                                }
                            };
                            view! {
                                // Unread is said in words as well as colour.
                                {unread.then(|| view! { <span class="unread-mark">"New"</span> })}
                                {match note.task_id {
                                    Some(task) => view! { <A href=format!("/tasks/{task}") attr:class="notification-title" on:click=move |_| { read_one(); open.set(false); }>{note.title.clone()}</A> }.into_any(),
                                    None => view! { <span class="notification-title">{note.title.clone()}</span> }.into_any(),
                                }}
                                {unread.then(|| view! {
                                    <button type="button" class="link mark-one" on:click=move |_| read_one()>"Mark as read"</button>
                                })}
                            }
                        }
                        <span class="muted">{note.body.clone()}</span>
                        {note
                            .download
                            .clone()
                            // Written when the task ended: the file is kept as long from then.
                            .filter(|_| {
                                let kept = chrono::Duration::days(task_model::kinds::FILE_KEPT_DAYS);
                                note.created_at + kept > crate::when::use_clock().now()
                            })
                            .map(|href| view! { <a class="link notification-download" href=href download>"Download CSV"</a> })}
                        <span class="muted"><crate::when::When at=note.created_at /></span>
                    </li>
                </For>
            </ul>
            <Show when=move || items.with(Vec::is_empty)>
                <p class="muted">"Nothing yet. When a background task ends, it is listed here."</p>
            </Show>
            <label class="desktop-toggle">
                <input type="checkbox" prop:checked=move || desktop.get() on:change=toggle_desktop />
                " Desktop notification when a task ends while this tab is hidden"
            </label>
        </div>
    }
    .into_any()
}
