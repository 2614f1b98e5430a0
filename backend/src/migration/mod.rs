//! Schema migrations, in code, applied identically to SQLite and PostgreSQL.

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

pub struct Migrator;

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
        ]
    }
}
