//! The rescuer: items whose lease expired (a crashed or frozen worker) go back to
//! `pending`, their attempt counted; an item out of attempts fails with `lease_expired`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, TransactionTrait};
use std::collections::BTreeSet;

use super::complete::settle;
use super::{shift_counters, stmt, write_txn, ItemStatus};

#[derive(Debug, FromQueryResult)]
struct Expired {
    id: i64,
    task_id: i64,
    attempts: i32,
    max_attempts: i32,
}

/// Returns the ids of the tasks it touched.
#[tracing::instrument(skip_all, err)]
pub async fn rescue_expired<C>(db: &C, now: DateTime<Utc>) -> Result<Vec<i64>, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE OF ti SKIP LOCKED"
    } else {
        ""
    };
    let txn = write_txn(db).await?;
    let expired = Expired::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT ti.id AS id, ti.task_id AS task_id, ti.attempts AS attempts, t.max_attempts AS max_attempts \
             FROM task_items ti JOIN tasks t ON t.id = ti.task_id \
             WHERE ti.status = @running AND ti.lease_expires_at < $1 ORDER BY ti.id LIMIT 1000 {lock}"
        ),
        vec![now.into()],
    ))
    .all(&txn)
    .await?;
    let mut touched = BTreeSet::new();
    for item in expired {
        let out_of_attempts = item.attempts >= item.max_attempts;
        let sql = if out_of_attempts {
            "UPDATE task_items SET status = @failed, error_code = 'lease_expired', \
             error_message = 'The worker running this item stopped responding, and no attempts are left.', \
             lease_owner = NULL, lease_expires_at = NULL, finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND status = @running AND lease_expires_at < $2"
        } else {
            "UPDATE task_items SET status = @pending, next_attempt_at = $2, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $2 WHERE id = $1 AND status = @running AND lease_expires_at < $2"
        };
        let updated = txn
            .execute_raw(stmt(backend, sql, vec![item.id.into(), now.into()]))
            .await?;
        if updated.rows_affected() == 1 {
            let to = if out_of_attempts {
                ItemStatus::Failed
            } else {
                ItemStatus::Pending
            };
            shift_counters(
                &txn,
                item.task_id,
                &[(ItemStatus::Running, -1), (to, 1)],
                now,
            )
            .await?;
            touched.insert(item.task_id);
        }
    }
    for task_id in &touched {
        settle(&txn, *task_id, now).await?;
    }
    txn.commit().await?;
    if !touched.is_empty() {
        tracing::warn!(tasks = touched.len(), "rescued items from expired leases");
    }
    Ok(touched.into_iter().collect())
}
