//! Times of day as the language writes them: `09:00`, in minutes after
//! midnight.

/// Why a time of day is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeOfDayError {
    /// `9:00`: the hour needs two digits.
    OneDigitHour,
    /// Hour above 23 or minute above 59, or not `HH:MM` at all.
    OutOfRange,
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse(text: &str) -> Result<u16, TimeOfDayError> {
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
pub fn format(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(parse("09:00"), Ok(540));
        assert_eq!(parse("9:00"), Err(TimeOfDayError::OneDigitHour));
        assert_eq!(parse("24:00"), Err(TimeOfDayError::OutOfRange));
        assert_eq!(format(540), "09:00");
        assert_eq!(format(23 * 60 + 59), "23:59");
    }
}
