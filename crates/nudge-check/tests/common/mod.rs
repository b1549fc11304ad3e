//! Helpers shared by the checker's tests.
#![allow(dead_code, reason = "each test uses a part")]
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_check::{check_project, Checked, TemplateLoader};
use nudge_syntax::{Diagnostic, SourceFile};
use serde::Serialize;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads template files relative to the repository root (sources are
/// named by their repository path).
pub struct RootLoader;

impl TemplateLoader for RootLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(root().join(path))
    }
}

/// Checks one file, named by its path inside the repository.
pub fn check_file(path: &Path) -> Checked {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path
        .canonicalize()
        .unwrap()
        .strip_prefix(root().canonicalize().unwrap())
        .unwrap()
        .display()
        .to_string();
    check_project(&[Arc::new(SourceFile::new(name, text))], &RootLoader)
}

/// Checks a snippet as a one-file project.
pub fn check_text(name: &str, text: &str) -> Checked {
    check_project(&[Arc::new(SourceFile::new(name, text))], &RootLoader)
}

#[derive(Serialize)]
pub struct JsonLabel {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: Option<String>,
    pub primary: bool,
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: String,
    pub message: String,
    pub help: Option<String>,
    pub file: Option<String>,
    pub labels: Vec<JsonLabel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonDiagnostic>,
}

/// The machine view of a diagnostic, with 1-based lines and columns.
pub fn json(d: &Diagnostic) -> JsonDiagnostic {
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let src = d.source.as_ref().unwrap();
            let a = src.line_col(l.span.start as usize);
            let b = src.line_col(l.span.end as usize);
            JsonLabel {
                line: a.line,
                column: a.column,
                end_line: b.line,
                end_column: b.column,
                message: l.message.clone(),
                primary: l.primary,
            }
        })
        .collect();
    JsonDiagnostic {
        code: d.code,
        severity: d.severity.to_string(),
        message: d.message.clone(),
        help: d.help.clone(),
        file: d.source.as_ref().map(|s| s.name().to_owned()),
        labels,
        related: d.related.iter().map(json).collect(),
    }
}
