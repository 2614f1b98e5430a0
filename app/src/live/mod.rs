//! Live state in the browser: one store fed by the seller's event stream
//! (`/api/v1/events`), read by the task tray, the toasts, the bell, the tab title and the
//! pages (task list, task page, import page, catalog). No page polls on its own. The
//! stream reconnects by itself; when it cannot (the browser gave up), the store polls the
//! API every few seconds and tries the stream again.
//!
//! One role per file: `wire` (what the stream sends), `store` (the state as plain data,
//! unit-tested), `link` (one connection at a time), `tray`, `toasts`, `bell` (the views),
//! and in the browser `client` (the stream and its fallback) and `browser` (storage, title,
//! desktop notifications, stale builds).
//!
//! The server renders the shell empty; the store fills it after hydration from the
//! stream's snapshot, so a reload puts the tray back where it was. The shell's own code
//! holds only the store and the bell's button; the tray, the toasts, the stream client and
//! the notification panel are lazily loaded modules.

mod bell;
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
mod client;
pub mod dock;
pub mod link;
pub mod store;
mod toasts;
mod tray;
pub mod wire;

use leptos::prelude::*;

pub use bell::Bell;
pub use link::Link;
pub use store::{News, Toast, ToastLevel, ToastQueue};
pub use toasts::Toasts;
pub use tray::TaskTray;
pub use wire::{NotificationEvent, Snapshot};

use crate::tasks::TaskSummary;
use store::BuildWatch;

/// The live state in signals; every change goes through [`store`]'s rules.
#[derive(Clone, Copy)]
pub struct LiveStore {
    /// Newest first.
    pub tasks: RwSignal<Vec<TaskSummary>>,
    pub unread: RwSignal<u64>,
    pub toasts: RwSignal<ToastQueue>,
    pub link: RwSignal<Link>,
    pub dismissed: RwSignal<Vec<i64>>,
    /// Whether a snapshot has arrived (toasts are for changes seen live, not history).
    pub ready: RwSignal<bool>,
    /// Bumped when a notification arrives, so an open notification panel reloads.
    pub notifications_changed: RwSignal<u64>,
    build: StoredValue<BuildWatch>,
    /// The server now serves another build than this tab runs: this tab's code does not
    /// fit the new build's page modules, so links load pages afresh.
    pub stale: RwSignal<bool>,
}

impl LiveStore {
    pub fn new() -> Self {
        Self {
            tasks: RwSignal::new(Vec::new()),
            unread: RwSignal::new(0),
            toasts: RwSignal::new(ToastQueue::default()),
            link: RwSignal::new(Link::Connecting),
            dismissed: RwSignal::new(Vec::new()),
            ready: RwSignal::new(false),
            notifications_changed: RwSignal::new(0),
            build: StoredValue::new(BuildWatch::default()),
            stale: RwSignal::new(false),
        }
    }

    /// A snapshot replaces what the store knows; after a gap, what changed meanwhile is
    /// said as if seen live.
    pub fn apply_snapshot(&self, snapshot: Snapshot) {
        let mut became_stale = false;
        self.build
            .update_value(|watch| became_stale = watch.see(&snapshot.build));
        if became_stale {
            self.stale.set(true);
            self.toast(News {
                level: ToastLevel::Info,
                title: "Stockroom has been updated".to_owned(),
                body: "Pages load afresh as you open them; nothing you saved is affected."
                    .to_owned(),
                action: None,
            });
        }
        if self.ready.get_untracked() {
            let mut said = Vec::new();
            self.tasks
                .update(|tasks| said = store::resync(tasks, snapshot.tasks));
            for news in said {
                self.toast(news);
            }
        } else {
            self.tasks.set(snapshot.tasks);
        }
        self.unread.set(snapshot.unread);
        self.ready.set(true);
    }

    /// Applies a task event; older or repeated ones (by `seq`) change nothing. Gives the
    /// news it made, if any (a start or an end).
    pub fn apply_task(&self, task: TaskSummary) -> Option<News> {
        let mut applied = None;
        self.tasks.maybe_update(|tasks| {
            applied = store::apply(tasks, task.clone());
            applied.is_some()
        });
        let previous = applied?;
        if !self.ready.get_untracked() {
            return None;
        }
        let news = store::news(previous.as_ref(), &task)?;
        self.toast(news.clone());
        Some(news)
    }

    pub fn apply_notification(&self, event: NotificationEvent) {
        self.unread.set(event.unread);
        self.notifications_changed.update(|n| *n += 1);
    }

    pub fn toast(&self, news: News) {
        self.toasts.update(|queue| {
            queue.push(news);
        });
    }

    pub fn close_toast(&self, id: u64) {
        self.toasts.update(|queue| queue.close(id));
    }

    pub fn pause_toast(&self, id: u64, paused: bool) {
        self.toasts.update(|queue| queue.pause(id, paused));
    }

    /// The toast clock: `elapsed_ms` passed.
    pub fn tick(&self, elapsed_ms: i64) {
        if self.toasts.with_untracked(ToastQueue::has_running_clocks) {
            self.toasts.update(|queue| queue.tick(elapsed_ms));
        }
    }

    /// Tasks not finished: their overall progress in percent, for the tab title.
    pub fn running_progress(&self) -> Option<u32> {
        self.tasks.with(|tasks| {
            let active: Vec<&TaskSummary> = tasks.iter().filter(|t| t.is_active()).collect();
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
    view! { <dock::LiveDock /> }.into_any()
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
    fn a_deploy_is_said_once_in_a_toast_and_marks_the_tab_stale() {
        // Signals live in an owner's arena.
        Owner::new().with(|| {
            let store = LiveStore::new();
            // A snapshot without a build (an older server) changes nothing; the first
            // build seen is the tab's.
            store.apply_snapshot(snapshot(""));
            store.apply_snapshot(snapshot("4f1c0a9e2b7d6e31"));
            store.apply_snapshot(snapshot(""));
            assert!(!store.stale.get_untracked());
            assert!(store.toasts.get_untracked().visible().is_empty());
            store.apply_snapshot(snapshot("9a0b7c55d1e2f304"));
            store.apply_snapshot(snapshot("0c1d2e3f40516273"));
            assert!(store.stale.get_untracked());
            let toasts = store.toasts.get_untracked();
            assert_eq!(toasts.visible().len(), 1);
            assert_eq!(toasts.visible()[0].news.title, "Stockroom has been updated");
        });
    }
}
