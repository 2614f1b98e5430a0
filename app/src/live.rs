//! Live state in the browser: one store fed by the seller's event stream
//! (`/api/v1/events`), read by the task tray, the toasts, the bell and the tab title.
//! No page polls on its own. The stream reconnects by itself; when it cannot (the browser
//! gave up), the store polls the API every few seconds and tries the stream again.
//!
//! The server renders the shell empty; the store fills it after hydration from the
//! stream's snapshot, so a reload puts the tray back where it was.
//!
//! The shell's own code (in every page's first download) holds only the store and the
//! bell's button. The tray, the toasts, the stream client and the notification panel are
//! lazily loaded modules: the layer is fetched right after hydration (nothing for it to
//! show comes before the stream's first snapshot anyway), the panel when the bell is first
//! opened or pointed at.

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::bulk::describe_duration;
use crate::notifications::NotificationView;
use crate::tasks::TaskSummary;
use crate::ui::{task_status, Chip};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Snapshot {
    pub tasks: Vec<TaskSummary>,
    pub unread: u64,
    #[serde(default)]
    pub last_notification_id: i64,
    /// The build of the browser code the server serves ("" when unknown).
    #[serde(default)]
    pub build: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NotificationEvent {
    pub notification: NotificationView,
    pub unread: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastLevel {
    Info,
    Success,
    Warning,
    Error,
}

impl ToastLevel {
    fn class(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// Success and information go by themselves; problems stay until closed.
    fn sticky(self) -> bool {
        matches!(self, Self::Warning | Self::Error)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub level: ToastLevel,
    pub title: String,
    pub body: String,
    pub action: Option<(String, String)>,
    /// Milliseconds left on screen (auto-dismissing toasts only).
    pub remaining_ms: i64,
    pub paused: bool,
}

const TOAST_MS: i64 = 5_000;
const VISIBLE_TOASTS: usize = 3;

/// How the store hears from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Polling,
}

impl Link {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Polling => "polling",
        }
    }
}

#[derive(Clone, Copy)]
pub struct LiveStore {
    /// Newest first.
    pub tasks: RwSignal<Vec<TaskSummary>>,
    pub unread: RwSignal<u64>,
    pub toasts: RwSignal<Vec<Toast>>,
    pub link: RwSignal<Link>,
    pub dismissed: RwSignal<Vec<i64>>,
    /// Whether a snapshot has arrived (toasts are for changes seen live, not history).
    pub ready: RwSignal<bool>,
    next_toast: StoredValue<u64>,
    /// Bumped when a notification arrives, so an open notification panel reloads.
    pub notifications_changed: RwSignal<u64>,
    /// The server's build when this tab connected first.
    build: StoredValue<Option<String>>,
    /// The server now serves another build than this tab runs: this tab's code does not
    /// fit the new build's page modules, so links load pages afresh.
    pub stale: RwSignal<bool>,
}

use task_model::plural;

impl LiveStore {
    pub fn new() -> Self {
        Self {
            tasks: RwSignal::new(Vec::new()),
            unread: RwSignal::new(0),
            toasts: RwSignal::new(Vec::new()),
            link: RwSignal::new(Link::Connecting),
            dismissed: RwSignal::new(Vec::new()),
            ready: RwSignal::new(false),
            next_toast: StoredValue::new(1),
            notifications_changed: RwSignal::new(0),
            build: StoredValue::new(None),
            stale: RwSignal::new(false),
        }
    }

    pub fn apply_snapshot(&self, snapshot: Snapshot) {
        self.check_build(&snapshot.build);
        let was_ready = self.ready.get_untracked();
        if was_ready {
            // A resync: say what changed while we were away, as if seen live.
            for task in &snapshot.tasks {
                self.apply_task(task.clone());
            }
        }
        self.tasks.set(snapshot.tasks);
        self.unread.set(snapshot.unread);
        self.ready.set(true);
    }

    fn check_build(&self, build: &str) {
        if build.is_empty() {
            return;
        }
        match self.build.get_value() {
            None => self.build.set_value(Some(build.to_owned())),
            Some(first) if first != build && !self.stale.get_untracked() => {
                self.stale.set(true);
                self.toast(
                    ToastLevel::Info,
                    "Stockroom has been updated".to_owned(),
                    "Pages load afresh as you open them; nothing you saved is affected.".to_owned(),
                    None,
                );
            }
            Some(_) => {}
        }
    }

    /// Applies a task event; older or repeated ones (by `seq`) change nothing.
    pub fn apply_task(&self, task: TaskSummary) {
        let previous = self
            .tasks
            .with_untracked(|tasks| tasks.iter().find(|t| t.id == task.id).cloned());
        if let Some(previous) = &previous {
            if previous.seq >= task.seq && task.seq != 0 {
                return;
            }
        }
        if self.ready.get_untracked() {
            self.toast_for(previous.as_ref(), &task);
        }
        self.tasks.update(|tasks| {
            match tasks.iter_mut().find(|t| t.id == task.id) {
                Some(slot) => *slot = task,
                None => tasks.insert(0, task),
            }
            tasks.truncate(30);
        });
    }

    pub fn apply_notification(&self, event: NotificationEvent) {
        self.unread.set(event.unread);
        self.notifications_changed.update(|n| *n += 1);
    }

    /// A start and an end are news; the words are the kind's, the same as the
    /// notification centre keeps.
    fn toast_for(&self, previous: Option<&TaskSummary>, task: &TaskSummary) {
        let was_over = previous.is_some_and(TaskSummary::is_over);
        if previous.is_none() && !task.is_over() {
            let (title, body) = task_model::words::started(&task.label);
            self.toast(ToastLevel::Info, title, body, None);
            return;
        }
        if was_over {
            return;
        }
        let Some(said) = task_model::words::finished(
            task.presentation(),
            &task.label,
            task.status,
            &task.counts,
        ) else {
            return;
        };
        let level = match said.tone {
            task_model::Tone::Info => ToastLevel::Info,
            task_model::Tone::Success => ToastLevel::Success,
            task_model::Tone::Warning => ToastLevel::Warning,
            task_model::Tone::Error => ToastLevel::Error,
        };
        let action = said
            .review
            .map(|review| (review, format!("/tasks/{}", task.id)));
        self.toast(level, said.title, said.body, action);
    }

    pub fn toast(
        &self,
        level: ToastLevel,
        title: String,
        body: String,
        action: Option<(String, String)>,
    ) {
        let id = self.next_toast.get_value();
        self.next_toast.set_value(id + 1);
        self.toasts.update(|toasts| {
            toasts.push(Toast {
                id,
                level,
                title,
                body,
                action,
                remaining_ms: TOAST_MS,
                paused: false,
            })
        });
    }

    pub fn close_toast(&self, id: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.id != id));
    }

    fn pause_toast(&self, id: u64, paused: bool) {
        self.toasts.update(|toasts| {
            if let Some(toast) = toasts.iter_mut().find(|t| t.id == id) {
                toast.paused = paused;
            }
        });
    }

    /// Counts down the visible, unpaused, auto-dismissing toasts.
    pub fn tick(&self, elapsed_ms: i64) {
        let has_timers = self.toasts.with_untracked(|toasts| {
            toasts
                .iter()
                .take(VISIBLE_TOASTS)
                .any(|t| !t.level.sticky() && !t.paused)
        });
        if !has_timers {
            return;
        }
        self.toasts.update(|toasts| {
            for toast in toasts.iter_mut().take(VISIBLE_TOASTS) {
                if !toast.level.sticky() && !toast.paused {
                    toast.remaining_ms -= elapsed_ms;
                }
            }
            toasts.retain(|t| t.level.sticky() || t.remaining_ms > 0);
        });
    }

    /// Tasks not finished: their overall progress in percent, for the tab title.
    pub fn running_progress(&self) -> Option<u32> {
        self.tasks.with(|tasks| {
            let active: Vec<&TaskSummary> = tasks.iter().filter(|t| !t.is_over()).collect();
            if active.is_empty() {
                return None;
            }
            let total: i64 = active.iter().map(|t| t.counts.total).sum();
            let done: i64 = active.iter().map(|t| t.counts.done()).sum();
            Some(if total > 0 {
                (done * 100 / total) as u32
            } else {
                0
            })
        })
    }
}

