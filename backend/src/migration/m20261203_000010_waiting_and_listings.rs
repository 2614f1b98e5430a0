//! "Accepted, waiting for the marketplace": a task item whose submission a marketplace
//! accepted but has not finished processing is in its own status, `waiting`, counted on
//! its task like every other status; and an item's listing is remembered per connection
//! (`listings`), with the submission being processed when there is one.
//!
//! The task items' status CHECK gains `waiting`, and the tasks' "counters add up to the
//! total" CHECK counts it, the way migration 000008 widened the tasks' status check
//! (PostgreSQL swaps the constraints; SQLite's table definitions are edited under
//! `writable_schema`, which every stored row still satisfies: `waiting` starts at 0).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Waiting,
}

#[derive(DeriveIden)]
enum Items {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Listings {
    Table,
    Id,
    SellerId,
    ItemId,
    ConnectionId,
    State,
    Reference,
    SubmissionId,
    SubmittedAt,
    /// The task item whose submission is being processed: only it checks on it.
    TaskItemId,
    Issues,
    UpdatedAt,
}

const ITEM_STATUSES: &str =
    "'pending', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(
                        big_integer(Tasks::Waiting)
                            .default(0)
                            .check(Expr::col(Tasks::Waiting).gte(0)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Listings::Table)
                    .col(big_pk_auto(Listings::Id))
                    .col(big_integer(Listings::SellerId))
                    .col(big_integer(Listings::ItemId))
                    .col(big_integer(Listings::ConnectionId))
                    .col(
                        string_len(Listings::State, 16).check(Expr::col(Listings::State).is_in([
                            "processing",
                            "listed",
                            "refused",
                            "removed",
                        ])),
                    )
                    .col(string_len_null(Listings::Reference, 100))
                    .col(string_len_null(Listings::SubmissionId, 100))
                    .col(timestamp_with_time_zone_null(Listings::SubmittedAt))
                    .col(big_integer_null(Listings::TaskItemId))
                    .col(text_null(Listings::Issues))
                    .col(timestamp_with_time_zone(Listings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_listings_item")
                            .from(Listings::Table, Listings::ItemId)
                            .to(Items::Table, Items::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_listings_connection")
                            .from(Listings::Table, Listings::ConnectionId)
                            .to(Connections::Table, Connections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_listings_item_connection")
                    .table(Listings::Table)
                    .col(Listings::ItemId)
                    .col(Listings::ConnectionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // An item waiting for the marketplace is still in its task: the catalog's
        // "in a running task" lookups cover it, through the same partial index.
        db.execute_unprepared("DROP INDEX IF EXISTS idx_task_items_catalog_item_ahead")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_task_items_catalog_item_ahead ON task_items (seller_id, catalog_item_id) \
             WHERE status IN ('pending', 'waiting', 'running') AND catalog_item_id IS NOT NULL",
        )
        .await?;
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "DO $$ DECLARE c text; BEGIN \
                       SELECT conname INTO c FROM pg_constraint \
                        WHERE conrelid = 'task_items'::regclass AND contype = 'c' \
                          AND pg_get_constraintdef(oid) LIKE '%''pending''%'; \
                       IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE task_items DROP CONSTRAINT %I', c); END IF; \
                     END $$; \
                     ALTER TABLE task_items ADD CONSTRAINT task_items_status_check CHECK (status IN ({ITEM_STATUSES}))"
                ))
                .await?;
                db.execute_unprepared(
                    "DO $$ DECLARE c text; BEGIN \
                       SELECT conname INTO c FROM pg_constraint \
                        WHERE conrelid = 'tasks'::regclass AND contype = 'c' \
                          AND pg_get_constraintdef(oid) LIKE '%total%' \
                          AND pg_get_constraintdef(oid) LIKE '%pending%'; \
                       IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE tasks DROP CONSTRAINT %I', c); END IF; \
                     END $$; \
                     ALTER TABLE tasks ADD CONSTRAINT tasks_counters_add_up CHECK \
                       (total = pending + waiting + running + succeeded + failed + skipped + cancelled)",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                super::edit_sqlite_tables(
                    db,
                    &[
                        (
                            "task_items",
                            "'pending', 'running'",
                            "'pending', 'waiting', 'running'",
                        ),
                        (
                            "tasks",
                            r#""total" = "pending" + "running""#,
                            r#""total" = "pending" + "waiting" + "running""#,
                        ),
                    ],
                )
                .await?;
                // Stored rows get the new counter's value written out, rather than read
                // from the column's default: nothing then depends on how a connection
                // parsed the edited definition.
                db.execute_unprepared("UPDATE tasks SET waiting = 0")
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
            .drop_table(Table::drop().table(Listings::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::Waiting)
                    .to_owned(),
            )
            .await?;
        // The wider status check stays (narrowing it would fail on any waiting row).
        Ok(())
    }
}
