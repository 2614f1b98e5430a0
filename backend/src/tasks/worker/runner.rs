//! The run loop: claim when there is room and reason, store what finished, heartbeat,
//! rescue, until shutdown.
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Engine, Ran};

impl Engine {
    /// Runs until `shutdown` fires, then stops claiming, lets in-flight items finish for
    /// up to `shutdown_grace`, asks the rest to stop, and gives back what remains.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        tracing::info!(worker_id = %self.config.worker_id, slots = self.config.slots, "task worker started");
        // One entry per call in flight (an item, or a batch of items).
        let mut running: JoinSet<Vec<Ran>> = JoinSet::new();
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_every);
        let mut rescue = tokio::time::interval(self.config.rescue_every);
        let mut poll = tokio::time::interval(self.config.poll_every);
        let mut events = self.bus.subscribe();
        let mut claim_now = true;
        let expander = tokio::spawn(Arc::clone(&self).expand_loop(shutdown.clone()));
        loop {
            self.loop_turned();
            if shutdown.is_cancelled() {
                break;
            }
            let free = self.config.slots.saturating_sub(running.len());
            if claim_now && free > 0 {
                match self.claim(free).await {
                    Ok((items, units)) => {
                        let full = units >= free;
                        for group in super::executor::batches(items) {
                            let engine = Arc::clone(&self);
                            running.spawn(async move { engine.execute(group).await });
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
                    // Store everything that finished meanwhile in one transaction. Calls
                    // started together tend to end together: a moment's yield lets the
                    // ones just finishing join this round instead of each paying for a
                    // round of their own.
                    let mut batch: Vec<Ran> = first.ok().unwrap_or_default();
                    for _ in 0..4 {
                        tokio::task::yield_now().await;
                        while let Some(next) = running.try_join_next() {
                            batch.extend(next.ok().unwrap_or_default());
                        }
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
                    if let Err(err) = self.start_due().await {
                        tracing::warn!(error = %err, "starting scheduled tasks failed");
                    }
                    self.probe_due();
                }
            }
        }
        self.shut_down(running, heartbeat).await;
        if let Err(err) = expander.await {
            tracing::error!(error = %err, "the expander ended abnormally");
        }
        // Ended: not running any more (a new `run` marks it again).
        self.loop_seen
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }
}
