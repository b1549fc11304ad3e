//! `--format sarif`: a SARIF 2.1.0 log for code-scanning tools (GitHub code
//! scanning among them): a rule per code, a result per diagnostic in a
//! file, and a notification of the run per problem in no file.

use std::io::{self, Write};

use nudge_syntax::{Diagnostic, Severity, SourceFile, Span};
use serde::Serialize;

use super::{message_with_help, primary_index, relative_path, write_json, Region};

/// Where the project lives (the workspace's `repository`); error pages are
/// under `docs/errors/`.
const REPOSITORY: &str = "https://github.com/nudge-flows/nudge";

/// Writes the SARIF log of `diagnostics`.
pub(super) fn write(diagnostics: &[Diagnostic], out: &mut dyn Write) -> io::Result<()> {
    write_json(&sarif_log(diagnostics), out)
}

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

/// The SARIF log of `diagnostics`: rules in the order their codes first
/// appear, results and notifications in the order of `diagnostics`.
fn sarif_log(diagnostics: &[Diagnostic]) -> SarifLog {
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

#[cfg(test)]
mod tests {
    use super::super::tests::duplicate;
    use super::*;

    #[test]
    fn sarif_lists_secondary_labels_and_related_notes_as_related_locations() {
        let value = serde_json::to_value(sarif_log(&duplicate())).unwrap();
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
