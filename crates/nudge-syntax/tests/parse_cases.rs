//! The parse corpus: every file in `tests/cases/parse/` holds one mistake a
//! user makes, and its rendered diagnostics are locked by a snapshot; every
//! file in `tests/cases/parse/ok/` is an edge case that must parse cleanly.

use std::path::Path;
use std::sync::Arc;

use nudge_syntax::ast::Item;
use nudge_syntax::{parse, render_plain, Parsed, SourceFile};

/// Parses `path`, named by its place in the repository so snapshots do not
/// depend on where the checkout lives.
#[allow(clippy::unwrap_used)] // a test helper: a missing case file is a failure
fn parse_case(dir: &str, path: &Path) -> Parsed {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let file_name = path.file_name().unwrap().to_string_lossy();
    let name = format!("{dir}/{file_name}");
    parse(Arc::new(SourceFile::new(name, text)))
}

/// A grammar rule's name in a message: users never see those.
fn rule_name_in(text: &str) -> Option<&str> {
    const RULES: [&str; 9] = [
        "WHITESPACE",
        "COMMENT",
        "EOI",
        "SOI",
        "ident",
        "expr",
        "primary",
        "infix",
        "stmt",
    ];
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| {
            RULES.contains(w)
                || w.starts_with("k_")
                || ["_decl", "_stmt", "_rule", "_op", "_lit", "_expr", "_step"]
                    .iter()
                    .any(|suffix| w.ends_with(suffix))
        })
}

#[test]
fn invalid_cases() {
    let mut count = 0;
    let mut clean = Vec::new();
    let mut problems = Vec::new();
    insta::glob!("../../../tests/cases/parse", "*.flow", |path| {
        count += 1;
        let parsed = parse_case("tests/cases/parse", path);
        if parsed.diagnostics.is_empty() {
            clean.push(path.display().to_string());
        }
        let rendered = render_plain(&parsed.diagnostics, 80);
        for d in &parsed.diagnostics {
            let primary = d.labels.iter().find(|l| l.primary);
            let label = primary.and_then(|l| l.message.as_deref()).unwrap_or("");
            if label.is_empty() {
                problems.push(format!(
                    "{}: `{}` has no primary label",
                    path.display(),
                    d.message
                ));
            }
            for text in [d.message.as_str(), label, d.help.as_deref().unwrap_or("")] {
                if let Some(word) = rule_name_in(text) {
                    problems.push(format!(
                        "{}: `{text}` names the rule `{word}`",
                        path.display()
                    ));
                }
            }
            if d.message.ends_with('.') || d.message.starts_with(char::is_uppercase) {
                problems.push(format!(
                    "{}: `{}` is not lowercase without a period",
                    path.display(),
                    d.message
                ));
            }
        }
        insta::assert_snapshot!(rendered);
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(clean.is_empty(), "these parsed without an error: {clean:?}");
    assert!(count >= 45, "only {count} invalid cases");
}

/// The name of an enum variant from its `Debug` form.
fn variant(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}")
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_owned()
}

/// One line per declaration: its keyword, first line, lines, doc, and the
/// kinds of its parts.
fn outline(parsed: &Parsed, item: &Item) -> String {
    let source = &parsed.source;
    let span = item.span();
    let first = source.text()[span.range()].lines().next().unwrap_or("");
    let from = source.line_col(span.start as usize).line;
    let last = span.start as usize + source.text()[span.range()].trim_end().len();
    let to = source.line_col(last).line;
    let mut line = format!("{} | {first} | lines {from}-{to}", item.keyword());
    if let Some(doc) = item.doc() {
        line.push_str(&format!(" | doc {:?}", doc.text));
    }
    let parts: Vec<String> = match item {
        Item::Workflow(w) => w
            .clauses
            .iter()
            .map(variant)
            .chain(w.body.iter().map(variant))
            .collect(),
        Item::Test(t) => t.steps.iter().map(variant).collect(),
        Item::Policy(p) => p.rules.iter().map(variant).collect(),
        Item::Enum(e) => e.members.iter().map(|m| m.name.name.clone()).collect(),
        Item::Event(e) => e.fields.iter().map(|f| f.name.name.clone()).collect(),
        Item::Profile(p) => p.fields.iter().map(|f| f.name.name.clone()).collect(),
        Item::Template(t) => t
            .fields
            .fields
            .iter()
            .map(|f| f.name.name.clone())
            .collect(),
        Item::Segment(s) => vec![variant(&s.condition.kind)],
    };
    if !parts.is_empty() {
        line.push_str(&format!(" | {}", parts.join(" ")));
    }
    line
}

#[test]
fn valid_cases() {
    let mut count = 0;
    insta::glob!("../../../tests/cases/parse/ok", "*.flow", |path| {
        count += 1;
        let parsed = parse_case("tests/cases/parse/ok", path);
        assert!(
            parsed.is_ok(),
            "{}:\n{}",
            path.display(),
            render_plain(&parsed.diagnostics, 80)
        );
        let summary: Vec<String> = parsed
            .file
            .items
            .iter()
            .map(|item| outline(&parsed, item))
            .collect();
        insta::assert_snapshot!(summary.join("\n"));
    });
    assert!(count >= 5, "only {count} valid cases");
}
