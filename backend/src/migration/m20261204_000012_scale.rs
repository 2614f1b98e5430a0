//! A million items per seller.
//!
//! - Every catalog sort has an index that ends in the id, the tie-break: a page is read
//!   in index order, and a keyset page starts where the last one ended.
//! - The state filter has one in the default order (newest first).
//! - Search by SKU or title (a substring, any case) has an index: PostgreSQL's trigram
//!   indexes (`pg_trgm`) on the lower-cased columns, which `LIKE '%q%'` uses as it is;
//!   SQLite's FTS5 table with the trigram tokenizer over the same columns, kept in step
//!   by triggers and asked first, the `LIKE` then deciding.
//! - A task made from a filter keeps it (`task_selections`) until the engine has turned
//!   every matching item into a task item, in chunks.
//! - Finished work is retired after a while: `tasks.retired_at` says a task's items are
//!   gone (its counts stay).
//! - The rescuer's index holds only running items, and the claim's only pending (or
//!   waiting) ones.
//! - The catalog's counts per listing state (and of live items changed since published)
//!   are kept by triggers in `item_counts`, so a page never counts a million rows.
//!   SQLite: one row per seller, state and changed flag, updated in place (one writer at
//!   a time). PostgreSQL: a row per statement's change (`n` may be negative), summed
//!   when read and folded together by a periodic job, so concurrent writers never queue
//!   on one counter row.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SORT_INDEXES: [(&str, &str); 6] = [
    ("idx_items_seller_updated_id", "seller_id, updated_at, id"),
    ("idx_items_seller_title_id", "seller_id, title, id"),
    ("idx_items_seller_price_id", "seller_id, price_minor, id"),
    ("idx_items_seller_quantity_id", "seller_id, quantity, id"),
    ("idx_items_seller_state_id", "seller_id, listing_state, id"),
    (
        "idx_items_seller_state_updated_id",
        "seller_id, listing_state, updated_at, id",
    ),
];
/// Replaced by the ones above, which end in the id.
const OLD_INDEXES: [&str; 3] = [
    "idx_items_seller_updated",
    "idx_items_seller_title",
    "idx_items_seller_state",
];

const SQLITE_SEARCH: [&str; 5] = [
    "CREATE VIRTUAL TABLE items_search USING fts5(sku, title, content='items', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN \
       INSERT INTO items_search (rowid, sku, title) VALUES (new.id, new.sku, new.title); END",
    "CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN \
       INSERT INTO items_search (items_search, rowid, sku, title) VALUES ('delete', old.id, old.sku, old.title); END",
    "CREATE TRIGGER items_search_update AFTER UPDATE OF sku, title ON items \
       WHEN old.sku IS NOT new.sku OR old.title IS NOT new.title BEGIN \
       INSERT INTO items_search (items_search, rowid, sku, title) VALUES ('delete', old.id, old.sku, old.title); \
       INSERT INTO items_search (rowid, sku, title) VALUES (new.id, new.sku, new.title); END",
    "INSERT INTO items_search (items_search) VALUES ('rebuild')",
];

const POSTGRES_SEARCH: [&str; 3] = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX idx_items_sku_trgm ON items USING gin (lower(sku) gin_trgm_ops)",
    "CREATE INDEX idx_items_title_trgm ON items USING gin (lower(title) gin_trgm_ops)",
];

/// Whether a row is live and edited since it was published, as 0 or 1.
const CHANGED: &str =
    "(CASE WHEN {r}.listing_state = 'published' AND {r}.listed_version IS NOT NULL \
    AND {r}.listed_version <> {r}.version THEN 1 ELSE 0 END)";

fn changed(row: &str) -> String {
    CHANGED.replace("{r}", row)
}

