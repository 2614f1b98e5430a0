//! Every surface says a task's end the same way: the toast, the notification kept in the
//! centre, the tray's row and the task page, for every kind and every ending, with one
//! item and with many.

#![cfg(feature = "ssr")]

use app::live::store::{news, tray_words};
use app::task_header::outcome;
use app::tasks::{TaskCounts, TaskStatus, TaskSummary};

fn summary(kind: &str, label: &str, status: TaskStatus, counts: TaskCounts) -> TaskSummary {
    TaskSummary {
        eta_seconds: Some(30),
        seq: 2,
        ..TaskSummary::fixture(7, kind, label, status, counts)
    }
}

/// Counts that can end in `status`, over `n` items.
fn ending_counts(status: TaskStatus, n: i64) -> TaskCounts {
    let mut c = TaskCounts {
        total: n,
        ..TaskCounts::default()
    };
    match status {
        TaskStatus::Succeeded => c.succeeded = n,
        TaskStatus::CompletedWithErrors if n == 1 => {
            // One item cannot both succeed and fail: a skipped one beside it.
            c.total = 2;
            c.succeeded = 1;
            c.failed = 1;
        }
        TaskStatus::CompletedWithErrors => {
            c.failed = 1;
            c.succeeded = n - 1;
        }
        TaskStatus::Failed => c.failed = n,
        TaskStatus::Cancelled => c.cancelled = n,
        _ => {}
    }
    c
}

#[test]
fn the_toast_the_notification_the_tray_and_the_task_page_agree() {
    let mut checked = 0;
    for kind in task_model::kinds::ALL {
        for n in [1, 2, 200] {
            let label = kind.label(n);
            let running = summary(
                kind.name,
                &label,
                TaskStatus::Running,
                TaskCounts {
                    total: n,
                    pending: n,
                    ..TaskCounts::default()
                },
            );
            for status in TaskStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
                let counts = ending_counts(status, n);
                let ended = summary(kind.name, &label, status, counts);
                let toast = news(Some(&running), &ended).expect("an end is news");
                let note = backend::notifications::ending(7, kind.name, &label, status, &counts)
                    .expect("an end is notified");
                let page = outcome(&ended).expect("the task page says how it ended");
                let tray = tray_words(&ended);
                let case = format!("{} · {status} · {n}", kind.name);
                assert_eq!(toast.title, note.title, "{case}");
                assert_eq!(toast.body, note.body, "{case}");
                assert_eq!(toast.level, note.tone, "{case}");
                assert_eq!(page, note.body, "{case}");
                assert_eq!(tray, note.body, "{case}");
                // Counts read right: never "1 items", "1 rows", "1 need".
                for said in [&note.title, &note.body] {
                    for wrong in ["1 items", "1 rows", "1 steps", " 1 need ", "1 failures"] {
                        assert!(!said.contains(wrong), "{case}: {said}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, task_model::kinds::ALL.len() * 3 * 4);
}

#[test]
fn a_running_task_in_the_tray_says_how_far_it_is() {
    let counts = TaskCounts {
        total: 200,
        succeeded: 40,
        failed: 2,
        pending: 158,
        ..TaskCounts::default()
    };
    let task = summary("publish", "Publish 200 items", TaskStatus::Running, counts);
    assert_eq!(tray_words(&task), "42 of 200 · about 30 s left");
}
