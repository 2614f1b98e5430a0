//! Tasks that start later: a task may wait for its time (`start_at`) or for the step
//! before it in a chain (`previous_task_id`), in the new status `scheduled`. A chain's
//! steps know their place (`chain_step` of `chain_of`) and their neighbours.
//!
//! The status CHECK gains `scheduled`. PostgreSQL swaps the constraint. SQLite cannot
//! alter a CHECK; its documented way for a change that leaves every stored row valid is to
//! edit the table's definition in the schema table (under `writable_schema`, bumping
//! `schema_version` so every connection reloads it), which is what happens here, in the
//! migration's transaction.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    StartAt,
    PreviousTaskId,
    NextTaskId,
    ChainStep,
    ChainOf,
}

const STATUSES: &str = "'scheduled', 'queued', 'running', 'paused', 'cancelling', 'cancelled', \
     'succeeded', 'completed_with_errors', 'failed'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            timestamp_with_time_zone_null(Tasks::StartAt),
            big_integer_null(Tasks::PreviousTaskId),
            big_integer_null(Tasks::NextTaskId),
            integer_null(Tasks::ChainStep),
            integer_null(Tasks::ChainOf),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // The scheduler's question: which scheduled tasks are due.
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_scheduled")
                    .table(Tasks::Table)
                    .col(Alias::new("status"))
                    .col(Tasks::StartAt)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "DO $$ DECLARE c text; BEGIN \
                       SELECT conname INTO c FROM pg_constraint \
                        WHERE conrelid = 'tasks'::regclass AND contype = 'c' \
                          AND pg_get_constraintdef(oid) LIKE '%''completed_with_errors''%' \
                          AND pg_get_constraintdef(oid) LIKE '%''queued''%'; \
                       IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE tasks DROP CONSTRAINT %I', c); END IF; \
                     END $$; \
                     ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ({STATUSES}))"
                ))
                .await?;
            }
            DbBackend::Sqlite => {
                super::edit_sqlite_tables(
                    db,
                    &[(
                        "tasks",
                        "'queued', 'running'",
                        "'scheduled', 'queued', 'running'",
                    )],
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!("{other:?} is not supported")));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_tasks_scheduled").to_owned())
            .await?;
        for column in [
            Tasks::StartAt,
            Tasks::PreviousTaskId,
            Tasks::NextTaskId,
            Tasks::ChainStep,
            Tasks::ChainOf,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // The wider status check stays (narrowing it would fail on any scheduled row).
        // A build from before this migration cannot read a task left `scheduled`:
        // start or cancel scheduled tasks before going back.
        Ok(())
    }
}
