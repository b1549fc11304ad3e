//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Nudge: lifecycle messaging workflows as code.
#[derive(Parser, Debug)]
#[command(name = "nudge", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check `.flow` files and report every problem.
    ///
    /// Exit codes: 0 clean, 1 the flows have errors (or warnings with
    /// --deny-warnings), 2 usage, IO or internal error.
    Check(CheckArgs),
    /// Rewrite `.flow` files in the canonical style.
    ///
    /// Exit codes: 0 done (or, with --check, already formatted), 1 a file
    /// would change (--check) or has parse errors, 2 usage or IO error.
    Fmt(FmtArgs),
    /// Run the language server on stdin and stdout (started by editors).
    Lsp,
    /// Replay an event trace through a project and show the messages.
    ///
    /// Exit codes: 0 done, 1 the flows have errors or trace lines were
    /// rejected (0 with --allow-bad-lines), 2 usage, IO or internal error.
    Simulate(crate::simulate::SimulateArgs),
    /// Run the `test` blocks of projects on a virtual clock.
    ///
    /// Exit codes: 0 every test passed, 1 a test failed or the flows have
    /// errors, 2 usage or IO error.
    Test(crate::test_cmd::TestArgs),
    /// Check a project and write its bytecode module.
    ///
    /// Exit codes: 0 written, 1 the flows have errors, 2 usage or IO error.
    Compile(crate::compile::CompileArgs),
    /// Print the listing of a module written by `nudge compile`.
    ///
    /// Exit codes: 0 listed, 2 unreadable, corrupted, truncated or newer
    /// module.
    Disasm(crate::compile::DisasmArgs),
}

/// Output formats for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source excerpts with labels, for people.
    Human,
    /// One JSON document with every diagnostic.
    Json,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// `nudge check`
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or folders; a folder is one project. Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, env = "NUDGE_FORMAT", default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// `nudge fmt`
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files or folders (a folder means the `.flow` files directly inside);
    /// `-` reads stdin. Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Write nothing; print a diff of each file that would change and exit 1.
    #[arg(long)]
    pub check: bool,
    /// Read a file from stdin and write the formatted text to stdout.
    #[arg(long)]
    pub stdin: bool,
}
