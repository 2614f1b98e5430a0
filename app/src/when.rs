//! Times on every page in the seller's own time zone, through one component: relative
//! where that helps ("2 min ago", "at 14:05"), the whole date and zone on hover. The words
//! come from [`task_model::when`], shared with the server.
//!
//! The zone is the browser's own once the page runs; on the server it is the one the
//! seller's browser last reported, remembered on their account (UTC until then). The
//! design gallery fixes both the clock and the zone, so its pictures never change.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use task_model::when;

/// How often relative times ("2 min ago") are read again.
#[cfg(feature = "hydrate")]
const TICK_MS: u32 = 20_000;

/// The clock relative times are read against, and, for fixtures, a fixed zone.
#[derive(Clone, Copy)]
pub struct Clock {
    now: RwSignal<DateTime<Utc>>,
    fixed: Option<FixedOffset>,
}

impl Clock {
    /// The offset to read `at` in.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        self.fixed.unwrap_or_else(|| zone_offset(at))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now.get()
    }
}

/// The app's clock: now, ticking in the browser.
pub fn provide_clock() {
    let now = RwSignal::new(Utc::now());
    #[cfg(feature = "hydrate")]
    gloo_timers::callback::Interval::new(TICK_MS, move || now.set(Utc::now())).forget();
    provide_context(Clock { now, fixed: None });
}

/// A stopped clock in a fixed zone, for fixtures.
pub fn provide_fixed_clock(now: DateTime<Utc>, offset: FixedOffset) {
    provide_context(Clock {
        now: RwSignal::new(now),
        fixed: Some(offset),
    });
}

pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock {
        now: RwSignal::new(Utc::now()),
        fixed: None,
    })
}

/// The seller's UTC offset at `at`: the browser's zone (daylight saving included).
#[cfg(feature = "hydrate")]
fn zone_offset(at: DateTime<Utc>) -> FixedOffset {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        at.timestamp_millis() as f64
    ));
    when::offset_from_js(date.get_timezone_offset())
}

/// The seller's UTC offset at `at`: the zone remembered on their account.
#[cfg(not(feature = "hydrate"))]
fn zone_offset(at: DateTime<Utc>) -> FixedOffset {
    #[cfg(feature = "ssr")]
    {
        if let Some(signed_in) = crate::auth::ssr::signed_in() {
            return signed_in.seller.offset_at(at);
        }
    }
    let _ = at;
    when::utc()
}

/// The browser's IANA zone name ("Europe/Paris"), if it says.
#[cfg(feature = "hydrate")]
pub fn browser_zone() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()?
        .as_string()
        .filter(|zone| !zone.is_empty())
}

/// A time, in the seller's zone: short and relative on the page, whole on hover.
#[component]
pub fn When(at: DateTime<Utc>) -> impl IntoView {
    let clock = use_clock();
    let offset = clock.offset_at(at);
    view! {
        <time datetime=at.to_rfc3339() title=when::full(at, offset)>
            {move || when::said(at, clock.now(), offset).short}
        </time>
    }
}

/// A time of day to the second ("14:05:12"), for a wait that ends soon.
pub fn clock_time(at: DateTime<Utc>) -> String {
    when::clock(at, use_clock().offset_at(at))
}

/// A time in words as [`When`] shows it, for a sentence.
pub fn said(at: DateTime<Utc>) -> String {
    let clock = use_clock();
    when::said(at, clock.now.get_untracked(), clock.offset_at(at)).short
}

/// Remembers the browser's time zone on the seller's account, for pages rendered on the
/// server and for notifications.
#[server(endpoint = "remember_time_zone")]
pub async fn remember_time_zone(zone: String) -> Result<(), crate::error::AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    use crate::error::AppError;
    with_status(
        async {
            let seller = require_seller()?;
            backend::accounts::set_time_zone(&state()?.db, seller.id, &zone)
                .await
                .map_err(|err| match err {
                    backend::accounts::AccountError::UnknownTimeZone(_) => AppError::BadRequest {
                        message: err.to_string(),
                    },
                    other => crate::error::internal(other),
                })
        }
        .await,
    )
}

/// Once the page runs: if the account remembers another zone than the browser's (or
/// none), the browser's is remembered.
pub fn remember_browser_zone(remembered: Option<String>) {
    #[cfg(feature = "hydrate")]
    if let Some(zone) = browser_zone().filter(|zone| Some(zone) != remembered.as_ref()) {
        leptos::task::spawn_local(async move {
            if let Err(err) = remember_time_zone(zone).await {
                leptos::logging::warn!("the time zone was not remembered: {err}");
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = remembered;
}
