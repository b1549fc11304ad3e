//! Turns pest errors into diagnostics in the user's words: "expected a
//! duration such as `6h`, found `soon`", never a rule name.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use pest::error::{Error, ErrorVariant, InputLocation};
use pest::Parser as _;

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::parser::{FlowParser, R};
use crate::source::SourceFile;
use crate::span::Span;

/// pest records which tokens it tried only while a global switch is on,
/// which slows every parse; it is turned on just to re-parse a failed piece,
/// under this lock so that concurrent re-parses always see it on.
static DETAIL: Mutex<()> = Mutex::new(());

/// Tokens worth naming; whitespace, comments, quotes and signs are not.
const PUNCTUATION: [&str; 12] = ["{", "}", "(", ")", "[", "]", ":", ",", "=", "?", "%", "."];

/// Re-parses `piece` with pest's token tracking on, for the literal tokens
/// (`}`, `:`, …) it expected at the error.
fn expected_punctuation(piece: &str) -> BTreeSet<String> {
    let _guard = DETAIL.lock();
    pest::set_error_detail(true);
    let result = FlowParser::parse(R::file, piece);
    pest::set_error_detail(false);
    let mut out = BTreeSet::new();
    if let Err(e) = result {
        if let Some(attempts) = e.parse_attempts() {
            for token in attempts.expected_tokens() {
                // `ParsingToken` is not exported; its text is. Keep the
                // punctuation: keywords come from their own rules.
                let token = token.to_string();
                if PUNCTUATION.contains(&token.as_str()) {
                    out.insert(format!("`{token}`"));
                }
            }
        }
    }
    out
}

/// A diagnostic for a pest error in `piece`, which starts at byte `offset`
/// of `source`.
pub(crate) fn syntax_error(
    source: &Arc<SourceFile>,
    piece: &str,
    offset: usize,
    error: &Error<R>,
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let abs = offset + pos;
    let text = source.text();

    if let Some(open) = open_string_before(text, abs) {
        let line_end = text[open..].find('\n').map_or(text.len(), |n| open + n);
        return Diagnostic::error(codes::parse::UNTERMINATED_STRING, "unterminated string")
            .with_primary(Span::new(open, line_end), "this string is not closed on its line")
            .with_help("close it with `\"`; write `\\\"` for a quote inside a string and `\\n` for a line break")
            .in_file(source);
    }

    if let Some(d) = bad_escape(source, abs) {
        return d;
    }

    let positives: Vec<R> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let found = found_at(text, abs);
    let found_span = Span::new(abs, abs + found.1);

    if let Some(d) = clause_after_statement(source, text, abs, &positives) {
        return d;
    }

    let mut expected: BTreeSet<&'static str> =
        positives.iter().filter_map(|r| describe(*r)).collect();
    group(&mut expected);
    let mut punctuation = expected_punctuation(piece);
    if expected.contains("an expression") {
        // `(` and `[` start expressions; naming them again adds nothing.
        punctuation.remove("`(`");
        punctuation.remove("`[`");
    }
    let mut items: Vec<String> = expected.into_iter().map(str::to_owned).collect();
    items.extend(punctuation);
    let list = join_or(&items);

    let message = if items.is_empty() {
        format!("unexpected {}", found.0)
    } else {
        format!("expected {list}, found {}", found.0)
    };
    let label = if items.is_empty() {
        "not expected here".to_owned()
    } else {
        format!("expected {list}")
    };
    let mut d = Diagnostic::error(codes::parse::UNEXPECTED, message)
        .with_primary(found_span, label)
        .in_file(source);
    d.help = help_for(text, abs, &positives);
    d
}

/// What the user wrote at `pos`: a description and its length in bytes.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".to_owned(), 0);
    };
    if c.is_alphanumeric() || c == '_' {
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
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

fn help_for(text: &str, pos: usize, positives: &[R]) -> Option<String> {
    let rest = &text[pos.min(text.len())..];
    if positives.contains(&R::duration) && rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("durations are a number and a unit: `30m`, `6h`, `1d12h`, `2w`".into());
    }
    if positives.contains(&R::ident) && rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if is_reserved(&word) {
            return Some(format!("`{word}` is a reserved word; choose another name"));
        }
    }
    if rest.starts_with('=')
        && !rest.starts_with("==")
        && positives.iter().any(|r| matches!(r, R::cmp_op))
    {
        return Some("compare with `==`".into());
    }
    if rest.starts_with("&&") || rest.starts_with("||") {
        return Some("write `and` and `or`".into());
    }
    if rest.starts_with('!') && !rest.starts_with("!=") {
        return Some("write `not` to negate a condition".into());
    }
    None
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
        R::block => "`{`",
        R::k_after => "`after`",
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
    let groups: [(&[&str], usize, &str); 5] = [
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
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words() {
        assert!(is_reserved("within"));
        assert!(is_reserved("email"));
        assert!(!is_reserved("within_days"));
        assert!(!is_reserved("plan"));
    }
}
