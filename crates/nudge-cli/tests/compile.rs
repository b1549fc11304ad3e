//! `nudge compile` and `nudge disasm` through the binary: a round trip on
//! the examples, flows with errors, and damaged modules.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use nudge_bytecode::Module;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `nudge` from the workspace root, without colour.
fn nudge(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Compiles the examples into `dir`; returns the module's path.
fn compile_examples(dir: &Path) -> PathBuf {
    let out = dir.join("examples.nudge");
    let run = nudge(&["compile", "examples", "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    out
}

#[test]
fn compile_then_disasm_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = compile_examples(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"NUDG"));
    // Load, write again: the same bytes.
    let module = Module::from_bytes(&bytes).unwrap();
    assert_eq!(module.to_bytes().unwrap(), bytes);
    assert_eq!(module.compiler_version, env!("CARGO_PKG_VERSION"));

    let run = nudge(&["disasm", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in [
        "abandoned_checkout",
        "onboarding",
        "password_reset",
        "win_back",
    ] {
        assert!(run.stdout.contains(name), "no `{name}` in:\n{}", run.stdout);
    }
    // The sources next to the recorded paths are readable: locations.
    assert!(
        run.stdout.contains("examples/abandoned_checkout.flow:"),
        "no source locations in:\n{}",
        run.stdout
    );
    // Deterministic: compiling again gives the same module.
    std::fs::create_dir(dir.path().join("again")).unwrap();
    let again = compile_examples(&dir.path().join("again"));
    assert_eq!(std::fs::read(again).unwrap(), bytes);
}

#[test]
fn disasm_without_sources_still_lists() {
    let dir = tempfile::tempdir().unwrap();
    let path = compile_examples(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["disasm", path.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains("abandoned_checkout"), "{listing}");
}

#[test]
fn flows_with_errors_are_reported_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("bad.flow");
    std::fs::write(
        &flow,
        "profile { plan: string }\nevent login {}\nworkflow w {\n  on logn\n  send in_app { title: \"t\", body: \"b\" }\n}\n",
    )
    .unwrap();
    let out = dir.path().join("bad.nudge");
    let run = nudge(&[
        "compile",
        flow.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nudge::check::"), "{}", run.stderr);
    assert!(run.stderr.contains("logn"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(!out.exists());
}

#[test]
fn missing_output_is_a_usage_error() {
    let run = nudge(&["compile", "examples"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// Writes `bytes` to a file in `dir` and runs `nudge disasm` on it.
fn disasm_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Run {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    nudge(&["disasm", path.to_str().unwrap()])
}

#[test]
fn damaged_modules_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(compile_examples(dir.path())).unwrap();

    // One byte flipped near the end of the body.
    let mut corrupted = bytes.clone();
    let at = corrupted.len() - 10;
    corrupted[at] ^= 0x5a;
    let run = disasm_bytes(dir.path(), "corrupted.nudge", &corrupted);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("corrupted") && run.stderr.contains("corrupted.nudge"),
        "{}",
        run.stderr
    );

    let run = disasm_bytes(dir.path(), "truncated.nudge", &bytes[..bytes.len() / 2]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);

    // Format version 99 (the two bytes after the magic).
    let mut newer = bytes.clone();
    newer[4..6].copy_from_slice(&99u16.to_le_bytes());
    let run = disasm_bytes(dir.path(), "newer.nudge", &newer);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("format version 99") && run.stderr.contains("upgrade nudge"),
        "{}",
        run.stderr
    );

    let run = disasm_bytes(dir.path(), "text.nudge", b"profile { }\n");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a nudge module"), "{}", run.stderr);

    let run = nudge(&["disasm", dir.path().join("absent.nudge").to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
}
