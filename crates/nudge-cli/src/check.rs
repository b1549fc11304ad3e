//! `nudge check`: parse (and type-check) projects and report.

use std::sync::Arc;

use nudge_syntax::project;
use nudge_syntax::{Diagnostic, Severity};

use crate::cli::CheckArgs;
use crate::report;

/// Exit code: nothing wrong.
pub const EXIT_OK: u8 = 0;
/// Exit code: the flows have errors.
pub const EXIT_ERRORS: u8 = 1;
/// Exit code: usage, IO or internal error.
pub const EXIT_FAILURE: u8 = 2;

/// Runs `nudge check`; returns the exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let (projects, load_errors) = project::load(&args.paths);
    let mut diagnostics: Vec<Diagnostic> = load_errors.in_files;
    for project in &projects {
        diagnostics.extend(check_project(&project.files));
    }
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let fatal = !load_errors.fatal.is_empty();
    let mut all = load_errors.fatal;
    all.extend(diagnostics);
    let files = projects.iter().map(|p| p.files.len()).sum();
    if let Err(e) = report::emit(args.format, &all, files, &mut std::io::stdout().lock()) {
        eprintln!("error: cannot write the report: {e}");
        return EXIT_FAILURE;
    }
    if fatal {
        return EXIT_FAILURE;
    }
    let errors = all.iter().any(|d| d.severity == Severity::Error);
    let warnings = all.iter().any(|d| d.severity == Severity::Warning);
    if errors || (args.deny_warnings && warnings) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
}

/// Every diagnostic of one project.
pub fn check_project(files: &[Arc<nudge_syntax::SourceFile>]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in files {
        let parsed = nudge_syntax::parse(file.clone());
        out.extend(parsed.diagnostics);
    }
    out
}
