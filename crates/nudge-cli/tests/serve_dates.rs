//! Date triggers in a real `nudge serve` on the wall clock: a reminder
//! before a profile's date and one at it, moved by an identify that
//! changes the date and dropped by one that clears it; armed for profiles
//! already stored when a version that has the trigger is deployed; and
//! still firing, once, after the server is killed with SIGKILL and started
//! again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use serve_common::{messages, project_of, Server};

const SCHEMA: &str = r#"
profile {
  email: email?
  ends_at: time?
}


template soon: in_app {
  title: "Soon"
  body: "Your trial ends in two seconds."
}

template ended: in_app {
  title: "Ended"
  body: "Your trial has ended."
}
"#;

const DATED: &str = r#"
workflow soon {
  on 2s before profile.ends_at
  send in_app soon
}

workflow ended {
  on profile.ends_at
  send in_app ended
}
"#;

fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn identify(server: &Server, user: &str, ends_at: Option<DateTime<Utc>>) {
    let traits = match ends_at {
        Some(t) => json!({ "ends_at": stamp(t) }),
        None => json!({ "ends_at": null }),
    };
    let body = json!({"batch": [{"type": "identify", "userId": user, "traits": traits}]});
    assert_eq!(server.post("/v1/batch", &body).0, 200);
}

/// (profile, template, time) of every message.
fn sent(lines: Vec<String>) -> Vec<(String, String, DateTime<Utc>)> {
    messages(lines)
        .iter()
        .map(|m: &Value| {
            (
                m["profile"].as_str().unwrap().to_owned(),
                m["template"].as_str().unwrap_or_default().to_owned(),
                nudge_ingest::parse_time(m["time"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn date_triggers_fire_on_the_wall_clock_and_follow_identify() {
    let dir = tempfile::tempdir().unwrap();
    let project = project_of(dir.path(), &format!("{SCHEMA}{DATED}"));
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let t0 = ms(Utc::now());
    let ends = t0 + TimeDelta::milliseconds(3_500);
    let moved = t0 + TimeDelta::milliseconds(5_000);
    identify(&server, "u1", Some(ends));
    // Moved later before either instant: only the new ones fire.
    identify(&server, "u2", Some(ends));
    identify(&server, "u2", Some(moved));
    // Cleared: nothing fires.
    identify(&server, "u3", Some(ends));
    identify(&server, "u3", None);
    // Already past when set: nothing fires.
    identify(&server, "u4", Some(t0 - TimeDelta::seconds(1)));
    std::thread::sleep(Duration::from_millis(6_500));
    let got = sent(server.stop());
    let want = vec![
        (
            "u1".to_owned(),
            "soon".to_owned(),
            ends - TimeDelta::seconds(2),
        ),
        (
            "u2".to_owned(),
            "soon".to_owned(),
            moved - TimeDelta::seconds(2),
        ),
        ("u1".to_owned(), "ended".to_owned(), ends),
        ("u2".to_owned(), "ended".to_owned(), moved),
    ];
    let mut want = want;
    want.sort_by(|a, b| (a.2, &a.0, &a.1).cmp(&(b.2, &b.0, &b.1)));
    let mut got = got;
    got.sort_by(|a, b| (a.2, &a.0, &a.1).cmp(&(b.2, &b.0, &b.1)));
    assert_eq!(got, want);
}

/// Sleeps until `t` and `extra` milliseconds more.
fn sleep_past(t: DateTime<Utc>, extra: u64) {
    let left = u64::try_from((t - Utc::now()).num_milliseconds().max(0)).unwrap();
    std::thread::sleep(Duration::from_millis(left + extra));
}

#[test]
fn a_deploy_arms_the_profiles_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    // Version 1 has the field but no date trigger.
    let project = project_of(dir.path(), SCHEMA);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let ends = ms(Utc::now()) + TimeDelta::milliseconds(4_000);
    identify(&server, "stored", Some(ends));
    // Version 2 adds the triggers: the stored profile, which sends
    // nothing more, is armed by the deploy.
    std::fs::write(project.join("delivery.flow"), format!("{SCHEMA}{DATED}")).unwrap();
    server.signal("HUP");
    server.wait_for_line("deployed ", 30);
    sleep_past(ends, 1_000);
    let got = sent(server.stop());
    assert_eq!(
        got,
        vec![
            (
                "stored".to_owned(),
                "soon".to_owned(),
                ends - TimeDelta::seconds(2)
            ),
            ("stored".to_owned(), "ended".to_owned(), ends),
        ]
    );
}

#[test]
fn armed_dates_survive_a_kill_and_fire_late_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let project = project_of(dir.path(), &format!("{SCHEMA}{DATED}"));
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let ends = ms(Utc::now()) + TimeDelta::milliseconds(4_000);
    identify(&server, "u1", Some(ends));
    // Acknowledged, so armed durably: the server dies at once, and stays
    // down past both instants.
    server.kill9();
    sleep_past(ends, 500);
    let restarted = Utc::now();
    let server = Server::start(&project, &data, &[]);
    std::thread::sleep(Duration::from_millis(1_500));
    let got = sent(server.stop());
    // Both fire, late, once each.
    assert_eq!(got.len(), 2, "{got:?}");
    for template in ["soon", "ended"] {
        let (_, _, at) = got.iter().find(|(_, t, _)| t == template).unwrap();
        assert!(*at >= restarted - TimeDelta::milliseconds(5), "{got:?}");
    }
}
