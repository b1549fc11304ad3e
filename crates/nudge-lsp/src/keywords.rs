//! The words of `grammar/flow.pest`, for completion. A test keeps this list,
//! the TextMate grammar and the Vim syntax in step with the grammar.

use std::collections::BTreeSet;

/// Every keyword: the `k_*` rules and the `reserved` words.
pub const KEYWORDS: &[&str] = &[
    "after",
    "ago",
    "and",
    "anniversary",
    "at",
    "audience",
    "before",
    "between",
    "cap",
    "completed",
    "day",
    "did",
    "does",
    "else",
    "enter",
    "entered",
    "entry",
    "enum",
    "escalate",
    "event",
    "exit",
    "exited",
    "expect",
    "false",
    "for",
    "given",
    "goal",
    "hours",
    "identify",
    "if",
    "in",
    "inactive",
    "is",
    "local",
    "no",
    "none",
    "not",
    "on",
    "once",
    "or",
    "per",
    "policy",
    "priority",
    "profile",
    "quiet",
    "reached",
    "restart",
    "segment",
    "send",
    "since",
    "split",
    "template",
    "test",
    "then",
    "times",
    "to",
    "true",
    "until",
    "wait",
    "where",
    "with",
    "within",
    "workflow",
];

/// Delivery channels.
pub const CHANNELS: &[&str] = &["email", "push", "sms", "in_app", "webhook"];

/// `priority` levels.
pub const PRIORITY_LEVELS: &[&str] = &["transactional", "marketing"];

/// Days for `wait until … on WEEKDAY`.
pub const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Other words with a meaning in one place: `messages` in expectations and
/// `file` in `file("…")`.
#[cfg(test)]
const OTHER_WORDS: &[&str] = &["message", "messages", "file"];

/// The words a `.flow` grammar (the text of `grammar/flow.pest`) treats as
/// keywords: the `k_*` rules, `reserved`, `channel`, `priority_level`,
/// `weekday`, `messages_word`, and the `file` of `file_ref`. Each rule's
/// expression is expanded, so `"a" ~ ("nd" | "fter")` yields `and` and
/// `after`. Tests use it to keep completion and the editor grammars in step
/// with the grammar.
pub fn grammar_words(pest: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for (name, body) in rules(pest) {
        let expand = name.starts_with("k_")
            || matches!(
                name,
                "reserved" | "channel" | "priority_level" | "weekday" | "messages_word"
            );
        if expand {
            let tokens = tokenize(body);
            let mut at = 0;
            words.extend(
                alternatives(&tokens, &mut at)
                    .into_iter()
                    .filter(|w| !w.is_empty()),
            );
        } else if name == "file_ref" {
            // Only the word: `file ( string )`.
            words.extend(tokenize(body).into_iter().filter_map(|t| match t {
                Token::Literal(l) if is_word(&l) => Some(l),
                _ => None,
            }));
        }
    }
    words
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name = @{ body }` for every rule: a rule starts a line with its name.
fn rules(pest: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in pest.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let name_len = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        if name_len == 0 {
            continue;
        }
        let rest = line[name_len..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start().trim_start_matches(['_', '@', '$', '!']);
        if !rest.starts_with('{') {
            continue;
        }
        let open = start + (line.len() - rest.len());
        out.push((&line[..name_len], body(pest, open + 1)));
    }
    out
}

/// The text from `from` to the `}` that closes the rule, skipping strings
/// and comments.
fn body(pest: &str, from: usize) -> &str {
    let bytes = pest.as_bytes();
    let mut depth = 1;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return &pest[from..i];
                }
            }
            _ => {}
        }
        i += 1;
    }
    &pest[from..]
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Literal(String),
    Name,
    Seq,
    Alt,
    Open,
    Close,
}

fn tokenize(body: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let mut lit = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                lit.push(e);
                            }
                        }
                        c => lit.push(c),
                    }
                }
                tokens.push(Token::Literal(lit));
            }
            '/' if body[i..].starts_with("//") => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '~' => tokens.push(Token::Seq),
            '|' => tokens.push(Token::Alt),
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            c if c.is_ascii_alphabetic() || c == '_' => {
                while chars
                    .peek()
                    .is_some_and(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
                {
                    chars.next();
                }
                tokens.push(Token::Name);
            }
            _ => {}
        }
    }
    tokens
}

/// `seq ('|' seq)*`; a rule name (such as `kw_end`) matches no text.
fn alternatives(tokens: &[Token], at: &mut usize) -> Vec<String> {
    let mut out = sequence(tokens, at);
    while tokens.get(*at) == Some(&Token::Alt) {
        *at += 1;
        out.extend(sequence(tokens, at));
    }
    out
}

fn sequence(tokens: &[Token], at: &mut usize) -> Vec<String> {
    let mut out = vec![String::new()];
    loop {
        let atom = match tokens.get(*at) {
            Some(Token::Literal(l)) => {
                *at += 1;
                vec![l.clone()]
            }
            Some(Token::Name) => {
                *at += 1;
                vec![String::new()]
            }
            Some(Token::Open) => {
                *at += 1;
                let inner = alternatives(tokens, at);
                if tokens.get(*at) == Some(&Token::Close) {
                    *at += 1;
                }
                inner
            }
            _ => return out,
        };
        out = out
            .iter()
            .flat_map(|a| atom.iter().map(move |b| format!("{a}{b}")))
            .collect();
        if tokens.get(*at) == Some(&Token::Seq) {
            *at += 1;
        } else {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_rules_written_as_tries() {
        let pest = r#"
// a comment = { "no" }
reserved = @{
    ( "a" ~ ("nd" | "fter")   // and, after
    | "i" ~ ("n_app" | "n" | "s")
    | "or"
    ) ~ kw_end
}
k_to = @{ "to" ~ kw_end }
file_ref = { "file" ~ "(" ~ string ~ ")" }
other = { "x" }
"#;
        let words: Vec<String> = grammar_words(pest).into_iter().collect();
        assert_eq!(
            words,
            ["after", "and", "file", "in", "in_app", "is", "or", "to"]
        );
    }

    #[test]
    fn every_grammar_keyword_is_offered() {
        let words = grammar_words(include_str!("../../../grammar/flow.pest"));
        assert!(words.len() > 60, "too few keywords found: {words:?}");
        for w in words {
            let w = w.as_str();
            assert!(
                KEYWORDS.contains(&w)
                    || CHANNELS.contains(&w)
                    || PRIORITY_LEVELS.contains(&w)
                    || WEEKDAYS.contains(&w)
                    || OTHER_WORDS.contains(&w),
                "`{w}` is a keyword of grammar/flow.pest but not in KEYWORDS"
            );
        }
    }
}
