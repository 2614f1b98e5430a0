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

mod outcomes;
mod probe;

pub(crate) use outcomes::{enroll, for_tasks, lock, on_unavailable, refresh_hold, save_outcomes};
pub use probe::{probe_now, probed, take_due, Expired};

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

pub(super) fn sqlite_or_locked(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    }
}

pub(super) async fn read_one(
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
