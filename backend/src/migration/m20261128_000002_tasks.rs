//! Background tasks, their items, and the notifications they leave behind.
//! The CHECK constraints mirror the state machines in `crate::tasks::state`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sellers {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    SellerId,
    Kind,
    Label,
    Status,
    Params,
    IdempotencyKey,
    MaxAttempts,
    Total,
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
    Throughput,
    WaitingUntil,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TaskItems {
    Table,
    Id,
    TaskId,
    SellerId,
    Position,
    Subject,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseExpiresAt,
    ErrorCode,
    ErrorMessage,
    ErrorDetails,
    Result,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    SellerId,
    TaskId,
    Level,
    Title,
    Body,
    CreatedAt,
    ReadAt,
}

const TASK_STATUSES: [&str; 8] = [
    "queued",
    "running",
    "paused",
    "cancelling",
    "cancelled",
    "succeeded",
    "completed_with_errors",
    "failed",
];
const TASK_TERMINAL: [&str; 4] = ["cancelled", "succeeded", "completed_with_errors", "failed"];
const ITEM_STATUSES: [&str; 6] = [
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
];
const ITEM_TERMINAL: [&str; 4] = ["succeeded", "failed", "skipped", "cancelled"];

fn non_negative(col: Tasks) -> ColumnDef {
    big_integer(col)
        .default(0)
        .check(Expr::col(col).gte(0))
        .to_owned()
}

