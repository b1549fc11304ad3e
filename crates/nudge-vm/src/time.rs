//! Local times, `wait until` and quiet hours, DST-correct with chrono-tz.
//!
//! Rules (LANGUAGE.md, "Time"): a local time in a DST gap moves forward by
//! the gap; a repeated hour takes the earlier instant; `wait until` is the
//! next such instant strictly after now; `on day N` is the local entry date
//! plus N.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// `HH:MM` from minutes after midnight (clamped to the day).
fn naive_time(minutes: u16) -> NaiveTime {
    let m = u32::from(minutes.min(24 * 60 - 1));
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// The instant of a local date and time of day in `tz`.
pub fn resolve_local(tz: Tz, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
    let local = date.and_time(naive_time(minutes));
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: read the wall time with the offset in force before
            // the gap, which lands the same distance past the gap's end.
            let day = chrono::Duration::days(1);
            let before = local.checked_sub_signed(day).unwrap_or(local);
            let offset = tz.offset_from_utc_datetime(&before);
            let secs = chrono::Offset::fix(&offset).local_minus_utc();
            local
                .checked_sub_signed(chrono::Duration::seconds(i64::from(secs)))
                .unwrap_or(local)
                .and_utc()
        }
    }
}

/// The local date of an instant.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// Which day a `wait until` targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Day {
    /// The next occurrence strictly after now.
    Next,
    /// Local entry date + N.
    EntryPlus(u16),
    /// The next such weekday (0 = Monday).
    Weekday(u8),
}

/// The instant a `wait until` waits for. For `Day::EntryPlus` it may be at
/// or before `now` (the journey then continues at once).
pub fn wait_until(
    now: DateTime<Utc>,
    tz: Tz,
    minutes: u16,
    day: Day,
    entered_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let today = local_date(tz, now);
    match day {
        Day::Next => {
            let t = resolve_local(tz, today, minutes);
            if t > now {
                t
            } else {
                // Two days ahead covers a time pushed into tomorrow by a gap.
                (1..=2)
                    .filter_map(|n| today.checked_add_days(Days::new(n)))
                    .map(|d| resolve_local(tz, d, minutes))
                    .find(|t| *t > now)
                    .unwrap_or(now)
            }
        }
        Day::EntryPlus(n) => {
            let date = local_date(tz, entered_at)
                .checked_add_days(Days::new(u64::from(n)))
                .unwrap_or(today);
            resolve_local(tz, date, minutes)
        }
        Day::Weekday(w) => (0..=8)
            .filter_map(|n| today.checked_add_days(Days::new(n)))
            .filter(|d| d.weekday().num_days_from_monday() == u32::from(w))
            .map(|d| resolve_local(tz, d, minutes))
            .find(|t| *t > now)
            .unwrap_or(now),
    }
}

/// Whether minute-of-day `t` lies in the window `[from, to)` (which wraps
/// midnight when `to < from`; `from == to` is empty).
pub fn in_window(t: u16, from: u16, to: u16) -> bool {
    if from < to {
        from <= t && t < to
    } else if from > to {
        t >= from || t < to
    } else {
        false
    }
}

/// The longest spread added to a deferred send, in seconds.
pub const QUIET_SPREAD_SECONDS: u64 = 15 * 60;

