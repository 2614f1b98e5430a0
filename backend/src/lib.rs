//! Stockroom's server-side core: the schema, seller accounts and sessions, the catalog.
//! No HTTP and no UI here; every function takes a database connection (or transaction).

pub mod accounts;
pub mod call_stats;
pub mod catalog;
pub mod connections;
pub mod connectors;
pub mod db;
pub mod deletes;
pub mod demo;
pub mod domain;
pub mod edits;
pub mod entities;
pub mod estimate;
pub mod exports;
pub mod failures;
pub mod imports;
pub mod listings;
pub mod marketplace;
pub mod migration;
pub mod notifications;
pub mod pacing;
pub mod reports;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod tasks;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod undo;
pub mod updates;

pub use sea_orm::DatabaseConnection;
