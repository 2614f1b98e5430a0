//! The catalog's counts without counting: items per listing state, and live items
//! changed since they were published, kept by triggers in `item_counts` as items are
//! added, changed and deleted (see the migration that made it). A page of a million
//! items reads a handful of rows for its totals and its filter tabs.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use std::collections::BTreeMap;

use super::ItemFilter;
use crate::domain::ListingState;

/// One seller's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    by_state: BTreeMap<&'static str, u64>,
    /// Live items edited since they were published.
    pub changed: u64,
}

impl Counts {
    pub fn of_state(&self, state: ListingState) -> u64 {
        self.by_state.get(state.as_str()).copied().unwrap_or(0)
    }

    pub fn all(&self) -> u64 {
        self.by_state.values().sum()
    }

    /// How many items `filter` matches, when the counts can say: a filter by state or
    /// by "changed since published", not a search or "in a task" (those are counted).
    pub fn matching(&self, filter: &ItemFilter) -> Option<u64> {
        let q = filter.q.as_deref().map(str::trim).unwrap_or_default();
        if !q.is_empty() || filter.in_task {
            return None;
        }
        Some(match (filter.state, filter.changed) {
            (None, false) => self.all(),
            (Some(state), false) => self.of_state(state),
            (None | Some(ListingState::Published), true) => self.changed,
            (Some(_), true) => 0,
        })
    }
}

#[derive(Debug, FromQueryResult)]
struct Bucket {
    listing_state: String,
    changed: i32,
    n: i64,
}

/// The seller's counts now.
pub async fn counts(db: &impl ConnectionTrait, seller_id: i64) -> Result<Counts, sea_orm::DbErr> {
    let buckets = Bucket::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT listing_state, CAST(changed AS INTEGER) AS changed, CAST(SUM(n) AS BIGINT) AS n \
         FROM item_counts WHERE seller_id = $1 GROUP BY listing_state, changed",
        [seller_id.into()],
    ))
    .all(db)
    .await?;
    let mut counts = Counts::default();
    for bucket in buckets {
        let Ok(state) = ListingState::parse(&bucket.listing_state) else {
            continue;
        };
        let n = u64::try_from(bucket.n).unwrap_or(0);
        *counts.by_state.entry(state.as_str()).or_default() += n;
        if bucket.changed == 1 {
            counts.changed += n;
        }
    }
    Ok(counts)
}

/// Folds each seller's rows into one per state and flag (PostgreSQL, where every
/// statement that changes items adds its own rows); returns how many rows it wrote.
/// One statement: a reader sees the rows before or after, never half. SQLite keeps one
/// row per bucket already.
pub async fn compact(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let folded = db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "WITH gone AS (DELETE FROM item_counts WHERE seller_id IN \
               (SELECT seller_id FROM item_counts GROUP BY seller_id HAVING COUNT(*) > 8) \
               RETURNING seller_id, listing_state, changed, n) \
             INSERT INTO item_counts (seller_id, listing_state, changed, n) \
             SELECT seller_id, listing_state, changed, SUM(n) FROM gone GROUP BY 1, 2, 3 \
             HAVING SUM(n) <> 0",
        ))
        .await?
        .rows_affected();
    Ok(folded)
}
