//! `nudge simulate` through the real binary, on temporary projects and traces.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nudge_vm::{Engine, MemoryStore, Props, Record, Value};
use serde_json::{json, Value as Json};

const SHOP: &str = r#"enum Plan { starter, pro }

profile {
  email: email?
  push_token: string?
  first_name: string?
  plan: Plan
  timezone: timezone = "UTC"
}

event cart_abandoned {
  product: string
  total: float
}

event order_completed {
  total: float
}

event login {}

policy {
  cap 3 per 24h
  quiet hours 21:00 to 08:00 local for push
}

workflow cart {
  on cart_abandoned where event.total > 20.0
  audience profile.email != none
  exit on order_completed
  entry restart
  goal bought = order_completed within 3d

  wait 1h
  escalate until order_completed {
    email reminder
    after 12h push {
      title: "Still there?"
      body: "{event.product} is waiting"
    } if profile.push_token != none
  }
}

workflow come_back {
  on inactive for 3d
  audience profile.plan == pro and profile.email != none
  exit on login
  entry once
  send email miss_you
}

template reminder: email for cart_abandoned {
  subject: "You left {event.product} behind"
  text: "Hi {profile.first_name ?? "there"}, your cart is saved."
}

template miss_you: email {
  subject: "We miss you"
  text: "Come back soon."
}
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/shop.flow"), SHOP).unwrap();
    dir
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) {
    std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
}

fn nudge(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nudge"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn track(user: &str, event: &str, props: Json, at: &str) -> String {
    json!({"type": "track", "userId": user, "event": event, "properties": props, "timestamp": at})
        .to_string()
}

fn identify(user: &str, traits: Json, at: &str) -> String {
    json!({"type": "identify", "userId": user, "traits": traits, "timestamp": at}).to_string()
}

fn profile_line(user: &str, traits: Json) -> String {
    json!({"userId": user, "traits": traits}).to_string()
}

fn profiles() -> Vec<String> {
    vec![
        profile_line("ada", json!({"email": "ada@example.com", "plan": "pro"})),
        profile_line(
            "bo",
            json!({"email": "bo@example.com", "plan": "starter", "push_token": "tok"}),
        ),
        profile_line("cy", json!({"plan": "starter"})),
    ]
}

fn small_trace() -> Vec<String> {
    vec![
        track(
            "ada",
            "cart_abandoned",
            json!({"product": "Desk", "total": 300.0}),
            "2026-03-02T10:00:00Z",
        ),
        track(
            "bo",
            "cart_abandoned",
            json!({"product": "Lamp", "total": 40}),
            "2026-03-02T10:05:00Z",
        ),
        track(
            "ada",
            "order_completed",
            json!({"total": 300.0}),
            "2026-03-02T10:30:00Z",
        ),
        track(
            "cy",
            "cart_abandoned",
            json!({"product": "Pen", "total": 50.0}),
            "2026-03-02T13:00:00Z",
        ),
    ]
}

/// The messages of a JSON-lines run: (time, profile, workflow, channel,
/// template, content).
type Message = (String, String, String, String, Option<String>, Json);

fn jsonl_messages(stdout: &str) -> (Vec<Message>, Vec<Json>) {
    let mut messages = Vec::new();
    let mut summaries = Vec::new();
    for line in stdout.lines() {
        let v: Json = serde_json::from_str(line).unwrap();
        match v["kind"].as_str().unwrap() {
            "message" => messages.push((
                v["time"].as_str().unwrap().to_owned(),
                v["profile"].as_str().unwrap().to_owned(),
                v["workflow"].as_str().unwrap().to_owned(),
                v["channel"].as_str().unwrap().to_owned(),
                v["template"].as_str().map(str::to_owned),
                v["content"].clone(),
            )),
            "summary" => summaries.push(v),
            other => panic!("unknown kind {other}"),
        }
    }
    (messages, summaries)
}

