//! Turns pest errors into diagnostics in the user's words: "expected a
//! duration such as `6h`, found `soon`", never a rule name.
//!
//! How a message is built:
//!
//! 1. Where: pest's own error names the rules it tried at the farthest rule
//!    position; a second parse of the failing piece with pest's token
//!    tracking on also knows the literal tokens (`:`, `}`, `within`) and can
//!    reach farther. The farther of the two wins, unless it lies inside the
//!    token pest points at (`3mo`, `50:`).
//! 2. Special cases, each with its own message and help: strings and escapes,
//!    clauses after statements, bad durations, operators from other
//!    languages, `where` filters joined with `and`, `else` without `if`,
//!    unclosed brackets (located by indentation), objects left open before
//!    the next statement, `;`, `ago` before its duration, fractions for
//!    counts, non-ASCII names.
//! 3. Otherwise "expected …, found …", with the rules described in words,
//!    long alternatives grouped ("a statement such as `send` or `wait`"), and
//!    help where a fix is likely: a keyword a typo away, a missing `within`
//!    or `per`, `1 day` for `1d`, `9pm` for `21:00`, a reserved word as a
//!    name, braces for a block. When the unexpected token starts a later
//!    line, the label sits on the last token before it, where the missing
//!    piece belongs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use pest::error::{Error, ErrorVariant, InputLocation};
use pest::Parser as _;

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::grammar::{FlowParser, R};
use crate::source::SourceFile;
use crate::span::Span;

/// pest records which tokens it tried only while a global switch is on,
/// which slows every parse; it is turned on just to re-parse a failed piece,
/// under this lock so that concurrent re-parses always see it on.
static DETAIL: Mutex<()> = Mutex::new(());

/// Tokens worth naming; whitespace, comments, quotes and signs are not.
const PUNCTUATION: [&str; 12] = ["{", "}", "(", ")", "[", "]", ":", ",", "=", "?", "%", "."];

/// What pest tried at the farthest point it reached, with its token
/// tracking on.
struct Attempts {
    /// Where, in the piece.
    max_position: usize,
    /// The literal tokens tried there.
    tokens: Vec<String>,
}

/// Re-parses `piece` with pest's token tracking on: literal tokens (`}`,
/// `:`, `within`, …) are not rules, so the plain error does not name them
/// and stops short of the farthest point reached.
fn attempts(rule: R, piece: &str) -> Option<Attempts> {
    let _guard = DETAIL.lock();
    pest::set_error_detail(true);
    let result = FlowParser::parse(rule, piece);
    pest::set_error_detail(false);
    let error = result.err()?;
    let attempts = error.parse_attempts()?;
    Some(Attempts {
        max_position: attempts.max_position,
        // `ParsingToken` is not exported; its text is.
        tokens: attempts
            .expected_tokens()
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

/// What a literal token tried by the grammar is, in the user's words.
fn describe_token(token: &str) -> Option<&'static str> {
    Some(match token {
        "\"" => "a string",
        "0..9" => "a number",
        "a..z" | "A..Z" | "_" => "a name",
        "email" | "push" | "sms" | "in_app" | "webhook" => {
            "a channel (`email`, `push`, `sms`, `in_app` or `webhook`)"
        }
        "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday" => {
            "a weekday such as `monday`"
        }
        "transactional" | "marketing" => "`transactional` or `marketing`",
        "message" | "messages" => "`message`",
        "==" | "!=" | "<" | "<=" | ">" | ">=" => "a comparison such as `==`",
        "true" | "false" => "`true` or `false`",
        _ => return None,
    })
}

/// A diagnostic for a pest error in `piece`, which starts at byte `offset`
/// of `source`.
pub(crate) fn syntax_error(
    source: &Arc<SourceFile>,
    piece: &str,
    offset: usize,
    error: &Error<R>,
) -> Diagnostic {
    syntax_error_in(R::file, source, piece, offset, error)
}

/// A diagnostic for a pest error in `piece` parsed as `rule`.
pub(crate) fn syntax_error_in(
    rule: R,
    source: &Arc<SourceFile>,
    piece: &str,
    offset: usize,
    error: &Error<R>,
) -> Diagnostic {
    let pest_pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let text = source.text();
    let positives: Vec<R> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };

    // Where the error is: pest's own position names rules; the detailed
    // re-parse may have got farther on a literal token such as `:`.
    let pest_token_end = pest_pos + found_at(piece, pest_pos).1;
    let detail = attempts(rule, piece);
    let mut expected: BTreeSet<&'static str> = BTreeSet::new();
    let mut punctuation: BTreeSet<String> = BTreeSet::new();
    let pos = match &detail {
        Some(a) if a.max_position > pest_token_end.max(pest_pos) => {
            collect_tokens(&a.tokens, &mut expected, &mut punctuation);
            a.max_position
        }
        _ => {
            expected.extend(positives.iter().filter_map(|r| describe(*r)));
            if let Some(a) = detail.as_ref().filter(|a| a.max_position == pest_pos) {
                collect_tokens(&a.tokens, &mut expected, &mut punctuation);
            }
            pest_pos
        }
    };
    let abs = offset + pos;

    for at in [offset + pest_pos, abs] {
        if let Some(open) = open_string_before(text, at) {
            let line_end = text[open..].find('\n').map_or(text.len(), |n| open + n);
            let line_end = if text[..line_end].ends_with('\r') {
                line_end - 1
            } else {
                line_end
            };
            return Diagnostic::error(codes::parse::UNTERMINATED_STRING, "unterminated string")
                .with_primary(Span::new(open, line_end), "this string is not closed on its line")
                .with_help("close it with `\"`; write `\\\"` for a quote inside a string and `\\n` for a line break")
                .in_file(source);
        }
        if let Some(d) = bad_escape(source, at) {
            return d;
        }
    }

    let found = found_at(text, abs);
    let found_span = Span::new(abs, abs + found.1);

    if let Some(d) = clause_after_statement(source, text, abs, &positives) {
        return d;
    }
    if let Some(d) = bad_duration(source, text, abs, &expected) {
        return d;
    }
    if let Some(d) = non_ascii_name(source, text, abs) {
        return d;
    }
    let ctx = Context {
        source,
        text,
        piece_start: offset,
        pos: abs,
        found: &found.0,
        found_span,
        expected: &expected,
        punctuation: &punctuation,
    };
    if let Some(d) = foreign_operator(&ctx) {
        return d;
    }
    if let Some(d) = filter_with_and(&ctx) {
        return d;
    }
    if let Some(d) = else_without_if(&ctx) {
        return d;
    }
    if let Some(d) = unclosed(&ctx) {
        return d;
    }
    if let Some(d) = object_not_closed(&ctx) {
        return d;
    }
    if let Some(d) = semicolon(&ctx) {
        return d;
    }
    if let Some(d) = ago_first(&ctx) {
        return d;
    }
    if let Some(d) = fraction_for_count(&ctx) {
        return d;
    }
    let help = help_for(&ctx, &positives);

    group(&mut expected);
    if expected.contains("an expression") {
        // `(` and `[` start expressions; naming them again adds nothing.
        punctuation.remove("`(`");
        punctuation.remove("`[`");
    }
    if expected.contains("the end of the file")
        && expected.iter().any(|e| e.starts_with("a declaration"))
    {
        expected.remove("the end of the file");
    }
    let literals = [
        "a duration such as `6h`",
        "a time of day such as `09:00`",
        "a timestamp such as `2026-03-01T10:00:00Z`",
        "a percentage such as `50%`",
        "a time offset such as `+30m`",
        "a whole number",
        "an expression",
    ];
    if expected.contains("a field name") {
        expected.remove("a name");
    }
    // Right after a word, letters and digits would only continue it.
    if text[..abs].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        expected.remove("a number");
        if expected.len() > 1 {
            expected.remove("a name");
        }
    }
    if literals.iter().any(|l| expected.contains(l)) {
        expected.remove("a number");
    }
    let before = previous_token(text, abs).map(|p| &text[p.range()]);
    if matches!(before, Some("on" | "did" | "does" | "for" | "until")) && expected.remove("a name")
    {
        expected.insert("an event name");
    }
    if found.0 == "`}`" && expected.iter().any(|e| e.starts_with("a declaration")) {
        return Diagnostic::error(codes::parse::UNEXPECTED, "unexpected `}`")
            .with_primary(found_span, "nothing is open here")
            .with_help("remove this `}`, or look for a missing `{` above")
            .in_file(source);
    }
    if before == Some("expect") {
        expected.clear();
        punctuation.clear();
        expected.insert(
            "a message such as `1 email`, or a journey such as `\"u1\" entered onboarding`",
        );
    }
    let list = join_or(&ordered(&expected, &punctuation));
    let message = if list.is_empty() {
        format!("unexpected {}", found.0)
    } else {
        format!("expected {list}, found {}", found.0)
    };
    let (span, label) = label_for(text, abs, found_span, &list, &found.0);
    let mut d = Diagnostic::error(codes::parse::UNEXPECTED, message)
        .with_primary(span, label)
        .in_file(source);
    d.help = help;
    d
}

