//! `--format human`: miette's graphical report of each diagnostic, then a
//! line of totals.

use std::io::{self, Write};

use nudge_syntax::{render_plain, Diagnostic};

use super::Summary;

/// Writes each diagnostic as miette renders it (in colour on a terminal
/// unless `NO_COLOR` is set) at miette's default width, then the totals of
/// `summary`.
pub(super) fn write(
    diagnostics: &[Diagnostic],
    summary: Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_each(diagnostics, color_on(&io::stdout()), out)?;
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

/// Writes each diagnostic as miette renders it at its default width, in
/// colour when `color` holds (the report of `nudge check`, and the parse
/// errors of `nudge fmt`).
pub fn write_each(diagnostics: &[Diagnostic], color: bool, out: &mut dyn Write) -> io::Result<()> {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme);
    for d in diagnostics {
        let mut s = String::new();
        if nudge_syntax::render_report(&handler, d, &mut s).is_err() {
            s = format!("{}: {}", d.severity, d.message);
        }
        writeln!(out, "{s}")?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether people reading `stream` get colour: it is a terminal and
/// `NO_COLOR` (<https://no-color.org>) is unset or empty.
pub fn color_on(stream: &impl io::IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream.is_terminal()
}

/// Diagnostics as people read them in the middle of other output (the
/// failures of `nudge test`, the errors that stop `nudge simulate`):
/// miette's graphical report wrapped at 80 columns; without colour,
/// exactly what the snapshot tests lock ([`render_plain`]).
pub fn render(diagnostics: &[Diagnostic], color: bool) -> String {
    if !color {
        return render_plain(diagnostics, 80);
    }
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode());
    let mut out = String::new();
    for d in diagnostics {
        if nudge_syntax::render_report(&handler, d, &mut out).is_err() {
            out.push_str(&format!("{}: {}", d.severity, d.message));
        }
        out.push('\n');
    }
    out
}
