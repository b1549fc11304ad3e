//! Local times, `wait until` and quiet hours, DST-correct with chrono-tz.
//!
//! Rules (LANGUAGE.md, "Time"): a local time in a DST gap moves forward by
//! the gap; a repeated hour takes the earlier instant; `wait until` is the
//! next such instant strictly after now; `on day N` is the local entry date
//! plus N.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
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
    /// That local date (`wait until TIME at HH:MM`); may be at or before
    /// now.
    Date(NaiveDate),
}

/// The shape of [`wait_until`]: (now, zone, minutes of the day, day,
/// entry instant) → the instant waited for.
pub type WaitUntilFn = fn(DateTime<Utc>, Tz, u16, Day, DateTime<Utc>) -> DateTime<Utc>;

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
        // Candidates start the day before: a time in a gap that crosses
        // midnight belongs to yesterday's date but lands after midnight
        // (Saturday 23:30 in a gap from 23:00 to 00:00 is Sunday 00:30).
        Day::Next => (0..=3)
            .filter_map(|n| yesterday(today).checked_add_days(Days::new(n)))
            .map(|d| resolve_local(tz, d, minutes))
            .find(|t| *t > now)
            .unwrap_or(now),
        Day::EntryPlus(n) => {
            let date = local_date(tz, entered_at)
                .checked_add_days(Days::new(u64::from(n)))
                .unwrap_or(today);
            resolve_local(tz, date, minutes)
        }
        Day::Date(date) => resolve_local(tz, date, minutes),
        Day::Weekday(w) => (0..=9)
            .filter_map(|n| yesterday(today).checked_add_days(Days::new(n)))
            .filter(|d| d.weekday().num_days_from_monday() == u32::from(w))
            .map(|d| resolve_local(tz, d, minutes))
            .find(|t| *t > now)
            .unwrap_or(now),
    }
}

/// The calendar date `days` after `date` (before it when negative).
fn shift_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// The date of `base`'s anniversary in `year`: the same month and day, or
/// 28 February for 29 February in a year that has none.
fn anniversary_in(base: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, base.month(), base.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, base.month(), base.day() - 1))
}

/// When a date trigger fires for a field holding `value`: the first
/// occurrence strictly after `after`, or none when there is none.
///
/// - Without `at`: the field's instant moved by `offset` seconds; with
///   `yearly`, the same instant of each later year (29 February falling
///   on the 28th).
/// - With `at` (minutes, zone): the field's local date in that zone moved
///   by `offset` whole days, at that time of day (DST-correct, as in
///   [`resolve_local`]); with `yearly`, the field's calendar date (in UTC:
///   a date of birth is a date, not an instant) in each later year.
pub fn date_occurrence(
    value: DateTime<Utc>,
    offset: i64,
    yearly: bool,
    at: Option<(u16, Tz)>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let days = offset.div_euclid(86_400);
    let instant = |date: NaiveDate| -> Option<DateTime<Utc>> {
        match at {
            Some((minutes, tz)) => Some(resolve_local(tz, shift_days(date, days)?, minutes)),
            None => {
                let t = date.and_time(value.time()).and_utc();
                Some(crate::vm::plus(t, offset))
            }
        }
    };
    if !yearly {
        let date = match at {
            Some((_, tz)) => local_date(tz, value),
            None => value.date_naive(),
        };
        return instant(date).filter(|t| *t > after);
    }
    let base = value.date_naive();
    // The years whose occurrence may be the next one: the offset moves an
    // occurrence by at most |offset| / 365 years, plus one either side.
    let spread = i32::try_from(offset.unsigned_abs() / (365 * 86_400)).unwrap_or(i32::MAX - 8);
    let first = after.year().saturating_sub(spread.saturating_add(1));
    let last = after.year().saturating_add(spread.saturating_add(2));
    (first.max(base.year().saturating_add(1))..=last)
        .filter_map(|y| anniversary_in(base, y))
        .filter_map(instant)
        .find(|t| *t > after)
}

fn yesterday(d: NaiveDate) -> NaiveDate {
    d.checked_sub_days(Days::new(1)).unwrap_or(d)
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

/// One quiet-hours window: `[from, to)` in minutes of the day, read on
/// the clocks of `tz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietWindow {
    /// The zone whose clocks the window is read on.
    pub tz: Tz,
    /// Start, minutes after midnight.
    pub from: u16,
    /// End (exclusive), minutes after midnight.
    pub to: u16,
}

