//! The live state as plain data: how task events, snapshots and the toast clock change
//! it. No signals and no browser here, so every rule is unit-tested; [`super::LiveStore`]
//! keeps these values in signals and calls these functions.

use crate::tasks::{TaskStatus, TaskSummary};
use task_model::words;

/// How long an auto-dismissing toast stays, in milliseconds.
pub const TOAST_MS: i64 = 5_000;
/// Toasts on screen at once; the rest wait their turn.
pub const VISIBLE_TOASTS: usize = 3;
/// Tasks the tray keeps, newest first.
pub const TASKS_KEPT: usize = 30;

/// A toast's level is a message's tone: its colour, and whether it stays until closed.
pub use task_model::Tone as ToastLevel;

/// What a toast says: its level, words and an optional link (label, path).
#[derive(Debug, Clone, PartialEq)]
pub struct News {
    pub level: ToastLevel,
    pub title: String,
    pub body: String,
    pub action: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub news: News,
    /// Milliseconds left on screen (auto-dismissing toasts only).
    pub remaining_ms: i64,
    pub paused: bool,
}

/// Applies one task event to the list (newest first): an event older than what is known
/// (by `seq`) changes nothing and gives `None`; otherwise the task as it was before, if
/// known. A `seq` of 0 carries no order and always applies.
pub fn apply(tasks: &mut Vec<TaskSummary>, task: TaskSummary) -> Option<Option<TaskSummary>> {
    let at = tasks.iter().position(|t| t.id == task.id);
    if let Some(at) = at {
        if tasks[at].seq >= task.seq && task.seq != 0 {
            return None;
        }
    }
    let previous = match at {
        Some(at) => Some(std::mem::replace(&mut tasks[at], task)),
        None => {
            tasks.insert(0, task);
            None
        }
    };
    tasks.truncate(TASKS_KEPT);
    Some(previous)
}

/// What a change of a task is worth saying: a start, or an end (in the kind's words, the
/// same the notification centre keeps).
pub fn news(previous: Option<&TaskSummary>, task: &TaskSummary) -> Option<News> {
    // A task that has not started says so where it was asked for (and in the tray); it
    // is news when it starts.
    if task.status == TaskStatus::Scheduled {
        return None;
    }
    let starts = previous.is_some_and(|p| p.status == TaskStatus::Scheduled);
    if (previous.is_none() || starts) && !task.is_over() {
        let named = words::numbered(task.id, &task.label);
        let (title, body) = words::started(&named, task.estimate.as_ref());
        return Some(News {
            level: ToastLevel::Info,
            title,
            body,
            action: None,
        });
    }
    if previous.is_some_and(TaskSummary::is_over) {
        return None;
    }
    let named = words::numbered(task.id, &task.label);
    let said = words::finished(task.presentation(), &named, task.status, &task.counts)?;
    Some(News {
        level: said.tone,
        title: said.title,
        body: said.body,
        // A task that wrote a file offers it; otherwise its failures, if any.
        action: match task.file() {
            Some(file) => Some((file.words.to_owned(), file.href)),
            None => said
                .review
                .map(|review| (review, format!("/tasks/{}", task.id))),
        },
    })
}

/// A tray row's line under its progress bar: how far it is and the time left while it
/// runs; once over, how it ended, in the words of its toast and notification.
pub fn tray_words(task: &TaskSummary) -> String {
    if let Some(said) = words::finished(task.presentation(), &task.label, task.status, &task.counts)
    {
        return said.body;
    }
    let c = &task.counts;
    let eta = task
        .eta_seconds
        .map(|eta| format!(" · {} left", task_model::estimate::about(eta)))
        .unwrap_or_default();
    format!("{}{eta}", task_model::words::progress(c))
}

