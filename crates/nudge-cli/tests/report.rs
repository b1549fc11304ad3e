//! `nudge report` on a record log whose answer is worked out by hand:
//! 1 000 journeys in each arm of a split, 100 conversions in the control
//! and 150 in arm `b`, all on one day (one look).
//!
//! By hand (z = 1.95996): the control's rate is 10.0%, Wilson interval
//! 8.29–12.02%; `b`'s is 15.0%, 12.92–17.35%. The difference is +5.0
//! points; with V = 0.1·0.9/1000 + 0.15·0.85/1000 = 0.0002175 and τ = 0.05,
//! Λ = sqrt(V/(V+τ²))·exp(0.05²·τ²/(2V(V+τ²))) = 55.95, so the always-valid
//! p-value is 1/Λ = 0.0179 < 0.05: `b` is better; the always-valid interval
//! of the difference is +0.5 to +9.5 points.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::{json, Value};

fn log() -> String {
    let mut lines = Vec::new();
    for i in 0..2000 {
        let profile = format!("u{i}");
        let arm = if i % 2 == 0 { "control" } else { "b" };
        let t = "2026-03-02T10:00:00Z";
        lines.push(json!({"kind": "entered", "time": t, "profile": profile, "workflow": "onboarding", "run": 0}));
        lines.push(json!({"kind": "arm", "time": t, "profile": profile, "workflow": "onboarding", "split": "subject", "arm": arm}));
        lines.push(json!({"kind": "message", "time": t, "profile": profile, "workflow": "onboarding", "channel": "email", "template": format!("welcome_{arm}"), "content": {"subject": "Hi"}}));
        lines.push(
            json!({"kind": "completed", "time": t, "profile": profile, "workflow": "onboarding"}),
        );
        let converts = if arm == "control" {
            i / 2 < 100
        } else {
            i / 2 < 150
        };
        if converts {
            lines.push(json!({"kind": "goal", "time": "2026-03-02T18:00:00Z", "profile": profile, "workflow": "onboarding", "goal": "activated"}));
        }
    }
    // A summary line, as `nudge simulate --format jsonl` ends with.
    lines.push(json!({"kind": "summary", "workflow": "onboarding", "entered": 2000}));
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

fn report(format: &str, input: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    std::fs::write(&path, input).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["report", path.to_str().unwrap(), "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_report_gives_the_hand_worked_rates_intervals_and_decision() {
    let (code, table, stderr) = report("table", &log());
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(table);
    assert!(table.contains("10.0% (8.3–12.0%)"), "{table}");
    assert!(table.contains("15.0% (12.9–17.3%)"), "{table}");
    assert!(
        table.contains("+5.0 pts (+0.5 to +9.5), lift +50%"),
        "{table}"
    );

    let (code, json, _) = report("json", &log());
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&json).unwrap();
    let b = r["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == "b")
        .unwrap();
    let goal = &b["goals"][0];
    assert_eq!(goal["entered"], 1000);
    assert_eq!(goal["converted"], 150);
    let c = &goal["comparison"];
    assert_eq!(c["decision"], "better");
    assert!(
        (c["p_value"].as_f64().unwrap() - 0.01787).abs() < 1e-4,
        "{c}"
    );
    assert!((c["low"].as_f64().unwrap() - 0.00513).abs() < 1e-4, "{c}");
}

#[test]
fn lines_that_are_not_records_are_named_and_skipped() {
    let input = format!("{}not json\n{{\"no\": \"kind\"}}\n", log());
    let (code, table, stderr) = report("table", &input);
    assert_eq!(code, 1);
    assert!(stderr.contains("records.jsonl:8252: not JSON"), "{stderr}");
    assert!(
        stderr.contains("records.jsonl:8253: not a record (no `kind`)"),
        "{stderr}"
    );
    assert!(stderr.contains("2 lines of"), "{stderr}");
    assert!(table.contains("onboarding"), "the rest is still reported");
}
