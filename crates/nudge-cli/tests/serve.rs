//! `nudge serve` as a process, driven over HTTP on 127.0.0.1: a trace sent
//! in real time gives the messages `nudge simulate` predicts; bad requests
//! get their status and change nothing; retries are applied once; a clean
//! stop and a restart lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_common::{messages, project, simulate, Server};

/// Sleeps until `offset` after `t0`, then gives the wall time in ms.
fn at(t0: Instant, start_ms: i64, offset_ms: u64) -> i64 {
    let target = t0 + Duration::from_millis(offset_ms);
    if let Some(d) = target.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
    let _ = start_ms;
    chrono::Utc::now().timestamp_millis()
}

fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn a_trace_sent_in_real_time_gives_the_messages_simulate_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    let mut trace: Vec<Value> = Vec::new();
    let t0 = Instant::now();
    let start = chrono::Utc::now().timestamp_millis();
    let mut send = |offset: u64, calls: Vec<Value>| {
        let now = stamp(at(t0, start, offset));
        let mut batch = Vec::new();
        for mut c in calls {
            c["timestamp"] = json!(now);
            batch.push(c.clone());
            // The trace names anonymous profiles by their anonymousId.
            if c.get("userId").is_none() {
                c["userId"] = c["anonymousId"].clone();
                c.as_object_mut().unwrap().remove("anonymousId");
            }
            trace.push(c);
        }
        let r = server.post("/v1/batch", &json!({ "batch": batch }));
        assert_eq!(r.0, 200, "{}", r.1);
    };
    let identify = |id: &str, name: &str| json!({"type": "identify", "userId": id, "traits": {"email": format!("{id}@example.com"), "name": name}});
    send(
        0,
        vec![
            identify("u1", "Ann"),
            identify("u2", "Bo"),
            identify("u3", "Cy"),
        ],
    );
    let signed_up = |id: &str, plan: &str| json!({"type": "track", "userId": id, "event": "signed_up", "properties": {"plan": plan}});
    send(
        200,
        vec![
            signed_up("u1", "free"),
            signed_up("u2", "pro"),
            signed_up("u3", "free"),
        ],
    );
    // u2 activates: thanks, then the last call 1 s later.
    send(
        1000,
        vec![json!({"type": "track", "userId": "u2", "event": "activated"})],
    );
    // u3 buys: it leaves the workflow.
    send(
        1200,
        vec![
            json!({"type": "track", "userId": "u3", "event": "bought", "properties": {"total": 12.5}}),
        ],
    );
    // An anonymous visitor signs up: a profile of its own.
    send(
        1500,
        vec![
            json!({"type": "track", "anonymousId": "anon-7", "event": "signed_up", "properties": {"plan": "free"}}),
        ],
    );
    // u1 and anon-7 get no activation: a nudge at +2 s, a last call at +3 s.
    std::thread::sleep(
        (t0 + Duration::from_millis(4_900)).saturating_duration_since(Instant::now()),
    );
    let outbox = server.stop();
    let trace_file = dir.path().join("trace.jsonl");
    let lines: Vec<String> = trace.iter().map(Value::to_string).collect();
    std::fs::write(&trace_file, lines.join("\n") + "\n").unwrap();
    let predicted = simulate(&project, &trace_file);
    assert_eq!(predicted.len(), 14, "{predicted:#?}");
    assert_eq!(messages(outbox), predicted);
}

