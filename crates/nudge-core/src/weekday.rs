//! Weekdays as the language writes them (`monday` … `sunday`).

use chrono::Weekday;

/// The names, Monday first (index = days from Monday).
pub const NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The keyword for a weekday.
pub fn name(day: Weekday) -> &'static str {
    NAMES[day.num_days_from_monday() as usize]
}

/// The weekday a keyword names.
pub fn from_name(word: &str) -> Option<Weekday> {
    let index = NAMES.iter().position(|n| *n == word)?;
    Weekday::try_from(u8::try_from(index).ok()?).ok()
}

/// Days from Monday (0 for Monday), as modules store weekdays.
pub fn index(day: Weekday) -> u8 {
    match day {
        Weekday::Mon => 0,
        Weekday::Tue => 1,
        Weekday::Wed => 2,
        Weekday::Thu => 3,
        Weekday::Fri => 4,
        Weekday::Sat => 5,
        Weekday::Sun => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, n) in NAMES.iter().enumerate() {
            let day = from_name(n).map(|d| (name(d), usize::from(index(d))));
            assert_eq!(day, Some((*n, i)));
        }
        assert_eq!(from_name("Monday"), None);
    }
}
