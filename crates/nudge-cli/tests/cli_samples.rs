//! Every sample output in `docs/cli.md` is what the `nudge` binary prints.
//!
//! The convention, in `docs/cli.md`:
//!
//! - A fenced block is a sample when the line right before its opening
//!   fence is an HTML comment (invisible once rendered) starting with
//!   `<!-- sample`. Every other block (synopses, inputs, YAML) is left
//!   alone.
//! - `<!-- sample: COMMAND -->` before a `text` or `json` block: the block
//!   is what `COMMAND` prints.
//! - `<!-- sample -->` before a `console` block: each `$ COMMAND` line is
//!   run in turn, and the lines up to the next `$` line are what it prints
//!   (nothing, when there are none).
//! - The commands run in a fresh copy of `docs/samples`, so a command may
//!   write files there for the next one; with `sample at the repository
//!   root` (`<!-- sample at the repository root: COMMAND -->`) they run in
//!   the repository root instead, for the samples on `examples`.
//! - A command is `nudge` and its arguments, split as a shell would on
//!   spaces, with `"…"` and `'…'` quoting. `> FILE` sends standard output
//!   to a file (`/dev/null`: discarded), `2> FILE` likewise for standard
//!   error, `< FILE` reads standard input from one. What is not redirected
//!   is compared, standard output and standard error together in the order
//!   they were written, as a terminal shows them (without colour).
//! - Trailing whitespace on each line and trailing blank lines are ignored.
//!   A line that is only `…` stands for any number of lines (none
//!   included).
//!
//! A `console` block that shows output but has no marker fails the test,
//! so a new sample cannot be left unchecked by accident.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Where a sample's commands run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    /// A fresh copy of `docs/samples`.
    Samples,
    /// The repository root.
    Root,
}

/// One command of a sample and the output the document shows for it.
#[derive(Debug)]
struct Run {
    command: String,
    expected: Vec<String>,
}

/// A checked block: its line in the document, where it runs, and its
/// commands in order.
#[derive(Debug)]
struct Sample {
    line: usize,
    dir: Dir,
    runs: Vec<Run>,
}

/// The marker's parts: where to run, and the command if it names one.
fn parse_marker(text: &str, line: usize) -> Option<(Dir, Option<String>)> {
    let inner = text
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let rest = inner.strip_prefix("sample")?;
    let (place, command) = match rest.split_once(':') {
        Some((place, command)) => (place, Some(command.trim().to_owned())),
        None => (rest, None),
    };
    let dir = match place.trim() {
        "" => Dir::Samples,
        "at the repository root" => Dir::Root,
        other => panic!("docs/cli.md:{line}: unknown place `{other}` in a sample marker"),
    };
    Some((dir, command))
}

/// The fenced blocks of `doc` that are samples.
fn samples(doc: &str) -> Vec<Sample> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let indent = lines[i].len() - fence.len();
        let lang = fence.trim_start_matches('`').trim().to_owned();
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].trim() != "```" {
            end += 1;
        }
        assert!(end < lines.len(), "docs/cli.md:{}: unclosed block", i + 1);
        let body: Vec<String> = lines[start..end]
            .iter()
            .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()).to_owned())
            .collect();
        let marker = i.checked_sub(1).and_then(|m| parse_marker(lines[m], m + 1));
        match marker {
            Some((dir, command)) => {
                let runs = if lang == "console" {
                    assert!(
                        command.is_none(),
                        "docs/cli.md:{i}: a console sample takes its commands from its `$` lines"
                    );
                    console_runs(&body, i + 1)
                } else {
                    let command = command.unwrap_or_else(|| {
                        panic!("docs/cli.md:{i}: a `{lang}` sample names its command: `<!-- sample: nudge … -->`")
                    });
                    vec![Run {
                        command,
                        expected: body,
                    }]
                };
                out.push(Sample {
                    line: i + 1,
                    dir,
                    runs,
                });
            }
            None if lang == "console" => {
                assert!(
                    body.iter().all(|l| l.starts_with("$ ")),
                    "docs/cli.md:{}: this console block shows output; mark it `<!-- sample -->` so it is checked",
                    i + 1
                );
            }
            None => {}
        }
        i = end + 1;
    }
    out
}

/// The `$` lines of a console block, each with the lines after it.
fn console_runs(body: &[String], line: usize) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for l in body {
        if let Some(command) = l.strip_prefix("$ ") {
            runs.push(Run {
                command: command.to_owned(),
                expected: Vec::new(),
            });
        } else {
            let run = runs.last_mut().unwrap_or_else(|| {
                panic!("docs/cli.md:{line}: a console sample starts with a `$` line")
            });
            run.expected.push(l.clone());
        }
    }
    runs
}

/// A command line split into words, shell-style.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in `{command}`");
    if in_word {
        out.push(word);
    }
    out
}

/// Where a redirected stream goes. Only the copy of `docs/samples` is
/// written to, never the repository.
fn target(dir: &Path, path: &str, writable: bool) -> Stdio {
    if path == "/dev/null" {
        Stdio::null()
    } else {
        assert!(
            writable,
            "a sample run in the repository root writes `{path}`; run it in docs/samples"
        );
        Stdio::from(File::create(dir.join(path)).unwrap())
    }
}

