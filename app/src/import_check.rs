//! What checking a file found, on the wire: the answer of `POST /api/v1/imports/check`,
//! read by the Import page and written by the server.

use serde::{Deserialize, Serialize};
use task_model::file_check::{FixGroup, Include, InvalidGroup};

/// What checking a file found, before anything is imported: every row checked by the
/// rules that need no marketplace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportCheck {
    pub file_name: String,
    pub columns: Vec<String>,
    pub rows: u64,
    /// Rows that import as written.
    pub ready: u64,
    /// Rows the check can repair on its own (`fixable` says how).
    pub fixable_rows: u64,
    pub fixable: Vec<FixGroup>,
    /// Rows that need the seller, by reason (`invalid`).
    pub invalid_rows: u64,
    pub invalid: Vec<InvalidGroup>,
    /// How long importing the ready and fixed rows would take, made by the server the
    /// way the task makes it; none when there is no such row.
    pub estimate: Option<task_model::Estimate>,
    /// The same for the ready rows alone.
    pub estimate_ready: Option<task_model::Estimate>,
    /// The next 02:00 on the seller's clock, for "Tonight at 02:00".
    pub tonight: chrono::DateTime<chrono::Utc>,
    /// How long publishing the ready and fixed rows' items would take after the import
    /// ("Then publish what imported"); none when there is no such row.
    #[serde(default)]
    pub publish_estimate: Option<task_model::Estimate>,
    /// The seller's marketplace connections, for "Then publish what imported" to choose
    /// from (the form offers the choice when there is more than one).
    #[serde(default)]
    pub connections: Vec<task_model::Connection>,
    /// The connection `publish_estimate` is for: the one asked for (`connection_id` in
    /// the query), else the seller's first; none without a connection (the built-in
    /// marketplace).
    #[serde(default)]
    pub connection_id: Option<i64>,
    /// How long publishing would take through each of `connections` (the marketplaces
    /// differ in pace), so the estimate follows the seller's choice.
    #[serde(default)]
    pub publish_estimates: Vec<ConnectionEstimate>,
}

/// A publish estimate through one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionEstimate {
    pub connection_id: i64,
    pub estimate: task_model::Estimate,
}

impl ImportCheck {
    /// The rows an import with `include` takes.
    pub fn taken(&self, include: Include) -> u64 {
        match include {
            Include::All => self.rows,
            Include::Ready => self.ready,
            Include::Fixed => self.ready + self.fixable_rows,
        }
    }
}