/// Sorts what was expected: punctuation and keywords first, then kinds of
/// things, each set without duplicates.
fn ordered(expected: &BTreeSet<&'static str>, punctuation: &BTreeSet<String>) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !items.iter().any(|i| i == s) {
            items.push(s.to_owned());
        }
    };
    for p in punctuation {
        push(p);
    }
    for e in expected.iter().filter(|e| e.starts_with('`')) {
        push(e);
    }
    for e in expected.iter().filter(|e| !e.starts_with('`')) {
        push(e);
    }
    items
}

/// The primary span and its label: on the unexpected token, or right after
/// the previous token when the unexpected one is on a later line (or is the
/// end of the file), where the missing piece belongs.
fn label_for(text: &str, pos: usize, found_span: Span, list: &str, found: &str) -> (Span, String) {
    let short = !list.contains(", or ") || list.len() <= 56;
    if let Some(prev) = previous_token(text, pos) {
        let boundary = matches!(&text[prev.range()], "{" | "}" | ",");
        if (text[prev.end as usize..pos].contains('\n') && !boundary) || pos >= text.len() {
            let label = if list.is_empty() {
                "nothing may follow this".to_owned()
            } else if short {
                format!("expected {list} after this")
            } else {
                "expected more after this".to_owned()
            };
            return (prev, label);
        }
    }
    let label = if list.is_empty() || !short {
        format!("{found} is not expected here")
    } else {
        format!("expected {list}")
    };
    (found_span, label)
}

/// The token that ends right before `pos`, skipping whitespace and comments.
fn previous_token(text: &str, pos: usize) -> Option<Span> {
    let mut end = pos.min(text.len());
    loop {
        let trimmed = text[..end].trim_end();
        end = trimmed.len();
        // A comment ends the line before: drop it.
        let line_start = trimmed.rfind('\n').map_or(0, |n| n + 1);
        match comment_start(&trimmed[line_start..]) {
            Some(c) => end = line_start + c,
            None => break,
        }
    }
    let before = &text[..end];
    let last = before.chars().next_back()?;
    let start = if is_word_char(last) {
        before
            .rfind(|c: char| !is_word_char(c))
            .map_or(0, |n| past_char(before, n))
    } else if last == '"' {
        // A whole string on this line.
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        string_start(&before[line_start..]).map_or(end - 1, |s| line_start + s)
    } else {
        end - last.len_utf8()
    };
    Some(Span::new(start, end))
}

/// Where a `//` comment starts on a line, outside strings.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where the string that ends a line starts.
fn string_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut open = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if open.is_some() => i += 1,
            b'"' if open.is_some() => {
                if i + 1 == bytes.len() {
                    return open;
                }
                open = None;
            }
            b'"' => open = Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The offset just past the character at `n` (which may take several
/// bytes: a byte order mark, `€`).
fn past_char(text: &str, n: usize) -> usize {
    n + text[n..].chars().next().map_or(1, char::len_utf8)
}

fn collect_tokens(
    tokens: &[String],
    expected: &mut BTreeSet<&'static str>,
    punctuation: &mut BTreeSet<String>,
) {
    for token in tokens {
        if let Some(d) = describe_token(token) {
            expected.insert(d);
        } else if PUNCTUATION.contains(&token.as_str()) {
            punctuation.insert(format!("`{token}`"));
        } else if token.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !token.is_empty() {
            if let Some(k) = KEYWORDS.iter().find(|k| k.trim_matches('`') == token) {
                expected.insert(k);
            }
        }
    }
}

/// What the user wrote at `pos`: a description and its length in bytes.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".to_owned(), 0);
    };
    if c.is_ascii_digit()
        || ((c == '+' || c == '-') && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        // A number, duration, time, timestamp or percentage, whole.
        let bytes = rest.as_bytes();
        let mut len = 1;
        while len < bytes.len() {
            let b = bytes[len];
            let next_digit = bytes.get(len + 1).is_some_and(u8::is_ascii_digit);
            let ok = b.is_ascii_alphanumeric()
                || b == b'_'
                || b == b'%'
                || (matches!(b, b':' | b'.' | b'-' | b'+') && next_digit);
            if !ok {
                break;
            }
            len += 1;
        }
        return (format!("`{}`", &rest[..len]), len);
    }
    if is_word_char(c) {
        let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        return (format!("`{}`", &rest[..len]), len);
    }
    if c == '"' {
        let len = rest[1..].find(['"', '\n']).map_or(rest.len(), |n| n + 2);
        let len = len.min(rest.len());
        return ("a string".to_owned(), len);
    }
    if c == '\n' || c == '\r' {
        return ("the end of the line".to_owned(), 0);
    }
    for op in ["&&", "||", "==", "!=", "<=", ">=", "??"] {
        if rest.starts_with(op) {
            return (format!("`{op}`"), 2);
        }
    }
    (format!("`{c}`"), c.len_utf8())
}
/// The opening quote of a string still open at `pos` on its line.
fn open_string_before(text: &str, pos: usize) -> Option<usize> {
    let pos = pos.min(text.len());
    let line_start = text[..pos].rfind('\n').map_or(0, |n| n + 1);
    let line_end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
    let line = &text[line_start..line_end];
    // Inside a string when the quotes before the line's end do not balance.
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let in_string = matches!(stack.last(), Some((b'"', _)));
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' if in_string => {
                stack.pop();
            }
            b'"' => stack.push((b'"', i)),
            b'{' if in_string && bytes.get(i + 1) == Some(&b'{') => i += 1,
            b'{' if in_string => stack.push((b'{', i)),
            b'}' if matches!(stack.last(), Some((b'{', _))) => {
                stack.pop();
            }
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => break,
            _ => {}
        }
        i += 1;
    }
    let (_, open) = stack.into_iter().find(|(b, _)| *b == b'"')?;
    let open = line_start + open;
    (open <= pos).then_some(open)
}

