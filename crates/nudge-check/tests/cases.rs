//! The checker corpus: every file in `tests/cases/check/` is a one-file
//! project with at least one mistake; its diagnostics are locked by
//! snapshots, rendered for people and as JSON. Every file in
//! `tests/cases/check/ok/` must check with no diagnostic at all.

mod common;

use nudge_syntax::{render_plain, Severity};

#[test]
fn failing_cases() {
    let mut count = 0;
    let mut clean = Vec::new();
    insta::glob!("../../../tests/cases/check", "*.flow", |path| {
        count += 1;
        let checked = common::check_file(path);
        if checked.diagnostics.is_empty() {
            clean.push(path.display().to_string());
        }
        for d in &checked.diagnostics {
            assert!(
                d.code.starts_with("nudge::check::") || d.code.starts_with("nudge::parse::"),
                "{}",
                d.code
            );
            assert!(
                d.help.is_some(),
                "{}: `{}` has no help",
                path.display(),
                d.message
            );
            assert!(
                d.labels.iter().any(|l| l.primary),
                "{}: `{}` has no primary label",
                path.display(),
                d.message
            );
            assert!(!d.message.ends_with('.'), "{}", d.message);
            assert!(
                d.message.chars().next().is_some_and(|c| !c.is_uppercase()),
                "{}",
                d.message
            );
        }
        if checked
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            assert!(checked.program.is_none());
        }
        let json: Vec<_> = checked.diagnostics.iter().map(common::json).collect();
        insta::assert_snapshot!("human", render_plain(&checked.diagnostics, 80));
        insta::assert_json_snapshot!("json", json);
    });
    assert!(clean.is_empty(), "these checked clean: {clean:?}");
    assert!(count >= 60, "only {count} failing cases");
}

#[test]
fn passing_cases() {
    let mut count = 0;
    insta::glob!("../../../tests/cases/check/ok", "*.flow", |path| {
        count += 1;
        let checked = common::check_file(path);
        assert!(
            checked.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            render_plain(&checked.diagnostics, 80)
        );
        assert!(checked.program.is_some());
    });
    assert!(count >= 20, "only {count} passing cases");
}

#[test]
fn diagnostics_are_sorted_by_file_then_position() {
    use std::sync::Arc;
    let a = Arc::new(nudge_syntax::SourceFile::new(
        "b.flow",
        "event e { x: strin }\nevent f { y: nt }\n",
    ));
    let b = Arc::new(nudge_syntax::SourceFile::new(
        "a.flow",
        "profile { p: Plna }\n",
    ));
    let checked = nudge_check::check_project(&[a, b], &common::RootLoader);
    let keys: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.source.as_ref().unwrap().name().to_owned(),
                d.primary_span().unwrap().start,
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys[0].0, "a.flow");
}
