//! A hold: the work of a task waits, through no fault of its items, until the
//! marketplace answers again. Nothing is sent and no attempt is spent meanwhile.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a task's work is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The marketplace stopped answering (5xx, timeouts, refused connections) for
    /// several calls in a row: its circuit breaker is open.
    MarketplaceUnavailable,
}

impl HoldReason {
    pub const ALL: [HoldReason; 1] = [Self::MarketplaceUnavailable];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MarketplaceUnavailable => "marketplace_unavailable",
        }
    }
}

crate::named!(HoldReason, "hold reason");

/// A task's hold, as the API and the event stream send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hold {
    pub reason: HoldReason,
    /// Since when the marketplace has not answered.
    pub since: DateTime<Utc>,
    /// When Stockroom asks it again (one cheap read); `None` while that read is under way.
    pub next_probe_at: Option<DateTime<Utc>>,
    /// The spacing of those reads now, in seconds (it grows from 5 s to a minute).
    pub retry_every_seconds: u32,
    /// Which marketplace, as the seller reads it ("eBay US", "the marketplace").
    pub marketplace: String,
}

impl Hold {
    /// The chip's words: "eBay US not answering since 14:02", the time written by the
    /// caller (the browser writes it in the seller's zone).
    pub fn headline(&self, since: &str) -> String {
        format!(
            "{} not answering since {since}",
            capitalised(&self.marketplace)
        )
    }

    /// What follows the headline: what Stockroom does about it, and that nothing is lost.
    pub fn detail(&self) -> String {
        format!(
            "retrying every {}, nothing is lost",
            every(self.retry_every_seconds)
        )
    }
}

/// The notification of a marketplace that stopped answering (`recovered` false) or
/// answers again: title, body and tone. One of each per outage, however many items.
pub fn notice(marketplace: &str, recovered: bool, tasks: i64) -> (String, String, crate::Tone) {
    let who = capitalised(marketplace);
    let (yours, carry, wait) = if tasks == 1 {
        (
            "Your task on it".to_owned(),
            "carries on where it stopped",
            "waits and carries on by itself",
        )
    } else {
        (
            format!("Your {tasks} tasks on it"),
            "carry on where they stopped",
            "wait and carry on by themselves",
        )
    };
    if recovered {
        (
            format!("{who} answers again"),
            format!("{yours} {carry}."),
            crate::Tone::Success,
        )
    } else {
        (
            format!("{who} is not answering"),
            format!(
                "{yours} {wait} once it answers; nothing is lost and no attempt is spent meanwhile."
            ),
            crate::Tone::Warning,
        )
    }
}

/// A span in words: "45 seconds", "30 minutes", "6 hours", "1 day".
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 120 {
        crate::plural(s, "second", "seconds")
    } else if s < 2 * 3600 {
        crate::plural(s / 60, "minute", "minutes")
    } else if s < 2 * 86_400 {
        crate::plural(s / 3600, "hour", "hours")
    } else {
        crate::plural(s / 86_400, "day", "days")
    }
}

/// "20 s", "1 min", "1 min 30 s".
fn every(seconds: u32) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// "the marketplace" opening a sentence; a name ("eBay") is left as it is written.
pub fn capitalised(text: &str) -> String {
    if !text.starts_with("the ") {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(every: u32) -> Hold {
        Hold {
            reason: HoldReason::MarketplaceUnavailable,
            since: DateTime::default(),
            next_probe_at: None,
            retry_every_seconds: every,
            marketplace: "the marketplace".into(),
        }
    }

    #[test]
    fn the_words_say_who_since_when_how_often_and_that_nothing_is_lost() {
        let h = hold(20);
        assert_eq!(
            h.headline("14:02"),
            "The marketplace not answering since 14:02"
        );
        assert_eq!(h.detail(), "retrying every 20 s, nothing is lost");
        assert_eq!(hold(60).detail(), "retrying every 1 min, nothing is lost");
        assert_eq!(
            hold(90).detail(),
            "retrying every 1 min 30 s, nothing is lost"
        );
    }

    #[test]
    fn one_notice_for_the_outage_and_one_for_the_recovery() {
        let (title, body, tone) = notice("eBay", false, 2);
        assert_eq!(title, "eBay is not answering");
        assert!(body.starts_with("Your 2 tasks on it wait and carry on by themselves"));
        assert_eq!(
            notice("eBay", true, 1).1,
            "Your task on it carries on where it stopped."
        );
        assert_eq!(tone, crate::Tone::Warning);
        let (title, _, tone) = notice("the marketplace", true, 1);
        assert_eq!(title, "The marketplace answers again");
        assert_eq!(tone, crate::Tone::Success);
        assert_eq!(span(6 * 3600), "6 hours");
        assert_eq!(span(90), "90 seconds");
        assert_eq!(span(1800), "30 minutes");
    }

    #[test]
    fn the_json_names_the_reason_and_the_times() {
        let json = serde_json::to_value(hold(5)).unwrap();
        assert_eq!(json["reason"], "marketplace_unavailable");
        assert_eq!(json["since"], "1970-01-01T00:00:00Z");
        assert!(json["next_probe_at"].is_null());
        assert_eq!(
            HoldReason::try_from("marketplace_unavailable"),
            Ok(HoldReason::MarketplaceUnavailable)
        );
    }
}
