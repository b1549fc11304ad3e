//! Durations as the language writes them: `30m`, `1d12h`, `2w`.

/// Seconds per duration unit, largest first: the order units must appear in.
pub const UNITS: [(char, i64, &str); 5] = [
    ('w', 7 * 86_400, "weeks"),
    ('d', 86_400, "days"),
    ('h', 3_600, "hours"),
    ('m', 60, "minutes"),
    ('s', 1, "seconds"),
];

/// The longest duration a flow may write: ten years, more than any journey
/// needs, which keeps arithmetic on millisecond timestamps far from
/// overflow.
pub const MAX_SECONDS: i64 = 10 * 366 * 86_400;

/// Why a duration is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// A unit other than `w d h m s` (byte offset of the unit in the token).
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// Its offset in the token.
        offset: usize,
    },
    /// Units not in descending order or repeated.
    Order {
        /// How it should be written.
        canonical: String,
        /// What it adds up to.
        seconds: i64,
    },
    /// Longer than [`MAX_SECONDS`].
    TooLong {
        /// What it adds up to.
        seconds: i64,
    },
    /// Too large to count in seconds, or a unit without a number.
    Overflow,
}

/// Parses `1d12h`-style durations into seconds, as a flow must write them:
/// units in descending order, each once, at most [`MAX_SECONDS`].
pub fn parse(text: &str) -> Result<i64, DurationError> {
    let mut total: i64 = 0;
    let mut last_rank: Option<usize> = None;
    let mut in_order = true;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        let Some(rank) = UNITS
            .iter()
            .position(|(u, _, _)| unit.len() == 1 && unit.starts_with(*u))
        else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
                offset: unit_start,
            });
        };
        if last_rank.is_some_and(|last| rank <= last) {
            in_order = false;
        }
        last_rank = Some(rank);
        let n: i64 = digits.parse().map_err(|_| DurationError::Overflow)?;
        total = n
            .checked_mul(UNITS[rank].1)
            .and_then(|s| total.checked_add(s))
            .ok_or(DurationError::Overflow)?;
    }
    if !in_order {
        return Err(DurationError::Order {
            canonical: format(total),
            seconds: total,
        });
    }
    if total > MAX_SECONDS {
        return Err(DurationError::TooLong { seconds: total });
    }
    Ok(total)
}

/// Parses a duration as an event may carry it: the language's spelling, in
/// any order of units and of any length; `None` for empty or malformed
/// text.
pub fn parse_lenient(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    match parse(text) {
        Ok(seconds)
        | Err(DurationError::Order { seconds, .. })
        | Err(DurationError::TooLong { seconds }) => Some(seconds),
        Err(DurationError::UnknownUnit { .. } | DurationError::Overflow) => None,
    }
}

/// Writes seconds in the canonical form (`1d12h`, `0s` for zero, `-1h`).
pub fn format(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
    }
    let mut rest = seconds.unsigned_abs();
    for (unit, size, _) in UNITS {
        let size = size.unsigned_abs();
        if rest >= size {
            out.push_str(&(rest / size).to_string());
            out.push(unit);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_language_spelling() {
        assert_eq!(parse("30m"), Ok(1800));
        assert_eq!(parse("1d12h"), Ok(129_600));
        assert_eq!(parse("2w"), Ok(1_209_600));
        assert_eq!(
            parse("12h1d"),
            Err(DurationError::Order {
                canonical: "1d12h".into(),
                seconds: 129_600,
            })
        );
        assert!(matches!(
            parse("3mo"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse("5y"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert_eq!(parse("99999999999999999999d"), Err(DurationError::Overflow));
        assert_eq!(
            parse("3700d"),
            Err(DurationError::TooLong {
                seconds: 3700 * 86_400
            })
        );
    }

    #[test]
    fn events_may_write_units_in_any_order() {
        assert_eq!(parse_lenient("1d12h"), Some(129_600));
        assert_eq!(parse_lenient("90m"), Some(5_400));
        assert_eq!(parse_lenient("12h1d"), Some(129_600));
        assert_eq!(parse_lenient("3700d"), Some(3700 * 86_400));
        for bad in ["", "5", "h", "1hm", "1y", "99999999999999999999d"] {
            assert_eq!(parse_lenient(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(90), "1m30s");
        assert_eq!(format(36 * 3600), "1d12h");
        assert_eq!(format(14 * 86_400), "2w");
        assert_eq!(format(-3600), "-1h");
        assert!(format(i64::MIN).starts_with('-'));
    }
}