#[test]
fn bad_requests_get_their_status_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    let ok_call = json!({"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "free"}});
    let cases: Vec<(&str, u16, &str, Value)> = vec![
        (
            "wrong type",
            400,
            "properties.total",
            json!({"batch": [ok_call, {"type": "track", "userId": "u1", "event": "bought", "properties": {"total": "ten"}}]}),
        ),
        (
            "missing required property",
            400,
            "properties.plan",
            json!({"batch": [{"type": "track", "userId": "u1", "event": "signed_up"}]}),
        ),
        (
            "unknown enum member",
            400,
            "traits.tier",
            json!({"batch": [{"type": "identify", "userId": "u1", "traits": {"tier": "platinum"}}]}),
        ),
        (
            "no user",
            400,
            "userId",
            json!({"batch": [ok_call, {"type": "track", "event": "signed_up", "properties": {"plan": "free"}}]}),
        ),
        (
            "unknown call type",
            400,
            "type",
            json!({"batch": [{"type": "fax", "userId": "u1"}]}),
        ),
        (
            "bad timestamp",
            400,
            "timestamp",
            json!({"batch": [{"type": "track", "userId": "u1", "event": "activated", "timestamp": "yesterday"}]}),
        ),
    ];
    for (what, status, field, body) in &cases {
        let (got, answer) = server.post("/v1/batch", body);
        assert_eq!(got, *status, "{what}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["success"], json!(false), "{what}");
        assert_eq!(answer["field"], json!(field), "{what}: {answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{what}");
    }
    let (got, answer) = server.post(
        "/v1/batch",
        &json!({"batch": [ok_call, {"type": "track", "userId": "u1", "event": "bought", "properties": {"total": "ten"}}]}),
    );
    assert_eq!(got, 400);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["index"], json!(1), "{answer}");
    assert_eq!(answer["event"], json!("bought"), "{answer}");

    // Malformed JSON.
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        Some(&server.key),
        b"{\"batch\": [".to_vec(),
    );
    assert_eq!(r.0, 400, "{}", r.1);
    assert!(r.1.contains("not valid JSON"), "{}", r.1);
    // Wrong key, no key.
    let body = serde_json::to_vec(&json!({"batch": [ok_call]})).unwrap();
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        Some("wk_wrong"),
        body.clone(),
    );
    assert_eq!(r.0, 401, "{}", r.1);
    let r = server.raw("/v1/batch", "application/json", None, None, body.clone());
    assert_eq!(r.0, 401, "{}", r.1);
    // Wrong content type.
    let r = server.raw(
        "/v1/batch",
        "text/plain",
        None,
        Some(&server.key),
        body.clone(),
    );
    assert_eq!(r.0, 415, "{}", r.1);
    // A body over 512 KiB.
    let big = json!({"batch": (0..2000).map(|i| json!({"type": "track", "userId": format!("u{i}"), "event": "activated", "properties": {"pad": "x".repeat(300)}})).collect::<Vec<_>>()});
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        Some(&server.key),
        serde_json::to_vec(&big).unwrap(),
    );
    assert_eq!(r.0, 413, "{}", r.1);
    assert!(r.1.contains("body_too_large"), "{}", r.1);
    // Malformed JSON without a key is answered as malformed.
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        None,
        b"{\"batch\": [".to_vec(),
    );
    assert_eq!(r.0, 400, "{}", r.1);
    // One call over 32 KiB.
    let fat = json!({"batch": [{"type": "track", "userId": "u1", "event": "activated", "properties": {"pad": "x".repeat(40_000)}}]});
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        Some(&server.key),
        serde_json::to_vec(&fat).unwrap(),
    );
    assert_eq!(r.0, 413, "{}", r.1);
    // A gzip bomb: 50 KB that inflate to 100 MB.
    let bomb = {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..100 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap()
    };
    assert!(bomb.len() < 200_000);
    let r = server.raw(
        "/v1/batch",
        "application/json",
        Some("gzip"),
        Some(&server.key),
        bomb,
    );
    assert_eq!(r.0, 413, "{}", r.1);
    // Not an endpoint.
    let r = server.raw(
        "/v1/fax",
        "application/json",
        None,
        Some(&server.key),
        body.clone(),
    );
    assert_eq!(r.0, 404, "{}", r.1);

    // Nothing was applied.
    let metrics = server.get("/metrics");
    assert_eq!(
        serve_common::metric(&metrics, "nudge_events_applied_total"),
        0,
        "{metrics}"
    );
    assert!(
        metrics.contains("nudge_events_rejected_total{reason=\"invalid_call\"}"),
        "{metrics}"
    );

    // A good gzip body is read.
    let gz = {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&body).unwrap();
        gz.finish().unwrap()
    };
    let r = server.raw(
        "/v1/batch",
        "application/json",
        Some("gzip"),
        Some(&server.key),
        gz,
    );
    assert_eq!(r.0, 200, "{}", r.1);
    // So is a key in the body.
    let mut with_key = json!({"batch": [{"type": "track", "userId": "u9", "event": "activated"}]});
    with_key["writeKey"] = json!(server.key);
    let r = server.raw(
        "/v1/batch",
        "application/json",
        None,
        None,
        serde_json::to_vec(&with_key).unwrap(),
    );
    assert_eq!(r.0, 200, "{}", r.1);
    let metrics = server.get("/metrics");
    assert_eq!(
        serve_common::metric(&metrics, "nudge_events_applied_total"),
        2,
        "{metrics}"
    );
    server.stop();
}

