//! Each kind of task, as the seller meets it: its stored name and its words.
//!
//! A kind's behaviour is one backend file; what it is called lives here, once, because the
//! browser needs it too. The tray, toasts, notifications, the task list and the task page
//! read these fields; nothing else compares a kind's name.

use serde::{Deserialize, Serialize};

use crate::{plural, ItemStatus, TaskStatus, UnknownName};

/// What one task item stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An item of the seller's catalog (by id).
    CatalogItem,
    /// A row of an uploaded CSV file (by line).
    CsvRow,
    /// A number with no meaning of its own (test and benchmark kinds).
    Counter,
}

/// A kind's identity and words.
#[derive(Debug, PartialEq, Eq)]
pub struct Presentation {
    /// Stored in `tasks.kind` and sent as a task's `kind`; never change it once tasks exist.
    pub name: &'static str,
    /// The imperative a task's label starts with: "Publish" 200 items.
    pub title: &'static str,
    /// While it runs: "Publishing" 200 items.
    pub doing: &'static str,
    /// What became of an item that succeeded: 200 "published".
    pub done: &'static str,
    /// One subject and many: ("item", "items"), ("row", "rows").
    pub unit: (&'static str, &'static str),
    /// Three letters in the tray and the task list, beside the label.
    pub mark: &'static str,
    pub subject: Subject,
    /// The catalog's bulk action bar offers it for a selection.
    pub in_bulk_bar: bool,
    /// Sellers see it in the task list's filter (test kinds are not listed).
    pub listed: bool,
    /// What saving an item this kind is about to act on asks first.
    pub on_save: &'static str,
    /// For kinds over catalog items: what the task does to items by where they stand on
    /// the marketplace, said before it starts.
    pub by_state: Option<ByState>,
    /// Once finished, its task page offers to put back what it changed.
    pub undoable: bool,
    /// Once finished, it has a file to download.
    pub download: Option<Download>,
    /// Said before it starts, for work that cannot be taken back; its start button then
    /// reads as destructive.
    pub warning: Option<&'static str>,
}

/// Days a task's file is kept after the task ends.
pub const FILE_KEPT_DAYS: i64 = 7;

/// A file a finished task offers: the link's words and where it is under the task.
#[derive(Debug, PartialEq, Eq)]
pub struct Download {
    /// "Download CSV"
    pub words: &'static str,
    /// The file's name under `/api/v1/tasks/{id}/`: "export.csv".
    pub file: &'static str,
    /// Days the file is kept after the task ends; then it is removed.
    pub kept_days: i64,
}

/// What a task over catalog items does to the ones already live and to the others.
#[derive(Debug, PartialEq, Eq)]
pub struct ByState {
    /// "not yet live will be published"
    pub not_live: &'static str,
    /// "already live will be updated"
    pub live: &'static str,
    /// The seller may leave the live ones out.
    pub may_leave_live: bool,
}

impl Presentation {
    /// "200 items", "1 row".
    pub fn count(&self, n: i64) -> String {
        plural(n, self.unit.0, self.unit.1)
    }

    /// The label of a task over `n` subjects: "Publish 200 items".
    pub fn label(&self, n: i64) -> String {
        format!("{} {}", self.title, self.count(n))
    }

    /// The label of a task, as a running line: "Publish 200 items" → "Publishing 200
    /// items", "Import 300 rows from x.csv" → "Importing 300 rows from x.csv".
    pub fn doing_line(&self, label: &str) -> String {
        match label.strip_prefix(self.title) {
            Some(rest) if rest.starts_with(' ') => format!("{}{rest}", self.doing),
            _ => format!("{}: {label}", self.doing),
        }
    }

    /// The bulk bar's button: "Publish…", and for a kind counted in something other than
    /// items, with it: "Update listings…".
    pub fn button(&self) -> String {
        match self.unit.0 {
            "item" => format!("{}…", self.title),
            _ => format!("{} {}…", self.title, self.unit.1),
        }
    }

