//! The engine's local-time rules against the model's brute-force ones, at
//! random instants around every clock change of 2026 in zones with unusual
//! rules: `wait until` (next, weekday, `on day N`) and quiet-hours
//! releases with one or two windows.
//!
//! `NUDGE_CALENDAR_CASES` sets the number of cases (default 60 000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gen;

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use nudge_reference::calendar;
use nudge_vm::time::{self, Day, Quiet, QuietWindow};

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/Nuuk",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "America/Santiago",
    "America/New_York",
    "Asia/Gaza",
    "Africa/Casablanca",
    "America/Havana",
    "Pacific/Apia",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        gen::splitmix(&mut self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn offset(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instants of 2026 (and early 2027) where the zone's offset changes.
fn changes(tz: Tz) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap();
    let mut last = offset(tz, t);
    while t < end {
        let next = t + Duration::minutes(15);
        let o = offset(tz, next);
        if o != last {
            out.push(next);
            last = o;
        }
        t = next;
    }
    out
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn minutes_of_day(r: &mut Rng, around: Option<u16>) -> u16 {
    match around {
        // Near the local time of the change, where the rules bite.
        Some(m) if r.below(2) == 0 => {
            (i32::from(m) + r.below(181) as i32 - 90).rem_euclid(1440) as u16
        }
        _ => r.below(1440) as u16,
    }
}

#[test]
fn local_time_rules_agree_with_brute_force() {
    let cases = env_number("NUDGE_CALENDAR_CASES", 60_000);
    let zones: Vec<(Tz, Vec<DateTime<Utc>>)> = ZONES
        .iter()
        .map(|z| {
            let tz: Tz = z.parse().unwrap();
            (tz, changes(tz))
        })
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let mut r = Rng(env_number("NUDGE_CALENDAR_SEED", 0));
    let mut held = 0;
    for case in 0..cases {
        let (tz, changes) = &zones[r.below(zones.len() as u64) as usize];
        let change = changes[r.below(changes.len() as u64) as usize];
        // Within a day and a half of the change, or (half the time) within
        // three hours of it.
        let spread = if r.below(2) == 0 { 3 } else { 36 };
        let now =
            change + Duration::seconds(r.below(2 * spread * 3600) as i64 - spread as i64 * 3600);
        let now = if r.below(3) == 0 {
            // Whole minutes are where ties live.
            DateTime::from_timestamp(now.timestamp() / 60 * 60, 0).unwrap()
        } else {
            now
        };
        let local_change = {
            let l = (change - Duration::minutes(1)).with_timezone(tz);
            Some((chrono::Timelike::hour(&l) * 60 + chrono::Timelike::minute(&l) + 1) as u16)
        };
        let minutes = minutes_of_day(&mut r, local_change);
        let entered = now - Duration::seconds(r.below(3 * 86_400) as i64);
        let day = match r.below(3) {
            0 => Day::Next,
            // Often the weekday of the change: a gap crossing midnight
            // moves that day's time into the next.
            1 if r.below(2) == 0 => Day::Weekday(
                chrono::Datelike::weekday(&(change - Duration::minutes(1)).with_timezone(tz))
                    .num_days_from_monday() as u8,
            ),
            1 => Day::Weekday(r.below(7) as u8),
            _ => Day::EntryPlus(r.below(4) as u16),
        };
        let fast = time::wait_until(now, *tz, minutes, day, entered);
        let model = calendar::wait_until(now, *tz, minutes, day, entered);
        assert_eq!(
            fast, model,
            "case {case}: wait until {minutes} min {day:?} in {tz} at {now} (entered {entered})"
        );
        if !matches!(day, Day::EntryPlus(_)) {
            assert!(fast > now, "case {case}: not after now");
        }

        let n = 1 + r.below(2) as usize;
        let windows: Vec<(Tz, u16, u16)> = (0..n)
            .map(|i| {
                let zone = if i == 0 || r.below(2) == 0 {
                    *tz
                } else {
                    zones[r.below(zones.len() as u64) as usize].0
                };
                let from = minutes_of_day(&mut r, local_change);
                let mut to = minutes_of_day(&mut r, local_change);
                if to == from {
                    to = (to + 60) % 1440;
                }
                (zone, from, to)
            })
            .collect();
        let key = r.next();
        let fast_windows: Vec<QuietWindow> = windows
            .iter()
            .map(|&(tz, from, to)| QuietWindow { tz, from, to })
            .collect();
        let model_windows: Vec<calendar::Window> = windows
            .iter()
            .map(|&(tz, from, to)| calendar::Window { tz, from, to })
            .collect();
        let fast = time::quiet_release(now, &fast_windows, key);
        let model = match calendar::quiet_release(now, &model_windows, key) {
            None => Quiet::Free,
            Some(None) => Quiet::NeverFree,
            Some(Some(t)) => Quiet::Until(t),
        };
        assert_eq!(
            fast, model,
            "case {case}: quiet hours {windows:?} at {now} (key {key})"
        );
        if let Quiet::Until(t) = fast {
            held += 1;
            assert!(t > now, "case {case}: released before it was sent");
            assert!(
                fast_windows.iter().all(|w| !w.contains(t)),
                "case {case}: released inside a window"
            );
        }
    }
    println!("{cases} cases agreed ({held} held by quiet hours)");
}
