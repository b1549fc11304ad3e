//! Formats of the string types: what an `email`, `phone`, `url` or
//! `timezone` literal must look like.

use std::str::FromStr;

use crate::suggest;
use crate::types::Type;

/// Why a literal does not fit its format, and how to fix it.
pub(crate) struct FormatError {
    pub message: String,
    pub help: String,
    pub timezone: bool,
}

/// Checks a literal against the format of `ty` (no-op for other types).
pub(crate) fn validate(ty: &Type, text: &str) -> Result<(), FormatError> {
    match ty {
        Type::Email if !is_email(text) => Err(FormatError {
            message: format!("`{text}` is not an email address"),
            help: "write an address such as `ada@example.com`".to_owned(),
            timezone: false,
        }),
        Type::Phone if !is_phone(text) => Err(FormatError {
            message: format!("`{text}` is not a phone number in international form"),
            help:
                "write the number in E.164 form: `+` and 8 to 15 digits, such as `+4915112345678`"
                    .to_owned(),
            timezone: false,
        }),
        Type::Url if !is_url(text) => Err(FormatError {
            message: format!("`{text}` is not an `http` or `https` address"),
            help: "write a full address such as `https://example.com/path`".to_owned(),
            timezone: false,
        }),
        Type::Timezone => timezone(text),
        _ => Ok(()),
    }
}

/// Checks an IANA time zone name.
pub(crate) fn timezone(text: &str) -> Result<(), FormatError> {
    if chrono_tz::Tz::from_str(text).is_ok() {
        return Ok(());
    }
    let help = match suggest::closest(text, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            "use an IANA zone name such as `Europe/Berlin`, `America/New_York` or `UTC`".to_owned()
        }
    };
    Err(FormatError {
        message: format!("unknown time zone `{text}`"),
        help,
        timezone: true,
    })
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

fn is_phone(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_email("a@example.com"));
        assert!(!is_email("a@example"));
        assert!(!is_email("example.com"));
        assert!(is_phone("+4915112345678"));
        assert!(!is_phone("015112345678"));
        assert!(is_url("https://x.io/a"));
        assert!(!is_url("x.io"));
        assert!(timezone("Europe/Berlin").is_ok());
        let e = timezone("Europe/Berln").err().unwrap();
        assert_eq!(e.help, "did you mean `Europe/Berlin`?");
    }
}
