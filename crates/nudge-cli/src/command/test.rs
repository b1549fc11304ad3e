//! `nudge test`: runs the `test` blocks of projects on a virtual clock.

use std::io::Write as _;
use std::path::PathBuf;

use nudge_syntax::Diagnostic;
use nudge_test::{run_tests_where, TestOutcome};
use serde::Serialize;

use crate::exit::Exit;
use crate::pipeline::{self, NoModule};
use crate::report::{self, Format};

/// `nudge test`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders; a folder is one project. Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Output format: `human`, or the diagnostics (load and flow errors,
    /// test failures) as `nudge check` writes them.
    #[arg(long, value_enum, env = "NUDGE_FORMAT", default_value = "human")]
    pub format: Format,
    /// Run only the tests whose name contains TEXT (case-sensitive); may be
    /// repeated, a test runs when its name contains any of them.
    #[arg(long = "filter", value_name = "TEXT")]
    pub filters: Vec<String>,
}

/// What a run of `nudge test` found, ready to print.
#[derive(Debug)]
pub struct Report {
    /// Standard output: for people, one line per test, then the failures,
    /// then the summary; for machines, the document of `--format`.
    pub text: String,
    /// Notes for standard error.
    pub notes: String,
    /// How the run ends.
    pub exit: Exit,
}

fn line(t: &TestOutcome) -> String {
    format!(
        "test {} :: {} ... {} ({} simulated, {} message{})\n",
        t.source.name(),
        t.name,
        if t.passed() { "ok" } else { "FAILED" },
        nudge_core::duration::format(t.simulated.num_seconds()),
        t.messages,
        if t.messages == 1 { "" } else { "s" }
    )
}

/// Everything a run produced, before it is written in a format.
#[derive(Default)]
struct Outcome {
    /// Problems with the paths themselves; nothing ran.
    fatal: Vec<Diagnostic>,
    /// `.flow` files found (as `nudge check` counts them).
    files: usize,
    /// Errors of files that could not be read and of projects that do not
    /// check; the tests of those projects did not run.
    check_errors: Vec<Diagnostic>,
    /// The tests that ran, in file and source order.
    outcomes: Vec<TestOutcome>,
    /// Tests left out by `--filter`.
    filtered_out: usize,
    /// An internal compiler error, if one stopped the run.
    internal: Option<String>,
}

impl Outcome {
    fn failed(&self) -> usize {
        self.outcomes.iter().filter(|t| !t.passed()).count()
    }

    fn exit(&self) -> Exit {
        if !self.fatal.is_empty() || self.internal.is_some() {
            Exit::Failure
        } else {
            Exit::problems_if(self.failed() > 0 || !self.check_errors.is_empty())
        }
    }

    /// The summary line: `8 passed, 0 failed`, with `, 3 filtered out` when
    /// a filter was given.
    fn summary(&self, filtering: bool) -> String {
        let failed = self.failed();
        let mut s = format!("{} passed, {failed} failed", self.outcomes.len() - failed);
        if filtering {
            s.push_str(&format!(", {} filtered out", self.filtered_out));
        }
        s
    }

    /// Every diagnostic, as the machine formats list them: problems with
    /// paths, then file and flow errors (by file and position), then test
    /// failures in the order the tests ran.
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut all = self.fatal.clone();
        let mut errors = self.check_errors.clone();
        errors.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        all.extend(errors);
        all.extend(
            self.outcomes
                .iter()
                .flat_map(|t| t.failures.iter().cloned()),
        );
        all
    }
}

