//! How long a task takes: the estimate before it starts, from a model of the work, and
//! the time left while it runs.
//!
//! A task that calls the marketplace is bounded by our pace towards it (one call per
//! turn), by how many calls may be in flight at once over how long each takes, and by the
//! calls that must be made again (passing failures, stragglers overtaken by a hedge). The
//! model counts those from the marketplace's recent calls for the seller's account; with
//! none measured yet it assumes a typical marketplace and says the range is wider.
//! Work inside Stockroom (an import without image checks) goes at a measured local rate.

use chrono::{DateTime, Utc};
pub use task_model::{Basis, Estimate};

use crate::call_stats::Observed;
use crate::tasks::{TaskCounts, TaskStatus};

/// What a task's marketplace calls can expect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallModel {
    /// Our pace towards the marketplace for one account.
    pub per_second: f64,
    /// Calls of one task in flight at once.
    pub concurrency: u32,
    /// How recent calls went, when enough were made.
    pub observed: Option<Observed>,
}

/// What one task asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Workload {
    /// Marketplace calls, one per item that needs one.
    pub calls: u64,
    /// Items handled inside Stockroom.
    pub items: u64,
}

/// Items per second Stockroom handles by itself: an import without image checks runs at
/// about 6 000 rows per second on the benchmark machine; this leaves room for a busier one.
pub const LOCAL_PER_SECOND: f64 = 2_000.0;
/// From the click to the first call: the task is stored and a worker claims it.
const START: f64 = 0.3;
/// A marketplace not called yet: typical latency and a few passing failures.
const FIRST_GUESS: Observed = Observed {
    calls: 0,
    p50: 0.4,
    p95: 1.0,
    failure_rate: 0.03,
};

/// The estimate for `work`, sharing the pace with the seller's other unfinished tasks,
/// given as the calls each still has to make. Each counts up to this task's own calls:
/// tasks take turns, so a longer one shares the pace only while this one runs.
pub fn predict(work: Workload, sharing: &[u64], model: Option<&CallModel>) -> Estimate {
    let local = work.items as f64 / LOCAL_PER_SECOND;
    let (Some(model), true) = (model, work.calls > 0) else {
        let seconds = START + local;
        return Estimate {
            seconds: whole(seconds),
            low: whole(seconds * 0.8),
            high: whole(seconds * 2.0 + 1.0),
            basis: Basis::Local,
            shared_with: 0,
            items: work.items,
            calls: 0,
        };
    };
    let (observed, basis) = match model.observed {
        Some(observed) => (observed, Basis::Measured),
        None => (FIRST_GUESS, Basis::Limit),
    };
    // Calls go at our pace, unless too few can be in flight to keep it.
    let rate = model
        .per_second
        .min(f64::from(model.concurrency.max(1)) / observed.p50.max(0.01))
        .max(0.01);
    let shared_with: u64 = sharing.iter().map(|calls| (*calls).min(work.calls)).sum();
    let calls = (work.calls + shared_with) as f64;
    let failing = observed.failure_rate.clamp(0.0, 0.5);
    // Every failed try is made again: `calls / (1 − f)` tries in all. The first goes at
    // once; the last one's answer ends the task.
    let span = |failing: f64| START + local + (calls / (1.0 - failing) - 1.0).max(0.0) / rate;
    // How many tries fail is binomial: two standard deviations either side.
    let spread = 2.0 * (failing * (1.0 - failing) / calls).sqrt();
    let low = span((failing - spread).max(0.0)) + observed.p50;
    let seconds = span(failing) + observed.p50;
    let mut high = span((failing + spread + 1.0 / calls).min(0.6))
        + observed.p95
        + observed.hedge_after().as_secs_f64();
    if basis == Basis::Limit {
        // Latency and failures are guesses until calls are measured.
        high *= 1.25;
    }
    Estimate {
        seconds: whole(seconds),
        low: whole(low),
        high: whole(high),
        basis,
        shared_with,
        items: work.items.max(work.calls),
        calls: work.calls,
    }
}

