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
