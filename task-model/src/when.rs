//! Times as the seller reads them: in their own time zone, relative where that helps
//! ("2 min ago", "at 14:05", "yesterday at 09:12"), with the full date and offset for a
//! hover. One function for every page, toast and notification, so a time reads the same
//! wherever it appears.
//!
//! The zone arrives as the UTC offset in force at the instant (the caller knows the zone:
//! the browser's own, or the one remembered on the seller's account on the server), so
//! daylight saving needs no table here.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc};

/// One instant, said two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// What the page shows: "just now", "4 min ago", "at 14:05", "28 Nov, 14:05".
    pub short: String,
    /// What a hover shows: "Mon 30 Nov 2026, 14:05:12 (UTC+01:00)".
    pub full: String,
}

/// How `at` reads at `now`, for a seller whose clock is `offset` from UTC at `at`.
pub fn said(at: DateTime<Utc>, now: DateTime<Utc>, offset: FixedOffset) -> Said {
    Said {
        short: short(at, now, offset),
        full: full(at, offset),
    }
}

/// The wall-clock time alone, to the second: "14:05:12" (a wait that ends soon).
pub fn clock(at: DateTime<Utc>, offset: FixedOffset) -> String {
    at.with_timezone(&offset).format("%H:%M:%S").to_string()
}

/// "Mon 30 Nov 2026, 14:05:12 (UTC+01:00)".
pub fn full(at: DateTime<Utc>, offset: FixedOffset) -> String {
    format!(
        "{} ({})",
        at.with_timezone(&offset).format("%a %-d %b %Y, %H:%M:%S"),
        zone_name(offset)
    )
}

/// "UTC", "UTC+01:00", "UTC-03:30".
pub fn zone_name(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    if seconds == 0 {
        return "UTC".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn short(at: DateTime<Utc>, now: DateTime<Utc>, offset: FixedOffset) -> String {
    let local = at.with_timezone(&offset);
    let today = now.with_timezone(&offset).date_naive();
    let hm = local.format("%H:%M");
    let ago = now - at;
    // Within the hour: how long ago, or how soon. A moment "in the future" by less than a
    // minute is the clock between two ticks of the page (or the browser's clock a little
    // behind the server's): it just happened.
    if ago > -Duration::seconds(60) && ago < Duration::seconds(45) {
        return "just now".to_owned();
    }
    if ago >= Duration::zero() && ago < Duration::minutes(59) + Duration::seconds(30) {
        return format!("{} min ago", (ago.num_seconds() + 30) / 60);
    }
    if ago < Duration::zero() && -ago < Duration::minutes(60) {
        let minutes = ((-ago).num_seconds() + 30) / 60;
        return format!("in {} min", minutes.max(1));
    }
    let day = local.date_naive();
    match (day - today).num_days() {
        0 => format!("at {hm}"),
        -1 => format!("yesterday at {hm}"),
        1 => format!("tomorrow at {hm}"),
        _ if day.year() == today.year() => format!("{}, {hm}", local.format("%-d %b")),
        _ => format!("{}, {hm}", local.format("%-d %b %Y")),
    }
}

/// The offset of a time zone given as the JavaScript `Date` reports it:
/// `getTimezoneOffset()` is minutes *behind* UTC (−60 in Paris in winter).
pub fn offset_from_js(minutes_behind: f64) -> FixedOffset {
    let seconds = (-minutes_behind * 60.0).round() as i32;
    FixedOffset::east_opt(seconds).unwrap_or_else(utc)
}

pub fn utc() -> FixedOffset {
    // Zero is always in range.
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn paris() -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }

    fn utc_at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn recent_times_read_as_how_long_ago() {
        let now = utc_at(2026, 11, 30, 13, 5, 0);
        let short = |at| said(at, now, paris()).short;
        assert_eq!(short(now), "just now");
        assert_eq!(short(now - Duration::seconds(44)), "just now");
        assert_eq!(short(now - Duration::seconds(50)), "1 min ago");
        assert_eq!(short(now - Duration::minutes(2)), "2 min ago");
        assert_eq!(short(now - Duration::minutes(59)), "59 min ago");
        assert_eq!(short(now + Duration::seconds(20)), "just now");
        assert_eq!(short(now + Duration::seconds(61)), "in 1 min");
        assert_eq!(short(now + Duration::minutes(12)), "in 12 min");
    }

    #[test]
    fn older_times_read_on_the_sellers_clock() {
        // 14:05 in Paris is 13:05 UTC.
        let now = utc_at(2026, 11, 30, 13, 5, 0);
        let short = |at| said(at, now, paris()).short;
        assert_eq!(short(utc_at(2026, 11, 30, 9, 0, 0)), "at 10:00");
        assert_eq!(short(utc_at(2026, 11, 29, 22, 30, 0)), "yesterday at 23:30");
        assert_eq!(short(utc_at(2026, 11, 29, 23, 30, 0)), "at 00:30");
        assert_eq!(short(utc_at(2026, 12, 1, 1, 0, 0)), "tomorrow at 02:00");
        assert_eq!(short(utc_at(2026, 11, 2, 8, 15, 0)), "2 Nov, 09:15");
        assert_eq!(short(utc_at(2025, 11, 2, 8, 15, 0)), "2 Nov 2025, 09:15");
    }

    #[test]
    fn the_hover_says_the_whole_date_and_the_zone() {
        let at = utc_at(2026, 11, 30, 13, 5, 12);
        assert_eq!(full(at, paris()), "Mon 30 Nov 2026, 14:05:12 (UTC+01:00)");
        assert_eq!(full(at, utc()), "Mon 30 Nov 2026, 13:05:12 (UTC)");
        let newfoundland = FixedOffset::west_opt(3 * 3600 + 1800).unwrap();
        assert_eq!(zone_name(newfoundland), "UTC-03:30");
        assert_eq!(clock(at, newfoundland), "09:35:12");
    }

    #[test]
    fn javascript_offsets_are_minutes_behind_utc() {
        assert_eq!(offset_from_js(-60.0), paris());
        assert_eq!(offset_from_js(0.0), utc());
        assert_eq!(offset_from_js(210.0).local_minus_utc(), -(3 * 3600 + 1800));
        // Out of range is read as UTC rather than trusted.
        assert_eq!(offset_from_js(1.0e9), utc());
    }
}
