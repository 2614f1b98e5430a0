//! What a task's start and end say, the same in a toast, a notification and on the task
//! page: the words come from the kind's [`Presentation`] and the task's counts.

use serde::{Deserialize, Serialize};

use crate::{plural, Presentation, TaskCounts, TaskStatus};

/// How a message sounds: its colour and whether it stays until closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Success,
    Warning,
    Error,
}

impl Tone {
    pub const ALL: [Tone; 4] = [Self::Info, Self::Success, Self::Warning, Self::Error];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// Success and information go by themselves; problems stay until closed.
    pub const fn sticky(self) -> bool {
        matches!(self, Self::Warning | Self::Error)
    }
}

crate::named!(Tone, "message tone");

/// What the end of a task says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub tone: Tone,
    pub title: String,
    pub body: String,
    /// "Review 13 failures", when there is something to review.
    pub review: Option<String>,
}

/// A task as toasts and notifications name it: its short number first, so two
/// "Publish 200 items" can be told apart ("#42 Publish 200 items").
pub fn numbered(id: i64, label: &str) -> String {
    format!("#{id} {label}")
}

/// The words for a task that started: title and body, with the time it was estimated
/// to take when it has one.
pub fn started(label: &str, estimate: Option<&crate::Estimate>) -> (String, String) {
    let background = "It runs in the background — you can keep working.";
    (
        format!("{label} started"),
        match estimate {
            Some(estimate) => format!("It should take {}. {background}", estimate.about()),
            None => background.to_owned(),
        },
    )
}

/// The question before retrying or skipping `count` items of a batch ("failed",
/// "“Image missing”", "selected"): its title and what happens.
pub fn batch(control: crate::Control, count: i64, what: &str) -> (String, String) {
    let retry = control == crate::Control::Retry;
    let title = format!(
        "{} {}?",
        if retry { "Retry" } else { "Skip" },
        plural(count, "item", "items")
    );
    let body = match (retry, count == 1) {
        (true, true) => format!(
            "The {what} item goes back in the queue and is sent again. It runs in the background: you can keep working."
        ),
        (true, false) => format!(
            "The {count} {what} items go back in the queue and are sent again. It runs in the background: you can keep working."
        ),
        (false, true) => format!(
            "The {what} item is skipped: the task can finish without it. It stays listed here as skipped."
        ),
        (false, false) => format!(
            "The {count} {what} items are skipped: the task can finish without them. They stay listed here as skipped."
        ),
    };
    (title, body)
}

/// How far a task is, in the same words on every surface: "12 of 200", and the items a
/// marketplace accepted and is still processing: "180 of 200 · 20 waiting for the
/// marketplace".
pub fn progress(c: &TaskCounts) -> String {
    let mut said = format!("{} of {}", c.done(), c.total);
    if c.waiting > 0 {
        said.push_str(&format!(" · {} waiting for the marketplace", c.waiting));
    }
    said
}

/// What cancelling a task does to its items, asked before it is done.
pub fn cancel_question(kind: &Presentation, c: &TaskCounts) -> String {
    let mut said = if c.pending > 0 {
        format!(
            "{} not started yet will be cancelled.",
            kind.count(c.pending)
        )
    } else {
        "Nothing is waiting to start.".to_owned()
    };
    if c.waiting > 0 {
        said.push_str(&format!(
            " {} the marketplace accepted {} no longer followed: the marketplace may still list {} when it has processed {}.",
            c.waiting,
            if c.waiting == 1 { "is" } else { "are" },
            if c.waiting == 1 { "it" } else { "them" },
            if c.waiting == 1 { "it" } else { "them" },
        ));
    }
    if c.running > 0 {
        said.push_str(&format!(
            " {} in progress {} first.",
            c.running,
            if c.running == 1 { "finishes" } else { "finish" }
        ));
    }
    if c.succeeded > 0 {
        said.push_str(&format!(
            " The {} already done {} done",
            c.succeeded,
            if c.succeeded == 1 { "stays" } else { "stay" }
        ));
        if c.failed > 0 {
            said.push_str(&format!(
                ", and the {} failed {} in the error report",
                c.failed,
                if c.failed == 1 { "stays" } else { "stay" }
            ));
        }
        said.push('.');
    } else if c.failed > 0 {
        said.push_str(&format!(
            " The {} failed {} in the error report.",
            c.failed,
            if c.failed == 1 { "stays" } else { "stay" }
        ));
    }
    said
}

