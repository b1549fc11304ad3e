//! Decoding of literal tokens. The grammar accepts a little more than is
//! valid (`12h1d`, `9:00`, `24:00`) so that these functions can explain the
//! mistake instead of the parser saying "expected …".

/// Seconds per duration unit, largest first: the order units must appear in.
pub const DURATION_UNITS: [(char, i64, &str); 5] = [
    ('w', 7 * 86_400, "weeks"),
    ('d', 86_400, "days"),
    ('h', 3_600, "hours"),
    ('m', 60, "minutes"),
    ('s', 1, "seconds"),
];

/// Why a duration literal is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// A unit other than `w d h m s` (byte offset of the unit in the token).
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// Its offset in the token.
        offset: usize,
    },
    /// Units not in descending order or repeated; carries the canonical spelling.
    Order {
        /// How it should be written.
        canonical: String,
    },
    /// Too large.
    Overflow,
}

/// Parses `1d12h`-style durations into seconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
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
        let Some(rank) = DURATION_UNITS
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
            .checked_mul(DURATION_UNITS[rank].1)
            .and_then(|s| total.checked_add(s))
            .ok_or(DurationError::Overflow)?;
    }
    if !in_order {
        return Err(DurationError::Order {
            canonical: format_duration(total),
        });
    }
    // Ten years is more than any journey needs and keeps arithmetic on
    // millisecond timestamps far from overflow.
    if total > 10 * 366 * 86_400 {
        return Err(DurationError::Overflow);
    }
    Ok(total)
}

/// Writes seconds in the canonical form (`1d12h`, `0s` for zero).
pub fn format_duration(mut seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
        seconds = -seconds;
    }
    for (unit, size, _) in DURATION_UNITS {
        if seconds >= size {
            out.push_str(&(seconds / size).to_string());
            out.push(unit);
            seconds %= size;
        }
    }
    out
}

/// Why a time of day is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeOfDayError {
    /// `9:00`: the hour needs two digits.
    OneDigitHour,
    /// Hour above 23 or minute above 59.
    OutOfRange,
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_time_of_day(text: &str) -> Result<u16, TimeOfDayError> {
    let (h, m) = text.split_once(':').ok_or(TimeOfDayError::OutOfRange)?;
    if h.len() != 2 {
        return Err(TimeOfDayError::OneDigitHour);
    }
    let h: u16 = h.parse().map_err(|_| TimeOfDayError::OutOfRange)?;
    let m: u16 = m.parse().map_err(|_| TimeOfDayError::OutOfRange)?;
    if h > 23 || m > 59 {
        return Err(TimeOfDayError::OutOfRange);
    }
    Ok(h * 60 + m)
}

/// Writes minutes after midnight as `HH:MM`.
pub fn format_time_of_day(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses `50%` or `12.5%` into hundredths of a percent; `None` when more
/// than two decimals are given.
pub fn parse_percent(text: &str) -> Option<u32> {
    let number = text.strip_suffix('%')?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.len() > 2 {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let mut frac_value: u32 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        frac_value *= 10;
    }
    whole.checked_mul(100)?.checked_add(frac_value)
}

/// Writes hundredths of a percent as `50%` / `12.5%`.
pub fn format_percent(basis_points: u32) -> String {
    let whole = basis_points / 100;
    let frac = basis_points % 100;
    if frac == 0 {
        format!("{whole}%")
    } else if frac % 10 == 0 {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

/// Decodes one escape sequence (without the backslash).
pub fn unescape(escape: &str) -> Option<char> {
    Some(match escape {
        "\"" => '"',
        "\\" => '\\',
        "n" => '\n',
        "t" => '\t',
        "r" => '\r',
        "{" => '{',
        "}" => '}',
        _ => {
            let hex = escape.strip_prefix("u{")?.strip_suffix('}')?;
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
        }
    })
}

/// Writes text as the inside of a string literal: quotes, backslashes,
/// control characters and braces escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert_eq!(
            parse_duration("12h1d"),
            Err(DurationError::Order {
                canonical: "1d12h".into()
            })
        );
        assert!(matches!(
            parse_duration("3mo"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("5y"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::Overflow)
        );
        assert_eq!(format_duration(129_600), "1d12h");
    }

    #[test]
    fn times_and_percents() {
        assert_eq!(parse_time_of_day("09:00"), Ok(540));
        assert_eq!(parse_time_of_day("9:00"), Err(TimeOfDayError::OneDigitHour));
        assert_eq!(parse_time_of_day("24:00"), Err(TimeOfDayError::OutOfRange));
        assert_eq!(parse_percent("50%"), Some(5000));
        assert_eq!(parse_percent("12.5%"), Some(1250));
        assert_eq!(parse_percent("0.01%"), Some(1));
        assert_eq!(parse_percent("1.001%"), None);
        assert_eq!(format_percent(1250), "12.5%");
        assert_eq!(format_percent(1), "0.01%");
    }

    #[test]
    fn escapes_round_trip() {
        let text = "a \"b\" {c} \\ \n";
        let escaped = escape(text);
        assert_eq!(escaped, "a \\\"b\\\" {{c}} \\\\ \\n");
    }
}
