//! `nudge lsp`: the language server on stdin and stdout.

use crate::check::{EXIT_FAILURE, EXIT_OK};

/// Serves until the editor says `exit`; returns the exit code.
pub fn run() -> u8 {
    match nudge_lsp::run_stdio() {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: the language server stopped: {e}");
            EXIT_FAILURE
        }
    }
}
