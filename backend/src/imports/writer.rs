//! Writing imported rows: group commit, so rows ready at the same moment share one
//! transaction.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

use crate::catalog::{self, CatalogError, ItemFields};

/// Group commit for imported rows: rows that are ready at the same moment are written
/// in one transaction (on SQLite, one commit instead of one per row), each row still
/// getting its own answer. If the batch fails, each row is written on its own.
pub(super) struct Writer {
    db: DatabaseConnection,
    queue: OnceLock<mpsc::Sender<Write>>,
}

struct Write {
    seller_id: i64,
    fields: ItemFields,
    reply: oneshot::Sender<Result<(catalog::Item, catalog::Upserted), CatalogError>>,
}

const WRITE_BATCH: usize = 128;

impl Writer {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: OnceLock::new(),
        }
    }

    pub(super) async fn upsert(
        &self,
        seller_id: i64,
        fields: ItemFields,
    ) -> Result<(catalog::Item, catalog::Upserted), CatalogError> {
        let queue = self.queue.get_or_init(|| {
            let (queue, rows) = mpsc::channel(WRITE_BATCH * 4);
            tokio::spawn(write_rows(self.db.clone(), rows));
            queue
        });
        let (reply, answer) = oneshot::channel();
        let write = Write {
            seller_id,
            fields,
            reply,
        };
        if let Err(mpsc::error::SendError(write)) = queue.send(write).await {
            return upsert_alone(&self.db, write.seller_id, write.fields, Utc::now()).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(CatalogError::Unexpected(anyhow::anyhow!(
                "the import writer stopped"
            )))
        })
    }
}

async fn write_rows(db: DatabaseConnection, mut rows: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while rows.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        write_batch(&db, std::mem::take(&mut batch)).await;
    }
}

async fn write_batch(db: &DatabaseConnection, batch: Vec<Write>) {
    let now = Utc::now();
    if batch.len() > 1 {
        if let Ok(txn) = crate::tasks::write_txn(db).await {
            let mut saved = Vec::with_capacity(batch.len());
            for write in &batch {
                match catalog::upsert_by_sku(&txn, write.seller_id, write.fields.clone(), now).await
                {
                    Ok(item) => saved.push(item),
                    Err(_) => break,
                }
            }
            if saved.len() == batch.len() && txn.commit().await.is_ok() {
                for (write, item) in batch.into_iter().zip(saved) {
                    let _ = write.reply.send(Ok(item));
                }
                return;
            }
            // Dropping an uncommitted transaction rolls it back.
        }
    }
    for write in batch {
        let result = upsert_alone(db, write.seller_id, write.fields, now).await;
        let _ = write.reply.send(result);
    }
}

/// One row in a transaction of its own, committed explicitly. Not an autocommit
/// statement: SQLite commits an `INSERT … RETURNING` when the statement is finished, after
/// its row was read, and a commit refused there (a full disk) would go unseen: the row
/// reported saved, and gone.
async fn upsert_alone(
    db: &DatabaseConnection,
    seller_id: i64,
    fields: ItemFields,
    now: chrono::DateTime<Utc>,
) -> Result<(catalog::Item, catalog::Upserted), CatalogError> {
    let txn = crate::tasks::write_txn(db).await?;
    let saved = catalog::upsert_by_sku(&txn, seller_id, fields, now).await?;
    txn.commit().await?;
    Ok(saved)
}
