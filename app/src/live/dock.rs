//! The dock: one fixed column in a bottom corner holding the toasts above the task tray.
//! It never hides what the seller needs: the page reserves room for it (its height is
//! published as `--dock-room`, which pads the page's end and the browser's scroll
//! padding, so every control can be scrolled clear of it), sticky notices rise above it,
//! and the seller can move it to the other corner.

use leptos::prelude::*;

use super::{TaskTray, Toasts};

/// Which bottom corner the dock sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Right,
    Left,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Right => "right",
            Self::Left => "left",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Right => Self::Left,
            Self::Left => Self::Right,
        }
    }
}

/// The dock's corner, for the tray's "move" button.
#[derive(Clone, Copy)]
pub struct DockSide(pub RwSignal<Side>);

#[cfg(feature = "hydrate")]
const SIDE_KEY: &str = "stockroom.dock-side";

/// The seller's last choice of corner, kept in the browser.
fn remembered_side() -> Side {
    #[cfg(feature = "hydrate")]
    {
        let left = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(SIDE_KEY).ok().flatten())
            .is_some_and(|v| v == "left");
        if left {
            return Side::Left;
        }
    }
    Side::Right
}

/// Moves the dock to the other corner, remembered for the next pages.
pub fn move_dock(side: RwSignal<Side>) {
    let next = side.get_untracked().other();
    side.set(next);
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(SIDE_KEY, next.as_str());
    }
}

#[component]
pub fn LiveDock() -> AnyView {
    let side = RwSignal::new(remembered_side());
    provide_context(DockSide(side));
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    reserve_room(node);
    view! {
        <div class="live-dock" data-side=move || side.get().as_str() node_ref=node>
            <Toasts />
            <TaskTray />
        </div>
    }
    .into_any()
}

/// Keeps `--dock-room` on the document equal to the space the dock takes at the bottom
/// of the window (its height and its distance from the bottom edge), whenever the dock
/// or the page changes size.
#[cfg(feature = "hydrate")]
fn reserve_room(node: NodeRef<leptos::html::Div>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    fn measure(dock: &web_sys::Element) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let height = window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        let rect = dock.get_bounding_client_rect();
        let room = if rect.height() > 0.5 {
            (height - rect.top()).max(0.0).ceil()
        } else {
            0.0
        };
        let root = window
            .document()
            .and_then(|d| d.document_element())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(root) = root {
            let _ = root
                .style()
                .set_property("--dock-room", &format!("{room}px"));
        }
    }

    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        let Some(dock) = node.get() else {
            return false;
        };
        let element: web_sys::Element = dock.into();
        let watched = element.clone();
        let callback = Closure::<dyn FnMut()>::new(move || measure(&watched));
        let Ok(observer) = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()) else {
            return false;
        };
        observer.observe(&element);
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            observer.observe(&body);
        }
        if let Some(window) = web_sys::window() {
            let _ = window
                .add_event_listener_with_callback("resize", callback.as_ref().unchecked_ref());
        }
        // The dock lives as long as the page.
        callback.forget();
        std::mem::forget(observer);
        measure(&element);
        true
    });
}
