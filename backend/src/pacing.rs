//! Our own pace towards the marketplace, per seller account, so its limit is rarely hit.
//!
//! The algorithm is GCRA (a token bucket written as one timestamp): each account keeps a
//! "theoretical arrival time" (`tat`). A caller reserves the next slot
//! `max(tat, now − tolerance)`, moves `tat` one interval on, and waits until its slot. A
//! 429 pushes `tat` past the marketplace's `Retry-After`, so every caller holds off.
//!
//! On SQLite (one process) the timestamps live in memory. On PostgreSQL they live in the
//! `marketplace_pace` table and each reservation is one atomic upsert timed by the
//! database's clock, so the limit holds across every server instance sharing the database.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use std::collections::HashMap;
use std::sync::Mutex;

/// How fast we call the marketplace for one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub per_second: u32,
    /// Calls that may go at once after a quiet spell.
    pub burst: u32,
}

impl Pace {
    fn interval_us(&self) -> i64 {
        1_000_000 / i64::from(self.per_second.max(1))
    }

    fn tolerance_us(&self) -> i64 {
        self.interval_us() * i64::from(self.burst.max(1) - 1)
    }
}

/// When a call may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Reserved: wait this long, then call.
    After(std::time::Duration),
    /// Nothing reserved: the account is held off (a 429) for longer than a caller should
    /// sleep; come back after this long.
    HeldOff(std::time::Duration),
}

enum Store {
    Memory(Mutex<HashMap<String, i64>>),
    Postgres(DatabaseConnection),
}

pub struct Pacer {
    pace: Pace,
    store: Store,
    /// Longer holds than this are handed back to the caller instead of slept through.
    max_sleep_us: i64,
}