/// `\q` inside a string.
fn bad_escape(source: &Arc<SourceFile>, pos: usize) -> Option<Diagnostic> {
    let text = source.text();
    let rest = text.get(pos..)?;
    if !rest.starts_with('\\') {
        return None;
    }
    let next = rest[1..].chars().next().filter(|c| *c != '\n')?;
    let len = 1 + next.len_utf8();
    Some(
        Diagnostic::error(
            codes::parse::INVALID_ESCAPE,
            format!("`\\{next}` is not a valid escape"),
        )
        .with_primary(Span::new(pos, pos + len), "unknown escape")
        .with_help("escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\{`, `\\}` and `\\u{…}`")
        .in_file(source),
    )
}

/// `on`, `audience`, `exit on`, … written after a workflow's first statement.
fn clause_after_statement(
    source: &Arc<SourceFile>,
    text: &str,
    pos: usize,
    positives: &[R],
) -> Option<Diagnostic> {
    let in_body = positives.iter().any(|r| matches!(r, R::k_send | R::k_wait));
    let in_header = positives
        .iter()
        .any(|r| matches!(r, R::k_on | R::k_audience));
    if in_header || (!in_body && !positives.is_empty()) {
        return None;
    }
    let rest = &text[pos..];
    let word_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    let before = text[..pos].trim_end();
    let after_exit = word == "on" && before.ends_with("exit");
    let is_exit_on =
        after_exit || (word == "exit" && rest[word_len..].trim_start().starts_with("on"));
    let pos = if after_exit { before.len() - 4 } else { pos };
    let word_len = if after_exit {
        text[pos..].find("on").map_or(word_len, |n| n + 2)
    } else {
        word_len
    };
    if !(matches!(word, "on" | "audience" | "entry" | "goal" | "priority") || is_exit_on) {
        return None;
    }
    let shown = if is_exit_on { "exit on" } else { word };
    Some(
        Diagnostic::error(
            codes::parse::CLAUSE_AFTER_STATEMENT,
            format!("`{shown}` must come before the workflow's steps"),
        )
        .with_primary(Span::new(pos, pos + word_len), "a clause after a statement")
        .with_help("move `on`, `audience`, `exit on`, `entry`, `goal` and `priority` lines to the top of the workflow")
        .in_file(source),
    )
}

/// Where an error is and what was expected there, for the special cases.
struct Context<'a> {
    source: &'a Arc<SourceFile>,
    text: &'a str,
    /// Where the piece being parsed starts.
    piece_start: usize,
    /// The error's offset in `text`.
    pos: usize,
    found: &'a str,
    found_span: Span,
    expected: &'a BTreeSet<&'static str>,
    punctuation: &'a BTreeSet<String>,
}

impl Context<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos.min(self.text.len())..]
    }

    /// The word at the error, if it is one.
    fn word(&self) -> Option<&str> {
        let rest = self.rest();
        let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        (len > 0 && rest.starts_with(|c: char| c.is_alphabetic() || c == '_')).then(|| &rest[..len])
    }

    /// The word right before the error.
    fn previous_word(&self) -> Option<&str> {
        let span = previous_token(self.text, self.pos)?;
        let word = &self.text[span.range()];
        word.chars().all(is_word_char).then_some(word)
    }

    fn expects(&self, item: &str) -> bool {
        self.expected.contains(item) || self.punctuation.contains(item)
    }

    fn expects_operator(&self) -> bool {
        self.expected.contains("a comparison such as `==`") || self.expected.contains("`??`")
    }

    fn error(&self, code: &'static str, message: String, span: Span, label: &str) -> Diagnostic {
        Diagnostic::error(code, message)
            .with_primary(span, label)
            .in_file(self.source)
    }
}

/// `3mo`, `2y`, `10ms` where a duration belongs.
fn bad_duration(
    source: &Arc<SourceFile>,
    text: &str,
    pos: usize,
    expected: &BTreeSet<&'static str>,
) -> Option<Diagnostic> {
    if !expected.contains("a duration such as `6h`") {
        return None;
    }
    let rest = &text[pos..];
    let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    let word = &rest[..len];
    if !word.starts_with(|c: char| c.is_ascii_digit())
        || !word.contains(|c: char| c.is_ascii_alphabetic())
    {
        return None;
    }
    match nudge_core::duration::parse(word) {
        Err(nudge_core::duration::DurationError::UnknownUnit { unit, offset })
            if !unit.is_empty() =>
        {
            Some(
                Diagnostic::error(
                    codes::parse::INVALID_DURATION,
                    format!("`{unit}` is not a unit of duration"),
                )
                .with_primary(
                    Span::new(pos + offset, pos + offset + unit.len()),
                    "unknown unit",
                )
                .with_help(unit_hint(&unit))
                .in_file(source),
            )
        }
        _ => None,
    }
}

