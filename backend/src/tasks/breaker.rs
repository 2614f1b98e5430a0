//! A circuit breaker per marketplace account (an [`Endpoint`]): when the marketplace
//! stops answering, the work waits instead of spending its attempts.
//!
//! - **Closed**: items are sent. Each `Unavailable` outcome (a 5xx, a timeout, a refused
//!   connection) adds one to a run of failures; any answer of the marketplace (a success,
//!   a refusal, an accepted submission) ends the run. [`THRESHOLD`] in a row opens it.
//! - **Open**: no item of any task on the account is claimed (claim skips its tasks), and
//!   an item that was in flight comes back without spending its attempt. The attempts the
//!   run itself spent are given back. Every task on the account shows the hold.
//! - **Probing**: one worker, holding the probe's lease, makes the kind's cheapest read.
//!   A failure opens it again with twice the spacing (5 s up to a minute); a success closes
//!   it, and the held items are due at once, not each after its own backoff.
//!
//! State lives in the `breakers` table, changed only inside write transactions (and on
//! PostgreSQL under the row's lock), so every server instance sharing the database shares
//! one breaker. Opening and closing each write one notification for the seller.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, TransactionTrait};
use std::collections::HashMap;

use super::{stmt, write_txn, AnyKind, ItemStatus, TaskStatus, UNAVAILABLE};
use crate::entities::task;
use crate::notifications;
use task_model::{Hold, HoldReason};

/// The code of an item waiting behind an open breaker (its attempt given back once, never
/// twice).
pub const HELD: &str = "marketplace_held";

/// Failures in a row, across items, that open a breaker.
pub const THRESHOLD: i32 = 5;

/// The first spacing of the probes; it doubles after each failed probe.
pub const FIRST_PROBE: Duration = Duration::seconds(5);

/// A breaker that opens again this soon after closing is one outage, not two.
const REOPEN_WINDOW: Duration = Duration::minutes(10);

/// The longest probe spacing of a breaker that keeps reopening.
const MAX_REOPEN_PROBE: Duration = Duration::seconds(60);

/// The statuses of a task the hold shows on (unfinished).
const UNFINISHED: &str = "(@scheduled, @queued, @running, @paused, @cancelling)";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// The longest spacing of the probes.
    pub max_probe: Duration,
    /// A task held this long (from the outage or its own start, whichever is later) ends
    /// `failed`, its unsent items failed with [`UNAVAILABLE`]; "Retry" takes it up again.
    pub hold_limit: Duration,
    /// How long a probe may take before another worker may probe instead.
    pub probe_lease: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            max_probe: Duration::seconds(60),
            hold_limit: Duration::hours(6),
            probe_lease: Duration::seconds(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    Probing,
}

impl State {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::Probing => "probing",
        }
    }

    fn read(raw: &str) -> Self {
        match raw {
            "open" => Self::Open,
            "probing" => Self::Probing,
            _ => Self::Closed,
        }
    }
}

/// One account's breaker, as stored.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct Breaker {
    pub key: String,
    pub seller_id: i64,
    pub label: String,
    /// The kind that probes, and the parameters it probes with.
    pub kind: String,
    pub params: String,
    pub state: String,
    pub failures: i32,
    pub opened_at: Option<DateTime<Utc>>,
    pub next_probe_at: Option<DateTime<Utc>>,
    pub every_ms: i64,
    pub probe_owner: Option<String>,
    pub probe_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When a probe last closed it.
    pub closed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "key, seller_id, label, kind, params, state, failures, opened_at, \
                       next_probe_at, every_ms, probe_owner, probe_until, last_error, closed_at";

impl Breaker {
    pub fn state(&self) -> State {
        State::read(&self.state)
    }

    /// What the tasks on it show while it is not closed.
    pub fn hold(&self) -> Option<Hold> {
        if self.state() == State::Closed {
            return None;
        }
        Some(Hold {
            reason: HoldReason::MarketplaceUnavailable,
            since: self.opened_at?,
            next_probe_at: self.next_probe_at,
            retry_every_seconds: u32::try_from(self.every_ms / 1000).unwrap_or(60).max(1),
            marketplace: self.label.clone(),
        })
    }