#[test]
fn a_small_trace_gives_the_expected_log_as_a_table() {
    let dir = project();
    write_lines(dir.path(), "events.jsonl", &small_trace());
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--profiles",
            "profiles.jsonl",
        ],
    );
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn a_small_trace_as_json_lines() {
    let dir = project();
    write_lines(dir.path(), "events.jsonl", &small_trace());
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--profiles",
            "profiles.jsonl",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (messages, summaries) = jsonl_messages(&text(&out.stdout));
    let got: Vec<(&str, &str, &str, &str)> = messages
        .iter()
        .map(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str(), m.3.as_str()))
        .collect();
    // ada converts before her reminder; bo gets the email after 1h, and
    // the push 12h later falls in quiet hours (21:00 to 08:00), so it goes
    // just after 08:00 (releases are spread over a few minutes by send id); cy has no email, so the audience keeps her out. ada, a pro
    // customer, goes quiet and hears from come_back 3 days after her last
    // event.
    assert_eq!(
        got,
        vec![
            ("2026-03-02T11:05:00Z", "bo", "cart", "email"),
            ("2026-03-03T08:02:07Z", "bo", "cart", "push"),
            ("2026-03-05T10:30:00Z", "ada", "come_back", "email"),
        ]
    );
    assert_eq!(messages[0].4.as_deref(), Some("reminder"));
    assert_eq!(
        messages[0].5["subject"].as_str(),
        Some("You left Lamp behind")
    );
    assert_eq!(messages[1].4, None);
    assert_eq!(messages[1].5["body"].as_str(), Some("Lamp is waiting"));
    let cart = summaries.iter().find(|s| s["workflow"] == "cart").unwrap();
    assert_eq!(cart["entered"], 2);
    assert_eq!(cart["exited"], 1);
    assert_eq!(cart["goals"], 1);
    assert_eq!(cart["deferred"], 1);
    assert_eq!(cart["suppressed"], 1);
    assert_eq!(cart["messages"], json!({"email": 1, "push": 1}));
    let come_back = summaries
        .iter()
        .find(|s| s["workflow"] == "come_back")
        .unwrap();
    assert_eq!(come_back["entered"], 1);
    assert_eq!(come_back["messages"], json!({"email": 1}));
}

#[test]
fn bad_lines_are_reported_with_their_number_and_skipped() {
    let dir = project();
    let mut lines = vec![
        track(
            "bo",
            "cart_abandoned",
            json!({"product": "Lamp", "total": 40.0, "utm_source": "ad"}),
            "2026-03-02T10:00:00Z",
        ),
        "{\"type\": \"track\", \"userId\": ".to_owned(),
        json!({"type": "group", "userId": "bo", "groupId": "acme", "timestamp": "2026-03-02T10:01:00Z"})
            .to_string(),
        json!({"type": "track", "event": "login", "timestamp": "2026-03-02T10:02:00Z"}).to_string(),
        track(
            "ada",
            "cart_abandoned",
            json!({"product": "Desk", "total": "300"}),
            "2026-03-02T10:03:00Z",
        ),
        identify("ada", json!({"plan": "gold"}), "2026-03-02T10:04:00Z"),
        track("ada", "login", json!({}), "yesterday"),
        track("ada", "login", json!({}), "2026-03-02T09:00:00Z"),
        track(
            "ada",
            "cart_abandoned",
            json!({"product": "Desk"}),
            "2026-03-02T10:05:00Z",
        ),
    ];
    // A good line after the bad ones is still applied.
    lines.push(track(
        "ada",
        "cart_abandoned",
        json!({"product": "Chair", "total": 90.0}),
        "2026-03-02T10:06:00Z",
    ));
    write_lines(dir.path(), "events.jsonl", &lines);
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let args = [
        "simulate",
        "flows",
        "--events",
        "events.jsonl",
        "--profiles",
        "profiles.jsonl",
        "--until",
        "2026-03-02T12:00:00Z",
    ];
    let out = nudge(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(text(&out.stderr));
    let stdout = text(&out.stdout);
    // Both good carts went through: bo's Lamp and ada's Chair (not the
    // rejected Desk lines).
    assert!(stdout.contains("You left Lamp behind"), "{stdout}");
    assert!(stdout.contains("You left Chair behind"), "{stdout}");
    assert!(!stdout.contains("Desk"), "{stdout}");

    let mut allowed = args.to_vec();
    allowed.push("--allow-bad-lines");
    let out = nudge(dir.path(), &allowed);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), stdout);
    assert!(text(&out.stderr).contains("warning: 8 lines rejected, 2 applied"));
}

