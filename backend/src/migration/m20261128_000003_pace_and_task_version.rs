//! The marketplace pace per seller account, shared by every instance on PostgreSQL
//! (see `crate::pacing`; SQLite has the table too but paces in memory), and a version
//! on tasks, bumped by every change, so event consumers can drop stale events.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MarketplacePace {
    Table,
    Account,
    TatUs,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MarketplacePace::Table)
                    .col(string_len(MarketplacePace::Account, 100).primary_key())
                    .col(big_integer(MarketplacePace::TatUs))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(big_integer(Tasks::Version).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::Version)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MarketplacePace::Table).to_owned())
            .await
    }
}
