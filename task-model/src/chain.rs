//! Flows of more than one task: a chain's steps, which kind may follow which, and how a
//! step and a task that starts later are said.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::kinds::{self, Presentation};

/// A task's place in a chain: step 2 of 2 starts when step 1 ends, over what step 1
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chain {
    /// This task's place, from 1.
    pub step: u32,
    /// How many steps the chain has.
    pub of: u32,
    /// The task after this one, if any.
    pub next: Option<i64>,
    /// The task before this one, if any: this one waits for it.
    pub previous: Option<i64>,
}

impl Chain {
    /// "Step 2 of 2".
    pub fn words(&self) -> String {
        format!("Step {} of {}", self.step, self.of)
    }
}

/// The kinds that may follow `first` in a chain, each working over what `first` did to
/// catalog items: an import's items may be published (or, when they were live already,
/// have their listings updated); an edit's items may have their listings updated (or be
/// published).
pub fn followers(first: &str) -> &'static [&'static Presentation] {
    static AFTER_IMPORT: [&Presentation; 2] = [&kinds::PUBLISH, &kinds::UPDATE_LISTINGS];
    static AFTER_EDIT: [&Presentation; 2] = [&kinds::UPDATE_LISTINGS, &kinds::PUBLISH];
    if first == kinds::IMPORT.name {
        &AFTER_IMPORT
    } else if first == kinds::EDIT.name {
        &AFTER_EDIT
    } else {
        &[]
    }
}

/// Whether a task of `kind` goes through one of the seller's marketplace connections
/// (and so may name it: `connection_id`).
pub fn through_connection(kind: &str) -> bool {
    kind == kinds::PUBLISH.name || kind == kinds::UNPUBLISH.name
}

/// Whether `then` may follow `first`.
pub fn may_follow(first: &str, then: &str) -> bool {
    followers(first).iter().any(|kind| kind.name == then)
}

/// What the seller is offered to add after a task of `first`: "Then publish what
/// imported".
pub fn then_words(first: &str, then: &str) -> Option<String> {
    let then = followers(first).iter().find(|kind| kind.name == then)?;
    let what = if first == kinds::IMPORT.name {
        "what imported"
    } else {
        "the items it changed"
    };
    Some(match then.name {
        n if n == kinds::UPDATE_LISTINGS.name && first == kinds::EDIT.name => {
            "Then update their listings on the marketplace".to_owned()
        }
        n if n == kinds::UPDATE_LISTINGS.name => {
            format!("Then update the listings of {what}")
        }
        _ => format!("Then {} {what}", then.title.to_lowercase()),
    })
}

/// Why a task has not started, for its chip and the tray: "scheduled for 02:00",
/// "scheduled for 4 Dec, 02:00", "after step 1".
pub fn waiting_words(
    start_at: Option<DateTime<Utc>>,
    chain: Option<&Chain>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> String {
    if let Some(chain) = chain.filter(|c| c.previous.is_some()) {
        return format!("after step {}", chain.step.saturating_sub(1).max(1));
    }
    match start_at {
        Some(at) => format!("scheduled for {}", at_words(at, now, offset)),
        None => "scheduled".to_owned(),
    }
}

/// A time ahead, as short as it can be said unambiguously on the seller's calendar:
/// "14:00" today, "tomorrow 02:00", "Sat 5 Dec, 02:00" within the week, "14 Dec, 02:00"
/// later.
pub fn at_words(at: DateTime<Utc>, now: DateTime<Utc>, offset: FixedOffset) -> String {
    let local = at.with_timezone(&offset);
    let days = (local.date_naive() - now.with_timezone(&offset).date_naive()).num_days();
    match days {
        ..=0 => local.format("%H:%M").to_string(),
        1 => local.format("tomorrow %H:%M").to_string(),
        2..=6 => local.format("%a %-d %b, %H:%M").to_string(),
        _ => local.format("%-d %b, %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_kinds_over_what_the_first_did_may_follow_it() {
        assert!(may_follow("import", "publish"));
        assert!(may_follow("edit", "update_listings"));
        assert!(may_follow("edit", "publish"));
        assert!(!may_follow("publish", "publish"));
        assert!(!may_follow("import", "delete"));
        assert!(!may_follow("export", "update_listings"));
        assert!(!may_follow("import", "nonsense"));
    }

    #[test]
    fn the_offer_says_what_the_second_step_covers() {
        assert_eq!(
            then_words("import", "publish").as_deref(),
            Some("Then publish what imported")
        );
        assert_eq!(
            then_words("edit", "update_listings").as_deref(),
            Some("Then update their listings on the marketplace")
        );
        assert_eq!(then_words("export", "publish"), None);
    }

    #[test]
    fn a_waiting_task_says_what_it_waits_for() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 15, 0, 0).unwrap();
        let paris = FixedOffset::east_opt(3600).unwrap();
        let later_today = Utc.with_ymd_and_hms(2026, 12, 3, 21, 30, 0).unwrap();
        assert_eq!(
            waiting_words(Some(later_today), None, now, paris),
            "scheduled for 22:30"
        );
        let tonight = Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap();
        assert_eq!(
            waiting_words(Some(tonight), None, now, paris),
            "scheduled for tomorrow 02:00"
        );
        // Late in the evening, 14:00 the next day is tomorrow's, not today's.
        let evening = Utc.with_ymd_and_hms(2026, 12, 3, 18, 0, 0).unwrap();
        let next_afternoon = Utc.with_ymd_and_hms(2026, 12, 4, 13, 0, 0).unwrap();
        assert_eq!(
            waiting_words(Some(next_afternoon), None, evening, paris),
            "scheduled for tomorrow 14:00"
        );
        let friday = Utc.with_ymd_and_hms(2026, 12, 5, 1, 0, 0).unwrap();
        assert_eq!(
            waiting_words(Some(friday), None, now, paris),
            "scheduled for Sat 5 Dec, 02:00"
        );
        let chain = Chain {
            step: 2,
            of: 2,
            next: None,
            previous: Some(7),
        };
        assert_eq!(
            waiting_words(None, Some(&chain), now, paris),
            "after step 1"
        );
        assert_eq!(chain.words(), "Step 2 of 2");
    }
}