#[test]
fn identify_updates_traits() {
    let dir = project();
    let lines = vec![
        // cy has no email: the audience keeps her out.
        track(
            "cy",
            "cart_abandoned",
            json!({"product": "Pen", "total": 50.0}),
            "2026-03-02T10:00:00Z",
        ),
        identify(
            "cy",
            json!({"email": "cy@example.com", "first_name": "Cy"}),
            "2026-03-02T10:30:00Z",
        ),
        track(
            "cy",
            "cart_abandoned",
            json!({"product": "Pen", "total": 50.0}),
            "2026-03-02T11:00:00Z",
        ),
        // Clearing the email before the reminder drops it.
        track(
            "bo",
            "cart_abandoned",
            json!({"product": "Lamp", "total": 40.0}),
            "2026-03-02T11:00:00Z",
        ),
        identify("bo", json!({"email": null}), "2026-03-02T11:30:00Z"),
    ];
    write_lines(dir.path(), "events.jsonl", &lines);
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--profiles",
            "profiles.jsonl",
            "--format",
            "jsonl",
            "--until",
            "2026-03-02T13:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (messages, summaries) = jsonl_messages(&text(&out.stdout));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].0, "2026-03-02T12:00:00Z");
    assert_eq!(messages[0].1, "cy");
    assert_eq!(
        messages[0].5["text"].as_str(),
        Some("Hi Cy, your cart is saved.")
    );
    let cart = summaries.iter().find(|s| s["workflow"] == "cart").unwrap();
    assert_eq!(cart["suppressed"], 1);
    assert_eq!(cart["dropped"], 1);
}

