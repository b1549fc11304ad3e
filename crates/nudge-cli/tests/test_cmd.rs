//! `nudge test` end to end: the scenarios of `tests/cases/run` through the
//! runner, the deliberately failing ones through the binary as people see
//! them, the examples, exit codes, and a split over 10 000 profiles on the
//! engine.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::compile;
use nudge_check::{check_project, FsLoader};
use nudge_syntax::SourceFile;
use nudge_vm::testing::run_tests;
use nudge_vm::{Engine, MemoryStore, Props};

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

/// The `.flow` files directly in `dir`, by name.
fn flows(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    out.sort();
    out
}

fn source(path: &Path) -> Arc<SourceFile> {
    let name = path.strip_prefix(root()).unwrap_or(path);
    Arc::new(SourceFile::new(
        name.to_string_lossy().into_owned(),
        std::fs::read_to_string(path).unwrap(),
    ))
}

#[test]
fn every_run_scenario_passes() {
    let files = flows(&root().join("tests/cases/run"));
    assert!(files.len() >= 40, "only {} scenarios", files.len());
    let mut failures = String::new();
    let mut tests = 0;
    for path in &files {
        let checked = check_project(&[source(path)], &FsLoader);
        let program = checked.program.as_ref().unwrap_or_else(|| {
            panic!(
                "{} does not check:\n{}",
                path.display(),
                nudge_syntax::render_plain(&checked.diagnostics, 80)
            )
        });
        let module = compile(program, "test").unwrap();
        let outcomes = run_tests(&checked.parsed, &module);
        assert!(!outcomes.is_empty(), "{} has no test", path.display());
        tests += outcomes.len();
        for o in outcomes.iter().filter(|o| !o.passed()) {
            failures.push_str(&nudge_syntax::render_plain(&o.failures, 80));
        }
    }
    assert!(failures.is_empty(), "{failures}");
    assert!(tests >= 75, "only {tests} tests");
}

#[test]
fn failing_scenarios_read_well() {
    insta::glob!("../../../tests/cases/run/fail", "*.flow", |path| {
        let rel = path.strip_prefix(root().canonicalize().unwrap()).unwrap();
        let run = nudge(&["test", rel.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
        insta::assert_snapshot!(run.stdout);
    });
}

#[test]
fn the_examples_pass_and_the_output_is_the_same_every_run() {
    let first = nudge(&["test", "examples"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.ends_with("8 passed, 0 failed\n"),
        "{}",
        first.stdout
    );
    let second = nudge(&["test", "examples"]);
    assert_eq!(first.stdout, second.stdout);
    insta::assert_snapshot!(first.stdout);
}

#[test]
fn exit_codes() {
    let missing = nudge(&["test", "tests/cases/run/no_such_file.flow"]);
    assert_eq!(missing.code, 2, "{}{}", missing.stdout, missing.stderr);

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.flow");
    std::fs::write(
        &broken,
        "profile { plan: string }\nevent login {}\nworkflow w {\n  on login\n  send in_app { title: profile.nope, body: \"b\" }\n}\n",
    )
    .unwrap();
    let run = nudge(&["test", broken.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("their tests did not run"),
        "{}",
        run.stdout
    );

    let fine = nudge(&["test", "tests/cases/run/send_at_once.flow"]);
    assert_eq!(fine.code, 0, "{}{}", fine.stdout, fine.stderr);
    assert!(
        fine.stdout.contains("2 passed, 0 failed"),
        "{}",
        fine.stdout
    );

    let unknown_flag = nudge(&["test", "--frobnicate"]);
    assert_eq!(unknown_flag.code, 2);
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn a_split_is_near_fifty_fifty_over_ten_thousand_profiles() {
    let text = "profile { plan: string? }\nevent signed_up {}\nworkflow experiment {\n  on signed_up\n  split subject {\n    50%: send in_app { title: \"A\", body: \"b\" }\n    50%: send in_app { title: \"B\", body: \"b\" }\n  }\n}\n";
    let checked = check_project(&[Arc::new(SourceFile::new("split.flow", text))], &FsLoader);
    let module = compile(checked.program.as_ref().unwrap(), "test").unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let mut engine = Engine::new(MemoryStore::new(), module, t0);
    for i in 0..10_000 {
        engine
            .track(&format!("user-{i}"), "signed_up", Props::new(), t0)
            .unwrap();
    }
    // Again: each profile keeps its arm.
    let t1 = t("2026-03-02T10:00:00Z");
    for i in 0..10_000 {
        engine
            .track(&format!("user-{i}"), "signed_up", Props::new(), t1)
            .unwrap();
    }
    let mut a = 0;
    let mut arms = std::collections::HashMap::new();
    for (at, who, m) in engine.sent() {
        let title = m.fields["title"].clone();
        if *at == t0 && title == "A" {
            a += 1;
        }
        let first = arms.entry(who.to_owned()).or_insert_with(|| title.clone());
        assert_eq!(*first, title, "{who} changed arms");
    }
    assert_eq!(engine.sent().count(), 20_000);
    // A fair coin over 10 000 tosses stays within ±3% with overwhelming
    // probability.
    assert!((4_700..=5_300).contains(&a), "{a} of 10 000 in arm A");
}
