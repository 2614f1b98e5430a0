//! Exactly once for work inside Stockroom's own database (an edit, an undo).
//!
//! The engine stores an attempt's outcome after the handler returns, in a later batch. A
//! handler whose work is a write to Stockroom's tables would do it twice if the worker died
//! in between: the item's lease expires, another worker runs it again, and +10 % lands on
//! top of +10 %. So such a handler writes its result onto the task item *in the same
//! transaction* as its work ([`record`]), and every attempt first asks whether an earlier
//! one already did it ([`done_before`]). The engine's own completion later writes the same
//! result again, harmlessly.

use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, TransactionTrait};
use serde_json::Value;

use super::{stmt, write_txn};
use crate::entities::task_item;

/// The result an earlier attempt at this task item recorded with its work, if one did.
pub async fn done_before(
    db: &impl ConnectionTrait,
    task_item_id: i64,
) -> Result<Option<Value>, sea_orm::DbErr> {
    let row = task_item::Entity::find_by_id(task_item_id).one(db).await?;
    Ok(row
        .and_then(|row| row.result)
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// Opens the transaction the work and its [`record`] share (on SQLite, one that takes the
/// write lock at once, so two writers never deadlock upgrading).
pub async fn begin<C>(db: &C) -> Result<DatabaseTransaction, sea_orm::DbErr>
where
    C: TransactionTrait<Transaction = DatabaseTransaction>,
{
    write_txn(db).await
}

/// Records `result` on the running task item inside `txn`, unless an attempt already did:
/// `false` then, and the caller rolls its work back.
pub async fn record(
    txn: &DatabaseTransaction,
    task_item_id: i64,
    result: &Value,
) -> Result<bool, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    let updated = txn
        .execute_raw(stmt(
            backend,
            "UPDATE task_items SET result = $1 WHERE id = $2 AND status = @running AND result IS NULL",
            vec![result.to_string().into(), task_item_id.into()],
        ))
        .await?;
    Ok(updated.rows_affected() == 1)
}
