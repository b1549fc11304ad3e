//! The examples of `docs/language.md` and `README.md` check, as the reader
//! would copy them:
//!
//! - ```flow — a complete file: checked alone.
//! - ```flow decls — declarations leaning on `docs/prelude.flow`: checked
//!   as the prelude followed by the block.
//! - ```flow body — the inside of a workflow (clauses, statements):
//!   checked as the prelude followed by `workflow example { on signed_up …
//!   }` around the block.
//!
//! Other info strings (`text`, `console`, `json`, …) are not flow. A block
//! passes when the checker reports no error (warnings are allowed: some
//! examples show one). The test prints how many blocks it checked.

mod common;

use std::path::Path;
use std::sync::Arc;

use nudge_check::{check_project, TemplateLoader};
use nudge_syntax::{render_plain, Severity, SourceFile};

/// Template files named in examples (`file("templates/…")`) are those of
/// `docs/`, else the example project's.
struct ExamplesLoader;

impl TemplateLoader for ExamplesLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        // The path is relative to the example's "file", in `docs/` or at
        // the root (`README.md`): the template's own name is what counts.
        let name = path
            .components()
            .skip_while(|c| c.as_os_str() != "templates")
            .collect::<std::path::PathBuf>();
        let root = common::root();
        std::fs::read_to_string(root.join("docs").join(&name))
            .or_else(|_| std::fs::read_to_string(root.join("examples").join(&name)))
    }
}

/// How a block is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Complete,
    Decls,
    Body,
}

/// The flow blocks of `text`: the line each starts on, its kind (or the
/// unknown info string) and its text.
fn blocks(text: &str) -> Vec<(usize, Result<Kind, String>, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Result<Kind, String>, String)> = None;
    let mut fenced_other = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some((_, _, body)) = &mut current {
            if trimmed == "```" {
                if let Some(done) = current.take() {
                    out.push(done);
                }
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if fenced_other {
            if trimmed.starts_with("```") {
                fenced_other = false;
            }
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let info = info.trim();
            let kind = match info {
                "flow" => Some(Ok(Kind::Complete)),
                "flow decls" => Some(Ok(Kind::Decls)),
                "flow body" => Some(Ok(Kind::Body)),
                other if other.starts_with("flow") => Some(Err(other.to_owned())),
                _ => None,
            };
            match kind {
                Some(kind) => current = Some((i + 1, kind, String::new())),
                None => fenced_other = true,
            }
        }
    }
    assert!(current.is_none(), "a ```flow block is not closed");
    out
}

/// The text a block is checked as.
fn as_checked(kind: Kind, prelude: &str, body: &str) -> String {
    match kind {
        Kind::Complete => body.to_owned(),
        Kind::Decls => format!("{prelude}\n{body}"),
        Kind::Body => format!("{prelude}\nworkflow example {{\n  on signed_up\n{body}}}\n"),
    }
}

/// The errors of `text`, checked as a one-file project called `name`.
fn errors_of(name: &str, text: String) -> Vec<nudge_syntax::Diagnostic> {
    let checked = check_project(&[Arc::new(SourceFile::new(name, text))], &ExamplesLoader);
    checked
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

#[test]
fn every_flow_example_of_the_docs_checks() {
    let prelude = std::fs::read_to_string(common::root().join("docs/prelude.flow")).unwrap();
    // The prelude itself has no error (its declarations are for the
    // examples: alone, it uses few of them).
    let errors = errors_of("docs/prelude.flow", prelude.clone());
    assert!(errors.is_empty(), "{}", render_plain(&errors, 100));
    let mut failures = Vec::new();
    let mut counts = [0usize; 3];
    for doc in ["docs/language.md", "README.md"] {
        let text = std::fs::read_to_string(common::root().join(doc)).unwrap();
        for (line, kind, body) in blocks(&text) {
            let kind = match kind {
                Ok(k) => k,
                Err(info) => {
                    failures.push(format!(
                        "{doc}:{line}: ```{info} is not a kind of example (flow, flow decls, flow body)"
                    ));
                    continue;
                }
            };
            counts[kind as usize] += 1;
            let name = format!("{doc}:{line}");
            let source = as_checked(kind, &prelude, &body);
            let errors = errors_of(&name, source);
            if !errors.is_empty() {
                failures.push(format!(
                    "{name} ({kind:?}):\n{}",
                    render_plain(&errors, 100)
                ));
            }
        }
    }
    let total: usize = counts.iter().sum();
    eprintln!(
        "{total} examples checked: {} complete files, {} declarations on the prelude, {} workflow bodies",
        counts[0], counts[1], counts[2]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total >= 30, "only {total} examples");
}

#[test]
fn blocks_and_their_kinds_are_found() {
    let text = "a\n```flow\nevent x {}\n```\n```flow body\nwait 1d\n```\n```text\nwait\n```\n```flow nope\nx\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0], (2, Ok(Kind::Complete), "event x {}\n".to_owned()));
    assert_eq!(found[1], (5, Ok(Kind::Body), "wait 1d\n".to_owned()));
    assert_eq!(found[2].1, Err("flow nope".to_owned()));
}
