//! `nudge`: flows as code.
//!
//! `cli` declares the command line; each command lives in its own file
//! under `command/` with its arguments; `pipeline` loads, checks and
//! compiles projects for all of them; `report` writes diagnostics in every
//! output format; `exit` holds the exit codes.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod command;
mod exit;
mod pipeline;
mod report;

use exit::Exit;

/// The engine allocates per event; mimalloc runs `nudge simulate` markedly
/// faster than the system allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        .spawn(move || command::run(cli.command));
    let exit = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            // The panic message is already on stderr.
            eprintln!(
                "error: internal error in nudge; please report it with the input that caused it"
            );
            Exit::Failure
        }),
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            Exit::Failure
        }
    };
    exit.into()
}
