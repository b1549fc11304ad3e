//! The checker of the Nudge compiler: name resolution across the files of a
//! project, types for every expression, optional narrowing, template and
//! channel checks, lints, and the typed program the bytecode compiler reads.
//!
//! ```
//! use std::sync::Arc;
//! use nudge_check::{check_project, FsLoader};
//! use nudge_syntax::SourceFile;
//!
//! let src = Arc::new(SourceFile::new("a.flow", "profile { plan: string }"));
//! let checked = check_project(&[src], &FsLoader);
//! assert!(checked.diagnostics.is_empty());
//! assert!(checked.program.is_some());
//! ```
//!
//! Besides the program, [`Checked::references`] records what every name
//! written in the files resolved to (a [`Reference`]), even when there are
//! errors: the language server's hover and go to definition read it.
//!
//! Rules worth knowing (each code has a page in `docs/errors/check/`):
//!
//! - **Narrowing.** A `T?` value is a `T` where `x != none` / `x is not none`
//!   (or `x == literal`, `x in [..]`) is known to hold: in the guarded part of
//!   an `if`, for the whole workflow after `audience` or after the `where`
//!   of its only trigger, in a `wait for X where …` then-block (as `X.f`),
//!   later in an `and` chain, in an escalation step with an `if` guard, and
//!   through `in SEGMENT` when the segment's condition narrows. `==` and `!=`
//!   accept optionals (`none` equals nothing else); ordering, interpolation,
//!   conditions and channel addresses need a narrowed value or `??`.
//! - **Channel addresses.** email is addressed by an `email`-typed profile
//!   attribute (the one called `email` if several), sms by a `phone`-typed
//!   one (`phone` preferred), push by a string attribute named `push_token`;
//!   in_app and webhook need none. A send where the address may be `none` is
//!   an error, not a warning: the runtime re-checks the address at send time
//!   and drops the message with a reason, but sending to users who may have
//!   no address is almost always a mistake in the flow, and the fix (an
//!   `audience` line or an `if`) is one line that documents who the message
//!   is for.
//! - **Template files** (`file("…")`) are read through a [`TemplateLoader`]
//!   relative to the `.flow` file's folder and parsed with minijinja; every
//!   variable they use must exist in the schemas in scope. Files are parsed
//!   once per path. When rendered, `.html` files are HTML-escaped (minijinja's
//!   default for the extension).
//! - **Lints** are warnings with codes. Unused declarations are reported
//!   only when the project has no errors (a misspelt reference makes its
//!   target look unused). Missing suppression is reported for marketing
//!   workflows that send email, push or sms after a wait with neither
//!   `exit on` nor `goal`.

use std::path::Path;
use std::sync::Arc;

use nudge_syntax::{Diagnostic, Parsed, Severity, SourceFile};

mod checker;
pub mod codes;
mod expr;
pub mod graph;
mod ids;
mod incremental;
pub mod ir;
mod lints;
mod messages;
mod references;
mod string_formats;
mod suggest;
mod template;
mod test_blocks;
mod types;
mod workflow;

pub use incremental::{CheckCache, IncrementalChecked};
pub use ir::Program;
pub use references::{Reference, Target};
pub use types::Type;

/// Reads the files that `file("…")` template bodies name.
pub trait TemplateLoader {
    /// The text of the file at `path` (already joined to the folder of the
    /// `.flow` file that names it).
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

/// Loads template files from disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl TemplateLoader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// The outcome of checking a project.
#[derive(Debug)]
pub struct Checked {
    /// Every file, parsed (in the order given).
    pub parsed: Vec<Parsed>,
    /// Parse errors, check errors and warnings, sorted by file name, then
    /// position, then code.
    pub diagnostics: Vec<Diagnostic>,
    /// The typed, resolved program; present only when there are no errors
    /// (warnings allowed).
    pub program: Option<Program>,
    /// For each file (parallel to `parsed`), the names written in it that
    /// resolved, with what each refers to, sorted by position. Present also
    /// when there are errors: everything that could be resolved is listed.
    pub references: Vec<Vec<Reference>>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Parses and checks the files of one project (one namespace).
pub fn check_project(files: &[Arc<SourceFile>], loader: &dyn TemplateLoader) -> Checked {
    let parsed: Vec<Parsed> = files
        .iter()
        .map(|f| nudge_syntax::parse(f.clone()))
        .collect();
    let refs: Vec<&Parsed> = parsed.iter().collect();
    let CheckedParsed {
        diagnostics,
        program,
        references,
    } = check_parsed(&refs, loader);
    Checked {
        parsed,
        diagnostics,
        program,
        references,
    }
}

/// What [`check_parsed`] finds: [`Checked`] without the parses, which the
/// caller keeps.
#[derive(Debug)]
pub struct CheckedParsed {
    /// As [`Checked::diagnostics`] (the parses' own included).
    pub diagnostics: Vec<Diagnostic>,
    /// As [`Checked::program`].
    pub program: Option<Program>,
    /// As [`Checked::references`], parallel to the files given.
    pub references: Vec<Vec<Reference>>,
}

/// Checks the files of one project already parsed, for a caller that keeps
/// each file's parse between checks and parses again only the files that
/// changed (the language server): the same diagnostics, program and
/// references as [`check_project`] on the same texts.
pub fn check_parsed(parsed: &[&Parsed], loader: &dyn TemplateLoader) -> CheckedParsed {
    let run = checker::run(parsed, loader, None);
    let (diagnostics, references) = incremental::assemble(
        parsed,
        run.diags,
        run.references,
        run.items.iter().map(|((file, _), out)| (*file, out)),
    );
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    CheckedParsed {
        diagnostics,
        program: if errors { None } else { run.program },
        references,
    }
}
