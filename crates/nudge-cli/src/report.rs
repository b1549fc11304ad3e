//! Diagnostic output in the formats of `--format`.
//!
//! People get miette's graphical report; machines get our own JSON schema,
//! GitHub Actions workflow commands or SARIF 2.1.0. Every machine format
//! carries 1-based lines and columns, columns counted in characters
//! ([`SourceFile::line_col`]), and an exclusive end.

use std::io::{self, Write};
use std::path::Path;

use nudge_syntax::{Diagnostic, Label, Severity, SourceFile, Span};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::Format;

/// Version of the `--format json` schema; bumped on incompatible changes.
const JSON_VERSION: u32 = 1;
/// Where the project lives (the workspace's `repository`); error pages are
/// under `docs/errors/`.
const REPOSITORY: &str = "https://github.com/nudge-flows/nudge";

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
        Format::Human => human(diagnostics, summary, out),
        Format::Json => write_json(&json_report(diagnostics, summary), out),
        Format::Github => github(diagnostics, out),
        Format::Sarif => write_json(&sarif(diagnostics), out),
    }
}

fn write_json(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

// ---------------------------------------------------------------- human

fn human(diagnostics: &[Diagnostic], summary: Summary, out: &mut dyn Write) -> io::Result<()> {
    let color =
        std::env::var_os("NO_COLOR").is_none() && io::IsTerminal::is_terminal(&io::stdout());
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme);
    for d in diagnostics {
        let mut s = String::new();
        if handler.render_report(&mut s, d).is_err() {
            s = format!("{}: {}", d.severity, d.message);
        }
        writeln!(out, "{s}")?;
    }
    let Summary {
        files,
        errors,
        warnings,
    } = summary;
    writeln!(
        out,
        "checked {files} file{}: {errors} error{}, {warnings} warning{}",
        plural(files),
        plural(errors),
        plural(warnings),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
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

/// A URI reference for a file: relative when it lies in the current
/// folder, `file://` otherwise.
fn artifact_uri(name: &str) -> String {
    match relative_path(name) {
        Some(relative) => percent_encode(&relative),
        None => {
            let path = name.replace('\\', "/");
            let slash = if path.starts_with('/') { "" } else { "/" };
            format!("file://{slash}{}", percent_encode(&path))
        }
    }
}

/// Percent-encodes every byte but unreserved characters and `/`.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page documenting `code` (`nudge::parse::unexpected` →
/// `docs/errors/parse/unexpected.md`).
fn help_uri(code: &str) -> Option<String> {
    let mut parts = code.split("::");
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("nudge"), Some(area), Some(name), None) => Some(format!(
            "{REPOSITORY}/blob/main/docs/errors/{area}/{name}.md"
        )),
        _ => None,
    }
}

// ---------------------------------------------------------------- json

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    summary: Summary,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    help: Option<&'a str>,
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    labels: Vec<JsonLabel<'a>>,
    related: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: Option<&'a str>,
    primary: bool,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    start_byte: u32,
    end_byte: u32,
}

fn json_report(diagnostics: &[Diagnostic], summary: Summary) -> JsonReport<'_> {
    JsonReport {
        version: JSON_VERSION,
        summary,
        diagnostics: diagnostics.iter().map(json_diagnostic).collect(),
    }
}

fn json_diagnostic(d: &Diagnostic) -> JsonDiagnostic<'_> {
    let region = primary_region(d);
    let primary = primary_index(d);
    let labels = match d.source.as_deref() {
        Some(source) => d
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| json_label(source, l, Some(i) == primary))
            .collect(),
        None => Vec::new(),
    };
    JsonDiagnostic {
        code: d.code,
        severity: d.severity,
        message: &d.message,
        help: d.help.as_deref(),
        file: d.source.as_deref().map(SourceFile::name),
        line: region.map(|r| r.line),
        column: region.map(|r| r.column),
        end_line: region.map(|r| r.end_line),
        end_column: region.map(|r| r.end_column),
        labels,
        related: d.related.iter().map(json_diagnostic).collect(),
    }
}

fn json_label<'a>(source: &SourceFile, label: &'a Label, primary: bool) -> JsonLabel<'a> {
    let r = Region::of(source, label.span);
    JsonLabel {
        message: label.message.as_deref(),
        primary,
        line: r.line,
        column: r.column,
        end_line: r.end_line,
        end_column: r.end_column,
        start_byte: label.span.start,
        end_byte: label.span.end,
    }
}

