//! Diagnostic output in the formats of `--format`.

use std::io::{self, Write};

use nudge_syntax::{Diagnostic, Severity};

use crate::cli::Format;

/// Writes `diagnostics` in `format`. `files` is how many files were read.
pub fn emit(
    format: Format,
    diagnostics: &[Diagnostic],
    files: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human | Format::Json | Format::Github | Format::Sarif => {
            human(diagnostics, files, out)
        }
    }
}

fn human(diagnostics: &[Diagnostic], files: usize, out: &mut dyn Write) -> io::Result<()> {
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
            s = d.message.clone();
        }
        writeln!(out, "{s}")?;
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    writeln!(
        out,
        "checked {files} file{}: {errors} error{}, {warnings} warning{}",
        if files == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    )
}
