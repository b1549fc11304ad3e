//! Local-time rules by brute force: every candidate instant is computed and
//! the earliest that fits is taken, instead of reasoning about which day or
//! offset it must be. Slow, and meant to be obviously right.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use nudge_vm::time::Day;

/// The offset (seconds east of UTC) in force at an instant.
fn offset_at(tz: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The instant at which the clocks of `tz` show `date` at `minutes`: the
/// earliest one when the time occurs twice; when it does not occur (a
/// gap), the time moved forward by the length of the gap.
pub fn instant(tz: Tz, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
    let m = u32::from(minutes.min(24 * 60 - 1));
    let wall = date.and_time(NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or(NaiveTime::MIN));
    let as_utc = wall.and_utc();
    // Every offset in force within a day of it.
    let mut offsets: Vec<i64> = (-26..=26)
        .map(|h| offset_at(tz, as_utc + chrono::Duration::hours(h)))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    let hits: Vec<DateTime<Utc>> = offsets
        .iter()
        .map(|off| as_utc - chrono::Duration::seconds(*off))
        .filter(|t| local(tz, *t) == wall)
        .collect();
    if let Some(first) = hits.iter().min() {
        return *first;
    }
    // A gap: read the wall time with the offset in force before it (the
    // instant `wall - largest offset` is before the change).
    let largest = offsets.last().copied().unwrap_or(0);
    let before = offset_at(tz, as_utc - chrono::Duration::seconds(largest));
    as_utc - chrono::Duration::seconds(before)
}

/// `wait until`: the earliest candidate strictly after `now`, over a week
/// of dates on both sides (for `on day N`, the one date).
pub fn wait_until(
    now: DateTime<Utc>,
    tz: Tz,
    minutes: u16,
    day: Day,
    entered_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let today = local(tz, now).date();
    let dates = |back: u64, ahead: u64| {
        let first = today.checked_sub_days(Days::new(back)).unwrap_or(today);
        (0..=back + ahead).filter_map(move |n| first.checked_add_days(Days::new(n)))
    };
    match day {
        Day::Next => dates(3, 3)
            .map(|d| instant(tz, d, minutes))
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now),
        Day::Date(date) => instant(tz, date, minutes),
        Day::EntryPlus(n) => {
            let entry_date = local(tz, entered_at).date();
            let date = entry_date
                .checked_add_days(Days::new(u64::from(n)))
                .unwrap_or(today);
            instant(tz, date, minutes)
        }
        Day::Weekday(w) => dates(3, 10)
            .filter(|d| d.weekday().num_days_from_monday() == u32::from(w))
            .map(|d| instant(tz, d, minutes))
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now),
    }
}

/// One quiet-hours window on the clocks of a zone.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// The zone.
    pub tz: Tz,
    /// Start, minutes of the day.
    pub from: u16,
    /// End (exclusive), minutes of the day.
    pub to: u16,
}

impl Window {
    /// Whether the local clock at `t` shows a minute inside `[from, to)`
    /// (wrapping midnight when `to < from`).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let l = local(self.tz, t);
        let minute = (l.time().hour_of_day() * 60 + l.time().minute_of_hour()) as u16;
        if self.from <= self.to {
            self.from <= minute && minute < self.to
        } else {
            minute >= self.from || minute < self.to
        }
    }
}

trait Clock {
    fn hour_of_day(&self) -> u32;
    fn minute_of_hour(&self) -> u32;
}

impl Clock for NaiveTime {
    fn hour_of_day(&self) -> u32 {
        chrono::Timelike::hour(self)
    }
    fn minute_of_hour(&self) -> u32 {
        chrono::Timelike::minute(self)
    }
}

/// The first instant at or after `t` outside every window, if there is one
/// by `limit`, walking whole minutes (the local minute changes only on
/// whole UTC minutes).
fn first_free(t: DateTime<Utc>, windows: &[Window], limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !windows.iter().any(|w| w.contains(t)) {
        return (t <= limit).then_some(t);
    }
    let mut s = DateTime::from_timestamp(t.timestamp().div_euclid(60) * 60 + 60, 0)?;
    while s <= limit {
        if !windows.iter().any(|w| w.contains(s)) {
            return Some(s);
        }
        s += chrono::Duration::minutes(1);
    }
    None
}

/// What quiet hours do to a send at `at`: `None` when no window holds it;
/// `Some(None)` when no instant within 48 hours is free; else the first
/// instant outside every window plus the spread (`spread_key` modulo 15
/// minutes), moving on again while that lands inside a window.
pub fn quiet_release(
    at: DateTime<Utc>,
    windows: &[Window],
    spread_key: u64,
) -> Option<Option<DateTime<Utc>>> {
    if !windows.iter().any(|w| w.contains(at)) {
        return None;
    }
    let spread = chrono::Duration::seconds((spread_key % (15 * 60)) as i64);
    let limit = at + chrono::Duration::hours(48);
    let mut candidate = at;
    loop {
        let Some(free) = first_free(candidate, windows, limit) else {
            return Some(None);
        };
        let release = free + spread;
        if !windows.iter().any(|w| w.contains(release)) {
            return Some(Some(release));
        }
        candidate = release;
    }
}

/// A date trigger's next instant strictly after `after`, by listing every
/// candidate (each year's, for an anniversary) and taking the earliest.
pub fn date_occurrence(
    value: DateTime<Utc>,
    offset: i64,
    yearly: bool,
    at: Option<(u16, Tz)>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // With `at`, the day moves by whole days (rounded down).
    let days = chrono::Duration::days(offset.div_euclid(86_400));
    let candidate = |date: NaiveDate| -> Option<DateTime<Utc>> {
        match at {
            Some((minutes, tz)) => Some(instant(tz, date.checked_add_signed(days)?, minutes)),
            None => date
                .and_time(value.time())
                .and_utc()
                .checked_add_signed(chrono::Duration::seconds(offset)),
        }
    };
    let dates: Vec<NaiveDate> = if yearly {
        let base = value.date_naive();
        let years = offset.unsigned_abs() / (365 * 86_400) + 3;
        let last = after.year() + i32::try_from(years).ok()?;
        (base.year() + 1..=last)
            .filter_map(|y| {
                let leap_day = base.month() == 2 && base.day() == 29;
                let is_leap = NaiveDate::from_ymd_opt(y, 2, 29).is_some();
                let day = if leap_day && !is_leap { 28 } else { base.day() };
                NaiveDate::from_ymd_opt(y, base.month(), day)
            })
            .collect()
    } else {
        vec![match at {
            Some((_, tz)) => local(tz, value).date(),
            None => value.date_naive(),
        }]
    };
    dates
        .into_iter()
        .filter_map(candidate)
        .filter(|t| *t > after)
        .min()
}
