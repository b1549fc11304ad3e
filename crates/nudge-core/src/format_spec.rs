//! The formats of interpolated values (`{event.total:.2}`,
//! `{event.total:EUR}`, `{profile.trial_ends_at:%B %-d}`): what they may
//! say, and how numbers are written with them. Times are written by
//! chrono's strftime in the profile's local zone.

use chrono::format::{Item, StrftimeItems};

/// How a number is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberFormat {
    /// Digits after the decimal point (none: as the value has them).
    pub decimals: Option<u8>,
    /// Thousands separated by commas.
    pub grouping: bool,
    /// An amount of money in this currency (an ISO 4217 code).
    pub currency: Option<Currency>,
}

/// A currency an amount is written in: its symbol before the number
/// (`$1,234.50`, `€9.99`), or its code and a space when it has no symbol
/// of its own (`CHF 12.50`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    /// The ISO 4217 code, upper case.
    pub code: [u8; 3],
}

/// Currencies written with a symbol, and those without minor units.
const SYMBOLS: &[(&str, &str)] = &[
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("CNY", "¥"),
    ("INR", "₹"),
    ("KRW", "₩"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("AUD", "A$"),
    ("NZD", "NZ$"),
    ("MXN", "MX$"),
    ("ILS", "₪"),
    ("NGN", "₦"),
    ("PHP", "₱"),
    ("VND", "₫"),
    ("UAH", "₴"),
    ("TRY", "₺"),
];
const NO_MINOR_UNITS: &[&str] = &["JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"];

impl Currency {
    /// The code as text.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Digits after the decimal point an amount usually has.
    pub fn minor_units(&self) -> u8 {
        if NO_MINOR_UNITS.contains(&self.code()) {
            0
        } else {
            2
        }
    }

    /// `amount` (a number already written) with the symbol or code.
    fn write(&self, amount: &str) -> String {
        let (sign, digits) = match amount.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", amount),
        };
        match SYMBOLS.iter().find(|(c, _)| *c == self.code()) {
            Some((_, symbol)) => format!("{sign}{symbol}{digits}"),
            None => format!("{sign}{} {digits}", self.code()),
        }
    }
}

/// A number format: `.N` (N decimals, 0 to 9), `,` (thousands separated by
/// commas), or both (`,.2`); or an amount of money: a currency code
/// (`USD`, `EUR`: thousands grouped, the currency's usual decimals),
/// optionally followed by `.N` for other decimals (`JPY.2`).
pub fn number(spec: &str) -> Result<NumberFormat, String> {
    let code = spec
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()));
    if let Some(code) = code {
        let mut bytes = [0u8; 3];
        bytes.copy_from_slice(code.as_bytes());
        let currency = Currency { code: bytes };
        let decimals = match &spec[3..] {
            "" => currency.minor_units(),
            rest => match rest.strip_prefix('.').map(str::parse::<u8>) {
                Some(Ok(n)) if n <= 9 && rest.len() == 2 => n,
                _ => return Err(format!("`{spec}` is not a number format")),
            },
        };
        return Ok(NumberFormat {
            decimals: Some(decimals),
            grouping: true,
            currency: Some(currency),
        });
    }
    let (grouping, rest) = match spec.strip_prefix(',') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let decimals = match rest {
        "" if grouping => None,
        "" => return Err("an empty format".into()),
        _ => {
            let digits = rest
                .strip_prefix('.')
                .ok_or_else(|| format!("`{spec}` is not a number format"))?;
            match digits.parse::<u8>() {
                Ok(n) if n <= 9 && digits.len() == 1 => Some(n),
                _ => return Err(format!("`{spec}` is not a number format")),
            }
        }
    };
    Ok(NumberFormat {
        decimals,
        grouping,
        currency: None,
    })
}

/// Whether `spec` is a strftime pattern chrono can write.
pub fn time(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("an empty format".into());
    }
    if StrftimeItems::new(spec).any(|i| matches!(i, Item::Error)) {
        return Err(format!("`{spec}` is not a time format"));
    }
    Ok(())
}

/// An integer written as `f` says (exactly: not through a float).
pub fn write_int(i: i64, f: NumberFormat) -> String {
    let text = match f.decimals {
        Some(0) | None => i.to_string(),
        Some(d) => format!("{i}.{}", "0".repeat(usize::from(d))),
    };
    money(group(text, f.grouping), f)
}

/// `x` written as `f` says.
pub fn write_number(x: f64, f: NumberFormat) -> String {
    let text = match f.decimals {
        Some(d) => format!("{x:.*}", usize::from(d)),
        None => format!("{x}"),
    };
    money(group(text, f.grouping), f)
}

/// `text` with the currency of `f`, if it has one.
fn money(text: String, f: NumberFormat) -> String {
    match f.currency {
        Some(c) => c.write(&text),
        None => text,
    }
}

/// `text` (a number) with its thousands separated by commas, if `grouping`.
fn group(text: String, grouping: bool) -> String {
    if !grouping {
        return text;
    }
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, fr)) => (w, Some(fr)),
        None => (unsigned, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(fr) => format!("{sign}{grouped}.{fr}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        let two = number(".2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write_number(40.0, two), "40.00");
        assert_eq!(write_number(2.675, two), "2.67");
        let grouped = number(",.2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write_number(1234567.5, grouped), "1,234,567.50");
        assert_eq!(write_number(-1234.0, grouped), "-1,234.00");
        let plain = number(",").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write_number(999.0, plain), "999");
        assert_eq!(write_number(1000.0, plain), "1,000");
        assert_eq!(
            write_number(12.0, number(".0").unwrap_or_else(|e| panic!("{e}"))),
            "12"
        );
        for bad in ["", "2", ".", ".10", ".x", "x", ",,.2"] {
            assert!(number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_of_money() {
        let f = |spec: &str| number(spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write_number(1234.5, f("USD")), "$1,234.50");
        assert_eq!(write_number(40.0, f("EUR")), "€40.00");
        assert_eq!(write_number(-9.99, f("GBP")), "-£9.99");
        assert_eq!(write_number(1234.5, f("JPY")), "¥1,234");
        assert_eq!(write_number(1234.5, f("JPY.2")), "¥1,234.50");
        assert_eq!(write_number(12.5, f("CHF")), "CHF 12.50");
        assert_eq!(write_int(1200, f("USD.0")), "$1,200");
        assert_eq!(write_int(-3, f("SEK")), "-SEK 3.00");
        for bad in ["usd", "US", "USD.", "USD.10", "USDX", "USD,"] {
            assert!(number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_are_written_exactly() {
        let plain = number(",").unwrap_or_else(|e| panic!("{e}"));
        let two = number(".2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            write_int(9_007_199_254_740_993, plain),
            "9,007,199,254,740,993"
        );
        assert_eq!(write_int(-1200, two), "-1200.00");
        assert_eq!(
            write_int(-1200, number(",.2").unwrap_or_else(|e| panic!("{e}"))),
            "-1,200.00"
        );
    }

    #[test]
    fn time_formats() {
        assert!(time("%B %-d, %Y").is_ok());
        assert!(time("%Y-%m-%d %H:%M %Z").is_ok());
        assert!(time("%Q").is_err());
        assert!(time("").is_err());
    }
}
