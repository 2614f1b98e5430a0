//! What checking an import file says about its rows before anything is imported: how
//! many are ready, how many the check can fix on its own (and how), and how many need the
//! seller, grouped by reason with a few examples each.

use serde::{Deserialize, Serialize};

/// Which rows of a checked file an import takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Include {
    /// Every row as written; a row that cannot be imported fails in the task with its
    /// reason (what scripts got before the check existed).
    #[default]
    All,
    /// Only the rows that are ready as written.
    Ready,
    /// The ready rows and the ones the check can fix, fixed.
    Fixed,
}

impl Include {
    pub const ALL: [Self; 3] = [Self::All, Self::Ready, Self::Fixed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Ready => "ready",
            Self::Fixed => "fixed",
        }
    }

    /// Whether a row the check can fix goes in (fixed).
    pub fn takes_fixable(self) -> bool {
        self == Self::Fixed
    }
}

crate::named!(Include, "choice of rows");

/// A repair the check makes on its own, and how many rows it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FixGroup {
    /// `title_cut`, `title_line_breaks`, `decimal_comma`, `control_characters`.
    pub code: String,
    pub count: u64,
    /// What it does, in the seller's words: "titles cut to 200 characters".
    pub fix: String,
}

/// One row the seller has to see to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowExample {
    /// The row's first line in the file (the header is line 1).
    pub line: u64,
    /// The row's SKU as written (may be empty).
    pub sku: String,
    pub message: String,
}

/// Rows that cannot be imported for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvalidGroup {
    /// The code a task would fail the row with: `price_invalid`, `duplicate_sku`…
    pub code: String,
    pub count: u64,
    /// The reason's heading: "Price not valid".
    pub title: String,
    /// The first few rows, in file order.
    pub examples: Vec<RowExample>,
}

/// How many examples an invalid group shows.
pub const EXAMPLES: usize = 5;

/// The sentence of a check: "229 ready · 52 can be fixed automatically · 19 need you".
pub fn summary(ready: u64, fixable: u64, invalid: u64) -> String {
    summary_parts(ready, fixable, invalid)
        .into_iter()
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The parts of [`summary`], each with its tone (`ready`, `fixable`, `invalid`), for a
/// page that marks them.
pub fn summary_parts(ready: u64, fixable: u64, invalid: u64) -> Vec<(&'static str, String)> {
    let mut parts = vec![("ready", format!("{ready} ready"))];
    if fixable > 0 {
        parts.push(("fixable", format!("{fixable} can be fixed automatically")));
    }
    if invalid > 0 {
        parts.push((
            "invalid",
            format!("{invalid} need{} you", if invalid == 1 { "s" } else { "" }),
        ));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_only_what_there_is() {
        assert_eq!(summary(300, 0, 0), "300 ready");
        assert_eq!(
            summary(229, 52, 19),
            "229 ready · 52 can be fixed automatically · 19 need you"
        );
        assert_eq!(summary(0, 0, 1), "0 ready · 1 needs you");
    }

    #[test]
    fn choices_read_back_by_name() {
        for include in Include::ALL {
            assert_eq!(Include::try_from(include.as_str()), Ok(include));
        }
        assert!(Include::try_from("some").is_err());
        assert!(Include::Fixed.takes_fixable() && !Include::Ready.takes_fixable());
    }
}
