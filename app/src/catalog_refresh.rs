//! The catalog follows the seller's tasks: it reloads its rows (and their chips) when a
//! task starts, moves or ends, without losing the selection or a half-typed search.

use leptos::prelude::*;

use crate::catalog::ItemPage;
use crate::error::AppError;

/// Tasks change items as they go (an import adds and updates them, a publish changes
/// their listing state and the chips on their rows): the page reloads its rows and
/// counts by itself when a task starts, at most every 1.5 s while they run and once more
/// when one ends. The selection and the search box are
/// signals of their own, and the table stays on screen while it reloads, so nothing the
/// seller is doing is lost.
pub fn refresh_when_tasks_change_items(items: Resource<Result<ItemPage, AppError>>) {
    let store = crate::live::use_live();
    // Items each task has touched (succeeded or failed), and how many tasks are over;
    // nothing until the stream's first snapshot, which is what the page loaded with.
    let touched = Memo::new(move |_| {
        if !store.ready.get() {
            return None;
        }
        store
            .tasks
            .with(|tasks| {
                tasks
                    .iter()
                    .filter(|t| t.presentation().subject != task_model::Subject::Counter)
                    .map(|t| (t.counts.succeeded + t.counts.failed, t.is_over(), t.id))
                    .fold((0, 0, 0), |(n, over, newest), (touched, ended, id)| {
                        (n + touched, over + i64::from(ended), newest.max(id))
                    })
            })
            .into()
    });
    let waiting = StoredValue::new(false);
    Effect::new(move |seen: Option<Option<(i64, i64, i64)>>| {
        let now = touched.get();
        // The first snapshot is what the page was loaded with; a resync that only drops
        // tasks from the list changes nothing on the page. A new task puts chips on the
        // rows it is about to change.
        let grew = match (seen.flatten(), now) {
            (Some((n, over, newest)), Some(now)) => now.0 > n || now.1 > over || now.2 > newest,
            _ => false,
        };
        if grew && !waiting.get_value() {
            waiting.set_value(true);
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(1_500).await;
                if waiting.try_set_value(false).is_none() {
                    items.refetch();
                }
            });
        }
        now
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = items;
}