/// `café`: a letter outside ASCII inside a name.
fn non_ascii_name(source: &Arc<SourceFile>, text: &str, pos: usize) -> Option<Diagnostic> {
    let c = text[pos..].chars().next()?;
    let before = text[..pos].chars().next_back()?;
    if !(c.is_alphabetic() && !c.is_ascii() && (before.is_ascii_alphanumeric() || before == '_')) {
        return None;
    }
    let start = text[..pos]
        .rfind(|c: char| !is_word_char(c))
        .map_or(0, |n| past_char(text, n));
    let end = text[pos..]
        .find(|c: char| !is_word_char(c))
        .map_or(text.len(), |n| pos + n);
    Some(
        Diagnostic::error(
            codes::parse::UNEXPECTED,
            format!("`{}` is not a valid name", &text[start..end]),
        )
        .with_primary(
            Span::new(pos, pos + c.len_utf8()),
            format!("`{c}` is not an ASCII letter"),
        )
        .with_help(
            "names are made of ASCII letters, digits and `_`; other letters may appear in strings",
        )
        .in_file(source),
    )
}

/// Help for a duration unit that does not exist.
pub(crate) fn unit_hint(unit: &str) -> String {
    match unit {
        "mo" | "mon" | "month" | "months" => {
            "there are no months: write weeks or days, such as `4w` or `30d`".to_owned()
        }
        "y" | "yr" | "year" | "years" => {
            "there are no years: write weeks or days, such as `52w`".to_owned()
        }
        "ms" => "the smallest unit is the second, `s`".to_owned(),
        _ => "units are `w` (weeks), `d` (days), `h` (hours), `m` (minutes) and `s` (seconds)"
            .to_owned(),
    }
}

/// `&&`, `||`, `!`, `=` and `'…'` from other languages.
fn foreign_operator(ctx: &Context<'_>) -> Option<Diagnostic> {
    let rest = ctx.rest();
    let (ours, len, help) = if rest.starts_with("&&") {
        ("and", 2, "join conditions with `and`")
    } else if rest.starts_with("||") {
        ("or", 2, "join conditions with `or`")
    } else if rest.starts_with('!') && !rest.starts_with("!=") {
        (
            "not",
            1,
            "negate a condition with `not`, as in `not did login within 7d`",
        )
    } else if rest.starts_with('=') && !rest.starts_with("==") && ctx.expects_operator() {
        (
            "==",
            1,
            "compare with `==`; a single `=` only names a segment or a goal",
        )
    } else if let Some(after) = rest.strip_prefix('\'') {
        let quoted: String = after
            .chars()
            .take_while(|c| *c != '\'' && *c != '\n')
            .collect();
        return Some(
            ctx.error(
                codes::parse::UNEXPECTED,
                "strings are written in double quotes, found `'`".to_owned(),
                Span::new(ctx.pos, ctx.pos + 1),
                "single quote",
            )
            .with_help(format!("write \"{quoted}\"")),
        );
    } else {
        return None;
    };
    let theirs = &rest[..len];
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            format!("expected `{ours}`, found `{theirs}`"),
            Span::new(ctx.pos, ctx.pos + len),
            &format!("write `{ours}` here"),
        )
        .with_help(help),
    )
}

/// `on x where a == 1 and b`: a filter is one comparison.
fn filter_with_and(ctx: &Context<'_>) -> Option<Diagnostic> {
    let word = ctx.word()?;
    if !matches!(word, "and" | "or") || ctx.expected.contains("`and`") || !ctx.expects_operator() {
        return None;
    }
    let line_start = ctx.text[..ctx.pos].rfind('\n').map_or(0, |n| n + 1);
    let line = &ctx.text[line_start..ctx.pos];
    let where_at = line.rfind("where ")?;
    let filter_start = line_start + where_at + "where ".len();
    let line_end = ctx.text[ctx.pos..]
        .find('\n')
        .map_or(ctx.text.len(), |n| ctx.pos + n);
    let whole = ctx.text[filter_start..line_end].trim_end();
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            format!("a `where` filter is a single comparison, found `{word}`"),
            ctx.found_span,
            &format!("`{word}` cannot continue a filter"),
        )
        .with_help(format!(
            "wrap the whole filter in parentheses: `where ({whole})`"
        )),
    )
}

/// `cap 2.5 per 1d`: a fraction where a whole number belongs.
fn fraction_for_count(ctx: &Context<'_>) -> Option<Diagnostic> {
    let rest = ctx.rest();
    let before = ctx.text[..ctx.pos].chars().next_back()?;
    let fraction = rest.starts_with('.')
        && before.is_ascii_digit()
        && rest[1..].starts_with(|c: char| c.is_ascii_digit());
    if !fraction {
        return None;
    }
    let start = ctx.text[..ctx.pos]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |n| past_char(ctx.text, n));
    let end = ctx.pos
        + 1
        + rest[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - 1);
    let number = &ctx.text[start..end];
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            format!("expected a whole number, found `{number}`"),
            Span::new(start, end),
            "a whole number is needed here",
        )
        .with_help("counts are whole numbers, such as `2`"),
    )
}

/// `ago 3d` for `3d ago`.
fn ago_first(ctx: &Context<'_>) -> Option<Diagnostic> {
    let ago = previous_token(ctx.text, ctx.pos)?;
    if &ctx.text[ago.range()] != "ago" || !ctx.rest().starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let duration = &ctx.text[ctx.found_span.range()];
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            format!("`ago` comes after its duration, found `ago {duration}`"),
            ago.to(ctx.found_span),
            "the duration must come first",
        )
        .with_help(format!("write `{duration} ago`")),
    )
}

/// `;` after a statement or a field.
fn semicolon(ctx: &Context<'_>) -> Option<Diagnostic> {
    if !ctx.rest().starts_with(';') {
        return None;
    }
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            "unexpected `;`".to_owned(),
            Span::new(ctx.pos, ctx.pos + 1),
            "nothing needs a `;`",
        )
        .with_help("remove the `;`: statements, clauses and fields end by themselves"),
    )
}

/// Words from other tools, and what this language says instead.
fn synonym(word: &str) -> Option<&'static str> {
    Some(match word {
        "trigger" | "when" | "start" | "trigger_on" => {
            "a workflow's trigger is written `on event_name`"
        }
        "delay" | "sleep" | "pause" => {
            "pause with `wait 1h`, `wait until 09:00` or `wait for event within 1d`"
        }
        "elif" | "elsif" | "elseif" => "write `else if`",
        "return" | "stop" | "end" | "break" => "`exit` ends the journey",
        "filter" | "condition" | "only" => "filter who enters with `audience` and a condition",
        "unless" => "write `if not …`",
        "ab" | "experiment" | "variant" => "an experiment is a `split name { 50%: … }`",
        "import" | "include" | "use" => {
            "every `.flow` file of a folder is one project: declarations are shared without imports"
        }
        _ => return None,
    })
}

