//! The command line: the subcommands, each with the arguments its file in
//! `command/` declares.

use clap::{Parser, Subcommand};

use crate::command::{check, compile, disasm, fmt, simulate, test};

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
    Check(check::Args),
    /// Rewrite `.flow` files in the canonical style.
    ///
    /// Exit codes: 0 done (or, with --check, already formatted), 1 a file
    /// would change (--check) or has parse errors, 2 usage or IO error.
    Fmt(fmt::Args),
    /// Run the language server on stdin and stdout (started by editors).
    Lsp,
    /// Replay an event trace through a project and show the messages.
    ///
    /// Exit codes: 0 done, 1 the flows have errors or trace lines were
    /// rejected (0 with --allow-bad-lines), 2 usage, IO or internal error.
    Simulate(simulate::Args),
    /// Run the `test` blocks of projects on a virtual clock.
    ///
    /// Exit codes: 0 every test passed, 1 a test failed or the flows have
    /// errors, 2 usage or IO error.
    Test(test::Args),
    /// Check a project and write its bytecode module.
    ///
    /// Exit codes: 0 written, 1 the flows have errors, 2 usage or IO error.
    Compile(compile::Args),
    /// Print the listing of a module written by `nudge compile`.
    ///
    /// Exit codes: 0 listed, 2 unreadable, corrupted, truncated or newer
    /// module.
    Disasm(disasm::Args),
}
