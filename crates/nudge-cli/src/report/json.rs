//! `--format json`: our own JSON document (schema version
//! [`JSON_VERSION`]) of the totals and every diagnostic with its labels and
//! related notes; `nudge test` adds its tests to it.

use std::io::{self, Write};

use nudge_syntax::{Diagnostic, Label, Severity, SourceFile};
use serde::Serialize;

use super::{primary_index, primary_region, write_json, Region, Summary};

/// Version of the `--format json` schema; bumped on incompatible changes.
const JSON_VERSION: u32 = 1;

/// Writes the JSON document of `diagnostics`.
pub(super) fn write(
    diagnostics: &[Diagnostic],
    summary: Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_json(&json_report(diagnostics, summary), out)
}

/// Writes the JSON document of `diagnostics` with one more member, `tests`,
/// after the diagnostics.
pub(super) fn write_with_tests(
    diagnostics: &[Diagnostic],
    summary: Summary,
    tests: &impl Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct WithTests<'a, T: Serialize> {
        #[serde(flatten)]
        report: JsonReport<'a>,
        tests: &'a T,
    }
    let report = json_report(diagnostics, summary);
    write_json(&WithTests { report, tests }, out)
}

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

#[cfg(test)]
mod tests {
    use super::super::tests::duplicate;
    use super::*;

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
}
