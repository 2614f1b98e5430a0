//! Sellers, their sessions and their catalog items.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sellers {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SellerId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Items {
    Table,
    Id,
    SellerId,
    Sku,
    Title,
    Description,
    PriceMinor,
    Currency,
    Quantity,
    ImageUrl,
    Category,
    ListingState,
    ListingId,
    LastListingError,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sellers::Table)
                    .col(big_pk_auto(Sellers::Id))
                    .col(string_len_uniq(Sellers::Email, 254))
                    .col(string_len(Sellers::DisplayName, 100))
                    .col(string(Sellers::PasswordHash))
                    .col(timestamp_with_time_zone(Sellers::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // The SHA-256 of the cookie token: a leaked table cannot be replayed.
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(big_integer(Sessions::SellerId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_seller")
                            .from(Sessions::Table, Sessions::SellerId)
                            .to(Sellers::Table, Sellers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_seller")
                    .table(Sessions::Table)
                    .col(Sessions::SellerId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Items::Table)
                    .col(big_pk_auto(Items::Id))
                    .col(big_integer(Items::SellerId))
                    .col(string_len(Items::Sku, 64))
                    .col(string_len(Items::Title, 200))
                    .col(text(Items::Description))
                    .col(big_integer(Items::PriceMinor).check(Expr::col(Items::PriceMinor).gte(0)))
                    .col(string_len(Items::Currency, 3))
                    .col(integer(Items::Quantity).check(Expr::col(Items::Quantity).gte(0)))
                    .col(text_null(Items::ImageUrl))
                    .col(string_len_null(Items::Category, 100))
                    .col(string_len(Items::ListingState, 16).check(
                        Expr::col(Items::ListingState).is_in([
                            "draft",
                            "published",
                            "unpublished",
                            "failed",
                        ]),
                    ))
                    .col(string_len_null(Items::ListingId, 100))
                    .col(text_null(Items::LastListingError))
                    .col(integer(Items::Version).default(1))
                    .col(timestamp_with_time_zone(Items::CreatedAt))
                    .col(timestamp_with_time_zone(Items::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_items_seller")
                            .from(Items::Table, Items::SellerId)
                            .to(Sellers::Table, Sellers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // Every catalog query starts with the seller; these cover its default sort, the
        // state filter, SKU lookups (unique) and the title sort.
        for (name, cols) in [
            ("idx_items_seller_sku", vec![Items::SellerId, Items::Sku]),
            (
                "idx_items_seller_updated",
                vec![Items::SellerId, Items::UpdatedAt],
            ),
            (
                "idx_items_seller_state",
                vec![Items::SellerId, Items::ListingState],
            ),
            (
                "idx_items_seller_title",
                vec![Items::SellerId, Items::Title],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Items::Table);
            if name == "idx_items_seller_sku" {
                index.unique();
            }
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Items::Table.into_iden(),
            Sessions::Table.into_iden(),
            Sellers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