#[test]
fn a_batch_sent_twice_is_applied_once_also_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let data = dir.path().join("data");
    let batch = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}, "messageId": "m-1"},
        {"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "free"}, "messageId": "m-2"},
        {"type": "track", "userId": "u2", "event": "signed_up", "properties": {"plan": "pro"}, "messageId": "m-3"},
    ]});
    let server = Server::start(&project, &data, &[]);
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    assert_eq!(server.counts(), (3, 3));
    let first = server.stop();
    // Each sign-up sent its welcome once.
    assert_eq!(
        messages(first.clone())
            .iter()
            .filter(|m| m["template"] == "hello")
            .count(),
        2
    );
    // After a restart the ids are still known.
    let server = Server::start(&project, &data, &[]);
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    assert_eq!(server.counts(), (0, 3));
    let after = server.stop();
    // The outbox kept its lines and added none for the retry (timers may
    // have sent the nudges since).
    assert_eq!(&after[..first.len()], &first[..]);
    assert_eq!(
        messages(after)
            .iter()
            .filter(|m| m["template"] == "hello")
            .count(),
        2
    );
}

#[test]
fn the_read_api_shows_a_profile_its_journeys_and_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    let batch = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com", "tier": "gold"}},
        {"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "pro"}},
    ]});
    assert_eq!(server.post("/v1/batch", &batch).0, 200);

    assert_eq!(server.api("/api/profiles/u1", None).0, 401);
    assert_eq!(server.api("/api/profiles/u1", Some(&server.key)).0, 401);
    let (status, p) = server.api("/api/profiles/u1", Some(&server.admin));
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        p["traits"],
        json!({"email": "u1@example.com", "tier": "gold"})
    );
    let journeys = p["journeys"].as_array().unwrap();
    assert_eq!(journeys.len(), 1, "{p}");
    assert_eq!(journeys[0]["workflow"], "welcome");
    assert_eq!(journeys[0]["status"], "active");
    assert_eq!(journeys[0]["waiting"]["event"], "activated", "{p}");
    assert!(journeys[0]["waiting"]["until"].is_string(), "{p}");
    // Only events a flow can still read are kept: none here.
    assert_eq!(p["history"], json!([]), "{p}");
    assert!(p["last_activity"].is_string(), "{p}");
    let kinds: Vec<&str> = p["recent_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message", "message", "entered"], "{p}");

    let (status, missing) = server.api("/api/profiles/nobody", Some(&server.admin));
    assert_eq!(status, 404, "{missing}");

    let (status, w) = server.api("/api/workflows", Some(&server.admin));
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["workflows"]["welcome"]["entered"], 1, "{w}");
    assert_eq!(
        w["workflows"]["welcome"]["messages"],
        json!({"email": 1, "in_app": 1}),
        "{w}"
    );

    let m = server.get("/metrics");
    assert!(m.contains("channel=\"email\"} 1\n"), "{m}");
    assert!(m.contains("channel=\"in_app\"} 1\n"), "{m}");
    assert!(
        serve_common::metric(&m, "nudge_commit_seconds_count") >= 1,
        "{m}"
    );
    assert!(
        m.contains("# TYPE nudge_timer_lateness_seconds histogram"),
        "{m}"
    );
    // The journey waits on its `wait for` deadline.
    assert_eq!(serve_common::metric(&m, "nudge_timers_pending"), 1, "{m}");
    assert!(
        serve_common::metric(&m, "nudge_journey_steps_total") >= 1,
        "{m}"
    );

    let (status, v) = server.api("/api/versions", Some(&server.admin));
    assert_eq!(status, 200, "{v}");
    let versions = v["versions"].as_object().unwrap();
    assert_eq!(versions.len(), 1, "{v}");
    let (_, current) = versions.iter().next().unwrap();
    assert_eq!(current["current"], true);
    assert_eq!(current["running"], json!({"welcome": 1}), "{v}");
    assert_eq!(current["workflows"], json!(["welcome", "receipt"]), "{v}");
    server.stop();
}