/// `finished_at` is set exactly when the status is terminal.
fn finished_iff_terminal<T: IntoIden + Copy + 'static>(
    status: T,
    finished_at: T,
    terminal: &[&str],
) -> SimpleExpr {
    let terminal: Vec<String> = terminal.iter().map(|s| String::from(*s)).collect();
    Expr::col(status)
        .is_in(terminal.clone())
        .and(Expr::col(finished_at).is_not_null())
        .or(Expr::col(status)
            .is_not_in(terminal)
            .and(Expr::col(finished_at).is_null()))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let counters_add_up = Expr::col(Tasks::Total).eq(Expr::col(Tasks::Pending)
            .add(Expr::col(Tasks::Running))
            .add(Expr::col(Tasks::Succeeded))
            .add(Expr::col(Tasks::Failed))
            .add(Expr::col(Tasks::Skipped))
            .add(Expr::col(Tasks::Cancelled)));
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(big_pk_auto(Tasks::Id))
                    .col(big_integer(Tasks::SellerId))
                    .col(string_len(Tasks::Kind, 32))
                    .col(string_len(Tasks::Label, 200))
                    .col(
                        string_len(Tasks::Status, 24)
                            .check(Expr::col(Tasks::Status).is_in(TASK_STATUSES)),
                    )
                    .col(text(Tasks::Params))
                    .col(string_len_null(Tasks::IdempotencyKey, 200))
                    .col(integer(Tasks::MaxAttempts).check(Expr::col(Tasks::MaxAttempts).gte(1)))
                    .col(non_negative(Tasks::Total))
                    .col(non_negative(Tasks::Pending))
                    .col(non_negative(Tasks::Running))
                    .col(non_negative(Tasks::Succeeded))
                    .col(non_negative(Tasks::Failed))
                    .col(non_negative(Tasks::Skipped))
                    .col(non_negative(Tasks::Cancelled))
                    .col(double_null(Tasks::Throughput))
                    .col(timestamp_with_time_zone_null(Tasks::WaitingUntil))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::StartedAt))
                    .col(timestamp_with_time_zone_null(Tasks::FinishedAt))
                    .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                    .check(counters_add_up)
                    .check(finished_iff_terminal(
                        Tasks::Status,
                        Tasks::FinishedAt,
                        &TASK_TERMINAL,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tasks_seller")
                            .from(Tasks::Table, Tasks::SellerId)
                            .to(Sellers::Table, Sellers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Same seller + same key → the same task. NULL keys never collide.
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_idempotency")
                    .table(Tasks::Table)
                    .col(Tasks::SellerId)
                    .col(Tasks::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_seller_created")
                    .table(Tasks::Table)
                    .col(Tasks::SellerId)
                    .col(Tasks::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_status")
                    .table(Tasks::Table)
                    .col(Tasks::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TaskItems::Table)
                    .col(big_pk_auto(TaskItems::Id))
                    .col(big_integer(TaskItems::TaskId))
                    .col(big_integer(TaskItems::SellerId))
                    .col(integer(TaskItems::Position))
                    .col(text(TaskItems::Subject))
                    .col(
                        string_len(TaskItems::Status, 16)
                            .check(Expr::col(TaskItems::Status).is_in(ITEM_STATUSES)),
                    )
                    .col(
                        integer(TaskItems::Attempts)
                            .default(0)
                            .check(Expr::col(TaskItems::Attempts).gte(0)),
                    )
                    .col(timestamp_with_time_zone(TaskItems::NextAttemptAt))
                    .col(string_len_null(TaskItems::LeaseOwner, 64))
                    .col(timestamp_with_time_zone_null(TaskItems::LeaseExpiresAt))
                    .col(string_len_null(TaskItems::ErrorCode, 64))
                    .col(text_null(TaskItems::ErrorMessage))
                    .col(text_null(TaskItems::ErrorDetails))
                    .col(text_null(TaskItems::Result))
                    .col(timestamp_with_time_zone_null(TaskItems::StartedAt))
                    .col(timestamp_with_time_zone_null(TaskItems::FinishedAt))
                    .col(timestamp_with_time_zone(TaskItems::UpdatedAt))
                    // A running item has an owner and a lease; nothing else has.
                    .check(
                        Expr::col(TaskItems::Status)
                            .eq("running")
                            .and(Expr::col(TaskItems::LeaseOwner).is_not_null())
                            .and(Expr::col(TaskItems::LeaseExpiresAt).is_not_null())
                            .or(Expr::col(TaskItems::Status)
                                .ne("running")
                                .and(Expr::col(TaskItems::LeaseOwner).is_null())
                                .and(Expr::col(TaskItems::LeaseExpiresAt).is_null())),
                    )
                    .check(finished_iff_terminal(
                        TaskItems::Status,
                        TaskItems::FinishedAt,
                        &ITEM_TERMINAL,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_items_task")
                            .from(TaskItems::Table, TaskItems::TaskId)
                            .to(Tasks::Table, Tasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "idx_task_items_position",
                vec![TaskItems::TaskId, TaskItems::Position],
                true,
            ),
            // Claims: the pending items of one task in order.
            (
                "idx_task_items_claim",
                vec![TaskItems::TaskId, TaskItems::Status, TaskItems::Position],
                false,
            ),
            // Rescue: expired leases.
            (
                "idx_task_items_lease",
                vec![TaskItems::Status, TaskItems::LeaseExpiresAt],
                false,
            ),
            ("idx_task_items_owner", vec![TaskItems::LeaseOwner], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(TaskItems::Table);
            if unique {
                index.unique();
            }
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(big_pk_auto(Notifications::Id))
                    .col(big_integer(Notifications::SellerId))
                    .col(big_integer_null(Notifications::TaskId))
                    .col(
                        string_len(Notifications::Level, 16).check(
                            Expr::col(Notifications::Level)
                                .is_in(["info", "success", "warning", "error"]),
                        ),
                    )
                    .col(string_len(Notifications::Title, 200))
                    .col(text(Notifications::Body))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notifications_seller")
                            .from(Notifications::Table, Notifications::SellerId)
                            .to(Sellers::Table, Sellers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notifications_task")
                            .from(Notifications::Table, Notifications::TaskId)
                            .to(Tasks::Table, Tasks::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_seller")
                    .table(Notifications::Table)
                    .col(Notifications::SellerId)
                    .col(Notifications::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notifications::Table.into_iden(),
            TaskItems::Table.into_iden(),
            Tasks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