fn sqlite_counts() -> Vec<String> {
    let (new, old) = (changed("new"), changed("old"));
    vec![
        "CREATE TABLE item_counts (id INTEGER PRIMARY KEY, seller_id INTEGER NOT NULL, \
           listing_state TEXT NOT NULL, changed INTEGER NOT NULL, n INTEGER NOT NULL)"
            .into(),
        "CREATE UNIQUE INDEX idx_item_counts_bucket ON item_counts (seller_id, listing_state, changed)"
            .into(),
        format!(
            "CREATE TRIGGER item_counts_insert AFTER INSERT ON items BEGIN \
               INSERT INTO item_counts (seller_id, listing_state, changed, n) \
               VALUES (new.seller_id, new.listing_state, {new}, 1) \
               ON CONFLICT (seller_id, listing_state, changed) DO UPDATE SET n = n + 1; END"
        ),
        format!(
            "CREATE TRIGGER item_counts_delete AFTER DELETE ON items BEGIN \
               UPDATE item_counts SET n = n - 1 WHERE seller_id = old.seller_id \
               AND listing_state = old.listing_state AND changed = {old}; END"
        ),
        format!(
            "CREATE TRIGGER item_counts_update AFTER UPDATE OF listing_state, listed_version, version, seller_id ON items \
             WHEN old.seller_id <> new.seller_id OR old.listing_state <> new.listing_state OR {old} <> {new} BEGIN \
               UPDATE item_counts SET n = n - 1 WHERE seller_id = old.seller_id \
               AND listing_state = old.listing_state AND changed = {old}; \
               INSERT INTO item_counts (seller_id, listing_state, changed, n) \
               VALUES (new.seller_id, new.listing_state, {new}, 1) \
               ON CONFLICT (seller_id, listing_state, changed) DO UPDATE SET n = n + 1; END"
        ),
        format!(
            "INSERT INTO item_counts (seller_id, listing_state, changed, n) \
             SELECT seller_id, listing_state, {}, COUNT(*) FROM items GROUP BY 1, 2, 3",
            changed("items")
        ),
    ]
}

