//! Small pieces every page shares: status chips (an icon and words, never colour alone),
//! the modal dialog, the pager and the duration words.

use leptos::prelude::*;

use crate::tasks::{ItemStatus, TaskStatus, TaskSummary};

/// How a status looks: the chip's colour class and its icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Scheduled,
    Queued,
    Running,
    Paused,
    Waiting,
    Done,
    Warning,
    Error,
    Cancelled,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Waiting => "waiting",
            Self::Done => "done",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    /// An SVG path (24×24, stroked) that says the same as the colour.
    fn icon(self) -> &'static str {
        match self {
            Self::Scheduled => "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
            Self::Queued => "M12 7v5l3 2M12 3a9 9 0 1 0 0 18a9 9 0 0 0 0-18",
            Self::Running => "M8 5l11 7l-11 7z",
            Self::Paused => "M8 5v14M16 5v14",
            Self::Waiting => "M7 3h10M7 21h10M8 3c0 5 8 5 8 9s-8 4-8 9M16 3c0 5-8 5-8 9",
            Self::Done => "M4 12l5 5L20 6",
            Self::Warning => "M12 3l10 18H2zM12 10v5M12 18v.5",
            Self::Error => "M6 6l12 12M18 6L6 18",
            Self::Cancelled => "M5 5l14 14M12 3a9 9 0 1 0 0 18a9 9 0 0 0 0-18",
        }
    }
}

/// What a held task's line says: "eBay not answering since 14:02 — retrying every 20 s,
/// nothing is lost".
pub fn hold_line(hold: &task_model::Hold) -> String {
    format!(
        "{} — {}",
        hold.headline(&hours_minutes(hold.since)),
        hold.detail()
    )
}

/// "14:02": the seller's clock time to the minute.
pub fn hours_minutes(at: chrono::DateTime<chrono::Utc>) -> String {
    let time = crate::when::clock_time(at);
    match time.rsplit_once(':') {
        Some((minutes, _)) if time.len() == 8 => minutes.to_owned(),
        _ => time,
    }
}

/// A task's status in words and tone; a hold says the marketplace is not answering, a
/// quota wait shows its end.
pub fn task_status(task: &TaskSummary) -> (String, Tone) {
    // The marketplace does not answer: say so, since when, and that nothing is lost.
    // (The chip is short; the line under it, or the task page's notice, says the rest.)
    if task.hold.is_some() && !task.is_over() {
        return ("not answering".to_owned(), Tone::Waiting);
    }
    let waiting = task.waiting_until.filter(|_| !task.is_over()).map(|until| {
        format!(
            "waiting for marketplace quota until {}",
            crate::when::clock_time(until)
        )
    });
    if let Some(waiting) = waiting {
        return (waiting, Tone::Waiting);
    }
    let tone = match task.status {
        TaskStatus::Scheduled => return (crate::later::chip(task), Tone::Scheduled),
        TaskStatus::Queued => Tone::Queued,
        TaskStatus::Running => Tone::Running,
        TaskStatus::Paused | TaskStatus::Cancelling => Tone::Paused,
        TaskStatus::Succeeded => Tone::Done,
        TaskStatus::CompletedWithErrors => Tone::Warning,
        TaskStatus::Failed => Tone::Error,
        TaskStatus::Cancelled => Tone::Cancelled,
    };
    (task.status.words().to_owned(), tone)
}

/// A task item's status in words and tone.
pub fn item_status(status: ItemStatus) -> (&'static str, Tone) {
    let tone = match status {
        ItemStatus::Pending => Tone::Queued,
        ItemStatus::Running | ItemStatus::Waiting => Tone::Running,
        ItemStatus::Succeeded => Tone::Done,
        ItemStatus::Failed => Tone::Error,
        ItemStatus::Skipped | ItemStatus::Cancelled => Tone::Cancelled,
    };
    (status.as_str(), tone)
}

#[component]
pub fn Chip(#[prop(into)] label: String, tone: Tone) -> impl IntoView {
    view! {
        <span class=format!("chip chip-{}", tone.class())>
            <svg class="chip-icon" aria-hidden="true" viewBox="0 0 24 24" width="12" height="12" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round">
                <path d=tone.icon() />
            </svg>
            {label}
        </span>
    }
}

