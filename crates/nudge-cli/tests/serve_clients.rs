//! Segment's own SDKs against `nudge serve`: `segment-analytics-python`
//! and `@segment/analytics-node` (installed by `tests/clients/install.sh`,
//! which `.ci/run` runs), configured with the server's address and write
//! key, send identify, track and page calls that start journeys; the same
//! calls sent again are applied once.
//!
//! Without the installed clients the tests are skipped with a note, except
//! under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use serve_common::{messages, project, Server};

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

/// Whether a client is installed; fails under CI when not.
fn installed(what: &str, marker: &str) -> bool {
    if clients().join(marker).exists() {
        return true;
    }
    let message =
        format!("{what} is not installed: run `bash tests/clients/install.sh` (skipping)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("{message}");
    false
}

/// Runs a client program on a calls file; panics with its output when it
/// fails.
fn send(program: &str, script: &str, server: &Server, calls: &Path, extra: &[&str]) {
    let out = Command::new(program)
        .arg(clients().join(script))
        .args(extra)
        .arg(&server.base)
        .arg(&server.key)
        .arg(calls)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_client(program: &str, script: &str, marker: &str, extra: &[&str]) {
    if !installed(script, marker) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &["--quiet"]);
    let user = format!("{}-user", script.replace('.', "-"));
    let calls = json!([
        {"type": "identify", "userId": user, "traits": {"email": "sdk@example.com", "name": "Sam"},
         "messageId": format!("{script}-1")},
        {"type": "track", "userId": user, "event": "signed_up", "properties": {"plan": "pro"},
         "messageId": format!("{script}-2")},
        {"type": "page", "userId": user, "name": "Pricing", "properties": {"path": "/pricing"},
         "messageId": format!("{script}-3")},
        {"type": "track", "anonymousId": "visitor-1", "event": "signed_up", "properties": {"plan": "free"},
         "messageId": format!("{script}-4")},
        {"type": "group", "userId": user, "groupId": "acme", "messageId": format!("{script}-5")},
    ]);
    let file = dir.path().join("calls.json");
    std::fs::write(&file, calls.to_string()).unwrap();
    send(program, script, &server, &file, extra);
    // The same calls again (a retried batch): acknowledged, not applied.
    send(program, script, &server, &file, extra);
    // identify, track, page and the anonymous track; `group` is ignored.
    assert_eq!(server.counts(), (4, 4));
    let sent = messages(server.stop());
    let to = |profile: &str, template: &str| {
        sent.iter()
            .filter(|m| m["profile"] == profile && m["template"] == template)
            .count()
    };
    assert_eq!(to(&user, "hello"), 1, "{sent:#?}");
    assert_eq!(to(&user, "welcome_mail"), 1, "{sent:#?}");
    assert_eq!(to("visitor-1", "hello"), 1, "{sent:#?}");
    let hello = sent
        .iter()
        .find(|m| m["profile"] == user.as_str() && m["template"] == "hello")
        .unwrap();
    assert_eq!(hello["content"]["title"], "Hello Sam");
    assert_eq!(hello["content"]["body"], "You are on the pro plan.");
}

#[test]
fn the_python_sdk_starts_journeys_and_a_resent_batch_is_applied_once() {
    run_client("python3", "send.py", ".pydeps", &[]);
}

#[test]
fn the_python_sdk_with_gzip_bodies() {
    run_client("python3", "send.py", ".pydeps", &["--gzip"]);
}

#[test]
fn the_node_sdk_starts_journeys_and_a_resent_batch_is_applied_once() {
    run_client(
        "node",
        "send.mjs",
        "node_modules/@segment/analytics-node",
        &[],
    );
}
