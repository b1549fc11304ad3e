//! One file per command: its arguments and what it does.

pub mod check;
pub mod compile;
pub mod deploy;
pub mod disasm;
pub mod fmt;
pub mod graph;
pub mod lsp;
pub mod report;
pub mod serve;
pub mod simulate;
pub mod test;

use clap::Subcommand;

use crate::exit::Exit;

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
    /// Draw each workflow (trigger, waits, branches, splits, exits, goals)
    /// as Mermaid, DOT or SVG, optionally with a record log's counts.
    ///
    /// Exit codes: 0 drawn, 1 the flows have errors, 2 usage or IO error.
    Graph(graph::Args),
    /// Measure a record log: journeys per workflow, each split's arms
    /// against their control (rates, always-valid intervals, a decision),
    /// messages sent.
    ///
    /// Exit codes: 0 done, 1 lines that are not records were skipped, 2
    /// usage or IO error.
    Report(report::Args),
    /// Run the `test` blocks of projects on a virtual clock.
    ///
    /// Exit codes: 0 every test passed, 1 a test failed or the flows have
    /// errors, 2 usage or IO error.
    Test(test::Args),
    /// Check a project and write its bytecode module.
    ///
    /// Exit codes: 0 written, 1 the flows have errors, 2 usage or IO error.
    Compile(compile::Args),
    /// Run a project: take events over Segment's HTTP API, run journeys on
    /// the wall clock, write messages to the outbox in the data folder.
    ///
    /// Exit codes: 0 stopped cleanly (SIGTERM or Ctrl-C), 1 the flows have
    /// errors, 2 usage, IO or store error, or a partition failed.
    Serve(serve::Args),
    /// Compile a project and deploy it to a running `nudge serve`.
    ///
    /// Exit codes: 0 deployed, 1 the flows have errors, 2 usage or IO
    /// error, the server unreachable or refusing the module.
    Deploy(deploy::Args),
    /// Print the listing of a module written by `nudge compile`.
    ///
    /// Exit codes: 0 listed, 2 unreadable, corrupted, truncated or newer
    /// module.
    Disasm(disasm::Args),
}

/// Runs a command.
pub fn run(command: Command) -> Exit {
    match command {
        Command::Check(args) => check::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp => lsp::run(),
        Command::Simulate(args) => simulate::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Disasm(args) => disasm::run(&args),
    }
}
