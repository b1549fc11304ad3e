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

/// `nudge check`'s JSON document with one more member, `tests`, after the
/// diagnostics (`nudge test --format json`).
pub fn emit_json_with_tests(
    diagnostics: &[Diagnostic],
    files: usize,
    tests: &impl Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct WithTests<'a, T: Serialize> {
        #[serde(flatten)]
        report: JsonReport<'a>,
        tests: &'a T,
    }
    let report = json_report(diagnostics, Summary::new(diagnostics, files));
    write_json(&WithTests { report, tests }, out)
}

fn write_json(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

// ---------------------------------------------------------------- human

fn human(diagnostics: &[Diagnostic], summary: Summary, out: &mut dyn Write) -> io::Result<()> {
    // https://no-color.org: a set, non-empty NO_COLOR turns colour off.
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && io::IsTerminal::is_terminal(&io::stdout());
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

#[derive(Serialize)]
struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [SarifRun; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun {
    tool: SarifTool,
    /// Problems that are in no file (a path that does not exist): SARIF
    /// results need a location (GitHub's upload refuses one without), so
    /// these are notifications of the tool's run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invocations: Vec<SarifInvocation>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifInvocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<SarifNotification>,
}

#[derive(Serialize)]
struct SarifNotification {
    descriptor: SarifDescriptorRef,
    level: Severity,
    message: SarifText,
}

#[derive(Serialize)]
struct SarifDescriptorRef {
    id: &'static str,
}

#[derive(Serialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifDriver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: SarifText,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
}

#[derive(Serialize)]
struct SarifText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    /// `error` or `warning`, as SARIF spells its levels.
    level: Severity,
    message: SarifText,
    /// Exactly one: where the problem is.
    locations: [SarifLocation; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: SarifPhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<SarifText>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysicalLocation {
    artifact_location: SarifArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<SarifRegion>,
}

#[derive(Serialize)]
struct SarifArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

fn sarif(diagnostics: &[Diagnostic]) -> SarifLog {
    let mut rules: Vec<SarifRule> = Vec::new();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for d in diagnostics {
        let Some(source) = d.source.as_deref() else {
            notifications.push(SarifNotification {
                descriptor: SarifDescriptorRef { id: d.code },
                level: d.severity,
                message: SarifText {
                    text: message_with_help(d),
                },
            });
            continue;
        };
        let rule_index = match rules.iter().position(|r| r.id == d.code) {
            Some(i) => i,
            None => {
                rules.push(SarifRule {
                    id: d.code,
                    short_description: SarifText {
                        text: short_description(d.code),
                    },
                    help_uri: help_uri(d.code),
                });
                rules.len() - 1
            }
        };
        let locations = [SarifLocation {
            id: None,
            physical_location: physical_location(source, d.primary_span()),
            message: None,
        }];
        // Secondary labels, then related diagnostics that point into a file.
        let mut related: Vec<(&SourceFile, Option<Span>, Option<&str>)> = Vec::new();
        let primary = primary_index(d);
        for (i, label) in d.labels.iter().enumerate() {
            if Some(i) != primary {
                related.push((source, Some(label.span), label.message.as_deref()));
            }
        }
        for r in &d.related {
            if let Some(source) = r.source.as_deref() {
                related.push((source, r.primary_span(), Some(&r.message)));
            }
        }
        let related_locations = related
            .into_iter()
            .enumerate()
            .map(|(id, (source, span, message))| SarifLocation {
                id: Some(id),
                physical_location: physical_location(source, span),
                message: message.map(|text| SarifText {
                    text: text.to_owned(),
                }),
            })
            .collect();
        results.push(SarifResult {
            rule_id: d.code,
            rule_index,
            level: d.severity,
            message: SarifText {
                text: message_with_help(d),
            },
            locations,
            related_locations,
        });
    }
    SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "nudge",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: REPOSITORY,
                    rules,
                },
            },
            invocations: if notifications.is_empty() {
                Vec::new()
            } else {
                vec![SarifInvocation {
                    execution_successful: !notifications.iter().any(|n| n.level == Severity::Error),
                    tool_execution_notifications: notifications,
                }]
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

fn physical_location(source: &SourceFile, span: Option<Span>) -> SarifPhysicalLocation {
    SarifPhysicalLocation {
        artifact_location: SarifArtifactLocation {
            uri: artifact_uri(source.name()),
        },
        region: span.map(|span| {
            let r = Region::of(source, span);
            SarifRegion {
                start_line: r.line,
                start_column: r.column,
                end_line: r.end_line,
                end_column: r.end_column,
            }
        }),
    }
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
    use std::sync::Arc;

    use super::*;

    /// A warning with a secondary label and a related note in another file.
    fn duplicate() -> Vec<Diagnostic> {
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

    #[test]
    fn json_marks_the_primary_label_and_nests_related() {
        let diagnostics = duplicate();
        let value =
            serde_json::to_value(json_report(&diagnostics, Summary::new(&diagnostics, 2))).unwrap();
        assert_eq!(value["summary"]["warnings"], 1);
        let d = &value["diagnostics"][0];
        assert_eq!(d["severity"], "warning");
        assert_eq!(
            (&d["line"], &d["column"], &d["end_column"]),
            (&2.into(), &7.into(), &10.into())
        );
        assert_eq!(d["labels"][0]["primary"], false);
        assert_eq!(d["labels"][1]["primary"], true);
        assert!(d["help"].is_null());
        let related = &d["related"][0];
        assert_eq!(related["file"], "b.flow");
        assert_eq!(
            (&related["line"], &related["column"]),
            (&2.into(), &7.into())
        );
    }

    #[test]
    fn sarif_lists_secondary_labels_and_related_notes_as_related_locations() {
        let value = serde_json::to_value(sarif(&duplicate())).unwrap();
        let result = &value["runs"][0]["results"][0];
        assert_eq!(result["level"], "warning");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"]["startColumn"],
            7
        );
        let related = result["relatedLocations"].as_array().unwrap();
        assert_eq!(related.len(), 2);
        assert_eq!(related[0]["id"], 0);
        assert_eq!(related[0]["message"]["text"], "this event");
        assert_eq!(related[0]["physicalLocation"]["region"]["startLine"], 2);
        assert_eq!(related[1]["id"], 1);
        assert_eq!(
            related[1]["physicalLocation"]["artifactLocation"]["uri"],
            "b.flow"
        );
        assert_eq!(related[1]["message"]["text"], "first declared here");
    }

    #[test]
    fn github_writes_warnings_as_warnings() {
        let mut out = Vec::new();
        github(&duplicate(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::warning file=a.flow,line=2,col=7,endLine=2,endColumn=10,\
             title=nudge%3A%3Acheck%3A%3Aduplicate::`dup` is declared twice\n"
        );
    }

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