fn micros(duration: i64) -> std::time::Duration {
    std::time::Duration::from_micros(duration.max(0) as u64)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Pacer {
    /// Pacing in this process only (SQLite, tests).
    pub fn in_memory(pace: Pace) -> Self {
        Self {
            pace,
            store: Store::Memory(Mutex::new(HashMap::new())),
            max_sleep_us: 2_000_000,
        }
    }

    /// Pacing shared through the database on PostgreSQL; in memory otherwise.
    pub fn shared(pace: Pace, db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Self {
                store: Store::Postgres(db.clone()),
                ..Self::in_memory(pace)
            },
            _ => Self::in_memory(pace),
        }
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Reserves this account's next slot, unless it is held off for longer than a
    /// caller should sleep.
    pub async fn turn(&self, account: &str) -> Result<Turn, DbErr> {
        let interval = self.pace.interval_us();
        let tolerance = self.pace.tolerance_us();
        match &self.store {
            Store::Memory(tats) => {
                let now = now_us();
                let mut tats = tats.lock().unwrap_or_else(|p| p.into_inner());
                let tat = tats.get(account).copied().unwrap_or(i64::MIN);
                let slot = tat.max(now - tolerance);
                if slot - now > self.max_sleep_us {
                    return Ok(Turn::HeldOff(micros(slot - now)));
                }
                tats.insert(account.to_owned(), slot + interval);
                Ok(Turn::After(micros(slot - now)))
            }
            Store::Postgres(db) => {
                // One statement: the database's clock and row lock make the reservation
                // atomic across instances. A hold-off too long to sleep reserves nothing.
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "WITH now AS (SELECT (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint AS us) \
                         INSERT INTO marketplace_pace (account, tat_us) SELECT $1, us - $2 + $3 FROM now \
                         ON CONFLICT (account) DO UPDATE \
                         SET tat_us = GREATEST(marketplace_pace.tat_us, EXCLUDED.tat_us - $3) + $3 \
                         WHERE marketplace_pace.tat_us - (EXCLUDED.tat_us - $3 + $2) <= $4 \
                         RETURNING tat_us, (SELECT us FROM now) AS now_us",
                        [
                            account.into(),
                            tolerance.into(),
                            interval.into(),
                            self.max_sleep_us.into(),
                        ],
                    ))
                    .await?;
                let Some(row) = row else {
                    // Held off (the WHERE refused the update): say for how long.
                    let held = db
                        .query_one_raw(Statement::from_sql_and_values(
                            DbBackend::Postgres,
                            "SELECT tat_us - (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint AS wait_us \
                             FROM marketplace_pace WHERE account = $1",
                            [account.into()],
                        ))
                        .await?;
                    let wait: i64 = match held {
                        Some(row) => row.try_get("", "wait_us")?,
                        None => 0,
                    };
                    return Ok(Turn::HeldOff(micros(wait)));
                };
                let tat: i64 = row.try_get("", "tat_us")?;
                let now: i64 = row.try_get("", "now_us")?;
                Ok(Turn::After(micros(tat - interval - now)))
            }
        }
    }

    /// The marketplace said 429: nobody calls for this account before `wait` is over.
    pub async fn hold_off(&self, account: &str, wait: std::time::Duration) -> Result<(), DbErr> {
        let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX / 4);
        match &self.store {
            Store::Memory(tats) => {
                let until = now_us() + wait;
                let mut tats = tats.lock().unwrap_or_else(|p| p.into_inner());
                let tat = tats.entry(account.to_owned()).or_insert(i64::MIN);
                *tat = (*tat).max(until);
                Ok(())
            }
            Store::Postgres(db) => {
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "INSERT INTO marketplace_pace (account, tat_us) \
                     VALUES ($1, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + $2) \
                     ON CONFLICT (account) DO UPDATE SET tat_us = GREATEST(marketplace_pace.tat_us, EXCLUDED.tat_us)",
                    [account.into(), wait.into()],
                ))
                .await?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn waits(pacer: &Pacer, n: usize) -> Vec<Turn> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut turns = Vec::new();
            for _ in 0..n {
                turns.push(pacer.turn("a").await.unwrap());
            }
            turns
        })
    }

    fn millis(turn: Turn) -> u128 {
        match turn {
            Turn::After(d) => d.as_millis(),
            Turn::HeldOff(d) => 1_000_000 + d.as_millis(),
        }
    }

    #[test]
    fn without_burst_calls_are_spaced_one_interval_apart() {
        let pacer = Pacer::in_memory(Pace {
            per_second: 10,
            burst: 1,
        });
        let turns: Vec<u128> = waits(&pacer, 4).into_iter().map(millis).collect();
        // Each reservation is ~100 ms after the one before (a little less as time passes).
        assert!(turns[0] <= 1, "{turns:?}");
        for pair in turns.windows(2) {
            let step = pair[1] as i128 - pair[0] as i128;
            assert!((95..=100).contains(&step), "{turns:?}");
        }
    }

    #[test]
    fn a_burst_goes_at_once_then_the_pace_holds() {
        let pacer = Pacer::in_memory(Pace {
            per_second: 10,
            burst: 3,
        });
        let turns: Vec<u128> = waits(&pacer, 5).into_iter().map(millis).collect();
        assert!(turns[..3].iter().all(|w| *w <= 1), "{turns:?}");
        assert!((95..=100).contains(&turns[3]), "{turns:?}");
        assert!((195..=200).contains(&turns[4]), "{turns:?}");
    }

    #[test]
    fn a_long_hold_off_is_handed_back_not_slept() {
        let pacer = Pacer::in_memory(Pace {
            per_second: 10,
            burst: 1,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            pacer.hold_off("a", Duration::from_secs(30)).await.unwrap();
            let Turn::HeldOff(wait) = pacer.turn("a").await.unwrap() else {
                panic!("expected a hold-off")
            };
            assert!(wait > Duration::from_secs(29));
            // Another account is not affected.
            assert!(matches!(pacer.turn("b").await.unwrap(), Turn::After(d) if d < Duration::from_millis(2)));
            // A short hold-off is slept through.
            pacer.hold_off("c", Duration::from_millis(500)).await.unwrap();
            assert!(matches!(pacer.turn("c").await.unwrap(), Turn::After(d) if d > Duration::from_millis(400)));
        });
    }
}