    /// Opens it. Again soon after a probe closed it (the marketplace answers reads but
    /// not writes, say), the probes keep their spacing growing instead of starting over,
    /// and the seller is not told a second time.
    fn open(&mut self, now: DateTime<Utc>) {
        let again = self
            .closed_at
            .is_some_and(|closed| now - closed < REOPEN_WINDOW);
        let every = if again {
            Duration::milliseconds(self.every_ms)
                .checked_mul(2)
                .unwrap_or(MAX_REOPEN_PROBE)
                .clamp(FIRST_PROBE, MAX_REOPEN_PROBE)
        } else {
            FIRST_PROBE
        };
        self.state = State::Open.as_str().to_owned();
        self.opened_at = Some(now);
        self.every_ms = every.num_milliseconds();
        self.next_probe_at = Some(now + every);
        self.probe_owner = None;
        self.probe_until = None;
    }
}

/// What changed for the tasks of one account: they are held now, still held (a probe
/// failed: the next one is later), or free again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened,
    StillOpen,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub key: String,
    pub seller_id: i64,
    pub change: Change,
    /// The tasks whose hold changed (to publish).
    pub tasks: Vec<i64>,
}

fn sqlite_or_locked(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    }
}

async fn read_one(
    txn: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<Breaker>, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    Breaker::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT {COLUMNS} FROM breakers WHERE key = $1{}",
            sqlite_or_locked(backend)
        ),
        vec![key.into()],
    ))
    .one(txn)
    .await
}

/// The breaker of `key`, if an account by that key was ever used.
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<Breaker>, sea_orm::DbErr> {
    Breaker::find_by_statement(stmt(
        db.get_database_backend(),
        &format!("SELECT {COLUMNS} FROM breakers WHERE key = $1"),
        vec![key.into()],
    ))
    .one(db)
    .await
}

/// A new task on an account: the account gets a breaker (closed) if it had none, and
/// it remembers how to probe (the newest task's parameters). A task made while the
/// breaker is open is held from the start; its hold (JSON) is returned.
pub(crate) async fn enroll(
    txn: &DatabaseTransaction,
    kind: &dyn AnyKind,
    row: &task::Model,
    now: DateTime<Utc>,
) -> Result<Option<String>, sea_orm::DbErr> {
    let params: serde_json::Value = serde_json::from_str(&row.params).unwrap_or_default();
    let Some(endpoint) = kind.endpoint(row.seller_id, &params) else {
        return Ok(None);
    };
    let backend = txn.get_database_backend();
    txn.execute_raw(stmt(
        backend,
        "INSERT INTO breakers (key, seller_id, label, kind, params, state, failures, every_ms, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'closed', 0, 0, $6) \
         ON CONFLICT (key) DO UPDATE SET label = excluded.label, kind = excluded.kind, params = excluded.params",
        vec![
            endpoint.key.clone().into(),
            row.seller_id.into(),
            endpoint.label.into(),
            kind.name().into(),
            row.params.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    refresh_hold(txn, row.id, &endpoint.key).await
}

/// Writes the account's hold on one task (after a retry takes it up again, or when it is
/// made): the hold if the breaker is open, none otherwise.
pub(crate) async fn refresh_hold(
    txn: &DatabaseTransaction,
    task_id: i64,
    key: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let hold = get(txn, key)
        .await?
        .and_then(|breaker| breaker.hold())
        .and_then(|hold| serde_json::to_string(&hold).ok());
    let backend = txn.get_database_backend();
    let statement = match &hold {
        Some(hold) => stmt(
            backend,
            "UPDATE tasks SET hold = $1, version = version + 1 WHERE id = $2",
            vec![hold.clone().into(), task_id.into()],
        ),
        None => stmt(
            backend,
            "UPDATE tasks SET hold = NULL, version = version + 1 WHERE id = $1 AND hold IS NOT NULL",
            vec![task_id.into()],
        ),
    };
    txn.execute_raw(statement).await?;
    Ok(hold)
}

/// Reads `keys` of `breakers` again under their row locks (PostgreSQL), in key order so
/// two transactions lock them in the same order. SQLite's write transaction already runs
/// alone.
pub(crate) async fn lock(
    txn: &DatabaseTransaction,
    breakers: &mut HashMap<String, Breaker>,
    keys: &std::collections::BTreeSet<String>,
) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for key in keys {
        if let Some(breaker) = read_one(txn, key).await? {
            breakers.insert(key.clone(), breaker);
        }
    }
    Ok(())
}

/// The breakers of the accounts of `task_ids` (as read, unlocked), by task.
pub(crate) async fn for_tasks(
    txn: &DatabaseTransaction,
    task_ids: &[i64],
) -> Result<(HashMap<i64, String>, HashMap<String, Breaker>), sea_orm::DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        id: i64,
        endpoint: Option<String>,
    }
    let backend = txn.get_database_backend();
    let mut endpoints = HashMap::new();
    let mut breakers = HashMap::new();
    for chunk in task_ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let rows = Row::find_by_statement(stmt(
            backend,
            &format!(
                "SELECT id, endpoint FROM tasks WHERE endpoint IS NOT NULL AND id IN ({})",
                marks.join(", ")
            ),
            chunk.iter().map(|id| (*id).into()).collect(),
        ))
        .all(txn)
        .await?;
        for row in rows {
            if let Some(endpoint) = row.endpoint {
                endpoints.insert(row.id, endpoint);
            }
        }
    }
    let mut keys: Vec<&String> = endpoints.values().collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if let Some(breaker) = get(txn, key).await? {
            breakers.insert(key.clone(), breaker);
        }
    }
    Ok((endpoints, breakers))
}

