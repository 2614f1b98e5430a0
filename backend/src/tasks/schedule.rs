//! Tasks that start later. A scheduled task is stored whole (its items pending) in the
//! status `scheduled`, which workers never claim; when its `start_at` comes, or the
//! seller says "start now", one guarded UPDATE moves it to `queued`. With several server
//! instances each may try: the guard (`status = 'scheduled'`) lets exactly one through,
//! and only that one writes the "started" notification. A restart loses nothing: the
//! next look after it starts whatever came due meanwhile.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, TransactionTrait,
};

use super::{stmt, write_txn, Control, Task, TaskError, TaskStatus};
use crate::entities::task;

#[derive(Debug, FromQueryResult)]
struct Due {
    id: i64,
}

/// Starts every scheduled task whose time has come (not the later steps of chains:
/// those start when the step before them ends). Returns the tasks started.
pub async fn start_due<C>(
    db: &C,
    registry: &super::Registry,
    now: DateTime<Utc>,
) -> Result<Vec<Task>, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let due = Due::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT id FROM tasks WHERE status = @scheduled AND start_at <= $1 \
         AND previous_task_id IS NULL ORDER BY start_at, id LIMIT 100",
        vec![now.into()],
    ))
    .all(db)
    .await?;
    let mut started = Vec::new();
    for Due { id } in due {
        if let Some(task) = start(db, registry, id, now).await? {
            started.push(task);
        }
    }
    Ok(started)
}

/// Moves one scheduled task to `queued`, makes its estimate again (about now, sharing the
/// pace with what else runs now, not about when it was asked for) and says it started;
/// `None` if another instance (or the seller) did first.
async fn start<C>(
    db: &C,
    registry: &super::Registry,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Task>, sea_orm::DbErr>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = write_txn(db).await?;
    let moved = txn
        .execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE tasks SET status = @queued, estimated_at = $1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND status = @scheduled AND previous_task_id IS NULL",
            vec![now.into(), task_id.into()],
        ))
        .await?
        .rows_affected();
    if moved == 0 {
        txn.rollback().await?;
        return Ok(None);
    }
    let Some(row) = task::Entity::find_by_id(task_id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    let mut task =
        super::read(row.clone()).map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    let left = u64::try_from(task.counts.pending).unwrap_or(0);
    match super::create::estimate_again(&txn, registry, &task, left).await {
        Ok(estimate) => {
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                "UPDATE tasks SET estimate = $1 WHERE id = $2",
                vec![serde_json::to_string(&estimate).ok().into(), task_id.into()],
            ))
            .await?;
            task.estimate = Some(estimate);
        }
        Err(err) => {
            tracing::warn!(task_id, error = %err, "a scheduled task keeps the estimate it was made with");
        }
    }
    super::create::note_started(&txn, &row, task.estimate.as_ref(), now).await?;
    txn.commit().await?;
    tracing::info!(task_id, start_at = ?task.start_at, "scheduled task started");
    Ok(Some(task))
}

/// The seller starts a scheduled task before its time. A task already started is left
/// as it is (`None`); a later step of a chain waits for the step before it.
pub async fn start_now<C>(
    db: &C,
    registry: &super::Registry,
    seller_id: i64,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Task>, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let task = super::get(db, seller_id, task_id).await?;
    if !Control::StartNow.applies_to(task.status) {
        return Err(TaskError::Conflict {
            control: Control::StartNow,
            status: task.status,
        });
    }
    if task.status != TaskStatus::Scheduled {
        return Ok(None);
    }
    if let Some(previous) = task.chain.and_then(|chain| chain.previous) {
        return Err(TaskError::Waits { previous });
    }
    Ok(start(db, registry, task_id, now).await?)
}

/// The next time the seller's clock in `zone` reads `at` after `now` ("tonight at
/// 02:00"). On a day the clocks skip that hour, the first moment after the gap; on a
/// day they fall back through it, the first of the two.
pub fn next_local(zone: chrono_tz::Tz, at: NaiveTime, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&zone).date_naive();
    for day in 0..3 {
        let date = today + Duration::days(day);
        let local = date.and_time(at);
        let instant = match zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            // In the gap the clocks jumped over: read with the offset in force before
            // the jump, it is as far past the gap's end as it was past its start.
            chrono::LocalResult::None => {
                use chrono::Offset;
                let before = zone
                    .offset_from_utc_datetime(&(local - Duration::hours(3)))
                    .fix();
                Utc.from_utc_datetime(
                    &(local - Duration::seconds(i64::from(before.local_minus_utc()))),
                )
            }
        };
        if instant > now {
            return instant;
        }
    }
    now + Duration::days(1)
}

/// "Tonight" for a seller whose account zone is `zone`: the next 02:00 on their clock.
pub fn tonight(zone: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN);
    next_local(zone_of(zone), two, now)
}

/// The seller's zone by name; UTC when they have none or it is not known.
pub fn zone_of(name: Option<&str>) -> chrono_tz::Tz {
    name.and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn two() -> NaiveTime {
        NaiveTime::from_hms_opt(2, 0, 0).unwrap()
    }

    #[test]
    fn tonight_is_in_the_sellers_zone() {
        let paris = zone_of(Some("Europe/Paris"));
        // 15:00 in Paris (UTC+1): tonight's 02:00 is 01:00 UTC tomorrow.
        assert_eq!(
            next_local(paris, two(), utc(2026, 12, 3, 14, 0)),
            utc(2026, 12, 4, 1, 0)
        );
        // 01:30 in Paris: 02:00 is still tonight, half an hour away.
        assert_eq!(
            next_local(paris, two(), utc(2026, 12, 4, 0, 30)),
            utc(2026, 12, 4, 1, 0)
        );
        let new_york = zone_of(Some("America/New_York"));
        assert_eq!(
            next_local(new_york, two(), utc(2026, 12, 3, 14, 0)),
            utc(2026, 12, 4, 7, 0)
        );
        // No zone reads as UTC.
        assert_eq!(
            next_local(zone_of(None), two(), utc(2026, 12, 3, 14, 0)),
            utc(2026, 12, 4, 2, 0)
        );
    }

    #[test]
    fn a_skipped_hour_starts_when_the_clocks_land() {
        // 29 March 2026, Paris: 02:00 becomes 03:00 (01:00 UTC). 02:00 does not exist;
        // the task starts at 03:00 local, the moment it would have been.
        let paris = zone_of(Some("Europe/Paris"));
        assert_eq!(
            next_local(paris, two(), utc(2026, 3, 28, 20, 0)),
            utc(2026, 3, 29, 1, 0)
        );
        // 02:30 likewise lands at 03:00... plus its half hour: 03:30 local.
        let half = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            next_local(paris, half, utc(2026, 3, 28, 20, 0)),
            utc(2026, 3, 29, 1, 30)
        );
    }

    #[test]
    fn a_repeated_hour_starts_the_first_time() {
        // 25 October 2026, Paris: 03:00 falls back to 02:00; 02:30 happens twice, first
        // at 00:30 UTC (UTC+2), then at 01:30 UTC.
        let paris = zone_of(Some("Europe/Paris"));
        let half = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            next_local(paris, half, utc(2026, 10, 24, 20, 0)),
            utc(2026, 10, 25, 0, 30)
        );
        // Once past the first, the next is tomorrow's, not the repeat.
        assert_eq!(
            next_local(paris, half, utc(2026, 10, 25, 0, 45)),
            utc(2026, 10, 26, 1, 30)
        );
    }
}