#[test]
fn usage_and_flow_errors_have_their_exit_codes() {
    let dir = project();
    let out = nudge(
        dir.path(),
        &["simulate", "flows", "--events", "missing.jsonl"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read `missing.jsonl`"));
    write_lines(dir.path(), "events.jsonl", &small_trace());
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--until",
            "soon",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(
        dir.path().join("flows/broken.flow"),
        "workflow w { on nothing_like_this\n send email x }\n",
    )
    .unwrap();
    let out = nudge(
        dir.path(),
        &["simulate", "flows", "--events", "events.jsonl"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nothing was simulated"));
}

/// The same trace, the engine driven directly: what the simulator prints is
/// exactly what the engine does.
#[test]
fn the_simulator_matches_the_engine_driven_directly() {
    let dir = project();
    let t0: DateTime<Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
    let users = ["ada", "bo", "cy", "dee", "eve", "fay", "gus", "hal"];
    let products = ["Desk", "Lamp", "Pen", "Chair"];
    // Profiles: alternate plans, some without email or push token.
    let mut profile_lines = Vec::new();
    let mut initial: Vec<(String, Props)> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let plan = if i % 2 == 0 { "pro" } else { "starter" };
        let mut traits = json!({"plan": plan});
        let mut props = Props::new();
        props.insert("plan", Value::str(plan));
        if i % 4 != 3 {
            traits["email"] = json!(format!("{u}@example.com"));
            props.insert("email", Value::str(&format!("{u}@example.com")));
        }
        if i % 3 == 0 {
            traits["push_token"] = json!("tok");
            props.insert("push_token", Value::str("tok"));
        }
        profile_lines.push(profile_line(u, traits));
        initial.push(((*u).to_owned(), props));
    }
    // Events: a deterministic mix over two weeks.
    let mut event_lines = Vec::new();
    let mut events: Vec<(DateTime<Utc>, String, String, Props)> = Vec::new();
    let mut at = t0;
    for i in 0..400u64 {
        at += Duration::minutes(((i * 37) % 97) as i64 + 1);
        let user = users[(i.wrapping_mul(2_654_435_761) % users.len() as u64) as usize];
        let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (name, json_props, props) = match i % 5 {
            0 | 3 => {
                let product = products[(i % 4) as usize];
                let total = (i % 60) as f64;
                let mut p = Props::new();
                p.insert("product", Value::str(product));
                p.insert("total", Value::Float(total));
                (
                    "cart_abandoned",
                    json!({"product": product, "total": total}),
                    p,
                )
            }
            1 => {
                let mut p = Props::new();
                p.insert("total", Value::Float(10.0));
                ("order_completed", json!({"total": 10.0}), p)
            }
            2 => ("login", json!({}), Props::new()),
            _ => ("page_viewed", json!({"path": "/"}), Props::new()),
        };
        event_lines.push(track(user, name, json_props, &stamp));
        events.push((at, user.to_owned(), name.to_owned(), props));
    }
    write_lines(dir.path(), "events.jsonl", &event_lines);
    write_lines(dir.path(), "profiles.jsonl", &profile_lines);
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--profiles",
            "profiles.jsonl",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (simulated, summaries) = jsonl_messages(&text(&out.stdout));

    // The engine, driven by hand.
    let source = Arc::new(nudge_syntax::SourceFile::new("shop.flow", SHOP));
    let checked = nudge_check::check_project(&[source], &nudge_check::FsLoader);
    let module = nudge_compile::compile(&checked.program.unwrap(), "test").unwrap();
    let first = events[0].0;
    let mut engine = Engine::new(MemoryStore::new(), module, first);
    for (id, traits) in initial {
        engine.identify(&id, traits, first).unwrap();
    }
    for (at, user, name, props) in events {
        engine.track(&user, &name, props, at).unwrap();
    }
    while engine.fire_next().unwrap().is_some() {}
    let direct: Vec<Message> = engine
        .log
        .iter()
        .filter_map(|r| match r {
            Record::Sent {
                at,
                profile,
                workflow,
                message,
                ..
            } => Some((
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                profile.to_string(),
                workflow.to_string(),
                message.channel.as_str().to_owned(),
                message.template.as_deref().map(str::to_owned),
                serde_json::to_value(&message.fields).unwrap(),
            )),
            _ => None,
        })
        .collect();
    assert!(direct.len() > 10, "too few messages to compare: {direct:?}");
    assert!(direct.iter().any(|m| m.3 == "push"));
    assert!(direct.iter().any(|m| m.2 == "come_back"));
    assert_eq!(simulated, direct);
    for (name, stats) in engine.stats() {
        let s = summaries.iter().find(|s| s["workflow"] == name).unwrap();
        assert_eq!(s["entered"], stats.entered, "{name}");
        assert_eq!(s["exited"], stats.exited, "{name}");
        assert_eq!(s["goals"], stats.goals, "{name}");
        assert_eq!(s["capped"], stats.capped, "{name}");
        assert_eq!(s["deferred"], stats.deferred, "{name}");
        assert_eq!(s["suppressed"], stats.suppressed, "{name}");
        assert_eq!(s["messages"], serde_json::to_value(&stats.sent).unwrap());
    }
}

/// JSON lines go out while the trace is still being read: the trace comes
/// through a pipe that stays open, so the run cannot have ended when the
/// first message line arrives.
#[cfg(unix)]
#[test]
fn json_lines_stream_while_the_trace_is_read() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;

    let dir = project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .current_dir(dir.path())
        .args([
            "simulate",
            "flows",
            "--events",
            "/dev/stdin",
            "--format",
            "jsonl",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // 500 carts, each reminded an hour later: far more output than any
    // write buffer holds, all of it due before the last line's time.
    let users = 500;
    let mut trace = Vec::new();
    for i in 0..users {
        trace.push(identify(
            &format!("u{i}"),
            json!({"email": format!("u{i}@example.com"), "plan": "starter"}),
            "2026-03-02T09:00:00Z",
        ));
    }
    for i in 0..users {
        trace.push(track(
            &format!("u{i}"),
            "cart_abandoned",
            json!({"product": "Lamp", "total": 40.0}),
            "2026-03-02T10:00:00Z",
        ));
    }
    trace.push(track("u0", "login", json!({}), "2026-03-03T10:00:00Z"));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((trace.join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    // The trace is not finished (stdin is open), yet messages arrive. The
    // timeout only keeps a regression from hanging the test run.
    let first = lines_rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("no output while the trace was still open: the output is not streamed");
    assert!(child.try_wait().unwrap().is_none());
    let first: Json = serde_json::from_str(&first).unwrap();
    assert_eq!(first["kind"], "message");
    assert_eq!(first["time"], "2026-03-02T11:00:00Z");
    // The end of the trace: the rest comes out, summaries last.
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut rest = vec![first.to_string()];
    rest.extend(lines_rx.try_iter());
    let (messages, summaries) = jsonl_messages(&rest.join("\n"));
    assert_eq!(messages.len(), users);
    assert!(messages.iter().all(|m| m.2 == "cart" && m.3 == "email"));
    let cart = summaries.iter().find(|s| s["workflow"] == "cart").unwrap();
    assert_eq!(cart["entered"], users);
    assert_eq!(cart["messages"], json!({"email": users}));
    assert!(summaries.iter().any(|s| s["workflow"] == "come_back"));
}

/// Output that cannot be written ends the run with an error, not a panic.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_output_is_an_error() {
    let dir = project();
    write_lines(dir.path(), "events.jsonl", &small_trace());
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    for format in ["table", "jsonl"] {
        let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
            .current_dir(dir.path())
            .args([
                "simulate",
                "flows",
                "--events",
                "events.jsonl",
                "--profiles",
                "profiles.jsonl",
                "--format",
                format,
            ])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{format}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("error: cannot write the output: "),
            "{format}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
    }
}

/// The small trace, then: `dee`, with no profile, lacks the required
/// `plan`; `bo` abandons three more carts two hours apart, each restarting
/// the journey, so the fourth reminder within 24 hours meets the cap of 3;
/// then `bo` clears his push token while his push is held by quiet hours.
fn records_trace() -> Vec<String> {
    let mut lines = small_trace();
    lines.push(track(
        "dee",
        "cart_abandoned",
        json!({"product": "Cup", "total": 25.0}),
        "2026-03-02T13:30:00Z",
    ));
    for (product, at) in [
        ("Rug", "2026-03-02T14:00:00Z"),
        ("Vase", "2026-03-02T16:00:00Z"),
        ("Sofa", "2026-03-02T18:00:00Z"),
    ] {
        lines.push(track(
            "bo",
            "cart_abandoned",
            json!({"product": product, "total": 90.0}),
            at,
        ));
    }
    lines.push(identify(
        "bo",
        json!({"push_token": null}),
        "2026-03-03T07:30:00Z",
    ));
    lines
}

/// Runs `nudge simulate` on `trace` with the test profiles and `extra`
/// arguments; returns stdout, after checking it ran cleanly.
fn simulate_with(trace: &[String], extra: &[&str]) -> String {
    let dir = project();
    write_lines(dir.path(), "events.jsonl", trace);
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let mut args = vec![
        "simulate",
        "flows",
        "--events",
        "events.jsonl",
        "--profiles",
        "profiles.jsonl",
    ];
    args.extend_from_slice(extra);
    let out = nudge(dir.path(), &args);
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    text(&out.stdout)
}

#[test]
fn records_show_why_messages_did_or_did_not_go_out_as_a_table() {
    // ada enters cart, reaches her goal and exits on the order; bo's first
    // reminder goes out; cy is outside the audience (no email) and dee lacks
    // the required `plan`; bo's new carts restart the journey, and the
    // fourth reminder in 24 hours is capped; the push 12 hours later falls
    // in quiet hours and is deferred to just after 08:00, by when bo has
    // no push token, so it is dropped; ada hears from come_back.
    let stdout = simulate_with(&records_trace(), &["--records"]);
    insta::assert_snapshot!(stdout);
}

#[test]
fn records_as_json_lines() {
    let stdout = simulate_with(&records_trace(), &["--records", "--format", "jsonl"]);
    let kinds: std::collections::BTreeSet<String> = stdout
        .lines()
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap();
            v["kind"].as_str().unwrap().to_owned()
        })
        .collect();
    for kind in [
        "entered",
        "suppressed",
        "message",
        "deferred",
        "capped",
        "dropped",
        "goal",
        "exited",
        "completed",
        "summary",
    ] {
        assert!(kinds.contains(kind), "no `{kind}` line");
    }
    insta::assert_snapshot!(stdout);
}

#[test]
fn records_keep_the_message_lines_and_summaries_unchanged() {
    for trace in [small_trace(), records_trace()] {
        let plain = simulate_with(&trace, &["--format", "jsonl"]);
        let records = simulate_with(&trace, &["--records", "--format", "jsonl"]);
        let kept: Vec<&str> = records
            .lines()
            .filter(|l| {
                let v: Json = serde_json::from_str(l).unwrap();
                v["kind"] == "message" || v["kind"] == "summary"
            })
            .collect();
        assert_eq!(kept, plain.lines().collect::<Vec<_>>());
        assert!(records.lines().count() > plain.lines().count());
        // The table's summary is the same too.
        let plain = simulate_with(&trace, &[]);
        let records = simulate_with(&trace, &["--records"]);
        let summary = |s: &str| s.split("\n\nWORKFLOW ").nth(1).unwrap().to_owned();
        assert_eq!(summary(&records), summary(&plain));
    }
}

/// Two `inactive for` workflows and a profile created by `identify` before
/// its first event: one email per workflow, in time order (a due check
/// once re-armed the other workflow's from the past: `five` was entered a
/// second time, recorded after `seven`, with a second email).
#[test]
fn each_inactive_for_workflow_writes_once_per_quiet_spell() {
    let dir = quiet_project();
    write_lines(
        dir.path(),
        "trace.jsonl",
        &[
            identify(
                "u1",
                json!({"email": "u1@example.com"}),
                "2026-03-01T09:00:00Z",
            ),
            track("u1", "login", json!({}), "2026-03-01T10:00:00Z"),
            identify(
                "u2",
                json!({"email": "u2@example.com"}),
                "2026-03-01T11:00:00Z",
            ),
            track("u2", "login", json!({}), "2026-03-02T08:00:00Z"),
        ],
    );
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "quiet.flow",
            "--events",
            "trace.jsonl",
            "--records",
            "--format",
            "jsonl",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Json> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<&str> = lines.iter().filter_map(|l| l["time"].as_str()).collect();
    assert!(!times.is_empty());
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "records out of time order");
    let sends: Vec<String> = lines
        .iter()
        .filter(|l| l["kind"] == "message")
        .map(|l| format!("{} {} {}", l["time"], l["profile"], l["workflow"]))
        .collect();
    assert_eq!(
        sends,
        [
            r#""2026-03-06T10:00:00Z" "u1" "five""#,
            r#""2026-03-07T08:00:00Z" "u2" "five""#,
            r#""2026-03-08T10:00:00Z" "u1" "seven""#,
            r#""2026-03-09T08:00:00Z" "u2" "seven""#,
        ],
        "{}",
        text(&out.stdout)
    );
}

const QUIET_FLOW: &str = r#"profile {
  email: email?
  timezone: timezone = "UTC"
}

event login {}

workflow five {
  on inactive for 5d
  audience profile.email != none
  send email { subject: "five", text: "come back" }
}

workflow seven {
  on inactive for 7d
  audience profile.email != none
  send email { subject: "seven", text: "come back" }
}
"#;

/// A project with two `inactive for` workflows, `five` and `seven`.
fn quiet_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quiet.flow"), QUIET_FLOW).unwrap();
    dir
}