    /// Whether the seller may leave the items already live out of a task of this kind.
    pub fn may_leave_live(&self) -> bool {
        self.by_state.as_ref().is_some_and(|by| by.may_leave_live)
    }

    /// What the task would do to items counted per listing state (`published`,
    /// `draft`…): "12 items not yet live will be published · 188 already live will be
    /// updated".
    pub fn by_state_said<'s>(
        &self,
        counts: impl IntoIterator<Item = (&'s str, u64)>,
    ) -> Option<String> {
        let (live, not_live) = live_and_not(counts);
        self.by_state_line(live, not_live)
    }

    /// What the task would do, by listing state: "12 items not yet live will be
    /// published · 188 already live will be updated".
    pub fn by_state_line(&self, live: u64, not_live: u64) -> Option<String> {
        let by = self.by_state.as_ref()?;
        let parts: Vec<String> = [(not_live, by.not_live), (live, by.live)]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{} {what}", plural(n as i64, "item", "items")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// An item's place in a task of this kind, in a few words (the catalog's chip):
    /// "queued for publish", "publishing…", "published", "publish failed".
    pub fn item_line(&self, status: ItemStatus, task: TaskStatus) -> String {
        let verb = self.title.to_lowercase();
        match (status, task) {
            (ItemStatus::Pending | ItemStatus::Running, TaskStatus::Paused) => {
                format!("{verb} paused")
            }
            (ItemStatus::Pending | ItemStatus::Running, TaskStatus::Cancelling) => {
                format!("cancelling {verb}")
            }
            (ItemStatus::Pending, TaskStatus::Scheduled) => format!("scheduled for {verb}"),
            (ItemStatus::Pending, _) => format!("queued for {verb}"),
            (ItemStatus::Waiting, _) => "waiting for the marketplace".to_owned(),
            (ItemStatus::Running, _) => format!("{}…", self.doing.to_lowercase()),
            (ItemStatus::Succeeded, _) => self.done.to_owned(),
            (ItemStatus::Failed, _) => format!("{verb} failed"),
            (ItemStatus::Skipped, _) => format!("{verb} skipped"),
            (ItemStatus::Cancelled, _) => format!("{verb} cancelled"),
        }
    }

    /// What saving an item asks while a task of this kind has still to act on it:
    /// "This item is queued in Publishing 200 items. Save anyway and publish the new
    /// values?"
    pub fn save_question(&self, label: &str, status: ItemStatus) -> String {
        let place = match status {
            ItemStatus::Running => "being sent",
            ItemStatus::Waiting => "being processed by the marketplace",
            _ => "queued",
        };
        format!(
            "This item is {place} in {}. {}",
            self.doing_line(label),
            self.on_save
        )
    }

    /// Where task `task_id`'s file is, for a kind that writes one.
    pub fn download_href(&self, task_id: i64) -> Option<String> {
        self.download
            .as_ref()
            .map(|d| format!("/api/v1/tasks/{task_id}/{}", d.file))
    }

    /// Finds a kind by its stored name.
    pub fn find(name: &str) -> Result<&'static Presentation, UnknownName> {
        ALL.iter()
            .copied()
            .find(|p| p.name == name)
            .ok_or_else(|| UnknownName {
                what: "task kind",
                name: name.to_owned(),
            })
    }

    /// A kind by name for display; an unknown one (a kind newer than this page's code)
    /// reads as a plain task rather than failing the view.
    pub fn of(name: &str) -> &'static Presentation {
        Self::find(name).unwrap_or(&UNKNOWN)
    }
}

pub static IMPORT: Presentation = Presentation {
    name: "import",
    title: "Import",
    doing: "Importing",
    done: "imported",
    unit: ("row", "rows"),
    mark: "CSV",
    subject: Subject::CsvRow,
    in_bulk_bar: false,
    listed: true,
    on_save: "Save anyway? The import may still change it.",
    by_state: None,
    undoable: true,
    warning: None,
    download: None,
};

