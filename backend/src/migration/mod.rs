//! Schema migrations, in code, applied identically to SQLite and PostgreSQL.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

mod m20261127_000001_foundation;
mod m20261128_000002_tasks;
mod m20261128_000003_pace_and_task_version;
mod m20261130_000004_task_estimate;
mod m20261130_000005_item_in_task;
mod m20261130_000006_notification_download;
mod m20261130_000007_listed_version;
mod m20261203_000008_chains_and_schedules;
mod m20261203_000009_connections;
mod m20261203_000010_waiting_and_listings;
mod m20261203_000011_breakers;
mod m20261204_000012_scale;

pub struct Migrator;

/// How many of this build's migrations the database has not had yet (readiness: an
/// instance must not serve a schema older than its code).
pub async fn pending(db: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.len())
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_foundation::Migration),
            Box::new(m20261128_000002_tasks::Migration),
            Box::new(m20261128_000003_pace_and_task_version::Migration),
            Box::new(m20261130_000004_task_estimate::Migration),
            Box::new(m20261130_000005_item_in_task::Migration),
            Box::new(m20261130_000006_notification_download::Migration),
            Box::new(m20261130_000007_listed_version::Migration),
            Box::new(m20261203_000008_chains_and_schedules::Migration),
            Box::new(m20261203_000009_connections::Migration),
            Box::new(m20261203_000010_waiting_and_listings::Migration),
            Box::new(m20261203_000011_breakers::Migration),
            Box::new(m20261204_000012_scale::Migration),
        ]
    }
}

/// SQLite cannot alter a CHECK constraint. Its documented way for a change that leaves
/// every stored row valid is to edit the table's definition in the schema table under
/// `writable_schema`, bumping `schema_version` so every connection reloads it. Each edit
/// is `(table, from, to)`, a text replacement in the definition, skipped where `to` is
/// already there; afterwards every definition must contain its `to`. Run inside the
/// migration's transaction.
pub(crate) async fn edit_sqlite_tables(
    db: &impl ConnectionTrait,
    edits: &[(&str, &str, &str)],
) -> Result<(), DbErr> {
    let definition = |table: &str| {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            [table.into()],
        )
    };
    let version = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA schema_version",
        ))
        .await?
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .ok_or_else(|| DbErr::Migration("no schema version".into()))?;
    db.execute_unprepared("PRAGMA writable_schema = ON").await?;
    for (table, from, to) in edits {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) \
             WHERE type = 'table' AND name = ? AND instr(sql, ?) = 0",
            [(*from).into(), (*to).into(), (*table).into(), (*to).into()],
        ))
        .await?;
    }
    db.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    db.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    for (table, _, to) in edits {
        let sql = db
            .query_one_raw(definition(table))
            .await?
            .and_then(|row| row.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if !sql.contains(to) {
            return Err(DbErr::Migration(format!(
                "the {table} table's definition did not take “{to}”"
            )));
        }
    }
    Ok(())
}