/// A line with a byte that is not UTF-8 is rejected with its number like
/// any other bad line, in the trace and in `--profiles`, and the rest is
/// applied (it used to stop the whole run).
#[test]
fn a_line_that_is_not_utf8_is_rejected_alone() {
    let dir = quiet_project();
    let mut trace = identify(
        "u1",
        json!({"email": "u1@example.com"}),
        "2026-03-01T09:00:00Z",
    )
    .into_bytes();
    trace.extend_from_slice(b"\n{\"type\":\"track\",\"userId\":\"u\xff\",\"event\":\"login\",\"timestamp\":\"2026-03-01T09:30:00Z\"}\n");
    trace.extend(track("u1", "login", json!({}), "2026-03-01T10:00:00Z").into_bytes());
    trace.push(b'\n');
    std::fs::write(dir.path().join("trace.jsonl"), trace).unwrap();
    let mut profiles =
        b"{\"userId\":\"u2\",\"traits\":{\"email\":\"u2@exa\xffmple.com\"}}\n".to_vec();
    profiles.extend(profile_line("u3", json!({"email": "u3@example.com"})).into_bytes());
    profiles.push(b'\n');
    std::fs::write(dir.path().join("profiles.jsonl"), profiles).unwrap();
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "quiet.flow",
            "--events",
            "trace.jsonl",
            "--profiles",
            "profiles.jsonl",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("trace.jsonl:2: not valid UTF-8 (byte 28 of the line) (line skipped)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("profiles.jsonl:1: not valid UTF-8"),
        "{stderr}"
    );
    assert!(stderr.contains("2 lines rejected, 2 applied"), "{stderr}");
    // u1 (the lines around the bad one) and u3 (the profile after it) are greeted.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("4 messages"), "{stdout}");
}

