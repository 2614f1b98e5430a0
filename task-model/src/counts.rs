//! How many of a task's items stand where.

use serde::{Deserialize, Serialize};

use crate::ItemStatus;

/// The task's counters, kept in the same transaction as the item moves they count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskCounts {
    pub total: i64,
    pub pending: i64,
    /// Accepted by the marketplace, waiting for it to finish processing.
    #[serde(default)]
    pub waiting: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub cancelled: i64,
}

impl TaskCounts {
    /// Items that reached an end (for progress bars and throughput).
    pub fn done(&self) -> i64 {
        self.succeeded + self.failed + self.skipped + self.cancelled
    }

    /// The counter of one item status.
    pub fn of(&self, status: ItemStatus) -> i64 {
        match status {
            ItemStatus::Pending => self.pending,
            ItemStatus::Waiting => self.waiting,
            ItemStatus::Running => self.running,
            ItemStatus::Succeeded => self.succeeded,
            ItemStatus::Failed => self.failed,
            ItemStatus::Skipped => self.skipped,
            ItemStatus::Cancelled => self.cancelled,
        }
    }

    /// Items not at an end yet: to do, waiting for the marketplace, or in hand.
    pub fn left(&self) -> i64 {
        self.pending + self.waiting + self.running
    }

    /// Moves `n` items from one status to another.
    pub fn shift(&mut self, from: ItemStatus, to: ItemStatus, n: i64) {
        *self.slot(from) -= n;
        *self.slot(to) += n;
    }

    fn slot(&mut self, status: ItemStatus) -> &mut i64 {
        match status {
            ItemStatus::Pending => &mut self.pending,
            ItemStatus::Waiting => &mut self.waiting,
            ItemStatus::Running => &mut self.running,
            ItemStatus::Succeeded => &mut self.succeeded,
            ItemStatus::Failed => &mut self.failed,
            ItemStatus::Skipped => &mut self.skipped,
            ItemStatus::Cancelled => &mut self.cancelled,
        }
    }

    /// Whole percent of items done, 0 for an empty task.
    pub fn percent(&self) -> u32 {
        if self.total > 0 {
            (self.done().clamp(0, self.total) * 100 / self.total) as u32
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifting_keeps_the_total_and_moves_one_counter_into_another() {
        let mut c = TaskCounts {
            total: 10,
            pending: 10,
            ..TaskCounts::default()
        };
        c.shift(ItemStatus::Pending, ItemStatus::Running, 4);
        c.shift(ItemStatus::Running, ItemStatus::Failed, 1);
        c.shift(ItemStatus::Running, ItemStatus::Succeeded, 3);
        assert_eq!((c.pending, c.running, c.succeeded, c.failed), (6, 0, 3, 1));
        assert_eq!(c.done(), 4);
        assert_eq!(c.percent(), 40);
        assert_eq!(ItemStatus::ALL.map(|s| c.of(s)).iter().sum::<i64>(), 10);
    }
}
