//! The catalog's selection model. Either explicit ids (kept across pages), or "all items
//! matching the current filter" minus the ones the seller unticked afterwards — so a
//! selection of 10 000 items costs nothing to hold and names exactly what the seller meant.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::catalog::ItemFilterParams;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Selection {
    #[default]
    None,
    Ids(BTreeSet<i64>),
    AllMatching {
        filter: ItemFilterParams,
        total: u64,
        excluded: BTreeSet<i64>,
    },
}

impl Selection {
    pub fn count(&self) -> u64 {
        match self {
            Self::None => 0,
            Self::Ids(ids) => ids.len() as u64,
            Self::AllMatching {
                total, excluded, ..
            } => total.saturating_sub(excluded.len() as u64),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    pub fn contains(&self, id: i64) -> bool {
        match self {
            Self::None => false,
            Self::Ids(ids) => ids.contains(&id),
            Self::AllMatching { excluded, .. } => !excluded.contains(&id),
        }
    }

    /// Ticks or unticks one row.
    pub fn toggle(&mut self, id: i64, selected: bool) {
        match self {
            Self::None if selected => *self = Self::Ids(BTreeSet::from([id])),
            Self::None => {}
            Self::Ids(ids) => {
                if selected {
                    ids.insert(id);
                } else {
                    ids.remove(&id);
                }
            }
            Self::AllMatching { excluded, .. } => {
                if selected {
                    excluded.remove(&id);
                } else {
                    excluded.insert(id);
                }
            }
        }
        self.normalise();
    }

    /// Are all these rows (one page) selected?
    pub fn covers(&self, page_ids: &[i64]) -> bool {
        !page_ids.is_empty() && page_ids.iter().all(|id| self.contains(*id))
    }

    /// "Select this page" (or unselect it).
    pub fn set_page(&mut self, page_ids: &[i64], selected: bool) {
        for id in page_ids {
            self.toggle(*id, selected);
        }
    }

    /// "Select all N matching": every item the filter matches, on every page.
    pub fn select_all_matching(&mut self, filter: ItemFilterParams, total: u64) {
        *self = Self::AllMatching {
            filter,
            total,
            excluded: BTreeSet::new(),
        };
    }

    pub fn is_all_matching(&self) -> bool {
        matches!(self, Self::AllMatching { .. })
    }

    pub fn clear(&mut self) {
        *self = Self::None;
    }

    /// An all-matching selection only makes sense for the filter it was made with.
    pub fn on_filter_changed(&mut self, filter: &ItemFilterParams) {
        if let Self::AllMatching {
            filter: made_with, ..
        } = self
        {
            if made_with != filter {
                self.clear();
            }
        }
    }

    fn normalise(&mut self) {
        if self.is_empty() {
            *self = Self::None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(q: &str) -> ItemFilterParams {
        ItemFilterParams {
            q: q.into(),
            ..ItemFilterParams::default()
        }
    }

    #[test]
    fn ticking_rows_across_pages_accumulates() {
        let mut selection = Selection::default();
        selection.set_page(&[1, 2, 3], true);
        selection.toggle(70, true);
        assert_eq!(selection.count(), 4);
        assert!(selection.covers(&[1, 2, 3]));
        assert!(!selection.covers(&[3, 4]));
        selection.set_page(&[1, 2, 3], false);
        assert_eq!(selection, Selection::Ids(BTreeSet::from([70])));
        selection.toggle(70, false);
        assert_eq!(selection, Selection::None);
    }

    #[test]
    fn all_matching_counts_the_total_minus_exclusions() {
        let mut selection = Selection::default();
        selection.select_all_matching(filter("mug"), 300);
        assert_eq!(selection.count(), 300);
        assert!(selection.contains(123_456));
        selection.toggle(5, false);
        assert_eq!(selection.count(), 299);
        assert!(!selection.contains(5));
        selection.toggle(5, true);
        assert_eq!(selection.count(), 300);
    }

    #[test]
    fn all_matching_is_dropped_when_the_filter_changes() {
        let mut selection = Selection::default();
        selection.select_all_matching(filter("mug"), 10);
        selection.on_filter_changed(&filter("mug"));
        assert_eq!(selection.count(), 10);
        selection.on_filter_changed(&filter("plate"));
        assert_eq!(selection, Selection::None);
    }

    #[test]
    fn explicit_ids_survive_a_filter_change() {
        let mut selection = Selection::default();
        selection.toggle(9, true);
        selection.on_filter_changed(&filter("x"));
        assert_eq!(selection.count(), 1);
    }

    #[test]
    fn an_empty_page_is_never_covered() {
        assert!(!Selection::default().covers(&[]));
    }
}
