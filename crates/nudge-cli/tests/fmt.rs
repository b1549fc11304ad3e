//! `nudge fmt` end to end: the real binary on files in a temporary folder.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn nudge(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        // The command may exit before reading (a usage error): a closed
        // pipe is not a test failure, the exit code below is what counts.
        if let Err(e) = input.write_all(stdin.unwrap_or("").as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const MESSY: &str = "// The plans.\nenum Plan {\n  starter,\n  pro\n}\nevent login { device: string,   at: time }\nworkflow w { on login   // entry\n  send email welcome { subject: \"Hi\" }\n\n\n\n  wait 24h }\n";

const TIDY: &str = "// The plans.\nenum Plan { starter, pro }\n\nevent login {\n  device: string\n  at: time\n}\n\nworkflow w {\n  on login // entry\n  send email welcome { subject: \"Hi\" }\n\n  wait 24h\n}\n";

const BROKEN: &str = "workflow w {\n  on login\n  send email\n";

fn folder(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn read(dir: &TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.path().join(name)).unwrap()
}

#[test]
fn rewrites_files_in_place() {
    let dir = folder(&[("a.flow", MESSY), ("b.flow", TIDY)]);
    let run = nudge(dir.path(), &["fmt"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(&dir, "a.flow"), TIDY);
    assert_eq!(read(&dir, "b.flow"), TIDY);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr, "1 file reformatted, 1 already formatted\n");
    // A second run finds nothing to do.
    let again = nudge(dir.path(), &["fmt", "."], None);
    assert_eq!(again.code, 0);
    assert_eq!(again.stderr, "0 files reformatted, 2 already formatted\n");
}

#[test]
fn does_not_touch_formatted_files() {
    let dir = folder(&[("b.flow", TIDY)]);
    let path = dir.path().join("b.flow");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let run = nudge(dir.path(), &["fmt", "b.flow"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), old);
}

#[test]
fn check_prints_a_diff_and_exits_1() {
    let dir = folder(&[("a.flow", MESSY), ("b.flow", TIDY)]);
    let run = nudge(dir.path(), &["fmt", "--check", "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(read(&dir, "a.flow"), MESSY, "--check wrote the file");
    assert!(
        run.stdout.starts_with("--- a.flow\n+++ a.flow\n@@ "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("-enum Plan {\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("+enum Plan { starter, pro }\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("-  wait 24h }\n+  wait 24h\n+}\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("b.flow"), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "1 file would be reformatted, 1 already formatted\n"
    );
}

#[test]
fn check_passes_on_formatted_files() {
    let dir = folder(&[("b.flow", TIDY)]);
    let run = nudge(dir.path(), &["fmt", "--check"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn the_examples_are_formatted() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let run = nudge(&examples, &["fmt", "--check", "."], None);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn stdin_to_stdout() {
    let dir = folder(&[]);
    let run = nudge(dir.path(), &["fmt", "-"], Some(MESSY));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, TIDY);
    let run = nudge(dir.path(), &["fmt", "--stdin"], Some(TIDY));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, TIDY);
}

#[test]
fn stdin_check_prints_a_diff() {
    let dir = folder(&[]);
    let run = nudge(dir.path(), &["fmt", "--check", "-"], Some(MESSY));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("--- <stdin>\n+++ <stdin>\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+enum Plan { starter, pro }\n"),
        "{}",
        run.stdout
    );
    let run = nudge(dir.path(), &["fmt", "--check", "-"], Some(TIDY));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn stdin_with_parse_errors() {
    let dir = folder(&[]);
    let run = nudge(dir.path(), &["fmt", "-"], Some(BROKEN));
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("nudge::parse::"), "{}", run.stderr);
    assert!(run.stderr.contains("<stdin>"), "{}", run.stderr);
}

#[test]
fn a_broken_file_is_reported_and_left_untouched() {
    let dir = folder(&[("a.flow", MESSY), ("broken.flow", BROKEN)]);
    let run = nudge(dir.path(), &["fmt"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(read(&dir, "broken.flow"), BROKEN);
    // The other file is still formatted.
    assert_eq!(read(&dir, "a.flow"), TIDY);
    assert!(run.stderr.contains("nudge::parse::"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("broken.flow: not formatted: it has parse errors"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .ends_with("1 file reformatted, 0 already formatted, 1 left alone (errors)\n"));
}

#[test]
fn a_file_that_is_not_utf8_is_reported_and_left_untouched() {
    let dir = folder(&[]);
    let bytes = b"event login {}\n\xff\xfe\n";
    std::fs::write(dir.path().join("latin.flow"), bytes).unwrap();
    let run = nudge(dir.path(), &["fmt"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is not UTF-8"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.path().join("latin.flow")).unwrap(), bytes);
}

#[test]
fn missing_paths_exit_2() {
    let dir = folder(&[("a.flow", TIDY)]);
    let run = nudge(dir.path(), &["fmt", "nope.flow"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`nope.flow` does not exist"),
        "{}",
        run.stderr
    );
    let empty = folder(&[]);
    let run = nudge(empty.path(), &["fmt"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no `.flow` files"), "{}", run.stderr);
}

#[test]
fn stdin_cannot_be_mixed_with_paths() {
    let dir = folder(&[("a.flow", TIDY)]);
    let run = nudge(dir.path(), &["fmt", "-", "a.flow"], Some(TIDY));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be combined"), "{}", run.stderr);
}

#[test]
fn crlf_and_byte_order_mark_are_kept() {
    let text = "\u{feff}event login {   }\r\nevent  logout {}\r\n";
    let dir = folder(&[("a.flow", text)]);
    let run = nudge(dir.path(), &["fmt"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(&dir, "a.flow"),
        "\u{feff}event login {}\r\n\r\nevent logout {}\r\n"
    );
}

/// U+FEFF is whitespace wherever it stands, for the parser, the checker and
/// the formatter alike (the formatter used to panic on one inside a file,
/// or refuse a doc comment followed by one).
#[test]
fn a_byte_order_mark_inside_a_file_is_whitespace() {
    let dir = folder(&[]);
    for (input, expected) in [
        ("enum E { a \u{feff}b }\n", "enum E { a, b }\n"),
        (
            "profile {\n  x: int\n\u{feff}}\n",
            "profile {\n  x: int\n}\n",
        ),
        (
            "/// d\n\u{feff}profile { x: int }\n",
            "/// d\nprofile {\n  x: int\n}\n",
        ),
        // At the start of a file it is the file's mark, and kept.
        ("\u{feff}event a {}\n", "\u{feff}event a {}\n"),
    ] {
        let run = nudge(dir.path(), &["fmt", "--stdin"], Some(input));
        assert_eq!(run.code, 0, "{input:?}: {}", run.stderr);
        assert_eq!(run.stdout, expected, "{input:?}");
        let again = nudge(dir.path(), &["fmt", "--stdin"], Some(&run.stdout));
        assert_eq!(again.stdout, run.stdout, "not a fixed point: {input:?}");
    }
}
