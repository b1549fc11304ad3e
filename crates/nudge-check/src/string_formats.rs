//! Formats of the string types: what an `email`, `phone`, `url` or
//! `timezone` literal must look like.

use std::str::FromStr;

use nudge_syntax::{Diagnostic, Span};

use crate::messages;
use crate::suggest;
use crate::types::Type;

/// Why a literal does not fit the format of its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatError {
    /// Not an email address.
    Email,
    /// Not a phone number in E.164 form.
    Phone,
    /// Not an `http` or `https` address.
    Url,
    /// Not an IANA time zone.
    Timezone(UnknownTimezone),
}

impl FormatError {
    /// The diagnostic for the literal `text` at `span`.
    pub(crate) fn diagnostic(self, span: Span, text: &str) -> Diagnostic {
        match self {
            FormatError::Email => messages::invalid_email(span, text),
            FormatError::Phone => messages::invalid_phone(span, text),
            FormatError::Url => messages::invalid_url(span, text),
            FormatError::Timezone(e) => {
                messages::unknown_timezone_literal(span, text, e.suggestion)
            }
        }
    }
}

/// A name that is not an IANA time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnknownTimezone {
    /// The closest zone name, if one is close.
    pub suggestion: Option<&'static str>,
}

/// Checks a literal against the format of `ty` (no-op for other types).
pub(crate) fn validate(ty: &Type, text: &str) -> Result<(), FormatError> {
    match ty {
        Type::Email if !is_email(text) => Err(FormatError::Email),
        Type::Phone if !is_phone(text) => Err(FormatError::Phone),
        Type::Url if !is_url(text) => Err(FormatError::Url),
        Type::Timezone => timezone(text).map_err(FormatError::Timezone),
        _ => Ok(()),
    }
}

/// Checks an IANA time zone name.
pub(crate) fn timezone(text: &str) -> Result<(), UnknownTimezone> {
    if chrono_tz::Tz::from_str(text).is_ok() {
        return Ok(());
    }
    Err(UnknownTimezone {
        suggestion: suggest::closest(text, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())),
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
        assert_eq!(e.suggestion, Some("Europe/Berlin"));
    }
}
