//! Spans and diagnostics in the protocol's terms (0-based lines, UTF-16
//! columns).

use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range,
    Uri,
};
use nudge_syntax::{Diagnostic, Severity, SourceFile, Span};

/// The protocol position of byte `offset`.
pub fn position(source: &SourceFile, offset: usize) -> Position {
    let (line, character) = source.utf16_position(offset);
    Position { line, character }
}

/// The protocol range of a span.
pub fn range(source: &SourceFile, span: Span) -> Range {
    Range {
        start: position(source, span.start as usize),
        end: position(source, span.end as usize),
    }
}

/// The byte offset of a protocol position.
pub fn offset(source: &SourceFile, position: Position) -> usize {
    source.offset_of_utf16(position.line, position.character)
}

/// A diagnostic for the editor; `uri_of` names the file of a related
/// diagnostic.
pub fn diagnostic(
    source: &SourceFile,
    d: &Diagnostic,
    uri_of: &dyn Fn(&SourceFile) -> Option<Uri>,
) -> lsp_types::Diagnostic {
    let span = d.primary_span();
    let range = match (span, &d.source) {
        (Some(span), Some(_)) => self::range(source, span),
        _ => Range::default(),
    };
    let mut message = d.message.clone();
    if let Some(label) = d
        .labels
        .iter()
        .find(|l| l.primary)
        .or(d.labels.first())
        .and_then(|l| l.message.as_deref())
    {
        if !label.is_empty() && label != d.message {
            message.push_str(&format!("\n{label}"));
        }
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let mut related = Vec::new();
    for label in d.labels.iter().filter(|l| !l.primary) {
        if let (Some(file), Some(text)) = (&d.source, &label.message) {
            if let Some(uri) = uri_of(file) {
                related.push(DiagnosticRelatedInformation {
                    location: Location {
                        uri,
                        range: self::range(file, label.span),
                    },
                    message: text.clone(),
                });
            }
        }
    }
    for r in &d.related {
        let (Some(file), Some(span)) = (&r.source, r.primary_span()) else {
            continue;
        };
        if let Some(uri) = uri_of(file) {
            related.push(DiagnosticRelatedInformation {
                location: Location {
                    uri,
                    range: self::range(file, span),
                },
                message: r.message.clone(),
            });
        }
    }
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_owned())),
        source: Some("nudge".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}
