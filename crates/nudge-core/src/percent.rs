//! Split percentages (`50%`, `12.5%`), in hundredths of a percent, and
//! the names of split arms.

/// The name of the arm at `index` of a split that does not name it: `a`,
/// `b`, … `z`, then `arm27`, `arm28`, ….
pub fn default_arm_name(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'a' + i).to_string(),
        _ => format!("arm{}", index + 1),
    }
}

/// Parses `50%` or `12.5%` into hundredths of a percent; `None` when more
/// than two decimals are given.
pub fn parse(text: &str) -> Option<u32> {
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
pub fn format(basis_points: u32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(parse("50%"), Some(5000));
        assert_eq!(parse("12.5%"), Some(1250));
        assert_eq!(parse("0.01%"), Some(1));
        assert_eq!(parse("1.001%"), None);
        assert_eq!(format(1250), "12.5%");
        assert_eq!(format(1), "0.01%");
        assert_eq!(format(5000), "50%");
    }
}
