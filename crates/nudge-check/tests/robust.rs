//! The checker never panics, whatever the parser hands it: every file of
//! every corpus (parse errors included) is checked, alone and all together.

mod common;

use std::sync::Arc;

use nudge_check::check_project;
use nudge_syntax::SourceFile;

#[test]
fn every_corpus_file_checks_without_panicking() {
    let mut all = Vec::new();
    for dir in [
        "tests/cases/parse",
        "tests/cases/parse/ok",
        "tests/cases/check",
        "tests/cases/check/ok",
        "examples",
    ] {
        let Ok(entries) = std::fs::read_dir(common::root().join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "flow") {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                let src = Arc::new(SourceFile::new(
                    format!("{dir}/{}", path.file_name().unwrap().to_string_lossy()),
                    text,
                ));
                let checked = check_project(std::slice::from_ref(&src), &common::RootLoader);
                assert_eq!(checked.program.is_some(), !checked.has_errors());
                all.push(src);
            }
        }
    }
    assert!(all.len() > 150);
    // One project of everything: duplicates everywhere, still no panic.
    let checked = check_project(&all, &common::RootLoader);
    assert!(checked.has_errors());
}

#[test]
fn unreachable_code_inside_unreachable_code_is_reported_once() {
    let checked = common::check_text(
        "a.flow",
        "profile { email: email? }\nevent e {}\nworkflow w {\n  on e\n  exit\n  if true { send in_app { body: \"a\" } send in_app { body: \"b\" } }\n  wait 1d\n}\n",
    );
    let codes: Vec<_> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![nudge_check::codes::UNREACHABLE]);
}

#[test]
fn an_if_whose_every_branch_exits_ends_the_journey() {
    let checked = common::check_text(
        "a.flow",
        "profile { email: email? }\nevent e { ok: bool }\nworkflow w {\n  on e\n  if event.ok { exit } else { exit }\n  send in_app { body: \"a\" }\n}\n",
    );
    assert_eq!(checked.diagnostics.len(), 1);
    let d = &checked.diagnostics[0];
    assert_eq!(d.code, nudge_check::codes::UNREACHABLE);
    assert!(d
        .labels
        .iter()
        .any(|l| l.message.as_deref() == Some("every path through this ends the journey")));
}
