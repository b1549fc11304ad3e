//! Every parse error code has a page in `docs/errors/parse/`, and the page's
//! examples are true: the Example block produces the code, the Fix block
//! parses cleanly.

use std::sync::Arc;

use nudge_syntax::codes;
use nudge_syntax::{parse, render_plain, Parsed, SourceFile};

const PAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors/parse");

/// The first ```flow block after the line `heading`.
fn block_after<'a>(page: &'a str, heading: &str) -> Option<&'a str> {
    let after = &page[page.find(heading)? + heading.len()..];
    let start = after.find("```flow\n")? + "```flow\n".len();
    let body = &after[start..];
    Some(&body[..body.find("\n```")? + 1])
}

fn parse_text(name: &str, text: &str) -> Parsed {
    parse(Arc::new(SourceFile::new(name, text)))
}

#[test]
fn every_parse_code_has_a_true_page() {
    let mut problems = Vec::new();
    for code in codes::parse::ALL {
        let name = code.trim_start_matches("nudge::parse::");
        let path = format!("{PAGES}/{name}.md");
        let Ok(page) = std::fs::read_to_string(&path) else {
            problems.push(format!("{code}: no page at docs/errors/parse/{name}.md"));
            continue;
        };
        if page.lines().next() != Some(&format!("# {code}")) {
            problems.push(format!("{code}: the page does not start with `# {code}`"));
        }
        match block_after(&page, "\n## Example\n") {
            None => problems.push(format!("{code}: no ```flow block under `## Example`")),
            Some(example) => {
                let parsed = parse_text(&format!("{name}-example.flow"), example);
                if !parsed.diagnostics.iter().any(|d| d.code == *code) {
                    problems.push(format!(
                        "{code}: the example does not produce it; it gives:\n{}",
                        render_plain(&parsed.diagnostics, 80)
                    ));
                }
            }
        }
        match block_after(&page, "\n## Fix\n") {
            None => problems.push(format!("{code}: no ```flow block under `## Fix`")),
            Some(fix) => {
                let parsed = parse_text(&format!("{name}-fix.flow"), fix);
                if !parsed.is_ok() {
                    problems.push(format!(
                        "{code}: the fix does not parse:\n{}",
                        render_plain(&parsed.diagnostics, 80)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_page_is_for_a_known_code() {
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(PAGES).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let code = format!("nudge::parse::{name}");
        if path.extension().is_some_and(|e| e == "md")
            && !codes::parse::ALL.contains(&code.as_str())
        {
            stale.push(code);
        }
    }
    assert!(
        stale.is_empty(),
        "pages for codes that do not exist: {stale:?}"
    );
}