/// Random traces: valid calls in time order, some of them mutated (their
/// text edited, stray bytes, bytes that are not UTF-8). `nudge simulate`
/// never fails on them: every bad line is reported with its number, and
/// every other line is applied. `NUDGE_FUZZ_CASES` sets the number of
/// traces (default 20, of 60 lines each).
#[test]
fn random_bad_lines_are_each_reported_and_the_rest_applied() {
    let (n, seed) = nudge_fuzz::cases(20);
    let dir = project();
    let mut lines_seen = 0;
    for s in seed..seed + n {
        let mut rng = nudge_fuzz::Rng::new(s);
        let mut trace: Vec<u8> = Vec::new();
        let mut t = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut lines = 0;
        for _ in 0..60 {
            t += Duration::minutes(rng.below(600) as i64);
            let at = t.to_rfc3339();
            let user = format!("u{}", rng.below(5));
            let line = match rng.below(5) {
                0 => identify(
                    &user,
                    json!({"email": format!("{user}@example.com"), "plan": "pro"}),
                    &at,
                ),
                1 => track(
                    &user,
                    "cart_abandoned",
                    json!({"product": "Desk", "total": 30.5}),
                    &at,
                ),
                2 => track(&user, "order_completed", json!({"total": 12}), &at),
                3 => track(&user, "login", json!({}), &at),
                _ => json!({"type": "page", "userId": user, "name": "Home", "timestamp": at})
                    .to_string(),
            };
            let mut bytes = match rng.below(4) {
                0 => nudge_fuzz::mutate(&mut rng, &line).into_bytes(),
                _ => line.into_bytes(),
            };
            if rng.below(15) == 0 {
                let at = rng.below(bytes.len() + 1);
                bytes.insert(at, rng.pick(&[0xff, 0xc3, 0x80, 0x00, b'"', b'{']));
            }
            // A mutation may split a line or empty it: count what is there.
            trace.extend_from_slice(&bytes);
            trace.push(b'\n');
        }
        for line in trace.split(|b| *b == b'\n') {
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines += 1;
            }
        }
        std::fs::write(dir.path().join("fuzz.jsonl"), &trace).unwrap();
        let out = nudge(
            dir.path(),
            &[
                "simulate",
                "flows",
                "--events",
                "fuzz.jsonl",
                "--allow-bad-lines",
                "--format",
                "jsonl",
            ],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "seed {s}:\n{stderr}");
        let rejected: BTreeSet<usize> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("error: fuzz.jsonl:"))
            .map(|rest| rest.split(':').next().unwrap().parse().unwrap())
            .collect();
        let applied = match stderr.lines().find_map(|l| l.strip_prefix("warning: ")) {
            Some(summary) => {
                let words: Vec<&str> = summary.split_whitespace().collect();
                assert_eq!(
                    words[0].parse::<usize>().unwrap(),
                    rejected.len(),
                    "seed {s}:\n{stderr}"
                );
                words[3].parse::<usize>().unwrap()
            }
            None => {
                assert!(rejected.is_empty(), "seed {s}:\n{stderr}");
                lines
            }
        };
        assert_eq!(applied + rejected.len(), lines, "seed {s}:\n{stderr}");
        lines_seen += lines;
    }
    println!("{n} traces, {lines_seen} lines");
}

