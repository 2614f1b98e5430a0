//! The two state machines are the product's vocabulary (`task-model`): one definition
//! for the engine, the API and the browser. Here, what the engine adds: the task counter
//! column that counts each item status.

pub use task_model::{ItemStatus, TaskStatus};

use crate::entities::task;

/// The `tasks` column that counts items in `status`.
pub(crate) fn counter_column(status: ItemStatus) -> task::Column {
    match status {
        ItemStatus::Pending => task::Column::Pending,
        ItemStatus::Waiting => task::Column::Waiting,
        ItemStatus::Running => task::Column::Running,
        ItemStatus::Succeeded => task::Column::Succeeded,
        ItemStatus::Failed => task::Column::Failed,
        ItemStatus::Skipped => task::Column::Skipped,
        ItemStatus::Cancelled => task::Column::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iden;

    #[test]
    fn each_item_status_is_counted_by_the_column_of_its_name() {
        for status in ItemStatus::ALL {
            assert_eq!(counter_column(status).to_string(), status.as_str());
        }
    }
}