/// When a send at `at` may go out under quiet hours `[from, to)` in `tz`:
/// `None` when `at` is outside the window, else the window's end plus a
/// deterministic spread of `spread_key % 15 min`, so not everything leaves
/// at the same second.
pub fn quiet_hours_release(
    at: DateTime<Utc>,
    tz: Tz,
    from: u16,
    to: u16,
    spread_key: u64,
) -> Option<DateTime<Utc>> {
    let local = at.with_timezone(&tz);
    let minute = u16::try_from(local.hour_minute()).unwrap_or(0);
    if !in_window(minute, from, to) {
        return None;
    }
    let date = local.date_naive();
    let end_date = if from > to && minute >= from {
        date.checked_add_days(Days::new(1)).unwrap_or(date)
    } else {
        date
    };
    let end = resolve_local(tz, end_date, to);
    let spread = i64::try_from(spread_key % QUIET_SPREAD_SECONDS).unwrap_or(0);
    Some(
        end.checked_add_signed(chrono::Duration::seconds(spread))
            .unwrap_or(end),
    )
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl<T: chrono::Timelike> HourMinute for T {
    fn hour_minute(&self) -> u32 {
        self.hour() * 60 + self.minute()
    }
}

/// Parses an IANA zone name.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn plain_local_time() {
        assert_eq!(
            resolve_local(Berlin, date(2026, 1, 10), 9 * 60),
            utc("2026-01-10T08:00:00Z")
        );
        assert_eq!(
            resolve_local(Berlin, date(2026, 7, 10), 9 * 60),
            utc("2026-07-10T07:00:00Z")
        );
    }

    #[test]
    fn gap_moves_forward_by_the_gap() {
        // 2026-03-29 02:00 CET -> 03:00 CEST in Berlin: 02:30 does not exist.
        assert_eq!(
            resolve_local(Berlin, date(2026, 3, 29), 2 * 60 + 30),
            utc("2026-03-29T01:30:00Z")
        );
        // That is 03:30 local.
        assert_eq!(
            utc("2026-03-29T01:30:00Z")
                .with_timezone(&Berlin)
                .format("%H:%M")
                .to_string(),
            "03:30"
        );
    }

    #[test]
    fn repeated_hour_takes_the_earlier_instant() {
        // 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice.
        assert_eq!(
            resolve_local(Berlin, date(2026, 10, 25), 2 * 60 + 30),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn wait_until_is_strictly_after_now() {
        let entered = utc("2026-01-10T08:00:00Z");
        // Exactly 09:00 Berlin now: the next one is tomorrow.
        assert_eq!(
            wait_until(utc("2026-01-10T08:00:00Z"), Berlin, 540, Day::Next, entered),
            utc("2026-01-11T08:00:00Z")
        );
        // 08:59: today.
        assert_eq!(
            wait_until(utc("2026-01-10T07:59:00Z"), Berlin, 540, Day::Next, entered),
            utc("2026-01-10T08:00:00Z")
        );
        // UTC.
        assert_eq!(
            wait_until(
                utc("2026-01-10T10:00:00Z"),
                Tz::UTC,
                540,
                Day::Next,
                entered
            ),
            utc("2026-01-11T09:00:00Z")
        );
    }

    #[test]
    fn wait_until_across_dst_changes() {
        let entered = utc("2026-03-28T12:00:00Z");
        // Saturday noon before spring-forward: next 09:00 is Sunday 09:00 CEST = 07:00Z.
        assert_eq!(
            wait_until(utc("2026-03-28T12:00:00Z"), Berlin, 540, Day::Next, entered),
            utc("2026-03-29T07:00:00Z")
        );
        // Next 02:30 on the spring-forward day falls in the gap: 03:30 CEST.
        assert_eq!(
            wait_until(utc("2026-03-28T12:00:00Z"), Berlin, 150, Day::Next, entered),
            utc("2026-03-29T01:30:00Z")
        );
        // Fall back: 09:00 on Sunday 2026-10-25 is CET = 08:00Z.
        assert_eq!(
            wait_until(utc("2026-10-24T12:00:00Z"), Berlin, 540, Day::Next, entered),
            utc("2026-10-25T08:00:00Z")
        );
        // After the first 02:30 on the fall-back day, the next is the following day's.
        assert_eq!(
            wait_until(utc("2026-10-25T00:45:00Z"), Berlin, 150, Day::Next, entered),
            utc("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn day_n_counts_from_the_local_entry_date() {
        // Entered 23:30 UTC on Jan 10 = 00:30 Jan 11 in Berlin: day 0 is Jan 11.
        let entered = utc("2026-01-10T23:30:00Z");
        assert_eq!(
            wait_until(entered, Berlin, 540, Day::EntryPlus(5), entered),
            utc("2026-01-16T08:00:00Z")
        );
        // In UTC day 0 is Jan 10.
        assert_eq!(
            wait_until(entered, Tz::UTC, 540, Day::EntryPlus(5), entered),
            utc("2026-01-15T09:00:00Z")
        );
        // Day 0 at a time already past is in the past (the VM continues at once).
        assert!(wait_until(entered, Tz::UTC, 540, Day::EntryPlus(0), entered) < entered);
    }

    #[test]
    fn weekday_is_the_next_one() {
        // 2026-01-10 is a Saturday.
        let now = utc("2026-01-10T10:00:00Z");
        assert_eq!(
            wait_until(now, Tz::UTC, 540, Day::Weekday(0), now),
            utc("2026-01-12T09:00:00Z")
        );
        // Saturday 09:00 has passed: next Saturday.
        assert_eq!(
            wait_until(now, Tz::UTC, 540, Day::Weekday(5), now),
            utc("2026-01-17T09:00:00Z")
        );
        // Saturday 11:00 is still ahead today.
        assert_eq!(
            wait_until(now, Tz::UTC, 660, Day::Weekday(5), now),
            utc("2026-01-10T11:00:00Z")
        );
    }

    #[test]
    fn windows() {
        assert!(in_window(23 * 60, 21 * 60, 8 * 60));
        assert!(in_window(0, 21 * 60, 8 * 60));
        assert!(in_window(7 * 60 + 59, 21 * 60, 8 * 60));
        assert!(!in_window(8 * 60, 21 * 60, 8 * 60));
        assert!(!in_window(20 * 60 + 59, 21 * 60, 8 * 60));
        assert!(in_window(13 * 60, 12 * 60, 14 * 60));
        assert!(!in_window(14 * 60, 12 * 60, 14 * 60));
        assert!(!in_window(5, 60, 60));
    }

    #[test]
    fn quiet_hours_move_23_berlin_to_08_berlin() {
        // 23:00 Berlin in winter = 22:00Z; released at 08:00 Berlin = 07:00Z next day.
        let at = utc("2026-01-10T22:00:00Z");
        assert_eq!(
            quiet_hours_release(at, Berlin, 1260, 480, 0),
            Some(utc("2026-01-11T07:00:00Z"))
        );
        // The spread is the key modulo 15 minutes.
        assert_eq!(
            quiet_hours_release(at, Berlin, 1260, 480, 900 + 61),
            Some(utc("2026-01-11T07:01:01Z"))
        );
        // Early morning: released the same day.
        assert_eq!(
            quiet_hours_release(utc("2026-01-11T05:00:00Z"), Berlin, 1260, 480, 0),
            Some(utc("2026-01-11T07:00:00Z"))
        );
        // Outside the window: not deferred.
        assert_eq!(
            quiet_hours_release(utc("2026-01-11T12:00:00Z"), Berlin, 1260, 480, 0),
            None
        );
    }

    #[test]
    fn quiet_hours_across_dst_changes() {
        // Spring forward night 2026-03-28 -> 29: 23:00 CET = 22:00Z; 08:00 CEST = 06:00Z.
        assert_eq!(
            quiet_hours_release(utc("2026-03-28T22:00:00Z"), Berlin, 1260, 480, 0),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        // Fall back night 2026-10-24 -> 25: 23:00 CEST = 21:00Z; 08:00 CET = 07:00Z.
        assert_eq!(
            quiet_hours_release(utc("2026-10-24T21:00:00Z"), Berlin, 1260, 480, 0),
            Some(utc("2026-10-25T07:00:00Z"))
        );
        // 20:30Z on Oct 24 is 22:30 CEST: quiet.
        assert!(quiet_hours_release(utc("2026-10-24T20:30:00Z"), Berlin, 1260, 480, 0).is_some());
        // 19:30Z on Mar 28 is 20:30 CET: not quiet.
        assert!(quiet_hours_release(utc("2026-03-28T19:30:00Z"), Berlin, 1260, 480, 0).is_none());
    }

    #[test]
    fn zone_names() {
        assert_eq!(zone("Europe/Berlin"), Some(Berlin));
        assert_eq!(zone("Mars/Olympus"), None);
    }
}
