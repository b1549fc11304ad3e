//! `nudge test`: runs the `test` blocks of projects on a virtual clock.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use nudge_bytecode::compile;
use nudge_syntax::{project, Diagnostic, Severity};
use nudge_vm::testing::{run_tests, TestOutcome};

use crate::check::{EXIT_ERRORS, EXIT_FAILURE, EXIT_OK};
use crate::compile::COMPILER_VERSION;

/// `nudge test`
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Files or folders; a folder is one project. Default: the current folder.
    pub paths: Vec<PathBuf>,
}

/// What a run of `nudge test` found, ready to print.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per test, then the failures, then the summary.
    pub text: String,
    /// The exit code.
    pub code: u8,
}

/// Renders diagnostics as `nudge check` does for people (colour only on a
/// terminal, and never with `NO_COLOR`).
fn render(diagnostics: &[Diagnostic], color: bool) -> String {
    if !color {
        return nudge_syntax::render_plain(diagnostics, 80);
    }
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode());
    let mut out = String::new();
    for d in diagnostics {
        let mut s = String::new();
        if handler.render_report(&mut s, d).is_err() {
            s = format!("{}: {}\n", d.severity, d.message);
        }
        out.push_str(&s);
        out.push('\n');
    }
    out
}

fn line(t: &TestOutcome) -> String {
    format!(
        "test {} :: {} ... {} ({} simulated, {} message{})\n",
        t.source.name(),
        t.name,
        if t.passed() { "ok" } else { "FAILED" },
        nudge_bytecode::format_duration(t.simulated.num_seconds()),
        t.messages,
        if t.messages == 1 { "" } else { "s" }
    )
}

/// Runs the tests of `paths`, collecting the output.
pub fn run_paths(paths: &[PathBuf], color: bool) -> Report {
    let (projects, load_errors) = project::load(paths);
    if !load_errors.fatal.is_empty() {
        return Report {
            text: render(&load_errors.fatal, color),
            code: EXIT_FAILURE,
        };
    }
    let mut text = String::new();
    let mut check_errors: Vec<Diagnostic> = load_errors.in_files;
    let mut outcomes: Vec<TestOutcome> = Vec::new();
    for project in &projects {
        let checked = nudge_check::check_project(&project.files, &nudge_check::FsLoader);
        let errors: Vec<Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect();
        let Some(program) = checked.program.as_ref().filter(|_| errors.is_empty()) else {
            check_errors.extend(errors);
            continue;
        };
        match compile(program, COMPILER_VERSION) {
            Ok(module) => outcomes.extend(run_tests(&checked.parsed, &module)),
            Err(e) => {
                return Report {
                    text: format!("error: internal compiler error: {e}\n"),
                    code: EXIT_FAILURE,
                }
            }
        }
    }
    if !check_errors.is_empty() {
        text.push_str(&render(&check_errors, color));
        text.push_str(&format!(
            "error: the flows have {} error{}; their tests did not run\n",
            check_errors.len(),
            if check_errors.len() == 1 { "" } else { "s" }
        ));
    }
    for t in &outcomes {
        text.push_str(&line(t));
    }
    let failed: Vec<&TestOutcome> = outcomes.iter().filter(|t| !t.passed()).collect();
    if !failed.is_empty() {
        text.push_str("\nfailures:\n\n");
        for t in &failed {
            text.push_str(&format!("---- {} :: {} ----\n", t.source.name(), t.name));
            text.push_str(&render(&t.failures, color));
        }
    }
    let passed = outcomes.len() - failed.len();
    text.push_str(&format!("\n{passed} passed, {} failed\n", failed.len()));
    let code = if failed.is_empty() && check_errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERRORS
    };
    Report { text, code }
}

/// Runs `nudge test`; returns the exit code.
pub fn run(args: &TestArgs) -> u8 {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let report = run_paths(&args.paths, color);
    let mut out = std::io::stdout().lock();
    match out
        .write_all(report.text.as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => report.code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => report.code,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            EXIT_FAILURE
        }
    }
}
