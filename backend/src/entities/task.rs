use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub seller_id: i64,
    pub kind: String,
    pub label: String,
    pub status: String,
    pub params: String,
    pub idempotency_key: Option<String>,
    pub max_attempts: i32,
    pub total: i64,
    pub pending: i64,
    /// Items the marketplace accepted and is still processing.
    pub waiting: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub cancelled: i64,
    /// Items finished per second while running, measured at the end.
    pub throughput: Option<f64>,
    pub waiting_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Bumped by every change: events carry it so stale ones can be dropped.
    pub version: i64,
    /// The estimate made at creation, as JSON (`task_model::Estimate`).
    pub estimate: Option<String>,
    /// When the estimate was made: the task's creation, or a retry's.
    pub estimated_at: Option<DateTimeUtc>,
    /// A scheduled task's time to start.
    pub start_at: Option<DateTimeUtc>,
    /// The step before this one in a chain: this one starts when it ends.
    pub previous_task_id: Option<i64>,
    /// The step after this one in a chain.
    pub next_task_id: Option<i64>,
    /// This step's place in its chain (1-based) and the chain's length.
    pub chain_step: Option<i32>,
    pub chain_of: Option<i32>,
    /// The marketplace account its items call (`connection-3`, `seller-7`): its circuit
    /// breaker holds the task while the marketplace does not answer.
    pub endpoint: Option<String>,
    /// While held: the hold as JSON (`task_model::Hold`).
    pub hold: Option<String>,
    /// When the retention job deleted its items (the counts stay).
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
