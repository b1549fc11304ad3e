//! Escapes in string literals. (Durations, times of day and percentages,
//! which the grammar accepts a little more loosely than is valid so that
//! their errors can explain the mistake, are read by `nudge_core`.)

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
    fn escapes_round_trip() {
        let text = "a \"b\" {c} \\ \n";
        let escaped = escape(text);
        assert_eq!(escaped, "a \\\"b\\\" {{c}} \\\\ \\n");
    }
}