/// A snapshot after a gap (a reconnect, a lagging stream): what changed meanwhile is said
/// as if seen live, then the snapshot replaces the list.
pub fn resync(tasks: &mut Vec<TaskSummary>, snapshot: Vec<TaskSummary>) -> Vec<News> {
    let mut said = Vec::new();
    for task in &snapshot {
        if let Some(previous) = apply(tasks, task.clone()) {
            said.extend(news(previous.as_ref(), task));
        }
    }
    *tasks = snapshot;
    said
}

/// Toasts in order of arrival; the first [`VISIBLE_TOASTS`] are on screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToastQueue {
    toasts: Vec<Toast>,
    next_id: u64,
}

impl ToastQueue {
    pub fn push(&mut self, news: News) -> u64 {
        self.next_id += 1;
        self.toasts.push(Toast {
            id: self.next_id,
            news,
            remaining_ms: TOAST_MS,
            paused: false,
        });
        self.next_id
    }

    pub fn visible(&self) -> &[Toast] {
        &self.toasts[..self.toasts.len().min(VISIBLE_TOASTS)]
    }

    /// Toasts waiting for room on screen.
    pub fn queued(&self) -> usize {
        self.toasts.len().saturating_sub(VISIBLE_TOASTS)
    }

    pub fn close(&mut self, id: u64) {
        self.toasts.retain(|t| t.id != id);
    }

    /// Hovering or focusing a toast stops its clock.
    pub fn pause(&mut self, id: u64, paused: bool) {
        if let Some(toast) = self.toasts.iter_mut().find(|t| t.id == id) {
            toast.paused = paused;
        }
    }

    /// Whether [`ToastQueue::tick`] would change anything.
    pub fn has_running_clocks(&self) -> bool {
        self.visible()
            .iter()
            .any(|t| !t.news.level.sticky() && !t.paused)
    }

    /// `elapsed_ms` passed: the visible, unpaused, auto-dismissing toasts count down, and
    /// those at zero go (a waiting toast's clock starts when it comes on screen).
    pub fn tick(&mut self, elapsed_ms: i64) {
        for toast in self.toasts.iter_mut().take(VISIBLE_TOASTS) {
            if !toast.news.level.sticky() && !toast.paused {
                toast.remaining_ms -= elapsed_ms;
            }
        }
        self.toasts
            .retain(|t| t.news.level.sticky() || t.remaining_ms > 0);
    }
}

/// Which build of the browser's code the server serves: the first one seen is this tab's;
/// another one later means this tab is stale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildWatch {
    first: Option<String>,
    stale: bool,
}

