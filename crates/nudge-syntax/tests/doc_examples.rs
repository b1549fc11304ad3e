//! Every ```flow block of `docs/language.md` is a complete file that parses
//! without a diagnostic. Blocks marked ```flow,ignore are fragments and are
//! skipped.

use std::sync::Arc;

use nudge_syntax::{parse, render_plain, SourceFile};

const DOC: &str = include_str!("../../../docs/language.md");

/// The ```flow blocks of `text`, with the line each starts on.
fn flow_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            Some((_, body)) if line.trim_start() == "```" => {
                let body = std::mem::take(body);
                let (start, _) = current.take().unwrap_or_default();
                blocks.push((start, body));
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None if line.trim() == "```flow" => current = Some((i + 1, String::new())),
            None => {}
        }
    }
    assert!(current.is_none(), "a ```flow block is not closed");
    blocks
}

#[test]
fn every_flow_example_parses() {
    let blocks = flow_blocks(DOC);
    assert!(blocks.len() >= 25, "only {} examples", blocks.len());
    let mut failures = Vec::new();
    for (line, body) in &blocks {
        let name = format!("docs/language.md:{line}");
        let parsed = parse(Arc::new(SourceFile::new(name.clone(), body.as_str())));
        if !parsed.is_ok() {
            failures.push(render_plain(&parsed.diagnostics, 80));
        } else if parsed.file.items.is_empty() {
            failures.push(format!("{name}: the example declares nothing"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn blocks_are_found() {
    let text = "a\n```flow\nevent x {}\n```\n```flow,ignore\nwait\n```\n```text\nno\n```\n";
    assert_eq!(flow_blocks(text), vec![(2, "event x {}\n".to_owned())]);
}
