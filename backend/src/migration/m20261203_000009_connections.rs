//! Marketplace connections: where a seller publishes to, with the credentials sealed by
//! the server key (never stored in the clear).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sellers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    Id,
    SellerId,
    Marketplace,
    Name,
    Account,
    MarketplaceId,
    BaseUrl,
    /// The sealed JSON object of credentials; null for a marketplace that needs none.
    Credentials,
    /// The JSON list of the credential names set: what the seller is shown.
    CredentialNames,
    /// The id of the key that sealed `credentials`.
    KeyId,
    CreatedAt,
    TestedAt,
    TestOk,
    TestMessage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Connections::Table)
                    .col(big_pk_auto(Connections::Id))
                    .col(big_integer(Connections::SellerId))
                    .col(string_len(Connections::Marketplace, 16))
                    .col(string_len(Connections::Name, 80))
                    .col(string_len(Connections::Account, 100))
                    .col(string_len(Connections::MarketplaceId, 40))
                    .col(text(Connections::BaseUrl))
                    .col(text_null(Connections::Credentials))
                    .col(text(Connections::CredentialNames))
                    .col(string_len_null(Connections::KeyId, 16))
                    .col(timestamp_with_time_zone(Connections::CreatedAt))
                    .col(timestamp_with_time_zone_null(Connections::TestedAt))
                    .col(boolean_null(Connections::TestOk))
                    .col(text_null(Connections::TestMessage))
                    .check(Expr::col(Connections::Marketplace).is_in(["sandbox", "amazon", "ebay"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_connections_seller")
                            .from(Connections::Table, Connections::SellerId)
                            .to(Sellers::Table, Sellers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_connections_seller_name")
                    .table(Connections::Table)
                    .col(Connections::SellerId)
                    .col(Connections::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Connections::Table).to_owned())
            .await
    }
}
