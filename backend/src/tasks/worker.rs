//! The runtime: claim into free slots, run each item's handler in its own task (a panic
//! fails that attempt, not the worker), heartbeat leases, signal cancellations, rescue
//! expired leases, and shut down gracefully.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, FromQueryResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::claim::{self, Claimed};
use super::clock::{Clock, Jitter, RandomJitter, SystemClock};
use super::complete::{self, Completion, Finished};
use super::control::{self, Controlled, Selection};
use super::create::{self, Created, NewTask};
use super::events::{EventBus, TaskEvent};
use super::{rescue, stmt, ItemContext, Outcome, Registry, Task, TaskError};

/// A handler's outcome, not yet stored.
struct Ran {
    item: Claimed,
    outcome: Outcome,
    policy: super::RetryPolicy,
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
        }
    }
}

pub struct Engine {
    db: DatabaseConnection,
    registry: Registry,
    clock: Arc<dyn Clock>,
    jitter: Arc<dyn Jitter>,
    bus: EventBus,
    config: EngineConfig,
    wake: Notify,
    in_flight: Mutex<HashMap<i64, (i64, CancellationToken)>>,
    stopping: CancellationToken,
}

impl Engine {
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
            in_flight: Mutex::new(HashMap::new()),
            stopping: CancellationToken::new(),
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
        Ok(done)
    }

    pub async fn cancel(&self, seller_id: i64, task_id: i64) -> Result<Controlled, TaskError> {
        let done = control::cancel(&self.db, seller_id, task_id, self.now()).await?;
        // Items running here stop now; other instances hear it at their next heartbeat.
        if let Ok(in_flight) = self.in_flight.lock() {
            in_flight
                .values()
                .filter(|(task, _)| *task == task_id)
                .for_each(|(_, token)| token.cancel());
        }
        self.after_control(&done);
        Ok(done)
    }

    pub async fn retry(
        &self,
        seller_id: i64,
        task_id: i64,
        which: Selection,
    ) -> Result<Controlled, TaskError> {
        let done = control::retry(&self.db, seller_id, task_id, which, self.now()).await?;
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

    // ---- Stepping, for tests and benchmarks ---------------------------------------------

    /// Claims up to the free slots and runs every claimed item to its outcome.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let claimed = self.claim(self.config.slots).await?;
        let count = claimed.len();
        let mut running = JoinSet::new();
        for item in claimed {
            let engine = Arc::clone(self);
            running.spawn(async move { engine.execute(item).await });
        }
        let mut finished = Vec::with_capacity(count);
        while let Some(result) = running.join_next().await {
            finished.extend(result.ok().flatten());
        }
        self.store(finished).await;
        Ok(count)
    }

    /// Runs until nothing is due now.
    pub async fn drain(self: &Arc<Self>) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    pub async fn rescue_once(&self) -> anyhow::Result<usize> {
        let touched = rescue::rescue_expired(&self.db, self.now()).await?;
        for task_id in &touched {
            self.publish_id(*task_id).await;
        }
        if !touched.is_empty() {
            self.wake.notify_one();
        }
        Ok(touched.len())
    }

    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<Claimed>> {
        if limit == 0 || self.stopping.is_cancelled() {
            return Ok(Vec::new());
        }
        let batch = claim::claim(
            &self.db,
            &self.registry,
            &self.config.worker_id,
            limit,
            self.config.lease,
            self.now(),
        )
        .await?;
        for task_id in &batch.touched_tasks {
            if batch.started_tasks.contains(task_id) {
                self.publish_id(*task_id).await;
            }
        }
        Ok(batch.items)
    }

    /// Runs one claimed item's handler; the outcome is stored in a batch by [`Engine::store`].
    async fn execute(self: Arc<Self>, item: Claimed) -> Option<Ran> {
        let kind = self.registry.get(&item.kind)?;
        let token = CancellationToken::new();
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.insert(item.item_id, (item.task_id, token.clone()));
        }
        let context = ItemContext {
            task_id: item.task_id,
            item_id: item.item_id,
            seller_id: item.seller_id,
            position: item.position,
            attempt: item.attempt,
            subject: item.subject.clone(),
            params: item.params.clone(),
            cancel: token.clone(),
        };
        let handler = {
            let kind = Arc::clone(&kind);
            tokio::spawn(async move { kind.process(context).await })
        };
        let outcome = match handler.await {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => {
                tracing::error!(
                    item_id = item.item_id,
                    task_id = item.task_id,
                    "task handler panicked"
                );
                Outcome::retry(
                    "handler_panicked",
                    "The item's handler crashed; it will be tried again.",
                )
            }
            Err(_) => Outcome::retry(
                "handler_aborted",
                "The item's handler was stopped; it will be tried again.",
            ),
        };
        // The item stays in `in_flight` (its lease renewed) until its outcome is stored.
        Some(Ran {
            item,
            outcome,
            policy: kind.retry_policy(),
        })
    }

    /// Stores a batch of outcomes in one transaction and tells the bus; then the items
    /// leave `in_flight`, so the heartbeat stops renewing their leases.
    async fn store(&self, ran: Vec<Ran>) {
        if ran.is_empty() {
            return;
        }
        let ids: Vec<i64> = ran.iter().map(|r| r.item.item_id).collect();
        self.store_outcomes(ran).await;
        if let Ok(mut in_flight) = self.in_flight.lock() {
            for id in &ids {
                in_flight.remove(id);
            }
        }
    }

    async fn store_outcomes(&self, ran: Vec<Ran>) {
        let now = self.now();
        let mut finished = Vec::with_capacity(ran.len());
        for Ran {
            item,
            outcome,
            policy,
        } in ran
        {
            // Stopped by our own shutdown rather than by the seller: give the item back.
            if outcome == Outcome::Cancelled
                && self.stopping.is_cancelled()
                && !self.task_is_cancelling(item.task_id).await
            {
                match complete::release(
                    &self.db,
                    &self.config.worker_id,
                    item.task_id,
                    item.item_id,
                    now,
                )
                .await
                {
                    Ok(Completion::Applied {
                        task: Some(task), ..
                    }) => self.publish(&task),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(error = %err, item_id = item.item_id, "could not give an item back")
                    }
                }
                continue;
            }
            finished.push(Finished {
                task_id: item.task_id,
                item_id: item.item_id,
                attempt: item.attempt,
                outcome,
                policy,
            });
        }
        match self.complete_with_retries(finished, now).await {
            Ok(done) => {
                // One event per task: the latest snapshot.
                let mut latest: HashMap<i64, Box<Task>> = HashMap::new();
                for (_, completion) in done {
                    if let Completion::Applied {
                        task: Some(task), ..
                    } = completion
                    {
                        latest.insert(task.id, task);
                    }
                }
                for task in latest.values() {
                    self.publish(task);
                }
            }
            // Not renewed any more, the leases run out and the rescuer gives the items
            // back; their handlers run again (the marketplace calls are idempotent).
            Err(err) => {
                tracing::error!(error = %err, "could not store a batch of outcomes; the items will be run again")
            }
        }
    }

    /// `complete::complete_many`, tried again after a short pause when the database
    /// refuses for a passing reason (a busy SQLite file, a dropped connection). The
    /// transaction is all or nothing, so trying again cannot apply an outcome twice.
    async fn complete_with_retries(
        &self,
        finished: Vec<Finished>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, Completion)>, sea_orm::DbErr> {
        const PAUSES_MS: [u64; 2] = [200, 1_000];
        let mut attempt = 0;
        loop {
            match complete::complete_many(
                &self.db,
                &self.config.worker_id,
                finished.clone(),
                self.jitter.as_ref(),
                now,
            )
            .await
            {
                Ok(done) => return Ok(done),
                Err(err) if attempt < PAUSES_MS.len() => {
                    tracing::warn!(error = %err, attempt = attempt + 1, "storing outcomes failed; trying again");
                    tokio::time::sleep(Duration::from_millis(PAUSES_MS[attempt])).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn task_is_cancelling(&self, task_id: i64) -> bool {
        super::load(&self.db, task_id)
            .await
            .map(|t| t.status == super::TaskStatus::Cancelling)
            .unwrap_or(false)
    }

    /// Renews the leases of the items in hand and signals cancelled ones (the run loop
    /// does this every `heartbeat_every`; tests step it).
    pub async fn heartbeat(&self) {
        let now = self.now();
        let held: Vec<i64> = match self.in_flight.lock() {
            Ok(in_flight) => in_flight.keys().copied().collect(),
            Err(_) => Vec::new(),
        };
        if let Err(err) = claim::heartbeat(
            &self.db,
            &self.config.worker_id,
            &held,
            self.config.lease,
            now,
        )
        .await
        {
            tracing::warn!(error = %err, "heartbeat failed");
        }
        match claim::cancelled_in_flight(&self.db, &self.config.worker_id).await {
            Ok(ids) if !ids.is_empty() => {
                if let Ok(in_flight) = self.in_flight.lock() {
                    for id in ids {
                        if let Some((_, token)) = in_flight.get(&id) {
                            token.cancel();
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not check for cancellations"),
        }
    }

    // ---- The loop ------------------------------------------------------------------------

    /// Runs until `shutdown` fires, then stops claiming, lets in-flight items finish for
    /// up to `shutdown_grace`, asks the rest to stop, and gives back what remains.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        tracing::info!(worker_id = %self.config.worker_id, slots = self.config.slots, "task worker started");
        let mut running: JoinSet<Option<Ran>> = JoinSet::new();
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_every);
        let mut rescue = tokio::time::interval(self.config.rescue_every);
        let mut poll = tokio::time::interval(self.config.poll_every);
        let mut events = self.bus.subscribe();
        let mut claim_now = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let free = self.config.slots.saturating_sub(running.len());
            if claim_now && free > 0 {
                match self.claim(free).await {
                    Ok(items) => {
                        let full = items.len() == free;
                        for item in items {
                            let engine = Arc::clone(&self);
                            running.spawn(async move { engine.execute(item).await });
                        }
                        // A full batch means more may be waiting: claim again when a slot frees.
                        claim_now = full;
                    }
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "claim failed; backing off");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                Some(first) = running.join_next(), if !running.is_empty() => {
                    // Store everything that finished meanwhile in one transaction.
                    let mut batch: Vec<Ran> = first.ok().flatten().into_iter().collect();
                    while let Some(next) = running.try_join_next() {
                        batch.extend(next.ok().flatten());
                    }
                    self.store(batch).await;
                    claim_now = true;
                }
                () = self.wake.notified() => { claim_now = true; }
                event = events.recv() => {
                    // Another instance created or re-opened work.
                    if let Ok(event) = event {
                        if event.counts.pending > 0 && event.status.claimable() {
                            claim_now = true;
                        }
                    }
                }
                _ = poll.tick() => { claim_now = true; }
                _ = heartbeat.tick() => { self.heartbeat().await; }
                _ = rescue.tick() => {
                    if let Err(err) = self.rescue_once().await {
                        tracing::warn!(error = %format!("{err:#}"), "rescue failed");
                    }
                }
            }
        }
        self.shut_down(running, heartbeat).await;
    }

    async fn shut_down(
        &self,
        mut running: JoinSet<Option<Ran>>,
        mut heartbeat: tokio::time::Interval,
    ) {
        self.stopping.cancel();
        tracing::info!(
            in_flight = running.len(),
            "task worker stopping: no new claims"
        );
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !running.is_empty() {
            tokio::select! {
                Some(done) = running.join_next() => { self.store(done.ok().flatten().into_iter().collect()).await; }
                _ = heartbeat.tick() => { self.heartbeat().await; }
                () = &mut grace => break,
            }
        }
        if !running.is_empty() {
            if let Ok(in_flight) = self.in_flight.lock() {
                in_flight.values().for_each(|(_, token)| token.cancel());
            }
            let last_call = tokio::time::sleep(Duration::from_secs(2));
            tokio::pin!(last_call);
            while !running.is_empty() {
                tokio::select! {
                    Some(done) = running.join_next() => { self.store(done.ok().flatten().into_iter().collect()).await; }
                    () = &mut last_call => break,
                }
            }
            running.abort_all();
        }
        match self.release_all().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "gave back unfinished items"),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "could not give back items; the rescuer will")
            }
        }
        tracing::info!("task worker stopped");
    }

    /// Gives back every item this worker still holds.
    pub async fn release_all(&self) -> anyhow::Result<usize> {
        #[derive(FromQueryResult)]
        struct Held {
            id: i64,
            task_id: i64,
        }
        let held = Held::find_by_statement(stmt(
            self.db.get_database_backend(),
            "SELECT id, task_id FROM task_items WHERE lease_owner = $1 AND status = 'running'",
            vec![self.config.worker_id.clone().into()],
        ))
        .all(&self.db)
        .await?;
        let mut released = 0;
        for item in held {
            if let Completion::Applied { task, .. } = complete::release(
                &self.db,
                &self.config.worker_id,
                item.task_id,
                item.id,
                self.now(),
            )
            .await?
            {
                released += 1;
                if let Some(task) = task {
                    self.publish(&task);
                }
            }
        }
        Ok(released)
    }
}
