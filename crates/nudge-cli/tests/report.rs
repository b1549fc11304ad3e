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
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

/// A log over two weeks: 100 entries a day in each arm, the control
/// converting at 10% and `b` at 14%, each conversion a day after entry.
fn log_over_days() -> String {
    let mut lines = Vec::new();
    let mut n = 0;
    for day in 1..=14 {
        for i in 0..200 {
            n += 1;
            let profile = format!("u{n}");
            let arm = if i % 2 == 0 { "control" } else { "b" };
            let t = format!("2026-03-{day:02}T10:00:00Z");
            lines.push(
                json!({"kind": "entered", "time": t, "profile": profile, "workflow": "onboarding"}),
            );
            lines.push(json!({"kind": "arm", "time": t, "profile": profile, "workflow": "onboarding", "split": "subject", "arm": arm}));
            let rate = if arm == "control" { 10 } else { 14 };
            if (i / 2) % 100 < rate {
                let t = format!("2026-03-{:02}T10:00:00Z", day + 1);
                lines.push(json!({"kind": "goal", "time": t, "profile": profile, "workflow": "onboarding", "goal": "activated"}));
            }
        }
    }
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

#[test]
fn the_html_report_opens_in_a_real_browser_with_its_charts() {
    let (code, page, stderr) = report("html", &log_over_days());
    assert_eq!(code, 0, "{stderr}");
    assert!(page.starts_with("<!doctype html>"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();

    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    let Some(chromium) = chromium else {
        let message = "no Chromium to open the report in (skipping; see .ci/run)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("{message}");
        return;
    };
    let url = format!("file://{}", file.display());
    let headless = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    // The DOM as the browser built it: the charts are there, one line and
    // one band per arm.
    let dom = Command::new(chromium)
        .args(headless)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<h1>Nudge report</h1>"), "{dom}");
    assert_eq!(dom.matches("class=\"rate\"").count(), 2, "{dom}");
    assert_eq!(dom.matches("class=\"band\"").count(), 2, "{dom}");
    assert!(
        dom.contains("better"),
        "the 14% arm is decided better over two weeks"
    );
    // A screenshot, kept beside the build as the run's artifact.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("nudge-report.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(chromium)
        .args(headless)
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,1400", &url])
        .output()
        .unwrap();
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}\n{}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());
}
