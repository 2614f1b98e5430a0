//! Probing an open breaker: taking a due probe under a lease, storing what it found
//! (closed, or open again with twice the spacing), and ending tasks held past the limit.

use super::outcomes::{hold_tasks, notify};
use super::*;

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
        crate::tasks::lock(txn, task.id).await?;
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
        crate::tasks::shift_counters(txn, task.id, &moves, now).await?;
        tracing::warn!(task_id = task.id, key = %breaker.key, "task held past the limit: ended");
        crate::tasks::complete::settle(txn, task.id, now).await?;
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
