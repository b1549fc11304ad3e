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
pub mod diagnostic;
pub mod formatter;
pub mod literal;
mod parse_errors;
mod parser;
pub mod project;
pub mod source;
pub mod span;
pub mod trivia;

pub use diagnostic::{render_plain, Diagnostic, Label, Severity};
pub use parser::{parse, parse_expr, Parsed};
pub use source::{LineCol, SourceFile};
pub use span::Span;