impl QuietWindow {
    /// Whether the local clock at `at` shows a time inside the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let minute = u16::try_from(at.with_timezone(&self.tz).hour_minute()).unwrap_or(0);
        in_window(minute, self.from, self.to)
    }

    /// The first instant after `at` (which is inside the window) whose
    /// local time is outside it: where the clock reaches `to`, or where a
    /// clock change jumps out of the window (over `to` in a gap, or back
    /// before `from` when clocks go back).
    pub fn end_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&self.tz);
        let minute = u16::try_from(local.hour_minute()).unwrap_or(0);
        let date = local.date_naive();
        let end_date = if self.from > self.to && minute >= self.from {
            date.checked_add_days(Days::new(1)).unwrap_or(date)
        } else {
            date
        };
        // With the offset in force at `at`: exact unless the clocks change
        // before the window ends, which the offset at the end tells.
        let offset = local.offset().fix().local_minus_utc();
        let naive_end = end_date.and_time(naive_time(self.to));
        let end = naive_end
            .checked_sub_signed(chrono::Duration::seconds(i64::from(offset)))
            .map(|t| t.and_utc());
        if let Some(end) = end.filter(|e| *e > at) {
            let offset_at_end = end.with_timezone(&self.tz).offset().fix().local_minus_utc();
            if offset_at_end == offset {
                return end;
            }
        }
        // Clocks change in between: walk the minutes (a DST night only).
        let mut t = next_minute(at);
        let limit = at + chrono::Duration::hours(RELEASE_HORIZON_HOURS + 24);
        while t < limit {
            if !self.contains(t) {
                return t;
            }
            t += chrono::Duration::minutes(1);
        }
        limit
    }
}

/// The next whole UTC minute strictly after `at`.
fn next_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(60) * 60 + 60;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// How far ahead a release is looked for: windows that leave no free
/// time within it (together they cover the whole day) never free a message.
pub const RELEASE_HORIZON_HOURS: i64 = 48;

/// What quiet hours do to a send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quiet {
    /// No window holds it: it goes now.
    Free,
    /// Held until then.
    Until(DateTime<Utc>),
    /// The windows leave no time free within [`RELEASE_HORIZON_HOURS`].
    NeverFree,
}

/// The first instant at or after `t` outside every window, if there is one
/// no later than `limit`: hopping from window end to window end gives the
/// first free instant, since every instant hopped over is inside the
/// window it was hopped across.
fn first_free(
    mut t: DateTime<Utc>,
    windows: &[QuietWindow],
    limit: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    while let Some(w) = windows.iter().find(|w| w.contains(t)) {
        t = w.end_after(t);
        if t > limit {
            return None;
        }
    }
    (t <= limit).then_some(t)
}

