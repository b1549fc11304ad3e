//! `docs/errors/README.md` lists every page under `docs/errors/*/`, every
//! link it holds leads to a page, and every code the crates define is listed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

/// The relative targets of the markdown links `](target)` in `text`,
/// without `#fragment` links and external addresses.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !target.starts_with('#') && !target.contains("://") {
            out.push(target.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// Every `AREA/NAME.md` page under `dir` (one level of folders).
fn pages(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for area in std::fs::read_dir(dir).unwrap() {
        let area = area.unwrap().path();
        if !area.is_dir() {
            continue;
        }
        let area_name = area.file_name().unwrap().to_str().unwrap().to_owned();
        for page in std::fs::read_dir(&area).unwrap() {
            let page = page.unwrap().path();
            if page.extension().and_then(|e| e.to_str()) == Some("md") {
                let name = page.file_name().unwrap().to_str().unwrap();
                out.insert(format!("{area_name}/{name}"));
            }
        }
    }
    out
}

fn index() -> String {
    std::fs::read_to_string(common::root().join("docs/errors/README.md"))
        .expect("docs/errors/README.md exists")
}

#[test]
fn every_page_is_listed_in_the_index() {
    let dir = common::root().join("docs/errors");
    let listed: BTreeSet<String> = links(&index()).into_iter().collect();
    let missing: Vec<String> = pages(&dir)
        .into_iter()
        .filter(|p| !listed.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/errors/README.md does not list: {missing:?}"
    );
}

#[test]
fn every_link_of_the_index_leads_to_a_page() {
    let dir = common::root().join("docs/errors");
    let text = index();
    let targets = links(&text);
    assert!(!targets.is_empty(), "the index links to no page");
    for target in targets {
        assert!(
            dir.join(&target).is_file(),
            "docs/errors/README.md links to a missing page: {target}"
        );
    }
}

#[test]
fn every_row_names_the_code_of_its_page() {
    // `| [`nudge::area::name`](area/name.md) | … |`: the code shown is the
    // code of the page it links to.
    for line in index().lines().filter(|l| l.starts_with("| [`")) {
        let code = line
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("no code in {line}"));
        let target = &links(line)[0];
        let expected = format!(
            "nudge::{}",
            target.trim_end_matches(".md").replace('/', "::")
        );
        assert_eq!(code, expected, "row links to the page of another code");
    }
}

#[test]
fn every_code_defined_by_the_crates_is_listed() {
    let text = index();
    let all = nudge_check::codes::ALL
        .iter()
        .chain(nudge_syntax::codes::parse::ALL)
        .chain(nudge_syntax::codes::io::ALL);
    for code in all {
        assert!(
            text.contains(&format!("[`{code}`]")),
            "docs/errors/README.md does not list {code}"
        );
    }
}

#[test]
fn the_lints_table_lists_exactly_the_warnings() {
    let text = index();
    let start = text.find("\n## Lints").expect("a Lints section");
    let section = &text[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    let listed: BTreeSet<&str> = section
        .lines()
        .filter(|l| l.starts_with("| [`"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    let warnings: BTreeSet<&str> = nudge_check::codes::WARNINGS.iter().copied().collect();
    assert_eq!(listed, warnings);
}
