//! `noop`: a kind that does nothing, for tests, benchmarks and crash drills. Not shown to
//! sellers; the server registers it only with `STOCKROOM_TEST_KINDS=1`.
//!
//! Params: `{"items": N, "sleep_ms": M}`. With [`Noop::recording`], every execution is
//! written to `noop_executions` (item id, worker attempt), so a test can count them.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use super::{stmt, InvalidParams, ItemContext, Outcome, Presentation, TaskKind};

/// How many items, and how long each takes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NoopParams {
    pub items: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_ms: Option<u64>,
}

#[derive(Clone, Default)]
pub struct Noop {
    record: Option<DatabaseConnection>,
}

impl Noop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records every execution in `noop_executions` (created if missing).
    pub async fn recording(db: DatabaseConnection) -> anyhow::Result<Self> {
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS noop_executions (task_item_id BIGINT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL)",
        )
        .await?;
        Ok(Self { record: Some(db) })
    }
}

#[async_trait::async_trait]
impl TaskKind for Noop {
    type Params = NoopParams;
    type Subject = u64;

    fn presentation(&self) -> &'static Presentation {
        &task_model::kinds::NOOP
    }

    fn expand(&self, params: &NoopParams) -> Result<Vec<u64>, InvalidParams> {
        if params.items > 1_000_000 {
            return Err(InvalidParams::field(
                "items_invalid",
                "items",
                "items must be a count up to 1 000 000",
            ));
        }
        Ok((0..params.items).collect())
    }

    async fn process(&self, item: ItemContext<NoopParams, u64>) -> Outcome {
        if let Some(ms) = item.params.sleep_ms.filter(|ms| *ms > 0) {
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(ms)) => {}
                () = item.cancel.cancelled() => return Outcome::Cancelled,
            }
        }
        if let Some(db) = &self.record {
            let insert = stmt(
                db.get_database_backend(),
                "INSERT INTO noop_executions (task_item_id, attempt, pid) VALUES ($1, $2, $3)",
                vec![
                    item.item_id.into(),
                    (item.attempt as i32).into(),
                    (std::process::id() as i32).into(),
                ],
            );
            if let Err(err) = db.execute_raw(insert).await {
                return Outcome::retry("record_failed", err.to_string());
            }
        }
        Outcome::Succeeded(json!({ "pid": std::process::id(), "attempt": item.attempt }))
    }

    fn concurrency(&self) -> u32 {
        256
    }
}