/// What quiet hours do to a send at `at`, under the `windows` that apply
/// to it. A held message leaves at the first instant at which the local
/// time is outside every window, plus a deterministic spread of
/// `spread_key % 15 min` (so that held messages do not all leave at the
/// same second); when the spread lands inside a window, the release moves
/// on to the next free instant, plus the spread again. A release is never
/// at or before `at`, and never inside a window.
pub fn quiet_release(at: DateTime<Utc>, windows: &[QuietWindow], spread_key: u64) -> Quiet {
    if !windows.iter().any(|w| w.contains(at)) {
        return Quiet::Free;
    }
    let spread =
        chrono::Duration::seconds(i64::try_from(spread_key % QUIET_SPREAD_SECONDS).unwrap_or(0));
    let limit = at + chrono::Duration::hours(RELEASE_HORIZON_HOURS);
    let mut candidate = at;
    loop {
        let Some(free) = first_free(candidate, windows, limit) else {
            return Quiet::NeverFree;
        };
        let release = free.checked_add_signed(spread).unwrap_or(free);
        if !windows.iter().any(|w| w.contains(release)) {
            return Quiet::Until(release);
        }
        candidate = release;
    }
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
            quiet_release(at, &[berlin_night()], 0),
            Quiet::Until(utc("2026-01-11T07:00:00Z"))
        );
        // The spread is the key modulo 15 minutes.
        assert_eq!(
            quiet_release(at, &[berlin_night()], 900 + 61),
            Quiet::Until(utc("2026-01-11T07:01:01Z"))
        );
        // Early morning: released the same day.
        assert_eq!(
            quiet_release(utc("2026-01-11T05:00:00Z"), &[berlin_night()], 0),
            Quiet::Until(utc("2026-01-11T07:00:00Z"))
        );
        // Outside the window: not deferred.
        assert_eq!(
            quiet_release(utc("2026-01-11T12:00:00Z"), &[berlin_night()], 0),
            Quiet::Free
        );
    }

    #[test]
    fn quiet_hours_across_dst_changes() {
        // Spring forward night 2026-03-28 -> 29: 23:00 CET = 22:00Z; 08:00 CEST = 06:00Z.
        assert_eq!(
            quiet_release(utc("2026-03-28T22:00:00Z"), &[berlin_night()], 0),
            Quiet::Until(utc("2026-03-29T06:00:00Z"))
        );
        // Fall back night 2026-10-24 -> 25: 23:00 CEST = 21:00Z; 08:00 CET = 07:00Z.
        assert_eq!(
            quiet_release(utc("2026-10-24T21:00:00Z"), &[berlin_night()], 0),
            Quiet::Until(utc("2026-10-25T07:00:00Z"))
        );
        // 20:30Z on Oct 24 is 22:30 CEST: quiet.
        assert!(quiet_release(utc("2026-10-24T20:30:00Z"), &[berlin_night()], 0) != Quiet::Free);
        // 19:30Z on Mar 28 is 20:30 CET: not quiet.
        assert!(quiet_release(utc("2026-03-28T19:30:00Z"), &[berlin_night()], 0) == Quiet::Free);
    }

    fn window(tz: Tz, from: u16, to: u16) -> QuietWindow {
        QuietWindow { tz, from, to }
    }

    /// 21:00 to 08:00 in Berlin.
    fn berlin_night() -> QuietWindow {
        window(Berlin, 21 * 60, 8 * 60)
    }

    #[test]
    fn a_release_in_the_repeated_hour_is_after_the_send() {
        // 2026-10-25 in Berlin: 03:00 CEST -> 02:00 CET. A push at 02:10 CET
        // (01:10Z, the second pass of the hour) is inside 22:00-02:30 and
        // leaves at the second 02:30 (01:30Z), never before it was sent.
        let w = [window(Berlin, 22 * 60, 2 * 60 + 30)];
        let at = utc("2026-10-25T01:10:00Z");
        assert_eq!(
            quiet_release(at, &w, 0),
            Quiet::Until(utc("2026-10-25T01:30:00Z"))
        );
        // In the first pass (00:10Z = 02:10 CEST) it leaves at the first 02:30.
        assert_eq!(
            quiet_release(utc("2026-10-25T00:10:00Z"), &w, 0),
            Quiet::Until(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_window_ending_in_a_gap_ends_when_the_clock_jumps_out_of_it() {
        // 2026-03-29 in Berlin: 02:00 CET -> 03:00 CEST; 02:30 does not
        // exist, so 22:00-02:30 ends at 03:00 CEST (01:00Z).
        let w = [window(Berlin, 22 * 60, 2 * 60 + 30)];
        assert_eq!(
            quiet_release(utc("2026-03-28T23:00:00Z"), &w, 0),
            Quiet::Until(utc("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn a_release_falls_outside_every_window() {
        // 21:00-08:00 local (Berlin) and 22:00-09:00 in New York: a send at
        // 23:00 Berlin waits for 08:00 Berlin, then for 09:00 New York.
        let w = [
            window(Berlin, 21 * 60, 8 * 60),
            window(chrono_tz::America::New_York, 22 * 60, 9 * 60),
        ];
        let expected = Quiet::Until(utc("2026-01-11T14:00:00Z"));
        assert_eq!(quiet_release(utc("2026-01-10T22:00:00Z"), &w, 0), expected);
        // The order the rules are written in does not matter.
        let reversed = [w[1], w[0]];
        assert_eq!(
            quiet_release(utc("2026-01-10T22:00:00Z"), &reversed, 0),
            expected
        );
        // A spread that lands in the next window moves on to its end.
        let w = [window(Tz::UTC, 0, 60), window(Tz::UTC, 65, 120)];
        assert_eq!(
            quiet_release(utc("2026-01-10T00:30:00Z"), &w, 10 * 60),
            Quiet::Until(utc("2026-01-10T02:10:00Z"))
        );
    }

    #[test]
    fn windows_that_cover_the_whole_day_never_free_a_message() {
        let w = [
            window(Tz::UTC, 9 * 60 + 30, 9 * 60),
            window(Tz::UTC, 9 * 60, 8 * 60),
        ];
        assert_eq!(
            quiet_release(utc("2026-01-10T12:00:00Z"), &w, 5),
            Quiet::NeverFree
        );
    }

    #[test]
    fn wait_until_finds_a_time_pushed_past_midnight_by_a_gap() {
        // America/Nuuk, 2026-03-29: clocks jump from Saturday 23:00 to
        // Sunday 00:00. Saturday 23:30 is Sunday 00:30 (01:30Z).
        let nuuk = chrono_tz::America::Nuuk;
        let sunday_0010 = utc("2026-03-29T01:10:00Z");
        let saturday_2250 = utc("2026-03-29T00:50:00Z");
        for now in [sunday_0010, saturday_2250] {
            assert_eq!(
                wait_until(now, nuuk, 23 * 60 + 30, Day::Next, now),
                utc("2026-03-29T01:30:00Z")
            );
            // `on saturday`: the same instant, not a week later.
            assert_eq!(
                wait_until(now, nuuk, 23 * 60 + 30, Day::Weekday(5), now),
                utc("2026-03-29T01:30:00Z")
            );
        }
    }

    #[test]
    fn zone_names() {
        assert_eq!(zone("Europe/Berlin"), Some(Berlin));
        assert_eq!(zone("Mars/Olympus"), None);
    }
}
