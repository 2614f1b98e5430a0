//! The task model's vocabulary, defined once for the whole product.
//!
//! The engine (backend), the HTTP API (server) and both builds of the UI (server-rendered
//! and in the browser) speak of tasks in these types: a task's and an item's status, the
//! counts of a task's items, the seller's controls and what each kind of task is called.
//! Names stored in the database and sent over the wire are the `as_str` forms; reading
//! them back goes through `TryFrom<&str>`, and a name that does not convert is an error.

pub mod control;
pub mod counts;
pub mod kinds;
pub mod status;
pub mod words;

pub use control::Control;
pub use counts::TaskCounts;
pub use kinds::{Estimate, Presentation, Subject};
pub use status::{ItemStatus, TaskStatus};
pub use words::{Finished, Tone};

/// A stored or received name that is not one of the vocabulary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being read: "task status", "item status", "control", "task kind".
    pub what: &'static str,
    pub name: String,
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "“{}” is not a {}", self.name, self.what)
    }
}

impl std::error::Error for UnknownName {}

/// "1 item", "2 items".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