#[test]
fn timers_due_while_the_server_was_stopped_fire_late_and_what_follows_counts_from_then() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &[]);
    let signup = json!({"batch": [{"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "free"}}]});
    assert_eq!(server.post("/v1/batch", &signup).0, 200);
    server.stop();
    // Down past the 2 s `wait for` and the 1 s wait after it.
    std::thread::sleep(Duration::from_millis(3_500));
    let restarted = chrono::Utc::now();
    let server = Server::start(&project, &data, &[]);
    std::thread::sleep(Duration::from_millis(1_800));
    let sent = messages(server.stop());
    let at = |template: &str| {
        let m = sent
            .iter()
            .find(|m| m["template"] == template)
            .unwrap_or_else(|| panic!("no {template}: {sent:#?}"));
        nudge_ingest::parse_time(m["time"].as_str().unwrap()).unwrap()
    };
    let (nudge, last_call) = (at("nudge"), at("last_call"));
    assert!(
        nudge >= restarted - chrono::TimeDelta::milliseconds(5),
        "{sent:#?}"
    );
    assert_eq!(
        last_call - nudge,
        chrono::TimeDelta::seconds(1),
        "{sent:#?}"
    );
}

#[test]
fn a_settings_file_sets_limits_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let settings = dir.path().join("nudge.toml");
    std::fs::write(
        &settings,
        "quiet = true\npartitions = 3\nreject_undeclared_events = true\n\n[limits]\nbatch_calls = 1\n",
    )
    .unwrap();
    let server = Server::start(
        &project,
        &dir.path().join("data"),
        &["--config", settings.to_str().unwrap()],
    );
    let two = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "activated"},
        {"type": "track", "userId": "u2", "event": "activated"},
    ]});
    let (status, body) = server.post("/v1/batch", &two);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("at most 1 calls"), "{body}");
    // An event the schema does not declare is refused, naming it.
    let undeclared = json!({"batch": [{"type": "track", "userId": "u1", "event": "clicked"}]});
    let (status, body) = server.post("/v1/batch", &undeclared);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no event `clicked`"), "{body}");
    let m = server.get("/metrics");
    assert!(m.contains("partition=\"2\""), "{m}");
    server.stop();

    std::fs::write(&settings, "listen = \"127.0.0.1:0\"\nport = 80\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nudge"))
        .arg("serve")
        .arg(&project)
        .arg("--config")
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nudge.toml"), "{err}");
    assert!(err.contains("unknown field `port`"), "{err}");
}

/// A project whose template fails to render when `n` is 0: at once for
/// `ping`, a second later (in a timer's step) for `pong`.
const BOOM: &str = r#"
profile {
  email: email?
}

event ping { n: int }
event pong { n: int }

workflow now {
  on ping
  audience profile.email != none
  send email boom
}

workflow later {
  on pong
  audience profile.email != none
  exit on ping
  wait 1s
  send email boom_later
}

template boom: email for ping {
  subject: "ten by n"
  html: file("templates/boom.html")
}

template boom_later: email for pong {
  subject: "ten by n, later"
  html: file("templates/boom.html")
}
"#;

