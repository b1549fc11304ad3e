//! Quick fixes: a diagnostic whose help says "did you mean `x`?" can be
//! fixed by writing `x` in place of the word it marks.

use nudge_syntax::{Diagnostic, SourceFile, Span};

/// One fix: replace `span` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// What is replaced.
    pub span: Span,
    /// What is written instead.
    pub text: String,
    /// What the editor shows (`replace with `pro``).
    pub title: String,
}

/// The suggestion in a help text that starts with "did you mean `x`?".
pub fn suggestion(help: &str) -> Option<&str> {
    let rest = help.strip_prefix("did you mean `")?;
    let end = rest.find("`?")?;
    Some(&rest[..end])
}

/// The fix for a diagnostic about `source`, if its help suggests one and
/// the marked text is a word, a dotted path (the last name is replaced) or
/// a quoted string standing where a name belongs.
pub fn fix(source: &SourceFile, d: &Diagnostic) -> Option<Fix> {
    let suggested = suggestion(d.help.as_deref()?)?;
    if !is_name(suggested) {
        return None;
    }
    if d.source.as_ref().map(|s| s.name()) != Some(source.name()) {
        return None;
    }
    let span = d.primary_span()?;
    let written = source.text().get(span.range())?;
    let span = if is_name(written) || is_quoted(written) {
        span
    } else {
        // `event.cart_totl`: only the last name changes.
        let (head, last) = written.rsplit_once('.')?;
        if !is_name(last) || head.is_empty() {
            return None;
        }
        Span::new(span.end as usize - last.len(), span.end as usize)
    };
    Some(Fix {
        span,
        text: suggested.to_owned(),
        title: format!("replace with `{suggested}`"),
    })
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_quoted(s: &str) -> bool {
    s.len() >= 2 && s.starts_with('"') && s.ends_with('"')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn diag(source: &Arc<SourceFile>, word: &str, help: &str) -> Diagnostic {
        let start = source.text().find(word).unwrap();
        Diagnostic::error("nudge::check::x", "x")
            .with_primary(Span::new(start, start + word.len()), "here")
            .with_help(help)
            .in_file(source)
    }

    #[test]
    fn replaces_words_paths_and_quoted_members() {
        let src = Arc::new(SourceFile::new(
            "a.flow",
            "segment s = in pai and profile.plan == \"Pro\" and event.totl > 1",
        ));
        let fix = |word, help| {
            fix(&src, &diag(&src, word, help))
                .map(|f| f.text.clone() + "@" + &src.text()[f.span.range()])
        };
        assert_eq!(
            fix("pai", "did you mean `paid`?"),
            Some("paid@pai".to_owned())
        );
        assert_eq!(
            fix(
                "\"Pro\"",
                "did you mean `pro`? enum members are written without quotes"
            ),
            Some("pro@\"Pro\"".to_owned())
        );
        assert_eq!(
            fix("event.totl", "did you mean `total`?"),
            Some("total@totl".to_owned())
        );
        assert_eq!(fix("pai", "check the bounds; did you mean `or`?"), None);
        assert_eq!(fix("pai", "did you mean `Europe/Berlin`?"), None);
    }
}
