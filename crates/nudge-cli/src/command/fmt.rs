//! `nudge fmt`: rewrite `.flow` files in the canonical style.
//!
//! A file is written only when its text changes, and only after the
//! formatted text has been parsed again and found to hold the same tree and
//! the same comments; a file with parse errors is reported and left alone.

use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_syntax::project::{self, ReadError};
use nudge_syntax::{comment_texts, format_file, same_tree};
use nudge_syntax::{parse, Diagnostic, SourceFile};

use crate::exit::Exit;
use crate::report;

/// `nudge fmt`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders (a folder means the `.flow` files directly inside);
    /// `-` reads stdin. Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Write nothing; print a diff of each file that would change and exit 1.
    #[arg(long)]
    pub check: bool,
    /// Read a file from stdin and write the formatted text to stdout.
    #[arg(long)]
    pub stdin: bool,
}

/// Runs `nudge fmt`.
pub fn run(args: &Args) -> Exit {
    let dash = Path::new("-");
    let reads_stdin = args.stdin || args.paths.iter().any(|p| p == dash);
    if reads_stdin {
        if args.paths.iter().any(|p| p != dash) {
            eprintln!("error: `-` (stdin) cannot be combined with paths");
            return Exit::Failure;
        }
        return stdin(args.check);
    }
    let mut status = Status::default();
    let files = collect(&args.paths, &mut status);
    let mut outcome = Outcome::default();
    for path in &files {
        one_file(path, args.check, &mut status, &mut outcome);
    }
    outcome.summary(args.check, files.len());
    status.code()
}

/// How the run went so far.
#[derive(Default)]
struct Status {
    errors: bool,
    failure: bool,
}

impl Status {
    fn code(&self) -> Exit {
        if self.failure {
            Exit::Failure
        } else if self.errors {
            Exit::Problems
        } else {
            Exit::Ok
        }
    }
}

/// What happened to the files.
#[derive(Default)]
struct Outcome {
    changed: usize,
    skipped: usize,
}

impl Outcome {
    fn summary(&self, check: bool, total: usize) {
        if total == 0 {
            return;
        }
        let plural = |n: usize| if n == 1 { "file" } else { "files" };
        let unchanged = total - self.changed - self.skipped;
        let mut line = if check {
            format!(
                "{} {} would be reformatted, {} already formatted",
                self.changed,
                plural(self.changed),
                unchanged
            )
        } else {
            format!(
                "{} {} reformatted, {} already formatted",
                self.changed,
                plural(self.changed),
                unchanged
            )
        };
        if self.skipped > 0 {
            line.push_str(&format!(", {} left alone (errors)", self.skipped));
        }
        eprintln!("{line}");
    }
}

/// The `.flow` files named by `paths` (folders: the files directly inside).
fn collect(paths: &[PathBuf], status: &mut Status) -> Vec<PathBuf> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match project::flow_files_in(path) {
                Ok(found) if found.is_empty() => {
                    eprintln!(
                        "error: no `.flow` files in `{}`\n  help: name a `.flow` file or a folder of them",
                        path.display()
                    );
                    status.failure = true;
                }
                Ok(found) => files.extend(found),
                Err(e) => {
                    eprintln!("error: cannot read `{}`: {e}", path.display());
                    status.failure = true;
                }
            },
            Ok(_) => files.push(path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                eprintln!("error: `{}` does not exist", path.display());
                status.failure = true;
            }
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                status.failure = true;
            }
        }
    }
    files.dedup();
    files
}

/// Formats one file: writes it, or prints its diff with `check`.
fn one_file(path: &Path, check: bool, status: &mut Status, outcome: &mut Outcome) {
    let source = match project::read_source(path) {
        Ok(s) => Arc::new(s),
        Err(ReadError::Fatal(d)) => {
            report(&[*d]);
            status.failure = true;
            return;
        }
        Err(ReadError::InFile(d)) => {
            report(&[*d]);
            status.errors = true;
            outcome.skipped += 1;
            return;
        }
    };
    let formatted = match format_checked(source.clone()) {
        Ok(text) => text,
        Err(Failure::Parse(diagnostics)) => {
            report(&diagnostics);
            eprintln!("{}: not formatted: it has parse errors", source.name());
            status.errors = true;
            outcome.skipped += 1;
            return;
        }
        Err(Failure::Internal(why)) => {
            eprintln!(
                "error: internal error: formatting `{}` would {why}; the file was left unchanged, please report it",
                source.name()
            );
            status.failure = true;
            outcome.skipped += 1;
            return;
        }
    };
    if formatted == source.text() {
        return;
    }
    outcome.changed += 1;
    if check {
        let name = source.name();
        let diff = similar::TextDiff::from_lines(source.text(), formatted.as_str());
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(name, name)
            .to_string();
        let mut out = io::stdout().lock();
        if out.write_all(text.as_bytes()).is_err() {
            status.failure = true;
        }
        status.errors = true;
    } else if let Err(e) = std::fs::write(path, formatted) {
        eprintln!("error: cannot write `{}`: {e}", path.display());
        status.failure = true;
    }
}

/// `nudge fmt -`: stdin to stdout.
fn stdin(check: bool) -> Exit {
    let mut bytes = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("error: cannot read stdin: {e}");
        return Exit::Failure;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: stdin is not UTF-8 text");
        return Exit::Problems;
    };
    let source = Arc::new(SourceFile::new("<stdin>", text));
    match format_checked(source.clone()) {
        Ok(formatted) => {
            if check {
                if formatted == source.text() {
                    return Exit::Ok;
                }
                let diff = similar::TextDiff::from_lines(source.text(), formatted.as_str());
                let text = diff.unified_diff().header("<stdin>", "<stdin>").to_string();
                return match io::stdout().lock().write_all(text.as_bytes()) {
                    Ok(()) => Exit::Problems,
                    Err(_) => Exit::Failure,
                };
            }
            match io::stdout().lock().write_all(formatted.as_bytes()) {
                Ok(()) => Exit::Ok,
                Err(e) => {
                    eprintln!("error: cannot write stdout: {e}");
                    Exit::Failure
                }
            }
        }
        Err(Failure::Parse(diagnostics)) => {
            report(&diagnostics);
            Exit::Problems
        }
        Err(Failure::Internal(why)) => {
            eprintln!("error: internal error: formatting would {why}; please report it");
            Exit::Failure
        }
    }
}

enum Failure {
    /// The input does not parse.
    Parse(Vec<Diagnostic>),
    /// The formatter would damage the input (a bug): why.
    Internal(&'static str),
}

/// Formats `source` and checks the result parses to the same tree with the
/// same comments.
fn format_checked(source: Arc<SourceFile>) -> Result<String, Failure> {
    let before = parse(source.clone());
    if !before.is_ok() {
        return Err(Failure::Parse(before.diagnostics));
    }
    let formatted = format_file(&before);
    let after = parse(Arc::new(SourceFile::new(source.name(), formatted.as_str())));
    if !after.is_ok() {
        return Err(Failure::Internal("produce text that does not parse"));
    }
    if !same_tree(&before.file, &after.file) {
        return Err(Failure::Internal("change its meaning"));
    }
    if comment_texts(&before) != comment_texts(&after) {
        return Err(Failure::Internal("change its comments"));
    }
    Ok(formatted)
}

/// Diagnostics for people, on stderr.
fn report(diagnostics: &[Diagnostic]) {
    let mut err = io::stderr().lock();
    // Nothing useful can be done when stderr is gone.
    let _ = report::write_human(diagnostics, report::color_on(&io::stderr()), &mut err);
}
