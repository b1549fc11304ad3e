//! The formatter on real files: every example is already in canonical style
//! (a fixed point), and every valid case file formats to a fixed point with
//! the same tree and the same comments.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_syntax::{comment_texts, format_file, same_tree, tree_without_spans};
use nudge_syntax::{parse, render_plain, Parsed, SourceFile};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    files.sort();
    files
}

fn parse_text(name: &str, text: &str) -> Parsed {
    let parsed = parse(Arc::new(SourceFile::new(name, text)));
    assert!(
        parsed.is_ok(),
        "{name} does not parse:\n{}\n--- text ---\n{text}",
        render_plain(&parsed.diagnostics, 80)
    );
    parsed
}

/// Formats `text` and checks everything the formatter promises; returns the
/// formatted text.
fn check_sound(name: &str, text: &str) -> String {
    let before = parse_text(name, text);
    let once = format_file(&before);
    let after = parse_text(&format!("{name} (formatted)"), &once);
    assert!(
        same_tree(&before.file, &after.file),
        "{name}: formatting changed the tree\n--- formatted ---\n{once}\n{}",
        similar::TextDiff::from_lines(
            &tree_without_spans(&before.file),
            &tree_without_spans(&after.file)
        )
        .unified_diff()
    );
    assert_eq!(
        comment_texts(&before),
        comment_texts(&after),
        "{name}: comments changed\n--- formatted ---\n{once}"
    );
    let twice = format_file(&after);
    assert_eq!(
        once,
        twice,
        "{name}: not idempotent\n{}",
        similar::TextDiff::from_lines(&once, &twice).unified_diff()
    );
    once
}

#[test]
fn every_example_is_a_fixed_point() {
    let files = flow_files(&root().join("examples"));
    assert!(files.len() >= 7, "found only {} examples", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let formatted = check_sound(&name, &text);
        assert!(
            formatted == text,
            "{name} is not in canonical style (run `nudge fmt examples`):\n{}",
            similar::TextDiff::from_lines(&text, &formatted).unified_diff()
        );
    }
}

#[test]
fn every_valid_case_formats_soundly() {
    let mut count = 0;
    for dir in ["tests/cases/parse/ok", "tests/cases/check/pass"] {
        for path in flow_files(&root().join(dir)) {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8(bytes).unwrap();
            check_sound(&path.display().to_string(), &text);
            count += 1;
        }
    }
    assert!(count >= 5, "found only {count} valid case files");
}
