//! Document formatting through the canonical formatter of `nudge fmt`.

use std::sync::Arc;

use nudge_syntax::{Diagnostic, SourceFile};

/// The canonical text of a file, or its syntax errors (a file that does not
/// parse is never formatted: text would be lost).
pub fn format_document(source: Arc<SourceFile>) -> Result<String, Vec<Diagnostic>> {
    nudge_syntax::format_source(source)
}
