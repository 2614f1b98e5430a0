//! The seller's controls over a task, and which statuses each applies to.
//!
//! A control applies where doing it makes sense or is already done (pausing a paused
//! task changes nothing and is not an error). Anywhere else it is refused with
//! [`Control::refusal`], the one sentence the API, the task page and its tests share.

use serde::{Deserialize, Serialize};

use crate::TaskStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// No new items start; those in flight finish.
    Pause,
    /// A paused task takes up its work again.
    Resume,
    /// Items not started are cancelled; those in flight finish first.
    Cancel,
    /// Failed items go back to pending with fresh attempts.
    Retry,
    /// Failed items are set aside as skipped.
    Skip,
    /// A scheduled task starts at once instead of at its time.
    StartNow,
}

impl Control {
    pub const ALL: [Control; 6] = [
        Self::Pause,
        Self::Resume,
        Self::Cancel,
        Self::Retry,
        Self::Skip,
        Self::StartNow,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
            Self::Skip => "skip",
            Self::StartNow => "start_now",
        }
    }

    /// The last segment of its route, `POST /api/v1/tasks/{id}/…`.
    pub const fn path(self) -> &'static str {
        match self {
            Self::StartNow => "start-now",
            other => other.as_str(),
        }
    }

    /// Whether the control may be used on a task in `status`.
    pub const fn applies_to(self, status: TaskStatus) -> bool {
        use TaskStatus as S;
        match self {
            Self::Pause => matches!(status, S::Queued | S::Running | S::Paused),
            Self::Resume => matches!(status, S::Queued | S::Running | S::Paused),
            Self::Cancel => matches!(
                status,
                S::Scheduled | S::Queued | S::Running | S::Paused | S::Cancelling | S::Cancelled
            ),
            // A scheduled task has run nothing: it has no failures.
            Self::Retry | Self::Skip => {
                !matches!(status, S::Scheduled | S::Cancelling | S::Cancelled)
            }
            // Starting a task that already started changes nothing.
            Self::StartNow => !status.is_terminal() && !matches!(status, S::Cancelling),
        }
    }

    /// Whether the task page offers the control's button in `status` (a subset of
    /// [`Control::applies_to`]: no button for what would change nothing).
    pub const fn offered_in(self, status: TaskStatus) -> bool {
        use TaskStatus as S;
        match self {
            Self::Pause => matches!(status, S::Queued | S::Running),
            Self::Resume => matches!(status, S::Paused),
            Self::Cancel => matches!(status, S::Scheduled | S::Queued | S::Running | S::Paused),
            Self::Retry | Self::Skip => self.applies_to(status),
            Self::StartNow => matches!(status, S::Scheduled),
        }
    }

    /// Why the control is refused in `status`, as the seller reads it; `None` where it
    /// applies.
    pub fn refusal(self, status: TaskStatus) -> Option<String> {
        use TaskStatus as S;
        if self.applies_to(status) {
            return None;
        }
        let state = match status {
            S::Scheduled => "This task has not started yet",
            S::Cancelling => "This task is being cancelled",
            S::Cancelled => "This task was cancelled",
            S::Succeeded => "This task has finished",
            S::CompletedWithErrors => "This task has finished with errors",
            S::Failed => "This task has failed",
            // Every control applies to these.
            S::Queued | S::Running | S::Paused => "This task is still running",
        };
        let consequence = match (self, status) {
            (Self::Pause | Self::Resume, S::Scheduled) => "start it now, or cancel it, instead.",
            (Self::Retry, S::Scheduled) => "it has no failures to retry.",
            (Self::Skip, S::Scheduled) => "it has no failures to skip.",
            (Self::StartNow, S::Cancelling | S::Cancelled) => "it will not start.",
            (Self::StartNow, _) => "it has already run.",
            (Self::Pause, _) => "there is nothing left to pause.",
            (Self::Resume, S::Cancelling | S::Cancelled) => "it cannot be resumed.",
            (Self::Resume, _) => "there is nothing to resume.",
            (Self::Cancel, _) => "there is nothing left to cancel.",
            (Self::Retry, _) => "its failures can no longer be retried.",
            (Self::Skip, _) => "its failures can no longer be skipped.",
        };
        let hint = match (self, status) {
            (Self::Pause | Self::Resume, S::CompletedWithErrors | S::Failed) => {
                " Retry its failures to run them again."
            }
            (Self::Cancel, S::CompletedWithErrors | S::Failed) => {
                " Skip its failures to set them aside."
            }
            _ => "",
        };
        Some(format!("{state}: {consequence}{hint}"))
    }
}