/// Whether a test named `name` runs under `filters` (any, or none given).
fn selected(filters: &[String], name: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Loads, checks and runs.
fn run_all(paths: &[PathBuf], filters: &[String]) -> Outcome {
    let loaded = pipeline::load(paths);
    if !loaded.fatal.is_empty() {
        return Outcome {
            fatal: loaded.fatal,
            files: loaded.files,
            ..Outcome::default()
        };
    }
    let mut run = Outcome {
        files: loaded.files,
        check_errors: loaded.file_errors,
        ..Outcome::default()
    };
    for project in &loaded.projects {
        let checked = pipeline::check(project);
        match pipeline::compile(&checked) {
            Ok(compiled) => {
                let (outcomes, left_out) =
                    run_tests_where(compiled.program, &compiled.module, |name| {
                        selected(filters, name)
                    });
                run.outcomes.extend(outcomes);
                run.filtered_out += left_out;
            }
            Err(NoModule::Errors(errors)) => run.check_errors.extend(errors),
            Err(NoModule::Internal(e)) => {
                run.internal = Some(format!("error: internal compiler error: {e}\n"));
                return run;
            }
        }
    }
    run
}

/// The output for people.
fn human(run: &Outcome, filtering: bool, color: bool) -> String {
    if !run.fatal.is_empty() {
        return report::render_human(&run.fatal, color);
    }
    if let Some(internal) = &run.internal {
        return internal.clone();
    }
    let mut text = String::new();
    let check_errors = &run.check_errors;
    if !check_errors.is_empty() {
        text.push_str(&report::render_human(check_errors, color));
        text.push_str(&format!(
            "error: the flows have {} error{}; their tests did not run\n",
            check_errors.len(),
            if check_errors.len() == 1 { "" } else { "s" }
        ));
    }
    for t in &run.outcomes {
        text.push_str(&line(t));
    }
    let failed: Vec<&TestOutcome> = run.outcomes.iter().filter(|t| !t.passed()).collect();
    if !failed.is_empty() {
        text.push_str("\nfailures:\n\n");
        for t in &failed {
            text.push_str(&format!("---- {} :: {} ----\n", t.source.name(), t.name));
            text.push_str(&report::render_human(&t.failures, color));
        }
    }
    text.push_str(&format!("\n{}\n", run.summary(filtering)));
    text
}

/// GitHub Actions: the diagnostics as workflow commands (as `nudge check
/// --format github` writes them), between the plain test lines and summary,
/// which the log shows as they are.
fn github(run: &Outcome, filtering: bool) -> std::io::Result<String> {
    let mut out: Vec<u8> = Vec::new();
    let files = run.files;
    report::emit(Format::Github, &run.fatal, files, &mut out)?;
    if run.fatal.is_empty() && run.internal.is_none() {
        let mut errors = run.check_errors.clone();
        errors.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        report::emit(Format::Github, &errors, files, &mut out)?;
        if !errors.is_empty() {
            writeln!(
                out,
                "error: the flows have {} error{}; their tests did not run",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            )?;
        }
        for t in &run.outcomes {
            out.extend_from_slice(line(t).as_bytes());
        }
        for t in &run.outcomes {
            report::emit(Format::Github, &t.failures, files, &mut out)?;
        }
        writeln!(out, "\n{}", run.summary(filtering))?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The `tests` member `--format json` adds to `nudge check`'s document.
#[derive(Serialize)]
struct JsonTests<'a> {
    passed: usize,
    failed: usize,
    filtered_out: usize,
    results: Vec<JsonTest<'a>>,
}

#[derive(Serialize)]
struct JsonTest<'a> {
    file: &'a str,
    name: &'a str,
    line: u32,
    passed: bool,
    simulated_seconds: i64,
    messages: usize,
}

/// `nudge check`'s JSON document with a `tests` member after the
/// diagnostics.
fn json(run: &Outcome) -> std::io::Result<String> {
    let failed = run.failed();
    let tests = JsonTests {
        passed: run.outcomes.len() - failed,
        failed,
        filtered_out: run.filtered_out,
        results: run
            .outcomes
            .iter()
            .map(|t| JsonTest {
                file: t.source.name(),
                name: &t.name,
                line: t.source.line_col(t.span.start as usize).line,
                passed: t.passed(),
                simulated_seconds: t.simulated.num_seconds(),
                messages: t.messages,
            })
            .collect(),
    };
    let mut out: Vec<u8> = Vec::new();
    report::emit_json_with_tests(&run.diagnostics(), run.files, &tests, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Runs the tests of `paths`, collecting the output.
pub fn run_paths(paths: &[PathBuf], filters: &[String], format: Format, color: bool) -> Report {
    let run = run_all(paths, filters);
    let filtering = !filters.is_empty();
    let mut notes = String::new();
    if filtering
        && run.outcomes.is_empty()
        && run.check_errors.is_empty()
        && run.fatal.is_empty()
        && run.internal.is_none()
    {
        let texts: Vec<String> = filters.iter().map(|f| format!("`{f}`")).collect();
        notes.push_str(&format!(
            "note: no test name contains {}\n",
            texts.join(" or ")
        ));
    }
    let exit = run.exit();
    let text = match format {
        Format::Human => Ok(human(&run, filtering, color)),
        Format::Github => github(&run, filtering),
        Format::Json => json(&run),
        Format::Sarif => {
            let mut out: Vec<u8> = Vec::new();
            report::emit(Format::Sarif, &run.diagnostics(), run.files, &mut out)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        }
    };
    if format != Format::Human {
        if let Some(internal) = &run.internal {
            notes.push_str(internal);
        }
    }
    match text {
        Ok(text) => Report { text, notes, exit },
        Err(e) => Report {
            text: String::new(),
            notes: format!("error: cannot write the report: {e}\n"),
            exit: Exit::Failure,
        },
    }
}

/// Runs `nudge test`.
pub fn run(args: &Args) -> Exit {
    let color = report::color_on(&std::io::stdout());
    let report = run_paths(&args.paths, &args.filters, args.format, color);
    if !report.notes.is_empty() {
        eprint!("{}", report.notes);
    }
    let mut out = std::io::stdout().lock();
    match out
        .write_all(report.text.as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => report.exit,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => report.exit,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            Exit::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_selects_by_substring_of_any_text() {
        let filters = ["cap".to_owned(), "Drip".to_owned()];
        assert!(selected(&[], "anything"));
        assert!(selected(&filters, "the cap is forgotten"));
        assert!(selected(&filters, "Drip two"));
        assert!(!selected(&filters, "drip two"));
    }
}
