//! The event bus: every task state and progress change as a typed [`TaskEvent`].
//! In-process it is a broadcast channel; on PostgreSQL every event also goes out through
//! `NOTIFY`, and each instance re-broadcasts what the others sent, so every instance hears
//! every event. Progress is coalesced per task (at most one event per `min_interval`);
//! a status change is sent at once, so final states are never held back or dropped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

use super::{Task, TaskCounts, TaskStatus};

pub const CHANNEL: &str = "stockroom_task_events";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub task_id: i64,
    /// The task row's version: a consumer keeps the highest it has seen per task and
    /// drops anything older or repeated.
    pub seq: i64,
    pub seller_id: i64,
    pub kind: String,
    pub label: String,
    pub status: TaskStatus,
    pub counts: TaskCounts,
    pub throughput: Option<f64>,
    pub waiting_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub estimate: Option<task_model::Estimate>,
    #[serde(default)]
    pub estimated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub chain: Option<task_model::Chain>,
    /// While its marketplace does not answer: nothing is sent, nothing spent.
    #[serde(default)]
    pub hold: Option<task_model::Hold>,
    /// When the change was published: a stream that delivers the event measures its lag
    /// from here (the deliberate coalescing of progress included).
    #[serde(default = "Utc::now")]
    pub emitted_at: DateTime<Utc>,
}

