//! A cheap scan of a file that the grammar does not keep: comments (for doc
//! comments, the formatter and the language server) and nesting: brackets
//! and runs of prefix `not` (rejected past [`MAX_NESTING`] before any
//! recursive pass can overflow the stack).
//!
//! The scan understands strings, escapes and `{…}` interpolations holding
//! nested strings, so `"http://x"` is not a comment and `"{"` is not nesting.

use crate::span::Span;

/// How deep brackets may nest. Far beyond any real flow; small enough for
/// every recursive pass (parser, checker, formatter) on a 2 MiB thread stack.
pub const MAX_NESTING: usize = 128;

/// A `//` or `///` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// From `//` to the end of the line (line break excluded).
    pub span: Span,
    /// `///` (but not `////`).
    pub doc: bool,
}

/// What the scan found.
#[derive(Clone, Debug, Default)]
pub struct Trivia {
    /// Every comment, in order.
    pub comments: Vec<Comment>,
    /// The first bracket (or `not`) that nests past [`MAX_NESTING`], if any.
    pub too_deep: Option<Span>,
}

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    /// `(`, `[` or `{` in code.
    Bracket,
    /// Inside `"…"`.
    String,
    /// Inside `{…}` within a string.
    Interp,
}

/// Scans `text` for comments and nesting depth.
pub fn scan(text: &str) -> Trivia {
    let bytes = text.as_bytes();
    let mut trivia = Trivia::default();
    let mut stack: Vec<Frame> = Vec::new();
    // `not not … x` nests like brackets: count the current run of `not`s.
    let mut nots = 0;
    // How many frames on the stack are brackets or interpolations (not
    // strings), kept as the stack changes so that a deep file scans in
    // linear time.
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let in_string = stack.last() == Some(&Frame::String);
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'\n' => {
                    // Unterminated string: the parser reports it; resume in code.
                    stack.pop();
                }
                b'{' if bytes.get(i + 1) == Some(&b'{') => i += 1,
                b'}' if bytes.get(i + 1) == Some(&b'}') => i += 1,
                b'{' => {
                    stack.push(Frame::Interp);
                    depth += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        if is_not_keyword(bytes, i) {
            nots += 1;
            if depth + nots > MAX_NESTING && trivia.too_deep.is_none() {
                trivia.too_deep = Some(Span::new(i, i + 3));
            }
            i += 3;
            continue;
        }
        if bytes[i..].starts_with("\u{feff}".as_bytes()) {
            // Whitespace to the grammar: a run of `not`s goes on across it.
            i += 3;
            continue;
        }
        if !b.is_ascii_whitespace() {
            nots = 0;
        }
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                // A comment ends before the `\r` of a `\r\n` line end, as
                // its text does (the formatter looks comments up by their
                // end).
                let end = if text[..end].ends_with('\r') && end > i + 2 {
                    end - 1
                } else {
                    end
                };
                let doc = text[i..].starts_with("///") && !text[i..].starts_with("////");
                trivia.comments.push(Comment {
                    span: Span::new(i, end),
                    doc,
                });
                i = end;
                continue;
            }
            b'"' => stack.push(Frame::String),
            b'(' | b'[' | b'{' => {
                stack.push(Frame::Bracket);
                depth += 1;
                if depth > MAX_NESTING && trivia.too_deep.is_none() {
                    trivia.too_deep = Some(Span::new(i, i + 1));
                }
            }
            b')' | b']' | b'}' => {
                let closes = match stack.last() {
                    Some(Frame::Interp) => b == b'}',
                    Some(Frame::Bracket) => true,
                    _ => false,
                };
                if closes {
                    stack.pop();
                    depth -= 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    trivia
}

/// Whether the word `not` starts at `i`.
fn is_not_keyword(bytes: &[u8], i: usize) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    bytes[i..].starts_with(b"not")
        && !bytes.get(i + 3).is_some_and(word)
        && !(i > 0 && bytes.get(i - 1).is_some_and(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let text = "a // one\n/// doc\n\"http://x {p ?? \"//\"}\" //// four\n";
        let t = scan(text);
        let found: Vec<(&str, bool)> = t
            .comments
            .iter()
            .map(|c| (&text[c.span.range()], c.doc))
            .collect();
        assert_eq!(
            found,
            vec![("// one", false), ("/// doc", true), ("//// four", false)]
        );
        assert!(t.too_deep.is_none());
    }

    #[test]
    fn reports_deep_nesting() {
        let text = "(".repeat(MAX_NESTING + 5);
        let t = scan(&text);
        assert_eq!(t.too_deep, Some(Span::new(MAX_NESTING, MAX_NESTING + 1)));
        let ok = "(".repeat(MAX_NESTING);
        assert!(scan(&ok).too_deep.is_none());
    }

    #[test]
    fn counts_runs_of_not_as_nesting() {
        let deep = format!("x = {}y", "not ".repeat(MAX_NESTING + 1));
        let at = 4 + 4 * MAX_NESTING;
        assert_eq!(scan(&deep).too_deep, Some(Span::new(at, at + 3)));
        let ok = format!("x = ({}y)", "not ".repeat(MAX_NESTING - 1));
        assert!(scan(&ok).too_deep.is_none());
        // Words that merely contain `not`, and `not` that does not nest.
        let words = "note nothing knot not_x x.not is not none did not enter ".repeat(200);
        assert!(scan(&words).too_deep.is_none());
    }
}