/// Runs `command` in `dir`; returns what it printed (standard output and
/// error, as written) and its exit code.
fn run(command: &str, dir: &Path, writable: bool, scratch: &Path) -> (String, Option<i32>) {
    let mut args = words(command).into_iter();
    assert_eq!(
        args.next().as_deref(),
        Some("nudge"),
        "a sample runs `nudge`: `{command}`"
    );
    let captured = scratch.join("output");
    let output = File::create(&captured).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nudge"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output);
    for var in [
        "NUDGE_FORMAT",
        "NUDGE_CONFIG",
        "NUDGE_DATA",
        "NUDGE_LISTEN",
        "NUDGE_LOG",
        "NUDGE_SERVER",
        "NUDGE_ADMIN_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    while let Some(word) = args.next() {
        let mut path = || {
            args.next()
                .unwrap_or_else(|| panic!("`{word}` without a file in `{command}`"))
        };
        match word.as_str() {
            ">" => {
                cmd.stdout(target(dir, &path(), writable));
            }
            "2>" => {
                cmd.stderr(target(dir, &path(), writable));
            }
            "<" => {
                cmd.stdin(File::open(dir.join(path())).unwrap());
            }
            _ => {
                cmd.arg(&word);
            }
        }
    }
    let status = cmd.status().unwrap();
    // The child has exited: `captured` holds all it wrote.
    let text = String::from_utf8(std::fs::read(&captured).unwrap())
        .unwrap_or_else(|e| panic!("`{command}` printed bytes that are not UTF-8: {e}"));
    (text, status.code())
}

/// Lines without trailing whitespace, and without trailing blank lines.
fn normalise<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| l.as_ref().trim_end().to_owned())
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn is_gap(line: &str) -> bool {
    line.trim() == "…"
}

/// Whether `actual` is `expected`, each `…` line standing for any run of
/// lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    // ok[i][j]: expected[i..] matches actual[j..].
    let (n, m) = (expected.len(), actual.len());
    let mut ok = vec![vec![false; m + 1]; n + 1];
    ok[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            ok[i][j] = if is_gap(&expected[i]) {
                ok[i + 1][j] || (j < m && ok[i][j + 1])
            } else {
                j < m && expected[i] == actual[j] && ok[i + 1][j + 1]
            };
        }
    }
    ok[0][0]
}

/// `expected` with each `…` replaced by the actual lines it most likely
/// stands for (up to the next line the sample shows), so that the diff
/// shows only the lines that differ.
fn expand(expected: &[String], actual: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    for (i, line) in expected.iter().enumerate() {
        if !is_gap(line) {
            out.push(line.clone());
            // A line that differs from the one at its place stands for it,
            // unless a gap before it found no place for it.
            let placed = i == 0 || !is_gap(&expected[i - 1]);
            if actual.get(at) == Some(line) || (placed && at < actual.len()) {
                at += 1;
            }
            continue;
        }
        let next = expected[i + 1..].iter().find(|l| !is_gap(l));
        let until = match next {
            None => actual.len(),
            Some(next) => actual[at.min(actual.len())..]
                .iter()
                .position(|l| l == next)
                .map_or(at, |p| at + p),
        };
        out.extend_from_slice(&actual[at.min(until)..until]);
        at = until;
    }
    out
}

#[test]
fn every_sample_in_the_cli_docs_is_what_nudge_prints() {
    let root = root();
    let doc = std::fs::read_to_string(root.join("docs/cli.md")).unwrap();
    let samples = samples(&doc);
    let mut failures = Vec::new();
    let mut commands = 0;
    for sample in &samples {
        let scratch = tempfile::tempdir().unwrap();
        let dir = match sample.dir {
            Dir::Root => root.clone(),
            Dir::Samples => {
                let copy = scratch.path().join("samples");
                copy_dir(&root.join("docs/samples"), &copy);
                copy
            }
        };
        for r in &sample.runs {
            commands += 1;
            let writable = sample.dir == Dir::Samples;
            let (printed, code) = run(&r.command, &dir, writable, scratch.path());
            let actual = normalise(&printed.lines().collect::<Vec<_>>());
            let expected = normalise(&r.expected);
            if !matches(&expected, &actual) {
                let shown = expand(&expected, &actual).join("\n") + "\n";
                let diff = similar::TextDiff::from_lines(&shown, &(actual.join("\n") + "\n"))
                    .unified_diff()
                    .context_radius(3)
                    .header("docs/cli.md", "nudge")
                    .to_string();
                failures.push(format!(
                    "docs/cli.md:{}: `{}` (exit code {code:?}) prints something else than the sample shows:\n{diff}",
                    sample.line, r.command
                ));
            }
        }
    }
    assert!(
        samples.len() >= 10,
        "only {} samples found in docs/cli.md",
        samples.len()
    );
    let _ = writeln!(
        std::io::stderr(),
        "cli_samples: {} samples ({commands} commands) of docs/cli.md checked, {} differ",
        samples.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of the {} samples in docs/cli.md are not what nudge prints (edit the sample, or the inputs in docs/samples):\n\n{}",
        failures.len(),
        samples.len(),
        failures.join("\n")
    );
}

/// Copies the folder `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_gap_stands_for_any_run_of_lines() {
    let l = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(matches(&l(&["a", "…", "d"]), &l(&["a", "b", "c", "d"])));
    assert!(matches(&l(&["a", "…", "b"]), &l(&["a", "b"])));
    assert!(matches(&l(&["…", "c"]), &l(&["a", "b", "c"])));
    assert!(matches(&l(&["a", "…"]), &l(&["a"])));
    assert!(!matches(&l(&["a", "…", "d"]), &l(&["a", "b", "c"])));
    assert!(!matches(&l(&["a", "b"]), &l(&["a", "b", "c"])));
    assert_eq!(
        expand(&l(&["a", "…", "d", "x"]), &l(&["a", "b", "c", "d", "e"])),
        l(&["a", "b", "c", "d", "x"])
    );
    assert_eq!(
        words(r#"nudge test --filter "reset link" x > 'a b'"#),
        l(&["nudge", "test", "--filter", "reset link", "x", ">", "a b"])
    );
}
