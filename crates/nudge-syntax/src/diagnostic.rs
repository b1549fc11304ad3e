//! One diagnostic model for every stage: the parser, the checker and the
//! test runner build [`Diagnostic`]s; the CLI, the language server and the
//! snapshot tests render them (miette for people; JSON, GitHub and SARIF for
//! machines).
//!
//! One plain struct instead of an error enum per stage: every emitter reads
//! the same fields, and a code is a stable string documented in
//! `docs/errors/`.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, MietteSpanContents, SourceCode, SpanContents};
use serde::Serialize;

use crate::source::SourceFile;
use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flows cannot run: `nudge check` exits 1.
    Error,
    /// Probably a mistake; `--deny-warnings` makes it an error.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A marked range of the source with an optional message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// What is marked.
    pub span: Span,
    /// What to say there.
    pub message: Option<String>,
    /// The one place the diagnostic is about (the first label is primary
    /// unless another says so).
    pub primary: bool,
}

impl Label {
    /// The primary label.
    pub fn primary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: Some(message.into()),
            primary: true,
        }
    }

    /// A secondary label.
    pub fn secondary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: Some(message.into()),
            primary: false,
        }
    }
}

/// A problem found in a project, with everything needed to show it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Stable code such as `nudge::parse::unexpected`; documented in
    /// `docs/errors/`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, no final period; user input in backticks.
    pub message: String,
    /// Marked places in `source`.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// The file the labels point into (none for errors about paths).
    pub source: Option<Arc<SourceFile>>,
    /// Further diagnostics shown with this one (for example "first declared
    /// here" in another file).
    pub related: Vec<Diagnostic>,
    /// Shown as a note of another diagnostic (a related one): rendered
    /// without a code or a severity of its own.
    pub note: bool,
}

impl Diagnostic {
    /// An error with no labels yet.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            source: None,
            related: Vec::new(),
            note: false,
        }
    }

    /// A warning with no labels yet.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Adds a primary label.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label::primary(span, message));
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label::secondary(span, message));
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attaches the source file.
    pub fn in_file(mut self, source: &Arc<SourceFile>) -> Self {
        self.source = Some(source.clone());
        self
    }

    /// Adds a related diagnostic, shown as a note of this one.
    pub fn with_related(mut self, related: Diagnostic) -> Self {
        self.related.push(Diagnostic {
            note: true,
            ..related
        });
        self
    }

    /// The primary label's span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
            .map(|l| l.span)
    }

    /// A key that orders diagnostics by file, then position, then code.
    pub fn sort_key(&self) -> (String, u32, u32, &'static str) {
        let span = self.primary_span().unwrap_or_default();
        (
            self.source
                .as_ref()
                .map(|s| s.name().to_owned())
                .unwrap_or_default(),
            span.start,
            span.end,
            self.code,
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.note {
            return None;
        }
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        if self.note {
            return Some(miette::Severity::Advice);
        }
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_deref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        let primary = self.labels.iter().position(|l| l.primary).unwrap_or(0);
        Some(Box::new(self.labels.iter().enumerate().map(
            move |(i, l)| {
                if i == primary {
                    LabeledSpan::new_primary_with_span(l.message.clone(), l.span)
                } else {
                    LabeledSpan::new_with_span(l.message.clone(), l.span)
                }
            },
        )))
    }

    // Related diagnostics are rendered by [`render_report`], each as a
    // note after this one (miette would head each with "Error:").
}

/// Renders `d` and then its notes (its related diagnostics, each headed by
/// its own message, without a code) with `handler`.
pub fn render_report(
    handler: &miette::GraphicalReportHandler,
    d: &Diagnostic,
    out: &mut String,
) -> fmt::Result {
    handler.render_report(out, d)?;
    for note in &d.related {
        out.push('\n');
        handler.render_report(out, note)?;
    }
    Ok(())
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, miette::MietteError> {
        let text = self.text();
        let inner = text.read_span(span, context_lines_before, context_lines_after)?;
        let snippet = (context_lines_before, context_lines_after) != (0, 0);
        if snippet && inner.data().len() > SNIPPET_BYTES {
            // A minified or generated file: leave out long context lines,
            // and show only the part of a long labelled line around the
            // label. (This also keeps columns small: miette pads a label to
            // its column with a format width, which panics past 65 535.)
            let at = span.offset();
            let first = self.line_index(at);
            let last = self.line_index(at + span.len());
            let lines_start = self.line_start(first);
            let lines_end = self.line_start(last + 1).min(text.len());
            let (start, end) = if lines_end - lines_start <= SNIPPET_BYTES {
                (lines_start, lines_end)
            } else {
                (
                    char_floor(text, at.saturating_sub(SNIPPET_WINDOW).max(lines_start)),
                    char_floor(text, (at + span.len() + SNIPPET_WINDOW).min(lines_end)),
                )
            };
            let end = start + text[start..end].trim_end_matches(['\n', '\r']).len();
            let from = self.line_col(start);
            return Ok(Box::new(MietteSpanContents::new_named(
                self.name().to_owned(),
                &text.as_bytes()[start..end],
                (start..end).into(),
                from.line as usize - 1,
                from.column as usize - 1,
                last - first + 1,
            )));
        }
        // miette counts the column of the `file:line:column` header in bytes;
        // we count characters, as every other format does.
        let column = if context_lines_before == 0 {
            (self.line_col(span.offset()).column as usize).saturating_sub(1)
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name().to_owned(),
            inner.data(),
            *inner.span(),
            inner.line(),
            column,
            inner.line_count(),
        )))
    }
}

/// A snippet longer than this is cut: first to the labelled lines, then to
/// the part of a long line around the label.
const SNIPPET_BYTES: usize = 2048;

/// How much of a long line is shown on each side of a label (bytes).
const SNIPPET_WINDOW: usize = 160;

/// The largest char boundary of `text` at or before `offset`.
fn char_floor(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders diagnostics as a person sees them in a terminal without colour,
/// at a fixed width: the form the snapshot tests lock.
pub fn render_plain(diagnostics: &[Diagnostic], width: usize) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(width)
            .with_links(false);
    let mut out = String::new();
    for d in diagnostics {
        if render_report(&handler, d, &mut out).is_err() {
            out.push_str(&d.message);
        }
        out.push('\n');
    }
    out
}
