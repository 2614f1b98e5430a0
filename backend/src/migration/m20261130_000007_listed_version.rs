//! An item remembers which of its versions is live on the marketplace, so an item edited
//! after it was published (in its page, by an import, by a bulk edit) reads as "changed
//! since published" until its listing is updated. Items live before this column count as
//! up to date.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Items {
    Table,
    ListedVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .add_column(integer_null(Items::ListedVersion))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE items SET listed_version = version WHERE listing_state = 'published'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .drop_column(Items::ListedVersion)
                    .to_owned(),
            )
            .await
    }
}