/// The words for a task that reached `status`; `None` while it is not over.
pub fn finished(
    kind: &Presentation,
    label: &str,
    status: TaskStatus,
    c: &TaskCounts,
) -> Option<Finished> {
    let done = kind.done;
    let review =
        (c.failed > 0).then(|| format!("Review {}", plural(c.failed, "failure", "failures")));
    let (tone, title, body) = match status {
        TaskStatus::Succeeded if c.skipped > 0 && c.succeeded == 0 => (
            Tone::Success,
            format!("{label} done"),
            format!("Nothing {done}: {} skipped.", c.skipped),
        ),
        TaskStatus::Succeeded if c.skipped > 0 => (
            Tone::Success,
            format!("{label} done"),
            format!("{} {done}, {} skipped.", c.succeeded, c.skipped),
        ),
        TaskStatus::Succeeded if c.succeeded == 1 => (
            Tone::Success,
            format!("{label} done"),
            format!("The {} was {done}.", kind.unit.0),
        ),
        TaskStatus::Succeeded => (
            Tone::Success,
            format!("{label} done"),
            format!("All {} {done}.", kind.count(c.succeeded)),
        ),
        TaskStatus::CompletedWithErrors => (
            Tone::Warning,
            format!("{label} done with problems"),
            format!(
                "{} {done}, {} attention.",
                c.succeeded,
                plural(c.failed, "needs", "need")
            ),
        ),
        TaskStatus::Failed if c.failed == 1 => (
            Tone::Error,
            format!("{label} failed"),
            format!("The {} did not go through.", kind.unit.0),
        ),
        TaskStatus::Failed => (
            Tone::Error,
            format!("{label} failed"),
            format!("None of the {} went through.", kind.count(c.failed)),
        ),
        TaskStatus::Cancelled if c.succeeded == 0 => (
            Tone::Info,
            format!("{label} cancelled"),
            format!("Cancelled before anything was {done}."),
        ),
        TaskStatus::Cancelled => (
            Tone::Info,
            format!("{label} cancelled"),
            format!(
                "{} {done} before the cancel, {} cancelled.",
                c.succeeded, c.cancelled
            ),
        ),
        TaskStatus::Scheduled
        | TaskStatus::Queued
        | TaskStatus::Running
        | TaskStatus::Paused
        | TaskStatus::Cancelling => return None,
    };
    Some(Finished {
        tone,
        title,
        body,
        review,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{ALL, IMPORT, PUBLISH};

    #[test]
    fn a_start_says_the_estimate_when_there_is_one() {
        let estimate = crate::Estimate {
            seconds: 42,
            low: 41,
            high: 44,
            basis: crate::Basis::Measured,
            shared_with: 0,
            items: 200,
            calls: 200,
        };
        assert_eq!(
            started("Publish 200 items", Some(&estimate)),
            (
                "Publish 200 items started".to_owned(),
                "It should take about 42 s. It runs in the background — you can keep working."
                    .to_owned()
            )
        );
        assert_eq!(
            started("Publish 200 items", None).1,
            "It runs in the background — you can keep working."
        );
    }

    #[test]
    fn progress_says_what_waits_for_the_marketplace() {
        let mut c = TaskCounts {
            total: 200,
            succeeded: 180,
            waiting: 20,
            ..TaskCounts::default()
        };
        assert_eq!(progress(&c), "180 of 200 · 20 waiting for the marketplace");
        c.succeeded = 200;
        c.waiting = 0;
        assert_eq!(progress(&c), "200 of 200");
    }

    fn counts(succeeded: i64, failed: i64, skipped: i64, cancelled: i64) -> TaskCounts {
        TaskCounts {
            total: succeeded + failed + skipped + cancelled,
            succeeded,
            failed,
            skipped,
            cancelled,
            ..TaskCounts::default()
        }
    }

    #[test]
    fn each_end_says_what_happened_in_the_kinds_words() {
        let ends = [
            (
                TaskStatus::Succeeded,
                counts(200, 0, 0, 0),
                Tone::Success,
                "Publish 200 items done",
                "All 200 items published.",
                None,
            ),
            (
                TaskStatus::Succeeded,
                counts(187, 0, 13, 0),
                Tone::Success,
                "Publish 200 items done",
                "187 published, 13 skipped.",
                None,
            ),
            (
                TaskStatus::CompletedWithErrors,
                counts(187, 13, 0, 0),
                Tone::Warning,
                "Publish 200 items done with problems",
                "187 published, 13 need attention.",
                Some("Review 13 failures"),
            ),
            (
                TaskStatus::CompletedWithErrors,
                counts(199, 1, 0, 0),
                Tone::Warning,
                "Publish 200 items done with problems",
                "199 published, 1 needs attention.",
                Some("Review 1 failure"),
            ),
            (
                TaskStatus::Failed,
                counts(0, 200, 0, 0),
                Tone::Error,
                "Publish 200 items failed",
                "None of the 200 items went through.",
                Some("Review 200 failures"),
            ),
            (
                TaskStatus::Cancelled,
                counts(30, 0, 0, 170),
                Tone::Info,
                "Publish 200 items cancelled",
                "30 published before the cancel, 170 cancelled.",
                None,
            ),
        ];
        for (status, c, tone, title, body, review) in ends {
            let said = finished(&PUBLISH, "Publish 200 items", status, &c).unwrap();
            assert_eq!(said.tone, tone);
            assert_eq!(said.title, title);
            assert_eq!(said.body, body);
            assert_eq!(said.review.as_deref(), review);
        }
        let import = finished(
            &IMPORT,
            "Import 1 row from a.csv",
            TaskStatus::Failed,
            &counts(0, 1, 0, 0),
        )
        .unwrap();
        assert_eq!(import.body, "The row did not go through.");
        let one = finished(
            &PUBLISH,
            "Publish 1 item",
            TaskStatus::Succeeded,
            &counts(1, 0, 0, 0),
        )
        .unwrap();
        assert_eq!(one.body, "The item was published.");
        let skipped = finished(
            &PUBLISH,
            "Publish 2 items",
            TaskStatus::Succeeded,
            &counts(0, 0, 2, 0),
        )
        .unwrap();
        assert_eq!(skipped.body, "Nothing published: 2 skipped.");
    }

    #[test]
    fn batch_questions_agree_with_their_count() {
        use crate::Control;
        assert_eq!(
            batch(Control::Retry, 1, "failed"),
            (
                "Retry 1 item?".to_owned(),
                "The failed item goes back in the queue and is sent again. It runs in the background: you can keep working.".to_owned()
            )
        );
        assert_eq!(
            batch(Control::Skip, 12, "“Image missing”").0,
            "Skip 12 items?"
        );
        assert!(batch(Control::Skip, 12, "selected")
            .1
            .starts_with("The 12 selected items are skipped"));
        assert!(batch(Control::Skip, 1, "selected")
            .1
            .ends_with("It stays listed here as skipped."));
    }

    #[test]
    fn the_cancel_question_counts_right() {
        let c = TaskCounts {
            total: 200,
            pending: 150,
            running: 1,
            succeeded: 48,
            failed: 1,
            ..TaskCounts::default()
        };
        assert_eq!(
            cancel_question(&PUBLISH, &c),
            "150 items not started yet will be cancelled. 1 in progress finishes first. The 48 already done stay done, and the 1 failed stays in the error report."
        );
        let c = TaskCounts {
            total: 1,
            pending: 1,
            ..TaskCounts::default()
        };
        assert_eq!(
            cancel_question(&PUBLISH, &c),
            "1 item not started yet will be cancelled."
        );
    }

    #[test]
    fn tones_round_trip_and_only_problems_stay() {
        for tone in Tone::ALL {
            assert_eq!(Tone::try_from(tone.as_str()), Ok(tone));
        }
        let sticky: Vec<Tone> = Tone::ALL.into_iter().filter(|t| t.sticky()).collect();
        assert_eq!(sticky, [Tone::Warning, Tone::Error]);
        assert!(Tone::try_from("fatal").is_err());
    }

    #[test]
    fn every_kind_says_something_at_every_end_and_nothing_before() {
        for kind in ALL {
            for status in TaskStatus::ALL {
                let said = finished(kind, "Label", status, &counts(1, 1, 1, 1));
                assert_eq!(
                    said.is_some(),
                    status.is_terminal(),
                    "{} {status}",
                    kind.name
                );
                if let Some(said) = said {
                    assert!(said.body.ends_with('.') && !said.title.is_empty());
                }
            }
        }
    }
}
