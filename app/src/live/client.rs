//! The browser's side of the event stream: one `EventSource` at a time, fed into the
//! store; polling when the browser gives the stream up, and the stream again after a while.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::browser;
use super::link::{Link, OneStream, Stream};
use super::wire::{NotificationEvent, Snapshot};
use super::LiveStore;
use crate::tasks::TaskSummary;

/// An open `EventSource` and the listeners it calls. Closing it stops the source (a
/// closed source calls no listener again); dropping it frees the listeners (nothing is
/// leaked with `forget`).
struct EventStream {
    source: web_sys::EventSource,
    _listeners: Vec<Closure<dyn Fn(web_sys::MessageEvent)>>,
    _on_error: Closure<dyn Fn(web_sys::Event)>,
}

impl Stream for EventStream {
    fn close(&mut self) {
        self.source.set_onerror(None);
        self.source.close();
    }
}

/// The store's one connection; reached by handle, since browser objects are not `Send`.
type Holder = StoredValue<OneStream<EventStream>, LocalStorage>;

/// Connects the store: the stream, the toast clock, the tab title, stale-build handling.
pub fn connect(store: LiveStore) {
    browser::remember_dismissed(store);
    // The toast clock.
    let ticker = gloo_timers::callback::Interval::new(250, move || store.tick(250));
    browser::title_follows_progress(store);
    browser::reload_when_stale(store);
    let holder: Holder = StoredValue::new_local(OneStream::default());
    open(store, holder);
    let ticker = StoredValue::new_local(Some(ticker));
    on_cleanup(move || {
        ticker.update_value(|ticker| drop(ticker.take()));
        holder.update_value(OneStream::close);
    });
}

/// Opens the stream in place of any before it; polls if the browser cannot open one.
fn open(store: LiveStore, holder: Holder) {
    match stream(store, holder) {
        Some(stream) => holder.update_value(|one| one.replace(stream)),
        None => {
            holder.update_value(OneStream::close);
            store.link.set(Link::Polling);
            poll(store, holder);
        }
    }
}

fn stream(store: LiveStore, holder: Holder) -> Option<EventStream> {
    let source = web_sys::EventSource::new("/api/v1/events").ok()?;
    let mut listeners = Vec::new();
    let mut listen = |name: &str, handler: Box<dyn Fn(String)>| {
        let closure =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Some(data) = event.data().as_string() {
                    handler(data);
                }
            });
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        listeners.push(closure);
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
                if let Some(news) = store.apply_task(task) {
                    if ended {
                        browser::notify_desktop(&news);
                    }
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
            // CONNECTING: the browser retries by itself. CLOSED: it gave up (the server
            // said no, or is gone): poll until the stream comes back.
            if source.ready_state() == web_sys::EventSource::CLOSED
                && store.link.get_untracked() != Link::Polling
            {
                store.link.set(Link::Polling);
                poll(store, holder);
            } else if source.ready_state() == web_sys::EventSource::CONNECTING {
                store.link.set(Link::Connecting);
            }
        })
    };
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Some(EventStream {
        source,
        _listeners: listeners,
        _on_error: on_error,
    })
}

/// The fallback: the task list and the unread count every 4 s, and another try at the
/// stream every 12 s (which replaces, and so closes, the one that gave up).
fn poll(store: LiveStore, holder: Holder) {
    leptos::task::spawn_local(async move {
        let mut rounds = 0;
        while store.link.try_get_untracked() == Some(Link::Polling) {
            if let Some(snapshot) = browser::poll_snapshot().await {
                store.apply_snapshot(snapshot);
            }
            gloo_timers::future::TimeoutFuture::new(4_000).await;
            rounds += 1;
            if rounds % 3 == 0 {
                if holder.try_with_value(|_| ()).is_none() {
                    // The layer is gone (the tab navigated away from the shell).
                    return;
                }
                store.link.set(Link::Connecting);
                open(store, holder);
                return;
            }
        }
    });
}
