//! `nudge compile` and `nudge disasm`: checked flows to a bytecode module
//! file, and a module file back to a readable listing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use nudge_bytecode::{disassemble, verify, ListingSource, Module};
use nudge_compile::compile;
use nudge_syntax::{project, Diagnostic, Severity};

use crate::check::{EXIT_ERRORS, EXIT_FAILURE, EXIT_OK};
use crate::cli::Format;
use crate::report;

/// `nudge compile`
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// Where to write the module.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// `nudge disasm`
#[derive(Args, Debug)]
pub struct DisasmArgs {
    /// A module written by `nudge compile`.
    pub file: PathBuf,
}

/// The compiler version recorded in modules.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `nudge compile`; returns the exit code.
pub fn run_compile(args: &CompileArgs) -> u8 {
    let (projects, load_errors) = project::load(&args.project);
    if !load_errors.fatal.is_empty() {
        let _ = report_stderr(&load_errors.fatal, 0);
        return EXIT_FAILURE;
    }
    if projects.len() != 1 {
        eprintln!(
            "error: `nudge compile` takes one project (a folder or its files), found {}",
            projects.len()
        );
        return EXIT_FAILURE;
    }
    let Some(project) = projects.first() else {
        return EXIT_FAILURE;
    };
    let checked = nudge_check::check_project(&project.files, &nudge_check::FsLoader);
    // Files that could not be decoded were found all the same.
    let files = project.files.len() + load_errors.in_files.len();
    let mut diagnostics = load_errors.in_files;
    diagnostics.extend(checked.diagnostics.iter().cloned());
    if !diagnostics.is_empty() {
        let _ = report_stderr(&diagnostics, files);
    }
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let program = match (&checked.program, errors) {
        (Some(p), false) => p,
        _ => return EXIT_ERRORS,
    };
    let module = match compile(program, COMPILER_VERSION) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: internal compiler error: {e}");
            return EXIT_FAILURE;
        }
    };
    let bytes = match module.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot encode the module: {e}");
            return EXIT_FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return EXIT_FAILURE;
    }
    EXIT_OK
}

fn report_stderr(diagnostics: &[Diagnostic], files: usize) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    report::emit(Format::Human, diagnostics, files, &mut err)?;
    err.flush()
}

/// Reads and verifies a module file; the error is one line for people.
pub fn load_module(path: &Path) -> Result<Module, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let module =
        Module::from_bytes(&bytes).map_err(|e| format!("cannot load `{}`: {e}", path.display()))?;
    verify(&module).map_err(|e| {
        format!(
            "cannot load `{}`: the module does not verify: {e}",
            path.display()
        )
    })?;
    Ok(module)
}

/// Runs `nudge disasm`; returns the exit code.
pub fn run_disasm(args: &DisasmArgs) -> u8 {
    let module = match load_module(&args.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    // Sources as recorded (relative to where `nudge compile` ran), else
    // next to the module file; a file that cannot be read is listed
    // without locations.
    let beside = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let texts: Vec<(String, String)> = module
        .files
        .iter()
        .filter_map(|name| {
            let recorded = Path::new(name);
            let text = std::fs::read_to_string(recorded)
                .or_else(|_| {
                    let file_name = recorded.file_name().unwrap_or(recorded.as_os_str());
                    std::fs::read_to_string(beside.join(file_name))
                })
                .ok()?;
            Some((name.clone(), text))
        })
        .collect();
    let sources: Vec<ListingSource<'_>> = texts
        .iter()
        .map(|(name, text)| ListingSource { name, text })
        .collect();
    let listing = disassemble(&module, &sources);
    let mut out = std::io::stdout().lock();
    match out.write_all(listing.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("error: cannot write the listing: {e}");
            EXIT_FAILURE
        }
    }
}