/// `1 day`, `2 hours`: a number and a unit word.
fn spelled_duration(text: &str, pos: usize) -> Option<String> {
    let rest = &text[pos..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits == 0 {
        return None;
    }
    let after = rest[digits..].trim_start_matches(' ');
    let word: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let unit = match word.as_str() {
        "w" | "week" | "weeks" | "wk" | "wks" => "w",
        "d" | "day" | "days" => "d",
        "h" | "hour" | "hours" | "hr" | "hrs" => "h",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        _ => return None,
    };
    Some(format!(
        "write `{}{unit}`, without a space",
        &rest[..digits]
    ))
}

/// `9am`, `6pm`, `9:30pm`: a time of day in another notation.
fn twelve_hour(text: &str, pos: usize) -> Option<String> {
    let rest = &text[pos..];
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .unwrap_or(rest.len());
    let token = rest[..len].to_ascii_lowercase();
    let (clock, pm) = if let Some(c) = token.strip_suffix("pm") {
        (c, true)
    } else {
        (token.strip_suffix("am")?, false)
    };
    let (h, m) = clock.split_once(':').unwrap_or((clock, "00"));
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if !(1..=12).contains(&h) || m > 59 {
        return None;
    }
    let h = match (h, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, true) => h + 12,
        (h, false) => h,
    };
    Some(format!("times of day use 24 hours: write `{h:02}:{m:02}`"))
}

/// `else` that follows no `if` block.
fn else_without_if(ctx: &Context<'_>) -> Option<Diagnostic> {
    if ctx.word()? != "else" || !ctx.expected.contains("`send`") {
        return None;
    }
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            "`else` without `if`".to_owned(),
            ctx.found_span,
            "no `if` or `wait for` block ends right before this",
        )
        .with_help("`else { … }` follows the block of an `if`, or the `then` block of a `wait for … within …`"),
    )
}

/// A declaration keyword in column 0, or the end of the file, where a
/// closing bracket is still missing.
fn unclosed(ctx: &Context<'_>) -> Option<Diagnostic> {
    let closer = ["`}`", "`)`", "`]`"]
        .into_iter()
        .find(|c| ctx.punctuation.contains(*c))?;
    let at_end = ctx.pos >= ctx.text.len();
    let at_declaration = ctx.text[..ctx.pos].ends_with('\n')
        && ctx.word().is_some_and(|w| DECLARATIONS.contains(&w));
    if !(at_end || at_declaration) {
        return None;
    }
    let code = &ctx.text[ctx.piece_start..ctx.pos];
    let opens = open_brackets(code);
    let &(bracket, at) = opens.last()?;
    // The indentation usually tells which block lost its `}`: the first `{`
    // ending a line whose block is followed by a line no deeper than it
    // that is not a `}`.
    let at = match bracket {
        '{' => unclosed_by_indent(code).unwrap_or(at),
        _ => at,
    };
    let at = ctx.piece_start + at;
    let closer_char = closer.trim_matches('`');
    let line_start = ctx.text[..at].rfind('\n').map_or(0, |n| n + 1);
    let opener = ctx.text[line_start..at]
        .split(|c: char| !is_word_char(c))
        .find(|w| !w.is_empty())
        .filter(|w| {
            DECLARATIONS.contains(w) || matches!(*w, "if" | "else" | "then" | "split" | "escalate")
        });
    let (span, label) = if at_end {
        let prev = previous_token(ctx.text, ctx.pos).unwrap_or(ctx.found_span);
        (prev, format!("expected `{closer_char}` after this"))
    } else {
        (
            ctx.found_span,
            format!("expected `{closer_char}` before this declaration"),
        )
    };
    let mut d = ctx
        .error(
            codes::parse::UNEXPECTED,
            format!("expected `{closer_char}`, found {}", ctx.found),
            span,
            &label,
        )
        .with_secondary(
            Span::new(at, at + 1),
            format!("this `{bracket}` is never closed"),
        );
    d.help = Some(match (bracket, opener) {
        ('{', Some(word)) => format!("close the `{word}` block with `}}`"),
        _ => format!("close the `{bracket}` with `{closer_char}`"),
    });
    Some(d)
}

/// The offset of the first `{` that ends a line and whose block is
/// followed, at its own indentation or less, by a line that does not close
/// it.
fn unclosed_by_indent(code: &str) -> Option<usize> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut offset = 0;
    let lines: Vec<(usize, &str)> = code
        .split_inclusive('\n')
        .map(|l| {
            let start = offset;
            offset += l.len();
            (start, l.trim_end_matches(['\n', '\r']))
        })
        .collect();
    for (i, &(start, line)) in lines.iter().enumerate() {
        let content = match comment_start(line) {
            Some(c) => &line[..c],
            None => line,
        };
        let trimmed = content.trim_end();
        if !trimmed.ends_with('{') || trimmed.trim_start().starts_with("//") {
            continue;
        }
        let own = indent(line);
        let next = lines[i + 1..]
            .iter()
            .map(|(_, l)| *l)
            .find(|l| !l.trim().is_empty() && indent(l) <= own);
        if let Some(next) = next {
            if !next.trim_start().starts_with('}') {
                return Some(start + trimmed.len() - 1);
            }
        }
    }
    None
}

/// `send email w {` with its `}` missing, so that the next statement's
/// keyword is read as a field name and a `:` is expected after it.
fn object_not_closed(ctx: &Context<'_>) -> Option<Diagnostic> {
    if !ctx.punctuation.contains("`:`") {
        return None;
    }
    let prev = previous_token(ctx.text, ctx.pos)?;
    let word = &ctx.text[prev.range()];
    let line_start = ctx.text[..prev.start as usize]
        .rfind('\n')
        .map_or(0, |n| n + 1);
    let first_on_line = ctx.text[line_start..prev.start as usize].trim().is_empty();
    let keyword = matches!(
        word,
        "send"
            | "wait"
            | "if"
            | "split"
            | "escalate"
            | "exit"
            | "after"
            | "expect"
            | "at"
            | "given"
            | "cap"
            | "quiet"
    ) || DECLARATIONS.contains(&word);
    if !(keyword && first_on_line) {
        return None;
    }
    let code = &ctx.text[ctx.piece_start..prev.start as usize];
    let open = unclosed_by_indent(code)
        .or_else(|| open_brackets(code).last().map(|&(_, at)| at))
        .map(|at| ctx.piece_start + at)?;
    // In a schema any word may name a field (`at: time`): only a reserved
    // word is surely a statement there.
    let open_line = ctx.text[..open].rfind('\n').map_or(0, |n| n + 1);
    let in_schema = ctx.text[open_line..open]
        .split_whitespace()
        .next()
        .is_some_and(|w| matches!(w, "event" | "profile"));
    if in_schema && !is_reserved(word) {
        return None;
    }
    Some(
        ctx.error(
            codes::parse::UNEXPECTED,
            format!("expected `}}`, found `{word}`"),
            prev,
            &format!("expected `}}` before this `{word}`"),
        )
        .with_secondary(Span::new(open, open + 1), "this `{` is never closed")
        .with_help(format!(
            "close the fields with `}}`; `{word}` cannot name a field here"
        )),
    )
}

