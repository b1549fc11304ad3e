//! `nudge compile`: checked flows to a bytecode module file.

use std::path::PathBuf;

use nudge_syntax::Diagnostic;

use crate::exit::Exit;
use crate::pipeline::{self, NoModule};
use crate::report::{self, Format};

/// `nudge compile`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// Where to write the module.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `nudge compile`.
pub fn run(args: &Args) -> Exit {
    let loaded = pipeline::load(&args.project);
    if !loaded.fatal.is_empty() {
        let _ = report_stderr(&loaded.fatal, 0);
        return Exit::Failure;
    }
    let project = match loaded.single() {
        Ok(project) => project,
        Err(found) => {
            eprintln!(
                "error: `nudge compile` takes one project (a folder or its files), found {found}"
            );
            return Exit::Failure;
        }
    };
    let checked = pipeline::check(project);
    let mut diagnostics = loaded.file_errors.clone();
    diagnostics.extend(checked.diagnostics.iter().cloned());
    if !diagnostics.is_empty() {
        let _ = report_stderr(&diagnostics, loaded.files);
    }
    if !pipeline::errors(&diagnostics).is_empty() {
        return Exit::Problems;
    }
    let module = match pipeline::compile(&checked) {
        Ok(compiled) => compiled.module,
        Err(NoModule::Errors(_)) => return Exit::Problems,
        Err(NoModule::Internal(e)) => {
            eprintln!("error: internal compiler error: {e}");
            return Exit::Failure;
        }
    };
    let bytes = match module.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot encode the module: {e}");
            return Exit::Failure;
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return Exit::Failure;
    }
    Exit::Ok
}

fn report_stderr(diagnostics: &[Diagnostic], files: usize) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    report::emit(Format::Human, diagnostics, files, &mut err)?;
    std::io::Write::flush(&mut err)
}