#[test]
fn the_durable_store_gives_the_same_output_as_memory() {
    for extra in [
        &["--records", "--format", "jsonl"][..],
        &["--records"],
        &["--format", "jsonl"],
    ] {
        let memory = simulate_with(&records_trace(), extra);
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("store");
        let mut args = extra.to_vec();
        let dir_text = dir.display().to_string();
        args.extend_from_slice(&["--data", &dir_text]);
        let durable = simulate_with(&records_trace(), &args);
        assert_eq!(durable, memory, "{extra:?}");
    }
}

#[test]
fn a_durable_run_continues_where_an_earlier_one_stopped() {
    let dir = project();
    write_lines(dir.path(), "events.jsonl", &records_trace());
    write_lines(dir.path(), "profiles.jsonl", &profiles());
    let base = [
        "simulate",
        "flows",
        "--events",
        "events.jsonl",
        "--profiles",
        "profiles.jsonl",
        "--format",
        "jsonl",
        "--records",
    ];
    let lines = |out: &Output| -> Vec<String> {
        text(&out.stdout)
            .lines()
            .filter(|l| !l.contains("\"kind\":\"summary\""))
            .map(str::to_owned)
            .collect()
    };
    let whole = nudge(dir.path(), &base);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));

    // The same trace in two runs on one store: up to a time, then the rest.
    let mut first = base.to_vec();
    first.extend_from_slice(&["--data", "state", "--until", "2026-03-02T15:00:00Z"]);
    let one = nudge(dir.path(), &first);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let mut second = base.to_vec();
    second.extend_from_slice(&["--data", "state"]);
    let two = nudge(dir.path(), &second);
    assert_eq!(two.status.code(), Some(0), "{}", text(&two.stderr));
    assert!(
        text(&two.stderr).contains("continued the run in `state`"),
        "{}",
        text(&two.stderr)
    );
    let mut joined = lines(&one);
    joined.extend(lines(&two));
    assert!(!lines(&one).is_empty() && !lines(&two).is_empty());
    assert_eq!(joined, lines(&whole));
}