fn whole(seconds: f64) -> u64 {
    seconds.max(1.0).round() as u64
}

/// Where a running task stands, for [`remaining`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress<'a> {
    pub status: TaskStatus,
    pub counts: &'a TaskCounts,
    pub estimate: Option<&'a Estimate>,
    /// When the estimate was made: the task's creation, or a retry that sent items again.
    pub estimated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// Until when the marketplace holds the task off (quota), if it does.
    pub waiting_until: Option<DateTime<Utc>>,
}

/// Seconds until the task is likely done; `None` when it is not moving (over, paused,
/// being cancelled) or nothing honest can be said (no estimate and nothing done yet, or
/// the estimate ran out before the first item finished).
///
/// The pace is the estimate's at first and the measured one as this run's items finish:
/// the two are blended by how much is done (the measured pace counts for half after a
/// fortieth of the items, or three items for small tasks), so the figure converges
/// without jumping when the first few items happen to be quick or slow. A known wait for
/// quota is added. It is computed from the task alone, so the tray, the toasts and the
/// task page, given the same task, say the same.
pub fn remaining(progress: Progress<'_>, now: DateTime<Utc>) -> Option<u64> {
    if progress.status.is_terminal()
        || matches!(
            progress.status,
            TaskStatus::Paused | TaskStatus::Cancelling | TaskStatus::Scheduled
        )
    {
        return None;
    }
    let counts = progress.counts;
    let left = counts.left().max(0) as u64;
    let seconds_since = |at: Option<DateTime<Utc>>| {
        at.map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
    };
    // This run: the items the estimate is for, from when it was made (a retry starts a
    // new run); without an estimate, the whole task since it started.
    let (items, origin) = match progress.estimate {
        Some(estimate) if estimate.items > 0 => (
            estimate.items,
            progress.estimated_at.max(progress.started_at),
        ),
        _ => (counts.total.max(0) as u64, progress.started_at),
    };
    let done = items.saturating_sub(left) as f64;
    let quota = progress.waiting_until.map_or(0.0, |until| {
        (until - now).num_milliseconds().max(0) as f64 / 1000.0
    });
    let planned = progress
        .estimate
        .map(|estimate| items.max(1) as f64 / (estimate.seconds as f64 - START).max(0.5));
    let measured = seconds_since(origin)
        .filter(|elapsed| done >= 1.0 && *elapsed > 0.0)
        .map(|elapsed| done / elapsed);
    let rate = match (planned, measured) {
        (Some(planned), Some(measured)) => {
            let trust = done / (done + (items as f64 / 40.0).max(3.0));
            trust * measured + (1.0 - trust) * planned
        }
        (None, Some(measured)) => measured,
        (Some(_), None) => {
            // Nothing finished yet: the estimate counts down from when it was made.
            let estimate = progress.estimate?;
            let since = seconds_since(progress.estimated_at).unwrap_or(0.0);
            let left = estimate.seconds as f64 - since;
            return (left > 0.0).then(|| (left + quota).ceil() as u64);
        }
        (None, None) => return None,
    };
    Some((left as f64 / rate.max(1e-6) + quota).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn model(observed: Option<Observed>) -> CallModel {
        CallModel {
            per_second: 5.0,
            concurrency: 6,
            observed,
        }
    }

    /// The sandbox's defaults, as recent calls measure them.
    fn sandbox_defaults() -> Observed {
        Observed {
            calls: 400,
            p50: 0.375,
            p95: 0.58,
            failure_rate: 0.03,
        }
    }

    #[test]
    fn two_hundred_calls_at_five_a_second_take_about_forty_two_seconds() {
        let estimate = predict(
            Workload {
                calls: 200,
                items: 200,
            },
            &[],
            Some(&model(Some(sandbox_defaults()))),
        );
        assert_eq!(estimate.basis, Basis::Measured);
        // 200 calls ÷ 97 % usefully answered ÷ 5/s, plus the last answer.
        assert_eq!(estimate.seconds, 42);
        assert!(estimate.low <= 41 && estimate.low >= 40, "{estimate:?}");
        assert!(estimate.high >= 43 && estimate.high <= 46, "{estimate:?}");
        assert!(!estimate.is_range(), "{}", estimate.about());
    }

    #[test]
    fn before_any_call_the_range_is_wider_and_says_so() {
        let measured = predict(
            Workload {
                calls: 200,
                items: 200,
            },
            &[],
            Some(&model(Some(sandbox_defaults()))),
        );
        let guessed = predict(
            Workload {
                calls: 200,
                items: 200,
            },
            &[],
            Some(&model(None)),
        );
        assert_eq!(guessed.basis, Basis::Limit);
        assert!(guessed.high > measured.high + 5, "{guessed:?} {measured:?}");
    }

    #[test]
    fn failures_cost_calls_and_widen_the_range() {
        let flaky = Observed {
            failure_rate: 0.2,
            ..sandbox_defaults()
        };
        let estimate = predict(
            Workload {
                calls: 100,
                items: 100,
            },
            &[],
            Some(&model(Some(flaky))),
        );
        // 100 ÷ 0.8 = 125 tries at 5/s, then the last answer.
        assert_eq!(estimate.seconds, 26);
        assert!(estimate.high - estimate.low >= 5, "{estimate:?}");
    }

    #[test]
    fn slow_calls_with_few_slots_bound_the_pace() {
        let slow = Observed {
            p50: 3.0,
            p95: 4.0,
            failure_rate: 0.0,
            ..sandbox_defaults()
        };
        // 6 calls in flight of 3 s each: 2 per second, not 5.
        let estimate = predict(
            Workload {
                calls: 100,
                items: 100,
            },
            &[],
            Some(&model(Some(slow))),
        );
        assert_eq!(estimate.seconds, 53);
    }

    #[test]
    fn work_queued_ahead_shares_the_pace_up_to_the_task_s_size() {
        let alone = predict(
            Workload {
                calls: 50,
                items: 50,
            },
            &[],
            Some(&model(Some(sandbox_defaults()))),
        );
        let behind = predict(
            Workload {
                calls: 50,
                items: 50,
            },
            &[1_000],
            Some(&model(Some(sandbox_defaults()))),
        );
        assert_eq!(behind.shared_with, 50);
        assert!((behind.seconds as i64 - 2 * alone.seconds as i64).abs() <= 1);
        // Three tasks ahead, each taking its turn: each shares up to this one's size.
        let behind_three = predict(
            Workload {
                calls: 50,
                items: 50,
            },
            &[1_000, 20, 1_000],
            Some(&model(Some(sandbox_defaults()))),
        );
        assert_eq!(behind_three.shared_with, 120);
    }

    #[test]
    fn local_work_is_quick_and_says_it_is_local() {
        let estimate = predict(
            Workload {
                calls: 0,
                items: 10_000,
            },
            &[],
            Some(&model(None)),
        );
        assert_eq!(estimate.basis, Basis::Local);
        assert_eq!(estimate.seconds, 5);
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::seconds(seconds)
    }

    fn counts(total: i64, done: i64) -> TaskCounts {
        TaskCounts {
            total,
            pending: total - done,
            succeeded: done,
            ..TaskCounts::default()
        }
    }

    fn estimate(seconds: u64) -> Estimate {
        Estimate {
            seconds,
            low: seconds,
            high: seconds,
            basis: Basis::Measured,
            shared_with: 0,
            items: 200,
            calls: 200,
        }
    }

    #[test]
    fn time_left_starts_from_the_estimate_and_follows_the_measured_pace() {
        let plan = estimate(40);
        fn progress<'a>(counts: &'a TaskCounts, plan: &'a Estimate) -> Progress<'a> {
            Progress {
                status: TaskStatus::Running,
                counts,
                estimate: Some(plan),
                estimated_at: Some(at(0)),
                started_at: Some(at(0)),
                waiting_until: None,
            }
        }
        let nothing = counts(200, 0);
        assert_eq!(remaining(progress(&nothing, &plan), at(0)), Some(40));
        // Half the planned pace measured over a quarter of the items: the figure has
        // mostly moved to the measured pace (each item takes 0.4 s, 150 left ≈ 60 s).
        let quarter = counts(200, 50);
        let left = remaining(progress(&quarter, &plan), at(20)).unwrap();
        assert!((54..=62).contains(&left), "{left}");
    }

    #[test]
    fn a_steady_task_counts_down_without_jumping() {
        // 5 items a second, as planned: the figure falls by about one each second.
        let plan = estimate(40);
        let mut last = u64::MAX;
        for second in 1..40 {
            let now = counts(200, (second * 5).min(200));
            let left = remaining(
                Progress {
                    status: TaskStatus::Running,
                    counts: &now,
                    estimate: Some(&plan),
                    estimated_at: Some(at(0)),
                    started_at: Some(at(0)),
                    waiting_until: None,
                },
                at(second),
            )
            .unwrap();
            assert!(left < last, "second {second}: {left} after {last}");
            assert!(
                left.abs_diff(40 - second as u64) <= 1,
                "second {second}: {left}"
            );
            last = left;
        }
    }

    #[test]
    fn a_quota_wait_is_added_and_an_ended_task_has_no_time_left() {
        let plan = estimate(40);
        let now = counts(200, 100);
        let mut progress = Progress {
            status: TaskStatus::Running,
            counts: &now,
            estimate: Some(&plan),
            estimated_at: Some(at(0)),
            started_at: Some(at(0)),
            waiting_until: Some(at(50)),
        };
        assert_eq!(remaining(progress, at(20)), Some(50));
        // Paused or over, it is not moving: no time left is said.
        progress.status = TaskStatus::Paused;
        assert_eq!(remaining(progress, at(20)), None);
        progress.status = TaskStatus::Succeeded;
        assert_eq!(remaining(progress, at(20)), None);
        // No estimate and nothing done: nothing to say yet.
        let fresh = counts(200, 0);
        let unknown = Progress {
            status: TaskStatus::Running,
            counts: &fresh,
            estimate: None,
            estimated_at: None,
            started_at: Some(at(0)),
            waiting_until: None,
        };
        assert_eq!(remaining(unknown, at(5)), None);
    }

    #[test]
    fn before_the_first_item_ends_the_estimate_counts_down_then_says_nothing() {
        let plan = estimate(40);
        let fresh = counts(200, 0);
        let queued = |now| {
            remaining(
                Progress {
                    status: TaskStatus::Queued,
                    counts: &fresh,
                    estimate: Some(&plan),
                    estimated_at: Some(at(0)),
                    started_at: None,
                    waiting_until: None,
                },
                now,
            )
        };
        assert_eq!(queued(at(10)), Some(30));
        assert_eq!(queued(at(45)), None, "past the estimate with nothing done");
    }

    #[test]
    fn a_retry_is_a_new_run_measured_from_when_it_was_estimated() {
        // 200 items done hours ago; 20 sent again at 3 h, estimated at 5 s.
        let retry = Estimate {
            items: 20,
            calls: 20,
            ..estimate(5)
        };
        let now = TaskCounts {
            total: 200,
            succeeded: 190,
            pending: 10,
            ..TaskCounts::default()
        };
        let left = remaining(
            Progress {
                status: TaskStatus::Running,
                counts: &now,
                estimate: Some(&retry),
                estimated_at: Some(at(3 * 3600)),
                started_at: Some(at(0)),
                waiting_until: None,
            },
            at(3 * 3600 + 2),
        )
        .unwrap();
        // 10 of 20 done in 2 s: a couple of seconds left, not hours.
        assert!((2..=3).contains(&left), "{left}");
    }
}
