//! `nudge graph` on every example workflow: Mermaid and DOT snapshots,
//! each Mermaid document parsed by Mermaid itself (`tests/mermaid/`, in
//! Node) and each DOT document drawn by Graphviz; counts laid over from a
//! record log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nudge(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Whether a test peer is there; under `CI=true` it must be.
fn available(what: &str, there: bool) -> bool {
    if !there {
        let message = format!("{what} is not installed (skipping; see .ci/run)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("{message}");
    }
    there
}

/// Feeds `input` to a command; its status, stdout and stderr.
fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example project's workflows, by name.
fn workflows() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some(rest) = line.strip_prefix("workflow ") {
                    names.push(rest.split_whitespace().next().unwrap().to_owned());
                }
            }
        }
    }
    names.sort();
    names
}

#[test]
fn every_example_workflow_is_drawn_and_mermaid_and_graphviz_read_it() {
    let names = workflows();
    assert!(names.len() >= 6, "{names:?}");
    let mermaid = root().join("tests/mermaid/node_modules/mermaid");
    let check_mermaid = available("the Mermaid parser (tests/mermaid)", mermaid.exists());
    let check_dot = available(
        "Graphviz (`dot`)",
        Command::new("dot").arg("-V").output().is_ok(),
    );
    for name in &names {
        let (code, text, err) = nudge(&["graph", "examples", name]);
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!(format!("mermaid_{name}"), text);
        if check_mermaid {
            let (ok, out, err) = pipe("node", &["tests/mermaid/parse.mjs"], &text);
            assert!(ok && out.starts_with("ok"), "{name}: {out}{err}\n{text}");
            assert!(out.contains("flowchart"), "{out}");
        }
        let (code, dot, err) = nudge(&["graph", "examples", name, "--format", "dot"]);
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!(format!("dot_{name}"), dot);
        if check_dot {
            let (ok, svg, err) = pipe("dot", &["-Tsvg"], &dot);
            assert!(ok && svg.contains("<svg"), "{name}: {err}");
        }
    }
    // The whole project at once: a subgraph per workflow.
    let (code, all, _) = nudge(&["graph", "examples"]);
    assert_eq!(code, 0);
    assert_eq!(all.matches("subgraph").count(), names.len());
    if check_mermaid {
        let (ok, out, err) = pipe("node", &["tests/mermaid/parse.mjs"], &all);
        assert!(ok, "{out}{err}");
    }
    if check_dot {
        let (code, svg, err) = nudge(&["graph", "examples", "onboarding", "--format", "svg"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            svg.contains("<svg") && svg.contains("split welcome_subject"),
            "{svg}"
        );
    }
}

#[test]
fn a_record_log_lays_its_counts_over_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let mut lines = String::new();
    for i in 0..10 {
        let p = format!("u{i}");
        let arm = if i < 3 { "a" } else { "b" };
        let template = if i < 3 { "welcome_a" } else { "welcome_b" };
        lines.push_str(&format!("{{\"kind\":\"entered\",\"time\":\"2026-03-02T10:00:00Z\",\"profile\":\"{p}\",\"workflow\":\"onboarding\",\"run\":0}}\n"));
        lines.push_str(&format!("{{\"kind\":\"arm\",\"time\":\"2026-03-02T10:00:00Z\",\"profile\":\"{p}\",\"workflow\":\"onboarding\",\"split\":\"welcome_subject\",\"arm\":\"{arm}\"}}\n"));
        lines.push_str(&format!("{{\"kind\":\"message\",\"time\":\"2026-03-02T10:00:00Z\",\"profile\":\"{p}\",\"workflow\":\"onboarding\",\"channel\":\"email\",\"template\":\"{template}\",\"content\":{{}}}}\n"));
    }
    std::fs::write(&records, lines).unwrap();
    let (code, text, err) = nudge(&[
        "graph",
        "examples",
        "onboarding",
        "--records",
        records.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("entered 10"), "{text}");
    assert!(text.contains("|\"a 50%: 3\"|"), "{text}");
    assert!(text.contains("|\"b 50%: 7\"|"), "{text}");
    assert!(text.contains("send email welcome_b<br/>sent 7"), "{text}");
    assert!(
        text.contains("goal activated = feature_used where event.first_time within 1w: 0 reached"),
        "{text}"
    );
}

#[test]
fn an_unknown_workflow_is_named_with_those_there_are() {
    let (code, _, err) = nudge(&["graph", "examples", "onbording"]);
    assert_eq!(code, 2);
    assert!(err.contains("no workflow `onbording`"), "{err}");
    assert!(err.contains("onboarding"), "{err}");
}
