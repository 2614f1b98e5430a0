//! The design gallery's frames: a titled specimen, and a box that holds the tray and the
//! toasts (fixed to the viewport in the app) in place.

use leptos::context::Provider;
use leptos::prelude::*;

use crate::live::LiveStore;

#[component]
pub(crate) fn Specimen(title: &'static str, children: Children) -> impl IntoView {
    let id = title.to_lowercase().replace([' ', ','], "-");
    let (labelled_by, name) = (id.clone(), id.clone());
    view! {
        <section class="specimen" aria-labelledby=labelled_by data-specimen=name>
            <h2 id=id>{title}</h2>
            <div class="specimen-body">{children()}</div>
        </section>
    }
}

/// The tray and the toasts are fixed to the viewport in the app; here each sits in its
/// own frame (a transformed box contains fixed children).
#[component]
pub(crate) fn Frame(
    store: LiveStore,
    #[prop(optional)] tall: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <Provider value=store>
            <div class="design-frame" class:tall=tall>{children()}</div>
        </Provider>
    }
}