/// Brackets still open at the end of `code` (skipping strings and
/// comments), with their offsets.
fn open_brackets(code: &str) -> Vec<(char, usize)> {
    let bytes = code.as_bytes();
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'{' | b'(' | b'[' => stack.push((b as char, i)),
                b'}' | b')' | b']' => {
                    stack.pop();
                }
                _ => {}
            }
        }
        i += 1;
    }
    stack
}

/// Keywords as they are named in messages.
const KEYWORDS: [&str; 59] = [
    "`after`",
    "`ago`",
    "`and`",
    "`at`",
    "`audience`",
    "`between`",
    "`cap`",
    "`completed`",
    "`day`",
    "`did`",
    "`does`",
    "`else`",
    "`enter`",
    "`entered`",
    "`entry`",
    "`enum`",
    "`escalate`",
    "`event`",
    "`exit`",
    "`exited`",
    "`expect`",
    "`for`",
    "`given`",
    "`goal`",
    "`hours`",
    "`identify`",
    "`if`",
    "`in`",
    "`inactive`",
    "`is`",
    "`local`",
    "`no`",
    "`none`",
    "`not`",
    "`on`",
    "`once`",
    "`or`",
    "`per`",
    "`policy`",
    "`priority`",
    "`profile`",
    "`quiet`",
    "`reached`",
    "`restart`",
    "`segment`",
    "`send`",
    "`since`",
    "`split`",
    "`template`",
    "`test`",
    "`then`",
    "`times`",
    "`to`",
    "`until`",
    "`wait`",
    "`where`",
    "`with`",
    "`within`",
    "`workflow`",
];

/// Declaration keywords, for recovery and suggestions.
const DECLARATIONS: [&str; 8] = [
    "enum", "profile", "event", "segment", "template", "workflow", "policy", "test",
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const CHANNELS: [&str; 5] = ["email", "push", "sms", "in_app", "webhook"];

fn help_for(ctx: &Context<'_>, positives: &[R]) -> Option<String> {
    let rest = ctx.rest();
    let found_text = &ctx.text[ctx.found_span.range()];
    if ctx.expected.contains("a time of day such as `09:00`") {
        if let Some(h) = twelve_hour(ctx.text, ctx.pos) {
            return Some(h);
        }
    }
    if ctx.expected.contains("a duration such as `6h`") {
        if let Some(h) = spelled_duration(ctx.text, ctx.pos) {
            return Some(h);
        }
    }
    if let Some(word) = ctx.word() {
        if let Some(h) = synonym(word) {
            return Some(h.to_owned());
        }
        if let Some(s) = suggestion(word, ctx.expected) {
            return Some(format!("did you mean `{s}`?"));
        }
        if ctx.expected.contains("`workflow`") {
            let inside = match word {
                "send" | "wait" | "if" | "split" | "escalate" | "exit" | "on" | "audience"
                | "goal" | "entry" | "priority" => Some("a `workflow name { … }`"),
                "given" | "at" | "expect" => Some("a `test \"name\" { … }`"),
                "cap" | "quiet" => Some("a `policy { … }`"),
                _ => None,
            };
            if let Some(inside) = inside {
                if ctx.previous_word().is_none() && ctx.text[..ctx.pos].trim_end().ends_with('}') {
                    return Some(format!(
                        "`{word}` goes inside {inside}: a `}}` above may close it too early"
                    ));
                }
                return Some(format!("`{word}` goes inside {inside}"));
            }
        }
        let first_on_line = ctx.text[..ctx.pos]
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty());
        if ctx.expected.contains("a name") && is_reserved(word) && !first_on_line {
            return Some(format!("`{word}` is a reserved word; choose another name"));
        }
        if DECLARATIONS.contains(&word) && first_on_line && ctx.expects("`}`") {
            return Some("a `}` may be missing above".into());
        }
        if ctx.expected.contains("`workflow`")
            && ctx.expected.contains("`template`")
            && first_on_line
        {
            return Some("a file holds `enum`, `profile`, `event`, `segment`, `template`, `workflow`, `policy` and `test` declarations".into());
        }
    }
    let starts_number = rest.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    if starts_number {
        if ctx.previous_word() == Some("ago") {
            return Some(format!("write the duration first: `{found_text} ago`"));
        }
        let in_expression = ctx.expected.contains("a comparison such as `==`");
        for keyword in ["within", "per", "to", "and", "at"] {
            if ctx.expected.contains(format!("`{keyword}`").as_str()) && !in_expression {
                return Some(format!("write `{keyword} {found_text}`"));
            }
        }
        if ctx.expected.contains("a percentage such as `50%`")
            || ctx
                .expected
                .contains("a split arm such as `50%: send email a`")
        {
            return Some(format!("write `{found_text}%`"));
        }
        if ctx.expected.contains("a comparison such as `==`")
            && ctx.previous_word() == Some("times")
        {
            return Some(format!(
                "write `times >= {found_text}` or `times == {found_text}`"
            ));
        }
        if positives.contains(&R::duration) {
            return Some("durations are a number and a unit: `30m`, `6h`, `1d12h`, `2w`".into());
        }
    }
    if rest.starts_with('<') && ctx.expects("`?`") {
        return Some("a list type is written in brackets: `[string]`".into());
    }
    if ["*", "/"].iter().any(|op| rest.starts_with(op)) && ctx.expects_operator() {
        return Some("expressions have no `*` or `/`, only a duration added to or taken from a time or a duration (`profile.trial_ends_at - 3d`); to build text, interpolate in one string, such as `\"Hi {profile.first_name}\"`".into());
    }
    if ctx.expected.contains("a string") && ctx.expected.len() == 1 {
        let line_start = ctx.text[..ctx.pos].rfind('\n').map_or(0, |n| n + 1);
        let line = ctx.text[line_start..ctx.pos].trim_start();
        if line.starts_with("at ") {
            return Some("name the customer in quotes: `at +1h \"u1\" does login`".into());
        }
    }
    if rest.starts_with(|c: char| c.is_alphabetic() && !c.is_ascii()) {
        return Some(
            "names are made of ASCII letters, digits and `_`; other letters may appear in strings"
                .into(),
        );
    }
    if rest.starts_with('{') && ctx.expected.contains("`until`") {
        return Some("name the event that stops it: `escalate until order_completed { … }`".into());
    }
    let stmt_start = ctx
        .word()
        .is_some_and(|w| matches!(w, "send" | "wait" | "if" | "split" | "escalate" | "exit"));
    if stmt_start && ctx.expects("`{`") {
        let before = ctx.previous_word();
        if before == Some("then") || before == Some("else") {
            return Some(format!(
                "wrap the statements in braces: `{} {{ {} … }}`",
                before.unwrap_or("then"),
                ctx.word().unwrap_or("")
            ));
        }
        return Some("wrap the statements in braces: `if … { … }`".into());
    }
    if let Some(word) = ctx.word() {
        // An escalation's steps are messages without `send`.
        if word == "send" && ctx.expected.contains("a message such as `email reminder`") {
            return Some(
                "the steps of `escalate` are messages without `send`: write `email reminder`, `after 1d push { … }`".into(),
            );
        }
        if ctx.expected.iter().any(|e| e.starts_with("a channel")) && !CHANNELS.contains(&word) {
            return Some("the channels are `email`, `push`, `sms`, `in_app` and `webhook`; reach other services with `webhook`".into());
        }
        if ctx.expected.contains("a duration such as `6h`") && !is_reserved(word) {
            return Some("durations are a number and a unit: `30m`, `6h`, `1d12h`, `2w`".into());
        }
    }
    if ctx.previous_word() == Some("expect") {
        return Some("expect messages (`expect 1 email welcome to \"u1\"`, `expect no message`) or a journey (`expect \"u1\" entered onboarding`)".into());
    }
    None
}