/// Gives back the attempts a run of failures spent, and makes those items due now (they
/// wait behind the open breaker, not behind their own backoff). Items of the account's
/// unfinished tasks only.
async fn forgive_run(
    txn: &DatabaseTransaction,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        &format!(
            "UPDATE task_items SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             error_code = $4, next_attempt_at = $1 WHERE status = @pending AND error_code = $2 AND task_id IN \
             (SELECT id FROM tasks WHERE endpoint = $3 AND status IN {UNFINISHED})"
        ),
        vec![now.into(), UNAVAILABLE.into(), key.into(), HELD.into()],
    ))
    .await?;
    Ok(())
}

/// What one item's `Unavailable` outcome does to its account's breaker: `true` when the
/// breaker is (now) open, so the item is held rather than charged an attempt.
pub(crate) async fn on_unavailable(
    txn: &DatabaseTransaction,
    breaker: &mut Breaker,
    opened: &mut Vec<String>,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    if breaker.state() != State::Closed {
        return Ok(true);
    }
    breaker.failures += 1;
    if breaker.failures < THRESHOLD {
        return Ok(false);
    }
    breaker.open(now);
    tracing::warn!(
        key = %breaker.key,
        seller_id = breaker.seller_id,
        failures = breaker.failures,
        "circuit breaker opened: the marketplace is not answering"
    );
    forgive_run(txn, &breaker.key, now).await?;
    opened.push(breaker.key.clone());
    Ok(true)
}

/// Stores breakers changed by a batch of outcomes, holds the tasks of those that opened
/// and tells their sellers.
pub(crate) async fn save_outcomes(
    txn: &DatabaseTransaction,
    breakers: &HashMap<String, Breaker>,
    touched: &[String],
    opened: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Transition>, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    for key in touched {
        let Some(breaker) = breakers.get(key) else {
            continue;
        };
        // A run that goes on or ends changes the count only; an opening, the rest too.
        let statement = if opened.contains(key) {
            stmt(
                backend,
                "UPDATE breakers SET state = $1, failures = $2, opened_at = $3, next_probe_at = $4, \
                 every_ms = $5, probe_owner = NULL, probe_until = NULL, updated_at = $6 \
                 WHERE key = $7 AND state = 'closed'",
                vec![
                    breaker.state.clone().into(),
                    breaker.failures.into(),
                    breaker.opened_at.into(),
                    breaker.next_probe_at.into(),
                    breaker.every_ms.into(),
                    now.into(),
                    key.clone().into(),
                ],
            )
        } else {
            stmt(
                backend,
                "UPDATE breakers SET failures = $1, updated_at = $2 WHERE key = $3 AND state = 'closed'",
                vec![breaker.failures.into(), now.into(), key.clone().into()],
            )
        };
        txn.execute_raw(statement).await?;
    }
    let mut transitions = Vec::new();
    for key in opened {
        let Some(breaker) = breakers.get(key) else {
            continue;
        };
        let tasks = hold_tasks(txn, breaker, now).await?;
        // Opened again soon after it closed: the seller was told already.
        if breaker.every_ms <= FIRST_PROBE.num_milliseconds() {
            notify(txn, breaker, Change::Opened, tasks.len(), now).await?;
        }
        transitions.push(Transition {
            key: key.clone(),
            seller_id: breaker.seller_id,
            change: Change::Opened,
            tasks,
        });
    }
    Ok(transitions)
}

