//! The measurements of a running server: `GET /api/report` over every
//! partition's record log, and `nudge report --server` printing it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use serve_common::{project_of, Server};

const FLOW: &str = r#"
profile {
  email: email?
}

event signed_up {}
event bought {}

workflow welcome {
  on signed_up
  goal converted = bought within 7d
  split offer {
    holdout 50%: exit
    discount 50%: send in_app { body: "10% off today" }
  }
}
"#;

#[test]
fn a_server_reports_its_arms_over_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let project = project_of(dir.path(), FLOW);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--partitions", "3"]);
    let mut calls = Vec::new();
    for i in 0..60 {
        calls.push(json!({"type": "track", "userId": format!("u{i}"), "event": "signed_up"}));
    }
    for i in (0..60).step_by(3) {
        calls.push(json!({"type": "track", "userId": format!("u{i}"), "event": "bought"}));
    }
    assert_eq!(server.post("/v1/batch", &json!({ "batch": calls })).0, 200);

    let (status, _) = server.api("/api/report", None);
    assert_eq!(status, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let (status, report) = server.api("/api/report", Some(&server.admin));
        assert_eq!(status, 200, "{report}");
        if report["workflows"][0]["goals"]["converted"] == 20 || Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(report["workflows"][0]["entered"], 60, "{report}");
    assert_eq!(report["workflows"][0]["goals"]["converted"], 20, "{report}");
    let arms = report["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2, "{report}");
    assert_eq!(arms[0]["arm"], "holdout");
    assert_eq!(arms[0]["control"], true);
    let entered: u64 = arms.iter().map(|a| a["entered"].as_u64().unwrap()).sum();
    assert_eq!(entered, 60);
    let converted: u64 = arms
        .iter()
        .map(|a| a["goals"][0]["converted"].as_u64().unwrap())
        .sum();
    assert_eq!(
        converted, 20,
        "the holdout's conversions count after it exits"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["report", "--server", &server.base, "--token", &server.admin])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("welcome/offer  holdout"), "{table}");
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["report", "--server", &server.base, "--token", "adm_wrong"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused (401"));
    server.stop();
}