pub static PUBLISH: Presentation = Presentation {
    name: "publish",
    title: "Publish",
    doing: "Publishing",
    done: "published",
    unit: ("item", "items"),
    mark: "PUB",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway and publish the new values?",
    by_state: Some(ByState {
        not_live: "not yet live will be published",
        live: "already live will be updated",
        may_leave_live: true,
    }),
    undoable: false,
    warning: None,
    download: None,
};

/// Of items counted per listing state: how many are live (`published`), and how many
/// are not.
pub fn live_and_not<'s>(counts: impl IntoIterator<Item = (&'s str, u64)>) -> (u64, u64) {
    counts.into_iter().fold((0, 0), |(live, not), (state, n)| {
        if state == "published" {
            (live + n, not)
        } else {
            (live, not + n)
        }
    })
}

pub static UNPUBLISH: Presentation = Presentation {
    name: "unpublish",
    title: "Unpublish",
    doing: "Unpublishing",
    done: "unpublished",
    unit: ("item", "items"),
    mark: "OFF",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway? It is still taken off the marketplace.",
    by_state: Some(ByState {
        not_live: "not live: nothing to take off",
        live: "live will be taken off the marketplace",
        may_leave_live: false,
    }),
    undoable: false,
    warning: None,
    download: None,
};

pub static EDIT: Presentation = Presentation {
    name: "edit",
    title: "Edit",
    doing: "Editing",
    done: "edited",
    unit: ("item", "items"),
    mark: "EDT",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway? The edit then applies to the values you save.",
    by_state: None,
    undoable: true,
    warning: None,
    download: None,
};

