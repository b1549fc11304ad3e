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
use nudge_check::{check_project, FsLoader};
use nudge_compile::compile;
use nudge_syntax::SourceFile;
use nudge_test::run_tests;
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

/// Template files of the scenarios, named relative to the repository.
struct RootLoader;

impl nudge_check::TemplateLoader for RootLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(root().join(path))
    }
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
        let checked = check_project(&[source(path)], &RootLoader);
        let program = checked.program.as_ref().unwrap_or_else(|| {
            panic!(
                "{} does not check:\n{}",
                path.display(),
                nudge_syntax::render_plain(&checked.diagnostics, 80)
            )
        });
        let module = compile(program, "test").unwrap();
        let outcomes = run_tests(program, &module);
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

/// The first ```flow block after `heading`.
fn block_after<'a>(page: &'a str, heading: &str) -> Option<&'a str> {
    let rest = &page[page.find(heading)?..];
    let start = rest.find("```flow\n")? + "```flow\n".len();
    let end = rest[start..].find("```")?;
    Some(&rest[start..start + end])
}

/// Checks, compiles and runs the tests of one file.
fn run_text(name: &str, text: &str) -> Vec<nudge_test::TestOutcome> {
    let checked = check_project(&[Arc::new(SourceFile::new(name, text))], &FsLoader);
    assert!(
        checked.diagnostics.is_empty(),
        "{name}:\n{}",
        nudge_syntax::render_plain(&checked.diagnostics, 80)
    );
    let program = checked.program.unwrap();
    let module = compile(&program, "test").unwrap();
    run_tests(&program, &module)
}

#[test]
fn every_test_code_has_a_page_whose_examples_behave() {
    let dir = root().join("docs/errors/test");
    for code in nudge_test::ALL {
        let name = code.strip_prefix("nudge::test::").unwrap();
        let path = dir.join(format!("{name}.md"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{code} has no page at {}", path.display()));
        assert!(page.starts_with(&format!("# {code}\n")), "{name}.md: title");
        let example = block_after(&page, "## Example").unwrap();
        let fix = block_after(&page, "## Fix").unwrap();
        let fixed = run_text("fix.flow", fix);
        assert!(
            !fixed.is_empty() && fixed.iter().all(|o| o.passed()),
            "{name}.md: the Fix does not pass"
        );
        // An engine error cannot be provoked by a flow that checks (that
        // is what the page says); the others must show their code.
        if *code != nudge_test::RUN_FAILED {
            let failed = run_text("example.flow", example);
            assert!(
                failed
                    .iter()
                    .flat_map(|o| &o.failures)
                    .any(|d| d.code == *code),
                "{name}.md: the Example does not produce {code}"
            );
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let code = format!(
            "nudge::test::{}",
            path.file_stem().unwrap().to_str().unwrap()
        );
        assert!(
            nudge_test::ALL.contains(&code.as_str()),
            "{} documents no code",
            path.display()
        );
    }
}

const WRONG_COUNT: &str = "tests/cases/run/fail/wrong_count.flow";

#[test]
fn json_output_is_the_check_document_with_the_tests() {
    let run = nudge(&["test", "--format", "json", WRONG_COUNT]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["summary"]["errors"], 2);
    let d = &value["diagnostics"][0];
    assert_eq!(d["code"], "nudge::test::expectation_failed");
    assert_eq!((&d["file"], &d["line"]), (&WRONG_COUNT.into(), &49.into()));
    assert_eq!(value["tests"]["failed"], 2);
    assert_eq!(value["tests"]["results"][0]["name"], "the cap is forgotten");
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_output_of_passing_tests_has_no_diagnostics() {
    let run = nudge(&["test", "--format", "json", "examples"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["diagnostics"], serde_json::json!([]));
    assert_eq!(value["tests"]["passed"], 8);
    assert_eq!(value["tests"]["results"].as_array().unwrap().len(), 8);
    assert!(!run.stdout.contains("... ok"), "{}", run.stdout);
}

#[test]
fn github_output_annotates_the_failing_expect() {
    let run = nudge(&["test", "--format", "github", WRONG_COUNT]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let commands: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 2, "{}", run.stdout);
    for (command, (line, end)) in commands.iter().zip([(49, 25), (55, 28)]) {
        let (properties, message) = command
            .strip_prefix("::error ")
            .and_then(|rest| rest.split_once("::"))
            .unwrap_or_else(|| panic!("not a workflow command: {command}"));
        assert_eq!(
            properties,
            format!(
                "file={WRONG_COUNT},line={line},col=3,endLine={line},endColumn={end},\
                 title=nudge%3A%3Atest%3A%3Aexpectation_failed"
            )
        );
        assert!(message.contains("went out%0Ahelp: "), "{message}");
    }
    // The test lines and the summary stay in the log as plain text.
    assert!(
        run.stdout.starts_with(&format!(
            "test {WRONG_COUNT} :: the cap is forgotten ... FAILED"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("\n0 passed, 2 failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn github_output_of_flows_with_errors_annotates_them() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.flow");
    std::fs::write(&broken, "event e { when: 9:00 }\n").unwrap();
    let run = nudge(&["test", "--format", "github", broken.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("::error file="), "{}", run.stdout);
    assert!(run.stdout.contains(",line=1,col=17,"), "{}", run.stdout);
}

#[test]
fn sarif_output_points_at_the_failing_expect() {
    let run = nudge(&["test", "--format", "sarif", WRONG_COUNT]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results = value["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], WRONG_COUNT);
    assert_eq!(location["region"]["startLine"], 49);
    assert_eq!(results[0]["ruleId"], "nudge::test::expectation_failed");
}

#[test]
fn a_filter_runs_only_the_tests_whose_name_contains_it() {
    let run = nudge(&["test", "--filter", "reset link", "examples"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "test examples/password_reset.flow :: a reset link goes out even at night and past the cap ... ok (1w2m simulated, 3 messages)\n\
         \n\
         1 passed, 0 failed, 7 filtered out\n"
    );

    // Repeated, a test runs when its name contains any of the texts; the
    // match is case-sensitive.
    let run = nudge(&[
        "test",
        "--filter",
        "left alone",
        "--filter",
        "Onboarding",
        "examples",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tests: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("test "))
        .collect();
    assert_eq!(tests.len(), 2, "{}", run.stdout);
    assert!(tests[0].contains(":: small carts are left alone ... ok"));
    assert!(tests[1].contains(":: an active customer is left alone ... ok"));
    assert!(run
        .stdout
        .ends_with("\n2 passed, 0 failed, 6 filtered out\n"));

    // The failures of the tests left out are not reported.
    let run = nudge(&["test", "--filter", "cap", WRONG_COUNT]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .ends_with("\n0 passed, 1 failed, 1 filtered out\n"));
    let run = nudge(&["test", "--format", "json", "--filter", "cap", WRONG_COUNT]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["diagnostics"].as_array().unwrap().len(), 1);
    assert_eq!(value["tests"]["filtered_out"], 1);
}

#[test]
fn a_filter_that_matches_nothing_runs_nothing_and_passes() {
    let run = nudge(&["test", "--filter", "no such test", "examples"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "\n0 passed, 0 failed, 8 filtered out\n");
    assert_eq!(run.stderr, "note: no test name contains `no such test`\n");
}
