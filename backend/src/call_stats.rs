//! How the marketplace's recent calls went: a window of the last calls per seller account
//! and one over all accounts. It says when a call has become slower than the marketplace
//! usually is (time to hedge it) and what the estimate of a new task should expect.
//!
//! Kept in memory by each server instance: the calls an instance makes are the sample it
//! judges by, and a restarted instance starts from the marketplace's limit alone.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How one call ended, as far as timing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An answer came (success, refusal or a quota 429): its latency is the marketplace's.
    Answered,
    /// A passing failure (5xx, unreachable): it costs a call and a retry.
    Failed,
    /// No answer in time: timed out, or overtaken by its hedge and dropped.
    Slow,
    /// A hedge dropped because the call it backed up answered first: it says nothing
    /// about the marketplace.
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub latency: Duration,
    pub answer: Answer,
    /// Sent as a hedge of a slow call.
    pub hedge: bool,
}

/// What recent calls say about the marketplace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// Calls the figures come from.
    pub calls: usize,
    /// Latency of answered calls, median and 95th percentile, in seconds.
    pub p50: f64,
    pub p95: f64,
    /// Share of calls that did not answer usefully (failed or too slow).
    pub failure_rate: f64,
}

/// Fewer calls than this say too little to judge by.
pub const MIN_CALLS: usize = 20;
/// Calls kept per window.
const WINDOW: usize = 400;

