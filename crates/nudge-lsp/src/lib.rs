//! The `.flow` language server (`nudge lsp`): diagnostics as `nudge check`
//! reports them, hover, go to definition, completion, formatting and
//! document symbols, over stdio.
//!
//! A project is the folder of the file being edited: every `*.flow` file in
//! it, with unsaved buffers in place of the files on disk.
//!
//! Hover and go to definition do not resolve names themselves: they read
//! what the checker resolved (`nudge_check::Checked::references`), which it
//! reports also for a project with errors, so the editor and `nudge check`
//! agree on what every name means.

mod analysis;
mod completion;
mod convert;
mod fixes;
mod formatting;
mod index;
mod keywords;
mod navigate;
mod server;
mod symbols;
mod transport;
mod uri;

pub use keywords::grammar_words;
pub use server::{run, run_stdio};
pub use transport::{connect, IoThreads};