impl BuildWatch {
    /// Whether this build makes the tab stale now (true once, the first time).
    pub fn see(&mut self, build: &str) -> bool {
        if build.is_empty() {
            return false;
        }
        match &self.first {
            None => {
                self.first = Some(build.to_owned());
                false
            }
            Some(first) if first != build && !self.stale => {
                self.stale = true;
                true
            }
            Some(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{TaskCounts, TaskStatus};

    fn task(id: i64, status: TaskStatus, seq: i64, succeeded: i64, failed: i64) -> TaskSummary {
        let counts = TaskCounts {
            total: 10,
            succeeded,
            failed,
            pending: 10 - succeeded - failed,
            ..TaskCounts::default()
        };
        TaskSummary {
            seq,
            ..TaskSummary::fixture(id, "publish", "Publish 10 items", status, counts)
        }
    }

    fn info(title: &str) -> News {
        News {
            level: ToastLevel::Info,
            title: title.into(),
            body: String::new(),
            action: None,
        }
    }

    #[test]
    fn events_apply_in_seq_order_and_older_ones_change_nothing() {
        let mut tasks = Vec::new();
        assert_eq!(
            apply(&mut tasks, task(1, TaskStatus::Running, 3, 3, 0)),
            Some(None)
        );
        assert_eq!(
            apply(&mut tasks, task(1, TaskStatus::Running, 2, 2, 0)),
            None
        );
        assert_eq!(
            apply(&mut tasks, task(1, TaskStatus::Running, 3, 3, 0)),
            None
        );
        assert_eq!(tasks[0].counts.succeeded, 3);
        let previous = apply(&mut tasks, task(1, TaskStatus::Running, 4, 5, 0)).unwrap();
        assert_eq!(previous.map(|p| p.seq), Some(3));
        // A new task goes first; the list keeps the newest 30.
        for id in 2..=40 {
            apply(&mut tasks, task(id, TaskStatus::Queued, 1, 0, 0));
        }
        assert_eq!(tasks.len(), TASKS_KEPT);
        assert_eq!(tasks[0].id, 40);
    }

    #[test]
    fn a_start_and_an_end_are_news_and_nothing_else_is() {
        let started = task(1, TaskStatus::Running, 1, 0, 0);
        let said = news(None, &started).unwrap();
        assert_eq!(said.title, "#1 Publish 10 items started");
        let moving = task(1, TaskStatus::Running, 2, 4, 0);
        assert_eq!(news(Some(&started), &moving), None);
        let ended = task(1, TaskStatus::CompletedWithErrors, 3, 8, 2);
        let said = news(Some(&moving), &ended).unwrap();
        assert_eq!(said.level, ToastLevel::Warning);
        assert_eq!(said.title, "#1 Publish 10 items done with problems");
        assert_eq!(said.body, "8 published, 2 need attention.");
        assert_eq!(
            said.action,
            Some(("Review 2 failures".into(), "/tasks/1".into()))
        );
        // Once over, a repeat says nothing.
        assert_eq!(news(Some(&ended), &ended), None);
    }

    #[test]
    fn a_snapshot_replaces_the_list_and_says_what_ended_meanwhile() {
        let mut tasks = vec![
            task(1, TaskStatus::Running, 5, 5, 0),
            task(2, TaskStatus::Running, 1, 0, 0),
        ];
        let snapshot = vec![
            task(3, TaskStatus::Queued, 1, 0, 0),
            task(1, TaskStatus::Succeeded, 9, 10, 0),
        ];
        let said = resync(&mut tasks, snapshot.clone());
        let titles: Vec<&str> = said.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(
            titles,
            ["#3 Publish 10 items started", "#1 Publish 10 items done"]
        );
        assert_eq!(tasks, snapshot);
    }

    #[test]
    fn three_toasts_show_the_rest_wait_and_clocks_run_only_on_screen() {
        let mut queue = ToastQueue::default();
        let ids: Vec<u64> = (1..=4)
            .map(|n| queue.push(info(&format!("t{n}"))))
            .collect();
        let problem = queue.push(News {
            level: ToastLevel::Error,
            ..info("failed")
        });
        assert_eq!(queue.visible().len(), 3);
        assert_eq!(queue.queued(), 2);
        queue.pause(ids[0], true);
        queue.tick(TOAST_MS - 1);
        assert_eq!(queue.visible().len(), 3);
        queue.tick(1);
        // The paused one stays; two went; the waiting ones come on screen with a full clock.
        let visible: Vec<u64> = queue.visible().iter().map(|t| t.id).collect();
        assert_eq!(visible, [ids[0], ids[3], problem]);
        assert_eq!(queue.visible()[1].remaining_ms, TOAST_MS);
        queue.pause(ids[0], false);
        queue.tick(TOAST_MS);
        // A problem stays until closed.
        assert_eq!(
            queue.visible().iter().map(|t| t.id).collect::<Vec<_>>(),
            [problem]
        );
        assert!(!queue.has_running_clocks());
        queue.close(problem);
        assert!(queue.visible().is_empty());
    }

    #[test]
    fn a_tab_is_stale_once_the_server_serves_another_build() {
        let mut watch = BuildWatch::default();
        assert!(!watch.see(""));
        assert!(!watch.see("a1"));
        assert!(!watch.see("a1"));
        assert!(watch.see("b2"));
        assert!(!watch.see("c3"));
    }
}
