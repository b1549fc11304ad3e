//! `nudge`: flows as code.

use std::process::ExitCode;

use clap::Parser as _;

mod check;
mod cli;
mod compile;
mod fmt;
mod lsp;
mod report;
mod simulate;

/// The engine allocates per event; mimalloc runs `nudge simulate` markedly
/// faster than the system allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod test_cmd;

/// Stack of the thread that does the work. Bracket nesting is capped by the
/// parser, but very long expressions still recurse; a roomy stack keeps
/// hostile input a report instead of a crash. Pages are only touched when used.
const STACK_SIZE: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's code), like every other failure to run.
    let cli = cli::Cli::parse();
    let worker = std::thread::Builder::new()
        .name("nudge".into())
        .stack_size(STACK_SIZE)
        .spawn(move || match cli.command {
            cli::Command::Check(args) => check::run(&args),
            cli::Command::Fmt(args) => fmt::run(&args),
            cli::Command::Lsp => lsp::run(),
            cli::Command::Simulate(args) => simulate::run(&args),
            cli::Command::Test(args) => test_cmd::run(&args),
            cli::Command::Compile(args) => compile::run_compile(&args),
            cli::Command::Disasm(args) => compile::run_disasm(&args),
        });
    let code = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            // The panic message is already on stderr.
            eprintln!(
                "error: internal error in nudge; please report it with the input that caused it"
            );
            check::EXIT_FAILURE
        }),
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            check::EXIT_FAILURE
        }
    };
    ExitCode::from(code)
}
