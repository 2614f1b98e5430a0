//! A circuit breaker per marketplace account (`breakers`), and on each task the account
//! its items call (`tasks.endpoint`) and, while that account's breaker is open, the hold
//! the seller is shown (`tasks.hold`, JSON).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Endpoint,
    Hold,
}

#[derive(DeriveIden)]
enum Breakers {
    Table,
    Key,
    SellerId,
    Label,
    Kind,
    Params,
    State,
    Failures,
    OpenedAt,
    NextProbeAt,
    EveryMs,
    ProbeOwner,
    ProbeUntil,
    LastError,
    ClosedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER.
        for column in [string_null(Tasks::Endpoint), text_null(Tasks::Hold)] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_endpoint")
                    .table(Tasks::Table)
                    .col(Tasks::Endpoint)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Breakers::Table)
                    .col(string(Breakers::Key).primary_key())
                    .col(big_integer(Breakers::SellerId))
                    .col(string(Breakers::Label))
                    .col(string(Breakers::Kind))
                    .col(text(Breakers::Params))
                    .col(
                        string(Breakers::State)
                            .default("closed")
                            .check(Expr::col(Breakers::State).is_in(["closed", "open", "probing"])),
                    )
                    .col(
                        integer(Breakers::Failures)
                            .default(0)
                            .check(Expr::col(Breakers::Failures).gte(0)),
                    )
                    .col(timestamp_with_time_zone_null(Breakers::OpenedAt))
                    .col(timestamp_with_time_zone_null(Breakers::NextProbeAt))
                    .col(big_integer(Breakers::EveryMs).default(0))
                    .col(string_null(Breakers::ProbeOwner))
                    .col(timestamp_with_time_zone_null(Breakers::ProbeUntil))
                    .col(text_null(Breakers::LastError))
                    .col(timestamp_with_time_zone_null(Breakers::ClosedAt))
                    .col(timestamp_with_time_zone(Breakers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Breakers::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_endpoint")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Tasks::Hold, Tasks::Endpoint] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
