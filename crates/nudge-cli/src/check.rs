//! `nudge check`: parse (and type-check) projects and report.

use std::io::Write as _;
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
    // Files that could not be decoded were found all the same.
    let files = projects.iter().map(|p| p.files.len()).sum::<usize>() + load_errors.in_files.len();
    let mut diagnostics: Vec<Diagnostic> = load_errors.in_files;
    for project in &projects {
        diagnostics.extend(check_project(&project.files));
    }
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let fatal = !load_errors.fatal.is_empty();
    let mut all = load_errors.fatal;
    all.extend(diagnostics);

    let status = if fatal {
        EXIT_FAILURE
    } else {
        exit_code(&all, args.deny_warnings)
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match report::emit(args.format, &all, files, &mut out).and_then(|()| out.flush()) {
        Ok(()) => status,
        // The reader went away (`nudge check | head`): nothing to tell it.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            EXIT_FAILURE
        }
    }
}

/// The exit code for the diagnostics of a run that found its files.
fn exit_code(diagnostics: &[Diagnostic], deny_warnings: bool) -> u8 {
    let fails = |d: &&Diagnostic| match d.severity {
        Severity::Error => true,
        Severity::Warning => deny_warnings,
    };
    if diagnostics.iter().any(|d| fails(&d)) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
}

/// Every diagnostic of one project: parse errors, type errors and lints
/// (template files are read relative to each `.flow` file's folder).
pub fn check_project(files: &[Arc<nudge_syntax::SourceFile>]) -> Vec<Diagnostic> {
    nudge_check::check_project(files, &nudge_check::FsLoader).diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_fail_only_when_denied() {
        let warning = Diagnostic::warning("nudge::check::unused", "unused");
        let error = Diagnostic::error("nudge::parse::unexpected", "unexpected");
        assert_eq!(exit_code(&[], true), EXIT_OK);
        assert_eq!(exit_code(std::slice::from_ref(&warning), false), EXIT_OK);
        assert_eq!(exit_code(std::slice::from_ref(&warning), true), EXIT_ERRORS);
        assert_eq!(exit_code(&[warning, error], false), EXIT_ERRORS);
    }
}