pub static UNDO: Presentation = Presentation {
    name: "undo",
    title: "Undo",
    doing: "Undoing",
    done: "put back",
    unit: ("item", "items"),
    mark: "UND",
    subject: Subject::CatalogItem,
    in_bulk_bar: false,
    listed: true,
    on_save: "Save anyway? The undo then leaves this item as you save it.",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

pub static UPDATE_LISTINGS: Presentation = Presentation {
    name: "update_listings",
    title: "Update",
    doing: "Updating",
    done: "updated",
    unit: ("listing", "listings"),
    mark: "UPD",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway and send the new values?",
    by_state: Some(ByState {
        not_live: "not live: left out (publish them instead)",
        live: "live will get their new values, if changed since published",
        may_leave_live: false,
    }),
    undoable: false,
    download: None,
    warning: None,
};

pub static EXPORT: Presentation = Presentation {
    name: "export",
    title: "Export",
    doing: "Exporting",
    done: "exported",
    unit: ("item", "items"),
    mark: "EXP",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway? The export writes the values it finds when it reaches this item.",
    by_state: None,
    undoable: false,
    warning: None,
    download: Some(Download {
        words: "Download CSV",
        file: "export.csv",
        kept_days: FILE_KEPT_DAYS,
    }),
};

pub static DELETE: Presentation = Presentation {
    name: "delete",
    title: "Delete",
    doing: "Deleting",
    done: "deleted",
    unit: ("item", "items"),
    mark: "DEL",
    subject: Subject::CatalogItem,
    in_bulk_bar: true,
    listed: true,
    on_save: "Save anyway? The delete will still remove it.",
    by_state: Some(ByState {
        not_live: "not live will be deleted",
        live: "live will be taken off the marketplace first, then deleted",
        may_leave_live: false,
    }),
    undoable: false,
    warning: Some(
        "Deleted items cannot be brought back. Export them first if you may need them again.",
    ),
    download: None,
};

/// The engine's own test kind (crash drills, benchmarks); never offered to sellers.
pub static NOOP: Presentation = Presentation {
    name: "noop",
    title: "Run",
    doing: "Running",
    done: "done",
    unit: ("step", "steps"),
    mark: "RUN",
    subject: Subject::Counter,
    in_bulk_bar: false,
    listed: false,
    on_save: "Save anyway?",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

static UNKNOWN: Presentation = Presentation {
    name: "",
    title: "Run",
    doing: "Running",
    done: "done",
    unit: ("item", "items"),
    mark: "JOB",
    subject: Subject::Counter,
    in_bulk_bar: false,
    listed: false,
    on_save: "Save anyway?",
    by_state: None,
    undoable: false,
    warning: None,
    download: None,
};

/// Every kind the product knows, in the order sellers see them.
pub static ALL: [&Presentation; 9] = [
    &IMPORT,
    &PUBLISH,
    &UNPUBLISH,
    &UPDATE_LISTINGS,
    &EDIT,
    &UNDO,
    &EXPORT,
    &DELETE,
    &NOOP,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_unique_name_and_mark() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(!a.name.is_empty() && a.mark.len() == 3, "{}", a.name);
            for b in &ALL[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.mark, b.mark);
            }
            assert_eq!(Presentation::find(a.name), Ok(*a));
        }
        assert!(Presentation::find("archive").is_err());
        assert_eq!(Presentation::of("archive").mark, "JOB");
        assert_eq!(
            EXPORT.download_href(42).as_deref(),
            Some("/api/v1/tasks/42/export.csv")
        );
        assert_eq!(PUBLISH.download_href(42), None);
        assert_eq!(PUBLISH.button(), "Publish…");
        assert_eq!(UPDATE_LISTINGS.button(), "Update listings…");
        assert_eq!(UPDATE_LISTINGS.label(20), "Update 20 listings");
    }

    #[test]
    fn labels_read_as_running_lines() {
        assert_eq!(PUBLISH.label(200), "Publish 200 items");
        assert_eq!(PUBLISH.label(1), "Publish 1 item");
        assert_eq!(
            PUBLISH.doing_line("Publish 200 items"),
            "Publishing 200 items"
        );
        assert_eq!(
            IMPORT.doing_line("Import 300 rows from x.csv"),
            "Importing 300 rows from x.csv"
        );
        assert_eq!(
            UNPUBLISH.doing_line("Unpublish 1 item"),
            "Unpublishing 1 item"
        );
        // A label the kind did not write is kept whole.
        assert_eq!(PUBLISH.doing_line("Spring sale"), "Publishing: Spring sale");
    }

    #[test]
    fn a_task_over_items_says_what_it_does_by_state() {
        assert_eq!(
            PUBLISH.by_state_line(188, 12).as_deref(),
            Some(
                "12 items not yet live will be published · 188 items already live will be updated"
            )
        );
        assert_eq!(
            PUBLISH.by_state_line(0, 1).as_deref(),
            Some("1 item not yet live will be published")
        );
        assert_eq!(
            UNPUBLISH.by_state_line(3, 0).as_deref(),
            Some("3 items live will be taken off the marketplace")
        );
        assert_eq!(IMPORT.by_state_line(3, 4), None);
    }

    #[test]
    fn an_item_says_where_it_stands_in_its_task() {
        use ItemStatus as I;
        use TaskStatus as T;
        assert_eq!(
            PUBLISH.item_line(I::Pending, T::Running),
            "queued for publish"
        );
        assert_eq!(PUBLISH.item_line(I::Running, T::Running), "publishing…");
        assert_eq!(PUBLISH.item_line(I::Succeeded, T::Running), "published");
        assert_eq!(
            PUBLISH.item_line(I::Failed, T::CompletedWithErrors),
            "publish failed"
        );
        assert_eq!(PUBLISH.item_line(I::Pending, T::Paused), "publish paused");
        assert_eq!(
            UNPUBLISH.item_line(I::Pending, T::Queued),
            "queued for unpublish"
        );
        assert_eq!(
            PUBLISH.save_question("Publish 200 items", I::Pending),
            "This item is queued in Publishing 200 items. Save anyway and publish the new values?"
        );
        assert_eq!(
            PUBLISH.save_question("Publish 1 item", I::Running),
            "This item is being sent in Publishing 1 item. Save anyway and publish the new values?"
        );
    }
}