impl Default for LiveStore {
    fn default() -> Self {
        Self::new()
    }
}

pub fn use_live() -> LiveStore {
    use_context::<LiveStore>().unwrap_or_default()
}

/// Creates the store and provides it; [`LiveLayer`] connects it.
pub fn provide_live() -> LiveStore {
    let store = LiveStore::new();
    provide_context(store);
    store
}

/// The tray and the toasts, and the stream that feeds them. Rendered after hydration (the
/// server and the hydrating browser both render nothing here), from its own module.
#[component]
pub fn LiveLayer() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));
    move || {
        hydrated
            .get()
            .then(|| Suspend::new(send_wrapper::SendWrapper::new(live_layer())))
    }
}

#[lazy]
fn live_layer() -> AnyView {
    #[cfg(feature = "hydrate")]
    client::connect(use_live());
    view! {
        <TaskTray />
        <Toasts />
    }
    .into_any()
}

/// Bottom right, in the shell, so it survives navigation.
#[component]
pub fn TaskTray() -> AnyView {
    let store = use_live();
    // `None`: open while something runs, collapsed to its summary otherwise; a click
    // makes it the seller's choice.
    let chosen = RwSignal::new(None::<bool>);
    let visible = move || {
        let dismissed = store.dismissed.get();
        store
            .tasks
            .get()
            .into_iter()
            .filter(|t| !dismissed.contains(&t.id))
            .take(8)
            .collect::<Vec<_>>()
    };
    let running = move || store.tasks.with(|tasks| tasks.iter().any(|t| !t.is_over()));
    let open = move || chosen.get().unwrap_or_else(running);
    let summary = move || {
        let tasks = visible();
        let running = tasks.iter().filter(|t| !t.is_over()).count();
        match (running, store.running_progress()) {
            (0, _) => plural(tasks.len() as i64, "recent task", "recent tasks"),
            (n, Some(p)) => format!("{} running · {p}%", plural(n as i64, "task", "tasks")),
            (n, None) => format!("{} running", plural(n as i64, "task", "tasks")),
        }
    };
    view! {
        <aside class="task-tray" aria-label="Background tasks" data-empty=move || visible().is_empty().to_string() data-link=move || store.link.get().as_str()>
            <Show when=move || !visible().is_empty()>
                <div class="tray-card">
                    <button type="button" class="tray-head" aria-expanded=move || open().to_string() aria-controls="tray-rows" on:click=move |_| { let now = open(); chosen.set(Some(!now)); }>
                        <span class="tray-summary">{summary}</span>
                        <span class="tray-toggle" aria-hidden="true">{move || if open() { "▾" } else { "▴" }}</span>
                    </button>
                    <ul id="tray-rows" class="tray-rows" hidden=move || !open()>
                        <For each=visible key=|t| (t.id, t.seq) let:task>
                            <TrayRow task=task />
                        </For>
                    </ul>
                </div>
            </Show>
        </aside>
    }
    .into_any()
}