crate::named!(Control, "control");

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus as S;

    /// Every control × status, as exact text: `None` where the control applies.
    #[test]
    fn every_refusal_is_a_specific_grammatical_sentence() {
        let expected: &[(Control, TaskStatus, Option<&str>)] = &[
            (Control::Pause, S::Scheduled, Some("This task has not started yet: start it now, or cancel it, instead.")),
            (Control::Resume, S::Scheduled, Some("This task has not started yet: start it now, or cancel it, instead.")),
            (Control::Cancel, S::Scheduled, None),
            (Control::Retry, S::Scheduled, Some("This task has not started yet: it has no failures to retry.")),
            (Control::Skip, S::Scheduled, Some("This task has not started yet: it has no failures to skip.")),
            (Control::StartNow, S::Scheduled, None),
            (Control::StartNow, S::Queued, None),
            (Control::StartNow, S::Running, None),
            (Control::StartNow, S::Paused, None),
            (Control::StartNow, S::Cancelling, Some("This task is being cancelled: it will not start.")),
            (Control::StartNow, S::Cancelled, Some("This task was cancelled: it will not start.")),
            (Control::StartNow, S::Succeeded, Some("This task has finished: it has already run.")),
            (Control::StartNow, S::CompletedWithErrors, Some("This task has finished with errors: it has already run.")),
            (Control::StartNow, S::Failed, Some("This task has failed: it has already run.")),
            (Control::Pause, S::Queued, None),
            (Control::Pause, S::Running, None),
            (Control::Pause, S::Paused, None),
            (Control::Pause, S::Cancelling, Some("This task is being cancelled: there is nothing left to pause.")),
            (Control::Pause, S::Cancelled, Some("This task was cancelled: there is nothing left to pause.")),
            (Control::Pause, S::Succeeded, Some("This task has finished: there is nothing left to pause.")),
            (Control::Pause, S::CompletedWithErrors, Some("This task has finished with errors: there is nothing left to pause. Retry its failures to run them again.")),
            (Control::Pause, S::Failed, Some("This task has failed: there is nothing left to pause. Retry its failures to run them again.")),
            (Control::Resume, S::Queued, None),
            (Control::Resume, S::Running, None),
            (Control::Resume, S::Paused, None),
            (Control::Resume, S::Cancelling, Some("This task is being cancelled: it cannot be resumed.")),
            (Control::Resume, S::Cancelled, Some("This task was cancelled: it cannot be resumed.")),
            (Control::Resume, S::Succeeded, Some("This task has finished: there is nothing to resume.")),
            (Control::Resume, S::CompletedWithErrors, Some("This task has finished with errors: there is nothing to resume. Retry its failures to run them again.")),
            (Control::Resume, S::Failed, Some("This task has failed: there is nothing to resume. Retry its failures to run them again.")),
            (Control::Cancel, S::Queued, None),
            (Control::Cancel, S::Running, None),
            (Control::Cancel, S::Paused, None),
            (Control::Cancel, S::Cancelling, None),
            (Control::Cancel, S::Cancelled, None),
            (Control::Cancel, S::Succeeded, Some("This task has finished: there is nothing left to cancel.")),
            (Control::Cancel, S::CompletedWithErrors, Some("This task has finished with errors: there is nothing left to cancel. Skip its failures to set them aside.")),
            (Control::Cancel, S::Failed, Some("This task has failed: there is nothing left to cancel. Skip its failures to set them aside.")),
            (Control::Retry, S::Queued, None),
            (Control::Retry, S::Running, None),
            (Control::Retry, S::Paused, None),
            (Control::Retry, S::Cancelling, Some("This task is being cancelled: its failures can no longer be retried.")),
            (Control::Retry, S::Cancelled, Some("This task was cancelled: its failures can no longer be retried.")),
            (Control::Retry, S::Succeeded, None),
            (Control::Retry, S::CompletedWithErrors, None),
            (Control::Retry, S::Failed, None),
            (Control::Skip, S::Queued, None),
            (Control::Skip, S::Running, None),
            (Control::Skip, S::Paused, None),
            (Control::Skip, S::Cancelling, Some("This task is being cancelled: its failures can no longer be skipped.")),
            (Control::Skip, S::Cancelled, Some("This task was cancelled: its failures can no longer be skipped.")),
            (Control::Skip, S::Succeeded, None),
            (Control::Skip, S::CompletedWithErrors, None),
            (Control::Skip, S::Failed, None),
        ];
        assert_eq!(expected.len(), Control::ALL.len() * TaskStatus::ALL.len());
        for (control, status, text) in expected {
            assert_eq!(
                control.refusal(*status).as_deref(),
                *text,
                "{control} in {status}"
            );
        }
    }

    #[test]
    fn a_button_is_offered_only_where_the_control_applies() {
        for control in Control::ALL {
            for status in TaskStatus::ALL {
                if control.offered_in(status) {
                    assert!(control.applies_to(status), "{control} in {status}");
                }
            }
        }
    }

    #[test]
    fn controls_round_trip_through_their_names() {
        for control in Control::ALL {
            assert_eq!(Control::try_from(control.as_str()), Ok(control));
        }
        assert!(Control::try_from("cancelled").is_err());
    }
}
