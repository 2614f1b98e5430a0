//! The runtime, one file per role: `executor` (claim into free slots, run each item's
//! handler in its own task, so a panic fails that attempt and not the worker), `completer`
//! (store outcomes in batches and tell the bus), `heartbeat` (renew leases, signal
//! cancellations, rescue expired leases), `runner` (the loop) and `shutdown` (stop
//! claiming, let in-flight items finish, give back the rest). Here: the engine itself and
//! the operations that also tell the bus and the workers.

mod completer;
mod executor;
mod heartbeat;
mod probe;
mod runner;
mod shutdown;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::claim::Claimed;
use super::clock::{Clock, Jitter, RandomJitter, SystemClock};
use super::control::{self, Controlled, Selection};
use super::create::{self, Created, NewTask};
use super::events::{EventBus, TaskEvent};
use super::{Outcome, Registry, Task, TaskError};

/// A handler's outcome, not yet stored.
struct Ran {
    item: Claimed,
    outcome: Outcome,
    policy: super::RetryPolicy,
    /// See [`super::complete::Finished::echo`].
    echo: bool,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Unique per process start; stored as the lease owner.
    pub worker_id: String,
    /// Items this process runs at once.
    pub slots: usize,
    pub lease: chrono::Duration,
    pub heartbeat_every: Duration,
    /// How often to look for due items without a wake-up (retries coming due).
    pub poll_every: Duration,
    pub rescue_every: Duration,
    /// On shutdown, how long in-flight items may run before they are asked to stop.
    pub shutdown_grace: Duration,
    /// The marketplace accounts' circuit breakers: probe spacing, hold limit.
    pub breaker: super::breaker::BreakerPolicy,
}

impl EngineConfig {
    pub fn new(slots: usize) -> Self {
        use rand::Rng;
        Self {
            worker_id: format!(
                "w{}-{:08x}",
                std::process::id(),
                rand::thread_rng().gen::<u32>()
            ),
            slots,
            lease: chrono::Duration::seconds(10),
            heartbeat_every: Duration::from_secs(2),
            poll_every: Duration::from_millis(500),
            rescue_every: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            breaker: super::breaker::BreakerPolicy::default(),
        }
    }
}

/// The items this worker has in hand: item id → (task id, its cancellation signal).
type InFlight = HashMap<i64, (i64, CancellationToken)>;

pub struct Engine {
    db: DatabaseConnection,
    registry: Registry,
    clock: Arc<dyn Clock>,
    jitter: Arc<dyn Jitter>,
    bus: EventBus,
    config: EngineConfig,
    wake: Notify,
    /// Wakes the expander: a task made from a filter waits for its items.
    expand_wake: Notify,
    in_flight: Mutex<InFlight>,
    stopping: CancellationToken,
    /// When the run loop last went round (Unix ms); 0 until it starts, so a web-only
    /// instance that never runs one says so.
    loop_seen: std::sync::atomic::AtomicI64,
}

/// Whether this process's run loop is going round, for readiness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// This instance runs no loop (`STOCKROOM_WORKERS=0`, or not started yet).
    None,
    /// It went round within the last `stale_after`.
    Running,
    /// It has not gone round for longer than that: stuck, or ended.
    Stalled { seconds: i64 },
}

impl Runner {
    /// From the loop's last turn (Unix ms, 0 for never) as seen at `now_ms`.
    pub fn of(seen_ms: i64, now_ms: i64, stale_after: Duration) -> Self {
        if seen_ms == 0 {
            return Self::None;
        }
        let age_ms = now_ms - seen_ms;
        if age_ms <= i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX) {
            Self::Running
        } else {
            Self::Stalled {
                seconds: age_ms / 1000,
            }
        }
    }
}

