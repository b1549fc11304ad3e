//! Completion. While typing, the text around the cursor rarely parses, so
//! the context is read from the tokens before the cursor; the candidates
//! come from the project's index (built from what does parse).

use lsp_types::{CompletionItem, CompletionItemKind};

use crate::index::{DeclKind, Index, Member};
use crate::keywords::{CHANNELS, KEYWORDS, PRIORITY_LEVELS, WEEKDAYS};

/// Completions at byte `offset` of `text`.
pub fn complete(index: &Index, text: &str, offset: usize) -> Vec<CompletionItem> {
    let offset = floor_boundary(text, offset);
    let start = word_start(&text[..offset]);
    let before = &text[..start];
    let lexed = lex(before);
    if lexed.in_string && !before.ends_with('.') {
        return Vec::new();
    }
    if let Some(head) = before.strip_suffix('.') {
        let root = &head[word_start(head)..];
        return match root {
            "profile" => profile_fields(index),
            "event" => context_event(&lexed.tokens)
                .map(|e| event_fields(index, &e))
                .unwrap_or_default(),
            e if index.events.contains_key(e) => event_fields(index, e),
            _ => Vec::new(),
        };
    }
    contextual(index, &lexed.tokens).unwrap_or_else(keywords)
}

fn contextual(index: &Index, t: &[Tok<'_>]) -> Option<Vec<CompletionItem>> {
    let n = t.len();
    let last = t.last()?.text;
    let prev = |k: usize| t.get(n.checked_sub(k)?).map(|t| t.text);
    match last {
        "on" => {
            let p = prev(2).unwrap_or("");
            if p == "local" || is_time(p) || t[n - 2].kind == Kind::Str {
                let mut items = vec![item("day", CompletionItemKind::KEYWORD, None)];
                items.extend(
                    WEEKDAYS
                        .iter()
                        .map(|w| item(w, CompletionItemKind::KEYWORD, None)),
                );
                Some(items)
            } else if p == "exit" {
                Some(events(index))
            } else {
                // A trigger: an event, a quiet spell or a date.
                let mut items = events(index);
                items.extend(words(&["inactive", "anniversary", "profile"]));
                Some(items)
            }
        }
        // `on 3d before …`
        "before" | "after" if prev(3) == Some("on") => Some(words(&["anniversary", "profile"])),
        "anniversary" => Some(words(&["of"])),
        "of" if prev(2) == Some("anniversary") => Some(words(&["profile"])),
        "did" | "does" => Some(events(index)),
        // Where a condition starts: what a condition can start with.
        "if" | "audience" | "where" | "and" | "or" | "not" | "(" | "=" if starts_condition(t) => {
            Some(condition_starts(index, t))
        }
        "send" => Some(channels()),
        "entry" => Some(words(&["once", "restart"])),
        "wait" => Some(words(&["for", "until"])),
        "is" => Some(words(&["none", "not"])),
        "once" => Some(words(&["per"])),
        "until" if prev(2) == Some("escalate") => Some(events(index)),
        "for" => {
            let p = prev(2).unwrap_or("");
            if p == "wait" || (CHANNELS.contains(&p) && prev(3) == Some(":")) {
                Some(events(index))
            } else if p == "inactive" {
                None
            } else {
                Some(channels())
            }
        }
        "priority" => Some(
            PRIORITY_LEVELS
                .iter()
                .map(|w| item(w, CompletionItemKind::KEYWORD, None))
                .collect(),
        ),
        "," => {
            // `on a, b` / `exit on a, b` / `for push, sms`
            let mut i = n - 1;
            while i >= 2 && t[i].text == "," && t[i - 1].kind == Kind::Word {
                i -= 2;
            }
            match t.get(i).map(|t| t.text) {
                Some("on") => Some(events(index)),
                Some("for") => Some(channels()),
                _ => members_in_list(index, t, n),
            }
        }
        "in" => {
            let operand = n >= 2
                && (matches!(t[n - 2].text, "]" | ")")
                    || (t[n - 2].kind == Kind::Word && !KEYWORDS.contains(&t[n - 2].text)));
            if operand {
                None
            } else {
                Some(decls(
                    index,
                    DeclKind::Segment,
                    CompletionItemKind::VARIABLE,
                    None,
                ))
            }
        }
        "[" => members_in_list(index, t, n),
        "==" | "!=" => {
            let ty = path_type(index, t, n - 1)?;
            Some(enum_members(index, &ty))
        }
        ":" if prev(3) == Some("template") => Some(channels()),
        ":" => field_value(index, t),
        c if CHANNELS.contains(&c) => {
            let p = prev(2).unwrap_or("");
            let after_step = prev(3) == Some("after");
            let starts_message = matches!(p, "send" | "{" | "}" | "expect" | "no")
                || after_step
                || p.starts_with(|c: char| c.is_ascii_digit());
            starts_message.then(|| {
                decls(
                    index,
                    DeclKind::Template,
                    CompletionItemKind::CLASS,
                    Some(c),
                )
            })
        }
        _ => None,
    }
}

/// Whether the last token begins a condition (`=` only in `segment s =`).
fn starts_condition(t: &[Tok<'_>]) -> bool {
    let n = t.len();
    match t[n - 1].text {
        "=" => n >= 3 && t[n - 3].text == "segment",
        _ => true,
    }
}

/// What a condition can start with: `profile`, `event` (where an event is
/// in scope), the events received (`E.field` after a `wait for E`), `did`,
/// `not`, `inactive for`, and `in` with each segment.
fn condition_starts(index: &Index, t: &[Tok<'_>]) -> Vec<CompletionItem> {
    let mut items = vec![item(
        "profile",
        CompletionItemKind::VARIABLE,
        Some("the profile's attributes: `profile.email`".into()),
    )];
    if let Some(e) = context_event(t) {
        items.push(item(
            "event",
            CompletionItemKind::VARIABLE,
            Some(format!("the `{e}` event's properties")),
        ));
    }
    items.push(item(
        "did",
        CompletionItemKind::KEYWORD,
        Some("`did EVENT [times …] [within D]`".into()),
    ));
    items.push(item("not", CompletionItemKind::KEYWORD, None));
    items.push(item(
        "inactive",
        CompletionItemKind::KEYWORD,
        Some("`inactive for D`".into()),
    ));
    for d in index.decls.iter().filter(|d| d.kind == DeclKind::Segment) {
        let mut it = item(
            &format!("in {}", d.name),
            CompletionItemKind::VARIABLE,
            Some(d.detail.clone()),
        );
        it.documentation = d.doc.clone().map(lsp_types::Documentation::String);
        items.push(it);
    }
    items
}

/// `path in [a, b, ` → the enum members of `path`'s type.
fn members_in_list(index: &Index, t: &[Tok<'_>], n: usize) -> Option<Vec<CompletionItem>> {
    let mut i = n.checked_sub(1)?;
    while i >= 2 && t[i].text == "," && t[i - 1].kind == Kind::Word {
        i -= 2;
    }
    if t.get(i)?.text != "[" || i < 1 || t[i - 1].text != "in" {
        return None;
    }
    let ty = path_type(index, t, i - 1)?;
    Some(enum_members(index, &ty))
}

/// `given profile "u1" { plan: ` → the members of the field's enum.
fn field_value(index: &Index, t: &[Tok<'_>]) -> Option<Vec<CompletionItem>> {
    let n = t.len();
    let field = t.get(n.checked_sub(2)?)?;
    if field.kind != Kind::Word {
        return None;
    }
    // The `{` that opens the object.
    let open = (0..n - 2)
        .rev()
        .find(|&i| t[i].text == "{" && t[i].depth + 1 == field.depth)?;
    let before = |k: usize| open.checked_sub(k).and_then(|i| t.get(i)).map(|t| t.text);
    let member = if before(1) == Some("identify")
        || (before(2) == Some("profile") && before(3) == Some("given"))
    {
        index.profile_field(field.text)
    } else if matches!(before(2), Some("does" | "did")) {
        index.event_field(before(1)?, field.text)
    } else {
        None
    }?;
    Some(enum_members(index, member.base.as_deref()?))
}

/// The enum type of the path that ends at token `end`, if it is one.
fn path_type(index: &Index, t: &[Tok<'_>], end: usize) -> Option<String> {
    let end = end.checked_sub(1)?;
    let field = t.get(end)?;
    if end < 2 || t[end - 1].text != "." {
        return None;
    }
    let root = t[end - 2].text;
    let member: &Member = match root {
        "profile" => index.profile_field(field.text)?,
        "event" => index.event_field(&context_event(&t[..end])?, field.text)?,
        e => index.event_field(e, field.text)?,
    };
    let base = member.base.clone()?;
    index.enums.contains_key(&base).then_some(base)
}

/// The event that `event.` means at the end of `t`: the event of the
/// innermost `X where`, else the template's `for` event or the workflow's
/// trigger.
fn context_event(t: &[Tok<'_>]) -> Option<String> {
    const STOP: &[&str] = &[
        "{", "}", "audience", "send", "wait", "if", "else", "then", "split", "escalate", "exit",
        "entry", "goal", "priority", "on", "after", "and", "or", "segment", "template", "workflow",
    ];
    for i in (0..t.len()).rev() {
        let w = t[i].text;
        if w == "where" {
            return i.checked_sub(1).map(|j| t[j].text.to_owned());
        }
        if STOP.contains(&w) && t[i].kind != Kind::Str {
            break;
        }
    }
    // The enclosing declaration.
    let decl = (0..t.len())
        .rev()
        .find(|&i| t[i].depth == 0 && matches!(t[i].text, "template" | "workflow"))?;
    let rest = &t[decl..];
    if rest[0].text == "template" {
        let header = rest.iter().take_while(|x| x.text != "{");
        let mut words = header.skip_while(|x| x.text != "for").skip(1);
        return words.next().map(|x| x.text.to_owned());
    }
    rest.windows(2)
        .find(|w| w[0].text == "on" && w[0].depth == 1 && w[1].text != "inactive")
        .map(|w| w[1].text.to_owned())
}

fn keywords() -> Vec<CompletionItem> {
    KEYWORDS
        .iter()
        .chain(CHANNELS)
        .map(|k| item(k, CompletionItemKind::KEYWORD, None))
        .collect()
}

fn words(list: &[&str]) -> Vec<CompletionItem> {
    list.iter()
        .map(|k| item(k, CompletionItemKind::KEYWORD, None))
        .collect()
}

fn channels() -> Vec<CompletionItem> {
    CHANNELS
        .iter()
        .map(|k| item(k, CompletionItemKind::KEYWORD, None))
        .collect()
}

fn events(index: &Index) -> Vec<CompletionItem> {
    decls(index, DeclKind::Event, CompletionItemKind::EVENT, None)
}

fn decls(
    index: &Index,
    kind: DeclKind,
    item_kind: CompletionItemKind,
    channel: Option<&str>,
) -> Vec<CompletionItem> {
    index
        .decls
        .iter()
        .filter(|d| d.kind == kind)
        .filter(|d| channel.is_none() || d.channel.map(|c| c.as_str()) == channel)
        .map(|d| {
            let mut it = item(&d.name, item_kind, Some(d.detail.clone()));
            it.documentation = d.doc.clone().map(lsp_types::Documentation::String);
            it
        })
        .collect()
}

fn profile_fields(index: &Index) -> Vec<CompletionItem> {
    let mut items = fields(&index.profile);
    if index.profile_field("id").is_none() {
        items.insert(
            0,
            item("id", CompletionItemKind::FIELD, Some("string".to_owned())),
        );
    }
    items
}

fn event_fields(index: &Index, event: &str) -> Vec<CompletionItem> {
    index
        .events
        .get(event)
        .map(|f| fields(f))
        .unwrap_or_default()
}

fn fields(members: &[Member]) -> Vec<CompletionItem> {
    members
        .iter()
        .map(|m| {
            let mut it = item(&m.name, CompletionItemKind::FIELD, Some(m.ty.clone()));
            it.documentation = m.doc.clone().map(lsp_types::Documentation::String);
            it
        })
        .collect()
}

fn enum_members(index: &Index, enum_name: &str) -> Vec<CompletionItem> {
    index
        .enums
        .get(enum_name)
        .map(|members| {
            members
                .iter()
                .map(|m| {
                    let mut it = item(
                        &m.name,
                        CompletionItemKind::ENUM_MEMBER,
                        Some(enum_name.to_owned()),
                    );
                    it.documentation = m.doc.clone().map(lsp_types::Documentation::String);
                    it
                })
                .collect()
        })
        .unwrap_or_default()
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

// ------------------------------------------------------------------ tokens

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Punct,
    Str,
}

#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    text: &'a str,
    kind: Kind,
    /// `{` nesting before the token.
    depth: usize,
}

struct Lexed<'a> {
    tokens: Vec<Tok<'a>>,
    /// The text ends inside a string (outside an interpolation).
    in_string: bool,
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where the word that `s` ends with starts: just after the last character
/// that cannot be part of a name (which may take several bytes: `ß`, an
/// emoji, U+2028).
fn word_start(s: &str) -> usize {
    s.char_indices()
        .rev()
        .find(|&(_, c)| !is_ident_char(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

fn is_time(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit()) && word.contains(':')
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Tokens of `text`, skipping comments; a string is one token, and text in
/// an unfinished string's interpolation is lexed as code.
fn lex(text: &str) -> Lexed<'_> {
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if c == b'"' {
            match string_end(b, i) {
                Some(end) => {
                    tokens.push(Tok {
                        text: &text[i..end],
                        kind: Kind::Str,
                        depth,
                    });
                    i = end;
                }
                None => {
                    // Unfinished: the cursor is inside. Lex an open
                    // interpolation's text as code.
                    match open_interp(b, i) {
                        Some(start) => {
                            let inner = lex(&text[start..]);
                            in_string = inner.in_string;
                            tokens.extend(inner.tokens.into_iter().map(|t| Tok {
                                depth: t.depth + depth,
                                ..t
                            }));
                        }
                        None => in_string = true,
                    }
                    break;
                }
            }
        } else if is_ident_char(char::from(c)) {
            let start = i;
            let number = c.is_ascii_digit();
            while i < b.len()
                && (is_ident_char(char::from(b[i]))
                    || (number && matches!(b[i], b':' | b'.' | b'%')))
            {
                i += 1;
            }
            tokens.push(Tok {
                text: &text[start..i],
                kind: Kind::Word,
                depth,
            });
        } else {
            let two = text.get(i..i + 2);
            let len = match two {
                Some("==" | "!=" | "<=" | ">=" | "??") => 2,
                _ => text[i..].chars().next().map_or(1, char::len_utf8),
            };
            let tok = &text[i..i + len];
            tokens.push(Tok {
                text: tok,
                kind: Kind::Punct,
                depth,
            });
            match tok {
                "{" => depth += 1,
                "}" => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += len;
        }
    }
    Lexed { tokens, in_string }
}

/// The end (one past the closing quote) of the string starting at `start`,
/// or `None` if it is not closed on its line.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut interp = 0usize;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'\n' => return None,
            b'{' if b.get(i + 1) == Some(&b'{') && interp == 0 => i += 1,
            b'}' if b.get(i + 1) == Some(&b'}') && interp == 0 => i += 1,
            b'{' => interp += 1,
            b'}' => interp = interp.saturating_sub(1),
            b'"' if interp > 0 => {
                // A string inside an interpolation.
                i = string_end(b, i)? - 1;
            }
            b'"' => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where the text of the last unclosed `{` interpolation of the unfinished
/// string at `start` begins.
fn open_interp(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' if b.get(i + 1) == Some(&b'{') => i += 1,
            b'}' if b.get(i + 1) == Some(&b'}') => i += 1,
            b'{' => open = Some(i + 1),
            b'}' => open = None,
            _ => {}
        }
        i += 1;
    }
    open
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nudge_syntax::SourceFile;

    use super::*;

    const SCHEMA: &str = r#"
enum Plan { starter, pro }
profile { email: email?, plan: Plan }
event bought { total: float, plan: Plan }
event left {}
segment paid = profile.plan == pro
template hi: email for bought { subject: "x" }
template yo: push { title: "x" }
"#;

    fn labels(text: &str) -> Vec<String> {
        let cursor = text.find('|').unwrap();
        let text = text.replace('|', "");
        let src = Arc::new(SourceFile::new("a.flow", format!("{SCHEMA}{text}")));
        let parsed = nudge_syntax::parse(src);
        let index = Index::build(&[&parsed.file], Vec::new());
        complete(&index, parsed.source.text(), SCHEMA.len() + cursor)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    /// Completion right after a character of several bytes used to slice
    /// inside it and kill the server.
    #[test]
    fn completion_after_a_multi_byte_character() {
        for text in [
            "ß",
            "é.",
            "😀",
            "a\u{2028}",
            "\u{feff}",
            "x ß|.",
            "profile.ß",
        ] {
            let index = Index::default();
            for offset in 0..=text.len() {
                let _ = complete(&index, text, offset);
            }
        }
        assert!(!labels("workflow w {\n on bought\n // ß\n if event.|").is_empty());
    }

    #[test]
    fn event_properties_of_the_trigger() {
        assert_eq!(
            labels("workflow w {\n on bought\n if event.t|"),
            ["total", "plan"]
        );
        assert_eq!(
            labels("workflow w {\n on left\n exit on bought where event.|"),
            ["total", "plan"]
        );
        assert_eq!(
            labels("template t: sms for bought { text: \"{event.|"),
            ["total", "plan"]
        );
        assert_eq!(labels("segment s = profile.|"), ["id", "email", "plan"]);
    }

    #[test]
    fn names_by_position() {
        assert_eq!(
            labels("workflow w { on |"),
            ["bought", "left", "inactive", "anniversary", "profile"]
        );
        assert_eq!(
            labels("workflow w { on left exit on b|"),
            ["bought", "left"]
        );
        assert_eq!(
            labels("workflow w { on left wait for |"),
            ["bought", "left"]
        );
        assert_eq!(labels("segment s = did |"), ["bought", "left"]);
        assert_eq!(labels("workflow w { on left audience in |"), ["paid"]);
        assert_eq!(labels("workflow w { on left send email |"), ["hi"]);
        assert_eq!(labels("workflow w { on left send push |"), ["yo"]);
    }

    #[test]
    fn enum_members_where_an_enum_is_expected() {
        assert_eq!(labels("segment s = profile.plan == |"), ["starter", "pro"]);
        assert_eq!(
            labels("segment s = profile.plan in [pro, |"),
            ["starter", "pro"]
        );
        assert_eq!(
            labels("workflow w { on bought where event.plan != |"),
            ["starter", "pro"]
        );
        assert_eq!(
            labels("test \"t\" { given profile \"u\" { plan: |"),
            ["starter", "pro"]
        );
    }

    #[test]
    fn days_after_a_time_and_levels_after_priority() {
        let days = labels("workflow w { on left wait until 09:00 local on |");
        assert_eq!(days[0], "day");
        assert!(days.contains(&"monday".to_owned()) && days.len() == 8);
        let days = labels("workflow w { on left wait until 09:00 in \"Europe/Paris\" on |");
        assert_eq!(days[0], "day");
        assert_eq!(
            labels("workflow w { on left priority |"),
            ["transactional", "marketing"]
        );
        assert_eq!(
            labels("policy { quiet hours 21:00 to 08:00 for push, |"),
            ["email", "push", "sms", "in_app", "webhook"]
        );
    }

    #[test]
    fn the_words_that_may_follow() {
        assert_eq!(labels("workflow w { on left send |")[0], "email");
        assert_eq!(labels("template t: |")[0], "email");
        assert_eq!(labels("workflow w { on left entry |"), ["once", "restart"]);
        assert_eq!(labels("workflow w { on left wait |"), ["for", "until"]);
        assert_eq!(labels("segment s = profile.email is |"), ["none", "not"]);
    }

    #[test]
    fn conditions_start_with_what_a_condition_can_start_with() {
        let after_if = labels("workflow w {\n on bought\n if |");
        assert_eq!(
            after_if,
            ["profile", "event", "did", "not", "inactive", "in paid"]
        );
        // No event is in scope in a segment.
        assert_eq!(
            labels("segment s = |"),
            ["profile", "did", "not", "inactive", "in paid"]
        );
        assert_eq!(
            labels("workflow w { on left audience |")[..2],
            ["profile", "event"]
        );
        assert_eq!(labels("workflow w { on bought where |")[1], "event");
        assert!(
            labels("workflow w { on left audience profile.email != none and |")
                .contains(&"did".to_owned())
        );
        // Not after a comparison's `=`.
        assert!(labels("workflow w {\n on left\n if profile.plan == |").contains(&"pro".to_owned()));
    }

    #[test]
    fn triggers_after_on() {
        let on = labels("workflow w {\n on |");
        assert!(on.contains(&"bought".to_owned()), "{on:?}");
        assert!(on.ends_with(&[
            "inactive".to_owned(),
            "anniversary".to_owned(),
            "profile".to_owned()
        ]));
        assert!(!labels("workflow w {\n on left\n exit on |").contains(&"profile".to_owned()));
        assert_eq!(
            labels("workflow w {\n on 3d before |"),
            ["anniversary", "profile"]
        );
        assert_eq!(labels("workflow w {\n on anniversary |"), ["of"]);
        assert_eq!(labels("workflow w {\n on anniversary of |"), ["profile"]);
    }

    #[test]
    fn keywords_elsewhere() {
        let all = labels("workflow w { on left\n |");
        assert!(all.contains(&"send".to_owned()) && all.contains(&"escalate".to_owned()));
        assert!(labels("segment s = \"in a |string\"").is_empty());
    }
}