#[test]
fn a_call_or_timer_that_fails_in_the_engine_is_refused_or_dropped_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("boom");
    std::fs::create_dir_all(project.join("templates")).unwrap();
    std::fs::write(project.join("boom.flow"), BOOM).unwrap();
    std::fs::write(
        project.join("templates/boom.html"),
        "<p>{{ 10 // event.n }}</p>\n",
    )
    .unwrap();
    let server = Server::start(&project, &dir.path().join("data"), &[]);
    let call = |user: &str, event: &str, n: i64| {
        json!({"batch": [
            {"type": "identify", "userId": user, "traits": {"email": format!("{user}@example.com")}},
            {"type": "track", "userId": user, "event": event, "properties": {"n": n}},
        ]})
    };
    // The failing call refuses its request (nothing of it is applied)...
    let (status, body) = server.post("/v1/batch", &call("u1", "ping", 0));
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("call_failed") && body.contains("u1"),
        "{body}"
    );
    assert_eq!(server.api("/api/profiles/u1", Some(&server.admin)).0, 404);
    // ... and the server goes on.
    assert_eq!(server.post("/v1/batch", &call("u2", "ping", 2)).0, 200);
    // A timer whose step fails is dropped; the others fire.
    assert_eq!(server.post("/v1/batch", &call("u3", "pong", 0)).0, 200);
    assert_eq!(server.post("/v1/batch", &call("u4", "pong", 5)).0, 200);
    std::thread::sleep(Duration::from_millis(1_600));
    assert_eq!(server.get("/readyz"), "ready\n");
    let sent = messages(server.stop());
    let to: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| {
            (
                m["profile"].as_str().unwrap(),
                m["content"]["html"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(to, [("u2", "<p>5</p>"), ("u4", "<p>2</p>")], "{sent:#?}");
}

#[test]
fn the_in_app_inbox_lists_streams_and_marks_messages_with_a_profile_token() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let server = Server::start(&project, &dir.path().join("data"), &["--quiet"]);
    let signup = json!({"batch": [{"type": "track", "userId": "u1", "event": "signed_up", "properties": {"plan": "pro"}}]});
    assert_eq!(server.post("/v1/batch", &signup).0, 200);
    let (_, t) = server.api("/api/profiles/u1/inbox_token", Some(&server.admin));
    let token = t["token"].as_str().unwrap().to_owned();
    let (_, other) = server.api("/api/profiles/u2/inbox_token", Some(&server.admin));
    let http = reqwest::blocking::Client::new();
    let inbox = |query: &str, token: &str| {
        let r = http
            .get(format!("{}/v1/profiles/u1/inbox{query}", server.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or_default())
    };
    assert_eq!(inbox("", "nope").0, 401);
    assert_eq!(inbox("", other["token"].as_str().unwrap()).0, 401);
    // Delivery is asynchronous: the welcome arrives shortly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let (status, body) = inbox("", &token);
        assert_eq!(status, 200, "{body}");
        if body["unread"] == 1 || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(listed["messages"][0]["title"], "Hello there", "{listed}");
    let hello = listed["messages"][0]["send_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An open stream gets the next one (the token in the query string, as
    // an EventSource sends it).
    let stream = http
        .get(format!(
            "{}/v1/profiles/u1/inbox/stream?token={token}",
            server.base
        ))
        .send()
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(data) = line.strip_prefix("data:") {
                let _ = tx.send(data.trim().to_owned());
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let activated = json!({"batch": [{"type": "track", "userId": "u1", "event": "activated"}]});
    assert_eq!(server.post("/v1/batch", &activated).0, 200);
    let event: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(event["title"], "Thanks for trying it", "{event}");

    // Read and archive.
    let mark = |send_id: &str, action: &str| {
        http.post(format!(
            "{}/v1/profiles/u1/inbox/{send_id}/{action}",
            server.base
        ))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .status()
        .as_u16()
    };
    assert_eq!(mark(event["send_id"].as_str().unwrap(), "read"), 200);
    assert_eq!(mark(&hello, "archive"), 200);
    assert_eq!(mark("0000", "read"), 404);
    let (_, now) = inbox("", &token);
    assert_eq!(now["unread"], 0, "{now}");
    assert_eq!(now["messages"].as_array().unwrap().len(), 1, "{now}");
    let (_, all) = inbox("?archived=true", &token);
    assert_eq!(all["messages"].as_array().unwrap().len(), 2, "{all}");
    server.stop();
}
