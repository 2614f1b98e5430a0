//! How long a task takes, as the seller is told before it starts: a most likely figure
//! and a range, with what it rests on. Fixed when the task is created, so the seller can
//! compare it with what the task took.

use serde::{Deserialize, Serialize};

/// What an estimate rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The marketplace's limit and how its recent calls went (latency, failures).
    Measured,
    /// The marketplace's limit only: no call has been measured yet.
    Limit,
    /// Work inside Stockroom, no marketplace call.
    Local,
}

impl Basis {
    /// Said after the figure: "about 42 s (from our pace and the marketplace's recent
    /// answers)".
    pub fn source(self) -> &'static str {
        match self {
            Self::Measured => "from our pace and the marketplace's recent answers",
            Self::Limit => "a first guess from our pace: no marketplace call measured yet",
            Self::Local => "for work inside Stockroom",
        }
    }
}

/// A task's expected duration, in whole seconds from its creation to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimate {
    /// The most likely duration.
    pub seconds: u64,
    /// The range it very likely falls in (`low ≤ seconds ≤ high`).
    pub low: u64,
    pub high: u64,
    pub basis: Basis,
    /// Items of the seller's other tasks that share the marketplace's pace with this one.
    #[serde(default)]
    pub shared_with: u64,
    /// The items the estimate is for (a task's, or those a retry sent again).
    #[serde(default)]
    pub items: u64,
    /// The marketplace calls those items make, one try each.
    #[serde(default)]
    pub calls: u64,
}

impl Estimate {
    /// A range is said when it is wide enough to matter: the ends differ by more than a
    /// fifth and by 5 s at least, and read differently.
    pub fn is_range(&self) -> bool {
        let spread = self.high.saturating_sub(self.low);
        spread >= 5
            && spread as f64 > 0.2 * self.seconds.max(1) as f64
            && length(self.low) != length(self.high)
    }

    /// "45 s", or "41 to 56 s", "45 s to 1 min" when the range is real.
    pub fn said(&self) -> String {
        if !self.is_range() {
            return length(self.seconds);
        }
        let (low, high) = (length(self.low), length(self.high));
        // "41 s", "7 min": a figure and one unit ("1 h 10 min" is not).
        let single = |words: &str| {
            words
                .split_once(' ')
                .filter(|(_, unit)| !unit.contains(' '))
                .map(|(figure, unit)| (figure.to_owned(), unit.to_owned()))
        };
        match (single(&low), single(&high)) {
            // One unit is said once: "41 to 56 s", "4 to 7 min".
            (Some((from, unit)), Some((to, same))) if unit == same => {
                format!("{from} to {to} {unit}")
            }
            _ => format!("{low} to {high}"),
        }
    }

    /// "about 45 s", or "about 45 s to 1 min".
    pub fn about(&self) -> String {
        format!("about {}", self.said())
    }

    /// What it rests on, for after the figure: "from our pace and the marketplace's
    /// recent answers, sharing our pace with 120 items of your other tasks".
    pub fn source(&self) -> String {
        match self.shared_with {
            0 => self.basis.source().to_owned(),
            n => format!(
                "{}, sharing our pace with {} of your other tasks",
                self.basis.source(),
                crate::plural(n as i64, "item", "items")
            ),
        }
    }

    /// Marketplace calls per item, one try each (0 for local work).
    pub fn calls_per_item(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else {
            self.calls as f64 / self.items as f64
        }
    }
}

/// "45 s", "2 min", "1 h 5 min": a length of time as a seller reads it. Seconds up to a
/// minute, then the nearest whole minute, then hours and minutes.
pub fn length(seconds: u64) -> String {
    if seconds < 60 {
        return format!("{} s", seconds.max(1));
    }
    let minutes = (seconds + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

/// "about 40 s", "about 3 min".
pub fn about(seconds: u64) -> String {
    format!("about {}", length(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(seconds: u64, low: u64, high: u64) -> Estimate {
        Estimate {
            seconds,
            low,
            high,
            basis: Basis::Measured,
            shared_with: 0,
            items: 200,
            calls: 200,
        }
    }

    #[test]
    fn lengths_read_as_a_seller_says_them() {
        assert_eq!(length(0), "1 s");
        assert_eq!(length(45), "45 s");
        assert_eq!(length(61), "1 min");
        assert_eq!(length(90), "2 min");
        assert_eq!(length(3599), "1 h");
        assert_eq!(length(3600), "1 h");
        assert_eq!(length(3700), "1 h 2 min");
        assert_eq!(length(7199), "2 h");
        assert_eq!(about(40), "about 40 s");
    }

    #[test]
    fn a_narrow_estimate_is_one_figure_and_a_wide_one_a_range() {
        assert_eq!(estimate(42, 40, 46).about(), "about 42 s");
        assert_eq!(estimate(50, 45, 60).about(), "about 45 s to 1 min");
        assert_eq!(estimate(42, 41, 56).about(), "about 41 to 56 s");
        // A few seconds either way is not worth a range.
        assert_eq!(estimate(2, 1, 3).about(), "about 2 s");
        // Wide, but both ends read "2 min": one figure.
        assert_eq!(estimate(110, 95, 140).about(), "about 2 min");
        assert_eq!(estimate(300, 240, 420).about(), "about 4 to 7 min");
        assert_eq!(
            estimate(3000, 2400, 4200).about(),
            "about 40 min to 1 h 10 min"
        );
    }

    #[test]
    fn the_wire_form_has_seconds_low_and_high() {
        let json = serde_json::to_value(estimate(45, 40, 60)).unwrap();
        assert_eq!(json["seconds"], 45);
        assert_eq!(json["low"], 40);
        assert_eq!(json["high"], 60);
        assert_eq!(json["basis"], "measured");
    }
}
