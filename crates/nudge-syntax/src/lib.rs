//! The front of the Nudge compiler: sources and spans, the `.flow` grammar,
//! the spanned syntax tree, parse diagnostics and comments.
//!
//! ```
//! use std::sync::Arc;
//! use nudge_syntax::{parse, SourceFile};
//!
//! let src = Arc::new(SourceFile::new("a.flow", "event signed_up { plan: string }"));
//! let parsed = parse(src);
//! assert!(parsed.is_ok());
//! assert_eq!(parsed.file.items.len(), 1);
//! ```

pub mod ast;
pub mod codes;
mod diagnostic;
mod escape;
mod formatter;
mod grammar;
mod parse_errors;
mod parser;
pub mod project;
mod source;
mod span;
mod trivia;

pub use diagnostic::{render_plain, render_report, Diagnostic, Label, Severity};
pub use formatter::{comment_texts, format_file, format_source, same_tree, tree_without_spans};
pub use parser::{parse, parse_expr, Parsed};
pub use source::{LineCol, SourceFile};
pub use span::Span;
pub use trivia::{Comment, Trivia};