/// A task's progress as one bar in segments — succeeded, failed, skipped or cancelled,
/// and what is left — so a run with failures never looks like a clean one, and every
/// surface (tray, task list, task page, import page) draws the same counts the same way.
/// Failures are hatched as well as red; screen readers hear the counts in words.
#[component]
pub fn TaskBar(counts: task_model::TaskCounts, #[prop(into)] label: String) -> impl IntoView {
    let c = counts;
    let total = c.total.max(1) as f64;
    let width = |n: i64| format!("width: {:.2}%", n.max(0) as f64 * 100.0 / total);
    let mut said = format!("{} of {} done", c.done(), c.total);
    if c.waiting > 0 {
        said.push_str(&format!(", {} waiting for the marketplace", c.waiting));
    }
    if c.failed > 0 {
        said.push_str(&format!(", {} failed", c.failed));
    }
    if c.skipped + c.cancelled > 0 {
        said.push_str(&format!(
            ", {} skipped or cancelled",
            c.skipped + c.cancelled
        ));
    }
    view! {
        <div class="task-bar" role="progressbar" aria-label=label aria-valuemin="0"
            aria-valuemax=c.total aria-valuenow=c.done() aria-valuetext=said>
            <span class="seg seg-succeeded" style=width(c.succeeded)></span>
            <span class="seg seg-waiting" style=width(c.waiting)></span>
            <span class="seg seg-failed" style=width(c.failed)></span>
            <span class="seg seg-skipped" style=width(c.skipped + c.cancelled)></span>
        </div>
    }
}

/// Items done (in any end state) of a task.
pub fn done_of(task: &TaskSummary) -> i64 {
    task.counts.done()
}

/// A modal dialog on the browser's own `<dialog>`: it traps focus, closes on Esc, and
/// gives focus back to what opened it. `inline` shows it in place, open, for the design
/// gallery.
#[component]
pub fn Dialog(
    open: RwSignal<bool>,
    /// Unique on the page: names the title for screen readers.
    id: &'static str,
    #[prop(into)] title: Signal<String>,
    #[prop(optional)] inline: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Dialog>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let wanted = open.get();
        if let Some(dialog) = node.get() {
            if inline {
                return;
            }
            if wanted && !dialog.open() {
                let _ = dialog.show_modal();
            } else if !wanted && dialog.open() {
                dialog.close();
            }
        }
    });
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <dialog node_ref=node id=id class="dialog" class:inline=inline open=inline aria-labelledby=labelled_by
            on:close=move |_| open.set(false)>
            <h2 id=title_id>{move || title.get()}</h2>
            <Show when=move || open.get() || inline>{children()}</Show>
        </dialog>
    }
}

/// "1–50 of 230 · ‹ Previous · Page 1 of 5 · Next ›", on a page signal.
#[component]
pub fn Pager(page: RwSignal<u64>, per_page: u64, total: u64) -> impl IntoView {
    let pages = total.div_ceil(per_page.max(1)).max(1);
    let current = page.get_untracked().min(pages);
    let first = if total == 0 {
        0
    } else {
        (current - 1) * per_page + 1
    };
    let last = (current * per_page).min(total);
    let (at_first, at_last) = (current <= 1, current >= pages);
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            <button type="button" class="button small" disabled=at_first on:click=move |_| page.set(current - 1)>"‹ Previous"</button>
            <span>{format!("Page {current} of {pages}")}</span>
            <button type="button" class="button small" disabled=at_last on:click=move |_| page.set(current + 1)>"Next ›"</button>
        </nav>
    }
}

/// "12 s", "4 min 5 s", "1 h 2 min": how long something took.
pub fn elapsed_words(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 if s % 60 == 0 => format!("{} min", s / 60),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_naturally() {
        assert_eq!(elapsed_words(0), "0 s");
        assert_eq!(elapsed_words(245), "4 min 5 s");
        assert_eq!(elapsed_words(420), "7 min");
        assert_eq!(elapsed_words(3720), "1 h 2 min");
    }

    #[test]
    fn item_chips_say_their_status_in_words_and_tone() {
        assert_eq!(item_status(ItemStatus::Pending), ("pending", Tone::Queued));
        assert_eq!(item_status(ItemStatus::Running), ("running", Tone::Running));
        assert_eq!(
            item_status(ItemStatus::Succeeded),
            ("succeeded", Tone::Done)
        );
        assert_eq!(item_status(ItemStatus::Failed), ("failed", Tone::Error));
        assert_eq!(
            item_status(ItemStatus::Skipped),
            ("skipped", Tone::Cancelled)
        );
        assert_eq!(
            item_status(ItemStatus::Cancelled),
            ("cancelled", Tone::Cancelled)
        );
    }
}
