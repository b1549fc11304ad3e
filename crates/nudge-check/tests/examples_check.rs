//! Every example checks clean: no errors and no warnings.

mod common;

use std::sync::Arc;

use nudge_check::{check_project, FsLoader};
use nudge_syntax::{project, render_plain};

#[test]
fn examples_check_clean() {
    let dir = common::root().join("examples");
    let files = project::flow_files_in(&dir).unwrap();
    assert!(files.len() >= 5);
    let sources: Vec<_> = files
        .iter()
        .map(|p| Arc::new(project::read_source(p).ok().unwrap()))
        .collect();
    let checked = check_project(&sources, &FsLoader);
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render_plain(&checked.diagnostics, 100)
    );
    let program = checked.program.expect("a program");
    assert_eq!(program.workflows.len(), 7);
    assert!(program.policy.is_some());
}