fn postgres_counts() -> Vec<String> {
    let (new, old) = (changed("r"), changed("r"));
    let function = |name: &str, body: String| {
        format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN {body}; RETURN NULL; END $body$"
        )
    };
    vec![
        "CREATE TABLE item_counts (id BIGSERIAL PRIMARY KEY, seller_id BIGINT NOT NULL, \
           listing_state VARCHAR(16) NOT NULL, changed SMALLINT NOT NULL, n BIGINT NOT NULL)"
            .into(),
        "CREATE INDEX idx_item_counts_seller ON item_counts (seller_id)".into(),
        function(
            "item_counts_insert",
            format!(
                "INSERT INTO item_counts (seller_id, listing_state, changed, n) \
                 SELECT r.seller_id, r.listing_state, {new}, COUNT(*) FROM new_rows r GROUP BY 1, 2, 3"
            ),
        ),
        function(
            "item_counts_delete",
            format!(
                "INSERT INTO item_counts (seller_id, listing_state, changed, n) \
                 SELECT r.seller_id, r.listing_state, {old}, -COUNT(*) FROM old_rows r GROUP BY 1, 2, 3"
            ),
        ),
        function(
            "item_counts_update",
            format!(
                "INSERT INTO item_counts (seller_id, listing_state, changed, n) \
                 SELECT seller_id, listing_state, changed, SUM(n) FROM ( \
                   SELECT r.seller_id, r.listing_state, {old} AS changed, -1 AS n FROM old_rows r \
                   UNION ALL SELECT r.seller_id, r.listing_state, {new}, 1 FROM new_rows r) d \
                 GROUP BY 1, 2, 3 HAVING SUM(n) <> 0"
            ),
        ),
        "CREATE TRIGGER item_counts_insert AFTER INSERT ON items REFERENCING NEW TABLE AS new_rows \
           FOR EACH STATEMENT EXECUTE FUNCTION item_counts_insert()"
            .into(),
        "CREATE TRIGGER item_counts_delete AFTER DELETE ON items REFERENCING OLD TABLE AS old_rows \
           FOR EACH STATEMENT EXECUTE FUNCTION item_counts_delete()"
            .into(),
        "CREATE TRIGGER item_counts_update AFTER UPDATE ON items \
           REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
           FOR EACH STATEMENT EXECUTE FUNCTION item_counts_update()"
            .into(),
        format!(
            "INSERT INTO item_counts (seller_id, listing_state, changed, n) \
             SELECT seller_id, listing_state, {}, COUNT(*) FROM items GROUP BY 1, 2, 3",
            changed("items")
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for (name, columns) in SORT_INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON items ({columns})"))
                .await?;
        }
        for name in OLD_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        let search: &[&str] = match backend {
            DbBackend::Postgres => &POSTGRES_SEARCH,
            _ => &SQLITE_SEARCH,
        };
        for sql in search {
            db.execute_unprepared(sql).await?;
        }
        // The claim walks one task's due items in order: only pending (or waiting)
        // items are in these, however many million finished rows the table holds.
        for status in ["pending", "waiting"] {
            db.execute_unprepared(&format!(
                "CREATE INDEX idx_task_items_{status} ON task_items (task_id, position) \
                 WHERE status = '{status}'"
            ))
            .await?;
        }
        // Failures by reason (the metrics, a task's failure groups).
        db.execute_unprepared(
            "CREATE INDEX idx_task_items_failed ON task_items (task_id, error_code) \
             WHERE status = 'failed'",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_task_items_lease")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_task_items_running_lease ON task_items (lease_expires_at) \
             WHERE status = 'running'",
        )
        .await?;
        let big = match backend {
            DbBackend::Postgres => "BIGINT",
            _ => "INTEGER",
        };
        let time = match backend {
            DbBackend::Postgres => "TIMESTAMPTZ",
            _ => "TEXT",
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE task_selections (\
               task_id {big} NOT NULL PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE, \
               seller_id {big} NOT NULL REFERENCES sellers (id) ON DELETE CASCADE, \
               selection TEXT NOT NULL, \
               upto_id {big} NOT NULL, \
               after_id {big} NOT NULL DEFAULT 0, \
               expected {big} NOT NULL, \
               added {big} NOT NULL DEFAULT 0, \
               created_at {time} NOT NULL)"
        ))
        .await?;
        db.execute_unprepared(&format!("ALTER TABLE tasks ADD COLUMN retired_at {time}"))
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_tasks_finished_unretired ON tasks (finished_at) WHERE retired_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_notifications_created ON notifications (created_at)",
        )
        .await?;
        let counts = match backend {
            DbBackend::Postgres => postgres_counts(),
            _ => sqlite_counts(),
        };
        for sql in counts {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let counts: &[&str] = match backend {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS item_counts_insert ON items",
                "DROP TRIGGER IF EXISTS item_counts_delete ON items",
                "DROP TRIGGER IF EXISTS item_counts_update ON items",
                "DROP FUNCTION IF EXISTS item_counts_insert()",
                "DROP FUNCTION IF EXISTS item_counts_delete()",
                "DROP FUNCTION IF EXISTS item_counts_update()",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS item_counts_insert",
                "DROP TRIGGER IF EXISTS item_counts_delete",
                "DROP TRIGGER IF EXISTS item_counts_update",
            ],
        };
        for sql in counts {
            db.execute_unprepared(sql).await?;
        }
        for sql in [
            "DROP TABLE IF EXISTS item_counts",
            "DROP INDEX IF EXISTS idx_notifications_created",
            "DROP INDEX IF EXISTS idx_tasks_finished_unretired",
            "ALTER TABLE tasks DROP COLUMN retired_at",
            "DROP TABLE IF EXISTS task_selections",
            "DROP INDEX IF EXISTS idx_task_items_running_lease",
            "DROP INDEX IF EXISTS idx_task_items_pending",
            "DROP INDEX IF EXISTS idx_task_items_failed",
            "DROP INDEX IF EXISTS idx_task_items_waiting",
            "CREATE INDEX idx_task_items_lease ON task_items (status, lease_expires_at)",
            "CREATE INDEX idx_items_seller_updated ON items (seller_id, updated_at)",
            "CREATE INDEX idx_items_seller_title ON items (seller_id, title)",
            "CREATE INDEX idx_items_seller_state ON items (seller_id, listing_state)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        let search: &[&str] = match backend {
            DbBackend::Postgres => &[
                "DROP INDEX IF EXISTS idx_items_sku_trgm",
                "DROP INDEX IF EXISTS idx_items_title_trgm",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS items_search_insert",
                "DROP TRIGGER IF EXISTS items_search_delete",
                "DROP TRIGGER IF EXISTS items_search_update",
                "DROP TABLE IF EXISTS items_search",
            ],
        };
        for sql in search {
            db.execute_unprepared(sql).await?;
        }
        for (name, _) in SORT_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
