//! Deploying to a running `nudge serve`: `nudge deploy` and SIGHUP. New
//! journeys run the new version, running ones keep theirs, journeys of a
//! dropped workflow end with a recorded reason, and the answer says how
//! many journeys each change affected; a module that does not verify, or
//! a project with errors, leaves the running version in place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::process::Command;

use serde_json::json;
use serve_common::{messages, project, Server, PROJECT};

/// The test project without the `welcome` workflow, with a new one.
fn without_welcome() -> String {
    let start = PROJECT.find("workflow welcome {").unwrap();
    let end = start + PROJECT[start..].find("\n}\n").unwrap() + 3;
    format!(
        "{}{}\nworkflow farewell {{\n  on bought\n  send in_app {{ title: \"Bye\", body: \"See you\" }}\n}}\n",
        &PROJECT[..start],
        &PROJECT[end..]
    )
}

#[test]
fn nudge_deploy_ends_journeys_of_a_dropped_workflow_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let batch = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "free"}},
        {"type": "track", "userId": "u2", "event": "signed_up", "properties": {"plan": "free"}},
    ]});
    assert_eq!(server.post("/v1/batch", &batch).0, 200);

    let v2 = dir.path().join("v2");
    std::fs::create_dir_all(&v2).unwrap();
    std::fs::write(v2.join("welcome.flow"), without_welcome()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .arg("deploy")
        .arg(&v2)
        .args(["--server", &server.base])
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("deployed "), "{stdout}");
    assert!(
        stdout.contains("  welcome: removed: 2 running journeys ended"),
        "{stdout}"
    );
    assert!(stdout.contains("  farewell: added"), "{stdout}");
    assert!(stdout.contains("  receipt: kept"), "{stdout}");

    // The journey ended, with its reason; the new workflow runs.
    let (_, p) = server.api("/api/profiles/u1", Some(&server.admin));
    assert_eq!(
        p["journeys"][0]["status"], "exited: its workflow was removed by a deploy",
        "{p}"
    );
    let bought = json!({"batch": [{"type": "track", "userId": "u1", "event": "bought", "properties": {"total": 5.0}}]});
    assert_eq!(server.post("/v1/batch", &bought).0, 200);
    // Past the 2 s `wait for`: no nudge comes.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let sent = messages(server.stop());
    let templates: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| {
            (
                m["profile"].as_str().unwrap(),
                m["template"]
                    .as_str()
                    .unwrap_or(m["content"]["title"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(templates.contains(&("u1", "Bye")), "{templates:?}");
    assert!(templates.contains(&("u1", "receipt")), "{templates:?}");
    assert!(
        !templates.iter().any(|(_, t)| *t == "nudge"),
        "{templates:?}"
    );
}

#[test]
fn a_module_that_does_not_load_or_a_wrong_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    let client = reqwest::blocking::Client::new();
    let post = |token: &str, body: Vec<u8>| {
        let r = client
            .post(format!("{}/api/deploy", server.base))
            .bearer_auth(token)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, text) = post(&server.admin, b"not a module".to_vec());
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid_module"), "{text}");
    let (status, text) = post(&server.key, b"not a module".to_vec());
    assert_eq!(status, 401, "{text}");
    // The running version is untouched.
    let (_, v) = server.api("/api/versions", Some(&server.admin));
    assert_eq!(v["versions"].as_object().unwrap().len(), 1, "{v}");
    server.stop();
}

#[test]
fn sighup_reloads_the_project_folder_and_a_broken_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    // A broken project: the server logs why and keeps its version.
    std::fs::write(project.join("welcome.flow"), "workflow {").unwrap();
    server.signal("HUP");
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let (_, v) = server.api("/api/versions", Some(&server.admin));
    assert_eq!(v["versions"].as_object().unwrap().len(), 1, "{v}");
    assert!(server
        .stdout
        .lock()
        .unwrap()
        .iter()
        .all(|l| !l.starts_with("deployed")));
    // A good change is deployed.
    std::fs::write(project.join("welcome.flow"), without_welcome()).unwrap();
    server.signal("HUP");
    let lines = server.wait_for_line("deployed ", 30);
    assert!(lines.iter().any(|l| l == "  farewell: added"), "{lines:?}");
    let bought = json!({"batch": [{"type": "track", "userId": "u9", "event": "bought", "properties": {"total": 5.0}}]});
    assert_eq!(server.post("/v1/batch", &bought).0, 200);
    let (_, v) = server.api("/api/versions", Some(&server.admin));
    assert_eq!(v["versions"].as_object().unwrap().len(), 2, "{v}");
    let sent = messages(server.stop());
    assert!(
        sent.iter()
            .any(|m| m["profile"] == "u9" && m["workflow"] == "farewell"),
        "{sent:#?}"
    );
}

#[test]
fn a_restart_on_a_project_without_a_workflow_ends_its_journeys() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let signup = json!({"batch": [{"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "free"}}]});
    assert_eq!(server.post("/v1/batch", &signup).0, 200);
    server.stop();
    std::fs::write(project.join("welcome.flow"), without_welcome()).unwrap();
    let server = Server::start(&project, &data, &[]);
    let (_, p) = server.api("/api/profiles/u1", Some(&server.admin));
    assert_eq!(
        p["journeys"][0]["status"], "exited: its workflow was removed by a deploy",
        "{p}"
    );
    server.stop();
}
