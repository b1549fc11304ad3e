//! The `.flow` language server (`nudge lsp`): diagnostics as `nudge check`
//! reports them, hover, go to definition, completion, formatting and
//! document symbols, over stdio.
//!
//! A project is the folder of the file being edited: every `*.flow` file in
//! it, with unsaved buffers in place of the files on disk.

pub mod analysis;
pub mod completion;
pub mod convert;
pub mod fixes;
pub mod format;
pub mod index;
pub mod keywords;
pub mod navigate;
mod server;
pub mod symbols;
mod transport;
pub mod uri;

pub use server::{run, run_stdio};
pub use transport::{connect, IoThreads};