impl From<&Task> for TaskEvent {
    fn from(task: &Task) -> Self {
        Self {
            task_id: task.id,
            seq: task.version,
            seller_id: task.seller_id,
            kind: task.kind.clone(),
            label: task.label.clone(),
            status: task.status,
            counts: task.counts,
            throughput: task.throughput,
            waiting_until: task.waiting_until,
            created_at: task.created_at,
            started_at: task.started_at,
            finished_at: task.finished_at,
            estimate: task.estimate,
            estimated_at: task.estimated_at,
            start_at: task.start_at,
            chain: task.chain,
            hold: task.hold.clone(),
            emitted_at: Utc::now(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    event: TaskEvent,
}

struct Slot {
    last_sent: Instant,
    status: TaskStatus,
    stashed: Option<TaskEvent>,
}

/// Events kept for one seller's streams before a stream that does not read falls behind
/// (and is sent a fresh snapshot instead).
const PER_SELLER: usize = 256;

struct Inner {
    instance: String,
    local: broadcast::Sender<TaskEvent>,
    /// One channel per seller with a stream open: a seller's streams wake for their own
    /// events only, and one seller's busy day never makes another's stream fall behind.
    sellers: Mutex<HashMap<i64, broadcast::Sender<TaskEvent>>>,
    slots: Mutex<HashMap<i64, Slot>>,
    min_interval: Duration,
    outbound: Mutex<Option<mpsc::UnboundedSender<TaskEvent>>>,
}

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl EventBus {
    /// A bus for one process. Call [`EventBus::start`] inside a runtime to flush coalesced
    /// progress, and [`EventBus::connect_postgres`] to span instances.
    pub fn new(instance: impl Into<String>, min_interval: Duration) -> Self {
        let (local, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                instance: instance.into(),
                local,
                sellers: Mutex::new(HashMap::new()),
                slots: Mutex::new(HashMap::new()),
                min_interval,
                outbound: Mutex::new(None),
            }),
        }
    }

    /// Every event, every seller's (the engine's own loop).
    pub fn subscribe(&self) -> broadcast::Receiver<TaskEvent> {
        self.inner.local.subscribe()
    }

    /// One seller's events only (a live stream).
    pub fn subscribe_seller(&self, seller_id: i64) -> broadcast::Receiver<TaskEvent> {
        match self.inner.sellers.lock() {
            Ok(mut sellers) => {
                sellers.retain(|_, sender| sender.receiver_count() > 0);
                sellers
                    .entry(seller_id)
                    .or_insert_with(|| broadcast::channel(PER_SELLER).0)
                    .subscribe()
            }
            // A poisoned map: a channel nobody sends on, so the stream ends at once.
            Err(_) => broadcast::channel(1).1,
        }
    }

    /// Publishes a change: at once if the status changed or the task was quiet for
    /// `min_interval`, otherwise kept as the task's latest and sent at the next flush.
    pub fn publish(&self, event: TaskEvent) {
        let now = Instant::now();
        let send_now = {
            let Ok(mut slots) = self.inner.slots.lock() else {
                return;
            };
            let slot = slots.entry(event.task_id).or_insert(Slot {
                last_sent: now - self.inner.min_interval,
                status: event.status,
                stashed: None,
            });
            if slot.status != event.status
                || now.duration_since(slot.last_sent) >= self.inner.min_interval
            {
                slot.last_sent = now;
                slot.status = event.status;
                slot.stashed = None;
                true
            } else {
                slot.stashed = Some(event.clone());
                false
            }
        };
        if send_now {
            self.send(event);
        }
        if let Ok(mut slots) = self.inner.slots.lock() {
            // Forget finished tasks once nothing is stashed for them.
            slots.retain(|_, slot| {
                !(slot.status.is_terminal()
                    && slot.stashed.is_none()
                    && now.duration_since(slot.last_sent) > Duration::from_secs(60))
            });
        }
    }

    /// Sends every stashed progress event whose interval has passed.
    pub fn flush(&self) {
        let now = Instant::now();
        let due: Vec<TaskEvent> = match self.inner.slots.lock() {
            Ok(mut slots) => slots
                .values_mut()
                .filter(|slot| {
                    slot.stashed.is_some()
                        && now.duration_since(slot.last_sent) >= self.inner.min_interval
                })
                .filter_map(|slot| {
                    slot.last_sent = now;
                    slot.stashed.take()
                })
                .collect(),
            Err(_) => return,
        };
        for event in due {
            self.send(event);
        }
    }

    fn send(&self, event: TaskEvent) {
        if let Ok(outbound) = self.inner.outbound.lock() {
            if let Some(outbound) = outbound.as_ref() {
                let _ = outbound.send(event.clone());
            }
        }
        self.deliver(event);
    }

    /// Ends every live stream of this process (they see their channel closed); their
    /// clients reconnect and start from a snapshot. For when events may have been lost.
    pub fn end_streams(&self) {
        if let Ok(mut sellers) = self.inner.sellers.lock() {
            sellers.clear();
        }
    }

    /// Hands an event to this process's subscribers: the engine, and the streams of its
    /// seller. No subscriber is fine: nobody is watching.
    fn deliver(&self, event: TaskEvent) {
        if let Ok(sellers) = self.inner.sellers.lock() {
            if let Some(sender) = sellers.get(&event.seller_id) {
                let _ = sender.send(event.clone());
            }
        }
        let _ = self.inner.local.send(event);
    }

    /// Flushes coalesced progress every `min_interval`, for the life of the runtime.
    pub fn start(&self) {
        let bus = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(bus.inner.min_interval);
            loop {
                every.tick().await;
                bus.flush();
            }
        });
    }

    /// Sends every event through `NOTIFY` and re-broadcasts the other instances' events.
    pub async fn connect_postgres(
        &self,
        db: sea_orm::DatabaseConnection,
        url: &str,
    ) -> anyhow::Result<()> {
        use sea_orm::sqlx::postgres::PgListener;
        use sea_orm::ConnectionTrait;
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<TaskEvent>();
        if let Ok(mut outbound) = self.inner.outbound.lock() {
            *outbound = Some(tx);
        }
        let origin = self.inner.instance.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let payload = match serde_json::to_string(&Envelope {
                    origin: origin.clone(),
                    event,
                }) {
                    Ok(payload) => payload,
                    Err(_) => continue,
                };
                let statement = super::stmt(
                    db.get_database_backend(),
                    "SELECT pg_notify($1, $2)",
                    vec![CHANNEL.into(), payload.into()],
                );
                if let Err(err) = db.execute_raw(statement).await {
                    tracing::warn!(error = %err, "could not NOTIFY a task event");
                }
            }
        });
        let bus = self.clone();
        let me = self.inner.instance.clone();
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    // The connection was lost: whatever was sent meanwhile is gone. Every
                    // stream of this instance ends, and its browser reconnects with a
                    // fresh snapshot. The next call reconnects.
                    Ok(None) => {
                        tracing::warn!(
                            "task event listener lost its connection; streams start over"
                        );
                        bus.end_streams();
                    }
                    Ok(Some(notification)) => {
                        if let Ok(envelope) =
                            serde_json::from_str::<Envelope>(notification.payload())
                        {
                            if envelope.origin != me {
                                bus.deliver(envelope.event);
                            }
                        }
                    }
                    Err(err) => {
                        // PgListener reconnects by itself on the next call. Events may have
                        // been lost here too (a connection that broke mid-read surfaces as
                        // an error, not as a clean end): the streams start over as well.
                        tracing::warn!(error = %err, "task event listener interrupted; streams start over");
                        bus.end_streams();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(task_id: i64, status: TaskStatus, succeeded: i64) -> TaskEvent {
        TaskEvent {
            task_id,
            seq: succeeded,
            seller_id: 1,
            kind: "noop".into(),
            label: "x".into(),
            status,
            counts: TaskCounts {
                total: 10,
                succeeded,
                pending: 10 - succeeded,
                ..TaskCounts::default()
            },
            throughput: None,
            waiting_until: None,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            estimate: None,
            estimated_at: None,
            start_at: None,
            chain: None,
            hold: None,
            emitted_at: Utc::now(),
        }
    }

    #[test]
    fn progress_is_coalesced_but_status_changes_go_at_once() {
        let bus = EventBus::new("test", Duration::from_secs(3600));
        let mut rx = bus.subscribe();
        bus.publish(event(1, TaskStatus::Running, 1));
        for n in 2..=9 {
            bus.publish(event(1, TaskStatus::Running, n));
        }
        bus.publish(event(1, TaskStatus::Succeeded, 10));
        let received: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(received.len(), 2, "first progress and the final state");
        assert_eq!(received[1].status, TaskStatus::Succeeded);
        assert_eq!(received[1].counts.succeeded, 10);
    }

    #[test]
    fn a_sellers_channel_carries_their_events_only_and_lags_alone() {
        let bus = EventBus::new("test", Duration::ZERO);
        let mut mine = bus.subscribe_seller(1);
        let mut theirs = bus.subscribe_seller(2);
        let mut everything = bus.subscribe();
        let mut other = event(9, TaskStatus::Running, 1);
        other.seller_id = 2;
        bus.publish(other);
        assert!(mine.try_recv().is_err(), "another seller's event");
        assert_eq!(theirs.try_recv().map(|e| e.task_id).ok(), Some(9));
        assert_eq!(everything.try_recv().map(|e| e.task_id).ok(), Some(9));
        // Seller 1's stream reads nothing while their tasks change many times.
        for task in 0..(PER_SELLER as i64 + 10) {
            bus.publish(event(100 + task, TaskStatus::Running, 1));
        }
        assert!(matches!(
            mine.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(10))
        ));
        assert!(
            theirs.try_recv().is_err(),
            "seller 2 is not behind: nothing new"
        );
        drop(mine);
        drop(theirs);
        let _fresh = bus.subscribe_seller(3);
        assert_eq!(
            bus.inner
                .sellers
                .lock()
                .map(|s| s.len())
                .unwrap_or_default(),
            1,
            "channels without streams are dropped"
        );
    }

    #[test]
    fn stashed_progress_is_sent_by_flush_once_due() {
        let bus = EventBus::new("test", Duration::from_millis(0));
        let mut rx = bus.subscribe();
        bus.publish(event(1, TaskStatus::Running, 1));
        bus.flush();
        assert_eq!(rx.try_recv().map(|e| e.counts.succeeded).ok(), Some(1));
        let slow = EventBus::new("test", Duration::from_secs(3600));
        let mut rx = slow.subscribe();
        slow.publish(event(2, TaskStatus::Running, 1));
        slow.publish(event(2, TaskStatus::Running, 2));
        slow.flush();
        assert_eq!(
            std::iter::from_fn(|| rx.try_recv().ok()).count(),
            1,
            "not yet due"
        );
    }
}
