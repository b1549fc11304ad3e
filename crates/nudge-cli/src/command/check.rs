//! `nudge check`: parse and type-check projects and report every problem.

use std::io::Write as _;
use std::path::PathBuf;

use nudge_syntax::{Diagnostic, Severity};

use crate::exit::Exit;
use crate::pipeline;
use crate::report::{self, Format};

/// `nudge check`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders; a folder is one project. Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, env = "NUDGE_FORMAT", default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Runs `nudge check`.
pub fn run(args: &Args) -> Exit {
    let loaded = pipeline::load(&args.paths);
    let mut diagnostics: Vec<Diagnostic> = loaded.file_errors.clone();
    for project in &loaded.projects {
        diagnostics.extend(pipeline::check(project).diagnostics);
    }
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let fatal = !loaded.fatal.is_empty();
    let mut all = loaded.fatal;
    all.extend(diagnostics);

    let status = if fatal {
        Exit::Failure
    } else {
        exit(&all, args.deny_warnings)
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match report::emit(args.format, &all, loaded.files, &mut out).and_then(|()| out.flush()) {
        Ok(()) => status,
        // The reader went away (`nudge check | head`): nothing to tell it.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            Exit::Failure
        }
    }
}

/// How a run that found its files ends.
fn exit(diagnostics: &[Diagnostic], deny_warnings: bool) -> Exit {
    Exit::problems_if(diagnostics.iter().any(|d| match d.severity {
        Severity::Error => true,
        Severity::Warning => deny_warnings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_fail_only_when_denied() {
        let warning = Diagnostic::warning("nudge::check::unused", "unused");
        let error = Diagnostic::error("nudge::parse::unexpected", "unexpected");
        assert_eq!(exit(&[], true), Exit::Ok);
        assert_eq!(exit(std::slice::from_ref(&warning), false), Exit::Ok);
        assert_eq!(exit(std::slice::from_ref(&warning), true), Exit::Problems);
        assert_eq!(exit(&[warning, error], false), Exit::Problems);
    }
}
