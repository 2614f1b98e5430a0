//! Connecting to SQLite or PostgreSQL and bringing the schema up to date.

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

use crate::migration::Migrator;

/// Opens a connection pool. For a SQLite file it creates the parent directory, and turns
/// on WAL so readers never wait for the writer.
#[tracing::instrument(skip_all, err)]
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_file_path(url) {
        if let Some(parent) = std::path::Path::new(&path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!(
                        "Failed to create the database directory {}",
                        parent.display()
                    )
                })?;
            }
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                // 64 MiB of page cache per connection (SQLite's default is 2 MiB): a
                // catalog of a million items has indexes of tens of megabytes, and a
                // write that touches them all would otherwise read its pages from disk.
                .pragma("cache_size", "-65536")
        });
        options.map_sqlx_sqlite_before_acquire(whole_sqlite_connection);
    } else {
        options.max_connections(16);
    }
    let db = Database::connect(options)
        .await
        .context("Failed to connect to the database")?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .context("Failed to enable WAL")?;
    }
    Ok(db)
}

/// Hands out a pooled SQLite connection only when no transaction is left open on it.
///
/// A COMMIT that fails because the disk is full (SQLite also rolls back by itself on some
/// I/O errors) leaves the driver counting a transaction that SQLite no longer has; its
/// ROLLBACK then fails, and the next BEGIN on that connection would become a SAVEPOINT
/// that a failure only rolls back *to*, keeping the write lock for ever: every other
/// writer gets "database is locked". Such a connection is closed instead (which ends
/// whatever it had open) and the pool opens a fresh one.
fn whole_sqlite_connection(
    conn: &mut sea_orm::sqlx::sqlite::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>,
> {
    use sea_orm::sqlx::Connection;
    let whole = !conn.is_in_transaction();
    if !whole {
        tracing::warn!("a database connection was left inside a transaction; it is replaced");
    }
    Box::pin(std::future::ready(Ok(whole)))
}

/// Whether an error (its text, the whole chain) says the database could not grow because
/// its disk is full: SQLite's `SQLITE_FULL` ("database or disk is full"), PostgreSQL's
/// `disk_full` ("could not extend file …: No space left on device"), or the system's
/// ENOSPC wherever it surfaces. The drivers pass these on as text only.
pub fn storage_full(error: &str) -> bool {
    const SIGNS: [&str; 3] = [
        "database or disk is full",
        "No space left on device",
        "could not extend file",
    ];
    SIGNS.iter().any(|sign| error.contains(sign))
}

/// Applies every pending migration.
#[tracing::instrument(skip_all, err)]
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("Failed to apply migrations")
}

/// Refreshes the query planner's statistics. PostgreSQL's autovacuum does this by
/// itself as tables grow; SQLite has none until asked (`ANALYZE`, then `PRAGMA optimize`
/// now and then, as its documentation advises), and without them it may choose a poor
/// index on a catalog of a million rows.
pub async fn analyze(db: &DatabaseConnection) -> anyhow::Result<()> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "ANALYZE",
        _ => "ANALYZE items",
    };
    db.execute_unprepared(sql)
        .await
        .context("Failed to refresh the planner's statistics")?;
    Ok(())
}

/// Lets SQLite refresh its planner statistics where they are missing or stale
/// (`PRAGMA optimize`, cheap when nothing changed); PostgreSQL's autovacuum does this
/// by itself. The housekeeping runs it hourly.
pub async fn optimize(db: &DatabaseConnection) -> anyhow::Result<u64> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA optimize")
            .await
            .context("Failed to refresh the planner's statistics")?;
    }
    Ok(0)
}

/// The file behind a `sqlite:` URL, if it names one.
fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(
            sqlite_file_path("sqlite://data/stockroom.db?mode=rwc").as_deref(),
            Some("data/stockroom.db")
        );
        assert_eq!(
            sqlite_file_path("sqlite:///var/lib/x.db").as_deref(),
            Some("/var/lib/x.db")
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://localhost/x"), None);
    }

    #[test]
    fn a_full_disk_is_told_from_other_errors() {
        assert!(storage_full(
            "Failed to save: Execution Error: error returned from database: (code: 13) database or disk is full"
        ));
        assert!(storage_full(
            "error returned from database: could not extend file \"base/16384/2619\": No space left on device"
        ));
        assert!(!storage_full(
            "error returned from database: (code: 5) database is locked"
        ));
        assert!(!storage_full("Connection refused (os error 111)"));
    }
}
