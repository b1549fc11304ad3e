//! Diagnostic output in the formats of `--format`.
//!
//! People get miette's graphical report; machines get our own JSON schema,
//! GitHub Actions workflow commands or SARIF 2.1.0. Every machine format
//! carries 1-based lines and columns, columns counted in characters
//! ([`SourceFile::line_col`]), and an exclusive end.
//!
//! This module holds the entry points ([`emit`], [`emit_json_with_tests`]),
//! the run's [`Summary`] and what several formats share: positions, the
//! text of a diagnostic with its help, paths relative to the current folder
//! and the writing of JSON. Each format has its own module: [`human`],
//! [`json`], [`github`] and [`sarif`].

use std::io::{self, Write};
use std::path::Path;

use nudge_syntax::{Diagnostic, Severity, SourceFile, Span};
use serde::Serialize;

mod github;
mod human;
mod json;
mod sarif;

pub use human::{color_on, render as render_human, write_each as write_human};

/// The output formats of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Source excerpts with labels, for people.
    Human,
    /// One JSON document with every diagnostic.
    Json,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// Totals of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files found.
    pub files: usize,
    /// Diagnostics of severity error.
    pub errors: usize,
    /// Diagnostics of severity warning.
    pub warnings: usize,
}

impl Summary {
    /// Counts the top-level diagnostics (not their related notes).
    pub fn new(diagnostics: &[Diagnostic], files: usize) -> Self {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        Summary {
            files,
            errors,
            warnings: diagnostics.len() - errors,
        }
    }
}

/// Writes `diagnostics` in `format`. `files` is how many files were found.
pub fn emit(
    format: Format,
    diagnostics: &[Diagnostic],
    files: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let summary = Summary::new(diagnostics, files);
    match format {
        Format::Human => human::write(diagnostics, summary, out),
        Format::Json => json::write(diagnostics, summary, out),
        Format::Github => github::write(diagnostics, out),
        Format::Sarif => sarif::write(diagnostics, out),
    }
}

/// `nudge check`'s JSON document with one more member, `tests`, after the
/// diagnostics (`nudge test --format json`).
pub fn emit_json_with_tests(
    diagnostics: &[Diagnostic],
    files: usize,
    tests: &impl Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    json::write_with_tests(diagnostics, Summary::new(diagnostics, files), tests, out)
}

/// Writes `value` as pretty-printed JSON and a line break.
fn write_json(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

// ---------------------------------------------------------------- positions

/// A 1-based range of lines and character columns; the end is exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

impl Region {
    fn of(source: &SourceFile, span: Span) -> Self {
        let start = source.line_col(span.start as usize);
        let end = source.line_col(span.end as usize);
        Region {
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
        }
    }
}

/// The index of the label the diagnostic is about (the first unless
/// another is marked primary), as miette shows it.
fn primary_index(d: &Diagnostic) -> Option<usize> {
    if d.labels.is_empty() {
        return None;
    }
    Some(d.labels.iter().position(|l| l.primary).unwrap_or(0))
}

/// The primary region, when the diagnostic points into a file.
fn primary_region(d: &Diagnostic) -> Option<Region> {
    let source = d.source.as_deref()?;
    Some(Region::of(source, d.primary_span()?))
}

/// The message followed by the help, for formats with one text field.
fn message_with_help(d: &Diagnostic) -> String {
    match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    }
}

/// A file's name as a path relative to the current folder with forward
/// slashes, or `None` when it lies outside it.
fn relative_path(name: &str) -> Option<String> {
    let path = Path::new(name);
    let relative = if path.is_absolute() {
        let cwd = std::env::current_dir().ok()?;
        path.strip_prefix(cwd).ok()?.to_string_lossy().into_owned()
    } else {
        name.to_owned()
    };
    Some(relative.replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A warning with a secondary label and a related note in another file.
    pub(super) fn duplicate() -> Vec<Diagnostic> {
        let a = Arc::new(SourceFile::new("a.flow", "event é_x {}\nevent dup {}\n"));
        let b = Arc::new(SourceFile::new("b.flow", "// 🎉\nevent dup {}\n"));
        let at = |src: &SourceFile, text: &str, nth: usize| {
            let start = src.text().match_indices(text).nth(nth).unwrap().0;
            Span::new(start, start + text.len())
        };
        vec![
            Diagnostic::warning("nudge::check::duplicate", "`dup` is declared twice")
                .with_secondary(at(&a, "event", 1), "this event")
                .with_primary(at(&a, "dup", 0), "declared again here")
                .in_file(&a)
                .with_related(
                    Diagnostic::warning("nudge::check::duplicate", "first declared here")
                        .with_primary(at(&b, "dup", 0), "first")
                        .in_file(&b),
                ),
        ]
    }
}
