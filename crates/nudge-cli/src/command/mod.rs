//! One file per command: its arguments and what it does.

pub mod check;
pub mod compile;
pub mod disasm;
pub mod fmt;
pub mod lsp;
pub mod simulate;
pub mod test;

use crate::cli::Command;
use crate::exit::Exit;

/// Runs a command.
pub fn run(command: Command) -> Exit {
    match command {
        Command::Check(args) => check::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp => lsp::run(),
        Command::Simulate(args) => simulate::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Disasm(args) => disasm::run(&args),
    }
}
