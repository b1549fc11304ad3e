//! Every check code has a page in `docs/errors/check/`, and every page's
//! Example produces its code while its Fix checks with no diagnostic.

mod common;

use std::path::Path;
use std::sync::Arc;

use nudge_check::{check_project, codes, TemplateLoader};
use nudge_syntax::{render_plain, SourceFile};

/// The template files the pages talk about.
struct PageFiles;

impl TemplateLoader for PageFiles {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("welcome.html") => Ok("<p>Hello {{ profile.email }}</p>\n".to_owned()),
            Some("broken.html") => Ok("{% if profile.email %}Hi{% endfor %}\n".to_owned()),
            Some("typo.html") => Ok("<p>Hello {{ profile.frist_name }}</p>\n".to_owned()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )),
        }
    }
}

/// The first ```flow block after `heading`.
fn block_after<'a>(page: &'a str, heading: &str) -> Option<&'a str> {
    let rest = &page[page.find(heading)?..];
    let start = rest.find("```flow\n")? + "```flow\n".len();
    let end = rest[start..].find("```")?;
    Some(&rest[start..start + end])
}

#[test]
fn every_code_has_a_page_whose_examples_behave() {
    let dir = common::root().join("docs/errors/check");
    for code in codes::ALL {
        let name = code.strip_prefix("nudge::check::").unwrap();
        let path = dir.join(format!("{name}.md"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{code} has no page at {}", path.display()));
        assert!(
            page.starts_with(&format!("# {code}\n")),
            "{name}.md: title line"
        );
        let example =
            block_after(&page, "## Example").unwrap_or_else(|| panic!("{name}.md: no Example"));
        let fix = block_after(&page, "## Fix").unwrap_or_else(|| panic!("{name}.md: no Fix"));
        let file = format!("docs/{name}.flow");
        let checked = check_project(
            &[Arc::new(SourceFile::new(file.clone(), example))],
            &PageFiles,
        );
        assert!(
            checked.diagnostics.iter().any(|d| d.code == *code),
            "{name}.md: the Example does not produce {code}:\n{}",
            render_plain(&checked.diagnostics, 80)
        );
        let checked = check_project(&[Arc::new(SourceFile::new(file, fix))], &PageFiles);
        assert!(
            checked.diagnostics.is_empty(),
            "{name}.md: the Fix is not clean:\n{}",
            render_plain(&checked.diagnostics, 80)
        );
    }
}

#[test]
fn every_page_is_a_code() {
    let dir = common::root().join("docs/errors/check");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let code = format!("nudge::check::{name}");
        assert!(
            codes::ALL.contains(&code.as_str()),
            "{} documents no code",
            path.display()
        );
    }
}

#[test]
fn warnings_are_the_lints() {
    for code in codes::WARNINGS {
        assert!(codes::ALL.contains(code));
    }
}