/// Writes the breaker's hold (or none) on every unfinished task of its account.
async fn hold_tasks(
    txn: &DatabaseTransaction,
    breaker: &Breaker,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    #[derive(FromQueryResult)]
    struct Id {
        id: i64,
    }
    let backend = txn.get_database_backend();
    let hold = breaker
        .hold()
        .and_then(|hold| serde_json::to_string(&hold).ok());
    // A task is named whether its hold starts, changes or ends.
    let ids: Vec<i64> = Id::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT id FROM tasks WHERE endpoint = $1 AND (status IN {UNFINISHED} OR hold IS NOT NULL) ORDER BY id"
        ),
        vec![breaker.key.clone().into()],
    ))
    .all(txn)
    .await?
    .into_iter()
    .map(|row| row.id)
    .collect();
    txn.execute_raw(stmt(
        backend,
        &format!(
            "UPDATE tasks SET hold = CASE WHEN status IN {UNFINISHED} THEN $1 ELSE NULL END, \
             version = version + 1, updated_at = $2 WHERE endpoint = $3 AND (status IN {UNFINISHED} OR hold IS NOT NULL)"
        ),
        vec![hold.into(), now.into(), breaker.key.clone().into()],
    ))
    .await?;
    Ok(ids)
}

/// One notification per opening and per recovery, not one per item.
async fn notify(
    txn: &DatabaseTransaction,
    breaker: &Breaker,
    change: Change,
    tasks: usize,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if change == Change::StillOpen || tasks == 0 {
        return Ok(());
    }
    let (title, body, tone) =
        task_model::hold::notice(&breaker.label, change == Change::Closed, tasks as i64);
    notifications::insert(txn, breaker.seller_id, None, tone, &title, &body, now).await?;
    Ok(())
}

