//! `nudge`: flows as code.

use std::process::ExitCode;

use clap::Parser as _;

mod check;
mod cli;
mod report;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Check(args) => check::run(&args),
    };
    ExitCode::from(code)
}