/// A keyword close to `word` among those expected.
fn suggestion(word: &str, expected: &BTreeSet<&'static str>) -> Option<String> {
    if word.len() < 3 {
        return None;
    }
    let mut candidates: Vec<&str> = expected
        .iter()
        .filter_map(|e| e.strip_prefix('`')?.strip_suffix('`'))
        .filter(|w| w.chars().all(is_word_char))
        .collect();
    for e in expected {
        if e.contains("a channel") {
            candidates.extend(CHANNELS);
        }
        if e.contains("`message`") {
            candidates.extend(["message", "messages"]);
        }
        if e.starts_with("a weekday") {
            candidates.extend(WEEKDAYS);
        }
        if e.starts_with("`transactional`") {
            candidates.extend(["transactional", "marketing"]);
        }
    }
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len() / 2 + 1)
        .min()
        .map(|(_, c)| c.to_owned())
}

/// Words that cannot name things (the grammar's `reserved` rule).
pub(crate) fn is_reserved(word: &str) -> bool {
    FlowParser::parse(R::reserved, word).is_ok_and(|p| p.as_str() == word)
}

/// A description for rules a user can be told about; `None` for internal ones.
fn describe(rule: R) -> Option<&'static str> {
    Some(match rule {
        R::ident | R::path_root => "a name",
        R::name => "a field name",
        R::duration => "a duration such as `6h`",
        R::time_of_day => "a time of day such as `09:00`",
        R::timestamp => "a timestamp such as `2026-03-01T10:00:00Z`",
        R::offset => "a time offset such as `+30m`",
        R::percent => "a percentage such as `50%`",
        R::int => "a whole number",
        R::float => "a number",
        R::string => "a string",
        R::channel => "a channel (`email`, `push`, `sms`, `in_app` or `webhook`)",
        R::weekday => "a weekday such as `monday`",
        R::priority_level => "`transactional` or `marketing`",
        R::messages_word => "`message`",
        R::arm_word => "`arm`",
        R::fmt_spec => "a format such as `:.2`",
        R::of_word => "`of`",
        R::took_word => "`took`",
        R::arm_of_split => "an arm such as `arm control of split offer`",
        R::split_ref => "a split name such as `offer` or `welcome.offer`",
        R::none_lit => "`none`",
        R::bool_lit => "`true` or `false`",
        R::not_op => "`not`",
        R::or_op => "`or`",
        R::and_op => "`and`",
        R::in_op => "`in`",
        R::cmp_op => "a comparison such as `==`",
        R::coalesce => "`??`",
        R::EOI => "the end of the file",
        R::object => "`{`",
        R::message_kind => "`message` or a channel such as `email`",
        R::message => "a channel such as `email`",
        R::expect_message => "a message expectation such as `1 email`",
        R::expect_journey => "a journey expectation such as `\"u1\" entered onboarding`",
        R::field_decl => "a field such as `name: string`",
        R::field_init => "a field such as `subject: \"Hi\"`",
        R::expr | R::filter_expr => "an expression",
        R::event_match => "an event name",
        R::type_expr => "a type such as `string`",
        R::split_arm => "a split arm such as `50%: send email a`",
        R::escalate_step => "a message such as `email reminder`",
        R::block => "`{`",
        R::k_after => "`after`",
        R::k_anniversary => "`anniversary`",
        R::k_before => "`before`",
        R::date_trigger => "a date (`profile.FIELD`)",
        R::date_at => "`at` and a time of day",
        R::wait_until_time_stmt => "`wait until` and a time",
        R::k_ago => "`ago`",
        R::k_and => "`and`",
        R::k_at => "`at`",
        R::k_audience => "`audience`",
        R::k_between => "`between`",
        R::k_cap => "`cap`",
        R::k_completed => "`completed`",
        R::k_day => "`day`",
        R::k_did => "`did`",
        R::k_does => "`does`",
        R::k_else => "`else`",
        R::k_enter => "`enter`",
        R::k_entered => "`entered`",
        R::k_entry => "`entry`",
        R::k_enum => "`enum`",
        R::k_escalate => "`escalate`",
        R::k_event => "`event`",
        R::k_exit => "`exit`",
        R::k_exited => "`exited`",
        R::k_expect => "`expect`",
        R::k_for => "`for`",
        R::k_given => "`given`",
        R::k_goal => "`goal`",
        R::k_hours => "`hours`",
        R::k_identify => "`identify`",
        R::k_if => "`if`",
        R::k_in => "`in`",
        R::k_inactive => "`inactive`",
        R::k_is => "`is`",
        R::k_local => "`local`",
        R::k_no => "`no`",
        R::k_none => "`none`",
        R::k_not => "`not`",
        R::k_on => "`on`",
        R::k_once => "`once`",
        R::k_per => "`per`",
        R::k_policy => "`policy`",
        R::k_priority => "`priority`",
        R::k_profile => "`profile`",
        R::k_quiet => "`quiet`",
        R::k_reached => "`reached`",
        R::k_restart => "`restart`",
        R::k_segment => "`segment`",
        R::k_send => "`send`",
        R::k_since => "`since`",
        R::k_split => "`split`",
        R::k_template => "`template`",
        R::k_test => "`test`",
        R::k_then => "`then`",
        R::k_times => "`times`",
        R::k_to => "`to`",
        R::k_until => "`until`",
        R::k_wait => "`wait`",
        R::k_where => "`where`",
        R::k_with => "`with`",
        R::k_within => "`within`",
        R::k_workflow => "`workflow`",
        _ => return None,
    })
}