/// Takes the probes that are due (or whose prober went quiet) for `worker_id`: each
/// returned breaker is this worker's to probe until `now + lease`.
pub async fn take_due<C>(
    db: &C,
    worker_id: &str,
    only: Option<&str>,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Breaker>, sea_orm::DbErr>
where
    C: ConnectionTrait,
{
    let backend = db.get_database_backend();
    let due = "((state = 'open' AND next_probe_at <= $1) \
               OR (state = 'probing' AND (probe_until IS NULL OR probe_until < $1)))";
    let candidates = Breaker::find_by_statement(match only {
        Some(key) => stmt(
            backend,
            &format!("SELECT {COLUMNS} FROM breakers WHERE {due} AND key = $2"),
            vec![now.into(), key.into()],
        ),
        None => stmt(
            backend,
            &format!("SELECT {COLUMNS} FROM breakers WHERE {due} ORDER BY key"),
            vec![now.into()],
        ),
    })
    .all(db)
    .await?;
    let mut taken = Vec::new();
    for mut breaker in candidates {
        // One statement: only one worker turns a due breaker into its probe.
        let updated = db
            .execute_raw(stmt(
                backend,
                &format!(
                    "UPDATE breakers SET state = 'probing', probe_owner = $3, probe_until = $4, updated_at = $1 \
                     WHERE key = $2 AND {due}"
                ),
                vec![
                    now.into(),
                    breaker.key.clone().into(),
                    worker_id.into(),
                    (now + lease).into(),
                ],
            ))
            .await?;
        if updated.rows_affected() == 1 {
            tracing::info!(key = %breaker.key, "circuit breaker half-open: probing the marketplace");
            breaker.state = State::Probing.as_str().to_owned();
            breaker.probe_owner = Some(worker_id.to_owned());
            taken.push(breaker);
        }
    }
    Ok(taken)
}

/// "Try now": the account's next probe is due at once.
pub async fn probe_now(
    db: &impl ConnectionTrait,
    key: &str,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let updated = db
        .execute_raw(stmt(
            db.get_database_backend(),
            "UPDATE breakers SET next_probe_at = $1 WHERE key = $2 AND state = 'open'",
            vec![now.into(), key.into()],
        ))
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// A task that ended because its hold lasted too long.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    pub task_id: i64,
}

/// Stores what `worker_id`'s probe of `key` found: `Ok` closes the breaker and makes its
/// held items due now; an error opens it again for twice as long, and ends the tasks held
/// past the policy's limit. `None` when the probe was no longer this worker's.
pub async fn probed<C>(
    db: &C,
    worker_id: &str,
    key: &str,
    found: Result<(), String>,
    policy: &BreakerPolicy,
    now: DateTime<Utc>,
) -> Result<Option<(Transition, Vec<Expired>)>, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = write_txn(db).await?;
    let backend = txn.get_database_backend();
    let Some(mut breaker) = read_one(&txn, key).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    if breaker.state() != State::Probing || breaker.probe_owner.as_deref() != Some(worker_id) {
        txn.rollback().await?;
        return Ok(None);
    }
    let mut expired = Vec::new();
    let change = match found {
        Ok(()) => {
            let held_for = breaker.opened_at.map(|at| (now - at).num_seconds());
            tracing::info!(
                key,
                held_for_seconds = held_for,
                "circuit breaker closed: the marketplace answers again"
            );
            breaker.state = State::Closed.as_str().to_owned();
            breaker.failures = 0;
            breaker.opened_at = None;
            breaker.next_probe_at = None;
            breaker.last_error = None;
            breaker.closed_at = Some(now);
            // Every held item goes at once, at the account's full pace.
            txn.execute_raw(stmt(
                backend,
                &format!(
                    "UPDATE task_items SET next_attempt_at = $1 WHERE status = @pending AND error_code IN ($2, $4) \
                     AND next_attempt_at > $1 AND task_id IN (SELECT id FROM tasks WHERE endpoint = $3 AND status IN {UNFINISHED})"
                ),
                vec![now.into(), UNAVAILABLE.into(), key.into(), HELD.into()],
            ))
            .await?;
            Change::Closed
        }
        Err(problem) => {
            let every =
                Duration::milliseconds(breaker.every_ms.max(FIRST_PROBE.num_milliseconds()))
                    .checked_mul(2)
                    .unwrap_or(policy.max_probe)
                    .min(policy.max_probe)
                    .max(FIRST_PROBE);
            tracing::warn!(key, %problem, next_probe_in_seconds = every.num_seconds(), "circuit breaker stays open: the probe failed");
            breaker.state = State::Open.as_str().to_owned();
            breaker.every_ms = every.num_milliseconds();
            breaker.next_probe_at = Some(now + every);
            breaker.last_error = Some(problem.chars().take(500).collect());
            expired = expire_held(&txn, &breaker, policy, now).await?;
            Change::StillOpen
        }
    };
    txn.execute_raw(stmt(
        backend,
        "UPDATE breakers SET state = $1, failures = $2, opened_at = $3, next_probe_at = $4, every_ms = $5, \
         probe_owner = NULL, probe_until = NULL, last_error = $6, updated_at = $7, closed_at = $9 WHERE key = $8",
        vec![
            breaker.state.clone().into(),
            breaker.failures.into(),
            breaker.opened_at.into(),
            breaker.next_probe_at.into(),
            breaker.every_ms.into(),
            breaker.last_error.clone().into(),
            now.into(),
            key.into(),
            breaker.closed_at.into(),
        ],
    ))
    .await?;
    let tasks = hold_tasks(&txn, &breaker, now).await?;
    notify(&txn, &breaker, change, tasks.len(), now).await?;
    txn.commit().await?;
    Ok(Some((
        Transition {
            key: key.to_owned(),
            seller_id: breaker.seller_id,
            change,
            tasks,
        },
        expired,
    )))
}

