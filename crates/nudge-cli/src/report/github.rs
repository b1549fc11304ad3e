//! `--format github`: GitHub Actions workflow commands (`::error file=…`),
//! which GitHub turns into annotations, and their escaping.

use std::io::{self, Write};

use nudge_syntax::{Diagnostic, Severity};

use super::{message_with_help, primary_region, relative_path};

/// One workflow command per diagnostic; GitHub turns them into annotations.
pub(super) fn write(diagnostics: &[Diagnostic], out: &mut dyn Write) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::duplicate;
    use super::*;

    #[test]
    fn github_writes_warnings_as_warnings() {
        let mut out = Vec::new();
        write(&duplicate(), &mut out).unwrap();
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
}