/// The figures of a set of calls, or `None` when there are too few.
pub fn observe<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Option<Observed> {
    let mut latencies = Vec::new();
    let mut slow = Vec::new();
    let mut calls = 0usize;
    let mut failures = 0usize;
    for sample in samples {
        match sample.answer {
            Answer::Answered => latencies.push(sample.latency.as_secs_f64()),
            Answer::Failed => {
                failures += 1;
                latencies.push(sample.latency.as_secs_f64());
            }
            Answer::Slow => {
                failures += 1;
                slow.push(sample.latency.as_secs_f64());
            }
            Answer::Abandoned => continue,
        }
        calls += 1;
    }
    if calls < MIN_CALLS {
        return None;
    }
    if latencies.is_empty() {
        // Nothing answered at all: as slow as the calls that gave up.
        latencies = slow;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Some(Observed {
        calls,
        p50: at(0.5),
        p95: at(0.95),
        failure_rate: failures as f64 / calls as f64,
    })
}

impl Observed {
    /// After how long a call still unanswered is worth a second try: well past what
    /// nearly every call takes, so only the stragglers are hedged.
    pub fn hedge_after(&self) -> Duration {
        let seconds = (self.p95 * 1.25).max(self.p50 * 2.0).clamp(0.25, 5.0);
        Duration::from_secs_f64(seconds)
    }
}

/// Before anything is measured: hedge a call that takes longer than this.
pub const FIRST_HEDGE_AFTER: Duration = Duration::from_secs(2);
/// At most this share of recent calls are hedges: when the marketplace slows down for
/// everyone, hedging every call would halve our pace for nothing.
const MAX_HEDGE_SHARE: f64 = 0.1;

#[derive(Default)]
struct Window(VecDeque<Sample>);

impl Window {
    fn push(&mut self, sample: Sample) {
        if self.0.len() == WINDOW {
            self.0.pop_front();
        }
        self.0.push_back(sample);
    }

    fn hedges(&self) -> usize {
        self.0.iter().filter(|sample| sample.hedge).count()
    }
}

#[derive(Default)]
pub struct CallStats {
    accounts: Mutex<HashMap<String, Window>>,
    all: Mutex<Window>,
    /// Every call made since the start, hedges and quick retries included.
    made: std::sync::atomic::AtomicU64,
    /// Hedges sent since the start.
    hedged: std::sync::atomic::AtomicU64,
}

impl CallStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls made since the start.
    pub fn made(&self) -> u64 {
        self.made.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hedges sent since the start.
    pub fn hedged(&self) -> u64 {
        self.hedged.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn record(&self, account: &str, sample: Sample) {
        self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if sample.hedge {
            self.hedged
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(account.to_owned())
            .or_default()
            .push(sample);
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sample);
    }

    /// The account's own recent calls when there are enough of them, else every
    /// account's (the marketplace is the same for all), else nothing.
    pub fn observed(&self, account: &str) -> Option<Observed> {
        let own = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account)
            .and_then(|window| observe(&window.0));
        own.or_else(|| observe(&self.all.lock().unwrap_or_else(|p| p.into_inner()).0))
    }

    pub fn hedge_after(&self, account: &str) -> Duration {
        self.observed(account)
            .map_or(FIRST_HEDGE_AFTER, |observed| observed.hedge_after())
    }

    /// Whether another hedge fits under the share of recent calls hedges may take.
    pub fn may_hedge(&self, account: &str) -> bool {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get(account).is_none_or(|window| {
            // Among few calls, a hedge or two is no burden.
            let allowed = (MAX_HEDGE_SHARE * window.0.len() as f64).max(2.0);
            (window.hedges() as f64) < allowed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(latencies_ms: impl IntoIterator<Item = u64>, answer: Answer) -> Vec<Sample> {
        latencies_ms
            .into_iter()
            .map(|ms| Sample {
                latency: Duration::from_millis(ms),
                answer,
                hedge: false,
            })
            .collect()
    }

    #[test]
    fn too_few_calls_say_nothing() {
        assert_eq!(observe(&calls(0..19, Answer::Answered)), None);
    }

    #[test]
    fn percentiles_come_from_answers_and_failures_count_the_slow_ones() {
        // 150..=600 ms, evenly: the sandbox's default latency.
        let mut samples = calls((150..=600).step_by(5), Answer::Answered);
        samples.extend(calls([15_000, 15_000], Answer::Slow));
        samples.extend(calls([200, 300], Answer::Failed));
        // A hedge dropped because its call answered says nothing.
        samples.extend(calls([10], Answer::Abandoned));
        let observed = observe(&samples).unwrap();
        assert_eq!(observed.calls, 95);
        assert!((observed.p50 - 0.375).abs() < 0.01, "{observed:?}");
        assert!((observed.p95 - 0.575).abs() < 0.01, "{observed:?}");
        assert!((observed.failure_rate - 4.0 / 95.0).abs() < 1e-9);
        // A straggler is hedged at about 1.25 × p95, not after the 15 s timeout.
        let hedge = observed.hedge_after().as_secs_f64();
        assert!((0.7..0.8).contains(&hedge), "{hedge}");
    }

    #[test]
    fn an_account_with_few_calls_borrows_everyone_s_figures() {
        let stats = CallStats::new();
        assert_eq!(stats.hedge_after("a"), FIRST_HEDGE_AFTER);
        for sample in calls(std::iter::repeat_n(100, 30), Answer::Answered) {
            stats.record("busy", sample);
        }
        stats.record("new", calls([900], Answer::Answered)[0]);
        let borrowed = stats.observed("new").unwrap();
        assert_eq!(borrowed.calls, 31);
        // The floor keeps a hedge from firing at every call of a fast marketplace.
        assert_eq!(stats.hedge_after("busy"), Duration::from_millis(250));
    }

    #[test]
    fn a_marketplace_that_never_answers_is_all_failures() {
        let observed = observe(&calls(std::iter::repeat_n(15_000, 25), Answer::Slow)).unwrap();
        assert_eq!(observed.failure_rate, 1.0);
        assert!((observed.p50 - 15.0).abs() < 1e-9);
    }

    #[test]
    fn hedges_take_at_most_a_tenth_of_recent_calls() {
        let stats = CallStats::new();
        let hedge = |stats: &CallStats| {
            stats.record(
                "a",
                Sample {
                    latency: Duration::from_millis(900),
                    answer: Answer::Answered,
                    hedge: true,
                },
            )
        };
        assert!(stats.may_hedge("a"));
        hedge(&stats);
        hedge(&stats);
        assert!(!stats.may_hedge("a"), "two hedges among two calls");
        for sample in calls(std::iter::repeat_n(300, 38), Answer::Answered) {
            stats.record("a", sample);
        }
        // 2 hedges in 40 calls: room for two more.
        assert!(stats.may_hedge("a"));
        hedge(&stats);
        hedge(&stats);
        assert!(stats.may_hedge("a"), "4 of 42 is under a tenth");
        hedge(&stats);
        assert!(!stats.may_hedge("a"), "5 of 43 is over a tenth");
        assert_eq!(stats.hedged(), 5);
    }
}
