//! The two state machines. Every variant says who moves a task or an item into it and
//! out of it; the schema's CHECK constraints mirror the terminal/finished invariants.

use serde::{Deserialize, Serialize};

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waits for its time (`start_at`) or for the step before it in a chain to end.
    /// In: `create` with a later start, or as a chain's later step. Out: its time coming
    /// (→ queued), start now (→ queued), the step before it ending (→ queued, or
    /// cancelled when it leaves nothing to do), cancel.
    Scheduled,
    /// In: `create`, the start of a scheduled task. Out: the first claim (→ running), pause, cancel.
    Queued,
    /// In: the first claim, resume of a started task, retry of a finished one.
    /// Out: the last item finishing (settle), pause, cancel.
    Running,
    /// In: pause. Out: resume (→ queued or running), cancel, settle when the in-flight
    /// items finish and nothing is pending.
    Paused,
    /// In: cancel while items are in flight. Out: the last in-flight item ending (→ cancelled).
    Cancelling,
    /// Terminal. In: cancel with nothing in flight, or the end of cancelling.
    Cancelled,
    /// Terminal. In: settle with no failed items. Out: none (nothing left to retry).
    Succeeded,
    /// Terminal. In: settle with some failed and some done items. Out: retry (→ running),
    /// skip of the last failures (→ succeeded).
    CompletedWithErrors,
    /// Terminal. In: settle when every item failed. Out: retry (→ running), skip.
    Failed,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 9] = [
        Self::Scheduled,
        Self::Queued,
        Self::Running,
        Self::Paused,
        Self::Cancelling,
        Self::Cancelled,
        Self::Succeeded,
        Self::CompletedWithErrors,
        Self::Failed,
    ];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Succeeded => "succeeded",
            Self::CompletedWithErrors => "completed_with_errors",
            Self::Failed => "failed",
        }
    }

    /// What a seller reads on a status chip.
    pub const fn words(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Succeeded => "done",
            Self::CompletedWithErrors => "done with problems",
            Self::Failed => "failed",
        }
    }

    /// The one rule for "is this task over?": nothing runs and nothing will unless the
    /// seller retries.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Cancelled | Self::Succeeded | Self::CompletedWithErrors | Self::Failed
        )
    }

    /// Statuses whose pending items workers may claim.
    pub const fn claimable(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

crate::named!(TaskStatus, "task status");

/// Where one item of a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// In: create; a transient error (with a backoff); the rescuer (expired lease);
    /// retry of a failed item. Out: a claim (→ running), cancel (→ cancelled).
    Pending,
    /// Accepted by the marketplace, which has not finished processing it. In: the
    /// owner's "accepted, check later". Out: a claim when its check is due (→ running;
    /// no attempt counted), cancel (→ cancelled).
    Waiting,
    /// In: a claim, which sets the lease and counts an attempt. Out: only the lease
    /// owner's outcome (→ succeeded, failed, pending, waiting, cancelled), or the rescuer.
    Running,
    /// Terminal. In: the owner's success.
    Succeeded,
    /// In: a permanent error, or the last attempt's transient error. Out: retry
    /// (→ pending), skip (→ skipped).
    Failed,
    /// Terminal. In: skip of a failed item.
    Skipped,
    /// Terminal. In: cancel (pending items at once, in-flight items when they stop).
    Cancelled,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 7] = [
        Self::Pending,
        Self::Waiting,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
    ];

    /// The stored and wire name; also the name of the task counter that counts it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Waiting => "waiting",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    /// The item reached an end for now (a failed item may still be retried).
    pub const fn is_done(self) -> bool {
        !matches!(self, Self::Pending | Self::Waiting | Self::Running)
    }
}

crate::named!(ItemStatus, "item status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names_and_serde() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::try_from(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        for status in ItemStatus::ALL {
            assert_eq!(ItemStatus::try_from(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_guess() {
        let err = TaskStatus::try_from("finished").unwrap_err();
        assert_eq!(err.to_string(), "“finished” is not a task status");
        assert!(ItemStatus::try_from("Failed").is_err());
    }

    #[test]
    fn only_queued_and_running_tasks_are_claimable() {
        let claimable: Vec<_> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.claimable())
            .collect();
        assert_eq!(claimable, [TaskStatus::Queued, TaskStatus::Running]);
        let over: Vec<_> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            over,
            [
                TaskStatus::Cancelled,
                TaskStatus::Succeeded,
                TaskStatus::CompletedWithErrors,
                TaskStatus::Failed
            ]
        );
    }
}
