//! `--format human`: miette's graphical report of each diagnostic, then a
//! line of totals.

use std::io::{self, Write};

use nudge_syntax::Diagnostic;

use super::Summary;

/// Writes each diagnostic as miette renders it (in colour on a terminal
/// unless `NO_COLOR` is set), then the totals of `summary`.
pub(super) fn write(
    diagnostics: &[Diagnostic],
    summary: Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
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
