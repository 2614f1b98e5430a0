//! What a batch of outcomes and a new task do to an account's breaker: the run of
//! failures, the opening, the hold written on the account's tasks and the seller told.

use super::*;

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
pub(super) async fn hold_tasks(
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
pub(super) async fn notify(
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
