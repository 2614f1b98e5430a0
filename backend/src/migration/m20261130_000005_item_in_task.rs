//! A task item over a catalog item names it in a column of its own, so the catalog and the
//! item page can ask "is this item in a running task?" through an index rather than by
//! reading every task item's subject; and each seller's time zone is remembered, so
//! pages rendered on the server and notifications read in the seller's own time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TaskItems {
    Table,
    SellerId,
    CatalogItemId,
}

#[derive(DeriveIden)]
enum Sellers {
    Table,
    TimeZone,
}

const INDEX: &str = "idx_task_items_catalog_item";
/// Only the items a task has still to act on: what the catalog's chips and its "In a
/// running task" filter ask for, without reading the seller's task history.
const AHEAD_INDEX: &str = "idx_task_items_catalog_item_ahead";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One change per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(TaskItems::Table)
                    .add_column(big_integer_null(TaskItems::CatalogItemId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(TaskItems::Table)
                    .col(TaskItems::SellerId)
                    .col(TaskItems::CatalogItemId)
                    .to_owned(),
            )
            .await?;
        // Tasks made before this column: their catalog subjects are plain ids.
        let backend = manager.get_database_backend();
        let fill = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE task_items SET catalog_item_id = CAST(subject AS BIGINT) \
                 WHERE task_id IN (SELECT id FROM tasks WHERE kind IN ('publish', 'unpublish')) \
                 AND subject ~ '^[0-9]+$'"
            }
            _ => {
                "UPDATE task_items SET catalog_item_id = CAST(subject AS INTEGER) \
                 WHERE task_id IN (SELECT id FROM tasks WHERE kind IN ('publish', 'unpublish')) \
                 AND subject NOT GLOB '*[^0-9]*' AND subject <> ''"
            }
        };
        manager.get_connection().execute_unprepared(fill).await?;
        // A partial index (both engines have them; sea-query's builder does not).
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {AHEAD_INDEX} ON task_items (seller_id, catalog_item_id) \
                 WHERE status IN ('pending', 'running') AND catalog_item_id IS NOT NULL"
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sellers::Table)
                    .add_column(string_len_null(Sellers::TimeZone, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sellers::Table)
                    .drop_column(Sellers::TimeZone)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(AHEAD_INDEX)
                    .table(TaskItems::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(INDEX).table(TaskItems::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TaskItems::Table)
                    .drop_column(TaskItems::CatalogItemId)
                    .to_owned(),
            )
            .await
    }
}
