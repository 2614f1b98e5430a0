//! The marketplace pace per seller account, shared by every instance on PostgreSQL
//! (see `crate::pacing`). SQLite has the table too but paces in memory.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MarketplacePace {
    Table,
    Account,
    TatUs,
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MarketplacePace::Table).to_owned())
            .await
    }
}
