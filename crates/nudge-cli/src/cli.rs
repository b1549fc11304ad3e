//! The command line: `nudge` and a subcommand ([`Command`], with the
//! arguments each command's file in `command/` declares).

use clap::Parser;

use crate::command::Command;

/// Nudge: lifecycle messaging workflows as code.
#[derive(Parser, Debug)]
#[command(name = "nudge", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}