impl Engine {
    /// Marks one turn of the run loop.
    pub(crate) fn loop_turned(&self) {
        self.loop_seen.store(
            chrono::Utc::now().timestamp_millis(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Whether the run loop is going round: it turns at least every poll interval.
    pub fn runner(&self, stale_after: Duration) -> Runner {
        Runner::of(
            self.loop_seen.load(std::sync::atomic::Ordering::Relaxed),
            chrono::Utc::now().timestamp_millis(),
            stale_after,
        )
    }

    pub fn new(
        db: DatabaseConnection,
        registry: Registry,
        bus: EventBus,
        config: EngineConfig,
    ) -> Self {
        Self {
            db,
            registry,
            clock: Arc::new(SystemClock),
            jitter: Arc::new(RandomJitter),
            bus,
            config,
            wake: Notify::new(),
            expand_wake: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            stopping: CancellationToken::new(),
            loop_seen: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Tests pass a manual clock and no jitter to assert exact schedules.
    pub fn with_time(mut self, clock: Arc<dyn Clock>, jitter: Arc<dyn Jitter>) -> Self {
        self.clock = clock;
        self.jitter = jitter;
        self
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The items in hand. One policy for a poisoned lock, everywhere: carry on with the
    /// map as it is. Every use is a single insert, remove, read or cancel signal, so a
    /// panic while it was held cannot have left it half-changed.
    fn in_flight(&self) -> MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, task: &Task) {
        self.bus.publish(TaskEvent::from(task));
    }

    async fn publish_id(&self, task_id: i64) {
        if let Ok(task) = super::load(&self.db, task_id).await {
            self.publish(&task);
        }
    }

    // ---- Operations that also tell the bus and the workers --------------------------

    pub async fn create_task(&self, new: NewTask) -> Result<Created, TaskError> {
        self.create_task_from(new, None).await
    }

    /// Creates a task that starts later, or is followed by another, or both.
    pub async fn create_flow(
        &self,
        new: NewTask,
        subjects: Option<Vec<serde_json::Value>>,
        later: create::Later,
    ) -> Result<Created, TaskError> {
        let created =
            create::create_flow(&self.db, &self.registry, new, subjects, later, self.now()).await?;
        if let Created::New(task) = &created {
            self.publish(task);
            if let Some(next) = task.chain.and_then(|chain| chain.next) {
                self.publish_id(next).await;
            }
            self.wake.notify_one();
        }
        Ok(created)
    }

    /// Creates a task over every catalog item of the seller's that `selection` matches
    /// now; this instance's expander (or another's) adds the items in chunks.
    pub async fn create_matching(
        &self,
        new: NewTask,
        selection: super::expand::Selection,
        later: create::Later,
    ) -> Result<Created, TaskError> {
        let created =
            create::create_matching(&self.db, &self.registry, new, selection, later, self.now())
                .await?;
        if let Created::New(task) = &created {
            self.publish(task);
            if let Some(next) = task.chain.and_then(|chain| chain.next) {
                self.publish_id(next).await;
            }
            self.expand_wake.notify_one();
        }
        Ok(created)
    }

    /// Adds the items of tasks made from a filter, a chunk at a time, until `shutdown`;
    /// each chunk wakes the claimer. Sleeps while no task waits for items (a second at
    /// most: another instance may have made one).
    pub(crate) async fn expand_loop(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match super::expand::step(&self.db, &self.registry, self.now()).await {
                Ok(Some(done)) => {
                    // A chunk changes no counter; the last one may change the total.
                    if let (true, Some(task)) = (done.complete, &done.task) {
                        self.publish(task);
                    }
                    self.wake.notify_one();
                    // A breath between chunks: on SQLite the claims and the outcomes
                    // being stored need the one write lock too.
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "adding a filtered task's items failed; trying again");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.expand_wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// After `task` changed: when it is over and a step follows it, that step was just
    /// given its items (its estimate is made again for what it really has) or cancelled;
    /// either way everyone hears of it.
    pub(crate) async fn follow(&self, task: &Task) {
        let Some(next_id) = task.chain.and_then(|chain| chain.next) else {
            return;
        };
        if !task.status.is_terminal() {
            return;
        }
        let Ok(next) = super::load(&self.db, next_id).await else {
            return;
        };
        if next.status.claimable() && next.counts.pending > 0 {
            if let Err(err) = create::re_estimate(&self.db, &self.registry, &next, self.now()).await
            {
                tracing::warn!(task_id = next.id, error = %err, "could not estimate a chain's next step");
            }
            self.wake.notify_one();
        }
        self.publish_id(next_id).await;
    }

    /// Starts the scheduled tasks whose time has come (the run loop asks every few
    /// seconds; tests call it with their own clock).
    pub async fn start_due(&self) -> Result<usize, sea_orm::DbErr> {
        let started = super::schedule::start_due(&self.db, &self.registry, self.now()).await?;
        for task in &started {
            self.publish(task);
        }
        if !started.is_empty() {
            self.wake.notify_one();
        }
        Ok(started.len())
    }

    /// The seller starts a scheduled task before its time.
    pub async fn start_now(&self, seller_id: i64, task_id: i64) -> Result<Controlled, TaskError> {
        let started =
            super::schedule::start_now(&self.db, &self.registry, seller_id, task_id, self.now())
                .await?;
        let done = Controlled {
            changed: started.is_some(),
            task: super::get(&self.db, seller_id, task_id).await?,
            items: 0,
        };
        self.after_control(&done);
        Ok(done)
    }

    /// How long sending `items` of one of the seller's tasks again would take.
    pub async fn estimate_again(
        &self,
        seller_id: i64,
        task_id: i64,
        items: u64,
    ) -> Result<crate::estimate::Estimate, TaskError> {
        let task = super::get(&self.db, seller_id, task_id).await?;
        create::estimate_again(&self.db, &self.registry, &task, items).await
    }

    /// How long a task would take if created now (nothing is stored).
    pub async fn estimate(
        &self,
        new: &NewTask,
        subjects: Option<Vec<serde_json::Value>>,
    ) -> Result<crate::estimate::Estimate, TaskError> {
        create::estimate(&self.db, &self.registry, new, subjects).await
    }

    /// Creates a task whose items' subjects the caller already has (an uploaded file).
    pub async fn create_task_from(
        &self,
        new: NewTask,
        subjects: Option<Vec<serde_json::Value>>,
    ) -> Result<Created, TaskError> {
        let created =
            create::create_from(&self.db, &self.registry, new, subjects, self.now()).await?;
        if let Created::New(task) = &created {
            self.publish(task);
            self.wake.notify_one();
        }
        Ok(created)
    }

    pub async fn pause(&self, seller_id: i64, task_id: i64) -> Result<Controlled, TaskError> {
        let done = control::pause(&self.db, seller_id, task_id, self.now()).await?;
        self.after_control(&done);
        Ok(done)
    }

    pub async fn resume(&self, seller_id: i64, task_id: i64) -> Result<Controlled, TaskError> {
        let done = control::resume(&self.db, seller_id, task_id, self.now()).await?;
        self.after_control(&done);
        // Everything may have finished while it was paused: the step after it starts.
        self.follow(&done.task).await;
        Ok(done)
    }

    pub async fn cancel(&self, seller_id: i64, task_id: i64) -> Result<Controlled, TaskError> {
        let done = control::cancel(&self.db, seller_id, task_id, self.now()).await?;
        // Items running here stop now; other instances hear it at their next heartbeat.
        {
            let in_flight = self.in_flight();
            in_flight
                .values()
                .filter(|(task, _)| *task == task_id)
                .for_each(|(_, token)| token.cancel());
        }
        self.after_control(&done);
        self.follow(&done.task).await;
        Ok(done)
    }

    pub async fn retry(
        &self,
        seller_id: i64,
        task_id: i64,
        which: Selection,
    ) -> Result<Controlled, TaskError> {
        let now = self.now();
        let mut done = control::retry(&self.db, seller_id, task_id, which, now).await?;
        if done.items > 0 {
            create::re_estimate(&self.db, &self.registry, &done.task, now).await?;
            // Taken up again while its marketplace still does not answer: held again.
            if let Some(key) = done.task.endpoint.as_deref() {
                let txn = super::write_txn(&self.db).await?;
                super::breaker::refresh_hold(&txn, task_id, key).await?;
                txn.commit().await?;
            }
            done.task = super::get(&self.db, seller_id, task_id).await?;
        }
        self.after_control(&done);
        Ok(done)
    }

    pub async fn skip(
        &self,
        seller_id: i64,
        task_id: i64,
        which: Selection,
    ) -> Result<Controlled, TaskError> {
        let done = control::skip(&self.db, seller_id, task_id, which, self.now()).await?;
        self.after_control(&done);
        self.follow(&done.task).await;
        Ok(done)
    }

    fn after_control(&self, done: &Controlled) {
        if done.changed {
            self.publish(&done.task);
            self.wake.notify_one();
        }
    }

    /// Wakes the run loop to look for work now (new task, or another instance said so).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_running_until_it_has_not_turned_for_the_stale_time() {
        let stale = Duration::from_secs(30);
        assert_eq!(Runner::of(0, 1_000_000, stale), Runner::None);
        assert_eq!(Runner::of(1_000_000, 1_029_000, stale), Runner::Running);
        assert_eq!(Runner::of(1_000_000, 1_030_000, stale), Runner::Running);
        assert_eq!(
            Runner::of(1_000_000, 1_095_500, stale),
            Runner::Stalled { seconds: 95 }
        );
    }
}