// ---------------------------------------------------------------- github

/// One workflow command per diagnostic; GitHub turns them into annotations.
fn github(diagnostics: &[Diagnostic], out: &mut dyn Write) -> io::Result<()> {
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(source) = d.source.as_deref() {
            let name = source.name();
            let file = relative_path(name).unwrap_or_else(|| name.replace('\\', "/"));
            properties.push(format!("file={}", escape_property(&file)));
            if let Some(r) = primary_region(d) {
                properties.push(format!(
                    "line={},col={},endLine={},endColumn={}",
                    r.line, r.column, r.end_line, r.end_column
                ));
            }
        }
        properties.push(format!("title={}", escape_property(d.code)));
        writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&message_with_help(d))
        )?;
    }
    Ok(())
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

// ---------------------------------------------------------------- sarif

fn sarif(diagnostics: &[Diagnostic]) -> Value {
    let mut rules: Vec<&'static str> = Vec::new();
    let mut results = Vec::new();
    for d in diagnostics {
        let rule_index = match rules.iter().position(|&code| code == d.code) {
            Some(i) => i,
            None => {
                rules.push(d.code);
                rules.len() - 1
            }
        };
        let mut locations = Vec::new();
        if let Some(source) = d.source.as_deref() {
            locations.push(json!({
                "physicalLocation": physical_location(source, d.primary_span()),
            }));
        }
        let mut related = Vec::new();
        let primary = primary_index(d);
        if let Some(source) = d.source.as_deref() {
            for (i, label) in d.labels.iter().enumerate() {
                if Some(i) != primary {
                    related.push((source, Some(label.span), label.message.clone()));
                }
            }
        }
        for r in &d.related {
            if let Some(source) = r.source.as_deref() {
                related.push((source, r.primary_span(), Some(r.message.clone())));
            }
        }
        let related: Vec<Value> = related
            .into_iter()
            .enumerate()
            .map(|(id, (source, span, message))| {
                let mut location = json!({
                    "id": id,
                    "physicalLocation": physical_location(source, span),
                });
                if let Some(text) = message {
                    location["message"] = json!({ "text": text });
                }
                location
            })
            .collect();
        results.push(json!({
            "ruleId": d.code,
            "ruleIndex": rule_index,
            "level": match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            "message": { "text": message_with_help(d) },
            "locations": locations,
            "relatedLocations": related,
        }));
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(|&code| {
            let mut rule = json!({
                "id": code,
                "shortDescription": { "text": short_description(code) },
            });
            if let Some(uri) = help_uri(code) {
                rule["helpUri"] = json!(uri);
            }
            rule
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "nudge",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": REPOSITORY,
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn physical_location(source: &SourceFile, span: Option<Span>) -> Value {
    let mut location = json!({
        "artifactLocation": { "uri": artifact_uri(source.name()) },
    });
    if let Some(span) = span {
        let r = Region::of(source, span);
        location["region"] = json!({
            "startLine": r.line,
            "startColumn": r.column,
            "endLine": r.end_line,
            "endColumn": r.end_column,
        });
    }
    location
}

/// A rule's one-line description from its code: `nudge::parse::too_deep`
/// → "parse: too deep".
fn short_description(code: &str) -> String {
    let code = code.strip_prefix("nudge::").unwrap_or(code);
    match code.split_once("::") {
        Some((area, name)) => format!("{area}: {}", name.replace('_', " ")),
        None => code.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_data_and_properties() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(
            escape_property("nudge::io::read, a%"),
            "nudge%3A%3Aio%3A%3Aread%2C a%25"
        );
    }

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(artifact_uri("flows/a b.flow"), "flows/a%20b.flow");
        assert_eq!(artifact_uri("flows\\é.flow"), "flows/%C3%A9.flow");
        let outside = if cfg!(windows) {
            "Z:\\x.flow"
        } else {
            "/nonexistent-root/x.flow"
        };
        assert!(artifact_uri(outside).starts_with("file:///"));
    }

    #[test]
    fn codes_map_to_pages_and_descriptions() {
        assert_eq!(
            help_uri("nudge::parse::too_deep").as_deref(),
            Some("https://github.com/nudge-flows/nudge/blob/main/docs/errors/parse/too_deep.md")
        );
        assert_eq!(help_uri("other"), None);
        assert_eq!(short_description("nudge::io::not_found"), "io: not found");
    }
}
