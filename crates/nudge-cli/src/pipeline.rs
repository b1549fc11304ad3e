//! Load → check → compile, written once for every command that reads a
//! project (`check`, `compile`, `simulate`, `test`).

use std::path::PathBuf;

use nudge_bytecode::Module;
use nudge_check::{Checked, Program};
use nudge_syntax::project::{self, Project};
use nudge_syntax::{Diagnostic, Severity};

/// The compiler version recorded in modules.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the paths of a command hold.
pub struct Loaded {
    /// The projects found: a folder is one project, loose files together
    /// are another.
    pub projects: Vec<Project>,
    /// `.flow` files found, readable or not.
    pub files: usize,
    /// Files that were found but could not be read or decoded.
    pub file_errors: Vec<Diagnostic>,
    /// Problems with the paths themselves (missing, not a `.flow` file):
    /// the command cannot run.
    pub fatal: Vec<Diagnostic>,
}

/// Finds the projects of `paths` (the current folder when empty) and reads
/// their files.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let (projects, errors) = project::load(paths);
    let files = projects.iter().map(|p| p.files.len()).sum::<usize>() + errors.in_files.len();
    Loaded {
        projects,
        files,
        file_errors: errors.in_files,
        fatal: errors.fatal,
    }
}

impl Loaded {
    /// The one project of a command that takes one, or why there is not
    /// exactly one.
    pub fn single(&self) -> Result<&Project, usize> {
        match self.projects.as_slice() {
            [project] => Ok(project),
            other => Err(other.len()),
        }
    }
}

/// Parses, resolves and type-checks a project, with template files read
/// relative to each `.flow` file's folder.
pub fn check(project: &Project) -> Checked {
    nudge_check::check_project(&project.files, &nudge_check::FsLoader)
}

/// The diagnostics of severity error.
pub fn errors(diagnostics: &[Diagnostic]) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect()
}

/// Why a checked project has no module.
pub enum NoModule {
    /// The flows have errors (reported by the caller as it reports them).
    Errors(Vec<Diagnostic>),
    /// The compiler failed on a program the checker accepted: a bug, said
    /// in one line.
    Internal(String),
}

/// A project compiled: the checked program and its module.
pub struct Compiled<'a> {
    /// The typed program (its `test` blocks included).
    pub program: &'a Program,
    /// The verified module.
    pub module: Module,
}

/// Compiles a checked project without errors into a verified module.
pub fn compile(checked: &Checked) -> Result<Compiled<'_>, NoModule> {
    let errors = errors(&checked.diagnostics);
    let program = match &checked.program {
        Some(program) if errors.is_empty() => program,
        _ => return Err(NoModule::Errors(errors)),
    };
    let module = nudge_compile::compile(program, COMPILER_VERSION)
        .map_err(|e| NoModule::Internal(e.to_string()))?;
    Ok(Compiled { program, module })
}

/// Loads, checks and compiles the one project of a command that runs it
/// (`nudge compile`, `nudge serve`), reporting its diagnostics on stderr;
/// on failure, the exit code to end with.
pub fn module_of(paths: &[PathBuf], command: &str) -> Result<Module, crate::exit::Exit> {
    use crate::exit::Exit;
    let loaded = load(paths);
    if !loaded.fatal.is_empty() {
        let _ = report_stderr(&loaded.fatal, 0);
        return Err(Exit::Failure);
    }
    let project = match loaded.single() {
        Ok(project) => project,
        Err(found) => {
            eprintln!(
                "error: `nudge {command}` takes one project (a folder or its files), found {found}"
            );
            return Err(Exit::Failure);
        }
    };
    let checked = check(project);
    let mut diagnostics = loaded.file_errors.clone();
    diagnostics.extend(checked.diagnostics.iter().cloned());
    if !diagnostics.is_empty() {
        let _ = report_stderr(&diagnostics, loaded.files);
    }
    if !errors(&diagnostics).is_empty() {
        return Err(Exit::Problems);
    }
    match compile(&checked) {
        Ok(compiled) => Ok(compiled.module),
        Err(NoModule::Errors(_)) => Err(Exit::Problems),
        Err(NoModule::Internal(e)) => {
            eprintln!("error: internal compiler error: {e}");
            Err(Exit::Failure)
        }
    }
}

pub fn report_stderr(diagnostics: &[Diagnostic], files: usize) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    crate::report::emit(crate::report::Format::Human, diagnostics, files, &mut err)?;
    std::io::Write::flush(&mut err)
}
