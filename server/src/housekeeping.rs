//! Periodic upkeep as registered jobs (today: purging expired sessions): each runs at its
//! own interval until shutdown, and a failure is logged and tried again next time.

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

type Run = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<u64>> + Send + Sync>;

struct Job {
    name: &'static str,
    every: Duration,
    run: Run,
}

/// The jobs, registered once at start-up.
#[derive(Default)]
pub struct Housekeeping {
    jobs: Vec<Job>,
}

impl Housekeeping {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a job; `run` says how many things it cleaned up.
    pub fn register<F>(mut self, name: &'static str, every: Duration, run: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, anyhow::Result<u64>> + Send + Sync + 'static,
    {
        self.jobs.push(Job {
            name,
            every,
            run: Arc::new(run),
        });
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|job| job.name).collect()
    }

    /// Runs every job at once, then at its interval, until `shutdown` (a server restarted
    /// often still purges).
    pub fn spawn(self, shutdown: CancellationToken) -> JoinSet<()> {
        let mut running = JoinSet::new();
        for job in self.jobs {
            let shutdown = shutdown.clone();
            running.spawn(async move {
                let mut every = tokio::time::interval(job.every);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        _ = every.tick() => {}
                    }
                    match (job.run)().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(job = job.name, cleaned = n, "housekeeping"),
                        Err(err) => tracing::warn!(
                            job = job.name,
                            error = %format!("{err:#}"),
                            "housekeeping failed; trying again at the next interval"
                        ),
                    }
                }
            });
        }
        running
    }
}

/// The server's jobs: expired sessions go every ten minutes, exports' files once their
/// days are up (checked hourly), finished work past `retention` every five minutes (a
/// bounded amount each time), the catalog's kept counts are folded every minute, and
/// SQLite's planner statistics refreshed hourly.
pub fn standard(
    db: backend::DatabaseConnection,
    policy: backend::sessions::SessionPolicy,
    retention: chrono::Duration,
) -> Housekeeping {
    let sessions = db.clone();
    let retiring = db.clone();
    let counts = db.clone();
    Housekeeping::new()
        .register(
            "purge expired sessions",
            Duration::from_secs(600),
            move || {
                let db = sessions.clone();
                Box::pin(async move {
                    backend::sessions::purge_expired(&db, policy, chrono::Utc::now()).await
                })
            },
        )
        .register(
            "remove expired exports",
            Duration::from_secs(3600),
            move || {
                let db = db.clone();
                Box::pin(async move {
                    Ok(backend::exports::forget_expired(&db, chrono::Utc::now()).await?)
                })
            },
        )
        .register(
            "retire finished work",
            Duration::from_secs(300),
            move || {
                let db = retiring.clone();
                Box::pin(async move {
                    let retired = backend::retention::run_once(
                        &db,
                        retention,
                        backend::retention::BATCH,
                        chrono::Utc::now(),
                    )
                    .await?;
                    Ok(retired.rows())
                })
            },
        )
        .register(
            "refresh the planner's statistics",
            Duration::from_secs(3600),
            {
                let db = counts.clone();
                move || {
                    let db = db.clone();
                    Box::pin(async move { backend::db::optimize(&db).await })
                }
            },
        )
        .register(
            "fold the catalog's counts",
            Duration::from_secs(60),
            move || {
                let db = counts.clone();
                Box::pin(async move { Ok(backend::catalog::compact_counts(&db).await?) })
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test(start_paused = true)]
    async fn jobs_run_at_their_interval_survive_failures_and_stop_on_shutdown() {
        let runs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&runs);
        let jobs = Housekeeping::new().register("flaky", Duration::from_secs(60), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                if n == 2 {
                    anyhow::bail!("the database was busy");
                }
                Ok(n)
            })
        });
        assert_eq!(jobs.names(), ["flaky"]);
        let shutdown = CancellationToken::new();
        let mut running = jobs.spawn(shutdown.clone());
        // At start, then at 60 (failed), 120 and 180 s: a failure does not stop the job.
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(60 * 2 + 2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        shutdown.cancel();
        while running.join_next().await.is_some() {}
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }
}
