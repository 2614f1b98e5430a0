//! The check every scenario ends with, whatever it put the system through.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

/// What the check found, for a scenario's own assertions.
#[derive(Debug)]
pub struct Whole {
    pub tasks: usize,
    pub items: i64,
    /// Listings on the marketplace, all accounts.
    pub listings: i64,
}

async fn count(db: &backend::DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .expect("a count")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("n")
}

/// Every task ended and agrees with its items; every item is in one terminal state with
/// no lease; and, with the marketplace's `_stats`, each account holds exactly one listing
/// per item a publish succeeded on, each created by exactly one request.
pub async fn whole(db: &backend::DatabaseConnection, marketplace: Option<&Value>) -> Whole {
    let ids: Vec<i64> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM tasks ORDER BY id",
        ))
        .await
        .expect("the tasks")
        .iter()
        .map(|row| row.try_get::<i64>("", "id").expect("id"))
        .collect();
    for &id in &ids {
        let task = backend::tasks::load(db, id).await.expect("a task");
        assert!(
            task.status.is_terminal(),
            "task {id} ({}) is stuck in {:?}: {:?}",
            task.kind,
            task.status,
            task.counts
        );
        backend::testing::assert_counters_match(db, id).await;
    }
    let unsettled = count(
        db,
        "SELECT COUNT(*) AS n FROM task_items \
         WHERE status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled') \
            OR lease_owner IS NOT NULL",
        vec![],
    )
    .await;
    assert_eq!(unsettled, 0, "task items left unsettled or leased");
    let items = count(db, "SELECT COUNT(*) AS n FROM task_items", vec![]).await;

    let mut listings = 0;
    if let Some(stats) = marketplace {
        let accounts = stats["accounts"].as_object().cloned().unwrap_or_default();
        for (account, figures) in &accounts {
            let listed = figures["listings"].as_i64().unwrap_or(0);
            assert_eq!(
                figures["create_requests"].as_i64().unwrap_or(0),
                listed,
                "{account}: each listing created by exactly one request: {figures}"
            );
            let Some(seller) = account
                .strip_prefix("seller-")
                .and_then(|id| id.parse::<i64>().ok())
            else {
                continue;
            };
            let published = count(
                db,
                "SELECT COUNT(DISTINCT ti.catalog_item_id) AS n \
                 FROM task_items ti JOIN tasks t ON t.id = ti.task_id \
                 WHERE t.kind = 'publish' AND ti.status = 'succeeded' AND ti.seller_id = $1",
                vec![seller.into()],
            )
            .await;
            assert_eq!(
                listed, published,
                "{account}: one listing per published item"
            );
            listings += listed;
        }
    }
    Whole {
        tasks: ids.len(),
        items,
        listings,
    }
}

/// How many catalog items a seller has, and how many distinct SKUs among them.
pub async fn catalog(db: &backend::DatabaseConnection, seller: i64) -> (i64, i64) {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT sku) AS d FROM items WHERE seller_id = $1",
            vec![seller.into()],
        ))
        .await
        .expect("a count")
        .expect("a row");
    (
        row.try_get::<i64>("", "n").expect("n"),
        row.try_get::<i64>("", "d").expect("d"),
    )
}