#[component]
fn TrayRow(task: TaskSummary) -> AnyView {
    let store = use_live();
    let c = task.counts;
    let done = c.done();
    let over = task.is_over();
    let (chip, tone) = task_status(&task);
    let id = task.id;
    let line = task.line();
    let eta = (!over)
        .then_some(task.eta_seconds)
        .flatten()
        .map(|eta| format!(" · {} left", describe_duration(eta)));
    view! {
        <li class="tray-row" data-task=id data-status=task.status.as_str()>
            <span class="kind-mark" aria-hidden="true">{task.presentation().mark}</span>
            <div class="tray-main">
                <div class="tray-line">
                    <A href=format!("/tasks/{id}") attr:class="tray-label">{line}</A>
                    <Chip label=chip tone />
                </div>
                <progress max=c.total value=done aria-label=format!("{} progress", task.label)></progress>
                <div class="tray-counts muted">{format!("{done} of {}", c.total)}{eta}</div>
            </div>
            {over.then(|| view! {
                <button type="button" class="icon-button" aria-label=format!("Dismiss {}", task.label)
                    on:click=move |_| store.dismissed.update(|d| d.push(id))>"×"</button>
            })}
        </li>
    }
    .into_any()
}

/// Toasts: at most three at once, the rest queued; polite for news, assertive for
/// failures; success fades after 5 s, problems stay; hovering or focusing pauses.
#[component]
pub fn Toasts() -> AnyView {
    let store = use_live();
    let visible = move || {
        store
            .toasts
            .get()
            .into_iter()
            .take(VISIBLE_TOASTS)
            .collect::<Vec<_>>()
    };
    let polite = move || {
        visible()
            .into_iter()
            .filter(|t| t.level != ToastLevel::Error)
            .collect::<Vec<_>>()
    };
    let urgent = move || {
        visible()
            .into_iter()
            .filter(|t| t.level == ToastLevel::Error)
            .collect::<Vec<_>>()
    };
    let queued = move || {
        store
            .toasts
            .with(|t| t.len().saturating_sub(VISIBLE_TOASTS))
    };
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
    view! {
        <div class=format!("toast {}", toast.level.class()) data-toast=id
            on:mouseenter=move |_| store.pause_toast(id, true)
            on:mouseleave=move |_| store.pause_toast(id, false)
            on:focusin=move |_| store.pause_toast(id, true)
            on:focusout=move |_| store.pause_toast(id, false)>
            <div class="toast-text">
                <strong class="toast-title">{toast.title.clone()}</strong>
                <span class="toast-body">{toast.body.clone()}</span>
                {toast.action.clone().map(|(label, href)| view! { <A href=href attr:class="toast-action">{label}</A> })}
            </div>
            <button type="button" class="icon-button" aria-label="Close notification" on:click=move |_| store.close_toast(id)>"×"</button>
        </div>
    }
    .into_any()
}

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
        client::load_notifications(items);
    });
    let read_all = move |_| {
        #[cfg(feature = "hydrate")]
        client::mark_read(store, items, None);
    };
    let desktop = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| desktop.set(client::desktop_enabled()));
    let toggle_desktop = move |_| {
        #[cfg(feature = "hydrate")]
        client::toggle_desktop(desktop);
    };
    view! {
        <div id="notification-panel" class="notification-panel card" role="region" aria-label="Notifications">
            <div class="panel-head">
                <h2>"Notifications"</h2>
                <button type="button" class="link" on:click=read_all disabled=move || store.unread.get() == 0>"Mark all as read"</button>
            </div>
            <ul class="notification-list">
                <For each=move || items.get() key=|n| (n.id, n.read_at.is_some()) let:note>
                    <li class=format!("notification {}", note.level) data-unread=note.read_at.is_none().to_string()>
                        {
                            let unread = note.read_at.is_none();
                            #[cfg(feature = "hydrate")]
                            let id = note.id;
                            let read_one = move || {
                                #[cfg(feature = "hydrate")]
                                if unread {
                                    client::mark_read(store, items, Some(id));
                                }
                            };
                            view! {
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
                        <time class="muted" datetime=note.created_at.to_rfc3339()>{note.created_at.format("%d %b %H:%M UTC").to_string()}</time>
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

#[cfg(feature = "hydrate")]
mod client {
    use super::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    const DESKTOP_KEY: &str = "stockroom.desktop-notifications";
    const DISMISSED_KEY: &str = "stockroom.dismissed-tasks";
    /// Dismissed task ids remembered (the newest; the tray never shows more than 30).
    const DISMISSED_KEPT: usize = 100;

    pub fn connect(store: LiveStore) {
        // Dismissed rows stay dismissed across reloads, in this browser.
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
        // The toast clock.
        let ticker = gloo_timers::callback::Interval::new(250, move || store.tick(250));
        // The title follows running work.
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
        // After a deploy, links load pages afresh (once is enough: it stays stale).
        Effect::new(move |installed: Option<bool>| {
            let stale = store.stale.get();
            if stale && installed != Some(true) {
                reload_on_navigation();
            }
            stale || installed == Some(true)
        });
        let source = open_stream(store);
        // Browser objects are not Send: keep them in local storage, reached by handle.
        let ticker = StoredValue::new_local(Some(ticker));
        let source = StoredValue::new_local(source);
        on_cleanup(move || {
            ticker.update_value(|ticker| drop(ticker.take()));
            source.with_value(|source| {
                if let Some(source) = source {
                    source.close();
                }
            });
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

    fn open_stream(store: LiveStore) -> Option<web_sys::EventSource> {
        let source = match web_sys::EventSource::new("/api/v1/events") {
            Ok(source) => source,
            Err(_) => {
                poll(store);
                return None;
            }
        };
        let listen = |name: &str, handler: Box<dyn Fn(String)>| {
            let closure = Closure::<dyn Fn(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    if let Some(data) = event.data().as_string() {
                        handler(data);
                    }
                },
            );
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            closure.forget();
        };
        listen(
            "snapshot",
            Box::new(move |data| {
                if let Ok(snapshot) = serde_json::from_str::<Snapshot>(&data) {
                    store.link.set(Link::Live);
                    store.apply_snapshot(snapshot);
                }
            }),
        );
        listen(
            "task",
            Box::new(move |data| {
                if let Ok(task) = serde_json::from_str::<TaskSummary>(&data) {
                    let ended = task.is_over();
                    let label = task.label.clone();
                    store.apply_task(task);
                    if ended {
                        notify_desktop(&label);
                    }
                }
            }),
        );
        listen(
            "notification",
            Box::new(move |data| {
                if let Ok(event) = serde_json::from_str::<NotificationEvent>(&data) {
                    store.apply_notification(event);
                }
            }),
        );
        let on_error = {
            let source = source.clone();
            Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
                // CONNECTING: the browser retries by itself. CLOSED: it gave up (the
                // server said no, or is gone): poll until the stream comes back.
                if source.ready_state() == web_sys::EventSource::CLOSED
                    && store.link.get_untracked() != Link::Polling
                {
                    store.link.set(Link::Polling);
                    poll(store);
                } else if source.ready_state() == web_sys::EventSource::CONNECTING {
                    store.link.set(Link::Connecting);
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        Some(source)
    }

    /// The fallback: the task list and the unread count every 4 s, and another try at
    /// the stream every 12 s.
    fn poll(store: LiveStore) {
        leptos::task::spawn_local(async move {
            let mut rounds = 0;
            while store.link.try_get_untracked() == Some(Link::Polling) {
                if let (Ok(page), Ok(notes)) = (
                    get::<TaskPage>("/api/v1/tasks?per_page=20").await,
                    get::<Vec<NotificationView>>("/api/v1/notifications").await,
                ) {
                    let unread = notes.iter().filter(|n| n.read_at.is_none()).count() as u64;
                    store.apply_snapshot(Snapshot {
                        tasks: page.items,
                        unread,
                        last_notification_id: 0,
                        build: String::new(),
                    });
                }
                gloo_timers::future::TimeoutFuture::new(4_000).await;
                rounds += 1;
                if rounds % 3 == 0 {
                    store.link.set(Link::Connecting);
                    open_stream(store);
                    return;
                }
            }
        });
    }

    #[derive(Deserialize)]
    struct TaskPage {
        items: Vec<TaskSummary>,
    }

    async fn request<T: serde::de::DeserializeOwned>(
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<T, ()> {
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        let headers = web_sys::Headers::new().map_err(|_| ())?;
        headers.set("accept", "application/json").map_err(|_| ())?;
        if let Some(body) = body {
            headers
                .set("content-type", "application/json")
                .map_err(|_| ())?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        let window = web_sys::window().ok_or(())?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(path, &init))
                .await
                .map_err(|_| ())?
                .dyn_into()
                .map_err(|_| ())?;
        if !response.ok() {
            return Err(());
        }
        let text = JsFuture::from(response.text().map_err(|_| ())?)
            .await
            .map_err(|_| ())?
            .as_string()
            .unwrap_or_default();
        serde_json::from_str(&text).map_err(|_| ())
    }

    async fn get<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, ()> {
        request("GET", path, None).await
    }

    pub fn load_notifications(items: RwSignal<Vec<NotificationView>>) {
        leptos::task::spawn_local(async move {
            if let Ok(list) = get::<Vec<NotificationView>>("/api/v1/notifications").await {
                items.set(list);
            }
        });
    }

    #[derive(Deserialize)]
    struct Unread {
        unread: u64,
    }

    /// Marks one notification (or, with `None`, all) as read.
    pub fn mark_read(store: LiveStore, items: RwSignal<Vec<NotificationView>>, id: Option<i64>) {
        let body = match id {
            Some(id) => format!("{{\"ids\":[{id}]}}"),
            None => "{}".to_owned(),
        };
        leptos::task::spawn_local(async move {
            if let Ok(Unread { unread }) =
                request::<Unread>("POST", "/api/v1/notifications/read", Some(&body)).await
            {
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

    fn notify_desktop(label: &str) {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        if hidden && desktop_enabled() {
            let options = web_sys::NotificationOptions::new();
            options.set_body("Open Stockroom to see how it went.");
            let _ = web_sys::Notification::new_with_options(&format!("{label} finished"), &options);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(build: &str) -> Snapshot {
        Snapshot {
            tasks: Vec::new(),
            unread: 0,
            last_notification_id: 0,
            build: build.to_owned(),
        }
    }

    #[test]
    fn a_tab_is_stale_once_the_server_serves_another_build() {
        // Signals live in an owner's arena.
        Owner::new().with(|| {
            let store = LiveStore::new();
            // Polling snapshots carry no build; the first stream snapshot sets the tab's.
            store.apply_snapshot(snapshot(""));
            store.apply_snapshot(snapshot("4f1c0a9e2b7d6e31"));
            store.apply_snapshot(snapshot("4f1c0a9e2b7d6e31"));
            store.apply_snapshot(snapshot(""));
            assert!(!store.stale.get_untracked());
            assert!(store.toasts.get_untracked().is_empty());

            // A reconnect to a server that was deployed meanwhile.
            store.apply_snapshot(snapshot("9a0b7c55d1e2f304"));
            assert!(store.stale.get_untracked());
            // Said once, however many deploys follow.
            store.apply_snapshot(snapshot("0c1d2e3f40516273"));
            let toasts = store.toasts.get_untracked();
            assert_eq!(toasts.len(), 1);
            assert_eq!(toasts[0].title, "Stockroom has been updated");
            assert_eq!(toasts[0].level, ToastLevel::Info);
        });
    }
}