/// Replaces long runs of alternatives by what they have in common.
fn group(expected: &mut BTreeSet<&'static str>) {
    let groups: [(&[&str], usize, &str); 7] = [
        (
            &[
                "`??`",
                "`in`",
                "`is`",
                "a comparison such as `==`",
                "`and`",
                "`or`",
            ],
            3,
            "an operator such as `==` or `and`",
        ),
        (
            &["`??`", "`in`", "`is`", "a comparison such as `==`"],
            3,
            "an operator such as `==`",
        ),
        (
            &[
                "`enum`",
                "`profile`",
                "`event`",
                "`segment`",
                "`template`",
                "`workflow`",
                "`policy`",
                "`test`",
            ],
            3,
            "a declaration such as `event`, `workflow` or `test`",
        ),
        (
            &[
                "`send`",
                "`wait`",
                "`if`",
                "`split`",
                "`escalate`",
                "`exit`",
            ],
            3,
            "a statement such as `send` or `wait`",
        ),
        (
            &[
                "`on`",
                "`audience`",
                "`exit`",
                "`entry`",
                "`goal`",
                "`priority`",
            ],
            3,
            "a clause such as `on` or `audience`",
        ),
        (
            &["`given`", "`at`", "`expect`"],
            3,
            "a test step (`given`, `at` or `expect`)",
        ),
        (
            &[
                "`not`",
                "`did`",
                "`inactive`",
                "`in`",
                "`none`",
                "`true` or `false`",
                "a timestamp such as `2026-03-01T10:00:00Z`",
                "a time of day such as `09:00`",
                "a duration such as `6h`",
                "a number",
                "a whole number",
                "a string",
                "a name",
            ],
            5,
            "an expression",
        ),
    ];
    for (members, threshold, summary) in groups {
        let present = members.iter().filter(|m| expected.contains(**m)).count();
        if present >= threshold {
            for m in members {
                expected.remove(*m);
            }
            expected.insert(summary);
        }
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] if !a.contains(" or ") => format!("{a} or {b}"),
        [rest @ .., last] => format!("{}, or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_takes_whole_literals() {
        assert_eq!(found_at("08:00 local", 0), ("`08:00`".to_owned(), 5));
        assert_eq!(found_at("2026-02-30T00:00:00Z \"u1\"", 0).1, 20);
        assert_eq!(found_at("+30m \"u1\"", 0), ("`+30m`".to_owned(), 4));
        assert_eq!(found_at("50: send", 0), ("`50`".to_owned(), 2));
        assert_eq!(found_at("33.5%: send", 0), ("`33.5%`".to_owned(), 5));
        assert_eq!(found_at("&& b", 0), ("`&&`".to_owned(), 2));
        assert_eq!(found_at("\"text\" x", 0), ("a string".to_owned(), 6));
        assert_eq!(found_at("", 0).0, "the end of the file");
    }

    #[test]
    fn lists_read_as_prose() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(join_or(&s(&["`a`"])), "`a`");
        assert_eq!(join_or(&s(&["`a`", "`b`"])), "`a` or `b`");
        assert_eq!(join_or(&s(&["`a`", "`b`", "`c`"])), "`a`, `b`, or `c`");
        assert_eq!(join_or(&s(&["x or y", "`b`"])), "x or y, or `b`");
    }

    #[test]
    fn twelve_hour_times() {
        let help = |t: &str| twelve_hour(t, 0);
        assert_eq!(
            help("9pm").as_deref(),
            Some("times of day use 24 hours: write `21:00`")
        );
        assert_eq!(
            help("12am").as_deref(),
            Some("times of day use 24 hours: write `00:00`")
        );
        assert_eq!(
            help("12:30pm").as_deref(),
            Some("times of day use 24 hours: write `12:30`")
        );
        assert_eq!(
            help("7:05am").as_deref(),
            Some("times of day use 24 hours: write `07:05`")
        );
        assert_eq!(help("13pm"), None);
        assert_eq!(help("soon"), None);
    }

    #[test]
    fn spelled_durations() {
        assert_eq!(
            spelled_duration("1 day", 0).as_deref(),
            Some("write `1d`, without a space")
        );
        assert_eq!(
            spelled_duration("30 minutes", 0).as_deref(),
            Some("write `30m`, without a space")
        );
        assert_eq!(
            spelled_duration("2 w", 0).as_deref(),
            Some("write `2w`, without a space")
        );
        assert_eq!(spelled_duration("3 apples", 0), None);
        assert_eq!(spelled_duration("soon", 0), None);
    }

    #[test]
    fn indentation_finds_the_open_block() {
        let code = "workflow w {\n  if x {\n    send email a\n  wait 1d\n}\n";
        assert_eq!(unclosed_by_indent(code), code.find("x {").map(|n| n + 2));
        let closed = "workflow w {\n  if x {\n    send email a\n  }\n}\n";
        assert_eq!(unclosed_by_indent(closed), None);
    }

    #[test]
    fn open_brackets_skip_strings_and_comments() {
        let code = "a { \"{\" // {\n ( [ ] ";
        assert_eq!(open_brackets(code), vec![('{', 2), ('(', 14)]);
    }

    #[test]
    fn previous_token_skips_comments() {
        let text = "  wait 1d // later\n  \n}";
        let span = previous_token(text, text.len() - 1).map(|s| &text[s.range()]);
        assert_eq!(span, Some("1d"));
        let text = "subject: \"Hi there\"\n}";
        let span = previous_token(text, text.len() - 1).map(|s| &text[s.range()]);
        assert_eq!(span, Some("\"Hi there\""));
    }

    #[test]
    fn suggestions_are_close_keywords() {
        let expected: BTreeSet<&'static str> =
            ["`given`", "`at`", "`expect`"].into_iter().collect();
        assert_eq!(suggestion("gven", &expected).as_deref(), Some("given"));
        assert_eq!(suggestion("expcet", &expected).as_deref(), Some("expect"));
        assert_eq!(suggestion("journey", &expected), None);
        let channels: BTreeSet<&'static str> =
            ["a channel (`email`, `push`, `sms`, `in_app` or `webhook`)"]
                .into_iter()
                .collect();
        assert_eq!(suggestion("emial", &channels).as_deref(), Some("email"));
        assert_eq!(suggestion("slack", &channels), None);
    }

    #[test]
    fn reserved_words() {
        assert!(is_reserved("within"));
        assert!(is_reserved("email"));
        assert!(is_reserved("inactive"));
        assert!(is_reserved("in_app"));
        assert!(is_reserved("in"));
        assert!(!is_reserved("index"));
        assert!(!is_reserved("inside"));
        assert!(!is_reserved("order"));
        assert!(!is_reserved("within_days"));
        assert!(!is_reserved("plan"));
    }
}