/// Ends the account's running tasks held longer than the limit: their unsent items (and
/// those whose check could not be made) fail with [`UNAVAILABLE`], and the task settles,
/// `failed` if nothing else went through. A task's hold counts from the outage or from
/// its own (re)start, whichever is later.
async fn expire_held(
    txn: &DatabaseTransaction,
    breaker: &Breaker,
    policy: &BreakerPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<Expired>, sea_orm::DbErr> {
    #[derive(FromQueryResult)]
    struct Held {
        id: i64,
        created_at: DateTime<Utc>,
        estimated_at: Option<DateTime<Utc>>,
    }
    let Some(opened_at) = breaker.opened_at else {
        return Ok(Vec::new());
    };
    let backend = txn.get_database_backend();
    let held = Held::find_by_statement(stmt(
        backend,
        "SELECT id, created_at, estimated_at FROM tasks WHERE endpoint = $1 AND status IN (@queued, @running) ORDER BY id",
        vec![breaker.key.clone().into()],
    ))
    .all(txn)
    .await?;
    let who = task_model::hold::capitalised(&breaker.label);
    let span = task_model::hold::span(policy.hold_limit.num_seconds());
    let unsent = format!(
        "{who} did not answer for {span}; this item was not sent. Retry once it answers again."
    );
    let unchecked = format!(
        "{who} accepted this item, then did not answer for {span}: whether it is listed is not known. Retry to send it again (nothing is listed twice)."
    );
    let mut expired = Vec::new();
    for task in held {
        let since = opened_at.max(task.estimated_at.unwrap_or(task.created_at));
        if now - since < policy.hold_limit {
            continue;
        }
        super::lock(txn, task.id).await?;
        let mut moves = Vec::new();
        for (from, message) in [
            (ItemStatus::Pending, &unsent),
            (ItemStatus::Waiting, &unchecked),
        ] {
            let failed = txn
                .execute_raw(stmt(
                    backend,
                    &format!(
                        "UPDATE task_items SET status = @failed, error_code = $1, error_message = $2, \
                         lease_owner = NULL, lease_expires_at = NULL, finished_at = $3, updated_at = $3 \
                         WHERE task_id = $4 AND status = @{}",
                        from.as_str()
                    ),
                    vec![
                        UNAVAILABLE.into(),
                        message.clone().into(),
                        now.into(),
                        task.id.into(),
                    ],
                ))
                .await?
                .rows_affected() as i64;
            moves.push((from, -failed));
            moves.push((ItemStatus::Failed, failed));
        }
        super::shift_counters(txn, task.id, &moves, now).await?;
        tracing::warn!(task_id = task.id, key = %breaker.key, "task held past the limit: ended");
        super::complete::settle(txn, task.id, now).await?;
        // Over now: it shows no hold (a retry shows it again if the breaker is still open).
        txn.execute_raw(stmt(
            backend,
            "UPDATE tasks SET hold = NULL WHERE id = $1",
            vec![task.id.into()],
        ))
        .await?;
        expired.push(Expired { task_id: task.id });
    }
    Ok(expired)
}

/// Whether a task status is one the hold shows on (for tests of the SQL list).
pub fn shows_hold(status: TaskStatus) -> bool {
    !status.is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker {
            key: "connection-1".into(),
            seller_id: 1,
            label: "eBay".into(),
            kind: "publish".into(),
            params: "{}".into(),
            state: "closed".into(),
            failures: 0,
            opened_at: None,
            next_probe_at: None,
            every_ms: 0,
            probe_owner: None,
            probe_until: None,
            last_error: None,
            closed_at: None,
        }
    }

    #[test]
    fn a_closed_breaker_holds_nothing_and_an_open_one_says_since_when() {
        let mut b = breaker();
        assert_eq!(b.hold(), None);
        let now = DateTime::<Utc>::default();
        b.open(now);
        let hold = b.hold().unwrap();
        assert_eq!(hold.since, now);
        assert_eq!(hold.next_probe_at, Some(now + FIRST_PROBE));
        assert_eq!(hold.retry_every_seconds, 5);
        assert_eq!(hold.marketplace, "eBay");
    }

    #[test]
    fn opening_again_soon_after_a_recovery_keeps_the_spacing_growing() {
        let now = DateTime::<Utc>::default();
        let mut b = breaker();
        b.every_ms = 20_000;
        b.closed_at = Some(now);
        b.open(now + Duration::seconds(30));
        assert_eq!(b.every_ms, 40_000);
        b.open(now + Duration::seconds(60));
        assert_eq!(b.every_ms, 60_000, "never past a minute");
        // Long after: a new outage starts over.
        b.open(now + Duration::hours(1));
        assert_eq!(b.every_ms, 5_000);
    }

    #[test]
    fn the_statuses_that_show_a_hold_are_the_unfinished_ones() {
        let listed: Vec<&str> = UNFINISHED
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(|s| s.trim_start_matches('@'))
            .collect();
        for status in TaskStatus::ALL {
            assert_eq!(
                listed.contains(&status.as_str()),
                shows_hold(status),
                "{status}"
            );
        }
    }
}