const SPLIT: &str = r#"profile {
  email: email?
}

event signed_up {}
event bought {}

workflow welcome {
  on signed_up
  audience profile.email != none
  goal converted = bought within 7d
  split offer {
    holdout 20%: exit
    discount 80%: send email { subject: "10% off", text: "Today only." }
  }
}
"#;

#[test]
fn a_split_is_summarised_per_arm_and_a_holdout_counts_its_conversions_after_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/split.flow"), SPLIT).unwrap();
    let mut trace = Vec::new();
    for i in 0..200 {
        let user = format!("u{i}");
        let email = json!({"email": format!("{user}@example.com")});
        trace.push(identify(&user, email, "2026-03-02T10:00:00Z"));
    }
    for i in 0..200 {
        trace.push(track(
            &format!("u{i}"),
            "signed_up",
            json!({}),
            "2026-03-02T10:00:01Z",
        ));
    }
    for i in (0..200).step_by(4) {
        trace.push(track(
            &format!("u{i}"),
            "bought",
            json!({}),
            "2026-03-03T10:00:00Z",
        ));
    }
    write_lines(dir.path(), "events.jsonl", &trace);
    let out = nudge(
        dir.path(),
        &["simulate", "flows", "--events", "events.jsonl"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let arms = table
        .split("WORKFLOW  SPLIT")
        .nth(1)
        .unwrap_or_else(|| panic!("{table}"));
    assert!(arms.contains("holdout (control)"), "{table}");

    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--format",
            "jsonl",
        ],
    );
    let lines: Vec<Json> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Json| v["kind"] == "arm_summary")
        .collect();
    assert_eq!(lines.len(), 2);
    let of = |arm: &str| lines.iter().find(|l| l["arm"] == arm).unwrap().clone();
    let (holdout, discount) = (of("holdout"), of("discount"));
    assert_eq!(
        holdout["entered"].as_u64().unwrap() + discount["entered"].as_u64().unwrap(),
        200
    );
    assert_eq!(holdout["messages"], 0);
    assert_eq!(discount["messages"], discount["entered"]);
    // Every fourth user buys, in either arm: the holdout's journeys have
    // all exited by then, and still count.
    let converted = holdout["goals"]["converted"].as_u64().unwrap();
    assert!(converted > 0, "{holdout}");
    assert_eq!(
        converted + discount["goals"]["converted"].as_u64().unwrap(),
        50
    );

    // The record log through `nudge report` gives the same counts.
    let out = nudge(
        dir.path(),
        &[
            "simulate",
            "flows",
            "--events",
            "events.jsonl",
            "--records",
            "--format",
            "jsonl",
        ],
    );
    write_lines(dir.path(), "records.jsonl", &[text(&out.stdout)]);
    let out = nudge(dir.path(), &["report", "records.jsonl", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Json = serde_json::from_str(&text(&out.stdout)).unwrap();
    let h = report["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == "holdout")
        .unwrap();
    assert_eq!(h["control"], true);
    assert_eq!(h["entered"], holdout["entered"]);
    assert_eq!(h["goals"][0]["converted"], converted);
}
