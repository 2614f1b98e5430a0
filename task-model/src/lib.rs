//! The task model's vocabulary, defined once for the whole product.
//!
//! The engine (backend), the HTTP API (server) and both builds of the UI (server-rendered
//! and in the browser) speak of tasks in these types: a task's and an item's status, the
//! counts of a task's items, the seller's controls and what each kind of task is called.
//! Names stored in the database and sent over the wire are the `as_str` forms; reading
//! them back goes through `TryFrom<&str>`, and a name that does not convert is an error.

pub mod chain;
pub mod connection;
pub mod control;
pub mod counts;
pub mod edit;
#[cfg(feature = "openapi")]
mod edit_schema;
pub mod estimate;
pub mod file_check;
pub mod hold;
pub mod kinds;
pub mod status;
pub mod when;
pub mod words;

pub use chain::Chain;
pub use connection::{Connection, ConnectionTest, Marketplace};
pub use control::Control;
pub use counts::TaskCounts;
pub use estimate::{Basis, Estimate};
pub use hold::{Hold, HoldReason};
pub use kinds::{ByState, Presentation, Subject};
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

/// `TryFrom<&str>` and `Display` for an enum with `ALL` and `as_str`: the stored name
/// reads back as the variant, and any other name is an [`UnknownName`] for `what`.
macro_rules! named {
    ($type:ty, $what:literal) => {
        impl TryFrom<&str> for $type {
            type Error = $crate::UnknownName;

            fn try_from(raw: &str) -> Result<Self, $crate::UnknownName> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == raw)
                    .ok_or_else(|| $crate::UnknownName {
                        what: $what,
                        name: raw.to_owned(),
                    })
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named;

/// "1 item", "2 items".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
