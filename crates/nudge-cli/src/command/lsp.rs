//! `nudge lsp`: the language server on stdin and stdout.

use crate::exit::Exit;

/// Serves until the editor says `exit`.
pub fn run() -> Exit {
    match nudge_lsp::run_stdio() {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: the language server stopped: {e}");
            Exit::Failure
        }
    }
}
